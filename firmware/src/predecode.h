/* The pre-decoded form of an image: what aci_prepare (src/predecode.c) writes into
 * the work area, and what aci_run (src/exec.c) reads. Internal to the core.
 *
 * Before anything runs, one walk of COMPUTE writes into the work area, for each
 * slot, a *chain*: its operations in program order, and a begin and an end entry
 * for each REPEAT or LOOP around them (a loop without the slot's operations is not
 * in its chain, so a cursor never steps over other slots' work).
 * An operation's record holds, in native integers, what starting it needs: its
 * duration, its ports' addresses and nonzero strides, its waits; and its counters
 * *at iteration zero* (as if every loop around it were in its first iteration):
 * its program index, its window instance, before(w) of each slot it waits on.
 * Those counters are affine in the iteration indices, and a loop record holds
 * what one iteration of its body adds to each (operations, operations per slot,
 * windows); so a slot's *cursor*, walking its chain with loops unrolled, gets the
 * head's program index from one addition (its frames accumulate the loops' share
 * as they iterate) and a port's address from its nonzero strides. The work area
 * is sized by the image's instructions, never by the operations a run executes.
 */
#ifndef ACI_PREDECODE_H
#define ACI_PREDECODE_H

#include "internal.h"

#define NO_SLOT 0xFFu

/* Kinds of chain entries besides ACI_OP_TASK and ACI_OP_RECONF (both above E_END);
 * 0 ends a chain. */
enum { E_BEGIN = 1, E_END = 2 };

/* entry.flags of an operation: its thread predecessor is always the operation
 * before it on its own slot (so it is ready once its slot is idle, in the same
 * window instance). */
enum { F_OWN_PRED = 1 };

/* entry.key of an operation: its core id, plus K_NO_START for a RECONF and for a
 * task whose duration exceeds the target's watchdog. A slot holds a core id, so
 * a head starts as a task without more ado exactly when its key is what the slot
 * holds (startable()). */
enum { K_NO_START = 0x100 };

static inline unsigned core_id(const aci_work *w)
{
    return (uint8_t)w->entry.key;
}

/* An operation's record: unit 0 is its chain entry (at = its byte offset), then */
enum {
    U_TIME = 1,   /* word[0] duration (ns), word[1] program index at iteration zero */
    U_THREAD = 2, /* thread: params (its words in PARAM), strict predecessor (below) */
    U_STRICT = 3, /* word[0] window instance at iteration zero, word[1] PARSEC barrier */
    U_PORTS = 4   /* `ports` port units (base address, length), then `terms` term units
                   * (a nonzero stride: port, level). Before unit 0, backwards: `waits`
                   * wait units (slot, before(slot) - lag at iteration zero) */
};
/* A loop record (begin and end entries point at it): unit 0 word[0] count, word[1]
 * operations per iteration; unit 1 word[0] window instances per iteration, word[1]
 * the slots with operations inside; then operations of slot w per iteration in
 * unit 2 + w / 2, word[w % 2]. */
enum { L_SLOTS = 2 };

/* A core pre-decoding found in CORES. */
static inline const aci_core *core_of(const aci_image *img, uint32_t id)
{
    return &img->cores[img->core_index[id]];
}

#endif /* ACI_PREDECODE_H */
