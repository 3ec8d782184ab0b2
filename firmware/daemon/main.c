/* acifw-board: the board daemon. The firmware core (validate, prepare, run) on the
 * simulated board's HAL, behind a ZeroMQ ROUTER socket speaking docs/protocol.md,
 * every connection authenticated with CURVE.
 *
 *   acifw-board --key SECRET_FILE --authorized-keys FILE [--bind ENDPOINT]
 *               [--pace FACTOR] [--target FILE] [--max-message BYTES]
 *               [--max-memory BYTES] [--max-trace BYTES] [--record FILE] [--slow SLOT[:POLLS]]...
 * [--models LIB.so]... acifw-board --insecure-loopback [--bind tcp://127.0.0.1:PORT] ...   (tests
 * only)
 *
 * It prints `listening ENDPOINT` (the port resolved when PORT is 0) on stdout once it
 * accepts connections, and runs until SIGINT or SIGTERM (exit 0). Exit 1: a key
 * file, target file or address it cannot use; 2: usage. firmware/README.md
 * describes every option.
 *
 * Threads: the main thread owns the sockets and the board's state and answers every
 * request (STATUS too while a run goes on); a run goes on a worker thread, which
 * tells the main thread through an eventfd when it returns. ZAP requests (inproc)
 * are answered by the main thread's poll loop as well.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <zmq.h>

#include "board.h"
#include "keys.h"
#include "plugins.h"
#include "service.h"

static const char *prog = "acifw-board";
static void *router;
static int done_fd = -1;
static pthread_t worker;
static int worker_active;
static const char *authorised_path;
static FILE *record; /* --record: every request, in the fuzzer's session format */

static int usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr,
            "\nusage: %s --key NAME --authorized-keys FILE [--bind ENDPOINT] [--pace FACTOR]\n"
            "       [--target FILE] [--max-message BYTES] [--max-memory BYTES] [--max-trace BYTES] "
            "[--record FILE]\n"
            "       [--slow SLOT[:POLLS]]... [--models LIB.so]...\n"
            "       %s --insecure-loopback [--bind tcp://127.0.0.1:PORT] ...   (tests only)\n",
            prog, prog);
    return 2;
}

static int parse_bytes(const char *s, uint64_t *v)
{
    char *end;
    if (!*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0);
    if (errno || *end || x == 0)
        return -1;
    *v = x;
    return 0;
}

/* --slow SLOT[:POLLS] (test hardware, as acifw-sim's): slot SLOT lags POLLS polls
 * behind the model, or never finishes. 0, or -1 when malformed. */
static int parse_slow(const char *v, uint32_t *slots, uint32_t *polls)
{
    char *end;
    if (*v < '0' || *v > '9')
        return -1;
    unsigned long slot = strtoul(v, &end, 10), n = BOARD_NEVER;
    if (*end == ':') {
        const char *p = end + 1;
        if (*p < '0' || *p > '9')
            return -1;
        n = strtoul(p, &end, 10);
        if (n >= BOARD_NEVER)
            return -1;
    }
    if (*end || slot >= ACI_MAX_SLOTS)
        return -1;
    *slots |= 1u << slot;
    *polls = (uint32_t)n;
    return 0;
}

/* ---- svc_config callbacks ------------------------------------------------------- */

static void send_reply(void *user, const svc_peer *to, const uint8_t *msg, size_t len)
{
    (void)user;
    /* A peer that went away loses its reply (ROUTER drops it): it asks again. */
    if (zmq_send(router, to->id, to->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return;
    if (to->delimiter && zmq_send(router, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return;
    zmq_send(router, msg, len, ZMQ_DONTWAIT);
}

/* The operator's log: stderr, a line at a time. */
static void log_line(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "%s: %s\n", prog, line);
}

static void *work_thread(void *arg)
{
    (void)arg;
    svc_run_body();
    uint64_t one = 1;
    if (write(done_fd, &one, sizeof one) != sizeof one)
        abort(); /* an eventfd write of 1 cannot fail */
    return 0;
}

static void start_run(void *user)
{
    (void)user;
    if (pthread_create(&worker, 0, work_thread, 0)) {
        /* No thread: the run goes on this one (STATUS waits for it). */
        svc_run_body();
        svc_run_done();
        return;
    }
    worker_active = 1;
}

static void join_worker(void)
{
    if (!worker_active)
        return;
    pthread_join(worker, 0);
    worker_active = 0;
    uint64_t n;
    if (read(done_fd, &n, sizeof n) < 0 && errno != EAGAIN)
        perror("acifw-board: eventfd");
}

static void stop_run(void *user)
{
    (void)user;
    join_worker();
}

static uint64_t new_epoch(void *user)
{
    (void)user;
    uint64_t e = 0;
    while (e == 0)
        if (getrandom(&e, sizeof e, 0) != sizeof e)
            e = svc_monotonic_ns() ^ (uint64_t)getpid() << 32;
    return e;
}

static uint64_t now_ns(void *user)
{
    (void)user;
    return svc_monotonic_ns();
}

/* ---- ZAP: who may connect --------------------------------------------------------- */

/* One ZAP request (RFC 27) on the REP socket: admit a CURVE client whose public key
 * the authorised-keys file lists (read anew each time, so keys can be added or
 * removed while the daemon runs); refuse everything else. */
static void answer_zap(void *zap)
{
    zmq_msg_t part[8];
    int n = 0, more = 1;
    while (more && n < 8) {
        zmq_msg_init(&part[n]);
        if (zmq_msg_recv(&part[n], zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part[n]);
            break;
        }
        more = zmq_msg_more(&part[n]);
        n++;
    }
    while (more) { /* more frames than a ZAP request has: drop them */
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        if (zmq_msg_recv(&extra, zap, 0) < 0)
            more = 0;
        else
            more = zmq_msg_more(&extra);
        zmq_msg_close(&extra);
    }
    const char *status = "400", *text = "not authorised";
    char z85[KEY_Z85 + 1] = "";
    if (n >= 7 && zmq_msg_size(&part[5]) == 5 && !memcmp(zmq_msg_data(&part[5]), "CURVE", 5) &&
        zmq_msg_size(&part[6]) == 32) {
        zmq_z85_encode(z85, zmq_msg_data(&part[6]), 32);
        int ok = key_authorised(authorised_path, z85);
        if (ok == 1)
            status = "200", text = "OK";
        else
            fprintf(stderr, "%s: refused client %s: %s\n", prog, z85,
                    ok < 0 ? "the authorised-keys file cannot be read"
                           : "its key is not authorised");
    } else {
        fprintf(stderr, "%s: refused a client without a CURVE key\n", prog);
    }
    const void *req_id = n >= 2 ? zmq_msg_data(&part[1]) : "";
    size_t req_id_len = n >= 2 ? zmq_msg_size(&part[1]) : 0;
    zmq_send(zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(zap, req_id, req_id_len, ZMQ_SNDMORE);
    zmq_send(zap, status, 3, ZMQ_SNDMORE);
    zmq_send(zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(zap, z85, status[0] == '2' ? KEY_Z85 : 0, ZMQ_SNDMORE); /* user id: the key */
    zmq_send(zap, "", 0, 0);
    for (int k = 0; k < n; k++)
        zmq_msg_close(&part[k]);
}

/* ---- requests -------------------------------------------------------------------------- */

/* Every message waiting on the ROUTER: [routing id] [empty delimiter]? [request]. */
static void serve(void)
{
    for (;;) {
        zmq_msg_t frame;
        svc_peer from = {.id_len = 0, .delimiter = 0};
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frame);
            return;
        }
        size_t n = zmq_msg_size(&frame);
        from.id_len = n < SVC_PEER_MAX ? n : SVC_PEER_MAX;
        memcpy(from.id, zmq_msg_data(&frame), from.id_len);
        int more = zmq_msg_more(&frame), frames = 0;
        zmq_msg_close(&frame);
        zmq_msg_t body;
        zmq_msg_init(&body);
        int have = 0;
        while (more) {
            zmq_msg_t part;
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, router, 0) < 0) {
                zmq_msg_close(&part);
                break;
            }
            more = zmq_msg_more(&part);
            frames++;
            if (frames == 1 && zmq_msg_size(&part) == 0 && more) {
                from.delimiter = 1; /* a REQ socket's delimiter */
                zmq_msg_close(&part);
                continue;
            }
            if (!have) {
                zmq_msg_move(&body, &part);
                have = 1;
            } else {
                have = 2; /* more than one frame: malformed */
            }
            zmq_msg_close(&part);
        }
        const uint8_t *reply;
        size_t len;
        if (have == 1) {
            const char *key = zmq_msg_gets(&body, "User-Id");
            if (record) {
                size_t size = zmq_msg_size(&body);
                uint8_t head[5] = {key && *key ? 1 : 0, (uint8_t)size, (uint8_t)(size >> 8),
                                   (uint8_t)(size >> 16), (uint8_t)(size >> 24)};
                fwrite(head, 1, sizeof head, record);
                fwrite(zmq_msg_data(&body), 1, size, record);
                fflush(record);
            }
            len =
                svc_handle(key ? key : "", &from, zmq_msg_data(&body), zmq_msg_size(&body), &reply);
        } else {
            /* no request frame, or several: the same reply as for a short header */
            len = svc_handle("", &from, (const uint8_t *)"", 0, &reply);
        }
        zmq_msg_close(&body);
        if (len)
            send_reply(0, &from, reply, len);
    }
}

int main(int argc, char **argv)
{
    const char *bind = "tcp://*:7070", *key_path = 0, *target_path = 0;
    double pace = 0;
    int insecure = 0;
    uint32_t slow_slots = 0, slow_polls = 0;
    uint64_t max_message = (64u << 20) + 4096, max_memory = (uint64_t)1 << 30,
             max_trace = 256u << 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : 0;
        if (!strcmp(a, "--insecure-loopback")) {
            insecure = 1;
            continue;
        }
        if (!v)
            return a[0] == '-' ? usage("%s needs a value (or is unknown)", a)
                               : usage("unexpected argument `%s`", a);
        i++;
        if (!strcmp(a, "--bind"))
            bind = v;
        else if (!strcmp(a, "--key"))
            key_path = v;
        else if (!strcmp(a, "--authorized-keys"))
            authorised_path = v;
        else if (!strcmp(a, "--target"))
            target_path = v;
        else if (!strcmp(a, "--record")) {
            record = fopen(v, "ab");
            if (!record) {
                fprintf(stderr, "%s: cannot write %s: %s\n", prog, v, strerror(errno));
                return 1;
            }
        } else if (!strcmp(
                       a,
                       "--models")) { /* a user's C models (include/aci_model.h), as acifw-sim's */
            char err[512];
            if (plugins_load(v, err, sizeof err)) {
                fprintf(stderr, "%s: %s\n", prog, err);
                return 2;
            }
        } else if (!strcmp(a, "--slow")) {
            if (parse_slow(v, &slow_slots, &slow_polls))
                return usage("--slow takes SLOT or SLOT:POLLS, not `%s`", v);
        } else if (!strcmp(a, "--pace")) {
            char *end;
            pace = strtod(v, &end);
            if (*end || !(pace >= 0) || pace > 1e6)
                return usage(
                    "--pace takes a factor from 0 to 1e6 (wall-clock per simulated time), not `%s`",
                    v);
        } else if (!strcmp(a, "--max-message") || !strcmp(a, "--max-memory") ||
                   !strcmp(a, "--max-trace")) {
            uint64_t x;
            if (parse_bytes(v, &x))
                return usage("a positive byte count, not `%s`", v);
            int message = !strcmp(a, "--max-message");
            if (message && (x > ACIP_MAX_MESSAGE_BYTES || x < 4096))
                return usage("--max-message is 4096 .. the protocol's max_message_bytes, not %s",
                             v);
            *(message ? &max_message : !strcmp(a, "--max-memory") ? &max_memory : &max_trace) = x;
        } else
            return usage("unknown option %s", a);
    }
    if (insecure) {
        if (strncmp(bind, "tcp://127.0.0.1:", 16))
            return usage("--insecure-loopback binds only tcp://127.0.0.1:PORT, not `%s`", bind);
    } else if (!key_path || !authorised_path) {
        return usage("%s", "--key and --authorized-keys are required (CURVE on every connection)");
    }

    char server_secret[KEY_Z85 + 1], why[512], secret_path[4096];
    if (!insecure) {
        /* --key NAME: NAME.key_secret (as acic keygen NAME writes it), or NAME itself */
        snprintf(secret_path, sizeof secret_path, "%s.key_secret", key_path);
        if (access(secret_path, R_OK))
            snprintf(secret_path, sizeof secret_path, "%s", key_path);
        if (key_read(secret_path, server_secret, why, sizeof why)) {
            fprintf(stderr, "%s: %s\n", prog, why);
            return 1;
        }
        uint8_t raw[32];
        if (!zmq_z85_decode(raw, server_secret)) {
            fprintf(stderr, "%s: %s does not hold a Z85 key\n", prog, secret_path);
            return 1;
        }
        if (key_authorised(authorised_path, "") < 0) {
            fprintf(stderr, "%s: cannot read the authorised-keys file %s: %s\n", prog,
                    authorised_path, strerror(errno));
            return 1;
        }
    }
    uint8_t *target = 0;
    size_t target_len = 0;
    if (target_path) {
        FILE *f = fopen(target_path, "rb");
        target = malloc(ACIP_TARGET_DESC_BYTES + 4096);
        if (!f || !target) {
            fprintf(stderr, "%s: cannot read %s: %s\n", prog, target_path, strerror(errno));
            return 1;
        }
        target_len = fread(target, 1, ACIP_TARGET_DESC_BYTES + 4096, f);
        fclose(f);
    }

    svc_config cfg = {send_reply,
                      start_run,
                      stop_run,
                      0,
                      new_epoch,
                      now_ns,
                      max_message,
                      max_memory,
                      max_trace,
                      0,
                      (uint32_t)(pace * 1000 + 0.5),
                      target,
                      target_len,
                      log_line,
                      slow_slots,
                      slow_polls};
    if (svc_init(&cfg)) {
        fprintf(stderr, "%s: %s: %s\n", prog, target_path ? target_path : "start", svc_error);
        return 1;
    }
    /* SIGINT and SIGTERM arrive through a signalfd the poll loop watches: blocked in
     * every thread (ZeroMQ's own and the worker inherit the mask), so none of them
     * takes the signal while the main thread sleeps in zmq_poll. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, 0);
    signal(SIGPIPE, SIG_IGN);
    int signal_fd = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
    done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    void *ctx = zmq_ctx_new();
    if (done_fd < 0 || signal_fd < 0 || !ctx) {
        fprintf(stderr, "%s: cannot start: %s\n", prog, strerror(errno));
        return 1;
    }
    void *zap = 0;
    if (!insecure) {
        zap = zmq_socket(ctx, ZMQ_REP);
        if (!zap || zmq_bind(zap, "inproc://zeromq.zap.01")) {
            fprintf(stderr, "%s: cannot start the ZAP handler: %s\n", prog,
                    zmq_strerror(zmq_errno()));
            return 1;
        }
    }
    router = zmq_socket(ctx, ZMQ_ROUTER);
    int64_t maxmsg = (int64_t)max_message;
    int one = 1, zero = 0, handshake_ms = 1000, ivl = 1000, ttl = 3000;
    zmq_setsockopt(router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(router, ZMQ_HANDSHAKE_IVL, &handshake_ms, sizeof handshake_ms);
    zmq_setsockopt(router, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(router, ZMQ_HEARTBEAT_TIMEOUT, &ttl, sizeof ttl);
    zmq_setsockopt(router, ZMQ_HEARTBEAT_TTL, &ttl, sizeof ttl);
    if (!insecure) {
        zmq_setsockopt(router, ZMQ_CURVE_SERVER, &one, sizeof one);
        zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, server_secret, KEY_Z85 + 1);
        zmq_setsockopt(router, ZMQ_ZAP_DOMAIN, "acic", 4);
    }
    if (zmq_bind(router, bind)) {
        fprintf(stderr, "%s: cannot bind %s: %s\n", prog, bind, zmq_strerror(zmq_errno()));
        return 1;
    }
    char endpoint[256];
    size_t endpoint_len = sizeof endpoint;
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, endpoint, &endpoint_len);
    printf("listening %s\n", endpoint);
    fflush(stdout);

    for (;;) {
        zmq_pollitem_t items[4] = {{router, 0, ZMQ_POLLIN, 0},
                                   {0, done_fd, ZMQ_POLLIN, 0},
                                   {0, signal_fd, ZMQ_POLLIN, 0},
                                   {zap, 0, ZMQ_POLLIN, 0}};
        uint64_t next = svc_expire();
        long timeout = next == UINT64_MAX ? -1 : (long)(next / 1000000u) + 1;
        int rc = zmq_poll(items, zap ? 4 : 3, timeout);
        if (rc < 0) {
            if (zmq_errno() == EINTR)
                continue;
            fprintf(stderr, "%s: poll: %s\n", prog, zmq_strerror(zmq_errno()));
            break;
        }
        if (items[2].revents & ZMQ_POLLIN)
            break; /* SIGINT or SIGTERM */
        if (items[1].revents & ZMQ_POLLIN && worker_active) {
            join_worker();
            svc_run_done();
        }
        if (zap && items[3].revents & ZMQ_POLLIN)
            answer_zap(zap);
        if (items[0].revents & ZMQ_POLLIN)
            serve();
    }
    if (worker_active) {
        /* A run going on when the daemon is stopped is lost, as in a power cut. */
        fflush(stdout);
        _exit(0);
    }
    zmq_close(router);
    if (zap)
        zmq_close(zap);
    zmq_ctx_term(ctx);
    svc_free();
    free(target);
    close(done_fd);
    close(signal_fd);
    if (record)
        fclose(record);
    return 0;
}
