/* acifw-sim: the firmware core on a simulated board (a thin main over aci.h).
 *
 *   acifw-sim IMAGE [--mode strict|dataflow] [--timing-only] [--trace FILE]
 *             [--set BUF=FILE] [--get BUF=FILE] [--load ADDR=FILE] [--save ADDR:LEN=FILE]
 *             [--mem REGION=FILE] [--dump REGION=FILE] [--sync FILE] [--json] [--validate-only]
 *             [--slow SLOT[:POLLS]]... [--models LIB.so]...
 *
 * Validates IMAGE, backs the memory it touches, loads the inputs, runs it and
 * writes the outputs (only after a completed run) and the trace (always). Exit
 * 0: the run completed; 1: the image was refused or the run stopped with an
 * error (named on stderr with its code and offset), or a simulator limit; 2: a
 * usage error (bad flag, unreadable or unwritable file, data that does not fit).
 * firmware/README.md describes every flag.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aci.h"
#include "aci_messages.h"
#include "board.h"
#include "errwords.h"
#include "hal.h"
#include "models.h"
#include "plugins.h"
#include "trace_json.h"

/* Backing the simulator gives one image at most (allocated on first touch). */
#define MAX_BACKING  ((uint64_t)8 << 30)
#define MAX_REQUESTS 64

typedef enum { SET, GET, LOAD, SAVE, MEM, DUMP } request_kind;

typedef struct {
    request_kind kind;
    char name[40]; /* buffer (up to 32 bytes) or region (up to 16) */
    const char *path;
    uint64_t address, length;
} request;

static const char *prog = "acifw-sim";
/* The image and the executor's work area: file scope, so an early exit leaves
 * them reachable, not leaked. */
static uint8_t *image_bytes;
static aci_work *work;

static int usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fprintf(
        stderr,
        "\nusage: %s IMAGE [--mode strict|dataflow] [--timing-only] [--trace FILE]\n"
        "       [--set BUF=FILE] [--get BUF=FILE] [--load ADDR=FILE] [--save ADDR:LEN=FILE]\n"
        "       [--mem REGION=FILE] [--dump REGION=FILE] [--sync FILE] [--json] [--validate-only]\n"
        "       [--slow SLOT[:POLLS]]... [--models LIB.so]...\n",
        prog);
    return 2;
}

static int parse_u64(const char *s, size_t n, uint64_t *v)
{
    char buf[32], *end;
    if (n == 0 || n >= sizeof buf || s[0] == '-' || s[0] == '+')
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    errno = 0;
    unsigned long long x = strtoull(buf, &end, 0);
    if (errno || *end)
        return -1;
    *v = x;
    return 0;
}

/* NAME=PATH, ADDR=PATH or ADDR:LEN=PATH. */
static int parse_request(request_kind kind, const char *arg, request *r)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return -1;
    r->kind = kind;
    r->path = eq + 1;
    if (kind == LOAD)
        return parse_u64(arg, (size_t)(eq - arg), &r->address);
    if (kind == SAVE) {
        const char *colon = memchr(arg, ':', (size_t)(eq - arg));
        if (!colon || parse_u64(arg, (size_t)(colon - arg), &r->address) ||
            parse_u64(colon + 1, (size_t)(eq - colon - 1), &r->length) || r->length == 0)
            return -1;
        return 0;
    }
    size_t n = (size_t)(eq - arg);
    if (n >= sizeof r->name)
        return -1;
    memcpy(r->name, arg, n);
    r->name[n] = 0;
    return 0;
}

static uint8_t *read_file(const char *path, size_t *length)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t cap = 1 << 16, n = 0;
    uint8_t *data = malloc(cap);
    while (data) {
        n += fread(data + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *grown = cap > SIZE_MAX / 2 ? 0 : realloc(data, cap *= 2);
        if (!grown)
            free(data);
        data = grown;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(data);
        return 0;
    }
    *length = n;
    return data ? data : malloc(1);
}

static int write_file(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t done = n ? fwrite(data, 1, n, f) : 0;
    return fclose(f) || done != n ? -1 : 0;
}

static void write_line(void *user, const aci_event *ev)
{
    char line[TRACE_LINE_MAX];
    size_t n = trace_json(ev, line);
    fwrite(line, 1, n, (FILE *)user);
}

/* The words of a run-time error (errwords.c: aci_messages.h, the Python engine's words). */
static void run_error_detail(const aci_image *img, const aci_machine *m, const aci_result *r,
                             char *buf, size_t n)
{
    run_error_args a;
    run_error_args_of(img, m, r, &a);
    run_error_words(img, &a, buf, n);
}

/* s as a JSON string (core names may hold quotes and backslashes). */
static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            putchar('\\');
        putchar(*s);
    }
    putchar('"');
}

static void print_json(const aci_result *r, const char *detail)
{
    printf("{\"error\":");
    if (r->error_code) {
        printf("{\"code\":%u,\"detail\":", r->error_code);
        print_json_string(detail);
        printf(",\"name\":\"%s\",\"offset\":%u,\"t\":%llu}", aci_error_name(r->error_code),
               r->error_offset, (unsigned long long)r->error_t);
    } else
        printf("null");
    printf(",\"image_bytes\":%u,\"mode\":\"%s\",\"operations\":%llu,\"prs\":%llu", r->image_bytes,
           trace_mode_name(r->mode), (unsigned long long)r->operations, (unsigned long long)r->prs);
    const aci_sync *y = &r->sync;
    printf(
        ",\"sync\":{\"doorbell\":%u,\"ack\":%u,\"status\":%u,\"error_code\":%u,\"error_offset\":%u,"
        "\"progress\":%llu",
        y->doorbell, y->ack, y->status, y->error_code, y->error_offset,
        (unsigned long long)y->progress);
    for (unsigned s = 0; s < ACI_MAX_SLOTS; s++)
        printf(",\"slot_done%u\":%u", s, y->slot_done[s]);
    printf("},\"t0\":%llu,\"t_end\":%llu,\"tasks\":%llu,\"total_ns\":%llu}\n",
           (unsigned long long)r->t0, (unsigned long long)r->t_end, (unsigned long long)r->tasks,
           (unsigned long long)r->total_ns);
}

static int region_named(const aci_image *img, const char *name)
{
    size_t n = strlen(name);
    for (unsigned k = 0; k < img->memory_count; k++)
        if (n <= 16 && !memcmp(img->memories[k].name, name, n) &&
            (n == 16 || img->memories[k].name[n] == 0))
            return (int)k;
    return -1;
}

/* Where a request's bytes lie: address and length (for --set/--load/--mem, the
 * file's size). 0, or 2 after a message. */
static int locate(const aci_image *img, request *r, size_t file_size)
{
    if (r->kind == SET || r->kind == GET) {
        uint64_t size;
        if (board_buffer(img, r->name, &r->address, &size))
            return usage("no buffer `%s` in the image's SYMBOLS", r->name);
        if (r->kind == SET && file_size != size) {
            fprintf(stderr, "%s: `%s` holds %llu bytes; %s has %zu\n", prog, r->name,
                    (unsigned long long)size, r->path, file_size);
            return 2;
        }
        r->length = size;
        return 0;
    }
    if (r->kind == MEM || r->kind == DUMP) {
        int k = region_named(img, r->name);
        if (k < 0)
            return usage("no memory region `%s` in the image's TARGET", r->name);
        r->address = img->memories[k].base;
        if (r->kind == DUMP)
            return 0;
        r->length = file_size;
    }
    if (r->kind == LOAD)
        r->length = file_size;
    if (r->length && board_region(img, r->address, r->length) < 0) {
        fprintf(stderr, "%s: %s: bytes 0x%llx .. +%llu are outside every memory region\n", prog,
                r->path, (unsigned long long)r->address, (unsigned long long)r->length);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *image_path = 0, *trace_path = 0, *sync_path = 0;
    int mode = ACI_MODE_DEFAULT, timing_only = 0, json = 0, validate_only = 0;
    uint32_t slow_slots = 0,
             slow_polls = BOARD_NEVER; /* --slow: test hardware slower than the model */
    request req[MAX_REQUESTS];
    unsigned nreq = 0;
    static const struct {
        const char *flag;
        request_kind kind;
    } kinds[] = {{"--set", SET},   {"--get", GET}, {"--load", LOAD},
                 {"--save", SAVE}, {"--mem", MEM}, {"--dump", DUMP}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int value = i + 1 < argc;
        if (!strcmp(a, "--timing-only")) {
            timing_only = 1;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--validate-only")) {
            validate_only = 1;
        } else if (!strcmp(a, "--mode")) {
            if (!value)
                return usage("%s needs a value", a);
            const char *m = argv[++i];
            mode = ACI_MODE_DEFAULT;
#define PICK(v, n)                                                                                 \
    if (!strcmp(m, n))                                                                             \
        mode = v;
            ACI_MODE_NAMES(PICK)
#undef PICK
            if (mode == ACI_MODE_DEFAULT)
                return usage("--mode is strict or dataflow, not `%s`", m);
        } else if (!strcmp(a, "--slow")) {
            if (!value)
                return usage("%s needs a value", a);
            const char *v = argv[++i], *colon = strchr(v, ':');
            uint64_t slot, polls = BOARD_NEVER;
            if (parse_u64(v, colon ? (size_t)(colon - v) : strlen(v), &slot) ||
                slot >= ACI_MAX_SLOTS ||
                (colon &&
                 (parse_u64(colon + 1, strlen(colon + 1), &polls) || polls >= BOARD_NEVER)))
                return usage("--slow takes SLOT or SLOT:POLLS, not `%s`", v);
            slow_slots |= 1u << slot;
            slow_polls = (uint32_t)polls;
        } else if (!strcmp(a, "--models")) { /* a user's C models (include/aci_model.h) */
            char err[512];
            if (!value)
                return usage("%s needs a value", a);
            if (plugins_load(argv[++i], err, sizeof err)) {
                fprintf(stderr, "%s: %s\n", prog, err);
                return 2;
            }
        } else if (!strcmp(a, "--trace") || !strcmp(a, "--sync")) {
            if (!value)
                return usage("%s needs a value", a);
            *(a[2] == 't' ? &trace_path : &sync_path) = argv[++i];
        } else if (a[0] == '-' && a[1] == '-') {
            unsigned k = 0;
            while (k < sizeof kinds / sizeof kinds[0] && strcmp(a, kinds[k].flag))
                k++;
            if (k == sizeof kinds / sizeof kinds[0])
                return usage("unknown option %s", a);
            if (!value)
                return usage("%s needs a value", a);
            if (nreq == MAX_REQUESTS)
                return usage("more than 64 data options (at %s)", a);
            if (parse_request(kinds[k].kind, argv[++i], &req[nreq]))
                return usage("malformed value `%s` (see --help in firmware/README.md)", argv[i]);
            nreq++;
        } else if (!image_path) {
            image_path = a;
        } else {
            return usage("unexpected argument `%s`", a);
        }
    }
    if (!image_path)
        return usage("%s", "no image given");

    size_t length;
    image_bytes = read_file(image_path, &length);
    if (!image_bytes) {
        fprintf(stderr, "%s: cannot read %s: %s\n", prog, image_path, strerror(errno));
        return 2;
    }
    FILE *trace = 0;
    if (trace_path) {
        trace = fopen(trace_path, "wb");
        if (!trace) {
            fprintf(stderr, "%s: cannot write %s: %s\n", prog, trace_path, strerror(errno));
            return 2;
        }
        setvbuf(trace, 0, _IOFBF, 1 << 20);
    }
    aci_run_opts opts = {mode, 1, trace ? write_line : 0, trace};
    static aci_image img;
    static aci_machine machine;
    aci_result res;
    static char detail[512]; /* a run-time error's words; empty for a refused image */

    board_reset(!timing_only);
    int span_failed = 0;
    size_t scratch_words = length / 12 + 1; /* every SYMBOLS record is at least 12 bytes */
    uint32_t *scratch = malloc(scratch_words * sizeof *scratch);
    aci_hooks hooks = {board_port_span, &span_failed, scratch, scratch ? scratch_words : 0};
    uint32_t offset, code = aci_validate(image_bytes, length, &hooks, &img, &offset);
    free(scratch);
    int status = 0;
    if (code) {
        aci_refuse(length, code, offset, &opts, &res);
        fprintf(stderr, "%s: invalid image %s: %s (code %u) at offset %u\n", prog, image_path,
                aci_error_name(code), code, offset);
        status = 1;
        goto out;
    }
    if (validate_only) {
        if (json)
            printf("{\"error\":null,\"operations\":%llu}\n", (unsigned long long)img.operations);
        if (trace)
            fclose(trace); /* nothing ran: an empty trace */
        free(image_bytes);
        return 0;
    }
    for (unsigned k = 0; k < nreq; k++) {
        size_t size = 0;
        if (req[k].kind == SET || req[k].kind == LOAD || req[k].kind == MEM) {
            FILE *f = fopen(req[k].path, "rb");
            long end = f && !fseek(f, 0, SEEK_END) ? ftell(f) : -1;
            if (f)
                fclose(f);
            if (end < 0) {
                fprintf(stderr, "%s: cannot read %s\n", prog, req[k].path);
                return 2;
            }
            size = (size_t)end;
        }
        if ((status = locate(&img, &req[k], size)))
            return status;
        if (req[k].length && req[k].kind != DUMP &&
            board_add_span(req[k].address, req[k].address + req[k].length - 1))
            span_failed = 1;
    }
    if (span_failed || board_build(&img, MAX_BACKING)) {
        fprintf(stderr, "%s: %s\n", prog, span_failed ? "out of memory" : board_error);
        return 1;
    }
    if (aci_load_init(&img)) { /* the image's initial memory, then the host's inputs over it */
        fprintf(stderr, "%s: cannot write the image's initial memory\n", prog);
        return 1;
    }
    for (unsigned k = 0; k < nreq; k++) {
        request *r = &req[k];
        if (r->kind != SET && r->kind != LOAD && r->kind != MEM)
            continue;
        size_t n;
        uint8_t *bytes = read_file(r->path, &n);
        if (!bytes || n != r->length || (n && hal_mem_write(r->address, bytes, n))) {
            fprintf(stderr, "%s: cannot load %s\n", prog, r->path);
            free(bytes);
            return 2;
        }
        free(bytes);
    }
    /* Exactly the work area this image needs (a board keeps a static one). */
    work = malloc(img.work_units * sizeof *work);
    if (!work) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 1;
    }
    plugins_bind(&img);
    aci_prepare(&machine, work, img.work_units, &img); /* a failure stops the run, as on a board */
    board_slow(slow_slots, slow_polls);
    code = aci_run(&machine, &img, &opts, &res);
    if (code) {
        run_error_detail(&img, &machine, &res, detail, sizeof detail);
        fprintf(stderr, "%s: run-time error: %s (code %u) at offset %u (t = %llu ns)%s%s\n", prog,
                aci_error_name(code), code, res.error_offset, (unsigned long long)res.error_t,
                detail[0] ? ": " : "", detail);
        status = 1;
        goto out;
    }
    for (unsigned k = 0; k < nreq; k++) {
        request *r = &req[k];
        if (r->kind != GET && r->kind != SAVE && r->kind != DUMP)
            continue;
        uint64_t n = r->length;
        if (r->kind == DUMP) {
            int any, mem = region_named(&img, r->name);
            uint64_t last = board_last_backed(&img, (unsigned)mem, &any);
            n = any ? last - r->address + 1 : 0;
        }
        uint8_t *bytes = n ? calloc(n, 1) : 0;
        if (n && !bytes) {
            fprintf(stderr, "%s: out of memory for %s\n", prog, r->path);
            return 1;
        }
        board_copy_out(r->address, n, bytes);
        if (write_file(r->path, bytes, n)) {
            fprintf(stderr, "%s: cannot write %s\n", prog, r->path);
            free(bytes);
            return 2;
        }
        free(bytes);
    }
out:
    if (trace && fclose(trace)) {
        fprintf(stderr, "%s: cannot write %s\n", prog, trace_path);
        return 2;
    }
    if (sync_path) {
        uint8_t words[ACI_SYNC_BYTES];
        aci_sync_pack(&res.sync, words);
        if (write_file(sync_path, words, sizeof words)) {
            fprintf(stderr, "%s: cannot write %s\n", prog, sync_path);
            return 2;
        }
    }
    if (json && validate_only)
        printf("{\"error\":{\"code\":%u,\"name\":\"%s\",\"offset\":%u}}\n", code,
               aci_error_name(code), offset);
    else if (json)
        print_json(&res, detail);
    free(image_bytes);
    free(work);
    board_reset(0);
    model_reset();
    plugins_unload();
    return status;
}
