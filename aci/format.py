"""The ACI image format, defined once, as data.

(The limits come first: the checker enforces them on source programs so that every
program it accepts can be encoded.)
"""

from __future__ import annotations

# Limits of the image format. The validator refuses an image that exceeds one; the
# checker refuses a program that would need to.
LIMITS = {
    "max_slots": 16,            # slot indices are 0 .. max_slots - 1
    "max_loop_count": 1 << 24,  # iterations of one LOOP
    "max_repeat_count": 1 << 24,
    "max_loop_depth": 4,        # LOOPs nested in one THREAD
    "max_ports": 8,             # ports of one core
    "max_params": 16,           # parameter words of one task
    "max_cycles": (1 << 32) - 1,
    "max_cores": 64,
}
