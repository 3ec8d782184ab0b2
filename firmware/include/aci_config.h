/* Build settings of the ACI firmware core, all in one place.
 *
 * Every setting is an #ifndef default: a port overrides it on the compiler's
 * command line (-DACI_CONFIG_...=...) or in a header included first. None of them
 * changes what an image means: they trade speed for code and data size.
 */
#ifndef ACI_CONFIG_H
#define ACI_CONFIG_H

/* Use the compiler's 128-bit integers for ceil(a*b/c) when it has them: one
 * instruction sequence instead of a shift-and-subtract loop. The Cortex-R5
 * compiler has none; the sanitizer build turns them off to test the portable path. */
#ifndef ACI_CONFIG_INT128
#if defined(__SIZEOF_INT128__)
#define ACI_CONFIG_INT128 1
#else
#define ACI_CONFIG_INT128 0
#endif
#endif

/* CRC-32 tables: 4 (slicing-by-4, 4 KiB of RAM, ~3x faster) or 1 (1 KiB).
 * The CRC covers the whole image, so it dominates validation time. */
#ifndef ACI_CONFIG_CRC_TABLES
#define ACI_CONFIG_CRC_TABLES 4
#endif

/* Up to this many records, the validator looks for repeated buffer names and line
 * offsets by comparing every pair; above it, it sorts indices in the caller's
 * scratch area (O(n log n)) when one is given and large enough. */
#ifndef ACI_CONFIG_PAIRWISE_LIMIT
#define ACI_CONFIG_PAIRWISE_LIMIT 64
#endif

/* Real time (hal_time_ns) the executor waits for the hardware to report an
 * operation done after the timing model says it ended, before it stops the run
 * with `watchdog`. 0 waits forever. A simulator's HAL is never busy. */
#ifndef ACI_CONFIG_HANG_NS
#define ACI_CONFIG_HANG_NS 10000000000ull
#endif

#endif /* ACI_CONFIG_H */
