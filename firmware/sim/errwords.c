/* The words of a run-time error (errwords.h). */
#include "errwords.h"

#include <stdio.h>
#include <string.h>

#include "models.h"
#include "plugins.h"

static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    while (n--)
        v = v << 8 | p[n];
    return v;
}

/* A core's name as a C string (names are at most 16 bytes in the image). */
static const char *core_name(const aci_image *img, unsigned id, char out[17])
{
    out[0] = 0;
    if (id < 256 && img->core_index[id] != 0xFF) {
        const aci_core *c = &img->cores[img->core_index[id]];
        memcpy(out, c->name, c->name_len);
        out[c->name_len] = 0;
    }
    return out;
}

/* The task at the error's offset, the slot's core as the executor holds it, the
 * task's duration from the timing model, its parameter words and port lengths. */
void run_error_args_of(const aci_image *img, const aci_machine *m, const aci_result *r,
                       run_error_args *a)
{
    memset(a, 0, sizeof *a);
    a->id = -1;
    a->held_id = 0xFFFF;
    uint32_t pc = r->error_offset;
    if (r->error_code < ACI_ERR_WRONG_CORE || r->error_code > ACI_ERR_NO_MODEL ||
        (uint64_t)pc + ACI_INSN_HEADER_BYTES + ACI_RECONF_BYTES >
            img->length) /* validated: never */
        return;
    if (img->data[pc] == ACI_OP_RECONF && r->error_code == ACI_ERR_WATCHDOG) { /* hung hardware */
        a->slot = img->data[pc + ACI_INSN_HEADER_BYTES + ACI_RECONF_SLOT];
        a->hang_ns = ACI_CONFIG_HANG_NS;
        a->id = ACI_MSG_WATCHDOG_HUNG;
        return;
    }
    if (img->data[pc] != ACI_OP_TASK ||
        (uint64_t)pc + ACI_INSN_HEADER_BYTES + ACI_TASK_BYTES > img->length)
        return;
    const uint8_t *t = img->data + pc + ACI_INSN_HEADER_BYTES;
    unsigned slot = t[ACI_TASK_SLOT], id = t[ACI_TASK_CORE], ports = t[ACI_TASK_PORT_COUNT];
    unsigned words = (unsigned)le(t + ACI_TASK_PARAM_WORDS, 2);
    const aci_core *core = &img->cores[img->core_index[id]];
    uint64_t in = 0, out = 0;
    const uint8_t *port = t + ACI_TASK_BYTES;
    for (unsigned k = 0; k < ports && k < ACI_MAX_PORTS;
         k++, port += ACI_PORT_BYTES + 8u * t[ACI_TASK_STRIDE_COUNT]) {
        uint32_t length = (uint32_t)le(port + ACI_PORT_LENGTH, 4);
        *(core->port_dirs >> k & 1 ? &out : &in) += length;
        a->lengths[a->lengths_count++] = length;
    }
    const uint8_t *w = img->data + img->param_off + 4 * le(t + ACI_TASK_PARAM_OFFSET, 4);
    for (unsigned k = 0; k < words && k < ACI_MAX_PARAMS; k++)
        a->params[a->params_count++] = (uint32_t)le(w + 4 * k, 4);
    a->slot = slot;
    a->core_id = id;
    a->id = ACI_MSG_NO_MODEL;
    if (r->error_code == ACI_ERR_WRONG_CORE) {
        unsigned holds = m->slot[slot].holds; /* the executor's record: 0xFFFF none */
        char held[17];
        a->held_id = holds;
        a->id = core_name(img, holds, held)[0] ? ACI_MSG_WRONG_CORE : ACI_MSG_WRONG_CORE_EMPTY;
    } else if (r->error_code == ACI_ERR_WATCHDOG) {
        a->duration_ns =
            aci_task_ns(&img->timing, words, (uint32_t)le(t + ACI_TASK_CYCLES, 4), in, out);
        a->watchdog_ns = img->timing.watchdog_ns;
        a->hang_ns = ACI_CONFIG_HANG_NS;
        /* within the target's watchdog: the hardware hung */
        a->id = a->watchdog_ns && a->duration_ns > a->watchdog_ns ? ACI_MSG_WATCHDOG
                                                                  : ACI_MSG_WATCHDOG_HUNG;
    } else if (model_known(id) || plugin_for(id)) { /* a model exists but does not take the task */
        a->id = ACI_MSG_NO_MODEL_MISMATCH;
    }
}

/* Numbers joined with ACI_MESSAGE_LIST_SEP (a u32 takes at most 10 digits). */
static const char *joined(const uint32_t *v, unsigned count, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = 0;
    for (unsigned k = 0; k < count && used < n; k++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lu", k ? ACI_MESSAGE_LIST_SEP : "",
                                 (unsigned long)v[k]);
    return buf;
}

void run_error_words(const aci_image *img, const run_error_args *a, char *buf, size_t n)
{
    buf[0] = 0;
    if (a->id < 0)
        return;
    char name[17], held[17], params[ACI_MAX_PARAMS * 16], lengths[ACI_MAX_PORTS * 16];
    aci_message_args m = {0};
    m.core = core_name(img, a->core_id, name);
    m.held = core_name(img, a->held_id, held);
    m.slot = a->slot;
    m.held_id = a->held_id;
    m.core_id = a->core_id;
    m.duration_ns = a->duration_ns;
    m.watchdog_ns = a->watchdog_ns;
    m.hang_ns = a->hang_ns;
    m.params = joined(a->params, a->params_count, params, sizeof params);
    m.lengths = joined(a->lengths, a->lengths_count, lengths, sizeof lengths);
    aci_message(buf, n, (aci_message_id)a->id, &m);
}
