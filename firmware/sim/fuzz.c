/* libFuzzer harness: an image from the network, as the board receives it.
 *
 * Validate (with the simulated board recording the ranges ports touch); a
 * refused image goes through aci_refuse. A valid one runs once functionally
 * (core models on memory) when the memory it touches is small, then in both
 * modes timing-only, the strict run with every trace line formatted, each with a
 * work area of exactly the units the validator counted (so ASan sees any unit
 * written past them); for one input in four of at most 256 operations, each
 * mode again from the one preparation (the runs must agree), on slow hardware
 * (sim/board.h), which must not change a run, and on one slot that never
 * finishes (these runs for every input cost 43 % more time per execution, for
 * those 4 %); and prepared with one unit too few, which must stop cleanly with
 * ACI_ERR_WORK_AREA. Images that would run too
 * many operations are only validated, to keep each input fast.
 * Any crash, sanitizer report or hang is a bug.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aci.h"
#include "board.h"
#include "models.h"
#include "trace_json.h"

#define MAX_OPERATIONS       4000
#define MAX_FUNCTIONAL_BYTES (256u << 10)

static void format_line(void *user, const aci_event *ev)
{
    char line[TRACE_LINE_MAX];
    size_t *total = user;
    *total += trace_json(ev, line);
}

static int one_image(const uint8_t *data, size_t size);

/* Random mutations nearly always break the CRC: each input is tried as it is
 * (the header checks) and with its length and CRC fields made right (everything
 * after them). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one_image(data, size);
    if (size < ACI_HEADER_BYTES || size > ACI_MAX_IMAGE_BYTES)
        return 0;
    uint8_t *fixed = malloc(size);
    if (!fixed)
        return 0;
    memcpy(fixed, data, size);
    for (unsigned k = 0; k < 4; k++)
        fixed[ACI_HEADER_LENGTH + k] = (uint8_t)(size >> 8 * k);
    uint32_t crc = aci_image_crc(fixed, size);
    for (unsigned k = 0; k < 4; k++)
        fixed[ACI_HEADER_CRC32 + k] = (uint8_t)(crc >> 8 * k);
    one_image(fixed, size);
    free(fixed);
    return 0;
}

static int one_image(const uint8_t *data, size_t size)
{
    static aci_image img;
    static aci_machine machine;
    static uint32_t scratch[1 << 16];
    aci_result res;
    size_t total = 0;
    aci_run_opts opts = {ACI_MODE_DEFAULT, 1, format_line, &total};
    int span_failed = 0;
    aci_hooks hooks = {board_port_span, &span_failed, scratch, sizeof scratch / sizeof scratch[0]};
    uint32_t offset;

    board_reset(1);
    uint32_t code = aci_validate(data, size, &hooks, &img, &offset);
    if (code) {
        aci_refuse(size, code, offset, &opts, &res);
        return 0;
    }
    if (img.operations > MAX_OPERATIONS)
        return 0;
    aci_work *work = malloc(img.work_units * sizeof *work);
    if (!work)
        return 0;
    if (aci_prepare(&machine, work, img.work_units, &img))
        abort(); /* a valid image broke an invariant of the executor */
    if (!span_failed && !board_build(&img, MAX_FUNCTIONAL_BYTES)) {
        if (aci_load_init(&img))
            abort(); /* the validator let a chunk outside the memory the board backs through */
        aci_run_opts quiet = {ACI_MODE_DEFAULT, 1, 0, 0};
        aci_run(&machine, &img, &quiet, &res);
        if (res.error_code == ACI_ERR_INTERNAL)
            abort(); /* a valid image broke an invariant of the executor */
    }
    board_functional(0);
    int more = size % 4 == 0 && img.operations <= 256; /* the checks below that take more runs */
    /* Every run starts from the prepared image: a mode again, the same. */
    for (int mode = ACI_MODE_STRICT; mode <= ACI_MODE_DATAFLOW; mode++) {
        aci_result again;
        opts.mode = mode;
        opts.trace = mode == ACI_MODE_STRICT ? format_line : 0;
        aci_run(&machine, &img, &opts, &res);
        if (res.error_code == ACI_ERR_INTERNAL)
            abort();
        opts.trace = 0;
        if (!more)
            continue;
        aci_run(&machine, &img, &opts, &again);
        if (again.error_code != res.error_code || again.error_offset != res.error_offset ||
            again.tasks != res.tasks || again.total_ns != res.total_ns ||
            again.sync.progress != res.sync.progress)
            abort();
    }
    /* res: the dataflow run. Hardware slower than the model changes nothing;
     * a slot that never finishes stops the run, or leaves it as it was. */
    if (more) {
        aci_result slow;
        board_slow(0xFFFF, 2);
        aci_run(&machine, &img, &opts, &slow);
        if (slow.error_code != res.error_code || slow.error_offset != res.error_offset ||
            slow.tasks != res.tasks || slow.total_ns != res.total_ns ||
            slow.sync.progress != res.sync.progress)
            abort();
        board_slow(1u << size / 4 % img.slots, BOARD_NEVER);
        aci_run(&machine, &img, &opts, &slow);
        if (slow.error_code == ACI_ERR_INTERNAL ||
            (slow.error_code != ACI_ERR_WATCHDOG && slow.error_code != res.error_code))
            abort();
        board_slow(0, 0);
    }
    aci_run_opts quiet = {ACI_MODE_DEFAULT, 1, 0, 0};
    if (aci_prepare(&machine, work, img.work_units - 1, &img) != ACI_ERR_WORK_AREA ||
        aci_run(&machine, &img, &quiet, &res) != ACI_ERR_WORK_AREA || res.tasks)
        abort(); /* one unit short must be refused before anything runs */
    free(work);
    board_reset(0);
    model_reset();
    return 0;
}
