/* Model libraries for the simulated board (plugins.h, include/aci_model.h). */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "plugins.h"

#define MAX_LIBRARIES 16

static void *handles[MAX_LIBRARIES];
static const aci_model *lists[MAX_LIBRARIES];
static unsigned counts[MAX_LIBRARIES], libraries;
static const aci_model *by_core[256];

typedef const aci_model *(*list_fn)(unsigned *, unsigned *);

int plugins_load(const char *path, char *err, size_t errlen)
{
    if (libraries == MAX_LIBRARIES) {
        snprintf(err, errlen, "more than %d model libraries", MAX_LIBRARIES);
        return -1;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errlen, "cannot load model library %s: %s", path, dlerror());
        return -1;
    }
    list_fn list;
    void *sym = dlsym(h, "aci_models");
    memcpy(&list, &sym, sizeof list); /* ISO C has no function-pointer cast from void * */
    unsigned count = 0, abi = 0;
    const aci_model *models = list ? list(&count, &abi) : 0;
    if (!list || abi != ACI_MODEL_ABI || (count && !models)) {
        snprintf(err, errlen, "%s: %s", path,
                 !list ? "exports no aci_models function (include/aci_model.h)"
                 : abi != ACI_MODEL_ABI
                     ? "was built for another aci_model.h (ACI_MODEL_ABI differs)"
                     : "aci_models gave no models");
        dlclose(h);
        return -1;
    }
    for (unsigned k = 0; k < count; k++) {
        const aci_model *m = &models[k];
        if (!m->name || !m->run || m->port_count == 0 || m->port_count > ACI_MAX_PORTS ||
            m->port_dirs >> m->port_count || m->param_count > ACI_MAX_PARAMS) {
            snprintf(err, errlen,
                     "%s: model %u (%s) is malformed: it needs a name, a run function, "
                     "1 to %d ports with port_dirs bits only for them and at most %d parameters",
                     path, k, m->name ? m->name : "no name", ACI_MAX_PORTS, ACI_MAX_PARAMS);
            dlclose(h);
            return -1;
        }
    }
    handles[libraries] = h;
    lists[libraries] = models;
    counts[libraries++] = count;
    return 0;
}

void plugins_bind(const aci_image *img)
{
    memset(by_core, 0, sizeof by_core);
    for (unsigned c = 0; c < img->core_count; c++) {
        const aci_core *core = &img->cores[c];
        for (unsigned l = 0; l < libraries; l++)
            for (unsigned k = 0; k < counts[l]; k++) {
                const char *name = lists[l][k].name;
                if (strlen(name) == core->name_len && !memcmp(name, core->name, core->name_len))
                    by_core[core->id] = &lists[l][k];
            }
    }
}

const aci_model *plugin_for(unsigned core_id)
{
    return core_id < 256 ? by_core[core_id] : 0;
}

void plugins_unload(void)
{
    memset(by_core, 0, sizeof by_core);
    while (libraries)
        dlclose(handles[--libraries]);
}
