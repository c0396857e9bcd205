"""Workload 6 — 100,000 ``run.log_scalar`` calls in one run, incl. the final flush: calls per second.

The run is recorded by a FileStorageObserver so that the flush really writes ``metrics.json``; the
time is the whole ``ex.run()`` (start, calls, flush, completion), and the file is checked to hold
every value::

    python bench/workloads/log_scalar.py --lib sacredx --out r.json --calls 100000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from _common import QUIET, Lib, load, main, median, parser, scratch_dir


def build(lib: Lib, calls: int, loop_times: list[float]) -> Any:
    ex = lib.Experiment("bench_log_scalar")
    ex.add_config(calls=calls)

    @ex.main
    def log_many(calls: int, _run: Any) -> int:
        t0 = time.perf_counter()
        for i in range(calls):
            _run.log_scalar("loss", i * 0.5)
        loop_times.append(time.perf_counter() - t0)
        return calls

    return ex


def body(args: argparse.Namespace) -> dict[str, Any]:
    lib = load(args.lib)
    loop_times: list[float] = []
    rates: list[float] = []
    with scratch_dir("metrics") as store:
        ex = build(lib, 1000, loop_times)
        ex.observers.append(lib.observer("file", store / "warm"))
        ex.run(options=QUIET)  # warm-up: imports, provenance, the first store
        ex = build(lib, args.calls, loop_times)
        ex.observers.append(lib.observer("file", store / "runs"))
        loop_times.clear()
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            run = ex.run(options=QUIET)
            rates.append(args.calls / (time.perf_counter() - t0))
            recorded = json.loads((store / "runs" / str(run._id) / "metrics.json").read_text())
            n = len(recorded["loss"]["values"])
            assert n == args.calls, f"metrics.json holds {n} of {args.calls} values"
    return {
        "metrics": {
            "calls_per_s": median(rates),
            "loop_calls_per_s": args.calls / median(loop_times),
        },
        "samples": {"calls_per_s": rates},
        "notes": {"calls": args.calls, "repeats": args.repeats},
    }


if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=3, help="runs per process")
    raise SystemExit(main(body, p.parse_args()))
