/* The ACI firmware core: the one public header.
 *
 * An ACI image (docs/format.md) arrives from the network; the board trusts nothing
 * in it. Three stages:
 *
 *   aci_validate (src/validate.c)  bytes -> aci_image, or an error code and the
 *                                  byte offset of the offending field; the same
 *                                  rules, codes, offsets and order as aci/decode.py.
 *   aci_prepare  (src/predecode.c) aci_image -> its pre-decoded form in a work area
 *                                  (aci_work, below): once per image.
 *   aci_run      (src/exec.c)      a prepared image -> a run on the board behind
 *                                  hal.h, in strict or dataflow mode, exactly as
 *                                  docs/execution.md says (simulated time, trace
 *                                  events, SYNC words, run-time errors); as many
 *                                  runs as the host asks for.
 *
 * aci_execute does all three, as a board does with each image it receives. Nothing here
 * allocates memory or calls libc: the caller provides every structure (static on a
 * board), sized from the limits of aci_format.h, and the executor's work area
 * (aci_work, below), sized from the images the board accepts. The executor trusts
 * the validator: a broken invariant stops the run with ACI_ERR_INTERNAL, never a
 * crash.
 */
#ifndef ACI_H
#define ACI_H

#include <stddef.h>
#include <stdint.h>

#include "aci_config.h"
/* Angle brackets: the build puts the generated header on a system path (see
 * firmware/Makefile), like any header the core does not own. */
#include <aci_format.h>

#define ACI_OK 0u
/* Every error code, the board's own ACI_ERR_INTERNAL (a broken invariant of the
 * firmware itself, a bug) and ACI_ERR_WORK_AREA (below) included, and the execution
 * modes ACI_MODE_* (docs/execution.md; DEFAULT: the image's own) come from
 * aci_format.h, generated from aci/format.py. */

/* ---- what the validator learns from an image ------------------------------- */

typedef struct {
    uint64_t icap_bytes_per_s, pr_overhead_ns, dma_bytes_per_s, clock_hz;
    uint64_t task_overhead_ns, pf_write_ns, link_bits_per_s, link_latency_ns, watchdog_ns;
} aci_timing;

typedef struct {
    uint64_t base;
    uint64_t last;       /* last byte (inclusive): a region may end at 2^64 */
    const uint8_t *name; /* NUL-padded, 16 bytes, in the image */
} aci_memory;

typedef struct {
    uint8_t id, port_count, param_words, port_dirs; /* port_dirs bit k: port k is an output */
    uint8_t name_len;
    const uint8_t *name; /* name_len printable ASCII bytes, in the image */
    uint32_t bitstream_size;
    uint64_t bitstream_addr;
    uint64_t pr_ns; /* duration of one reconfiguration with this core */
} aci_core;

typedef struct {
    const uint8_t *data;
    uint32_t length;
    uint32_t flags;
    uint8_t slots, memory_count, core_count;
    aci_timing timing;
    aci_memory memories[ACI_MAX_MEMORIES];
    aci_core cores[ACI_MAX_CORES];
    uint8_t core_index[256]; /* core id -> index into cores, 0xFF: not in CORES */
    uint32_t param_off, param_words;
    uint32_t compute_off, compute_len;
    uint32_t sync_off;
    uint32_t symbols_off, symbols_len; /* symbols_len 0: no SYMBOLS section */
    uint32_t init_off, init_len;       /* init_len 0: no INIT section */
    uint64_t operations;               /* RECONFs and TASKs of one run, loops unrolled */
    uint64_t work_units;               /* the work area aci_prepare needs (see aci_work) */
    const void *prepared; /* the machine aci_prepare pre-decoded it in; NULL since aci_validate */
} aci_image;

/* Optional help for the validator. */
typedef struct {
    /* Called for every task port that passed its region check: the bytes
     * lo .. last it covers over all iterations (a simulator backs them). */
    void (*port_span)(void *user, uint64_t lo, uint64_t last);
    void *user;
    /* Work area for finding repeated buffer names and line offsets in O(n log n);
     * without one (or too small: it needs 1 word per record) the validator
     * compares pairs, which is quadratic in the SYMBOLS record count. */
    uint32_t *scratch;
    size_t scratch_words;
} aci_hooks;

/* Validate an image; ACI_OK and *img filled, or an error code with *offset the
 * byte at fault. hooks may be NULL. img->data points into data (kept, not copied). */
uint32_t aci_validate(const uint8_t *data, size_t length, const aci_hooks *hooks, aci_image *img,
                      uint32_t *offset);

/* ---- the run ------------------------------------------------------------------ */

typedef struct {
    uint64_t address;
    uint32_t length;
} aci_region;

/* A task as the HAL sees it: its parameter words (param_words little-endian words,
 * in the image's PARAM section) and its ports at their addresses for this
 * iteration. */
typedef struct {
    uint8_t slot, core, port_count, port_dirs, param_words;
    const uint8_t *params;
    aci_region ports[ACI_MAX_PORTS];
} aci_task_desc;

typedef enum {
    ACI_EV_IMAGE,
    ACI_EV_WINDOW_START,
    ACI_EV_WINDOW_END,
    ACI_EV_PR_START,
    ACI_EV_PR_END,
    ACI_EV_TASK_START,
    ACI_EV_TASK_END,
    ACI_EV_ERROR,
    ACI_EV_DONE
} aci_event_kind;

/* One trace event (docs/execution.md, "Trace"); which fields are set depends on kind. */
typedef struct {
    aci_event_kind kind;
    uint64_t t;
    uint32_t pc;             /* windows, PRs, tasks, errors */
    uint8_t slot;            /* PRs, tasks */
    const aci_core *core;    /* PRs, tasks: its name */
    const aci_region *ports; /* task_start */
    uint8_t port_count;
    const uint8_t *params; /* task_start: param_words little-endian words */
    uint8_t param_words;
    uint32_t code;       /* error */
    uint32_t bytes;      /* image */
    int mode;            /* image */
    uint64_t tasks, prs; /* done */
} aci_event;

typedef void (*aci_trace_fn)(void *user, const aci_event *ev);

/* The SYNC words the board writes (docs/format.md); aci_sync_pack lays them out. */
typedef struct {
    uint32_t doorbell, ack, status, error_code, error_offset;
    uint64_t progress;
    uint32_t slot_done[ACI_MAX_SLOTS];
} aci_sync;

void aci_sync_pack(const aci_sync *sync, uint8_t out[ACI_SYNC_BYTES]);

typedef struct {
    int mode;           /* ACI_MODE_*: DEFAULT takes the image's */
    uint32_t doorbell;  /* the run's sequence number, acknowledged in SYNC */
    aci_trace_fn trace; /* may be NULL */
    void *trace_user;
} aci_run_opts;

typedef struct {
    int mode;
    uint32_t image_bytes;
    uint64_t t0, t_end, total_ns; /* arrival, last completion, what the host sees */
    uint64_t tasks, prs, operations;
    uint32_t error_code, error_offset;
    uint64_t error_t;
    aci_sync sync;
} aci_result;

/* ---- the work area: the image pre-decoded for its runs -----------------------------
 *
 * Before anything runs, aci_prepare turns COMPUTE into a compact form in a work area
 * the caller provides (static on a board, like every other structure here): for
 * each slot a chain of its own operations and of the loops around them, so a slot
 * never steps over another slot's work; each operation with its duration, its
 * ports (base address and nonzero strides), its waits and what the run's barriers
 * need of it, in native integers. Its size follows the image's static structure
 * (instructions), never the operations a run executes: a REPEAT of a million
 * iterations costs what one iteration's instructions cost.
 *
 * img->work_units (from aci_validate) is the most one image takes, in units of
 * sizeof(aci_work) (16 bytes): 4 per operation, 1 per task port, stride and wait,
 * 2 + ceil(slots / 2) per REPEAT or LOOP holding operations and 2 per slot with
 * operations inside it, and 1. ACI_WORK_UNITS_MAX(n) bounds it for every image of at
 * most n bytes (a unit per 1.6 image bytes; the shipped programs need one per 10 to
 * 35 bytes). A board keeps a static array of aci_work sized for the largest image
 * it accepts (or as its images need); with less than img->work_units, aci_prepare
 * fails and a run stops with ACI_ERR_WORK_AREA before anything starts. Runs only
 * read the work area: every run of the image starts from it.
 *
 * The layout is private to the core (src/predecode.h): the caller only provides the storage. The
 * units are a union so the executor reads and writes every one through its own type.
 */
typedef union {
    struct {
        uint32_t next, at;
        uint16_t key;
        uint8_t kind, ports, waits, terms, chain, flags;
    } entry;
    struct {
        const uint8_t *params;
        uint8_t pred, chain[ACI_MAX_LOOP_DEPTH];
    } thread;
    aci_region port;
    struct {
        uint64_t stride;
        uint32_t address, index;
    } term; /* offsets in aci_slot */
    struct {
        uint64_t need;
        uint32_t slot;
    } wait;
    uint64_t word[2];
} aci_work;

#define ACI_WORK_UNITS_MAX(image_bytes) ((uint64_t)(image_bytes) * 5u / 8u + 1u)

/* ACI_ERR_WORK_AREA: the run stopped before anything started (t0, offset 0): the
 * work area aci_prepare got is smaller than img->work_units. A limit of the board,
 * never the image's fault. */

/* ---- executor state (private: the caller only provides the storage) ----------- */

/* COMPUTE > REPEAT > WINDOW > PARSEC > THREAD > LOOP x max_loop_depth */
#define ACI_STACK_DEPTH (5u + ACI_MAX_LOOP_DEPTH)
/* Counted levels around an operation: REPEAT, LOOP x max_loop_depth */
#define ACI_LEVELS      (1u + ACI_MAX_LOOP_DEPTH)

/* A cursor's place in one counted level (REPEAT or LOOP) of its slot's chain. */
typedef struct {
    uint32_t loop, body;   /* the level's loop record; the first entry of its body */
    uint32_t index, count; /* iteration */
} aci_frame;

/* A slot: its cursor (its place in its chain, and its head: the first of its
 * operations not completed, which is the one it runs while it is busy), its
 * completions. Its size is a power of two, so the executor finds a slot's state
 * with a shift. */
#define ACI_SLOT_BYTES 512u
typedef union {
    struct {
        const aci_work *head;   /* the head's record; NULL: none left */
        uint64_t index, window; /* strict: program index (UINT64_MAX: none left) and window instance
                                   of the head */
        uint64_t ops,
            windows;   /* what the enclosing iterations add to an operation's index, window */
        uint32_t next; /* the chain entry after the head */
        uint8_t depth; /* levels entered */
        uint8_t pred;  /* strict: the head's thread predecessor's slot */
        uint8_t wait;  /* dataflow: the head's first wait not known met */
        uint64_t done; /* operations completed */
        uint64_t wake; /* `wait_on` is examined again once the counter reaches it (UINT64_MAX: none
                          waits) */
        uint16_t wait_on; /* heads (slots) waiting for this slot's completions */
        uint16_t holds;   /* core id held, 0xFFFF: none */
        uint16_t
            wait_slots; /* dataflow: slots its operations wait on (before[] kept for them only) */
        aci_task_desc
            desc; /* what hal_task_start gets; the core's fields set by a reconfiguration */
        aci_frame stack[ACI_LEVELS];
        uint64_t
            before[ACI_MAX_SLOTS]; /* dataflow: what the enclosing iterations add to before(w) */
    };
    uint8_t bytes_[ACI_SLOT_BYTES];
} aci_slot;

/* Pre-decoding's walk of COMPUTE: one open container. */
typedef struct {
    uint64_t ops, windows; /* counters when it opened (counted levels) */
    uint32_t end, loop, pending, count;
    uint16_t emitted; /* slots whose chains hold its begin entry */
    uint8_t op, level, last, pending_k;
} aci_open;

typedef struct {
    const aci_image *img;
    aci_run_opts opts;
    aci_result *res;
    aci_work *work;
    uint32_t work_units;
    uint64_t t, t_end;           /* now; the last completion */
    uint64_t end[ACI_MAX_SLOTS]; /* when the operation a busy slot runs ends */
    uint64_t reconfs_done, hung_tasks, prs;
    uint64_t window_base; /* strict: operations completed when the running window instance began */
    uint16_t busy;        /* slots running an operation */
    uint16_t all_slots;   /* the image's slots, as a set */
    uint32_t slots;       /* how many */
    uint16_t heads;       /* slots with operations left */
    /* Readiness of heads (of idle slots), as sets of slots: known ready; to be
     * examined again; blocked until any completion (strict PARSEC barrier), until
     * the next window instance (strict); and each slot's wait_on. RECONFs ready
     * but for the busy ICAP wait in wait_icap. */
    uint16_t ready, check, wait_any, wait_window, wait_icap;
    uint16_t in_window_heads; /* strict: heads in the running window instance */
    uint8_t icap_busy, stopped, strict, error_pending;
    aci_slot slot[ACI_MAX_SLOTS];
    /* strict: the window instance running now, found by a walk of the top level */
    uint64_t window;
    uint32_t window_pc, top, top_end, rep_next, rep_body, rep_end, rep_count, rep_index;
    uint8_t in_window;
    /* pre-decoding: the image prepared, with the outcome and the first entry of
     * each slot's chain and the slots its operations wait on; the walk's state */
    const aci_image *prepared;
    uint32_t prepare_code, prepare_at;
    uint32_t chain[ACI_MAX_SLOTS];
    uint16_t chain_waits[ACI_MAX_SLOTS];
    aci_open open[ACI_STACK_DEPTH];
    uint64_t level_before[ACI_LEVELS][ACI_MAX_SLOTS];
} aci_machine;

/* Pre-decode a validated image into a work area of work_units units (at least
 * img->work_units; its contents need no initialisation), for its runs in machine m:
 * ACI_OK, ACI_ERR_WORK_AREA (too small: a limit of the board) or ACI_ERR_INTERNAL
 * (a broken invariant). A failure is also what every run of the image then reports.
 * The work area belongs to the image until m prepares another or the image is
 * validated anew (which undoes this). */
uint32_t aci_prepare(aci_machine *m, aci_work *work, size_t work_units, aci_image *img);

/* Run an image m prepared (else the run stops at once with ACI_ERR_INTERNAL) on
 * the board behind hal.h; returns ACI_OK or the run-time error code (also in res). */
uint32_t aci_run(aci_machine *m, const aci_image *img, const aci_run_opts *opts, aci_result *res);

/* Write a valid image's INIT chunks (initial memory contents) into board memory
 * through hal_mem_write: what a board does once when it accepts an image, before
 * the host writes any input. ACI_OK, or ACI_ERR_INTERNAL when the HAL refuses a
 * write (the validator has checked every chunk against the memory map). */
uint32_t aci_load_init(const aci_image *img);

/* What a board does with an image the validator refused: the trace's image and
 * error events (t = 0) and the SYNC words. */
void aci_refuse(size_t length, uint32_t code, uint32_t offset, const aci_run_opts *opts,
                aci_result *res);

/* Validate, then load its INIT chunks, prepare and run, or refuse: one image
 * received (the work area as for aci_prepare). */
uint32_t aci_execute(aci_machine *m, aci_work *work, size_t work_units, const uint8_t *data,
                     size_t length, const aci_hooks *hooks, const aci_run_opts *opts,
                     aci_image *img, aci_result *res);

/* ---- shared helpers ---------------------------------------------------------- */

/* The error's name in docs/format.md ("bad_crc"), or "internal". */
const char *aci_error_name(uint32_t code);

/* CRC-32 (IEEE, as zlib.crc32) of n bytes, continuing from crc (0 to start). */
uint32_t aci_crc32(uint32_t crc, const uint8_t *p, size_t n);

/* The image's CRC: the whole image with its crc32 field read as zero; length >= 16. */
uint32_t aci_image_crc(const uint8_t *data, size_t length);

/* ceil(a * b / c) exactly, c > 0; UINT64_MAX when the result does not fit. */
uint64_t aci_muldiv_ceil(uint64_t a, uint64_t b, uint64_t c);

/* The timing model (docs/execution.md "Time"), saturating at UINT64_MAX. */
uint64_t aci_image_transfer_ns(const aci_timing *tm, uint64_t image_bytes);
uint64_t aci_pr_ns(const aci_timing *tm, uint64_t bitstream_bytes);
uint64_t aci_task_ns(const aci_timing *tm, uint32_t param_words, uint32_t cycles, uint64_t in_bytes,
                     uint64_t out_bytes);

#endif /* ACI_H */
