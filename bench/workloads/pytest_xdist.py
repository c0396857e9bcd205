"""Workload 10 — a CPU-bound sweep, serial against ``-n 2``: the speed-up xdist gives our plugin.

Each case of ``exp_cpu.py`` burns about ``--work`` milliseconds of CPU in pure Python; the sweep runs
once with ``-p no:xdist`` and once with ``-n 2`` (both with plugin autoloading off, loading only
ours and xdist), timed as whole processes. Reported: serial seconds, ``-n 2`` seconds, and
``speedup = serial / parallel`` (target ≥ 1.6 on a 2-core machine)::

    python bench/workloads/pytest_xdist.py --lib sacredx --out r.json --cases 40 --work 50
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Any

from _common import main, median, parser, scratch_dir

EXPERIMENT = '''\
"""A CPU-bound experiment: each case burns about {work} ms in pure Python."""
import time
from pytest_sacredx import Experiment

ex = Experiment("cpu")


@ex.config
def cfg():
    x = 0
    work_ms = {work}


@ex.main
def main(x, work_ms):
    end = time.process_time() + work_ms / 1000
    total = 0
    while time.process_time() < end:
        total += sum(i * i for i in range(200))
    return x
'''


def _run(folder: Any, cases: int, parallel: bool) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    cmd = [sys.executable, "-m", "pytest", "exp_cpu.py", "-q", "-p", "sacredx",
           "--exp-config", f"x=range(0,{cases})", "--exp-summary=no"]
    cmd += ["-p", "xdist", "-n", "2"] if parallel else ["-p", "no:xdist"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0 or f"{cases} passed" not in proc.stdout:
        raise RuntimeError(f"pytest failed ({proc.returncode}): {proc.stdout[-800:]}{proc.stderr[-800:]}")
    return elapsed


def body(args: argparse.Namespace) -> dict[str, Any]:
    serial: list[float] = []
    parallel: list[float] = []
    for _ in range(args.repeats):
        with scratch_dir("xdist") as folder:
            (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
            (folder / "exp_cpu.py").write_text(EXPERIMENT.format(work=args.work), encoding="utf-8")
            serial.append(_run(folder, args.cases, parallel=False))
            parallel.append(_run(folder, args.cases, parallel=True))
    return {
        "metrics": {
            "serial_s": median(serial),
            "parallel_s": median(parallel),
            "speedup": median([s / p for s, p in zip(serial, parallel, strict=True)]),
        },
        "samples": {"serial_s": serial, "parallel_s": parallel},
        "notes": {"cases": args.cases, "work_ms": args.work},
    }


if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=40)
    p.add_argument("--work", type=int, default=50, help="CPU milliseconds per case")
    p.add_argument("--repeats", type=int, default=2)
    raise SystemExit(main(body, p.parse_args()))
