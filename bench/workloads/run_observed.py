"""Workloads 4 and 5 — ``ex.run()`` recorded by a FileStorageObserver or a TinyDbObserver.

The trivial experiment of ``run_trivial.py`` runs ``--runs`` times into a fresh store (after a few
warm-up runs into another one); the result is runs per second over those runs. With ``--grow-to``
the same store keeps filling up to that many runs, and the median cost of a block of runs at the
start (runs 1–``--block``, around the 10th) is compared with a block after ``--grow-to`` runs::

    python bench/workloads/run_observed.py --lib sacredx --out r.json --observer file --runs 200
    python bench/workloads/run_observed.py --lib sacredx --out r.json --observer tinydb --runs 200 --grow-to 2000
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from _common import QUIET, load, main, median, parser, scratch_dir
from run_trivial import build


def body(args: argparse.Namespace) -> dict[str, Any]:
    lib = load(args.lib)
    ex = build(lib)
    with scratch_dir(f"{args.observer}-warm") as warm, scratch_dir(args.observer) as store:
        ex.observers.append(lib.observer(args.observer, warm / "store"))
        for _ in range(args.warmup):
            ex.run(options=QUIET)
        ex.observers[:] = [lib.observer(args.observer, store / "store")]

        per_run: list[float] = []

        def one() -> None:
            t0 = time.perf_counter()
            run = ex.run(options=QUIET)
            per_run.append(time.perf_counter() - t0)
            assert run.status == "COMPLETED", run.status

        t0 = time.perf_counter()
        for _ in range(args.runs):
            one()
        elapsed = time.perf_counter() - t0
        metrics: dict[str, float] = {"runs_per_s": args.runs / elapsed}
        notes: dict[str, Any] = {
            "runs": args.runs,
            "warmup": args.warmup,
            "observer": args.observer,
        }
        first = median(per_run[: args.block]) * 1000.0
        metrics["first_block_ms"] = first
        # How much later runs cost within the measured runs (Sacred's TinyDB store slows down here).
        metrics["growth_within_runs"] = (
            median(per_run[args.runs - args.block : args.runs]) * 1000.0 / first
        )
        if args.grow_to > args.runs:
            for _ in range(args.grow_to - args.runs):
                one()
            late = per_run[-args.block :]
            per_run.clear()
            for _ in range(args.block):
                one()
            metrics["late_block_ms"] = median(per_run) * 1000.0
            metrics["growth"] = metrics["late_block_ms"] / first
            notes["grow_to"] = args.grow_to
            notes["runs_before_late_block"] = args.grow_to
            notes["last_grow_block_ms"] = median(late) * 1000.0
    return {"metrics": metrics, "notes": notes}


if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--observer", choices=("file", "tinydb"), required=True)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--block", type=int, default=20, help="runs per block compared for growth")
    p.add_argument(
        "--grow-to", type=int, default=0, help="fill the store to this many runs, then time a block"
    )
    raise SystemExit(main(body, p.parse_args()))
