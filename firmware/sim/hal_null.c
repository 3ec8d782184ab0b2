/* A HAL that does nothing: the board is always idle and never touches memory.
 * For counting the core's own instructions (bench/bench_firmware.py) and for the
 * Cortex-R5 size build, where it stands in for a real board's HAL. */
#include "hal.h"

void hal_reconfigure(unsigned slot, unsigned core_id, uint64_t address, uint32_t size)
{
    (void)slot, (void)core_id, (void)address, (void)size;
}

uint32_t hal_task_start(const aci_task_desc *task)
{
    (void)task;
    return ACI_OK;
}

uint32_t hal_slots_busy(uint32_t slots)
{
    (void)slots;
    return 0;
}

uint64_t hal_time_ns(void)
{
    return 0;
}

int hal_mem_read(uint64_t address, void *dst, size_t n)
{
    (void)address, (void)dst, (void)n;
    return -1;
}

int hal_mem_write(uint64_t address, const void *src, size_t n)
{
    (void)address, (void)src, (void)n;
    return -1;
}
