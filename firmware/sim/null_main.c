/* acifw-null IMAGE [--mode strict|dataflow] [--validate-only]: the core on the
 * do-nothing HAL, no trace. bench/bench_firmware.py runs it under callgrind
 * (instructions inside aci_validate and aci_run) and reads the JSON it prints:
 * the image's bytes and the tasks the run executed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aci.h"

int main(int argc, char **argv)
{
    int mode = ACI_MODE_DEFAULT, validate_only = 0;
    const char *path = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--validate-only"))
            validate_only = 1;
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
            mode = !strcmp(argv[++i], "dataflow") ? ACI_MODE_DATAFLOW : ACI_MODE_STRICT;
        else
            path = argv[i];
    }
    FILE *f = path ? fopen(path, "rb") : 0;
    if (!f) {
        fprintf(stderr, "usage: acifw-null IMAGE [--mode strict|dataflow] [--validate-only]\n");
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(n > 0 ? (size_t)n : 1);
    if (!data || fread(data, 1, (size_t)n, f) != (size_t)n)
        return 2;
    fclose(f);
    static aci_image img;
    static aci_machine machine;
    aci_result res;
    uint32_t offset, code = aci_validate(data, (size_t)n, 0, &img, &offset);
    if (code) {
        fprintf(stderr, "acifw-null: invalid image: %s at offset %u\n", aci_error_name(code),
                offset);
        return 1;
    }
    if (!validate_only) {
        aci_run_opts opts = {mode, 1, 0, 0};
        aci_work *work = malloc(img.work_units * sizeof *work);
        if (!work)
            return 2;
        aci_prepare(&machine, work, img.work_units, &img);
        code = aci_run(&machine, &img, &opts, &res);
        free(work);
    }
    printf("{\"bytes\":%ld,\"error\":%u,\"operations\":%llu,\"tasks\":%llu}\n", n, code,
           validate_only ? 0ull : (unsigned long long)res.operations,
           validate_only ? 0ull : (unsigned long long)res.tasks);
    return code ? 1 : 0;
}
