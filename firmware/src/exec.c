/* Stage 3: run a prepared image (docs/execution.md, exactly), as often as the host
 * asks. aci_run in: the image as aci_prepare (predecode.c) left it in the work area,
 * the mode, a trace callback; out: the run's figures, its SYNC words, and ACI_OK or
 * the run-time error (wrong_core, watchdog, no_model) that stopped it. Effects go
 * through hal.h; a run only reads the work area.
 *
 * The machine is a discrete-event simulation over independent servers: each slot
 * runs its operations one at a time in program order, the ICAP one
 * reconfiguration at a time. Because a slot runs in program order, the only
 * operation of a slot that can start next is its *head*: the first of its
 * operations not started yet.
 *
 * The chains (predecode.h) hold, per slot, its operations in program order with
 * their counters at iteration zero; a slot's *cursor* walks its chain with loops
 * unrolled, and gets the head's program index from one addition (its frames
 * accumulate the loops' share as they iterate) and a port's address from its
 * nonzero strides.
 *
 * At each instant: operations ending now complete (program order); then, while
 * one can, the ready head with the smallest program index starts. Readiness:
 *   dataflow  a TASK's WAITs (slot w, lag L): done[w] >= before(w) - L;
 *   strict    the head's window instance is the one running (windows run one at
 *             a time), a TASK's PARSEC barrier (every operation before the PARSEC
 *             completed) and its thread predecessor completed.
 * Readiness only ever turns true (counters only grow), so it is cached.
 *
 * The executor trusts the validator and the pre-decoder: a broken invariant the
 * pre-decoder found stops every run of the image with ACI_ERR_INTERNAL at its start.
 */
#include "predecode.h"
#include "hal.h"

#define NO_HOLD 0xFFFFu

_Static_assert(sizeof(aci_slot) == ACI_SLOT_BYTES,
               "a slot's state is ACI_SLOT_BYTES: indexing by a shift");

/* ---- small helpers --------------------------------------------------------------- */

/* COLD: out of the way of the hot path (traces, errors, window changes): kept out
 * of line, the per-task functions stay small (fewer registers saved, no event
 * structure on their stack); they run a few times per run, or only with a trace.
 * HOT: the per-task steps, inlined into the event loop, which is compiled once
 * per mode. A build for size (-Os, the Cortex-R5's) leaves inlining to the
 * compiler: one copy of each. */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#define COLD     __attribute__((cold, noinline))
#if defined(__OPTIMIZE_SIZE__)
#define HOT static inline
#else
#define HOT static inline __attribute__((always_inline))
#endif
#else
#define NOINLINE
#define COLD
#define HOT static inline
#endif

static void emit(aci_machine *m, aci_event *ev)
{
    m->opts.trace(m->opts.trace_user, ev);
}

COLD static void emit_simple(aci_machine *m, aci_event_kind kind, uint64_t t, uint32_t pc,
                             unsigned slot, const aci_core *core)
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
COLD static void stop(aci_machine *m, uint32_t code, uint64_t t, uint32_t pc)
{
    m->stopped = 1;
    m->error_pending = 1;
    m->res->error_code = code;
    m->res->error_offset = pc;
    m->res->error_t = t;
}

COLD static void write_error(aci_machine *m)
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

/* ---- readiness ------------------------------------------------------------------ */

/* The head of `slot` waits until slot p's counter (strict: 1 + the program index
 * of its last completion; dataflow: its completions) reaches `at`. */
HOT void wait_for(unsigned slot, aci_slot *p, uint64_t at)
{
    p->wait_on |= (uint16_t)(1u << slot);
    if (at < p->wake)
        p->wake = at;
}

/* Strict: operations completed so far (for PARSEC barriers, which are rare). */
static uint64_t completed(const aci_machine *m)
{
    uint64_t n = 0;
    for (unsigned s = 0; s < m->img->slots; s++)
        n += m->slot[s].done;
    return n;
}

/* Whether the head of `slot` (an idle slot) is ready; if not, it joins the set of
 * what it waits for, whose event puts it in m->check to be examined again
 * (readiness only ever turns true: counters only grow). */
HOT int ready(aci_machine *m, aci_slot *c, unsigned slot, int strict)
{
    if (strict) {
        /* A thread's operations run one after another in one window instance and
         * PARSEC: once its predecessor (program index - 1) completed, its window
         * and barrier held when the predecessor started, and still hold (that
         * window instance runs until this head has started). Its slot's
         * completions come in program order, so it completed once that slot's
         * head lies past it. */
        if (c->pred != NO_SLOT) {
            aci_slot *p = &m->slot[c->pred];
            if (p->index >= c->index)
                return 1;
            wait_for(slot, p, c->index);
            return 0;
        }
        if (c->window != m->window) {
            m->wait_window |= (uint16_t)(1u << slot);
            return 0;
        }
        /* The PARSEC barrier of a thread's first task, from completions in the
         * running window instance: until every operation before the PARSEC
         * completed, no operation of it or after it can have started (each waits
         * on this barrier or a later one), so the count reaches the operations
         * before the PARSEC exactly when they all completed. */
        if (c->head->entry.kind == ACI_OP_TASK &&
            completed(m) - m->window_base < c->head[U_STRICT].word[1]) {
            m->wait_any |= (uint16_t)(1u << slot);
            return 0;
        }
        return 1;
    }
    /* Each wait (slot w, lag L): done(w) >= before(w) - L, before(w) at this
     * iteration from the cursor's offsets. before(w) - L may be negative (met at
     * once); counts stay far below 2^63, so it is exact as a signed number. A
     * wait once met stays met: examine from the first one not known met. */
    const aci_work *x = c->head - 1;
    for (unsigned k = c->wait, n = c->head->entry.waits; k < n; k++) {
        unsigned ws = x[-(int)k].wait.slot;
        int64_t need = (int64_t)(x[-(int)k].wait.need + c->before[ws]);
        if (need > (int64_t)m->slot[ws].done) {
            c->wait = (uint8_t)k;
            wait_for(slot, &m->slot[ws], (uint64_t)need);
            return 0;
        }
    }
    return 1;
}

/* ---- cursors ------------------------------------------------------------------- */

/* The program index of the head of c. Strict keeps it (its readiness compares
 * it); dataflow needs it only to order several heads, so finds it then: the
 * cursor's offsets stay those of its head until the head completes. */
HOT uint64_t head_index(const aci_slot *c, int strict)
{
    return strict ? c->index : c->head[U_TIME].word[1] + c->ops;
}

/* The head of `slot` is now the operation whose record is w, at the cursor's
 * iteration: its program index, what its readiness needs, whether it is ready. */
HOT void set_head(aci_machine *m, aci_slot *c, unsigned slot, const aci_work *w, int strict)
{
    uint16_t bit = (uint16_t)(1u << slot);
    c->head = w;
    c->next = w->entry.next;
    if (strict) {
        c->index = w[U_TIME].word[1] + c->ops;
        if (w->entry.flags & F_OWN_PRED) {
            m->ready |= bit; /* in the window instance of the previous head: c->window */
            return;
        }
        /* Its thread predecessor's slot: the static one, or a loop's last when it
         * opens the loop's body past the first iteration (none: it opens its
         * thread). One on its own slot has completed (a slot's next head is found
         * when the slot is idle) and was the slot's previous head: the same
         * window instance, so c->window and in_window_heads hold. */
        unsigned pred = w[U_THREAD].thread.pred;
        for (unsigned k = 0; k < w->entry.chain; k++)
            if (c->stack[w[U_THREAD].thread.chain[k] & 15].index) {
                pred = w[U_THREAD].thread.chain[k] >> 4;
                break;
            }
        if (pred == slot) {
            m->ready |= bit;
            return;
        }
        c->window = w[U_STRICT].word[0] + c->windows;
        m->in_window_heads =
            (uint16_t)((m->in_window_heads & ~bit) | (c->window == m->window) << slot);
        c->pred = (uint8_t)pred;
    } else {
        if (!w->entry.waits) {
            m->ready |= bit;
            return;
        }
        c->wait = 0; /* (without waits, ready() checks none whatever it holds) */
    }
    if (ready(m, c, slot, strict))
        m->ready |= bit;
}

/* Level f of the cursor goes round (l: its loop record): one more iteration's
 * counts, and for waits those of the slots the loop holds. */
HOT void go_round(aci_slot *c, aci_frame *f, const aci_work *l, int strict)
{
    f->index++;
    c->ops += l[0].word[1];
    if (strict)
        c->windows += l[1].word[0];
    else
        for (uint32_t x = (uint32_t)l[1].word[1] & c->wait_slots; x; x &= x - 1)
            c->before[lowest(x)] += l[L_SLOTS + lowest(x) / 2].word[lowest(x) % 2];
}

/* The cursor of `slot` steps over loop entries to its next operation, or to the
 * end of its chain. */
static void advance_loops(aci_machine *m, aci_slot *c, unsigned slot, uint32_t e)
{
    const aci_work *work = m->work;
    for (;;) {
        const aci_work *w = &work[e];
        uint32_t kind = w->entry.kind;
        if (kind > E_END) {
            set_head(m, c, slot, w, m->strict);
            return;
        }
        if (kind == E_END) {
            aci_frame *f = &c->stack[c->depth - 1];
            const aci_work *l = &work[f->loop];
            if (f->index + 1 < f->count) {
                go_round(c, f, l, m->strict);
                e = f->body;
                continue;
            }
            /* Leaving the level takes back count - 1 iterations' counts: back to
             * iteration zero. */
            uint64_t back = f->count - 1;
            c->ops -= back * l[0].word[1];
            if (m->strict)
                c->windows -= back * l[1].word[0];
            else
                for (uint32_t x = (uint32_t)l[1].word[1] & c->wait_slots; x; x &= x - 1)
                    c->before[lowest(x)] -= back * l[L_SLOTS + lowest(x) / 2].word[lowest(x) % 2];
            c->depth--;
            e = w->entry.next;
            continue;
        }
        if (kind == E_BEGIN) {
            aci_frame *f = &c->stack[c->depth++]; /* the chain nests them as COMPUTE does */
            f->loop = w->entry.at;
            f->body = e = w->entry.next;
            f->index = 0;
            f->count = (uint32_t)work[f->loop].word[0];
            continue;
        }
        c->head = 0;
        c->index = UINT64_MAX; /* past all: its last operation completed */
        m->heads &= (uint16_t) ~(1u << slot);
        return;
    }
}

/* Move the cursor of `slot` to its next operation; common case first: the next
 * entry of its chain is one (a loop body of tasks). */
HOT void advance(aci_machine *m, aci_slot *c, unsigned slot, int strict)
{
    const aci_work *work = m->work, *w = &work[c->next];
    if (w->entry.kind > E_END) {
        set_head(m, c, slot, w, strict);
        return;
    }
    /* Next common: the loop around it goes round, and its body starts with an
     * operation of the slot. */
    aci_frame *f = w->entry.kind == E_END ? &c->stack[c->depth - 1] : 0; /* an end has a level */
    if (f && f->index + 1 < f->count && work[f->body].entry.kind > E_END) {
        go_round(c, f, &work[f->loop], strict);
        set_head(m, c, slot, &work[f->body], strict);
        return;
    }
    advance_loops(m, c, slot, c->next);
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

/* The running window instance is over when nothing runs and no head lies in it
 * (none lies in an earlier one: that one would not have ended). */
HOT int window_over(const aci_machine *m)
{
    return m->in_window && !m->busy && !(m->in_window_heads & m->heads);
}

/* It ended: the next ones begin at once (an empty one ends as it begins). */
COLD static void next_windows(aci_machine *m)
{
    while (window_over(m)) {
        if (m->opts.trace)
            emit_simple(m, ACI_EV_WINDOW_END, m->t, m->window_pc, 0, 0);
        m->window++;
        m->window_base = completed(m);
        m->check |= m->wait_window | m->wait_any;
        m->wait_window = m->wait_any = 0;
        m->in_window_heads = 0;
        for (uint32_t heads = m->heads; heads; heads &= heads - 1)
            if (m->slot[lowest(heads)].window == m->window)
                m->in_window_heads |= (uint16_t)(1u << lowest(heads));
        next_window(m);
        if (m->in_window && m->opts.trace)
            emit_simple(m, ACI_EV_WINDOW_START, m->t, m->window_pc, 0, 0);
    }
}

/* ---- starting and completing operations -------------------------------------- */

/* An operation of slot c (program index `index`) completes: the heads waiting for
 * its counter are examined again. */
HOT void count_done(aci_machine *m, aci_slot *c, uint64_t index, int strict)
{
    uint64_t done = ++c->done;
    /* No head waits here while wake is UINT64_MAX, which no counter reaches. */
    if ((strict ? index + 1 : done) >= c->wake) {
        /* Strict: heads wait here only for their thread predecessor; one alone
         * waited for exactly this counter, and is ready. */
        if (strict && !(c->wait_on & (c->wait_on - 1)))
            m->ready |= c->wait_on;
        else
            m->check |= c->wait_on;
        c->wait_on = 0;
        c->wake = UINT64_MAX;
    }
    if (strict && m->wait_any) { /* a PARSEC barrier counts every completion */
        m->check |= m->wait_any;
        m->wait_any = 0;
    }
}

/* Slot s starts its head, which runs for `dur` ns. The head stays the slot's
 * head until it completes: only then can the next one matter (a head starts only
 * on its idle slot), so that is when the cursor moves on. */
HOT void occupy(aci_machine *m, unsigned s, uint64_t dur)
{
    m->end[s] = m->t + dur;
    m->busy |= (uint16_t)(1u << s);
}

COLD static void start_reconf(aci_machine *m, aci_slot *c, unsigned s)
{
    const aci_work *w = c->head;
    uint32_t id = core_id(w);
    if (c->holds == id) {
        /* Skipped: the slot holds the core already; it completes now. */
        m->reconfs_done++;
        count_done(m, c, c->index, m->strict);
        m->t_end = m->t;
        advance(m, c, s, m->strict);
    } else {
        const aci_core *core = core_of(m->img, id);
        c->holds = (uint16_t)id;
        c->desc.core = (uint8_t)id;
        c->desc.port_count = core->port_count;
        c->desc.port_dirs = core->port_dirs;
        c->desc.param_words = core->param_words;
        m->icap_busy = 1;
        occupy(m, s, w[U_TIME].word[0]);
        m->prs++;
        hal_reconfigure(s, id, core->bitstream_addr, core->bitstream_size);
        if (m->opts.trace)
            emit_simple(m, ACI_EV_PR_START, m->t, w->entry.at, s, core);
    }
}

COLD static void trace_task_start(aci_machine *m, aci_slot *c, unsigned s, const aci_work *w)
{
    aci_event ev;
    const aci_core *core = core_of(m->img, core_id(w));
    fill0(&ev, sizeof ev);
    ev.kind = ACI_EV_TASK_START;
    ev.t = m->t;
    ev.pc = w->entry.at;
    ev.slot = (uint8_t)s;
    ev.core = core;
    ev.ports = c->desc.ports;
    ev.port_count = core->port_count;
    ev.params = c->desc.params;
    ev.param_words = core->param_words;
    emit(m, &ev);
}

/* A task does not start: its slot holds another core, it would outrun the
 * watchdog (which fires then), or the board cannot run it. */
COLD static void task_error(aci_machine *m, aci_slot *c, const aci_work *w, uint32_t rc)
{
    uint64_t t = m->t;
    if (!rc)
        rc = c->holds != core_id(w) ? ACI_ERR_WRONG_CORE : ACI_ERR_WATCHDOG;
    if (rc == ACI_ERR_WATCHDOG)
        t += m->img->timing.watchdog_ns;
    stop(m, rc, t, w->entry.at);
}

/* The head of c is a task that starts without more ado (see K_NO_START). */
HOT int startable(const aci_slot *c)
{
    return c->head->entry.key == c->holds;
}

/* Slot s starts its head, a startable() task. */
HOT void start_startable(aci_machine *m, aci_slot *c, unsigned s)
{
    const aci_work *w = c->head;
    /* The core's fields are the slot's (set by its reconfiguration); the ports at
     * this iteration: base + stride * index over the nonzero strides. */
    aci_region *ports = c->desc.ports;
    const aci_work *p = w + U_PORTS, *t = p + w->entry.ports;
    if (w->entry.ports == 4) { /* the usual core shape (x, w, t, y): no jump */
        ports[0] = p[0].port;
        ports[1] = p[1].port;
        ports[2] = p[2].port;
        ports[3] = p[3].port;
    } else if (w->entry.ports == 2) { /* (in, out) */
        ports[0] = p[0].port;
        ports[1] = p[1].port;
    } else {
        switch (w->entry.ports) { /* at most ACI_MAX_PORTS (8): unrolled */
        case 8:
            ports[7] = p[7].port; /* fall through */
        case 7:
            ports[6] = p[6].port; /* fall through */
        case 6:
            ports[5] = p[5].port; /* fall through */
        case 5:
            ports[4] = p[4].port; /* fall through */
        case 4:
            ports[3] = p[3].port; /* fall through */
        case 3:
            ports[2] = p[2].port; /* fall through */
        case 2:
            ports[1] = p[1].port; /* fall through */
        case 1:
            ports[0] = p[0].port; /* fall through */
        default:
            break;
        }
    }
    /* Byte offsets into the slot's state: a term is a multiply and an add. */
#define TERM(t)                                                                                    \
    (*(uint64_t *)((char *)c + (t)->term.address) +=                                               \
     (t)->term.stride * *(const uint32_t *)((const char *)c + (t)->term.index))
    uint32_t terms = w->entry.terms;
    if (!terms) {
        /* ports that stay put */
    } else if (terms == 2) { /* the usual strided task: its input and its output */
        TERM(t);
        TERM(t + 1);
    } else
        switch (terms) { /* up to four unrolled (sums mod 2^64: any order); more: a loop */
        case 4:
            TERM(t + 3); /* fall through */
        case 3:
            TERM(t + 2); /* fall through */
        case 2:
            TERM(t + 1); /* fall through */
        case 1:
            TERM(t); /* fall through */
        case 0:
            break;
        default:
            for (const aci_work *end = t + terms; t < end; t++)
                TERM(t);
            break;
        }
#undef TERM
    c->desc.params = w[U_THREAD].thread.params;
    uint32_t rc = hal_task_start(&c->desc);
    if (rc) {
        task_error(m, c, w, rc);
        return;
    }
    occupy(m, s, w[U_TIME].word[0]);
    if (m->opts.trace)
        trace_task_start(m, c, s, w);
}

/* Slot s starts its head, a task, or the run stops because it cannot. */
HOT void start_task(aci_machine *m, aci_slot *c, unsigned s)
{
    if (startable(c))
        start_startable(m, c, s);
    else
        task_error(m, c, c->head, ACI_OK);
}

/* A RECONF that needs the ICAP (one not skipped) cannot start while it is busy. */
HOT int icap_blocked(const aci_machine *m, const aci_slot *c)
{
    return c->head->entry.kind == ACI_OP_RECONF && m->icap_busy && c->holds != core_id(c->head);
}

/* Heads whose wait may be over are examined again (whatever their slot does:
 * readiness does not depend on it). */
static void examine(aci_machine *m, int strict)
{
    uint32_t x = m->check & m->heads;
    m->check = 0;
    for (; x; x &= x - 1)
        if (ready(m, &m->slot[lowest(x)], lowest(x), strict))
            m->ready |= (uint16_t)(1u << lowest(x));
}

/* The slots of `set` in program index order of their heads (a running operation
 * is its slot's head); returns how many. Taken by slot number first, which is
 * program order as a rule (threads come in slot order), so a pass checks it. */
HOT unsigned by_index(const aci_machine *m, uint32_t set, unsigned order[ACI_MAX_SLOTS], int strict)
{
    unsigned n = 0, sorted = 1;
    uint64_t prev = 0;
    for (; set; set &= set - 1, n++) {
        unsigned s = lowest(set);
        uint64_t index = head_index(&m->slot[s], strict);
        order[n] = s;
        sorted &= !n || prev < index;
        prev = index;
    }
    if (!sorted && n == 2) { /* the usual unsorted pair */
        unsigned s = order[0];
        order[0] = order[1];
        order[1] = s;
    } else if (!sorted) {
        uint64_t key[ACI_MAX_SLOTS];
        key[0] = head_index(&m->slot[order[0]], strict);
        for (unsigned i = 1; i < n; i++) {
            unsigned s = order[i], k = i;
            uint64_t index = head_index(&m->slot[s], strict);
            for (; k && key[k - 1] > index; k--) {
                key[k] = key[k - 1];
                order[k] = order[k - 1];
            }
            key[k] = index;
            order[k] = s;
        }
    }
    return n;
}

/* Start ready operations, smallest program index first, until none can. A head
 * starts only on its idle slot. Starting a task makes no other head ready or
 * startable (only completions do) and leaves the ICAP alone, so the heads that can
 * start now start in program index order; a RECONF (a skipped one completes at
 * once; one that is not takes the ICAP) ends the pass, and the next looks again. */
HOT void start_several(aci_machine *m, int strict)
{
    for (;;) {
        if (m->check)
            examine(m, strict);
        uint32_t x = m->ready;
        if (!x || m->stopped)
            return;
        /* Common in strict mode (threads finishing in step): every ready head a
         * task, in slot order (program order as a rule): they start in one pass
         * over the set. Dataflow's ready heads come out of slot order too often
         * for the check to pay. */
        if (!strict) {
            uint32_t rest = x & (x - 1);
            if (rest && !(rest & (rest - 1))) { /* two ready heads, the usual dataflow case */
                unsigned a = lowest(x), b = lowest(rest);
                aci_slot *ca = &m->slot[a], *cb = &m->slot[b];
                if (startable(ca) && startable(cb)) {
                    if (head_index(cb, 0) < head_index(ca, 0)) {
                        unsigned t = a;
                        a = b;
                        b = t;
                        aci_slot *tc = ca;
                        ca = cb;
                        cb = tc;
                    }
                    m->ready = 0;
                    start_startable(m, ca, a);
                    if (m->stopped) {
                        m->ready = (uint16_t)(1u << b);
                        return;
                    }
                    start_startable(m, cb, b);
                    return;
                }
            }
        }
        if (strict) {
            uint64_t prev = 0;
            uint32_t y = x;
            for (; y; y &= y - 1) {
                const aci_slot *c = &m->slot[lowest(y)];
                if (!startable(c) || (y != x && prev >= c->index))
                    break;
                prev = c->index;
            }
            if (!y) {
                m->ready = 0; /* starting a task makes no head ready */
                for (; x; x &= x - 1) {
                    start_startable(m, &m->slot[lowest(x)], lowest(x));
                    if (m->stopped) {
                        m->ready = (uint16_t)(x & (x - 1));
                        return;
                    }
                }
                return;
            }
        }
        unsigned order[ACI_MAX_SLOTS], n = by_index(m, x, order, strict), k = 0;
        uint32_t started = 0; /* leave the ready set: those started, in one store */
        for (; k < n; k++) {
            unsigned s = order[k];
            aci_slot *c = &m->slot[s];
            if (c->head->entry.kind == ACI_OP_TASK) {
                started |= 1u << s;
                start_task(m, c, s);
                if (m->stopped) {
                    m->ready &= (uint16_t)~started;
                    return;
                }
                continue;
            }
            if (icap_blocked(m, c)) {
                /* It needs the ICAP (a skipped one does not): ready again when
                 * the ICAP is free, out of the way of the tasks until then. */
                m->ready &= (uint16_t) ~(1u << s);
                m->wait_icap |= (uint16_t)(1u << s);
                continue;
            }
            m->ready &= (uint16_t) ~(started | 1u << s);
            started = 0;
            start_reconf(m, c, s);
            if (strict && window_over(m))
                next_windows(m); /* a skipped one completed: its window may be over */
            break;
        }
        m->ready &= (uint16_t)~started;
        if (k == n)
            return;
    }
}

/* The common case first: one task can start (and then nothing else can). */
HOT void start_ready(aci_machine *m, int strict)
{
    if (m->check)
        examine(m, strict);
    uint32_t x = m->ready; /* heads of idle slots only: heads are found when their slot is idle */
    if (!x || m->stopped)
        return;
    unsigned s = lowest(x);
    aci_slot *c = &m->slot[s];
    if (x & (x - 1) || !startable(c)) {
        start_several(m, strict);
        return;
    }
    m->ready = 0;
    start_startable(m, c, s);
}

COLD static void trace_end(aci_machine *m, unsigned s, const aci_work *w)
{
    emit_simple(m, w->entry.kind == ACI_OP_RECONF ? ACI_EV_PR_END : ACI_EV_TASK_END, m->t,
                w->entry.at, s, core_of(m->img, core_id(w)));
}

/* The operations of `late` (some of `ending`) are past their end in the timing
 * model, yet the hardware still runs them (a real board's may be slower than the
 * model; a simulator's never is): wait for them, up to ACI_CONFIG_HANG_NS of real
 * time. Those that never finish are given up on: they never count as done, and
 * the first of them in program order stops the run (watchdog). Returns the slots
 * of `ending` whose operations complete. */
COLD static uint32_t wait_late(aci_machine *m, uint32_t ending, uint32_t late)
{
    uint64_t since = hal_time_ns();
    while ((late = hal_slots_busy(late)))
        if (ACI_CONFIG_HANG_NS && hal_time_ns() - since > ACI_CONFIG_HANG_NS)
            break;
    if (!late)
        return ending;
    m->busy &= (uint16_t)~late;
    const aci_slot *first = 0;
    for (uint32_t x = late; x; x &= x - 1) {
        const aci_slot *c = &m->slot[lowest(x)];
        m->hung_tasks += c->head->entry.kind == ACI_OP_TASK; /* started, never completed */
        if (!first || head_index(c, m->strict) < head_index(first, m->strict))
            first = c;
    }
    if (!m->stopped)
        stop(m, ACI_ERR_WATCHDOG, m->t, first->head->entry.at);
    return ending & ~late;
}

/* The operation of slot s (its head) ends now and counts as done (the hardware
 * agreed); the slot's cursor moves on. */
HOT void complete_one(aci_machine *m, unsigned s, int strict)
{
    aci_slot *c = &m->slot[s];
    const aci_work *w = c->head;
    m->busy &= (uint16_t) ~(1u << s);
    if (m->opts.trace)
        trace_end(m, s, w);
    if (w->entry.kind == ACI_OP_RECONF) {
        m->icap_busy = 0;
        m->ready |= m->wait_icap;
        m->wait_icap = 0;
        m->reconfs_done++;
    }
    count_done(m, c, c->index, strict);
    advance(m, c, s, strict);
}

/* The operations of the slots `ending` end now and complete, in program order:
 * the order their end events are written in. Nothing else depends on it (each
 * completion only adds to counters), so without a trace they complete in slot
 * order. */
COLD static void complete_traced(aci_machine *m, uint32_t ending)
{
    unsigned order[ACI_MAX_SLOTS], n = by_index(m, ending, order, m->strict);
    for (unsigned k = 0; k < n; k++)
        complete_one(m, order[k], m->strict);
}

HOT void complete_many(aci_machine *m, uint32_t ending, int strict)
{
    if (m->opts.trace) {
        complete_traced(m, ending);
        return;
    }
    for (; ending; ending &= ending - 1)
        complete_one(m, lowest(ending), strict);
}

/* The discrete-event loop, one copy per mode (`strict` is a constant in each). */
HOT void simulate(aci_machine *m, int strict)
{
    for (;;) {
        start_ready(m, strict);
        uint32_t busy = m->busy;
        if (!busy) {
            if (m->error_pending)
                write_error(m);
            break;
        }
        /* The next end, and the slots whose operations end then: over the busy
         * slots, or, when every slot is busy (a pipeline in full swing), over
         * them all in order. */
        uint64_t next;
        uint32_t ending;
        if (busy == m->all_slots) {
            const uint64_t *end = m->end;
            next = end[0];
            ending = 1;
            for (unsigned k = 1, n = m->slots; k < n; k++) {
                if (end[k] < next) {
                    next = end[k];
                    ending = 1u << k;
                } else if (end[k] == next) {
                    ending |= 1u << k;
                }
            }
        } else {
            unsigned s = lowest(busy);
            next = m->end[s];
            ending = 1u << s;
            for (busy &= busy - 1; busy; busy &= busy - 1) {
                s = lowest(busy);
                if (m->end[s] < next) {
                    next = m->end[s];
                    ending = 0;
                }
                if (m->end[s] == next)
                    ending |= 1u << s;
            }
        }
        if (m->error_pending && next > m->res->error_t)
            write_error(m);
        m->t = next;
        /* Before they count as done, the hardware must agree: one question for
         * all of them. */
        uint32_t late = hal_slots_busy(ending);
        if (late)
            ending = wait_late(m, ending, late);
        if (ending & (ending - 1))
            complete_many(m, ending, strict);
        else if (ending)
            complete_one(m, lowest(ending), strict);
        if (ending)
            m->t_end = next;
        if (strict && !m->stopped && window_over(m))
            next_windows(m);
    }
}

/* The loop for each mode, out of line: compiled on its own, whatever the set-up
 * around it. */
NOINLINE static void simulate_strict(aci_machine *m)
{
    simulate(m, 1);
}

NOINLINE static void simulate_dataflow(aci_machine *m)
{
    simulate(m, 0);
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

void aci_refuse(size_t length, uint32_t code, uint32_t offset, const aci_run_opts *opts,
                aci_result *res)
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
    /* The image as aci_prepare left it in this machine, and not validated anew
     * since: else it was never pre-decoded (a bug of the caller), and nothing
     * starts. */
    uint32_t code = ACI_ERR_INTERNAL, at = 0;
    if (m->prepared == img && img->prepared == m) {
        code = m->prepare_code;
        at = m->prepare_at;
    }
    m->img = img;
    m->opts = *opts;
    m->res = res;
    m->strict = mode == ACI_MODE_STRICT;
    m->slots = img->slots;
    m->all_slots = (uint16_t)((1u << img->slots) - 1);
    m->stopped = m->icap_busy = m->error_pending = 0;
    m->busy = m->heads = m->ready = m->check = m->wait_any = m->wait_window = m->wait_icap =
        m->in_window_heads = 0;
    m->window = m->window_base = m->reconfs_done = m->hung_tasks = m->prs = 0;
    res->t0 = m->t_end = m->t = aci_image_transfer_ns(&img->timing, img->length);
    emit_image(opts, m->t, img->length, mode);
    for (unsigned s = 0; s < img->slots; s++) { /* the others are never read */
        aci_slot *c = &m->slot[s];
        fill0(c, sizeof *c);
        c->desc.slot = (uint8_t)s;
        c->wake = UINT64_MAX;
        c->holds = NO_HOLD;
        c->next = m->chain[s];
        c->wait_slots = m->chain_waits[s];
    }
    /* A work area too small (a limit of the board) or a broken invariant, found
     * while pre-decoding, stops the run at t0. */
    if (code) {
        stop(m, code, m->t, at);
        write_error(m);
    } else {
        for (unsigned s = 0; s < img->slots; s++) {
            m->heads |= (uint16_t)(1u << s);
            advance(m, &m->slot[s], s, m->strict); /* from the chain's first entry */
        }
    }
    m->top = img->compute_off;
    m->top_end = img->compute_off + img->compute_len;
    m->rep_count = 0;
    m->in_window = 0;
    if (m->strict && !m->stopped) {
        next_window(m);
        if (m->in_window && opts->trace)
            emit_simple(m, ACI_EV_WINDOW_START, m->t, m->window_pc, 0, 0);
        if (window_over(m))
            next_windows(m);
    }
    if (m->strict)
        simulate_strict(m);
    else
        simulate_dataflow(m);
    if (!m->stopped && m->heads) { /* nothing can start, yet operations are left: a deadlock */
        stop(m, ACI_ERR_INTERNAL, m->t, m->slot[lowest(m->heads)].head->entry.at);
        write_error(m);
    }
    /* Every operation that started completed, but those the hardware never finished. */
    res->operations = 0;
    for (unsigned s = 0; s < img->slots; s++)
        res->operations += m->slot[s].done;
    res->sync.progress = res->operations - m->reconfs_done;
    res->tasks = res->sync.progress + m->hung_tasks;
    res->prs = m->prs;
    res->t_end = m->t_end;
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
    uint64_t done[ACI_MAX_SLOTS];
    for (unsigned s = 0; s < ACI_MAX_SLOTS; s++)
        done[s] = s < img->slots ? m->slot[s].done : 0;
    finish_sync(res, opts->doorbell, done, img->slots);
    return res->error_code;
}

uint32_t aci_load_init(const aci_image *img)
{
    if (!img->init_len)
        return ACI_OK;
    const uint8_t *h = img->data + img->init_off;
    uint32_t count = ld32(h + ACI_INIT_COUNT);
    const uint8_t *c = h + ACI_INIT_BYTES;
    for (uint32_t k = 0; k < count; k++) {
        uint32_t n = ld32(c + ACI_INIT_CHUNK_LENGTH);
        if (hal_mem_write(ld64(c + ACI_INIT_CHUNK_ADDRESS), c + ACI_INIT_CHUNK_BYTES, n))
            return ACI_ERR_INTERNAL;
        c += ACI_INIT_CHUNK_BYTES + n + (-n & 7u);
    }
    return ACI_OK;
}

uint32_t aci_execute(aci_machine *m, aci_work *work, size_t work_units, const uint8_t *data,
                     size_t length, const aci_hooks *hooks, const aci_run_opts *opts,
                     aci_image *img, aci_result *res)
{
    uint32_t offset;
    uint32_t code = aci_validate(data, length, hooks, img, &offset);
    if (code) {
        aci_refuse(length, code, offset, opts, res);
        return code;
    }
    if (aci_load_init(img)) {
        aci_refuse(length, ACI_ERR_INTERNAL, 0, opts,
                   res); /* the HAL refused memory the image declares */
        return ACI_ERR_INTERNAL;
    }
    aci_prepare(m, work, work_units, img); /* its failure stops the run */
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
#define NAME(c, n)                                                                                 \
    case c:                                                                                        \
        return n;
        ACI_ERROR_NAMES(NAME)
#undef NAME
    default:
        return "internal";
    }
}
