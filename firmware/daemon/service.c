/* The board daemon's message handling: docs/protocol.md, rule by rule (service.h).
 *
 * A request goes through check_request (header, type, fields, payload: everything a
 * message can get wrong by itself), then the epoch, then the idempotency rules, and
 * only then does anything; every refusal before that point changes nothing.
 */
#define _POSIX_C_SOURCE 200809L
#include "service.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aci.h"
#include "board.h"
#include "errwords.h"
#include "hal.h"
#include "models.h"
#include "plugins.h"
#include "trace_json.h"

char svc_error[256];

/* ---- little-endian fields ----------------------------------------------------- */

/* Straight-line code for the widths the protocol has (no loop: under the fuzzer every
 * loop comparison is traced, and these run for every field of every message). */
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get(const uint8_t *p, unsigned n)
{
    switch (n) {
    case 1:
        return p[0];
    case 2:
        return (uint64_t)p[0] | (uint64_t)p[1] << 8;
    case 4:
        return get32(p);
    case 8:
        return get32(p) | (uint64_t)get32(p + 4) << 32;
    default: {
        uint64_t v = 0;
        for (unsigned k = 0; k < n; k++)
            v |= (uint64_t)p[k] << 8 * k;
        return v;
    }
    }
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put(uint8_t *p, unsigned n, uint64_t v)
{
    switch (n) {
    case 2:
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
        break;
    case 4:
        put32(p, (uint32_t)v);
        break;
    case 8:
        put32(p, (uint32_t)v);
        put32(p + 4, (uint32_t)(v >> 32));
        break;
    default:
        for (unsigned k = 0; k < n; k++)
            p[k] = (uint8_t)(v >> 8 * k);
    }
}

#define GET16(p) ((uint16_t)get((p), 2))
#define GET32(p) ((uint32_t)get((p), 4))
#define GET64(p) get((p), 8)

/* ---- state --------------------------------------------------------------------- */

/* The largest reply the board remembers: ERROR with the longest detail, or RUN_RESULT
 * (the other mutating requests' replies are shorter). */
#define REMEMBERED_ERROR (ACIP_ERROR_BYTES + ACIP_MAX_TEXT_BYTES)
#define REMEMBERED_MAX                                                                             \
    (ACIP_MSG_HEADER_BYTES +                                                                       \
     (ACIP_RUN_RESULT_BYTES > REMEMBERED_ERROR ? ACIP_RUN_RESULT_BYTES : REMEMBERED_ERROR))
#define MAX_WAITERS 64u

typedef struct {
    uint64_t id;          /* 0: empty */
    uint32_t request_crc; /* of the whole request: a retry is the same bytes */
    uint16_t length;
    uint8_t reply[REMEMBERED_MAX];
} remembered;

typedef struct {
    char key[48]; /* Z85 public key, "" for the anonymous client */
    int used;
    uint64_t floor, last_use;
    unsigned next;
    remembered replies[ACIP_REMEMBERED_REQUESTS];
} client;

typedef struct {
    uint32_t seq; /* 0: empty */
    uint8_t fields[ACIP_RUN_RESULT_BYTES];
} run_record;

typedef struct {
    svc_peer peer;
    char who[48]; /* the client's key */
    uint64_t request_id, deadline;
    uint32_t request_crc;
} waiter;

static svc_config cfg;
static uint64_t epoch, epoch_start;
static client clients[ACIP_MAX_CLIENTS];
static uint64_t client_clock;
static run_record runs[ACIP_REMEMBERED_RUNS];
static unsigned runs_next;
static uint32_t highest_seq, last_seq;
static waiter waiters[MAX_WAITERS];
static unsigned waiter_count;

/* The loaded image and its preparation. */
static uint8_t *image;
static uint32_t image_len, image_crc;
static aci_image img;
static aci_machine machine;
static aci_work *work;
static uint64_t backed;

/* The board target (cfg.target): its name and TARGET section. */
static char target_name[17];
static const uint8_t *target_sec;
static size_t target_sec_len;

/* The run going on (worker) and what the main thread may read of it. */
static struct {
    uint32_t seq;
    int mode, timing_only, keep_trace;
    aci_result res;
    uint64_t busy[ACI_MAX_SLOTS], reconf[ACI_MAX_SLOTS], started[2][ACI_MAX_SLOTS], pr_ns;
    uint8_t *trace;
    size_t trace_len, trace_cap;
    int trace_full;
    uint64_t wall_start, wall_ns;
} run;
static int running;
static atomic_int stop_pacing;
static _Atomic uint64_t live_progress, live_slot_done[ACI_MAX_SLOTS];
static aci_sync last_sync; /* SYNC words as the last run left them (main thread) */

/* The trace of the last run that kept one. */
static uint8_t *kept_trace;
static size_t kept_trace_len;
static uint32_t kept_trace_seq;

/* Replies are built here. */
static uint8_t *out;
static size_t out_cap;

/* ---- replies ------------------------------------------------------------------- */

static uint8_t *begin(uint16_t type, uint64_t request_id, size_t fields)
{
    memset(out, 0, ACIP_MSG_HEADER_BYTES + fields);
    memcpy(out, ACIP_MAGIC, 4);
    put(out + ACIP_MSG_HEADER_MAJOR, 2, ACIP_VERSION_MAJOR);
    put(out + ACIP_MSG_HEADER_MINOR, 2, ACIP_VERSION_MINOR);
    put(out + ACIP_MSG_HEADER_TYPE, 2, type);
    put(out + ACIP_MSG_HEADER_REQUEST_ID, 8, request_id);
    put(out + ACIP_MSG_HEADER_EPOCH, 8, epoch);
    return out + ACIP_MSG_HEADER_BYTES;
}

static size_t finish(size_t length)
{
    put(out + ACIP_MSG_HEADER_LENGTH, 4, length);
    return length;
}

static size_t fail(uint64_t request_id, unsigned code, uint32_t image_error, uint32_t image_offset,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* An ERROR reply; the detail cut at max_text_bytes (ASCII: no character is cut). */
static size_t fail(uint64_t request_id, unsigned code, uint32_t image_error, uint32_t image_offset,
                   const char *fmt, ...)
{
    uint8_t *f = begin(ACIP_T_ERROR, request_id, ACIP_ERROR_BYTES);
    char text[ACIP_MAX_TEXT_BYTES + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n > ACIP_MAX_TEXT_BYTES ? ACIP_MAX_TEXT_BYTES : (size_t)n;
    put(f + ACIP_ERROR_CODE, 2, code);
    put(f + ACIP_ERROR_IMAGE_ERROR, 4, image_error);
    put(f + ACIP_ERROR_IMAGE_OFFSET, 4, image_offset);
    put(f + ACIP_ERROR_TEXT_BYTES, 4, len);
    memcpy(f + ACIP_ERROR_BYTES, text, len);
    return finish(ACIP_MSG_HEADER_BYTES + ACIP_ERROR_BYTES + len);
}

/* ---- set-up --------------------------------------------------------------------- */

static int printable(const uint8_t *p, size_t n)
{
    size_t k = 0;
    while (k < n && p[k])
        if (p[k] < 0x20 || p[k] > 0x7E)
            return 0;
        else
            k++;
    for (; k < n; k++)
        if (p[k])
            return 0;
    return 1;
}

int svc_init(const svc_config *c)
{
    cfg = *c;
    svc_error[0] = 0;
    if (cfg.target) {
        if (cfg.target_len < ACIP_TARGET_DESC_BYTES + ACI_TARGET_BYTES ||
            !printable(cfg.target, 16)) {
            snprintf(svc_error, sizeof svc_error,
                     "the target description is too short or its name is not ASCII");
            return -1;
        }
        memcpy(target_name, cfg.target, 16);
        target_name[16] = 0;
        target_sec = cfg.target + ACIP_TARGET_DESC_BYTES;
        target_sec_len = cfg.target_len - ACIP_TARGET_DESC_BYTES;
        unsigned count = target_sec[ACI_TARGET_MEMORY_COUNT];
        if (target_sec_len != ACI_TARGET_BYTES + (size_t)count * ACI_MEMORY_BYTES || count == 0 ||
            count > ACI_MAX_MEMORIES || target_sec[ACI_TARGET_SLOTS] == 0 ||
            target_sec[ACI_TARGET_SLOTS] > ACI_MAX_SLOTS) {
            snprintf(svc_error, sizeof svc_error,
                     "the target description's TARGET section is malformed");
            return -1;
        }
    } else {
        target_sec = 0;
        target_sec_len = 0;
        target_name[0] = 0;
    }
    out_cap = ACIP_MSG_HEADER_BYTES + ACIP_HELLO_REPLY_BYTES + ACIP_MAX_DATA_BYTES;
    out = malloc(out_cap);
    if (!out) {
        snprintf(svc_error, sizeof svc_error, "out of memory");
        return -1;
    }
    epoch = cfg.new_epoch(cfg.user);
    epoch_start = cfg.now_ns(cfg.user);
    board_reset(1);
    return 0;
}

static void forget_image(void)
{
    free(image);
    free(work);
    image = 0;
    work = 0;
    image_len = image_crc = 0;
    backed = 0;
    board_reset(1);
    model_reset();
}

/* A new epoch: everything forgotten (RESET). */
static void new_epoch(void)
{
    forget_image();
    for (unsigned k = 0; k < ACIP_MAX_CLIENTS; k++)
        clients[k].used = 0; /* client_of clears a client when it takes its place */
    memset(runs, 0, sizeof runs);
    runs_next = 0;
    highest_seq = last_seq = 0;
    memset(&last_sync, 0, sizeof last_sync);
    free(kept_trace);
    kept_trace = 0;
    kept_trace_len = 0;
    kept_trace_seq = 0;
    epoch = cfg.new_epoch(cfg.user);
    epoch_start = cfg.now_ns(cfg.user);
}

void svc_restart(void)
{
    waiter_count = 0;
    running = 0;
    new_epoch();
}

void svc_free(void)
{
    forget_image();
    free(kept_trace);
    free(run.trace);
    free(out);
    kept_trace = run.trace = out = 0;
}

/* ---- clients and remembered replies ------------------------------------------ */

static client *client_of(const char *key)
{
    client *lru = &clients[0];
    for (unsigned k = 0; k < ACIP_MAX_CLIENTS; k++) {
        client *c = &clients[k];
        if (c->used && !strcmp(c->key, key)) {
            c->last_use = ++client_clock;
            return c;
        }
        if (!c->used || (lru->used && c->last_use < lru->last_use))
            lru = c;
    }
    /* A new client: its fields, and its replies forgotten by their ids alone (the
     * table holds 38 KiB per client; the fuzzer makes clients at every input). */
    lru->used = 1;
    snprintf(lru->key, sizeof lru->key, "%s", key);
    lru->floor = 0;
    lru->next = 0;
    lru->last_use = ++client_clock;
    for (unsigned k = 0; k < ACIP_REMEMBERED_REQUESTS; k++)
        lru->replies[k].id = 0;
    return lru;
}

static const remembered *recall(const client *c, uint64_t id)
{
    for (unsigned k = 0; k < ACIP_REMEMBERED_REQUESTS; k++)
        if (c->replies[k].id == id)
            return &c->replies[k];
    return 0;
}

/* The CRC of the request being handled (for remember). */
static uint32_t request_crc;

static void remember(client *c, uint64_t id, const uint8_t *reply, size_t len)
{
    if (len > REMEMBERED_MAX)
        return; /* never: every mutating reply is shorter */
    remembered *r = &c->replies[c->next];
    c->next = (c->next + 1) % ACIP_REMEMBERED_REQUESTS;
    r->id = id;
    r->request_crc = request_crc;
    r->length = (uint16_t)len;
    memcpy(r->reply, reply, len);
}

static const run_record *run_of(uint32_t seq)
{
    for (unsigned k = 0; k < ACIP_REMEMBERED_RUNS; k++)
        if (runs[k].seq == seq)
            return &runs[k];
    return 0;
}

/* ---- checks of a request by itself --------------------------------------------- */

typedef struct {
    uint16_t type;
    uint64_t id, epoch;
    const uint8_t *f; /* fields */
    const uint8_t *payload;
    size_t payload_len;
    int mutating, needs_epoch;
} request;

#define REQ_ROW(type, NAME, bytes, limit, mut, ep) {type, bytes, limit, mut, ep, #NAME},
static const struct {
    unsigned type, bytes;
    uint64_t limit;
    int mutating, needs_epoch;
    const char *name;
} requests[] = {ACIP_REQUESTS(REQ_ROW)};
#define REQUEST_KINDS (sizeof requests / sizeof requests[0])

typedef struct {
    unsigned offset, bytes;
} span_t;

#define SPAN(o, b) {o, b},
#define FIELDS_OF(NAME)                                                                            \
    static const span_t NAME##_reserved[] = {ACIP_##NAME##_RESERVED_FIELDS(SPAN){0, 0}};           \
    static const span_t NAME##_text[] = {ACIP_##NAME##_TEXT_FIELDS(SPAN){0, 0}};
FIELDS_OF(HELLO)
FIELDS_OF(LOAD)
FIELDS_OF(WRITE)
FIELDS_OF(READ)
FIELDS_OF(RUN)
FIELDS_OF(STATUS)
FIELDS_OF(RESET)
FIELDS_OF(TRACE)

static const span_t *reserved_of(unsigned type)
{
    switch (type) {
    case ACIP_T_HELLO:
        return HELLO_reserved;
    case ACIP_T_LOAD:
        return LOAD_reserved;
    case ACIP_T_WRITE:
        return WRITE_reserved;
    case ACIP_T_READ:
        return READ_reserved;
    case ACIP_T_RUN:
        return RUN_reserved;
    case ACIP_T_STATUS:
        return STATUS_reserved;
    case ACIP_T_RESET:
        return RESET_reserved;
    default:
        return TRACE_reserved;
    }
}

static const span_t *text_of(unsigned type)
{
    switch (type) {
    case ACIP_T_HELLO:
        return HELLO_text;
    case ACIP_T_LOAD:
        return LOAD_text;
    case ACIP_T_WRITE:
        return WRITE_text;
    case ACIP_T_READ:
        return READ_text;
    case ACIP_T_RUN:
        return RUN_text;
    case ACIP_T_STATUS:
        return STATUS_text;
    case ACIP_T_RESET:
        return RESET_text;
    default:
        return TRACE_text;
    }
}

/* 0 and *r filled, or an ERROR's length (in out). aci/protocol.py's unpack, rule by rule. */
static size_t check_request(const uint8_t *msg, size_t len, request *r)
{
    if (len < ACIP_MSG_HEADER_BYTES)
        return fail(0, ACIP_ERR_MALFORMED, 0, 0, "%zu bytes is shorter than the %u-byte header",
                    len, ACIP_MSG_HEADER_BYTES);
    r->id = GET64(msg + ACIP_MSG_HEADER_REQUEST_ID);
    r->epoch = GET64(msg + ACIP_MSG_HEADER_EPOCH);
    r->type = GET16(msg + ACIP_MSG_HEADER_TYPE);
    if (memcmp(msg, ACIP_MAGIC, 4))
        return fail(r->id, ACIP_ERR_MALFORMED, 0, 0, "the message does not start with `%s`",
                    ACIP_MAGIC);
    unsigned major = GET16(msg + ACIP_MSG_HEADER_MAJOR), minor = GET16(msg + ACIP_MSG_HEADER_MINOR);
    if (major != ACIP_VERSION_MAJOR)
        return fail(r->id, ACIP_ERR_PROTOCOL_MISMATCH, 0, 0,
                    "protocol version %u.%u, this side speaks %u.%u", major, minor,
                    ACIP_VERSION_MAJOR, ACIP_VERSION_MINOR);
    if (GET16(msg + ACIP_MSG_HEADER_RESERVED))
        return fail(r->id, ACIP_ERR_MALFORMED, 0, 0, "the header's reserved field is not zero");
    if (GET32(msg + ACIP_MSG_HEADER_LENGTH) != len)
        return fail(r->id, ACIP_ERR_MALFORMED, 0, 0,
                    "the header says %u bytes, the message has %zu",
                    GET32(msg + ACIP_MSG_HEADER_LENGTH), len);
    unsigned k = 0;
    while (k < REQUEST_KINDS && requests[k].type != r->type)
        k++;
    if (k == REQUEST_KINDS)
        return fail(r->id, ACIP_ERR_UNKNOWN_TYPE, 0, 0, "no request has type %u", r->type);
    if (r->id == 0)
        return fail(r->id, ACIP_ERR_MALFORMED, 0, 0, "a request's id must not be zero");
    const char *name = requests[k].name;
    if (len < ACIP_MSG_HEADER_BYTES + requests[k].bytes)
        return fail(r->id, ACIP_ERR_MALFORMED, 0, 0,
                    "%s needs %u bytes of fields, the message has %zu", name, requests[k].bytes,
                    len - ACIP_MSG_HEADER_BYTES);
    r->f = msg + ACIP_MSG_HEADER_BYTES;
    r->payload = r->f + requests[k].bytes;
    r->payload_len = len - ACIP_MSG_HEADER_BYTES - requests[k].bytes;
    r->mutating = requests[k].mutating;
    r->needs_epoch = requests[k].needs_epoch;
    for (const span_t *s = reserved_of(r->type); s->bytes; s++)
        if (get(r->f + s->offset, s->bytes))
            return fail(r->id, ACIP_ERR_MALFORMED, 0, 0,
                        "%s's reserved field at offset %u is not zero", name, s->offset);
    for (const span_t *s = text_of(r->type); s->bytes; s++)
        if (!printable(r->f + s->offset, s->bytes))
            return fail(r->id, ACIP_ERR_MALFORMED, 0, 0,
                        "%s's field at offset %u is not NUL-padded printable ASCII", name,
                        s->offset);
    if (!requests[k].limit && r->payload_len)
        return fail(r->id, ACIP_ERR_MALFORMED, 0, 0,
                    "%s has no payload but %zu bytes follow its fields", name, r->payload_len);
    if (r->payload_len > requests[k].limit)
        return fail(r->id, ACIP_ERR_TOO_LARGE, 0, 0,
                    "%s's payload of %zu bytes is over its limit (%llu)", name, r->payload_len,
                    (unsigned long long)requests[k].limit);
    switch (r->type) {
    case ACIP_T_LOAD:
        if (GET32(r->f + ACIP_LOAD_IMAGE_BYTES) != r->payload_len)
            return fail(r->id, ACIP_ERR_MALFORMED, 0, 0,
                        "LOAD.image_bytes says %u bytes, the payload has %zu",
                        GET32(r->f + ACIP_LOAD_IMAGE_BYTES), r->payload_len);
        if (r->f[ACIP_LOAD_CHECK_TARGET] > 1)
            return fail(r->id, ACIP_ERR_MALFORMED, 0, 0, "LOAD.check_target is 0 or 1");
        if (aci_crc32(0, r->payload, r->payload_len) != GET32(r->f + ACIP_LOAD_IMAGE_CRC32))
            return fail(r->id, ACIP_ERR_BAD_CRC, 0, 0,
                        "the image's CRC is not LOAD.image_crc32: damaged in transit");
        break;
    case ACIP_T_WRITE:
        if (GET32(r->f + ACIP_WRITE_LENGTH) != r->payload_len)
            return fail(r->id, ACIP_ERR_MALFORMED, 0, 0,
                        "WRITE.length says %u bytes, the payload has %zu",
                        GET32(r->f + ACIP_WRITE_LENGTH), r->payload_len);
        if (!r->payload_len)
            return fail(r->id, ACIP_ERR_MALFORMED, 0, 0, "WRITE of zero bytes");
        break;
    case ACIP_T_READ:
    case ACIP_T_TRACE: {
        uint32_t n = GET32(r->f + (r->type == ACIP_T_READ ? ACIP_READ_LENGTH : ACIP_TRACE_LENGTH));
        if (n < 1 || n > ACIP_MAX_DATA_BYTES)
            return fail(r->id, n ? ACIP_ERR_TOO_LARGE : ACIP_ERR_MALFORMED, 0, 0,
                        "%s.length is %u, not 1 .. %u", name, n, ACIP_MAX_DATA_BYTES);
        break;
    }
    case ACIP_T_RUN: {
        unsigned mode = r->f[ACIP_RUN_MODE], flags = r->f[ACIP_RUN_FLAGS];
        uint32_t wait = GET32(r->f + ACIP_RUN_WAIT_MS);
        if (mode > ACIP_MODE_DATAFLOW)
            return fail(r->id, ACIP_ERR_MALFORMED, 0, 0, "RUN.mode %u is not one of [0, 1, 2]",
                        mode);
        if (flags & ~(ACIP_FLAG_TIMING_ONLY | ACIP_FLAG_TRACE))
            return fail(r->id, ACIP_ERR_MALFORMED, 0, 0, "RUN.flags 0x%x sets an undefined bit",
                        flags);
        if (wait > ACIP_MAX_WAIT_MS)
            return fail(r->id, ACIP_ERR_TOO_LARGE, 0, 0, "RUN.wait_ms %u is over max_wait_ms (%u)",
                        wait, ACIP_MAX_WAIT_MS);
        if (GET32(r->f + ACIP_RUN_SEQ) == 0)
            return fail(r->id, ACIP_ERR_STALE_SEQ, 0, 0, "RUN.seq must not be zero");
        break;
    }
    default:
        break;
    }
    return 0;
}

/* ---- HELLO, STATUS ------------------------------------------------------------- */

static size_t do_hello(const request *r, client *c)
{
    unsigned image_major = GET16(r->f + ACIP_HELLO_IMAGE_MAJOR);
    if (image_major != ACI_VERSION_MAJOR)
        return fail(r->id, ACIP_ERR_IMAGE_MISMATCH, 0, 0,
                    "the host writes image format %u.%u, this board runs format %u.%u", image_major,
                    GET16(r->f + ACIP_HELLO_IMAGE_MINOR), ACI_VERSION_MAJOR, ACI_VERSION_MINOR);
    if (r->id > c->floor) /* never lowered: a delayed old HELLO must not reopen old ids */
        c->floor = r->id;
    uint8_t *f = begin(ACIP_T_HELLO_REPLY, r->id, ACIP_HELLO_REPLY_BYTES);
    put(f + ACIP_HELLO_REPLY_MAJOR, 2, ACIP_VERSION_MAJOR);
    put(f + ACIP_HELLO_REPLY_MINOR, 2, ACIP_VERSION_MINOR);
    put(f + ACIP_HELLO_REPLY_IMAGE_MAJOR, 2, ACI_VERSION_MAJOR);
    put(f + ACIP_HELLO_REPLY_IMAGE_MINOR, 2, ACI_VERSION_MINOR);
    put(f + ACIP_HELLO_REPLY_MAX_MESSAGE_BYTES, 4, cfg.max_message_bytes);
    put(f + ACIP_HELLO_REPLY_MAX_DATA_BYTES, 4, ACIP_MAX_DATA_BYTES);
    put(f + ACIP_HELLO_REPLY_MAX_TRACE_BYTES, 8, cfg.max_trace_bytes);
    memcpy(f + ACIP_HELLO_REPLY_FIRMWARE, ACIP_FIRMWARE_VERSION, sizeof ACIP_FIRMWARE_VERSION - 1);
    memcpy(f + ACIP_HELLO_REPLY_TARGET, target_name, strlen(target_name));
    put(f + ACIP_HELLO_REPLY_PACE, 4, cfg.pace);
    if (target_sec_len)
        memcpy(f + ACIP_HELLO_REPLY_BYTES, target_sec, target_sec_len);
    return finish(ACIP_MSG_HEADER_BYTES + ACIP_HELLO_REPLY_BYTES + target_sec_len);
}

static void put_sync(uint8_t *f, const aci_sync *y)
{
    uint8_t words[ACI_SYNC_BYTES];
    aci_sync_pack(y, words);
    memcpy(f, words, ACI_SYNC_BYTES);
}

static size_t do_status(const request *r)
{
    uint8_t *f = begin(ACIP_T_STATUS_REPLY, r->id, ACIP_STATUS_REPLY_BYTES);
    f[ACIP_STATUS_REPLY_STATE] = running ? ACIP_BOARD_RUNNING
                                 : image ? ACIP_BOARD_LOADED
                                         : ACIP_BOARD_EMPTY;
    put(f + ACIP_STATUS_REPLY_IMAGE_CRC32, 4, image_crc);
    put(f + ACIP_STATUS_REPLY_IMAGE_BYTES, 4, image_len);
    put(f + ACIP_STATUS_REPLY_RUNNING_SEQ, 4, running ? run.seq : 0);
    put(f + ACIP_STATUS_REPLY_LAST_SEQ, 4, last_seq);
    put(f + ACIP_STATUS_REPLY_UPTIME_NS, 8, cfg.now_ns(cfg.user) - epoch_start);
    aci_sync y = last_sync;
    if (running) {
        memset(&y, 0, sizeof y);
        y.doorbell = run.seq;
        y.ack = last_sync.ack;
        y.status = ACI_STATUS_RUNNING;
        y.progress = atomic_load(&live_progress);
        for (unsigned s = 0; s < ACI_MAX_SLOTS; s++)
            y.slot_done[s] = (uint32_t)atomic_load(&live_slot_done[s]);
    }
    put_sync(f + ACIP_STATUS_REPLY_SYNC_DOORBELL, &y);
    return finish(ACIP_MSG_HEADER_BYTES + ACIP_STATUS_REPLY_BYTES);
}

/* ---- LOAD ---------------------------------------------------------------------- */

/* The first field of the image's TARGET that differs from the board's, named, or 0. */
static int target_differs(const aci_image *im, char *why, size_t n)
{
    const uint8_t *t = target_sec;
    if (t[ACI_TARGET_SLOTS] != im->slots) {
        snprintf(why, n, "slots: the image has %u, board %s has %u", im->slots, target_name,
                 t[ACI_TARGET_SLOTS]);
        return 1;
    }
    if (t[ACI_TARGET_MEMORY_COUNT] != im->memory_count) {
        snprintf(why, n, "memory_count: the image has %u, board %s has %u", im->memory_count,
                 target_name, t[ACI_TARGET_MEMORY_COUNT]);
        return 1;
    }
    const aci_timing *tm = &im->timing;
    static const struct {
        const char *name;
        unsigned at;
        size_t field;
    } timing[] = {
        {"icap_bytes_per_s", ACI_TARGET_ICAP_BYTES_PER_S, offsetof(aci_timing, icap_bytes_per_s)},
        {"pr_overhead_ns", ACI_TARGET_PR_OVERHEAD_NS, offsetof(aci_timing, pr_overhead_ns)},
        {"dma_bytes_per_s", ACI_TARGET_DMA_BYTES_PER_S, offsetof(aci_timing, dma_bytes_per_s)},
        {"clock_hz", ACI_TARGET_CLOCK_HZ, offsetof(aci_timing, clock_hz)},
        {"task_overhead_ns", ACI_TARGET_TASK_OVERHEAD_NS, offsetof(aci_timing, task_overhead_ns)},
        {"pf_write_ns", ACI_TARGET_PF_WRITE_NS, offsetof(aci_timing, pf_write_ns)},
        {"link_bits_per_s", ACI_TARGET_LINK_BITS_PER_S, offsetof(aci_timing, link_bits_per_s)},
        {"link_latency_ns", ACI_TARGET_LINK_LATENCY_NS, offsetof(aci_timing, link_latency_ns)},
        {"watchdog_ns", ACI_TARGET_WATCHDOG_NS, offsetof(aci_timing, watchdog_ns)},
    };
    for (unsigned k = 0; k < sizeof timing / sizeof timing[0]; k++) {
        uint64_t mine = GET64(t + timing[k].at), theirs;
        memcpy(&theirs, (const uint8_t *)tm + timing[k].field, 8);
        if (mine != theirs) {
            snprintf(why, n, "%s: the image has %llu, board %s has %llu", timing[k].name,
                     (unsigned long long)theirs, target_name, (unsigned long long)mine);
            return 1;
        }
    }
    for (unsigned k = 0; k < im->memory_count; k++) {
        const uint8_t *m = t + ACI_TARGET_BYTES + (size_t)k * ACI_MEMORY_BYTES;
        const aci_memory *mi = &im->memories[k];
        uint64_t base = GET64(m + ACI_MEMORY_BASE), size = GET64(m + ACI_MEMORY_SIZE);
        if (memcmp(m + ACI_MEMORY_NAME, mi->name, 16) || base != mi->base ||
            base + size - 1 != mi->last) {
            char a[17] = {0}, b[17] = {0};
            memcpy(a, mi->name, 16);
            memcpy(b, m + ACI_MEMORY_NAME, 16);
            snprintf(why, n,
                     "memory %u: the image has `%s` at 0x%llx (%llu bytes), board %s has `%s` at "
                     "0x%llx (%llu bytes)",
                     k, a, (unsigned long long)mi->base,
                     (unsigned long long)(mi->last - mi->base + 1), target_name, b,
                     (unsigned long long)base, (unsigned long long)size);
            return 1;
        }
    }
    return 0;
}

static size_t do_load(const request *r)
{
    if (r->payload_len >= 8 && !memcmp(r->payload, ACI_MAGIC, 4) &&
        GET16(r->payload + 4) != ACI_VERSION_MAJOR)
        return fail(r->id, ACIP_ERR_IMAGE_MISMATCH, 0, 0,
                    "the image is format %u.%u, this board runs format %u.%u",
                    GET16(r->payload + 4), GET16(r->payload + 6), ACI_VERSION_MAJOR,
                    ACI_VERSION_MINOR);
    /* The new image is validated into a copy first: a refused one leaves the old loaded. */
    uint8_t *copy = malloc(r->payload_len ? r->payload_len : 1);
    if (!copy)
        return fail(r->id, ACIP_ERR_BOARD_LIMIT, 0, 0, "out of memory for a %zu-byte image",
                    r->payload_len);
    memcpy(copy, r->payload, r->payload_len);
    static aci_image candidate;
    uint32_t offset, code = aci_validate(copy, r->payload_len, 0, &candidate, &offset);
    if (code) {
        free(copy);
        /* the validator's own name for it (bad_version included) */
        return fail(r->id, ACIP_ERR_IMAGE_REFUSED, code, offset,
                    "the firmware refused the image: %s (code %u) at offset %u",
                    aci_error_name(code), code, offset);
    }
    if (r->f[ACIP_LOAD_CHECK_TARGET] && target_sec) {
        char why[300];
        if (target_differs(&candidate, why, sizeof why)) {
            free(copy);
            return fail(r->id, ACIP_ERR_TARGET_MISMATCH, 0, 0, "target mismatch: %s", why);
        }
    }
    /* Accepted: the old image and its memory go; the new one is validated again with
     * the board recording the ranges it touches, backed and prepared. */
    forget_image();
    image = copy;
    image_len = (uint32_t)r->payload_len;
    int span_failed = 0;
    aci_hooks hooks = {board_port_span, &span_failed, 0, 0};
    code = aci_validate(image, image_len, &hooks, &img, &offset);
    if (code || span_failed || board_build(&img, cfg.max_memory_bytes)) {
        char why[256];
        snprintf(why, sizeof why, "%s",
                 code          ? "the image changed"
                 : span_failed ? "out of memory"
                               : board_error);
        forget_image();
        return fail(r->id, code ? ACIP_ERR_INTERNAL : ACIP_ERR_BOARD_LIMIT, 0, 0, "%s", why);
    }
    work = malloc((img.work_units ? img.work_units : 1) * sizeof *work);
    if (!work) {
        forget_image();
        return fail(r->id, ACIP_ERR_BOARD_LIMIT, 0, 0, "out of memory for the image's work area");
    }
    plugins_bind(&img); /* the user's C models (--models), matched to the image's cores by name */
    code = aci_prepare(&machine, work, img.work_units, &img);
    if (code) {
        forget_image();
        return fail(r->id, ACIP_ERR_INTERNAL, code, 0, "the image could not be prepared: %s",
                    aci_error_name(code));
    }
    if (cfg.max_operations && img.operations > cfg.max_operations) {
        uint64_t ops = img.operations;
        forget_image();
        return fail(r->id, ACIP_ERR_BOARD_LIMIT, 0, 0,
                    "the image's run has %llu operations, over this board's %llu",
                    (unsigned long long)ops, (unsigned long long)cfg.max_operations);
    }
    if (aci_load_init(&img)) { /* the image's initial memory (INIT), before any WRITE */
        forget_image();
        return fail(r->id, ACIP_ERR_INTERNAL, 0, 0, "the image's initial memory cannot be written");
    }
    image_crc = aci_crc32(0, image, image_len);
    backed = board_backed_bytes();
    uint8_t *f = begin(ACIP_T_LOAD_REPLY, r->id, ACIP_LOAD_REPLY_BYTES);
    put(f + ACIP_LOAD_REPLY_IMAGE_BYTES, 4, image_len);
    put(f + ACIP_LOAD_REPLY_IMAGE_CRC32, 4, image_crc);
    put(f + ACIP_LOAD_REPLY_OPERATIONS, 8, img.operations);
    put(f + ACIP_LOAD_REPLY_BACKED_BYTES, 8, backed);
    return finish(ACIP_MSG_HEADER_BYTES + ACIP_LOAD_REPLY_BYTES);
}

/* ---- WRITE, READ ----------------------------------------------------------------- */

/* The board bytes a WRITE or READ names, or an ERROR's length in *err. */
static uint8_t *locate(const request *r, unsigned at_address, unsigned at_symbol, uint32_t n,
                       uint64_t *address, size_t *err)
{
    uint64_t a = GET64(r->f + at_address);
    const uint8_t *sym = r->f + at_symbol;
    const char *what = r->type == ACIP_T_WRITE ? "WRITE" : "READ";
    if (!image) {
        *err = fail(r->id, ACIP_ERR_NO_IMAGE, 0, 0, "%s: no image is loaded", what);
        return 0;
    }
    if (sym[0]) {
        char name[33] = {0};
        memcpy(name, sym, 32);
        uint64_t base, size;
        if (board_buffer(&img, name, &base, &size)) {
            *err = fail(r->id, ACIP_ERR_NO_SYMBOL, 0, 0, "%s: the image has no buffer `%s`", what,
                        name);
            return 0;
        }
        if (a > size || n > size - a) {
            *err = fail(r->id, ACIP_ERR_NO_SYMBOL, 0, 0,
                        "%s: bytes %llu .. +%u are past the end of `%s` (%llu bytes)", what,
                        (unsigned long long)a, n, name, (unsigned long long)size);
            return 0;
        }
        a += base;
    }
    uint8_t *p = board_bytes(a, n);
    if (!p) {
        *err = fail(r->id, ACIP_ERR_BAD_ADDRESS, 0, 0,
                    "%s: bytes 0x%llx .. +%u are outside the memory the loaded image declares",
                    what, (unsigned long long)a, n);
        return 0;
    }
    *address = a;
    return p;
}

static size_t do_write(const request *r)
{
    size_t err = 0;
    uint64_t a;
    uint8_t *p =
        locate(r, ACIP_WRITE_ADDRESS, ACIP_WRITE_SYMBOL, (uint32_t)r->payload_len, &a, &err);
    if (!p)
        return err;
    memcpy(p, r->payload, r->payload_len);
    uint8_t *f = begin(ACIP_T_WRITE_REPLY, r->id, ACIP_WRITE_REPLY_BYTES);
    put(f + ACIP_WRITE_REPLY_ADDRESS, 8, a);
    put(f + ACIP_WRITE_REPLY_LENGTH, 4, r->payload_len);
    return finish(ACIP_MSG_HEADER_BYTES + ACIP_WRITE_REPLY_BYTES);
}

static size_t do_read(const request *r)
{
    size_t err = 0;
    uint64_t a;
    uint32_t n = GET32(r->f + ACIP_READ_LENGTH);
    uint8_t *p = locate(r, ACIP_READ_ADDRESS, ACIP_READ_SYMBOL, n, &a, &err);
    if (!p)
        return err;
    uint8_t *f = begin(ACIP_T_READ_REPLY, r->id, ACIP_READ_REPLY_BYTES);
    put(f + ACIP_READ_REPLY_ADDRESS, 8, a);
    put(f + ACIP_READ_REPLY_LENGTH, 4, n);
    memcpy(f + ACIP_READ_REPLY_BYTES, p, n);
    return finish(ACIP_MSG_HEADER_BYTES + ACIP_READ_REPLY_BYTES + n);
}

static size_t do_trace(const request *r)
{
    uint32_t seq = GET32(r->f + ACIP_TRACE_SEQ), n = GET32(r->f + ACIP_TRACE_LENGTH);
    uint64_t offset = GET64(r->f + ACIP_TRACE_OFFSET);
    if (!kept_trace_seq || seq != kept_trace_seq)
        return fail(r->id, ACIP_ERR_NO_RESULT, 0, 0, "the board keeps no trace of run %u", seq);
    if (offset > kept_trace_len)
        return fail(r->id, ACIP_ERR_TOO_LARGE, 0, 0, "offset %llu is past the trace's %zu bytes",
                    (unsigned long long)offset, kept_trace_len);
    if (n > kept_trace_len - offset)
        n = (uint32_t)(kept_trace_len - offset);
    uint8_t *f = begin(ACIP_T_TRACE_REPLY, r->id, ACIP_TRACE_REPLY_BYTES);
    put(f + ACIP_TRACE_REPLY_SEQ, 4, seq);
    put(f + ACIP_TRACE_REPLY_LENGTH, 4, n);
    put(f + ACIP_TRACE_REPLY_OFFSET, 8, offset);
    put(f + ACIP_TRACE_REPLY_TOTAL, 8, kept_trace_len);
    if (n)
        memcpy(f + ACIP_TRACE_REPLY_BYTES, kept_trace + offset, n);
    return finish(ACIP_MSG_HEADER_BYTES + ACIP_TRACE_REPLY_BYTES + n);
}

/* ---- RUN --------------------------------------------------------------------------- */

/* A RUN_RESULT for a run going on (state running) or remembered. */
static size_t result_reply(uint64_t request_id, const uint8_t *fields)
{
    uint8_t *f = begin(ACIP_T_RUN_RESULT, request_id, ACIP_RUN_RESULT_BYTES);
    memcpy(f, fields, ACIP_RUN_RESULT_BYTES);
    return finish(ACIP_MSG_HEADER_BYTES + ACIP_RUN_RESULT_BYTES);
}

static size_t running_reply(uint64_t request_id)
{
    uint8_t fields[ACIP_RUN_RESULT_BYTES] = {0};
    put(fields + ACIP_RUN_RESULT_SEQ, 4, run.seq);
    fields[ACIP_RUN_RESULT_STATE] = ACIP_RUN_RUNNING;
    put(fields + ACIP_RUN_RESULT_IMAGE_CRC32, 4, image_crc);
    put(fields + ACIP_RUN_RESULT_IMAGE_BYTES, 4, image_len);
    return result_reply(request_id, fields);
}

static int add_waiter(const svc_peer *from, client *c, uint64_t request_id, uint32_t wait_ms)
{
    if (waiter_count == MAX_WAITERS)
        return -1;
    waiter *w = &waiters[waiter_count++];
    w->peer = *from;
    snprintf(w->who, sizeof w->who, "%s", c->key);
    w->request_id = request_id;
    w->request_crc = request_crc;
    w->deadline = cfg.now_ns(cfg.user) + (uint64_t)wait_ms * 1000000u;
    return 0;
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t svc_monotonic_ns(void)
{
    return monotonic_ns();
}

/* Sleep until CLOCK_MONOTONIC reaches `due`, in slices of at most 10 ms, sooner when
 * *stop is set. */
static void sleep_until(uint64_t due, atomic_int *stop)
{
    for (uint64_t now = monotonic_ns(); now < due && !atomic_load(stop); now = monotonic_ns()) {
        uint64_t ns = due - now < 10000000u ? due - now : 10000000u;
        struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
        nanosleep(&ts, 0);
    }
}

static void trace_event(void *user, const aci_event *ev)
{
    (void)user;
    switch (ev->kind) {
    case ACI_EV_TASK_START:
    case ACI_EV_PR_START:
        if (ev->slot < ACI_MAX_SLOTS)
            run.started[ev->kind == ACI_EV_PR_START][ev->slot] = ev->t;
        break;
    case ACI_EV_TASK_END:
    case ACI_EV_PR_END:
        if (ev->slot < ACI_MAX_SLOTS) {
            int pr = ev->kind == ACI_EV_PR_END;
            uint64_t span = ev->t - run.started[pr][ev->slot];
            *(pr ? &run.reconf[ev->slot] : &run.busy[ev->slot]) += span;
            if (pr)
                run.pr_ns += span;
            else
                atomic_fetch_add(&live_progress, 1);
            atomic_fetch_add(&live_slot_done[ev->slot], 1);
        }
        break;
    default:
        break;
    }
    if (run.keep_trace && !run.trace_full) {
        char line[TRACE_LINE_MAX];
        size_t n = trace_json(ev, line);
        if (run.trace_len + n > cfg.max_trace_bytes) {
            run.trace_full = 1;
        } else {
            if (run.trace_len + n > run.trace_cap) {
                size_t cap = run.trace_cap ? run.trace_cap * 2 : 1 << 16;
                while (cap < run.trace_len + n)
                    cap *= 2;
                uint8_t *grown = realloc(run.trace, cap);
                if (!grown) {
                    run.trace_full = 1;
                    return;
                }
                run.trace = grown;
                run.trace_cap = cap;
            }
            memcpy(run.trace + run.trace_len, line, n);
            run.trace_len += n;
        }
    }
    /* Pacing: the event happens no earlier than t * pace / 1000 after the start. */
    if (cfg.pace && !atomic_load(&stop_pacing)) {
        uint64_t due = run.wall_start + aci_muldiv_ceil(ev->t, cfg.pace, 1000);
        sleep_until(due, &stop_pacing);
    }
}

void svc_run_body(void)
{
    aci_run_opts opts = {run.mode, run.seq, trace_event, 0};
    board_functional(!run.timing_only);
    board_slow(cfg.slow_slots, cfg.slow_polls);
    run.wall_start = monotonic_ns();
    aci_run(&machine, &img, &opts, &run.res);
    run.wall_ns = monotonic_ns() - run.wall_start;
}

int svc_running(void)
{
    return running;
}

static void send_to_waiters(uint64_t only_expired_before, const uint8_t *fields,
                            int remembered_result)
{
    unsigned kept = 0;
    for (unsigned k = 0; k < waiter_count; k++) {
        waiter *w = &waiters[k];
        if (fields || w->deadline <= only_expired_before) {
            size_t n = fields ? result_reply(w->request_id, fields) : running_reply(w->request_id);
            if (remembered_result) {
                request_crc = w->request_crc;
                remember(client_of(w->who), w->request_id, out, n);
            }
            cfg.send(cfg.user, &w->peer, out, n);
        } else {
            waiters[kept++] = *w;
        }
    }
    waiter_count = kept;
}

uint64_t svc_expire(void)
{
    if (!waiter_count)
        return UINT64_MAX;
    uint64_t now = cfg.now_ns(cfg.user);
    send_to_waiters(now, 0, 0);
    uint64_t next = UINT64_MAX;
    for (unsigned k = 0; k < waiter_count; k++)
        if (waiters[k].deadline - now < next)
            next = waiters[k].deadline - now;
    return next;
}

static void record_result(run_record *rec, int reset)
{
    uint8_t *f = rec->fields;
    const aci_result *res = &run.res;
    memset(f, 0, ACIP_RUN_RESULT_BYTES);
    rec->seq = run.seq;
    put(f + ACIP_RUN_RESULT_SEQ, 4, run.seq);
    f[ACIP_RUN_RESULT_STATE] = reset             ? ACIP_RUN_RESET
                               : res->error_code ? ACIP_RUN_ERROR
                                                 : ACIP_RUN_DONE;
    put(f + ACIP_RUN_RESULT_IMAGE_CRC32, 4, image_crc);
    put(f + ACIP_RUN_RESULT_IMAGE_BYTES, 4, image_len);
    if (reset)
        return;
    f[ACIP_RUN_RESULT_MODE] =
        res->mode == ACI_MODE_DATAFLOW ? ACIP_MODE_DATAFLOW : ACIP_MODE_STRICT;
    f[ACIP_RUN_RESULT_TRACE_STATE] = !run.keep_trace  ? ACIP_TRACE_NONE
                                     : run.trace_full ? ACIP_TRACE_TOO_LARGE
                                                      : ACIP_TRACE_KEPT;
    put(f + ACIP_RUN_RESULT_ERROR_CODE, 4, res->error_code);
    put(f + ACIP_RUN_RESULT_ERROR_OFFSET, 4, res->error_offset);
    put(f + ACIP_RUN_RESULT_ERROR_T, 8, res->error_t);
    put(f + ACIP_RUN_RESULT_T0, 8, res->t0);
    put(f + ACIP_RUN_RESULT_T_END, 8, res->t_end);
    put(f + ACIP_RUN_RESULT_TOTAL_NS, 8, res->total_ns);
    put(f + ACIP_RUN_RESULT_TASKS, 8, res->tasks);
    put(f + ACIP_RUN_RESULT_PRS, 8, res->prs);
    put(f + ACIP_RUN_RESULT_PR_NS, 8, run.pr_ns);
    put(f + ACIP_RUN_RESULT_OPERATIONS, 8, res->operations);
    put(f + ACIP_RUN_RESULT_TRACE_BYTES, 8, run.keep_trace && !run.trace_full ? run.trace_len : 0);
    put(f + ACIP_RUN_RESULT_WALL_NS, 8, run.wall_ns);
    for (unsigned s = 0; s < ACI_MAX_SLOTS; s++) {
        put(f + ACIP_RUN_RESULT_BUSY_NS0 + 8 * s, 8, run.busy[s]);
        put(f + ACIP_RUN_RESULT_RECONF_NS0 + 8 * s, 8, run.reconf[s]);
    }
    put_sync(f + ACIP_RUN_RESULT_SYNC_DOORBELL, &res->sync);
    if (!res->error_code)
        return;
    /* The error's words: their template and its arguments, as acifw-sim prints them. */
    run_error_args a;
    run_error_args_of(&img, &machine, res, &a);
    if (a.id < 0)
        return;
    f[ACIP_RUN_RESULT_MESSAGE] = (uint8_t)(a.id + 1);
    f[ACIP_RUN_RESULT_MSG_SLOT] = (uint8_t)a.slot;
    f[ACIP_RUN_RESULT_MSG_PARAMS_COUNT] = (uint8_t)a.params_count;
    f[ACIP_RUN_RESULT_MSG_LENGTHS_COUNT] = (uint8_t)a.lengths_count;
    put(f + ACIP_RUN_RESULT_MSG_CORE_ID, 2, a.core_id);
    put(f + ACIP_RUN_RESULT_MSG_HELD_ID, 2, a.held_id);
    put(f + ACIP_RUN_RESULT_MSG_DURATION_NS, 8, a.duration_ns);
    put(f + ACIP_RUN_RESULT_MSG_WATCHDOG_NS, 8, a.watchdog_ns);
    put(f + ACIP_RUN_RESULT_MSG_HANG_NS, 8, a.hang_ns);
    for (unsigned k = 0; k < a.params_count; k++)
        put(f + ACIP_RUN_RESULT_MSG_PARAMS0 + 4 * k, 4, a.params[k]);
    for (unsigned k = 0; k < a.lengths_count; k++)
        put(f + ACIP_RUN_RESULT_MSG_LENGTHS0 + 4 * k, 4, a.lengths[k]);
}

/* The run ended (or was stopped by RESET: `reset`). */
static void end_run(int reset)
{
    run_record *rec = &runs[runs_next];
    runs_next = (runs_next + 1) % ACIP_REMEMBERED_RUNS;
    record_result(rec, reset);
    running = 0;
    last_seq = run.seq;
    if (!reset) {
        last_sync = run.res.sync;
        if (run.keep_trace && !run.trace_full) {
            free(kept_trace);
            kept_trace = run.trace;
            kept_trace_len = run.trace_len;
            kept_trace_seq = run.seq;
            run.trace = 0;
            run.trace_cap = 0;
        }
    }
    send_to_waiters(0, rec->fields, 1);
}

void svc_run_done(void)
{
    if (running)
        end_run(0);
}

static size_t do_run(const request *r, client *c, const svc_peer *from)
{
    uint32_t seq = GET32(r->f + ACIP_RUN_SEQ), wait = GET32(r->f + ACIP_RUN_WAIT_MS);
    if (running && seq == run.seq) {
        if (!wait || add_waiter(from, c, r->id, wait))
            return running_reply(r->id);
        return 0;
    }
    const run_record *rec = run_of(seq);
    if (rec) {
        size_t n = result_reply(r->id, rec->fields);
        remember(c, r->id, out, n);
        return n;
    }
    if (r->id <= c->floor)
        return fail(r->id, ACIP_ERR_STALE_REQUEST, 0, 0,
                    "request %llu is not above this client's last (%llu) and not remembered",
                    (unsigned long long)r->id, (unsigned long long)c->floor);
    c->floor = r->id;
    size_t n;
    if (running)
        n = fail(r->id, ACIP_ERR_BUSY, 0, 0, "run %u is going on", run.seq);
    else if (seq <= highest_seq)
        n = fail(r->id, ACIP_ERR_STALE_SEQ, 0, 0,
                 "run %u is not above run %u, the last started in this epoch", seq, highest_seq);
    else if (!image)
        n = fail(r->id, ACIP_ERR_NO_IMAGE, 0, 0, "RUN: no image is loaded");
    else
        n = 0;
    if (n) {
        remember(c, r->id, out, n);
        return n;
    }
    /* The run starts. */
    if (cfg.log) {
        char line[128];
        snprintf(line, sizeof line, "run %u started in epoch %016llx for %.40s", seq,
                 (unsigned long long)epoch, c->key);
        cfg.log(cfg.user, line);
    }
    highest_seq = seq;
    free(run.trace);
    memset(&run, 0, sizeof run);
    run.seq = seq;
    unsigned mode = r->f[ACIP_RUN_MODE], flags = r->f[ACIP_RUN_FLAGS];
    run.mode = mode == ACIP_MODE_STRICT     ? ACI_MODE_STRICT
               : mode == ACIP_MODE_DATAFLOW ? ACI_MODE_DATAFLOW
                                            : ACI_MODE_DEFAULT;
    run.timing_only = !!(flags & ACIP_FLAG_TIMING_ONLY);
    run.keep_trace = !!(flags & ACIP_FLAG_TRACE);
    atomic_store(&stop_pacing, 0);
    atomic_store(&live_progress, 0);
    for (unsigned s = 0; s < ACI_MAX_SLOTS; s++)
        atomic_store(&live_slot_done[s], 0);
    running = 1;
    int waiting = wait && !add_waiter(from, c, r->id, wait);
    cfg.start_run(cfg.user); /* may end the run at once (inline), answering the waiter */
    if (waiting)
        return 0;
    if (!running) { /* ended already: its result, remembered */
        n = result_reply(r->id, run_of(seq)->fields);
        remember(c, r->id, out, n);
        return n;
    }
    return running_reply(r->id);
}

/* ---- RESET --------------------------------------------------------------------------- */

static size_t do_reset(const request *r)
{
    uint64_t old = epoch;
    if (running) {
        atomic_store(&stop_pacing, 1);
        cfg.stop_run(cfg.user); /* the worker has returned from svc_run_body */
        end_run(1);
    }
    new_epoch();
    uint8_t *f = begin(ACIP_T_RESET_REPLY, r->id, ACIP_RESET_REPLY_BYTES);
    put(f + ACIP_RESET_REPLY_OLD_EPOCH, 8, old);
    return finish(ACIP_MSG_HEADER_BYTES + ACIP_RESET_REPLY_BYTES);
}

/* ---- one request ----------------------------------------------------------------------- */

size_t svc_handle(const char *client_key, const svc_peer *from, const uint8_t *msg, size_t len,
                  const uint8_t **reply)
{
    request r;
    *reply = out;
    size_t n = check_request(msg, len, &r);
    if (n)
        return n;
    if (r.needs_epoch ? r.epoch != epoch : r.epoch && r.epoch != epoch)
        return fail(
            r.id, ACIP_ERR_STALE_EPOCH, 0, 0,
            "the request is for epoch %016llx, the board's is %016llx: it restarted or was reset",
            (unsigned long long)r.epoch, (unsigned long long)epoch);
    client *c = client_of(client_key);
    if (r.mutating) {
        request_crc = aci_crc32(0, msg, len);
        const remembered *m = recall(c, r.id);
        if (m && m->request_crc != request_crc)
            return fail(r.id, ACIP_ERR_STALE_REQUEST, 0, 0,
                        "request id %llu was used for another request (its reply is remembered)",
                        (unsigned long long)r.id);
        if (m) {
            memcpy(out, m->reply, m->length);
            return m->length;
        }
        if (r.type != ACIP_T_RUN && r.id <= c->floor)
            return fail(r.id, ACIP_ERR_STALE_REQUEST, 0, 0,
                        "request %llu is not above this client's last (%llu) and not remembered",
                        (unsigned long long)r.id, (unsigned long long)c->floor);
    }
    switch (r.type) {
    case ACIP_T_HELLO:
        return do_hello(&r, c);
    case ACIP_T_STATUS:
        return do_status(&r);
    case ACIP_T_TRACE:
        return do_trace(&r);
    case ACIP_T_RUN:
        return do_run(&r, c, from);
    default:
        break;
    }
    if (r.type == ACIP_T_READ)
        return running ? fail(r.id, ACIP_ERR_BUSY, 0, 0, "READ: run %u is going on", run.seq)
                       : do_read(&r);
    /* LOAD, WRITE, RESET: executed, and their reply remembered. */
    c->floor = r.id;
    if (r.type == ACIP_T_RESET) {
        n = do_reset(&r);
        /* the new epoch forgot every client: this one remembers its RESET */
        c = client_of(client_key);
        c->floor = r.id;
    } else if (running) {
        n = fail(r.id, ACIP_ERR_BUSY, 0, 0, "%s: run %u is going on",
                 r.type == ACIP_T_LOAD ? "LOAD" : "WRITE", run.seq);
    } else {
        n = r.type == ACIP_T_LOAD ? do_load(&r) : do_write(&r);
    }
    remember(c, r.id, out, n);
    return n;
}
