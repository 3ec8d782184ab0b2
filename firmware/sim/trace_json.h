/* The canonical trace line of one event (docs/execution.md, "Trace"): JSON with
 * keys sorted, no spaces, integers only, exactly what Python's
 * json.dumps(event, sort_keys=True, separators=(",", ":")) writes. */
#ifndef ACI_SIM_TRACE_JSON_H
#define ACI_SIM_TRACE_JSON_H

#include <stddef.h>

#include "aci.h"

/* Longest line: a task_start with max_ports ports and max_params words. */
#define TRACE_LINE_MAX 1024

/* A run's mode by name, "strict" or "dataflow" (aci_format.h's ACI_MODE_NAMES). */
const char *trace_mode_name(int mode);

/* Writes the line and a newline into buf (TRACE_LINE_MAX bytes); returns its length. */
size_t trace_json(const aci_event *ev, char *buf);

#endif /* ACI_SIM_TRACE_JSON_H */
