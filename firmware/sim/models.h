/* Functional models of cores for the simulated board (aci/cores in C).
 *
 * FP_CONV (1), BIN_CONV (2), BIN_FC (3): the BNN cores of docs/bnn.md,
 * bit for bit with aci/cores/bnn.py; TEST (200): docs/execution.md's test core.
 *
 * model_check says whether a task can run on the model: its core's ports and
 * directions, parameter count, parameter values and port lengths must be the
 * ones the model takes (aci.cores.CoreModel.mismatch); otherwise the run stops
 * with no_model, as the Python interpreter does. model_run computes the outputs
 * from the inputs.
 */
#ifndef ACI_SIM_MODELS_H
#define ACI_SIM_MODELS_H

#include <stdint.h>

#include "aci.h"

/* 1 when there is a model of core_id at all, else 0. */
int model_known(unsigned core_id);

/* 1 when a task with these facts can run on the model of core_id, else 0. */
int model_check(unsigned core_id, unsigned port_count, unsigned port_dirs, unsigned param_words,
                const uint32_t *words, const uint32_t *lengths);

/* Run a checked task on its slot's local memory: ports[k] holds port k's
 * lengths[k] bytes, the inputs as read, the outputs zeroed, to be filled. */
void model_run(unsigned core_id, const uint32_t *words, unsigned slot, uint8_t *const *ports,
               const uint32_t *lengths);

/* Drop the models' caches (prepared weights). */
void model_reset(void);

#endif /* ACI_SIM_MODELS_H */
