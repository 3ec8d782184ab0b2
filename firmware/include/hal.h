/* The only door from the firmware core to the board (MicroPython's mphal style):
 * small functions a port implements, each doing one hardware thing.
 *
 * Ports: sim/hal_sim.c (the simulated board of acifw-sim: memory regions and C
 * models of the cores), sim/hal_null.c (does nothing; for instruction counts and
 * the Cortex-R5 size build). A real board implements them over its ICAP, its
 * slots' parameter files and DMA engines, and a timer.
 *
 * The executor decides *when* things happen from the timing model in the image
 * (docs/execution.md); the HAL makes them happen and tells when they are done.
 */
#ifndef ACI_HAL_H
#define ACI_HAL_H

#include <stddef.h>
#include <stdint.h>

#include "aci.h"

/* Start a partial reconfiguration of `slot` with the bitstream of core `core_id`,
 * `size` bytes at board address `address`, through the configuration port. */
void hal_reconfigure(unsigned slot, unsigned core_id, uint64_t address, uint32_t size);

/* Start a task: write its param_words parameter words into its slot's parameter
 * file from word 0 on (`params` holds them little-endian, as the image's PARAM
 * section does), bind its ports to the slot's DMA channel and start its core.
 * ACI_OK, or ACI_ERR_NO_MODEL when the board cannot run it (a simulator without a
 * model for the core); then nothing ran. One call per task: the executor's
 * per-task cost is mostly calls like this one. */
uint32_t hal_task_start(const aci_task_desc *task);

/* Of the slots in `slots` (bit k: slot k), those whose last reconfiguration or
 * task started still runs (a board reads them from one status register). */
uint32_t hal_slots_busy(uint32_t slots);

/* A monotonic clock in nanoseconds (real time, not the timing model's). */
uint64_t hal_time_ns(void);

/* Board memory, for a simulated slot's DMA: 0 on success, -1 when the bytes are
 * not all inside the memory the board backs. */
int hal_mem_read(uint64_t address, void *dst, size_t n);
int hal_mem_write(uint64_t address, const void *src, size_t n);

#endif /* ACI_HAL_H */
