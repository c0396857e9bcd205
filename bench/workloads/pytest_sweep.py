"""Workload 8 — a 1,000-case sweep in one whole pytest process: milliseconds per case.

Three sides, each one ``python -m pytest FILE -q -p no:randomly`` in a fresh folder, timed as a
whole (start-up included) and divided by the number of cases. By default (``--plugins isolated``)
third-party plugin autoloading is off on every side (``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``) and our
side loads only ours (``-p sacredx``): whatever else happens to be installed (hypothesis, xdist,
pytest-benchmark add ~1 ms/case here) does not blur the comparison. ``--plugins installed`` runs
with every installed plugin instead.

- ``sacredx``: ``exp_trivial.py`` (a trivial experiment) swept by our plugin with
  ``--exp-config x=range(0,N)`` and recorded into the default store;
- ``bare``: ``@pytest.mark.parametrize`` over the same N cases with the same trivial body;
- ``sacred``: a parametrized test calling Sacred 0.8.7's ``ex.run()`` with a FileStorageObserver.

Our side is skipped, with a "plugin not available yet" result, while ``pytest --help`` does not
list ``--exp-config``::

    python bench/workloads/pytest_sweep.py --lib bare --out r.json --cases 1000
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import Skipped, main, median, parser, scratch_dir

EXPERIMENT = '''\
"""A trivial experiment swept by the pytest plugin."""
from pytest_sacredx import Experiment

ex = Experiment("trivial")


@ex.config
def cfg():
    x = 0


@ex.main
def main(x):
    return x * 2
'''

BARE = '''\
"""The same trivial body as bare pytest cases."""
import pytest


@pytest.mark.parametrize("x", range({cases}))
def test_trivial(x):
    assert x * 2 == x + x
'''

SACRED = '''\
"""The same trivial experiment, each case one Sacred 0.8.7 ex.run() recorded to files."""
import pytest
from sacred import Experiment
from sacred.observers import FileStorageObserver

ex = Experiment("trivial")
ex.observers.append(FileStorageObserver({store!r}))


@ex.config
def cfg():
    x = 0


@ex.main
def main(x):
    return x * 2


@pytest.mark.parametrize("x", range({cases}))
def test_trivial(x):
    run = ex.run(config_updates={{"x": x}}, options={{"--loglevel": "ERROR"}})
    assert run.result == 2 * x
'''

PASSED = re.compile(r"(\d+) passed")


RECORDED = re.compile(r"(\d+) runs recorded")


def _env(isolated: bool) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        env.pop(name, None)
    if isolated:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def plugin_available() -> bool:
    """Whether this interpreter's pytest knows our sweep option."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "sacredx", "--help"],
        capture_output=True,
        text=True,
        env=_env(isolated=True),
    )
    return "--exp-config" in out.stdout


def command(lib: str, folder: Path, cases: int, isolated: bool) -> list[str]:
    if lib == "sacredx":
        (folder / "exp_trivial.py").write_text(EXPERIMENT, encoding="utf-8")
        target = ["exp_trivial.py", "--exp-config", f"x=range(0,{cases})"]
        if isolated:
            target += ["-p", "sacredx"]
    elif lib == "bare":
        (folder / "test_bare.py").write_text(BARE.format(cases=cases), encoding="utf-8")
        target = ["test_bare.py"]
    else:
        source = SACRED.format(cases=cases, store=str(folder / "runs"))
        (folder / "test_sacred.py").write_text(source, encoding="utf-8")
        target = ["test_sacred.py"]
    return [sys.executable, "-m", "pytest", *target, "-q", "-p", "no:randomly"]


def body(args: argparse.Namespace) -> dict[str, Any]:
    if args.lib == "sacredx" and not plugin_available():
        raise Skipped("plugin not available yet: `pytest --help` does not show --exp-config")
    isolated = args.plugins == "isolated"
    per_case: list[float] = []
    recorded: list[int] = []
    for _ in range(args.repeats):
        with scratch_dir(f"sweep-{args.lib}") as folder:
            (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
            cmd = command(args.lib, folder, args.cases, isolated)
            t0 = time.perf_counter()
            proc = subprocess.run(
                cmd, cwd=folder, capture_output=True, text=True, env=_env(isolated)
            )
            wall = time.perf_counter() - t0
            found = PASSED.findall(proc.stdout)
            passed = int(found[-1]) if found else 0
            if proc.returncode != 0 or passed != args.cases:
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
                raise RuntimeError(
                    f"pytest exited {proc.returncode} with {passed} of {args.cases} passed:\n{tail}"
                )
            per_case.append(wall * 1000.0 / args.cases)
            if args.lib == "sacredx":
                said = RECORDED.findall(proc.stdout)
                recorded.append(int(said[-1]) if said else -1)
    notes: dict[str, Any] = {
        "cases": args.cases,
        "repeats": args.repeats,
        "plugins": args.plugins,
        "command": " ".join(cmd[1:]),
    }
    if recorded:
        notes["runs_recorded_per_process"] = recorded
    return {
        "metrics": {"ms_per_case": median(per_case)},
        "samples": {"ms_per_case": per_case},
        "notes": notes,
    }


if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0], sides=("sacredx", "bare", "sacred"))
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=1, help="pytest processes per invocation")
    p.add_argument(
        "--plugins",
        choices=("isolated", "installed"),
        default="isolated",
        help="isolated: no plugin autoloading (ours loaded with -p sacredx); installed: all of them",
    )
    raise SystemExit(main(body, p.parse_args()))
