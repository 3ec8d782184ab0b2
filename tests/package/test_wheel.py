"""`pip install` works: a wheel of this checkout, installed into a fresh virtual
environment, checks, compiles and runs programs from outside the checkout, with the
grammar and the shipped library read from the installed package (issue 12.4).

No network: the wheel is built with the test environment's setuptools
(``--no-build-isolation``), installed with ``--no-deps --no-index``, and the fresh
environment sees the test environment's third-party packages through a ``.pth`` line
(which adds that directory to ``sys.path`` without running its ``.pth`` files, so the
checkout's editable install of acic stays invisible to it).
"""

import json
import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def run(args, cwd, **kw):
    p = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=120, **kw
    )
    assert p.returncode == 0, f"{args} exited {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p.stdout


def test_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    dist, env_dir, work = tmp_path / "dist", tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            dist,
            ROOT,
        ],
        cwd=work,
    )
    [wheel] = dist.glob("aci-*.whl")
    run([sys.executable, "-m", "venv", env_dir], cwd=work)
    py = env_dir / "bin" / "python"
    run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel], cwd=work)
    purelib = Path(
        run(
            [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=work
        ).strip()
    )
    deps = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    (purelib / "_acic_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ACIC_PATH")}

    # acic runs from the installed package, its grammar and library inside it.
    where = json.loads(
        run(
            [
                py,
                "-c",
                "import aci, aci.resources as r, json; print(json.dumps("
                "[aci.__file__, str(r.grammar_file()), str(r.library_dir())]))",
            ],
            cwd=work,
            env=env,
        )
    )
    for path in where:
        assert Path(path).resolve().is_relative_to(env_dir.resolve()), where
    library = Path(where[2])
    assert (library / "targets" / "zcu102.aci").is_file() and (
        library / "cores" / "bnn.aci"
    ).is_file()

    acic = env_dir / "bin" / "acic"
    import aci

    assert run([acic, "--version"], cwd=work, env=env) == f"acic {aci.__version__}\n"
    assert "ok (bnn_pr)" in run([acic, "check", library / "bnn_pr.aci"], cwd=work, env=env)
    run([acic, "compile", library / "examples" / "hello.aci", "-o", "hello.acx"], cwd=work, env=env)
    (work / "src.bin").write_bytes(bytes(range(256)) * 16)
    out = run(
        [acic, "run", "hello.acx", "--set", "src=src.bin", "--get", "dst=dst.npy"],
        cwd=work,
        env=env,
    )
    assert "tasks       1" in out
    # The test core's function (docs/execution.md): y[k] = 5 a[k] + salt + 3 slot + k.
    a = np.frombuffer((work / "src.bin").read_bytes(), np.uint8).astype(np.int64)
    dst = np.load(work / "dst.npy")
    k = np.arange(4096)
    assert any(
        np.array_equal(dst, ((5 * a + 1 + 3 * s + k) % 256).astype(np.uint8)) for s in range(4)
    )
    # The example of a user's own core runs with its Python model, both shipped.
    out = run(
        [
            acic,
            "run",
            library / "examples" / "custom_core.aci",
            "--models",
            library / "examples" / "models" / "mix.py",
        ],
        cwd=work,
        env=env,
    )
    assert "tasks       8" in out


def test_every_package_of_aci_ships():
    """pyproject.toml lists the packages (the mapped grammar and library rule out
    automatic discovery): a new subpackage of aci/ must be listed, or the wheel would
    lack it."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "aci").rglob("__init__.py")
    }
    assert found - listed == set(), (
        f"add to [tool.setuptools] packages in pyproject.toml: {sorted(found - listed)}"
    )
