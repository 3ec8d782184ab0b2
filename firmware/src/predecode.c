/* Stage 2, once per image. aci_prepare in: an aci_image from aci_validate, a work
 * area; out: the image pre-decoded there, one chain per slot (the layout:
 * predecode.h), and ACI_OK, ACI_ERR_WORK_AREA (fewer than img->work_units units)
 * or ACI_ERR_INTERNAL (the image breaks what the validator proved: every run of it
 * then stops at its start with that error). Stage 3, the runs, is exec.c.
 */
#include "predecode.h"

/* ---- pre-decoding: COMPUTE -> per-slot chains in the work area -------------------- */

typedef struct {
    aci_machine *m;
    aci_work *work;
    const uint8_t *data;
    uint32_t used, limit; /* units taken; the work area's */
    /* counters at iteration zero: operations, per slot, window instances passed */
    uint64_t ops, before[ACI_MAX_SLOTS], windows;
    uint64_t window_ops; /* ops when the current WINDOW opened */
    uint64_t barrier;    /* operations of the window before the current PARSEC */
    unsigned sp, levels;
    uint8_t level_at[ACI_LEVELS]; /* counted level -> its open container */
    /* A slot's chain has begin entries for the open levels 0 .. begun[slot] - 1:
     * they are written outermost first, and a level's end closes the inner ones. */
    uint8_t begun[ACI_MAX_SLOTS];
    uint32_t tail[ACI_MAX_SLOTS]; /* each chain's last entry, 0: none yet */
    /* The last task's duration and what it came from: programs repeat tasks of the
     * same shape, and the three 128-bit divisions are most of a task's decoding. */
    uint64_t last_in, last_out, last_ns;
    uint32_t last_words, last_cycles;
} decoder;

/* n units of the work area, 0 when they do not fit: aci_prepare checked it is at least
 * img->work_units, the validator's count of the most this walk takes. */
static inline uint32_t take(decoder *z, uint32_t n)
{
    if (n > z->limit - z->used)
        return 0;
    uint32_t u = z->used;
    z->used += n;
    return u;
}

static inline void set_entry(aci_work *w, uint32_t kind, uint32_t at)
{
    w->word[0] = w->word[1] = 0; /* every field, in two stores */
    w->entry.at = at;
    w->entry.kind = (uint8_t)kind;
}

static inline void append(decoder *z, unsigned slot, uint32_t u)
{
    if (z->tail[slot])
        z->work[z->tail[slot]].entry.next = u;
    else
        z->m->chain[slot] = u;
    z->tail[slot] = u;
}

/* The slot's chain enters the open levels it has not entered yet: a loop record
 * for each level (its first slot writes it) and a begin entry. */
static uint32_t begin_levels(decoder *z, unsigned slot)
{
    aci_machine *m = z->m;
    for (unsigned j = z->begun[slot]; j < z->levels; j++) {
        aci_open *o = &m->open[z->level_at[j]];
        if (!o->loop && !(o->loop = take(z, WORK_LOOP_UNITS(m->img->slots))))
            return ACI_ERR_INTERNAL;
        uint32_t b = take(z, 1);
        if (!b)
            return ACI_ERR_INTERNAL;
        set_entry(&z->work[b], E_BEGIN, o->loop);
        append(z, slot, b);
        o->emitted |= (uint16_t)(1u << slot);
    }
    z->begun[slot] = (uint8_t)z->levels;
    return ACI_OK;
}

/* Strict: the thread predecessor is the operation just before this one in
 * program order (a thread's operations are consecutive), unless it opens its
 * thread. If an earlier operation of the innermost container precedes it, that
 * is its slot; if it is first in a LOOP's body, the predecessor is the body's
 * last operation when the loop is past its first iteration, else look outward.
 * A loop's last slot is known when it closes (`pending`). */
static uint32_t thread_pred(decoder *z, aci_work *w, unsigned slot)
{
    aci_machine *m = z->m;
    if (m->open[z->sp].last == slot)
        w->entry.flags |= F_OWN_PRED;
    for (unsigned i = z->sp;; i--) {
        aci_open *o = &m->open[i];
        if (o->last != NO_SLOT) {
            w[U_THREAD].thread.pred = o->last;
            return ACI_OK;
        }
        if (o->op != ACI_OP_LOOP)
            return ACI_OK; /* the THREAD: the first of its operations */
        unsigned k = w->entry.chain++;
        if (k >= ACI_MAX_LOOP_DEPTH)
            return ACI_ERR_INTERNAL;
        w[U_THREAD].thread.chain[k] = o->level; /* and the slot in the high nibble, at its close */
        o->pending = (uint32_t)(w - z->work);
        o->pending_k = (uint8_t)k;
    }
}

/* A RECONF or TASK at pos: its record, appended to its slot's chain. */
static uint32_t decode_op(decoder *z, uint32_t pos)
{
    aci_machine *m = z->m;
    const aci_image *img = m->img;
    const uint8_t *f = z->data + pos + ACI_INSN_HEADER_BYTES;
    uint32_t op = z->data[pos], slot = f[ACI_TASK_SLOT],
             id = f[ACI_TASK_CORE]; /* RECONF: the same places */
    _Static_assert(ACI_TASK_SLOT == ACI_RECONF_SLOT && ACI_TASK_CORE == ACI_RECONF_CORE,
                   "RECONF and TASK");
    if (slot >= img->slots || img->core_index[id] == NO_CORE)
        return ACI_ERR_INTERNAL;
    const aci_core *core = core_of(img, id);
    if (z->begun[slot] < z->levels && begin_levels(z, slot))
        return ACI_ERR_INTERNAL;
    /* Its units: the most it may take (what the validator counted); a task gives
     * back those of zero strides and of waits on its own slot. */
    uint32_t ports = 0, strides = 0, waits = 0;
    if (op == ACI_OP_TASK) {
        ports = core->port_count;
        strides = f[ACI_TASK_STRIDE_COUNT];
        waits = f[ACI_TASK_WAIT_COUNT];
        if (f[ACI_TASK_PORT_COUNT] != ports || strides != z->levels)
            return ACI_ERR_INTERNAL; /* the validator matched them to the core and the loops */
    }
    uint32_t u = take(z, waits + WORK_OP_UNITS + ports * (1u + strides));
    if (!u)
        return ACI_ERR_INTERNAL;
    u += waits; /* its waits come before it (see U_PORTS) */
    aci_work *w = &z->work[u];
    set_entry(w, op, pos);
    w->entry.key = (uint16_t)(id | K_NO_START); /* a task: see below */
    w->entry.ports = (uint8_t)ports;
    w[U_TIME].word[0] = core->pr_ns;
    w[U_TIME].word[1] = z->ops;
    w[U_THREAD].thread.params = z->data;
    w[U_THREAD].thread.pred = NO_SLOT;
    w[U_STRICT].word[0] = z->windows;
    w[U_STRICT].word[1] = z->barrier;
    append(z, slot, u);
    z->ops++;
    z->before[slot]++;
    if (op != ACI_OP_TASK) {
        m->open[z->sp].last = (uint8_t)slot;
        return ACI_OK;
    }
    /* Ports (base and length), then a term per nonzero stride; waits backwards
     * from the entry. */
    const uint8_t *p = f + ACI_TASK_BYTES;
    aci_work *x = w + U_PORTS + ports;
    uint64_t in = 0, out = 0;
    uint32_t address = (uint32_t)(offsetof(aci_slot, desc.ports) + offsetof(aci_region, address));
    uint32_t dirs = core->port_dirs; /* in a local: the stores below may alias *core */
    aci_work *port = w + U_PORTS;
    for (unsigned k = 0; k < ports; k++, address += sizeof(aci_region), dirs >>= 1) {
        uint32_t length = ld32(p + ACI_PORT_LENGTH);
        port->port.address = ld64(p + ACI_PORT_ADDRESS);
        port->port.length = length;
        port++;
        if (dirs & 1)
            out += length;
        else
            in += length;
        p += ACI_PORT_BYTES;
        for (uint32_t index = (uint32_t)(offsetof(aci_slot, stack) + offsetof(aci_frame, index)),
                      end = index + strides * (uint32_t)sizeof(aci_frame);
             index < end; index += (uint32_t)sizeof(aci_frame), p += 8) {
            uint64_t stride = ld64(p);
            if (stride) { /* most ports stay put in most loops: no term, no work */
                /* Where the slot keeps the port's address and the level's index. */
                x->term.stride = stride;
                x->term.address = address;
                x->term.index = index;
                x++;
            }
        }
    }
    w->entry.terms = (uint8_t)(x - (w + U_PORTS + ports));
    z->used = (uint32_t)(x - z->work);
    x = w - 1;
    for (unsigned k = 0; k < waits; k++, p += ACI_WAIT_BYTES) {
        unsigned ws = p[ACI_WAIT_SLOT];
        if (ws >= img->slots)
            return ACI_ERR_INTERNAL;
        if (ws == slot)
            continue; /* always met: the task is its slot's head only when the slot is idle */
        m->chain_waits[slot] |= (uint16_t)(1u << ws);
        x->wait.need = z->before[ws] - ld32(p + ACI_WAIT_LAG); /* mod 2^64: see ready() */
        x->wait.slot = ws;
        x--;
        w->entry.waits++;
    }
    uint32_t words = ld16(f + ACI_TASK_PARAM_WORDS), cycles = ld32(f + ACI_TASK_CYCLES);
    if (words != z->last_words || cycles != z->last_cycles || in != z->last_in ||
        out != z->last_out) {
        z->last_ns = aci_task_ns(&img->timing, words, cycles, in, out);
        z->last_words = words;
        z->last_cycles = cycles;
        z->last_in = in;
        z->last_out = out;
    }
    w[U_TIME].word[0] = z->last_ns;
    if (!img->timing.watchdog_ns || z->last_ns <= img->timing.watchdog_ns)
        w->entry.key = (uint16_t)id;
    w[U_THREAD].thread.params = z->data + img->param_off + 4u * ld32(f + ACI_TASK_PARAM_OFFSET);
    uint32_t rc = thread_pred(z, w, slot);
    m->open[z->sp].last = (uint8_t)slot;
    return rc;
}

/* A container's body is done. */
static uint32_t close_open(decoder *z)
{
    aci_machine *m = z->m;
    aci_open *o = &m->open[z->sp], *parent = o - 1;
    if (o->op == ACI_OP_WINDOW)
        z->windows++;
    if (o->op == ACI_OP_LOOP || o->op == ACI_OP_REPEAT) {
        /* What one iteration adds; the other count - 1 iterations at iteration
         * zero's rate. Only the slots with operations inside add anything. */
        uint64_t more = o->count - 1, per = z->ops - o->ops, windows = z->windows - o->windows;
        const uint64_t *at_open = m->level_before[o->level];
        if (o->loop) {
            aci_work *l = &z->work[o->loop];
            l[0].word[0] = o->count;
            l[0].word[1] = per;
            l[1].word[0] = windows;
            l[1].word[1] = o->emitted;
            for (unsigned w = 0; w < m->img->slots; w++)
                l[L_SLOTS + w / 2].word[w % 2] = 0;
            for (uint32_t left = o->emitted; left; left &= left - 1) {
                unsigned w = lowest(left);
                uint64_t slot_per = z->before[w] - at_open[w];
                l[L_SLOTS + w / 2].word[w % 2] = slot_per;
                z->before[w] += more * slot_per;
                uint32_t e = take(z, 1);
                if (!e)
                    return ACI_ERR_INTERNAL;
                set_entry(&z->work[e], E_END, o->loop);
                append(z, w, e);
                z->begun[w] = o->level;
            }
        }
        z->ops += more * per;
        z->windows += more * windows;
        z->levels--;
    }
    if (o->pending)
        z->work[o->pending + U_THREAD].thread.chain[o->pending_k] |= (uint8_t)(o->last << 4);
    if (o->last != NO_SLOT)
        parent->last = o->last;
    return ACI_OK;
}

/* COMPUTE -> the chains; ACI_OK, or ACI_ERR_INTERNAL with *at the instruction. */
static uint32_t predecode(aci_machine *m, uint32_t *at)
{
    const aci_image *img = m->img;
    const uint8_t *d = img->data;
    decoder z;
    fill0(&z, sizeof z);
    z.m = m;
    z.work = m->work;
    z.data = d;
    z.limit = m->work_units;
    z.used = 1;
    z.last_words = UINT32_MAX;   /* no task yet: param_words are at most 16 */
    set_entry(&z.work[0], 0, 0); /* every chain's end */
    for (unsigned s = 0; s < ACI_MAX_SLOTS; s++) {
        m->chain[s] = 0;
        m->chain_waits[s] = 0;
    }
    aci_open *top = &m->open[0];
    fill0(top, sizeof *top);
    top->end = img->compute_off + img->compute_len;
    top->last = NO_SLOT;
    uint32_t pos = img->compute_off;
    for (;;) {
        *at = pos;
        if (pos >= m->open[z.sp].end) {
            if (!z.sp)
                return ACI_OK;
            uint32_t rc = close_open(&z);
            if (rc)
                return rc;
            z.sp--;
            continue;
        }
        uint32_t op = d[pos], len = ld32(d + pos + ACI_INSN_HEADER_LENGTH);
        if (op == ACI_OP_TASK || op == ACI_OP_RECONF) {
            uint32_t rc = decode_op(&z, pos);
            if (rc)
                return rc;
            pos += len;
            continue;
        }
        int counted = op == ACI_OP_LOOP || op == ACI_OP_REPEAT;
        if (z.sp + 1 >= ACI_STACK_DEPTH || (counted && z.levels >= ACI_LEVELS))
            return ACI_ERR_INTERNAL; /* deeper than the validator allows */
        aci_open *k = &m->open[++z.sp];
        /* Every field, one store each (a byte loop over the record costs more
         * than the walk of a small loop's body). */
        k->ops = k->windows = 0;
        k->end = pos + len;
        k->loop = k->pending = k->count = 0;
        k->emitted = 0;
        k->op = (uint8_t)op;
        k->level = k->pending_k = 0;
        k->last = NO_SLOT;
        if (counted) {
            k->count = ld32(d + pos + ACI_INSN_HEADER_BYTES + ACI_LOOP_COUNT);
            if (!k->count)
                return ACI_ERR_INTERNAL;
            k->level = (uint8_t)z.levels;
            k->ops = z.ops;
            k->windows = z.windows;
            for (unsigned w = 0; w < img->slots; w++)
                m->level_before[z.levels][w] = z.before[w];
            z.level_at[z.levels++] = (uint8_t)z.sp;
        }
        if (op == ACI_OP_WINDOW)
            z.window_ops = z.ops;
        if (op == ACI_OP_PARSEC)
            z.barrier = z.ops - z.window_ops;
        pos += ACI_INSN_HEADER_BYTES + insn_fields(op);
    }
}

uint32_t aci_prepare(aci_machine *m, aci_work *work, size_t work_units, aci_image *img)
{
    m->img = img;
    m->work = work;
    m->work_units = work_units > UINT32_MAX ? UINT32_MAX : (uint32_t)work_units;
    m->prepare_at = 0; /* a work area too small: offset 0; a broken invariant: its instruction */
    m->prepare_code = ACI_ERR_WORK_AREA;
    if (work && work_units && work_units >= img->work_units)
        m->prepare_code = predecode(m, &m->prepare_at); /* ACI_OK or ACI_ERR_INTERNAL */
    m->prepared = img;
    img->prepared = m;
    return m->prepare_code;
}
