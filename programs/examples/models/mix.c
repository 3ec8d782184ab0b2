/* The C model of the example core MIX (programs/examples/custom_core.aci) for the
 * firmware's simulated board: y[i] = (k * a[i] + b[i] + i) mod 256, as the Python
 * model mix.py computes it. Build it against the public header alone:
 *
 *     cc -shared -fPIC -I firmware/include -o mix.so programs/examples/models/mix.c
 *
 * and run: acic run programs/examples/custom_core.aci --engine firmware --models mix.so
 * (docs/models.md). */
#include "aci_model.h"

enum { N, K };        /* parameter words, in the core's declared order */
enum { A, B, Y };     /* ports, in the core's declared order */

static int mix_check(const uint32_t *params, const uint32_t *lengths)
{
    return params[N] >= 1 && lengths[A] == params[N] && lengths[B] == params[N] && lengths[Y] == params[N];
}

static void mix_run(const uint32_t *params, unsigned slot, uint8_t *const *ports, const uint32_t *lengths)
{
    (void)slot;
    (void)lengths;
    for (uint32_t i = 0; i < params[N]; i++)
        ports[Y][i] = (uint8_t)(params[K] * ports[A][i] + ports[B][i] + i);
}

static const aci_model models[] = {
    {"MIX", 3, 1u << Y, 2, mix_check, mix_run},
};

const aci_model *aci_models(unsigned *count, unsigned *abi)
{
    *count = sizeof models / sizeof models[0];
    *abi = ACI_MODEL_ABI;
    return models;
}
