"""Running a loop's iterations as one batched model call is exactly equivalent to
program order: the overlap test against brute force, and random TEST programs
against a plain sequential interpreter."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from aci.decode import decode
from aci.image import Loop, Repeat, Task
from aci.run import _meet, run_image

from ..image.builder import image, loop, parsec, repeat, task, thread, window


@settings(max_examples=400, deadline=None)
@given(
    x=st.integers(0, 60),
    s=st.integers(-12, 12),
    la=st.integers(1, 9),
    y=st.integers(0, 60),
    t=st.integers(-12, 12),
    lb=st.integers(1, 9),
    n=st.integers(1, 7),
    later=st.booleans(),
)
def test_meet_is_exact(x, s, la, y, t, lb, n, later):
    brute = any(
        x + s * i < y + t * k + lb and y + t * k < x + s * i + la
        for i in range(n)
        for k in range(n)
        if (i > k if later else i != k)
    )
    assert _meet(x, s, la, y, t, lb, n, later) == brute


def test_meet_is_exact_on_huge_numbers():
    """Strides near 2^63 are Python integers to the overlap oracle: no overflow guard."""
    assert _meet(0, 1 << 61, 1, 1 << 62, 1 << 61, 1, 4, False)
    assert not _meet(0, 1 << 61, 1, 1, 1 << 61, 1, 4, False)


def sequential(data: bytes, mem: np.ndarray) -> np.ndarray:
    """Every task of the image in program order, one at a time (TEST cores only)."""
    img = decode(data)
    mem = mem.copy()

    def walk(nodes, idx):
        for n in nodes:
            if isinstance(n, Task):
                n_bytes, salt = img.params[n.param_offset : n.param_offset + 2]
                a, y = (
                    p.address + sum(s * i for s, i in zip(p.strides, idx, strict=True))
                    for p in n.ports
                )
                src = mem[a : a + n_bytes].copy()
                mem[y : y + n_bytes] = (
                    5 * src.astype(np.int64) + salt + 3 * n.slot + np.arange(n_bytes)
                ) % 256
            elif isinstance(n, Loop):
                for i in range(n.count):
                    walk(n.body, idx + (i,))
            elif isinstance(n, Repeat):
                for i in range(n.count):
                    walk(n.windows, idx + (i,))
            else:
                for p in n.parsecs:
                    for th in p.threads:
                        walk(th.body, idx)

    walk(img.body, ())
    return mem


@st.composite
def programs(draw):
    """A window with slots 0 and 1 holding TEST and one thread of loops over tasks whose
    views (16 bytes, strides -48 .. 48) overlap often, inside a REPEAT or not."""
    in_repeat = draw(st.booleans())
    params: list[int] = []

    def a_task(levels: int) -> Task:
        params.extend([16, draw(st.integers(0, 255))])
        strides = tuple(
            (
                draw(st.integers(-3, 3)) * 16 + draw(st.sampled_from([0, 0, 8])),
                draw(st.integers(-3, 3)) * 16,
            )
            for _ in range(levels)
        )
        return task(
            draw(st.integers(0, 1)),
            1000 + 8 * draw(st.integers(0, 12)),
            1000 + 8 * draw(st.integers(0, 12)),
            n=16,
            strides=strides,
            params=len(params) - 2,
        )

    outer = int(in_repeat)
    body = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            body.append(a_task(outer))
        else:
            count = draw(st.integers(1, 5))
            inner = [a_task(outer + 1) for _ in range(draw(st.integers(1, 3)))]
            body.append(loop(count, *inner))
    w = window([(0, 200), (1, 200)], parsec(thread(*body)))
    node = repeat(draw(st.integers(1, 3)), w) if in_repeat else w
    return image(node, params=tuple(params))


@settings(max_examples=150, deadline=None)
@given(data=programs(), seed=st.integers(0, 2**32 - 1))
def test_random_programs_match_program_order(data, seed):
    mem = np.random.default_rng(seed).integers(0, 256, 65536, dtype=np.uint8)
    for mode in ("strict", "dataflow"):
        r = run_image(data, mode, inputs={"mem": mem})
        assert r.ok
        assert (r.board.array("mem") == sequential(data, mem)).all()


def test_independent_multi_task_loop_is_batched(monkeypatch):
    # Two stages per iteration on private slices: task 0 for all iterations, then task 1.
    from aci import run as run_module

    verdicts = []
    original = run_module._Effects.run_batched
    monkeypatch.setattr(
        run_module._Effects,
        "run_batched",
        lambda self, lp: verdicts.append(original(self, lp)) or verdicts[-1],
    )
    data = image(
        window(
            [(0, 200), (1, 200)],
            parsec(
                thread(
                    loop(
                        5,
                        task(0, 0, 4000, strides=((100, 100),)),
                        task(1, 4000, 8000, strides=((100, 100),), params=2),
                    )
                )
            ),
        ),
        params=(100, 1, 100, 2),
    )
    mem = np.random.default_rng(5).integers(0, 256, 65536, dtype=np.uint8)
    r = run_image(data, inputs={"mem": mem})
    assert verdicts == [True]
    assert (r.board.array("mem") == sequential(data, mem)).all()
