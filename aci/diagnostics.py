"""Diagnostics: every error the front end reports, its stable code, and rendering.

The table :data:`CODES` is the one definition of each code: its title and the
explanation shown in ``docs/language.md`` (generated from it). Stages create
:class:`Diagnostic` values and raise :class:`SourceError` with all of them at once;
only the command line renders them (:func:`render_text`, :func:`render_json`).
"""

from __future__ import annotations

import json
from typing import Iterable, Mapping

from . import record
from .span import Span


@record.frozen
class Example:
    """A run of ``acic`` on a file of the corpus ``tests/check/``, shown in the docs:
    the command after ``acic``, the lines of the file to show (first, last) (none:
    no excerpt), which of its diagnostics to show (by position in its output), and a
    note said after the command."""

    command: str
    lines: tuple[tuple[int, int], ...] = ()
    shows: tuple[int, ...] = (0,)
    note: str = ""


@record.frozen
class Code:
    """A diagnostic code: its title and explanation, where it is reported (``where``)
    and examples. ``docs/language.md``'s "Diagnostics" section is generated from these
    (``make generate``; the examples' output is the checker's real output), so adding a
    code is one entry here, a corpus file ``tests/check/eNNN_*.aci`` and ``make generate``."""

    code: str
    title: str
    explain: str
    where: str = ""
    examples: tuple[Example, ...] = ()


# Ordered by code. Numbers are stable: a retired code is never reused.
CODES: dict[str, Code] = {
    c.code: c
    for c in [
        Code(
            "E001",
            "cannot read file",
            "A file named on the command line or in an `import` is missing, is a directory or cannot be read.",
            where="Reported at the `import`, or without a location for a file named on the command line.",
            examples=(Example("check tests/check/e001_missing_import.aci", lines=((2, 2),)),),
        ),
        Code(
            "E002",
            "not UTF-8 text",
            "A source file must be UTF-8 text; the message gives the first byte that is not.",
            where="The location is the line and column (counted in bytes) of the first byte that is not UTF-8.",
            examples=(
                Example(
                    "check tests/check/e002_not_utf8.aci",
                    note="(line 4 holds the byte 0xE9 where UTF-8 needs two bytes)",
                ),
            ),
        ),
        Code(
            "E003",
            "unexpected character",
            "The lexer met a character that starts no token of the language.",
            where="The message shows the character and what the language allows at that point.",
            examples=(
                Example("check tests/check/e003_character_in_expression.aci", lines=((2, 2),)),
            ),
        ),
        Code(
            "E004",
            "syntax error",
            "A token stands where the grammar does not allow it; the message says what was expected.",
            where="The message names the token found and what the grammar expected there.",
            examples=(Example("check tests/check/e004_syntax_error.aci", lines=((2, 2),)),),
        ),
        Code(
            "E005",
            "unexpected end of file",
            "The file ends inside a declaration or block (often a missing `}`).",
            where="Reported at the end of the file.",
            examples=(Example("check tests/check/e005_unexpected_eof.aci", lines=((3, 6),)),),
        ),
        Code(
            "E006",
            "input too large",
            "A source file, an expression or a number literal exceeds its bound: a file of 1 MiB (1,048,576 bytes), an expression of 10,000 operators, a literal of 256 digits.",
            where="Inputs are bounded so that no input exhausts the tools: a source file (and each file it imports) is read only if it is a regular file (a device such as `/dev/zero`, a FIFO or a socket is E001, at once) of at most 1 MiB; before parsing, one pass finds an expression of more than 10,000 operators (at its first operator), a literal of more than 256 digits (E006) and nesting deeper than 1,024 (E007), each with its file, line and column.",
            examples=(Example("check tests/check/e006_too_many_digits.aci", lines=((2, 2),)),),
        ),
        Code(
            "E007",
            "nesting too deep",
            "Parentheses, brackets or braces nest more than 1,024 deep; the error points at the first one too deep.",
            where="Found before parsing, with the file, line and column of the first opening too deep.",
        ),
        Code(
            "E010",
            "unknown name",
            "A name (const, buffer, core, target, memory, parameter, loop variable, element type, function) is not declared where it is used.",
            where="Triggers: a name in an expression that is no const, buffer or visible loop, repeat or `for` variable; a core in a task or `reconfigure`; the target of a program; a memory in `in MEMORY` (of a buffer or bitstream); an element type; a function other than `min`, `max`, `ceil_div`; in a core's port shapes, port conditions and `cycles`, a name that is neither a parameter of the core nor a const.",
            examples=(
                Example(
                    "check tests/check/e010_unknown_names.aci",
                    lines=((5, 5), (20, 23)),
                    shows=(0, 6),
                ),
            ),
        ),
        Code(
            "E011",
            "duplicate name",
            "Two declarations of the same kind share a name, or a core id is used twice.",
            where="Triggers: two consts or buffers with one name (they share a name space), two cores, targets or programs with one name, two memories of one target, two parameters or ports of one core, two cores with one `id`.",
            examples=(Example("check tests/check/e011_duplicate_names.aci", lines=((5, 6),)),),
        ),
        Code(
            "E012",
            "import cycle",
            "A file imports itself, directly or through other files.",
            where="Reported at the `import` that closes the cycle, with notes at the other imports of the chain.",
            examples=(Example("check tests/check/e012_self_import.aci", lines=((1, 3),)),),
        ),
        Code(
            "E013",
            "bad `-D` override",
            "`-D NAME=VALUE` names no const, or its value is not one literal of the language (a number, a number with a unit, `true` or `false`, optionally negated).",
            where="Reported without a location.",
            examples=(
                Example("check -D NOPE=3 tests/check/e013_unknown_define.aci", lines=((4, 4),)),
            ),
        ),
        Code(
            "E020",
            "unit mismatch",
            "A quantity has the wrong unit for where it is used (bytes where a time is expected), or units are combined in a way that has no meaning.",
            where="Triggers: `+`, `-`, comparisons, `min`, `max` of different dimensions; a product of two quantities; a quotient other than `X / count` and `X / X`; a target field, memory, bitstream size or any plain-number place (dimensions, counts, parameters, indices, slots, addresses) given a value of another dimension; a loop variable combined with a quantity or a fraction.",
            examples=(
                Example("check tests/check/e020_arithmetic.aci", lines=((2, 2),)),
                Example("check tests/check/e020_target_fields.aci", lines=((11, 11),), shows=(3,)),
            ),
        ),
        Code(
            "E021",
            "not a constant",
            "An expression must be known at compile time here (a parameter, a slot, a dimension, a loop bound, a const) but uses a loop or repeat variable, or a const is defined in terms of itself.",
            where="Triggers: a const defined in terms of itself (reported where the cycle closes); a loop or repeat variable in a task parameter, a loop or `for` bound, or a slot.",
            examples=(Example("check tests/check/e021_loop_variable.aci", lines=((7, 8),)),),
        ),
        Code(
            "E022",
            "not a whole number",
            "A value must be an integer but the expression gives a fraction (`2.5` with no unit that makes it whole).",
            where="Triggers: a fraction where a whole number is needed (dimension, parameter, index, count, slot, ...); an ICAP or DMA rate that is not a whole number of bytes per second (reported at the target).",
            examples=(Example("check tests/check/e022_not_whole.aci", lines=((4, 4), (6, 6))),),
        ),
        Code(
            "E023",
            "division by zero",
            "A `/` or `%` divides by zero in a constant expression.",
            where="Also for `ceil_div(a, 0)`.",
            examples=(Example("check tests/check/e023_division_by_zero.aci", lines=((2, 3),)),),
        ),
        Code(
            "E024",
            "value out of range",
            "A number is outside the range its field allows (a slot count of zero, a negative size, a value that does not fit the image format).",
            where="Triggers: a slot count outside 1 .. 16; a negative resource count; a memory with no size or beyond 64-bit addresses; a rate or frequency that is not positive, a time that is negative; a core id outside 0 .. 255; a bitstream size ≤ 0; more than 8 ports or 16 parameters; a buffer dimension < 1; a port dimension < 1 for a task's parameters (reported at the port's declaration in the core); a task's cycle count outside 0 .. 2^32-1.",
            examples=(
                Example("check tests/check/e024_target_values.aci", lines=((3, 3),), shows=(0, 1)),
            ),
        ),
        Code(
            "E025",
            "wrong kind of value",
            "A boolean is used where an integer is expected or the reverse, or a buffer where a number is expected.",
            where="Triggers: arithmetic or comparison (other than `==`, `!=`) on booleans; `!` of a number, `-` of a boolean; a number as the condition of `? :`, `&&`, `||` or a conditional port type; a buffer (or a view `b[i]`) used as a number; a function given booleans or the wrong number of arguments; a boolean where a number is expected.",
            examples=(Example("check tests/check/e025_wrong_kind.aci", lines=((5, 5),)),),
        ),
        Code(
            "E026",
            "missing or repeated field",
            "A `target` or `core` lacks a field it needs (`slots`, `id`, `bitstream`, `cycles`, a timing parameter) or gives one twice.",
            where="Triggers: a target without `slots`, a memory or a required timing field; `slots`, a field or a resource given twice; a core without `id`, `bitstream`, `cycles` or any port; `id`, `bitstream`, `resources` or `cycles` given twice.",
            examples=(
                Example("check tests/check/e026_core_items.aci", lines=((7, 11),), shows=(1,)),
            ),
        ),
        Code(
            "E027",
            "unknown field",
            "A `target` field, resource kind or parameter type the language does not know.",
            where="Triggers: a target field other than those of the target table; a resource other than `lut`, `ff`, `bram`, `dsp`; a parameter type other than `bool`, `u8`, `u16`, `u32`, `i8`, `i16`, `i32`.",
            examples=(
                Example("check tests/check/e027_unknown_fields.aci", lines=((7, 7),), shows=(1,)),
            ),
        ),
        Code(
            "E030",
            "core does not fit a slot",
            "A core needs more of a resource (LUT, FF, BRAM, DSP) than one slot of the target offers.",
            where="Reported at the first use of the core in each program (a task or a `reconfigure`), once for each resource that does not fit.",
            examples=(
                Example("check tests/check/e030_core_too_big.aci", lines=((3, 6), (15, 15))),
            ),
        ),
        Code(
            "E031",
            "bad parameter declaration",
            "A parameter's range is empty, its set is empty or repeats a value, or its range does not fit its type.",
            where="Triggers: an empty range (`lo > hi`); a range that does not fit the type; a set member listed twice or outside the type; a range or set on a `bool`.",
            examples=(Example("check tests/check/e031_bad_param_decl.aci", lines=((6, 6),)),),
        ),
        Code(
            "E032",
            "too many memories",
            "A target declares more memories than an image can describe (`max_memories` of docs/format.md).",
            where="Reported at the first memory too many, with a note at the target.",
            examples=(
                Example("check tests/check/e032_too_many_memories.aci", lines=((3, 3), (11, 12))),
            ),
        ),
        Code(
            "E033",
            "memories overlap",
            "Two memories of a target share addresses; the overlapping bytes are given.",
            where="Reported at the later memory, with a note at the earlier one.",
            examples=(Example("check tests/check/e033_memories_overlap.aci", lines=((3, 6),)),),
        ),
        Code(
            "E034",
            "name too long for the image",
            "A memory, a core or a buffer has a name longer than its field of the image keeps (15, 15 and 31 bytes).",
            where="Reported at the memory's or buffer's declaration, and at a core's first use in a program.",
            examples=(
                Example(
                    "check tests/check/e034_name_too_long.aci",
                    lines=((4, 4), (15, 15), (19, 19)),
                    shows=(0, 1, 2),
                ),
            ),
        ),
        Code(
            "E040",
            "parameter missing",
            "A task does not give a value for a parameter of its core.",
            where="Reported at the task, with a note at the parameter's declaration.",
            examples=(Example("check tests/check/e040_parameter_missing.aci", lines=((6, 6),)),),
        ),
        Code(
            "E041",
            "unknown parameter or port",
            "A task names an argument that is neither a parameter nor a port of its core.",
            where="The message lists the core's parameters and ports.",
            examples=(Example("check tests/check/e041_unknown_argument.aci", lines=((6, 6),)),),
        ),
        Code(
            "E042",
            "parameter of the wrong type",
            "A task gives an integer to a `bool` parameter or a boolean to an integer one.",
            examples=(Example("check tests/check/e042_parameter_type.aci", lines=((7, 7),)),),
        ),
        Code(
            "E043",
            "parameter out of range",
            "A task's parameter value lies outside the range or set its core declares, or outside its type.",
            where="The ranges of parameter domains are inclusive: `in 1 .. 1024` allows 1024.",
            examples=(
                Example("check tests/check/e043_parameter_out_of_range.aci", lines=((19, 19),)),
            ),
        ),
        Code(
            "E045",
            "port unbound",
            "A task does not bind a port of its core to a buffer or a view of one.",
            where="Reported at the task, with a note at the port's declaration.",
            examples=(Example("check tests/check/e045_port_unbound.aci", lines=((6, 6),)),),
        ),
        Code(
            "E046",
            "argument given twice",
            "A task binds the same port, or gives the same parameter, twice.",
            where="Reported at the second occurrence.",
            examples=(Example("check tests/check/e046_argument_twice.aci", lines=((6, 6),)),),
        ),
        Code(
            "E047",
            "port size mismatch",
            "A port is bound to a view whose size differs from the shape the core expects for the task's parameters; both sizes are given.",
            where="Only byte lengths are compared; the view's shape may differ from the port's.",
            examples=(Example("check tests/check/e047_port_size.aci", lines=((4, 4), (9, 9))),),
        ),
        Code(
            "E048",
            "port element type mismatch",
            "A port is bound to a buffer whose element type differs from the port's.",
            examples=(Example("check tests/check/e048_element_type.aci", lines=((4, 5), (8, 8))),),
        ),
        Code(
            "E049",
            "port bound to a non-buffer",
            "A port must be bound to a buffer or a view of one (`buf`, `buf[i]`, `buf[a .. b]`), not to a number.",
            examples=(Example("check tests/check/e049_port_non_buffer.aci", lines=((7, 7),)),),
        ),
        Code(
            "E050",
            "index not affine",
            "An index must be an affine function of loop and repeat variables (such as `4 * i + s`) so that the compiler can derive strides; products of variables, division or remainder of a variable are not.",
            where="Only sums of constant whole multiples of loop and repeat variables are affine: no products of variables, no inexact division, no remainder, no conditions or function calls on variables.",
            examples=(Example("check tests/check/e050_not_affine.aci", lines=((8, 10),)),),
        ),
        Code(
            "E051",
            "index out of bounds",
            "An index or slice runs outside its buffer's dimension on some iteration; the message names the iteration.",
            where="Checked for the smallest and largest value of the index over all iterations; for a slice, its start must lie in `0 .. dim-len`.",
            examples=(
                Example("check tests/check/e051_index_out_of_bounds.aci", lines=((4, 4), (7, 9))),
            ),
        ),
        Code(
            "E052",
            "bad subscript",
            "Too many subscripts, a slice that is not the last subscript, an empty slice, or a view of a `bits` buffer that does not start on a 64-bit word.",
            where="Triggers: more subscripts than dimensions; a subscript after a slice; a slice whose length is not a constant ≥ 1; a view of a `bits` buffer whose bit offset is not a multiple of 64 for every iteration.",
            examples=(
                Example(
                    "check tests/check/e052_bits_not_word_aligned.aci", lines=((5, 5), (10, 10))
                ),
            ),
        ),
        Code(
            "E053",
            "buffer used against its role",
            "An `input` buffer (written by the host, only read by the board) is bound to an `out` port, or an `output` buffer (only written by the board) to an `in` port.",
            examples=(Example("check tests/check/e053_buffer_role.aci", lines=((4, 4), (10, 10))),),
        ),
        Code(
            "E060",
            "two threads on one slot",
            "Two threads of one `parsec` (or a thread and another thread's task) name the same slot.",
            where="A thread uses the slot of its `on slot` and the slots its tasks name; reported at the second thread's use.",
            examples=(
                Example("check tests/check/e060_two_threads_one_slot.aci", lines=((10, 13),)),
            ),
        ),
        Code(
            "E061",
            "more threads than slots",
            "A `parsec` has more threads than the target has slots.",
            examples=(
                Example("check tests/check/e061_more_threads_than_slots.aci", lines=((7, 9),)),
            ),
        ),
        Code(
            "E062",
            "slot out of range",
            "A slot index is negative or not below the target's slot count.",
            where="For `on slot` of threads and tasks and for `reconfigure slot`.",
            examples=(Example("check tests/check/e062_slot_out_of_range.aci", lines=((7, 7),)),),
        ),
        Code(
            "E063",
            "slot holds two cores",
            "In one window a slot is asked to hold two different cores (by its tasks, or by its `reconfigure` requests).",
            where="Counts `reconfigure` requests and pinned tasks of every parsec of the window; later windows may hold other cores.",
            examples=(
                Example("check tests/check/e063_slot_two_cores_reconfigure.aci", lines=((5, 9),)),
            ),
        ),
        Code(
            "E064",
            "race between threads",
            "Two threads of one `parsec` run concurrently, and one writes memory that the other reads or writes; the message names both tasks and the overlapping bytes.",
            where="Loop variables of the two threads vary independently; a `repeat` variable has one value in both (iterations of a `repeat` are not concurrent); the message gives one pair of iterations that overlap.",
            examples=(Example("check tests/check/e064_race.aci", lines=((4, 5), (8, 11))),),
        ),
        Code(
            "E065",
            "task slot differs from its thread's",
            "A task names a slot other than the one its thread is on.",
            examples=(Example("check tests/check/e065_task_slot_differs.aci", lines=((6, 9),)),),
        ),
        Code(
            "E067",
            "cannot assign slots",
            "The scheduler cannot give every thread and task a slot: a window needs more slots (with one core each) than the target has.",
            where="Reported by `acic compile` (the scheduler), not by `acic check`: threads and tasks without `on slot` are given slots in program order, preferring a slot that already holds their core, then free slots.",
            examples=(Example("compile tests/check/e067_no_slot_left.aci", lines=((18, 24),)),),
        ),
        Code(
            "E070",
            "buffer does not fit its memory",
            "A buffer (or a core's bitstream) is larger than its memory, or its fixed address puts it partly outside.",
            where="Triggers: a buffer or bitstream with no room left in its memory (first fit); a fixed address that puts it partly or wholly outside its memory.",
            examples=(
                Example("check tests/check/e070_does_not_fit.aci", lines=((5, 6),)),
                Example("check tests/check/e070_outside_memory.aci", lines=((4, 4),)),
            ),
        ),
        Code(
            "E071",
            "buffers overlap",
            "Two buffers (or bitstreams) with fixed addresses share bytes; the overlapping bytes are given.",
            where="Only items with fixed addresses can overlap (first fit never overlaps).",
            examples=(Example("check tests/check/e071_overlap.aci", lines=((5, 6),)),),
        ),
        Code(
            "E072",
            "misaligned address",
            "A fixed address is not a multiple of 8 (every buffer starts on a 64-bit word).",
            examples=(Example("check tests/check/e072_misaligned.aci", lines=((3, 3),)),),
        ),
        Code(
            "E073",
            "initial contents file",
            "The file named by `from` cannot be read or does not hold exactly the buffer's bytes.",
            where="Triggers: a missing or unreadable file; a file (or `.npy` array) whose size is not the buffer's.",
            examples=(
                Example("check tests/check/e073_init_file.aci", lines=((6, 6),), shows=(1,)),
            ),
        ),
        Code(
            "E080",
            "count out of range",
            "A `loop` or `repeat` runs zero times or more often than the image format allows, or a `for` has an empty or huge range.",
            where="Limits: `loop` and `repeat` 1 .. 2^24 iterations, `for` 1 .. 65536.",
            examples=(Example("check tests/check/e080_count.aci", lines=((9, 9),), shows=(2,)),),
        ),
        Code(
            "E081",
            "nesting too deep",
            "Loops nest deeper than the image format allows, or a `repeat` is nested in another.",
            where="Triggers: a fifth nested `loop` in a thread; a `repeat` inside a `repeat`.",
            examples=(
                Example("check tests/check/e081_nesting.aci", lines=((12, 14),), shows=(1,)),
            ),
        ),
        Code(
            "E082",
            "program uses no core",
            "A program runs no task and requests no reconfiguration: an image lists at least one core.",
            where="Reported at the program's name.",
            examples=(Example("check tests/check/e082_no_core.aci", lines=((4, 4),)),),
        ),
        Code(
            "E083",
            "too many cores",
            "A program uses more core kinds than an image can list (`max_cores`).",
            where="Reported at the first use of the core one too many (a task or a `reconfigure`).",
            examples=(Example("check tests/check/e083_too_many_cores.aci", lines=((136, 138),)),),
        ),
        Code(
            "E084",
            "too many operations",
            "A program may run more operations (tasks and reconfigurations, loops unrolled) than an image allows (`max_operations`); the count is an upper bound that counts one reconfiguration per slot in every window.",
            where="Reported at the program's name.",
            examples=(Example("check tests/check/e084_too_many_operations.aci", lines=((7, 13),)),),
        ),
        Code(
            "E085",
            "image too large",
            "A program's image may exceed the format's size (`max_image_bytes`), or would name more buffers or source files than its SYMBOLS section counts; the size is an upper bound over every schedule.",
            where="Reported at the program's name. The bound adds, for every window, a reconfiguration per slot besides its own requests, the loop of a window the balancer may split once per slot, and a wait per other slot for every task. A program needs some 30,000 tasks to reach the size; `tests/check/test_limits.py` lowers the limit to show it.",
        ),
        Code(
            "E086",
            "task too long",
            "A task takes longer, by the timing model, than the format's time limit (`max_time_ns`).",
            where="Reported at the task.",
            examples=(
                Example(
                    "check tests/check/e086_task_too_long.aci", lines=((6, 6), (14, 14), (19, 19))
                ),
            ),
        ),
        Code(
            "E087",
            "reconfiguration too long",
            "Loading a core's bitstream through the target's ICAP takes longer than the format's time limit (`max_time_ns`).",
            where="Reported at the core's first use in a program, with a note at its declaration.",
            examples=(
                Example(
                    "check tests/check/e087_reconfiguration_too_long.aci",
                    lines=((6, 6), (11, 11), (17, 17)),
                ),
            ),
        ),
        Code(
            "E088",
            "program too large to elaborate",
            "A compilation unit elaborates more than 262,144 statements (each `for` iteration counts): nested `for` ranges multiply.",
            where="Reported at the `for` whose expansion would pass the bound, before it is expanded.",
            examples=(Example("check tests/check/e088_too_many_statements.aci", lines=((8, 10),)),),
        ),
        Code(
            "E090",
            "statement out of place",
            "A statement stands where the hierarchy does not allow it (a `thread` outside a `parsec`, a `task` outside a `thread`, a `window` inside a `window`).",
            where="The message says where the statement belongs.",
            examples=(
                Example("check tests/check/e090_out_of_place.aci", lines=((9, 10),), shows=(3,)),
            ),
        ),
        Code(
            "E091",
            "no program",
            "`--program` names no program of the file, or the file has none.",
            where="Reported by `acic compile` (without a location) when `--program` names no program of the file, when the file has several programs and no `--program`, or when it has none. `acic check` accepts files without programs.",
            examples=(
                Example(
                    "compile --program nope tests/check/e091_program_not_found.aci", lines=((4, 5),)
                ),
            ),
        ),
        Code(
            "E100",
            "program and board of different targets",
            "A system's `run PROGRAM on BOARD` names a board whose target is not the one the program is built for (`program NAME on TARGET`).",
            where="Reported at the board's name in the `run`, with a note at the board's declaration.",
            examples=(
                Example("check tests/check/e100_board_of_another_target.aci", lines=((5, 11),)),
            ),
        ),
        Code(
            "E101",
            "no link between two ends",
            "Two ends of a system must exchange bytes but no `link` joins them: a stage reads a buffer that an earlier stage writes on another board (a transfer over a link that does not exist), or the host must load a board's image, send it inputs or collect its outputs.",
            where="Reported at the `run` of the stage that needs the bytes (or whose board needs loading), with a note at the stage that writes them.",
            examples=(
                Example("check tests/check/e101_no_link.aci", lines=((5, 12),), shows=(0, 1)),
            ),
        ),
        Code(
            "E102",
            "bad link",
            "A `link` joins an end to itself, or a second `link` joins the same two ends (a link is full duplex: `a <-> b` and `b <-> a` are one link).",
            where="Reported at the link, with a note at the first link between the same ends.",
            examples=(
                Example("check tests/check/e102_bad_link.aci", lines=((5, 10),), shows=(0, 1)),
            ),
        ),
        Code(
            "E103",
            "board runs two programs",
            "A board is named in two `run`s (or twice in one): a board runs one program, whose image it holds.",
            where="Reported at the second naming of the board, with a note at the first.",
            examples=(
                Example("check tests/check/e103_board_runs_two_programs.aci", lines=((5, 9),)),
            ),
        ),
        Code(
            "E104",
            "buffer used on a board that does not hold it",
            "A stage's program reads a buffer that no earlier stage writes, that is not an `input` the host sends, and that the program does not write itself: nothing puts its bytes on the stage's boards.",
            where="Reported at the stage's `run`, with a note at the buffer's declaration.",
            examples=(Example("check tests/check/e104_buffer_not_on_board.aci", lines=((5, 9),)),),
        ),
        Code(
            "E105",
            "bad stream",
            "`stream` names a buffer that no program of the system uses, or a scratch buffer: only inputs (sent) and outputs (collected) travel between the host and the boards; scratch buffers move between boards by placement.",
            where="Reported at the buffer's name in the `stream`.",
            examples=(
                Example("check tests/check/e105_bad_stream.aci", lines=((5, 14),), shows=(0, 1)),
            ),
        ),
        Code(
            "W001",
            "task longer than the watchdog",
            "A warning: a task takes longer, by the timing model, than the target's `watchdog`, so a run stops there with the run-time error `watchdog`.",
            where="Warnings are reported for a file that checks without errors: `acic check` prints them (stderr) and the file's ok line (stdout) and exits 0, `acic compile` prints them and writes the image. A file with errors reports its errors only.",
            examples=(
                Example(
                    "check tests/check/w001_task_longer_than_watchdog.aci",
                    lines=((9, 9), (16, 16), (21, 21)),
                ),
            ),
        ),
    ]
}


@record.frozen
class Note:
    message: str
    span: Span | None = None


@record.frozen
class Diagnostic:
    code: str
    message: str
    span: Span | None
    notes: tuple[Note, ...] = ()
    severity: str = "error"

    def sort_key(self):
        s = self.span
        return (0, "", 0, 0, self.code) if s is None else (1, s.file, s.line, s.column, self.code)


class AciError(Exception):
    """Base of every error acic reports to a user (never a crash)."""


class SourceError(AciError):
    """The front end's error: one or more diagnostics about source text."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        # the texts of the files, for rendering; set by the stage that loaded them
        self.sources: Mapping[str, str] | None = None
        super().__init__("\n".join(f"{d.code}: {d.message}" for d in self.diagnostics))


def error(code: str, message: str, span: Span | None, *notes: Note) -> Diagnostic:
    assert code in CODES, code
    return Diagnostic(code, message, span, tuple(notes))


def warning(code: str, message: str, span: Span | None, *notes: Note) -> Diagnostic:
    """A diagnostic that does not stop the input from being used (codes Wnnn)."""
    assert code in CODES and code.startswith("W"), code
    return Diagnostic(code, message, span, tuple(notes), "warning")


# ---- rendering --------------------------------------------------------------------

_RED, _BLUE, _BOLD, _RESET = "\x1b[31m", "\x1b[34m", "\x1b[1m", "\x1b[0m"


def _excerpt(span: Span, sources: Mapping[str, str], colour: bool, mark: str) -> list[str]:
    text = sources.get(span.file)
    if text is None:
        return []
    lines = text.split("\n")
    if not 1 <= span.line <= len(lines):
        return []
    line = lines[span.line - 1].replace("\t", " ")
    width = len(str(span.line))
    end = span.end_column if span.end_line == span.line else len(line) + 1
    start = max(span.column, 1)
    carets = mark * max(1, end - start)
    bar = " " * width + " |"
    blue = (lambda s: _BLUE + s + _RESET) if colour else (lambda s: s)
    red = (lambda s: _RED + _BOLD + s + _RESET) if colour else (lambda s: s)
    return [
        blue(bar),
        blue(f"{span.line} |") + " " + line,
        blue(bar) + " " + " " * (start - 1) + red(carets),
    ]


def render_text(
    diags: Iterable[Diagnostic], sources: Mapping[str, str], colour: bool = False
) -> str:
    out: list[str] = []
    for d in diags:
        head = f"{d.severity}[{d.code}]"
        if colour:
            head = _RED + _BOLD + head + _RESET + _BOLD
        out.append(f"{head}: {d.message}" + (_RESET if colour else ""))
        if d.span is not None:
            out.append(f"  --> {d.span}")
            out.extend(_excerpt(d.span, sources, colour, "^"))
        else:
            out.append("  --> <command line>")
        for n in d.notes:
            out.append(f"note: {n.message}")
            if n.span is not None:
                out.append(f"  --> {n.span}")
                out.extend(_excerpt(n.span, sources, colour, "-"))
        out.append("")
    return "\n".join(out)


def _span_json(s: Span | None) -> dict:
    if s is None:
        return {"file": None}
    return {
        "file": s.file,
        "line": s.line,
        "column": s.column,
        "end_line": s.end_line,
        "end_column": s.end_column,
    }


def to_json(d: Diagnostic) -> dict:
    return {
        "severity": d.severity,
        "code": d.code,
        "title": CODES[d.code].title,
        "message": d.message,
        **_span_json(d.span),
        "notes": [{"message": n.message, **_span_json(n.span)} for n in d.notes],
    }


def render_json(diags: Iterable[Diagnostic]) -> str:
    return json.dumps({"diagnostics": [to_json(d) for d in diags]}, indent=2)
