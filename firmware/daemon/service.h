/* The board daemon's message handling (docs/protocol.md), apart from ZeroMQ: one
 * request's bytes in, its reply's bytes out (or a reply deferred until a run ends).
 * daemon/main.c puts it behind a ZeroMQ ROUTER socket and runs the runs on a worker
 * thread; daemon/fuzz.c feeds it libFuzzer's inputs and runs them inline.
 *
 * Every request is validated completely before anything changes; a refused request
 * changes nothing. The state (image, memory, remembered replies and runs, epoch) is
 * the main thread's; during a run the worker owns the board's memory and the HAL,
 * and the main thread reads only the atomic SYNC words it publishes.
 */
#ifndef ACI_DAEMON_SERVICE_H
#define ACI_DAEMON_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "aci_protocol.h"

/* Where a deferred reply goes: the ROUTER's routing id, and whether the request
 * came with a REQ socket's empty delimiter frame. */
#define SVC_PEER_MAX 256
typedef struct {
    uint8_t id[SVC_PEER_MAX];
    size_t id_len;
    int delimiter;
} svc_peer;

typedef struct {
    /* Send a reply to a peer (a deferred RUN_RESULT). */
    void (*send)(void *user, const svc_peer *to, const uint8_t *msg, size_t len);
    /* Start the prepared run: call svc_run_body() somewhere (a worker thread, or
     * inline), then svc_run_done() on the main thread. */
    void (*start_run)(void *user);
    /* Wait for the run started to return from svc_run_body (RESET; pacing is off by
     * then, so it ends soon); svc_run_done must then not be called for it. */
    void (*stop_run)(void *user);
    void *user;
    /* A fresh nonzero epoch (random in the daemon, a counter in the fuzzer). */
    uint64_t (*new_epoch)(void *user);
    /* Wall-clock ns, monotonic (svc_monotonic_ns in the daemon). */
    uint64_t (*now_ns)(void *user);
    uint64_t max_message_bytes; /* what ZMQ_MAXMSGSIZE lets in; reported in HELLO */
    uint64_t max_memory_bytes;  /* board memory backed for one image */
    uint64_t max_trace_bytes;   /* the largest trace kept */
    uint64_t
        max_operations; /* LOAD refuses an image whose run has more (0: no limit; the fuzzer's) */
    uint32_t pace;      /* wall-clock ns per 1000 simulated ns; 0: unpaced */
    /* The board's target (the --target file: TARGET_DESC then a TARGET section),
     * or NULL: any target. Checked by svc_init. */
    const uint8_t *target;
    size_t target_len;
    /* A line for the operator about what the board does (each run started), or NULL. */
    void (*log)(void *user, const char *line);
    /* Test hardware slower than the model, as acifw-sim --slow: before each run,
     * board_slow(slow_slots, slow_polls) (0: none). */
    uint32_t slow_slots, slow_polls;
} svc_config;

/* 0, or -1 with a message in svc_error (a bad target description, no memory). */
int svc_init(const svc_config *cfg);
void svc_free(void);
/* Forget everything as RESET does (no run may be going on): the fuzzer, between inputs. */
void svc_restart(void);
extern char svc_error[256];

/* Handle one request from `client` (its CURVE public key in Z85, "" without CURVE).
 * Returns the reply's length with *reply pointing at it (valid until the next call),
 * or 0 when the reply is deferred (a RUN waiting for its run; it goes through
 * cfg->send later). */
size_t svc_handle(const char *client, const svc_peer *from, const uint8_t *msg, size_t len,
                  const uint8_t **reply);

/* The run itself (worker thread): aci_run on the prepared image. */
void svc_run_body(void);
/* On the main thread once svc_run_body returned: remember the result, answer waiters. */
void svc_run_done(void);
/* Whether a run is going on (main thread). */
int svc_running(void);
/* Answer the RUN waiters whose wait is over; the ns until the next deadline
 * (UINT64_MAX: none). */
uint64_t svc_expire(void);
/* CLOCK_MONOTONIC in ns (what pacing uses). */
uint64_t svc_monotonic_ns(void);

#endif /* ACI_DAEMON_SERVICE_H */
