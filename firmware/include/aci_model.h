/* aci_model.h: the public header for functional models of a user's own cores on
 * the firmware's simulated board (acifw-sim --models LIB.so; docs/models.md).
 *
 * A model library is a shared library built against this header alone:
 *
 *     cc -shared -fPIC -I firmware/include -o mycores.so mycores.c
 *
 * that exports one function, aci_models, listing its models. The simulator
 * matches them to the image's cores by name; a model so found runs every task of
 * its core, before the simulator's built-in models. Nothing here is part of the
 * firmware core: only the simulator (firmware/sim) loads model libraries.
 *
 * Data: parameter words are the task's, in the core's declared order, as the
 * image stores them (unsigned 32-bit; a signed parameter in two's complement).
 * ports[k] holds port k's lengths[k] bytes in the slot's local memory: an input
 * as read from board memory, an output zeroed, for run to fill; every input is
 * read before any output is written back. Multi-byte values are little-endian.
 */
#ifndef ACI_MODEL_H
#define ACI_MODEL_H

#include <stdint.h>

#define ACI_MODEL_ABI 1u

typedef struct {
    const char *name;     /* the core's name, as the image's CORES names it */
    unsigned port_count;  /* ports in declared order */
    unsigned port_dirs;   /* bit k set: port k is an output */
    unsigned param_count; /* parameter words */
    /* 1 when a task with these parameter words and port lengths can run, else 0:
     * the run then stops with no_model. NULL: every task of the core can run. */
    int (*check)(const uint32_t *params, const uint32_t *lengths);
    /* Compute the outputs from the inputs for a task on `slot`. */
    void (*run)(const uint32_t *params, unsigned slot, uint8_t *const *ports,
                const uint32_t *lengths);
} aci_model;

/* The library's models: *count of them; *abi must be set to ACI_MODEL_ABI. */
const aci_model *aci_models(unsigned *count, unsigned *abi);

#endif /* ACI_MODEL_H */
