/* Canonical JSON lines for trace events (trace_json.h). Keys appear in sorted
 * order, written out per event kind below. */
#include <string.h>

#include "trace_json.h"

typedef struct {
    char *p;
} out;

static void put(out *o, const char *s)
{
    size_t n = strlen(s);
    memcpy(o->p, s, n);
    o->p += n;
}

static void put_u64(out *o, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *o->p++ = tmp[--n];
}

/* A JSON string of printable ASCII (the validator allows nothing else in core
 * names): only the quote and the backslash need escaping. */
static void put_name(out *o, const uint8_t *s, size_t n)
{
    *o->p++ = '"';
    for (size_t k = 0; k < n; k++) {
        if (s[k] == '"' || s[k] == '\\')
            *o->p++ = '\\';
        *o->p++ = (char)s[k];
    }
    *o->p++ = '"';
}

static void key_u64(out *o, const char *key, uint64_t v)
{
    put(o, key);
    put_u64(o, v);
}

static const char *kind_name(aci_event_kind k)
{
    switch (k) {
    case ACI_EV_IMAGE:
        return "image";
    case ACI_EV_WINDOW_START:
        return "window_start";
    case ACI_EV_WINDOW_END:
        return "window_end";
    case ACI_EV_PR_START:
        return "pr_start";
    case ACI_EV_PR_END:
        return "pr_end";
    case ACI_EV_TASK_START:
        return "task_start";
    case ACI_EV_TASK_END:
        return "task_end";
    case ACI_EV_ERROR:
        return "error";
    default:
        return "done";
    }
}

const char *trace_mode_name(int mode)
{
    switch (mode) {
#define NAME(v, n)                                                                                 \
    case v:                                                                                        \
        return n;
        ACI_MODE_NAMES(NAME)
#undef NAME
    default:
        return "strict";
    }
}

static void ev_key(out *o, const aci_event *ev)
{
    put(o, "\"ev\":\"");
    put(o, kind_name(ev->kind));
    put(o, "\"");
}

size_t trace_json(const aci_event *ev, char *buf)
{
    out o = {buf};
    *o.p++ = '{';
    switch (ev->kind) {
    case ACI_EV_IMAGE: /* bytes, ev, mode, t */
        key_u64(&o, "\"bytes\":", ev->bytes);
        put(&o, ",");
        ev_key(&o, ev);
        put(&o, ",\"mode\":\"");
        put(&o, trace_mode_name(ev->mode));
        put(&o, "\"");
        key_u64(&o, ",\"t\":", ev->t);
        break;
    case ACI_EV_WINDOW_START: /* ev, pc, t */
    case ACI_EV_WINDOW_END:
        ev_key(&o, ev);
        key_u64(&o, ",\"pc\":", ev->pc);
        key_u64(&o, ",\"t\":", ev->t);
        break;
    case ACI_EV_PR_START: /* core, ev, pc, slot, t */
    case ACI_EV_PR_END:
    case ACI_EV_TASK_END:
        put(&o, "\"core\":");
        put_name(&o, ev->core->name, ev->core->name_len);
        put(&o, ",");
        ev_key(&o, ev);
        key_u64(&o, ",\"pc\":", ev->pc);
        key_u64(&o, ",\"slot\":", ev->slot);
        key_u64(&o, ",\"t\":", ev->t);
        break;
    case ACI_EV_TASK_START: /* core, ev, params, pc, ports, slot, t */
        put(&o, "\"core\":");
        put_name(&o, ev->core->name, ev->core->name_len);
        put(&o, ",");
        ev_key(&o, ev);
        put(&o, ",\"params\":[");
        for (unsigned k = 0; k < ev->param_words; k++) {
            const uint8_t *w = ev->params + 4 * k;
            if (k)
                *o.p++ = ',';
            put_u64(&o, (uint32_t)w[0] | (uint32_t)w[1] << 8 | (uint32_t)w[2] << 16 |
                            (uint32_t)w[3] << 24);
        }
        key_u64(&o, "],\"pc\":", ev->pc);
        put(&o, ",\"ports\":[");
        for (unsigned k = 0; k < ev->port_count; k++) {
            put(&o, k ? ",[" : "[");
            put_u64(&o, ev->ports[k].address);
            key_u64(&o, ",", ev->ports[k].length);
            put(&o, "]");
        }
        key_u64(&o, "],\"slot\":", ev->slot);
        key_u64(&o, ",\"t\":", ev->t);
        break;
    case ACI_EV_ERROR: /* code, ev, name, pc, t */
        key_u64(&o, "\"code\":", ev->code);
        put(&o, ",");
        ev_key(&o, ev);
        put(&o, ",\"name\":\"");
        put(&o, aci_error_name(ev->code));
        key_u64(&o, "\",\"pc\":", ev->pc);
        key_u64(&o, ",\"t\":", ev->t);
        break;
    case ACI_EV_DONE: /* ev, prs, t, tasks */
        ev_key(&o, ev);
        key_u64(&o, ",\"prs\":", ev->prs);
        key_u64(&o, ",\"t\":", ev->t);
        key_u64(&o, ",\"tasks\":", ev->tasks);
        break;
    }
    put(&o, "}\n");
    return (size_t)(o.p - buf);
}
