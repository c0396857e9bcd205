"""Workload 9 — checking 1,000 cases against baselines: the cost of ``--exp-regression``.

One folder holds the trivial experiment of workload 8 and, written once beforehand with
``--exp-regen``, a baseline per case. Then the same 1,000-case sweep runs as whole pytest processes,
alternately without and with ``--exp-regression`` (every case reads its baseline, pins its seed,
compares result and metrics), each from an empty default store so neither side inherits a bigger
database. The figure is the median per-case time of each and their ratio (target: ≤ 1.2)::

    python bench/workloads/pytest_regression.py --lib sacredx --out r.json --cases 1000 --repeats 3
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import Skipped, main, median, parser, scratch_dir
from pytest_sweep import EXPERIMENT, PASSED, _env, plugin_available


def _pytest(folder: Path, cases: int, *extra: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    cmd = [
        sys.executable, "-m", "pytest", "exp_trivial.py", "--exp-config", f"x=range(0,{cases})",
        "-q", "-p", "no:randomly", "-p", "sacredx", *extra,
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, env=_env(isolated=True))
    return time.perf_counter() - t0, proc


def _check(proc: subprocess.CompletedProcess[str], cases: int) -> None:
    found = PASSED.findall(proc.stdout)
    passed = int(found[-1]) if found else 0
    if proc.returncode != 0 or passed != cases:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"pytest exited {proc.returncode} with {passed} of {cases} passed:\n{tail}")


def body(args: argparse.Namespace) -> dict[str, Any]:
    if not plugin_available():
        raise Skipped("plugin not available yet: `pytest --help` does not show --exp-config")
    plain: list[float] = []
    checked: list[float] = []
    with scratch_dir("regression") as folder:
        (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        (folder / "exp_trivial.py").write_text(EXPERIMENT, encoding="utf-8")
        _, proc = _pytest(folder, args.cases, "--exp-regen")
        _check(proc, args.cases)
        baselines = len(list((folder / "baselines" / "trivial").glob("*.json")))
        if baselines != args.cases:
            raise RuntimeError(f"--exp-regen wrote {baselines} baselines for {args.cases} cases")
        for rep in range(args.repeats):
            order = [("plain", ()), ("regression", ("--exp-regression",))]
            for name, extra in order if rep % 2 == 0 else order[::-1]:
                shutil.rmtree(folder / ".sacredx", ignore_errors=True)
                wall, proc = _pytest(folder, args.cases, *extra)
                _check(proc, args.cases)
                if name == "regression" and f"{args.cases} checked" not in proc.stdout:
                    raise RuntimeError("the regression run did not check every case:\n" + proc.stdout[-2000:])
                (plain if name == "plain" else checked).append(wall * 1000.0 / args.cases)
    ms_plain, ms_checked = median(plain), median(checked)
    return {
        "metrics": {
            "ms_per_case_plain": ms_plain,
            "ms_per_case_regression": ms_checked,
            "regression_ratio": ms_checked / ms_plain,
        },
        "samples": {"ms_per_case_plain": plain, "ms_per_case_regression": checked},
        "notes": {"cases": args.cases, "repeats": args.repeats},
    }


if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0], sides=("sacredx",))
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3, help="timed processes per side (interleaved)")
    raise SystemExit(main(body, p.parse_args()))
