/* Stage helper: the timing model of docs/execution.md in integer nanoseconds,
 * as aci/timing.py computes it. Divisions round up and are exact: ceil(a*b/c)
 * needs a 128-bit product (bytes * 10^9 passes 2^64 for a few GiB). The
 * validator uses these to refuse durations that cannot be represented; the
 * executor to place operations in time. Results saturate at UINT64_MAX.
 */
#include "internal.h"

#if ACI_CONFIG_INT128

uint64_t aci_muldiv_ceil(uint64_t a, uint64_t b, uint64_t c)
{
    unsigned __int128 p = (unsigned __int128)a * b;
    unsigned __int128 q = p / c;
    if (q * c != p)
        q++;
    return q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
}

#else

/* 64x64 -> 128 from 32-bit halves: no 128-bit type on the Cortex-R5. */
static void mul_64x64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
    uint64_t a0 = a & 0xFFFFFFFFu, a1 = a >> 32, b0 = b & 0xFFFFFFFFu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xFFFFFFFFu) + (p10 & 0xFFFFFFFFu);
    *lo = mid << 32 | (p00 & 0xFFFFFFFFu);
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/* (hi:lo) / c for hi < c (so the quotient fits 64 bits), by shift and subtract:
 * the R5 has no 64-bit divide and the core links no libgcc helpers. */
static uint64_t div_128x64(uint64_t hi, uint64_t lo, uint64_t c, uint64_t *rem)
{
    uint64_t q = 0;
    for (int i = 0; i < 64; i++) {
        uint64_t carry = hi >> 63; /* the shifted remainder passes 2^64: surely >= c */
        hi = hi << 1 | lo >> 63;
        lo <<= 1;
        q <<= 1;
        if (carry || hi >= c) {
            hi -= c;
            q |= 1;
        }
    }
    *rem = hi;
    return q;
}

uint64_t aci_muldiv_ceil(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t hi, lo, rem;
    mul_64x64(a, b, &hi, &lo);
    if (hi >= c)
        return UINT64_MAX;
    uint64_t q = div_128x64(hi, lo, c, &rem);
    if (rem)
        q = q == UINT64_MAX ? UINT64_MAX : q + 1;
    return q;
}

#endif

uint64_t aci_image_transfer_ns(const aci_timing *tm, uint64_t image_bytes)
{
    return sat_add(tm->link_latency_ns,
                   aci_muldiv_ceil(image_bytes * 8, NS_PER_S, tm->link_bits_per_s));
}

uint64_t aci_pr_ns(const aci_timing *tm, uint64_t bitstream_bytes)
{
    return sat_add(tm->pr_overhead_ns,
                   aci_muldiv_ceil(bitstream_bytes, NS_PER_S, tm->icap_bytes_per_s));
}

uint64_t aci_task_ns(const aci_timing *tm, uint32_t param_words, uint32_t cycles, uint64_t in_bytes,
                     uint64_t out_bytes)
{
    uint64_t longest = aci_muldiv_ceil(in_bytes, NS_PER_S, tm->dma_bytes_per_s);
    uint64_t compute = aci_muldiv_ceil(cycles, NS_PER_S, tm->clock_hz);
    uint64_t out = aci_muldiv_ceil(out_bytes, NS_PER_S, tm->dma_bytes_per_s);
    if (compute > longest)
        longest = compute;
    if (out > longest)
        longest = out;
    return sat_add(sat_add(tm->task_overhead_ns, sat_mul(param_words, tm->pf_write_ns)), longest);
}
