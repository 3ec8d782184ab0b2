/* Model libraries (include/aci_model.h) loaded by acifw-sim --models: dlopen'd
 * here, in the simulator only, never in the firmware core. */
#ifndef ACI_SIM_PLUGINS_H
#define ACI_SIM_PLUGINS_H

#include <stddef.h>

#include "aci.h"
#include "aci_model.h"

/* Load a model library: 0, or -1 with a message in err. */
int plugins_load(const char *path, char *err, size_t errlen);

/* Match the loaded models to the image's cores by name (later libraries win). */
void plugins_bind(const aci_image *img);

/* The user's model of core id, or NULL. */
const aci_model *plugin_for(unsigned core_id);

/* Close every library. */
void plugins_unload(void);

#endif /* ACI_SIM_PLUGINS_H */
