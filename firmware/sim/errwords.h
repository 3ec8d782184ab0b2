/* The words of a run-time error (aci/format.py MESSAGES, generated into
 * aci_messages.h): which template, and its arguments as numbers, taken from the
 * image, the executor's state and the simulated board's models after a run that
 * stopped. acifw-sim prints the sentence; the board daemon sends the arguments in
 * RUN_RESULT (docs/protocol.md) and the host fills the same template. Never part of
 * the firmware core. */
#ifndef ACI_SIM_ERRWORDS_H
#define ACI_SIM_ERRWORDS_H

#include <stddef.h>
#include <stdint.h>

#include "aci.h"
#include "aci_messages.h"

typedef struct {
    int id; /* an aci_message_id, or -1: no words (not a run-time error the templates cover) */
    unsigned slot, core_id, held_id; /* held_id: the core the slot held, 0xFFFF: none */
    uint64_t duration_ns, watchdog_ns, hang_ns;
    unsigned params_count, lengths_count;
    uint32_t params[ACI_MAX_PARAMS];
    uint32_t lengths[ACI_MAX_PORTS];
} run_error_args;

/* The words of run r's error (r->error_code nonzero) on image img as machine m left it. */
void run_error_args_of(const aci_image *img, const aci_machine *m, const aci_result *r,
                       run_error_args *a);

/* The sentence, as the Python engine writes it ("" when a->id is -1). */
void run_error_words(const aci_image *img, const run_error_args *a, char *buf, size_t n);

#endif /* ACI_SIM_ERRWORDS_H */
