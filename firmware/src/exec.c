/* Stage: run a validated image (docs/execution.md, exactly).
 *
 * In: an aci_image from aci_validate, the mode, a trace callback. Out: the run's
 * figures, its SYNC words, and ACI_OK or the run-time error (wrong_core,
 * watchdog, no_model) that stopped it. Effects go through hal.h.
 *
 * The machine is a discrete-event simulation over independent servers: each slot
 * runs its operations one at a time in program order, the ICAP one
 * reconfiguration at a time. Because a slot runs in program order, the only
 * operation of a slot that can start next is its *head*: the first of its
 * operations not started yet. Each slot has a cursor that walks COMPUTE in
 * program order (loops and repeats unrolled) and stops at the slot's next
 * operation, counting the other slots' operations it passes (`before`, the
 * before(w) of docs/execution.md). A container without the cursor's slot is
 * skipped in one step from its summary (operations per slot, cached), so a cursor
 * never iterates loops that cannot hold its work.
 *
 * At each instant: operations ending now complete (program order); then, while
 * one can, the ready head with the smallest program index starts. Readiness:
 *   dataflow  a TASK's WAITs (slot w, lag L): done[w] >= before(w) - L;
 *   strict    the head's window instance is the one running (windows run one at
 *             a time), a TASK's PARSEC barrier (every operation before the PARSEC
 *             completed) and its thread predecessor completed.
 * Readiness only ever turns true (counters only grow), so it is cached.
 *
 * The executor trusts the validator: anything that breaks what it proved stops
 * the run with ACI_ERR_INTERNAL.
 */
#include "internal.h"
#include "hal.h"

enum { IN_THREAD = 1, HAS_PRED = 2, READY = 4, BARRIER_OK = 8 };

#define NO_HOLD 0xFFFFu

/* ---- small helpers --------------------------------------------------------------- */

/* Index of the lowest set bit (x != 0): slots are sets of bits. */
static inline unsigned lowest(uint32_t x)
{
#if defined(__GNUC__)
    return (unsigned)__builtin_ctz(x); /* one or two instructions, also on the Cortex-R5 */
#else
    unsigned k = 0;
    while (!(x >> k & 1))
        k++;
    return k;
#endif
}

static void emit(aci_machine *m, aci_event *ev)
{
    m->opts.trace(m->opts.trace_user, ev);
}

static void emit_simple(aci_machine *m, aci_event_kind kind, uint64_t t, uint32_t pc, unsigned slot,
                        const aci_core *core)
{
    aci_event ev;
    fill0(&ev, sizeof ev);
    ev.kind = kind;
    ev.t = t;
    ev.pc = pc;
    ev.slot = (uint8_t)slot;
    ev.core = core;
    emit(m, &ev);
}

/* The run stops: nothing more starts. The error event is written when the
 * simulation reaches its time (a watchdog's lies ahead): after the end events of
 * operations that complete up to then, before any later one. */
static void stop(aci_machine *m, uint32_t code, uint64_t t, uint32_t pc)
{
    m->stopped = 1;
    m->error_pending = 1;
    m->res->error_code = code;
    m->res->error_offset = pc;
    m->res->error_t = t;
}

static void write_error(aci_machine *m)
{
    m->error_pending = 0;
    if (m->opts.trace) {
        aci_event ev;
        fill0(&ev, sizeof ev);
        ev.kind = ACI_EV_ERROR;
        ev.t = m->res->error_t;
        ev.code = m->res->error_code;
        ev.pc = m->res->error_offset;
        emit(m, &ev);
    }
}

static const aci_core *core_of(aci_machine *m, uint32_t id)
{
    uint8_t k = m->img->core_index[id];
    return k == NO_CORE ? 0 : &m->img->cores[k];
}

/* ---- summaries: what a container holds, for cursors that skip it ------------------ */

static void scan(const aci_image *img, uint32_t pos, aci_summary *s)
{
    const uint8_t *d = img->data;
    struct {
        uint32_t end;
        uint64_t mult;
    } st[ACI_STACK_DEPTH + 1];
    unsigned sp = 0;
    for (unsigned w = 0; w < ACI_MAX_SLOTS; w++)
        s->counts[w] = 0;
    s->total = s->windows = 0;
    s->mask = 0;
    s->last_slot = 0;
    st[0].end = pos + ld32(d + pos + ACI_INSN_HEADER_LENGTH);
    st[0].mult = 1;
    uint32_t p = pos;
    for (;;) {
        if (p >= st[sp].end) {
            if (sp == 0)
                return;
            sp--;
            continue;
        }
        uint32_t op = d[p], len = ld32(d + p + ACI_INSN_HEADER_LENGTH);
        if (op == ACI_OP_TASK || op == ACI_OP_RECONF) {
            uint32_t slot = d[p + ACI_INSN_HEADER_BYTES] & (ACI_MAX_SLOTS - 1);
            s->counts[slot] += st[sp].mult;
            s->total += st[sp].mult;
            s->mask |= (uint16_t)(1u << slot);
            s->last_slot = (uint8_t)slot; /* every op runs in the last iteration: the last in bytes ends last */
            p += len;
            continue;
        }
        if (op == ACI_OP_WINDOW)
            s->windows += st[sp].mult;
        if (sp + 1 > ACI_STACK_DEPTH)
            return; /* deeper than the validator allows; advance() stops the run on it */
        uint64_t count = op == ACI_OP_LOOP || op == ACI_OP_REPEAT ? ld32(d + p + ACI_INSN_HEADER_BYTES) : 1;
        st[sp + 1].end = p + len;
        st[sp + 1].mult = sat_mul(st[sp].mult, count);
        sp++;
        p += ACI_INSN_HEADER_BYTES + insn_fields(op);
    }
}

static const aci_summary *summary(aci_machine *m, uint32_t pos)
{
    aci_summary *s = &m->summaries[(pos * 2654435761u) >> 16 & (ACI_CONFIG_SUMMARY_CACHE - 1)];
    if (s->key != pos) {
        scan(m->img, pos, s);
        s->key = pos;
    }
    return s;
}

/* ---- cursors ------------------------------------------------------------------- */

static void pass_op(aci_cursor *c, unsigned slot)
{
    c->before[slot]++;
    c->index++;
    if (c->flags & IN_THREAD) {
        c->pred_slot = (uint8_t)slot;
        c->pred_need = c->before[slot];
        c->flags |= HAS_PRED;
    }
}

/* Move the cursor of `slot` to its next operation (c->head), or to the end (0). */
static void advance(aci_machine *m, aci_cursor *c, unsigned slot)
{
    const uint8_t *d = m->img->data;
    unsigned slots = m->img->slots;
    while (c->depth) {
        aci_frame *f = &c->stack[c->depth - 1];
        if (f->next >= f->end) {
            if (++f->index < f->count) {
                f->next = f->body;
                c->idx[f->level] = f->index;
                continue;
            }
            if (f->op == ACI_OP_WINDOW)
                c->window++;
            if (f->op == ACI_OP_THREAD)
                c->flags &= (uint8_t)~(IN_THREAD | HAS_PRED);
            if (f->op == ACI_OP_LOOP || f->op == ACI_OP_REPEAT)
                c->levels--;
            c->depth--;
            continue;
        }
        uint32_t pos = f->next, op = d[pos];
        uint32_t len = ld32(d + pos + ACI_INSN_HEADER_LENGTH);
        f->next = pos + len;
        if (op == ACI_OP_TASK || op == ACI_OP_RECONF) {
            uint32_t s = d[pos + ACI_INSN_HEADER_BYTES];
            if (s == slot) {
                c->head = pos;
                c->head_op = (uint8_t)op;
                c->flags &= (uint8_t)~READY;
                return;
            }
            pass_op(c, s & (ACI_MAX_SLOTS - 1));
            continue;
        }
        const aci_summary *sum = summary(m, pos);
        if (!(sum->mask >> slot & 1)) {
            for (unsigned w = 0; w < slots; w++)
                c->before[w] += sum->counts[w];
            c->index += sum->total;
            c->window += sum->windows;
            if (c->flags & IN_THREAD && sum->total) {
                c->pred_slot = sum->last_slot;
                c->pred_need = c->before[sum->last_slot];
                c->flags |= HAS_PRED;
            }
            continue;
        }
        if (c->depth >= ACI_STACK_DEPTH || ((op == ACI_OP_LOOP || op == ACI_OP_REPEAT) &&
                                            c->levels > ACI_MAX_LOOP_DEPTH)) {
            stop(m, ACI_ERR_INTERNAL, m->t, pos); /* deeper than the validator allows */
            break;
        }
        aci_frame *k = &c->stack[c->depth++];
        k->body = k->next = pos + ACI_INSN_HEADER_BYTES + insn_fields(op);
        k->end = pos + len;
        k->index = 0;
        k->op = (uint8_t)op;
        k->count = 1;
        if (op == ACI_OP_LOOP || op == ACI_OP_REPEAT) {
            k->count = ld32(d + pos + ACI_INSN_HEADER_BYTES);
            k->level = c->levels;
            c->idx[c->levels++] = 0;
        }
        if (op == ACI_OP_PARSEC) {
            for (unsigned w = 0; w < slots; w++)
                c->barrier[w] = c->before[w];
            c->flags &= (uint8_t)~BARRIER_OK;
        }
        if (op == ACI_OP_THREAD)
            c->flags = (uint8_t)((c->flags | IN_THREAD) & ~HAS_PRED);
    }
    c->head = 0;
}

/* The slot's next operation; common case first: the next instruction of the
 * cursor's container is an operation of its slot (a loop body of tasks). */
static inline void next_head(aci_machine *m, aci_cursor *c, unsigned slot)
{
    aci_frame *f = &c->stack[c->depth - 1];
    if (f->next < f->end) {
        const uint8_t *p = m->img->data + f->next;
        if ((p[0] == ACI_OP_TASK || p[0] == ACI_OP_RECONF) && p[ACI_INSN_HEADER_BYTES] == slot) {
            c->head = f->next;
            c->head_op = p[0];
            c->flags &= (uint8_t)~READY;
            f->next += ld32(p + ACI_INSN_HEADER_LENGTH);
            return;
        }
    }
    advance(m, c, slot);
    if (!c->head)
        m->heads &= (uint16_t)~(1u << slot);
}

/* Where a TASK's WAIT records start: after its ports and their strides. */
static uint32_t waits_at(const uint8_t *d, uint32_t pos)
{
    const uint8_t *t = d + pos + ACI_INSN_HEADER_BYTES;
    return pos + ACI_INSN_HEADER_BYTES + ACI_TASK_BYTES +
           t[ACI_TASK_PORT_COUNT] * (ACI_PORT_BYTES + 8u * t[ACI_TASK_STRIDE_COUNT]);
}

static int ready(aci_machine *m, aci_cursor *c)
{
    if (c->flags & READY)
        return 1;
    if (m->strict) {
        if (c->window != m->window)
            return 0;
        if (c->head_op == ACI_OP_TASK) {
            if (!(c->flags & BARRIER_OK)) {
                for (unsigned w = 0; w < m->img->slots; w++)
                    if (m->done[w] < c->barrier[w])
                        return 0;
                c->flags |= BARRIER_OK;
            }
            if (c->flags & HAS_PRED && m->done[c->pred_slot] < c->pred_need)
                return 0;
        }
    } else if (c->head_op == ACI_OP_TASK) {
        const uint8_t *d = m->img->data;
        uint32_t n = d[c->head + ACI_INSN_HEADER_BYTES + ACI_TASK_WAIT_COUNT];
        const uint8_t *w = d + waits_at(d, c->head);
        for (uint32_t k = 0; k < n; k++, w += ACI_WAIT_BYTES) {
            unsigned s = w[ACI_WAIT_SLOT] & (ACI_MAX_SLOTS - 1);
            uint64_t lag = ld32(w + ACI_WAIT_LAG);
            if (c->before[s] > lag && m->done[s] < c->before[s] - lag)
                return 0;
        }
    }
    c->flags |= READY;
    return 1;
}

/* ---- strict mode: window instances, one at a time ------------------------------- */

/* The next window instance in program order (REPEATs unrolled) -> window_pc. */
static void next_window(aci_machine *m)
{
    const uint8_t *d = m->img->data;
    for (;;) {
        if (m->rep_count) {
            if (m->rep_next < m->rep_end) {
                m->window_pc = m->rep_next;
                m->rep_next += ld32(d + m->rep_next + ACI_INSN_HEADER_LENGTH);
                m->in_window = 1;
                return;
            }
            if (++m->rep_index < m->rep_count) {
                m->rep_next = m->rep_body;
                continue;
            }
            m->rep_count = 0;
        }
        if (m->top >= m->top_end) {
            m->in_window = 0;
            return;
        }
        uint32_t pos = m->top, len = ld32(d + pos + ACI_INSN_HEADER_LENGTH);
        m->top += len;
        if (d[pos] == ACI_OP_WINDOW) {
            m->window_pc = pos;
            m->in_window = 1;
            return;
        }
        m->rep_body = m->rep_next = pos + ACI_INSN_HEADER_BYTES + ACI_REPEAT_BYTES;
        m->rep_end = pos + len;
        m->rep_index = 0;
        /* An empty REPEAT holds no window instances, however large its count. */
        m->rep_count = m->rep_body < m->rep_end ? ld32(d + pos + ACI_INSN_HEADER_BYTES) : 0;
    }
}

static int window_done(aci_machine *m)
{
    if (m->busy)
        return 0;
    for (uint32_t heads = m->heads; heads; heads &= heads - 1)
        if (m->cursor[lowest(heads)].window <= m->window)
            return 0;
    return 1;
}

/* After completions: the running window may have ended, and the next ones begin
 * at once (an empty one ends as it begins). */
static void check_windows(aci_machine *m)
{
    while (m->in_window && window_done(m)) {
        if (m->opts.trace)
            emit_simple(m, ACI_EV_WINDOW_END, m->t, m->window_pc, 0, 0);
        m->window++;
        next_window(m);
        if (m->in_window && m->opts.trace)
            emit_simple(m, ACI_EV_WINDOW_START, m->t, m->window_pc, 0, 0);
    }
}

/* ---- starting and completing operations -------------------------------------- */

static uint64_t task_duration(aci_machine *m, uint32_t pos, const aci_core *core)
{
    unsigned k = (pos * 2654435761u) >> 16 & (ACI_CONFIG_DURATION_CACHE - 1); /* Knuth's multiplicative hash */
    if (m->duration_key[k] == pos)
        return m->duration_ns[k];
    const uint8_t *d = m->img->data, *t = d + pos + ACI_INSN_HEADER_BYTES;
    uint32_t ports = t[ACI_TASK_PORT_COUNT], step = ACI_PORT_BYTES + 8u * t[ACI_TASK_STRIDE_COUNT];
    const uint8_t *p = t + ACI_TASK_BYTES;
    uint64_t in = 0, out = 0;
    for (uint32_t j = 0; j < ports; j++, p += step) {
        if (core->port_dirs >> j & 1)
            out += ld32(p + ACI_PORT_LENGTH);
        else
            in += ld32(p + ACI_PORT_LENGTH);
    }
    uint64_t ns = aci_task_ns(&m->img->timing, ld16(t + ACI_TASK_PARAM_WORDS), ld32(t + ACI_TASK_CYCLES), in, out);
    m->duration_key[k] = pos;
    m->duration_ns[k] = ns;
    return ns;
}

static void occupy(aci_machine *m, unsigned s, aci_cursor *c, const aci_core *core, uint64_t dur, uint32_t op)
{
    m->run[s].end = m->t + dur;
    m->run[s].core = core;
    m->run[s].index = c->index;
    m->run[s].pc = c->head;
    m->run[s].op = (uint8_t)op;
    m->busy |= (uint16_t)(1u << s);
}

static void start_reconf(aci_machine *m, unsigned s, aci_cursor *c)
{
    const uint8_t *d = m->img->data;
    uint32_t id = d[c->head + ACI_INSN_HEADER_BYTES + ACI_RECONF_CORE];
    const aci_core *core = core_of(m, id);
    if (!core) {
        stop(m, ACI_ERR_INTERNAL, m->t, c->head);
        return;
    }
    if (m->holds[s] == id) {
        /* Skipped: the slot holds the core already; it counts, takes no time. */
        m->done[s]++;
        m->res->operations++;
        m->res->t_end = m->t;
    } else {
        m->holds[s] = (uint16_t)id;
        m->icap_busy = 1;
        occupy(m, s, c, core, core->pr_ns, ACI_OP_RECONF);
        m->res->prs++;
        hal_reconfigure(s, id, core->bitstream_addr, core->bitstream_size);
        if (m->opts.trace)
            emit_simple(m, ACI_EV_PR_START, m->t, c->head, s, core);
    }
    pass_op(c, s);
    next_head(m, c, s);
}

static void start_task(aci_machine *m, unsigned s, aci_cursor *c)
{
    const aci_image *img = m->img;
    const uint8_t *d = img->data, *t = d + c->head + ACI_INSN_HEADER_BYTES;
    uint32_t id = t[ACI_TASK_CORE];
    const aci_core *core = core_of(m, id);
    if (!core) {
        stop(m, ACI_ERR_INTERNAL, m->t, c->head);
        return;
    }
    if (m->holds[s] != id) {
        stop(m, ACI_ERR_WRONG_CORE, m->t, c->head);
        return;
    }
    uint64_t dur = task_duration(m, c->head, core);
    if (img->timing.watchdog_ns && dur > img->timing.watchdog_ns) {
        stop(m, ACI_ERR_WATCHDOG, m->t + img->timing.watchdog_ns, c->head);
        return;
    }
    /* Ports at this iteration: address + sum of stride * index over the counted
     * levels (REPEAT, LOOPs), outermost first, as the cursor keeps them. */
    const uint32_t *idx = c->idx;
    uint32_t strides = t[ACI_TASK_STRIDE_COUNT];
    if (strides != c->levels) {
        stop(m, ACI_ERR_INTERNAL, m->t, c->head);
        return;
    }
    aci_task_desc task;
    task.slot = (uint8_t)s;
    task.core = (uint8_t)id;
    task.port_count = core->port_count;
    task.port_dirs = core->port_dirs;
    task.param_words = core->param_words;
    /* Local copies: the image is read through byte pointers, which may alias anything. */
    uint64_t i0 = idx[0], i1 = idx[1], i2 = idx[2], i3 = idx[3], i4 = idx[4];
    const uint8_t *p = t + ACI_TASK_BYTES;
    uint32_t step = ACI_PORT_BYTES + 8u * strides;
    for (unsigned k = 0; k < core->port_count; k++, p += step) {
        const uint8_t *q = p + ACI_PORT_BYTES; /* the strides; in range: the validator checked the corners */
        uint64_t a = ld64(p + ACI_PORT_ADDRESS);
        switch (strides) {
        case 5: a += ld64(q + 32) * i4; /* fall through */
        case 4: a += ld64(q + 24) * i3; /* fall through */
        case 3: a += ld64(q + 16) * i2; /* fall through */
        case 2: a += ld64(q + 8) * i1;  /* fall through */
        case 1: a += ld64(q) * i0;      /* fall through */
        default: break;
        }
        task.ports[k].address = a;
        task.ports[k].length = ld32(p + ACI_PORT_LENGTH);
    }
    const uint8_t *words = d + img->param_off + 4u * ld32(t + ACI_TASK_PARAM_OFFSET);
    hal_pf_write(s, words, core->param_words);
    uint32_t rc = hal_task_start(&task);
    if (rc) {
        stop(m, rc, m->t, c->head);
        return;
    }
    occupy(m, s, c, core, dur, ACI_OP_TASK);
    m->res->tasks++;
    if (m->opts.trace) {
        aci_event ev;
        fill0(&ev, sizeof ev);
        ev.kind = ACI_EV_TASK_START;
        ev.t = m->t;
        ev.pc = c->head;
        ev.slot = (uint8_t)s;
        ev.core = core;
        ev.ports = task.ports;
        ev.port_count = core->port_count;
        ev.params = words;
        ev.param_words = core->param_words;
        emit(m, &ev);
    }
    pass_op(c, s);
    next_head(m, c, s);
}

/* Start ready operations, smallest program index first, until none can.
 * Starting an operation makes no other one ready (only completions do: a
 * skipped RECONF completes as it starts), so after a start only the heads found
 * ready (or not looked at) are considered again. */
static void start_ready(aci_machine *m)
{
    uint32_t consider = m->heads & ~m->busy;
    while (consider && !m->stopped) {
        unsigned best = ACI_MAX_SLOTS;
        uint64_t best_index = UINT64_MAX;
        uint32_t again = 0; /* ready, or not looked at: worth another look after this start */
        for (uint32_t left = consider; left; left &= left - 1) {
            unsigned s = lowest(left);
            aci_cursor *c = &m->cursor[s];
            if (c->index >= best_index) {
                again |= 1u << s;
                continue;
            }
            if (!ready(m, c))
                continue;
            if (c->head_op == ACI_OP_RECONF && m->icap_busy &&
                m->holds[s] != m->img->data[c->head + ACI_INSN_HEADER_BYTES + ACI_RECONF_CORE])
                continue; /* needs the ICAP; a skipped one does not */
            again |= 1u << s;
            best = s;
            best_index = c->index;
        }
        if (best == ACI_MAX_SLOTS)
            return;
        aci_cursor *c = &m->cursor[best];
        consider = again & ~(1u << best);
        if (c->head_op == ACI_OP_RECONF) {
            uint64_t done = m->done[best];
            start_reconf(m, best, c);
            if (m->done[best] != done) { /* skipped: it completed, others may be ready now */
                if (m->strict && !m->busy)
                    check_windows(m);
                consider = m->heads & ~m->busy;
            }
        } else {
            start_task(m, best, c);
        }
    }
}

/* Wait until the hardware agrees the operation on `s` is over. */
static int hal_done(unsigned s)
{
    if (!hal_slot_busy(s))
        return 1;
    uint64_t since = hal_time_ns();
    while (hal_slot_busy(s))
        if (ACI_CONFIG_HANG_NS && hal_time_ns() - since > ACI_CONFIG_HANG_NS)
            return 0;
    return 1;
}

/* Every operation ending at m->t completes, in program order. */
static void complete(aci_machine *m)
{
    unsigned order[ACI_MAX_SLOTS], n = 0;
    for (uint32_t busy = m->busy; busy; busy &= busy - 1) {
        unsigned s = lowest(busy), k = n++;
        if (m->run[s].end != m->t) {
            n--;
            continue;
        }
        while (k && m->run[order[k - 1]].index > m->run[s].index) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = s;
    }
    for (unsigned k = 0; k < n; k++) {
        unsigned s = order[k];
        aci_running *r = &m->run[s];
        m->busy &= (uint16_t)~(1u << s);
        if (!hal_done(s)) {
            if (!m->stopped)
                stop(m, ACI_ERR_WATCHDOG, m->t, r->pc);
            continue; /* the hardware never finished: the run gives up on it */
        }
        if (m->opts.trace)
            emit_simple(m, r->op == ACI_OP_RECONF ? ACI_EV_PR_END : ACI_EV_TASK_END, m->t, r->pc, s, r->core);
        if (r->op == ACI_OP_RECONF)
            m->icap_busy = 0;
        else
            m->res->sync.progress++;
        m->done[s]++;
        m->res->operations++;
        m->res->t_end = m->t;
    }
}

/* ---- the run ------------------------------------------------------------------ */

static int resolve_mode(int mode, const aci_image *img)
{
    if (mode == ACI_MODE_DEFAULT)
        return img && img->flags & 1 ? ACI_MODE_DATAFLOW : ACI_MODE_STRICT;
    return mode;
}

static void finish_sync(aci_result *res, uint32_t doorbell, const uint64_t *done, unsigned slots)
{
    aci_sync *y = &res->sync;
    y->doorbell = doorbell;
    y->ack = doorbell;
    y->status = res->error_code ? ACI_STATUS_ERROR : ACI_STATUS_DONE;
    y->error_code = res->error_code;
    y->error_offset = res->error_offset;
    for (unsigned s = 0; s < ACI_MAX_SLOTS; s++)
        y->slot_done[s] = s < slots && done ? (uint32_t)done[s] : 0;
}

static void start_result(aci_result *res, int mode, size_t length)
{
    fill0(res, sizeof *res);
    res->mode = mode;
    res->image_bytes = (uint32_t)length;
}

static void emit_image(const aci_run_opts *opts, uint64_t t, size_t length, int mode)
{
    if (!opts->trace)
        return;
    aci_event ev;
    fill0(&ev, sizeof ev);
    ev.kind = ACI_EV_IMAGE;
    ev.t = t;
    ev.bytes = (uint32_t)length;
    ev.mode = mode;
    opts->trace(opts->trace_user, &ev);
}

void aci_refuse(size_t length, uint32_t code, uint32_t offset, const aci_run_opts *opts, aci_result *res)
{
    int mode = resolve_mode(opts->mode, 0);
    start_result(res, mode, length);
    res->error_code = code;
    res->error_offset = offset;
    emit_image(opts, 0, length, mode);
    if (opts->trace) {
        aci_event ev;
        fill0(&ev, sizeof ev);
        ev.kind = ACI_EV_ERROR;
        ev.code = code;
        ev.pc = offset;
        opts->trace(opts->trace_user, &ev);
    }
    finish_sync(res, opts->doorbell, 0, 0);
}

uint32_t aci_run(aci_machine *m, const aci_image *img, const aci_run_opts *opts, aci_result *res)
{
    int mode = resolve_mode(opts->mode, img);
    start_result(res, mode, img->length);
    m->img = img;
    m->opts = *opts;
    m->res = res;
    m->strict = mode == ACI_MODE_STRICT;
    m->stopped = m->icap_busy = m->error_pending = 0;
    m->busy = m->heads = 0;
    for (unsigned k = 0; k < ACI_CONFIG_SUMMARY_CACHE; k++)
        m->summaries[k].key = 0;
    for (unsigned k = 0; k < ACI_CONFIG_DURATION_CACHE; k++)
        m->duration_key[k] = 0;
    res->t0 = res->t_end = m->t = aci_image_transfer_ns(&img->timing, img->length);
    emit_image(opts, m->t, img->length, mode);
    for (unsigned s = 0; s < img->slots; s++) {
        aci_cursor *c = &m->cursor[s];
        m->done[s] = 0;
        m->holds[s] = NO_HOLD;
        m->run[s].op = 0;
        for (unsigned w = 0; w < ACI_MAX_SLOTS; w++)
            c->before[w] = c->barrier[w] = 0;
        c->index = c->window = c->pred_need = 0;
        c->flags = 0;
        c->pred_slot = 0;
        c->depth = 1;
        c->levels = 0;
        c->stack[0].body = c->stack[0].next = img->compute_off;
        c->stack[0].end = img->compute_off + img->compute_len;
        c->stack[0].count = 1;
        c->stack[0].index = 0;
        c->stack[0].op = 0;
        advance(m, c, s);
        if (c->head)
            m->heads |= (uint16_t)(1u << s);
    }
    m->window = 0;
    m->top = img->compute_off;
    m->top_end = img->compute_off + img->compute_len;
    m->rep_count = 0;
    m->in_window = 0;
    if (m->strict) {
        next_window(m);
        if (m->in_window && opts->trace)
            emit_simple(m, ACI_EV_WINDOW_START, m->t, m->window_pc, 0, 0);
        check_windows(m);
    }
    for (;;) {
        start_ready(m);
        uint64_t next = UINT64_MAX;
        for (uint32_t busy = m->busy; busy; busy &= busy - 1)
            if (m->run[lowest(busy)].end < next)
                next = m->run[lowest(busy)].end;
        if (m->error_pending && next > res->error_t)
            write_error(m);
        if (!m->busy)
            break;
        m->t = next;
        complete(m);
        if (m->strict && !m->stopped && !m->busy) /* a window ends only when nothing runs */
            check_windows(m);
    }
    if (!m->stopped && m->heads) { /* nothing can start, yet operations are left: a deadlock */
        stop(m, ACI_ERR_INTERNAL, m->t, m->cursor[lowest(m->heads)].head);
        write_error(m);
    }
    if (m->stopped) {
        res->total_ns = res->error_t;
    } else {
        res->total_ns = sat_add(res->t_end, img->timing.link_latency_ns);
        if (opts->trace) {
            aci_event ev;
            fill0(&ev, sizeof ev);
            ev.kind = ACI_EV_DONE;
            ev.t = res->total_ns;
            ev.tasks = res->tasks;
            ev.prs = res->prs;
            emit(m, &ev);
        }
    }
    finish_sync(res, opts->doorbell, m->done, img->slots);
    return res->error_code;
}

uint32_t aci_execute(aci_machine *m, const uint8_t *data, size_t length, const aci_hooks *hooks,
                     const aci_run_opts *opts, aci_image *img, aci_result *res)
{
    uint32_t offset;
    uint32_t code = aci_validate(data, length, hooks, img, &offset);
    if (code) {
        aci_refuse(length, code, offset, opts, res);
        return code;
    }
    return aci_run(m, img, opts, res);
}

void aci_sync_pack(const aci_sync *y, uint8_t out[ACI_SYNC_BYTES])
{
    uint32_t words[ACI_SYNC_BYTES / 4];
    fill0(words, sizeof words);
    words[ACI_SYNC_DOORBELL / 4] = y->doorbell;
    words[ACI_SYNC_ACK / 4] = y->ack;
    words[ACI_SYNC_STATUS / 4] = y->status;
    words[ACI_SYNC_ERROR_CODE / 4] = y->error_code;
    words[ACI_SYNC_ERROR_OFFSET / 4] = y->error_offset;
    words[ACI_SYNC_PROGRESS / 4] = (uint32_t)y->progress;
    words[ACI_SYNC_PROGRESS / 4 + 1] = (uint32_t)(y->progress >> 32);
    for (unsigned s = 0; s < ACI_MAX_SLOTS; s++)
        words[ACI_SYNC_SLOT_DONE0 / 4 + s] = y->slot_done[s];
    for (unsigned k = 0; k < ACI_SYNC_BYTES; k++)
        out[k] = (uint8_t)(words[k / 4] >> 8 * (k % 4));
}

const char *aci_error_name(uint32_t code)
{
    switch (code) {
#define NAME(c, n)                                                                                  \
    case c: return n;
        ACI_ERROR_NAMES(NAME)
#undef NAME
    default: return "internal";
    }
}
