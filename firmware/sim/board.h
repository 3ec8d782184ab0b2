/* The simulated board behind hal.h (sim/hal_sim.c): its memory and its slots.
 *
 * Memory is not allocated region by region (the zcu102 declares 2 GiB of DDR):
 * only the byte ranges an image can touch are backed, as aci/board.py does: every
 * task port over all its iterations (reported by the validator), every
 * bitstream, every SYMBOLS buffer, and the ranges the user loads or saves.
 * Ranges of one memory region closer than BOARD_MERGE_GAP share one extent;
 * extents are allocated (zeroed) on first access, so a timing-only run backs
 * nothing. Every access must lie inside one extent.
 */
#ifndef ACI_SIM_BOARD_H
#define ACI_SIM_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "aci.h"

#define BOARD_MERGE_GAP ((uint64_t)1 << 16)

/* Forget everything (memory, ranges, slots); `functional` 0: no core models run. */
void board_reset(int functional);

/* Whether tasks run their core models (0: timing only). */
void board_functional(int on);

/* A range that must be backed: bytes lo .. last. Before board_build. 0, or -1
 * when out of memory. */
int board_add_span(uint64_t lo, uint64_t last);

/* For aci_hooks.port_span. */
void board_port_span(void *user, uint64_t lo, uint64_t last);

/* Merge the ranges (with the image's bitstreams and SYMBOLS buffers) into
 * extents. -1 (with a message in board_error) when they need more than
 * max_bytes of backing or a range lies outside every memory region. */
int board_build(const aci_image *img, uint64_t max_bytes);

/* The n bytes at address, or NULL when they are not inside one extent. */
uint8_t *board_bytes(uint64_t address, uint64_t n);

/* Copy n bytes at address into dst: backed bytes as they are, zeros elsewhere. */
void board_copy_out(uint64_t address, uint64_t n, uint8_t *dst);

/* Index of the memory region holding address .. address+n-1, or -1. */
int board_region(const aci_image *img, uint64_t address, uint64_t n);

/* The last backed byte of region `mem`: 0 when none (*any = 0). */
uint64_t board_last_backed(const aci_image *img, unsigned mem, int *any);

/* A SYMBOLS buffer by name: 0 and its address and size, or -1. */
int board_buffer(const aci_image *img, const char *name, uint64_t *address, uint64_t *size);

/* Slow hardware, to test how the executor waits for it: after each operation
 * started on a slot of `slots` (bit k: slot k), hal_slots_busy reports that slot
 * still running for `polls` more questions (BOARD_NEVER: it never finishes), and
 * hal_time_ns, a fake clock then, advances 100 ms per call. board_reset undoes it. */
#define BOARD_NEVER UINT32_MAX
void board_slow(uint32_t slots, uint32_t polls);

/* Bytes of the extents board_build made (whether touched yet or not). */
uint64_t board_backed_bytes(void);

/* Tasks the models ran (a run's functional work). */
uint64_t board_tasks_run(void);

extern char board_error[256];

#endif /* ACI_SIM_BOARD_H */
