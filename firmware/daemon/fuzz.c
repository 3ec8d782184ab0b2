/* libFuzzer harness over the board daemon's message handling (service.c), as the
 * daemon runs it but without sockets: an input is a session, a sequence of
 * requests, each [client: 1 byte][length: 4 bytes LE][message: length bytes] (a
 * short last record takes what is left). Each goes to svc_handle as from one of
 * four clients; runs go inline. Every reply, sent at once or deferred, must be a
 * well-formed message for the request's id (or id 0 when the request was too short
 * to have one), of the request's reply type or ERROR. Any crash, sanitizer report,
 * hang or ill-formed reply is a bug.
 *
 * The seeds are real sessions: every request the daemon tests send, recorded by the
 * daemons they start (acifw-board --record, firmware/Makefile's fuzz-daemon).
 */
#include <stdlib.h>
#include <string.h>

#include "service.h"

static const char *const clients[4] = {"", "0123456789012345678901234567890123456789",
                                       "abcdefghijabcdefghijabcdefghijabcdefghij", "k"};
static uint64_t expect_id;
static unsigned expect_type;
static int expect_known;
static uint64_t epoch_counter;

static uint64_t get(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < n; k++)
        v |= (uint64_t)p[k] << 8 * k;
    return v;
}

/* A reply as aci/protocol.py's unpack would accept it. */
static void check_reply(const uint8_t *m, size_t len, int deferred)
{
    if (len < ACIP_MSG_HEADER_BYTES || memcmp(m, ACIP_MAGIC, 4) ||
        get(m + ACIP_MSG_HEADER_LENGTH, 4) != len ||
        get(m + ACIP_MSG_HEADER_MAJOR, 2) != ACIP_VERSION_MAJOR ||
        get(m + ACIP_MSG_HEADER_RESERVED, 2))
        abort();
    unsigned type = (unsigned)get(m + ACIP_MSG_HEADER_TYPE, 2);
    if (type == ACIP_T_ERROR) {
        if (len < ACIP_MSG_HEADER_BYTES + ACIP_ERROR_BYTES ||
            get(m + ACIP_MSG_HEADER_BYTES + ACIP_ERROR_TEXT_BYTES, 4) !=
                len - ACIP_MSG_HEADER_BYTES - ACIP_ERROR_BYTES ||
            len - ACIP_MSG_HEADER_BYTES - ACIP_ERROR_BYTES > ACIP_MAX_TEXT_BYTES)
            abort();
        unsigned code = (unsigned)get(m + ACIP_MSG_HEADER_BYTES + ACIP_ERROR_CODE, 2);
        if (code < ACIP_ERR_MALFORMED || code > ACIP_ERR_INTERNAL || code == ACIP_ERR_INTERNAL)
            abort(); /* internal: a broken invariant of the daemon */
    } else if (type != (expect_type | 0x80u) || (deferred && type != ACIP_T_RUN_RESULT)) {
        abort();
    }
    if (!deferred && expect_known && get(m + ACIP_MSG_HEADER_REQUEST_ID, 8) != expect_id)
        abort();
}

static void send_reply(void *user, const svc_peer *to, const uint8_t *msg, size_t len)
{
    (void)user, (void)to;
    check_reply(msg, len, 1);
}

static void start_run(void *user)
{
    (void)user;
    svc_run_body();
    svc_run_done();
}

static void stop_run(void *user)
{
    (void)user;
}

static uint64_t new_epoch(void *user)
{
    (void)user;
    return ++epoch_counter;
}

static uint64_t now_ns(void *user)
{
    (void)user;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        svc_config cfg = {send_reply, start_run,  stop_run, 0,    new_epoch, now_ns,
                          1u << 20,   256u << 10, 1u << 20, 4000, 0,         0,
                          0,          0,          0,        0};
        if (svc_init(&cfg))
            abort();
        ready = 1;
    }
    svc_restart();
    svc_peer peer = {.id = {1}, .id_len = 1, .delimiter = 0};
    while (size) {
        unsigned who = data[0] & 3;
        size_t n = size >= 5 ? (size_t)get(data + 1, 4) : 0;
        size_t head = size >= 5 ? 5 : size;
        data += head;
        size -= head;
        if (n > size)
            n = size;
        expect_known = n >= ACIP_MSG_HEADER_BYTES;
        expect_id = expect_known ? get(data + ACIP_MSG_HEADER_REQUEST_ID, 8) : 0;
        expect_type = expect_known ? (unsigned)get(data + ACIP_MSG_HEADER_TYPE, 2) : 0;
        const uint8_t *reply;
        size_t len = svc_handle(clients[who], &peer, data, n, &reply);
        if (len)
            check_reply(reply, len, 0);
        data += n;
        size -= n;
    }
    return 0;
}
