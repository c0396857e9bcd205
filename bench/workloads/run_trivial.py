"""Workload 2 — ``ex.run()`` of a trivial experiment, no observers: runs per second.

The experiment has a 10-entry config scope (constants and entries computed from earlier ones)
and one captured function called from the main function; every run passes ``--loglevel ERROR``::

    python bench/workloads/run_trivial.py --lib sacredx --out r.json --runs 500
"""

# ruff: noqa: F841  (a config scope's locals are its entries, read by the library)

from __future__ import annotations

import argparse
import time
from typing import Any

from _common import QUIET, Lib, load, main, parser


def build(lib: Lib) -> Any:
    """The trivial experiment used by several workloads (defined here so its main file is a script)."""
    ex = lib.Experiment("bench_trivial")

    @ex.config
    def cfg() -> None:  # its local variables are the 10 entries
        a = 1
        b = 2.5
        name = "trivial"
        layers = [64, 64]
        optimizer = {"lr": 0.01, "momentum": 0.9}
        scale = a * b
        depth = len(layers)
        label = name + "-" + str(depth)
        steps = 10
        flag = steps > 5

    @ex.capture
    def combine(a: int, b: float, scale: float) -> float:
        return a + b + scale

    @ex.main
    def run_main(depth: int, steps: int) -> float:
        return combine() * depth + steps

    return ex


def body(args: argparse.Namespace) -> dict[str, Any]:
    ex = build(load(args.lib))
    for _ in range(args.warmup):
        ex.run(options=QUIET)
    block_rates: list[float] = []
    t_all = time.perf_counter()
    done = 0
    while done < args.runs:
        n = min(args.block, args.runs - done)
        t0 = time.perf_counter()
        for _ in range(n):
            run = ex.run(options=QUIET)
        block_rates.append(n / (time.perf_counter() - t0))
        done += n
    elapsed = time.perf_counter() - t_all
    assert run.result == (1 + 2.5 + 2.5) * 2 + 10, run.result
    return {
        "metrics": {"runs_per_s": args.runs / elapsed},
        "samples": {"block_runs_per_s": block_rates},
        "notes": {"runs": args.runs, "warmup": args.warmup},
    }


if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--block", type=int, default=100, help="runs per timed block (for the spread)")
    raise SystemExit(main(body, p.parse_args()))
