/* The simulated board: hal.h over backed memory extents and C core models
 * (board.h, models.h). Time is the executor's timing model, so the hardware is
 * never busy: an operation is over the moment the model says it ends, and its
 * effects on memory happen when it starts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "hal.h"
#include "models.h"
#include "plugins.h"

typedef struct {
    uint64_t lo, last;
} span;

typedef struct {
    uint64_t lo, last;
    uint8_t *bytes; /* NULL until first access */
    int mem;
} extent;

static span *spans;
static size_t span_count, span_cap;
static extent *extents;
static size_t extent_count;
static int functional;
static uint32_t pf[ACI_MAX_SLOTS][ACI_MAX_PARAMS];
static uint64_t tasks_run;
static uint32_t slow_slots, slow_polls, late[ACI_MAX_SLOTS]; /* board_slow */
static uint64_t clock_ns;
char board_error[256];

void board_reset(int run_models)
{
    for (size_t k = 0; k < extent_count; k++)
        free(extents[k].bytes);
    free(extents);
    free(spans);
    extents = 0;
    spans = 0;
    extent_count = span_count = span_cap = 0;
    functional = run_models;
    tasks_run = 0;
    memset(pf, 0, sizeof pf);
    slow_slots = slow_polls = 0;
    memset(late, 0, sizeof late);
    clock_ns = 0;
    board_error[0] = 0;
}

void board_functional(int on)
{
    functional = on;
}

void board_slow(uint32_t slots, uint32_t polls)
{
    slow_slots = slots;
    slow_polls = polls;
}

/* An operation started on the slot: slow hardware lags behind the model. */
static void started(unsigned slot)
{
    if (slot < ACI_MAX_SLOTS && slow_slots >> slot & 1)
        late[slot] = slow_polls;
}

int board_add_span(uint64_t lo, uint64_t last)
{
    if (span_count == span_cap) {
        size_t cap = span_cap ? 2 * span_cap : 64;
        span *grown = realloc(spans, cap * sizeof *spans);
        if (!grown)
            return -1;
        spans = grown;
        span_cap = cap;
    }
    spans[span_count].lo = lo;
    spans[span_count].last = last;
    span_count++;
    return 0;
}

void board_port_span(void *user, uint64_t lo, uint64_t last)
{
    int *failed = user;
    if (board_add_span(lo, last) && failed)
        *failed = 1;
}

int board_region(const aci_image *img, uint64_t address, uint64_t n)
{
    if (n == 0 || address + (n - 1) < address)
        return -1;
    for (unsigned k = 0; k < img->memory_count; k++) {
        const aci_memory *m = &img->memories[k];
        if (address >= m->base && address + (n - 1) <= m->last)
            return (int)k;
    }
    return -1;
}

/* Regions are disjoint and every range lies in one, so sorting by address keeps
 * each region's ranges together. */
static int by_address(const void *a, const void *b)
{
    const extent *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

int board_build(const aci_image *img, uint64_t max_bytes)
{
    for (unsigned k = 0; k < img->core_count; k++) {
        const aci_core *c = &img->cores[k];
        if (board_add_span(c->bitstream_addr, c->bitstream_addr + (c->bitstream_size - 1)))
            goto oom;
    }
    if (img->symbols_len) {
        const uint8_t *h = img->data + img->symbols_off, *b = h + 8;
        unsigned count = (unsigned)(h[0] | h[1] << 8);
        for (unsigned k = 0; k < count; k++, b += 88) {
            uint64_t address, size;
            memcpy(&address, b + 40, 8);
            memcpy(&size, b + 48, 8);
            if (size && board_add_span(address, address + (size - 1)))
                goto oom;
        }
    }
    extent *all = calloc(span_count ? span_count : 1, sizeof *all);
    if (!all)
        goto oom;
    for (size_t k = 0; k < span_count; k++) {
        all[k].lo = spans[k].lo;
        all[k].last = spans[k].last;
        all[k].mem = board_region(img, spans[k].lo, spans[k].last - spans[k].lo + 1);
        if (all[k].mem < 0) {
            snprintf(board_error, sizeof board_error,
                     "bytes 0x%llx .. 0x%llx are outside every memory region",
                     (unsigned long long)spans[k].lo, (unsigned long long)spans[k].last);
            free(all);
            return -1;
        }
    }
    qsort(all, span_count, sizeof *all, by_address);
    size_t n = 0;
    uint64_t total = 0;
    for (size_t k = 0; k < span_count; k++) {
        extent *prev = n ? &all[n - 1] : 0;
        if (prev && prev->mem == all[k].mem &&
            (all[k].lo <= prev->last || all[k].lo - prev->last <= BOARD_MERGE_GAP)) {
            if (all[k].last > prev->last)
                prev->last = all[k].last;
        } else {
            all[n++] = all[k];
        }
    }
    for (size_t k = 0; k < n; k++) {
        uint64_t bytes = all[k].last - all[k].lo + 1;
        total = bytes == 0 || total + bytes < total ? UINT64_MAX : total + bytes;
    }
    if (total > max_bytes) {
        snprintf(
            board_error, sizeof board_error,
            "the image touches %llu bytes of board memory, more than the simulator backs (%llu)",
            (unsigned long long)total, (unsigned long long)max_bytes);
        free(all);
        return -1;
    }
    extents = all;
    extent_count = n;
    return 0;
oom:
    snprintf(board_error, sizeof board_error, "out of memory");
    return -1;
}

uint8_t *board_bytes(uint64_t address, uint64_t n)
{
    if (n == 0 || address + (n - 1) < address)
        return 0;
    size_t lo = 0, hi = extent_count;
    while (lo < hi) { /* the first extent ending at or after address */
        size_t mid = (lo + hi) / 2;
        if (extents[mid].last < address)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == extent_count)
        return 0;
    extent *e = &extents[lo];
    if (address < e->lo || address + (n - 1) > e->last)
        return 0;
    if (!e->bytes) {
        uint64_t size = e->last - e->lo + 1;
        if (size != (size_t)size || !(e->bytes = calloc((size_t)size, 1)))
            return 0;
    }
    return e->bytes + (address - e->lo);
}

void board_copy_out(uint64_t address, uint64_t n, uint8_t *dst)
{
    memset(dst, 0, n);
    for (size_t k = 0; k < extent_count && n; k++) {
        const extent *e = &extents[k];
        uint64_t last = address + (n - 1) < address ? UINT64_MAX : address + (n - 1);
        if (!e->bytes || e->last < address || e->lo > last)
            continue;
        uint64_t from = e->lo > address ? e->lo : address, to = e->last < last ? e->last : last;
        memcpy(dst + (from - address), e->bytes + (from - e->lo), to - from + 1);
    }
}

uint64_t board_last_backed(const aci_image *img, unsigned mem, int *any)
{
    (void)img;
    uint64_t last = 0;
    *any = 0;
    for (size_t k = 0; k < extent_count; k++)
        if (extents[k].mem == (int)mem && (!*any || extents[k].last > last)) {
            last = extents[k].last;
            *any = 1;
        }
    return last;
}

int board_buffer(const aci_image *img, const char *name, uint64_t *address, uint64_t *size)
{
    if (!img->symbols_len)
        return -1;
    const uint8_t *h = img->data + img->symbols_off, *b = h + 8;
    unsigned count = (unsigned)(h[0] | h[1] << 8);
    size_t len = strlen(name);
    if (len == 0 || len > 32)
        return -1;
    for (unsigned k = 0; k < count; k++, b += 88)
        if (!memcmp(b, name, len) && (len == 32 || b[len] == 0)) {
            memcpy(address, b + 40, 8);
            memcpy(size, b + 48, 8);
            return 0;
        }
    return -1;
}

uint64_t board_tasks_run(void)
{
    return tasks_run;
}

uint64_t board_backed_bytes(void)
{
    uint64_t total = 0;
    for (size_t k = 0; k < extent_count; k++)
        total += extents[k].last - extents[k].lo + 1;
    return total;
}

/* ---- hal.h ---------------------------------------------------------------------- */

void hal_reconfigure(unsigned slot, unsigned core_id, uint64_t address, uint32_t size)
{
    (void)core_id, (void)address, (void)size; /* the slot's model needs no bitstream */
    started(slot);
}

/* The slot's parameter file gets the task's words. */
static void pf_write(unsigned slot, const uint8_t *words, unsigned count)
{
    for (unsigned k = 0; k < count && slot < ACI_MAX_SLOTS && k < ACI_MAX_PARAMS; k++, words += 4)
        pf[slot][k] = (uint32_t)words[0] | (uint32_t)words[1] << 8 | (uint32_t)words[2] << 16 |
                      (uint32_t)words[3] << 24;
}

/* The slot's local memory: one buffer per port, kept between tasks. */
static uint8_t *local[ACI_MAX_PORTS];
static size_t local_cap[ACI_MAX_PORTS];

/* The slot's DMA brings every input port into local memory, the model computes,
 * the DMA writes the outputs back: every input is read before any output is
 * written, even where ports overlap in board memory. */
uint32_t hal_task_start(const aci_task_desc *task)
{
    pf_write(task->slot, task->params, task->param_words);
    if (!functional) {
        started(task->slot);
        return ACI_OK;
    }
    uint32_t lengths[ACI_MAX_PORTS];
    for (unsigned k = 0; k < task->port_count; k++)
        lengths[k] = task->ports[k].length;
    const aci_model *user = plugin_for(task->core); /* a user's model first (acifw-sim --models) */
    if (user ? task->port_count != user->port_count || task->port_dirs != user->port_dirs ||
                   task->param_words != user->param_count ||
                   (user->check && !user->check(pf[task->slot], lengths))
             : !model_check(task->core, task->port_count, task->port_dirs, task->param_words,
                            pf[task->slot], lengths))
        return ACI_ERR_NO_MODEL;
    for (unsigned k = 0; k < task->port_count; k++) {
        if (lengths[k] > local_cap[k]) {
            free(local[k]);
            local_cap[k] = 0;
            if (!(local[k] = malloc(lengths[k])))
                return ACI_ERR_INTERNAL;
            local_cap[k] = lengths[k];
        }
        if (task->port_dirs >> k & 1)
            memset(local[k], 0, lengths[k]);
        else if (hal_mem_read(task->ports[k].address, local[k], lengths[k]))
            return ACI_ERR_INTERNAL; /* the validator proved every port inside a backed range */
    }
    if (user)
        user->run(pf[task->slot], task->slot, local, lengths);
    else
        model_run(task->core, pf[task->slot], task->slot, local, lengths);
    for (unsigned k = 0; k < task->port_count; k++)
        if (task->port_dirs >> k & 1 && hal_mem_write(task->ports[k].address, local[k], lengths[k]))
            return ACI_ERR_INTERNAL;
    tasks_run++;
    started(task->slot);
    return ACI_OK;
}

/* A model runs when its task starts: never late, but on slow hardware. */
uint32_t hal_slots_busy(uint32_t slots)
{
    uint32_t busy = 0;
    for (uint32_t x = slots & slow_slots; x; x &= x - 1) {
        unsigned s = (unsigned)__builtin_ctz(x);
        if (s < ACI_MAX_SLOTS && late[s]) {
            if (late[s] != BOARD_NEVER)
                late[s]--;
            busy |= 1u << s;
        }
    }
    return busy;
}

uint64_t hal_time_ns(void)
{
    return slow_slots ? clock_ns += 100000000 : 0;
}

int hal_mem_read(uint64_t address, void *dst, size_t n)
{
    uint8_t *p = board_bytes(address, n);
    if (!p)
        return -1;
    memcpy(dst, p, n);
    return 0;
}

int hal_mem_write(uint64_t address, const void *src, size_t n)
{
    uint8_t *p = board_bytes(address, n);
    if (!p)
        return -1;
    memcpy(p, src, n);
    return 0;
}
