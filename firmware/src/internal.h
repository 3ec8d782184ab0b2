/* Helpers shared by the core's stages (validate.c, predecode.c, exec.c, timing.c,
 * crc32.c). Not part of the public API. */
#ifndef ACI_INTERNAL_H
#define ACI_INTERNAL_H

#include "aci.h"

/* The limits of time, operations and rates are aci_format.h's ACI_MAX_TIME_NS,
 * ACI_MAX_OPERATIONS and ACI_MAX_RATE (inclusive, as in aci/format.py). Every
 * counter SYNC carries holds the most operations an image may have: */
_Static_assert(ACI_MAX_OPERATIONS <= UINT32_MAX,
               "SYNC slot_done (u32) must hold every count the validator accepts");
#define NS_PER_S 1000000000ull

#define NO_CORE 0xFFu

/* The executor's pre-decoded form (src/predecode.h lays it out), in aci_work units; the
 * validator adds them up into img->work_units:
 *   1                       the end shared by every slot's chain;
 *   WORK_OP_UNITS           per operation, and for a TASK one more per port, per
 *                           stride and per wait (pre-decoding reserves that much
 *                           for a task, and gives back what zero strides and waits
 *                           on its own slot do not use);
 *   WORK_LOOP_UNITS(slots)  per REPEAT or LOOP holding operations, and 2 (its begin
 *                           and end entries) per slot with operations inside it. */
#define WORK_OP_UNITS          4u
#define WORK_LOOP_UNITS(slots) (2u + ((slots) + 1u) / 2u)

/* Little-endian loads from bytes the caller has bounds-checked. */
static inline uint32_t ld8(const uint8_t *p)
{
    return p[0];
}
static inline uint32_t ld16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}
static inline uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t ld64(const uint8_t *p)
{
    return (uint64_t)ld32(p) | (uint64_t)ld32(p + 4) << 32;
}

static inline uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}
/* From 32-bit halves, without a 64-bit divide (the Cortex-R5 has none). */
static inline uint64_t sat_mul(uint64_t a, uint64_t b)
{
    uint64_t a1 = a >> 32, b1 = b >> 32;
    if (!a1 && !b1)
        return a * b;
    if (a1 && b1)
        return UINT64_MAX;
    uint64_t cross = a1 * (b & 0xFFFFFFFFu) + b1 * (a & 0xFFFFFFFFu);
    if (cross >> 32)
        return UINT64_MAX;
    return sat_add((a & 0xFFFFFFFFu) * (b & 0xFFFFFFFFu), cross << 32);
}

/* Index of the lowest set bit (x != 0): slots are sets of bits. */
static inline unsigned lowest(uint32_t x)
{
#if defined(__GNUC__)
    return (unsigned)__builtin_ctz(x); /* one or two instructions, also on the Cortex-R5 */
#else
    unsigned k = 0;
    while (!(x >> k & 1))
        k++;
    return k;
#endif
}

/* The core links no libc: its own copies of the two it needs. */
static inline void fill0(void *dst, size_t n)
{
    volatile uint8_t *d = dst; /* volatile: keeps the compiler from calling memset */
    while (n--)
        *d++ = 0;
}

/* Field bytes after the 8-byte header of each opcode (0: unknown opcode). */
static inline uint32_t insn_fields(uint32_t op)
{
    switch (op) {
    case ACI_OP_REPEAT:
        return ACI_REPEAT_BYTES;
    case ACI_OP_WINDOW:
        return ACI_WINDOW_BYTES;
    case ACI_OP_RECONF:
        return ACI_RECONF_BYTES;
    case ACI_OP_PARSEC:
        return ACI_PARSEC_BYTES;
    case ACI_OP_THREAD:
        return ACI_THREAD_BYTES;
    case ACI_OP_LOOP:
        return ACI_LOOP_BYTES;
    case ACI_OP_TASK:
        return ACI_TASK_BYTES;
    default:
        return 0;
    }
}

#endif /* ACI_INTERNAL_H */
