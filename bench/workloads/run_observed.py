"""Workloads 4 and 5 — ``ex.run()`` recorded by a FileStorageObserver or a TinyDbObserver.

The trivial experiment of ``run_trivial.py`` runs ``--runs`` times into a fresh store (after a few
warm-up runs into another one); the result is runs per second over those runs.

With ``--blocks K`` the cost of a run into a small store is compared with the cost of a run into
a big one: the store keeps filling up to ``--grow-to`` runs (or stays at ``--runs``), then K times a
fresh store is opened and ``--block`` runs alternate between it and the big store — runs 1–20 of a
fresh store (around the 10th) against runs 2,001–2,100 of the big one, timed side by side so that
both share the machine's noise. ``growth`` is the ratio of their median costs::

    python bench/workloads/run_observed.py --lib sacredx --out r.json --observer file --runs 200
    python bench/workloads/run_observed.py --lib sacredx --out r.json --observer tinydb \
        --runs 200 --grow-to 2000 --blocks 5
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
    kind = args.observer
    with scratch_dir(f"{kind}-warm") as warm, scratch_dir(kind) as big, scratch_dir(kind) as small:
        metrics: dict[str, float] = {}
        ex.observers[:] = [lib.observer(kind, warm / "store")]
        for _ in range(args.warmup):
            ex.run(options=QUIET)
        big_store = lib.observer(kind, big / "store")
        ex.observers[:] = [big_store]

        def timed_run() -> float:
            t0 = time.perf_counter()
            run = ex.run(options=QUIET)
            took = time.perf_counter() - t0
            assert run.status == "COMPLETED", run.status
            return took

        t0 = time.perf_counter()
        per_run = [timed_run() for _ in range(args.runs)]
        metrics["runs_per_s"] = args.runs / (time.perf_counter() - t0)
        # Within the timed runs alone (not interleaved, so noisier than "growth").
        metrics["growth_within_runs"] = median(per_run[-args.block :]) / median(
            per_run[: args.block]
        )
        notes: dict[str, Any] = {"observer": kind, "runs": args.runs, "warmup": args.warmup}
        if args.blocks:
            for _ in range(args.grow_to - args.runs):
                timed_run()
            filled = max(args.grow_to, args.runs)
            early: list[float] = []
            late: list[float] = []
            for k in range(args.blocks):
                small_store = lib.observer(kind, small / f"store{k}")
                for _ in range(args.block):
                    ex.observers[:] = [small_store]
                    early.append(timed_run())
                    ex.observers[:] = [big_store]
                    late.append(timed_run())
            metrics["early_block_ms"] = median(early) * 1000.0
            metrics["late_block_ms"] = median(late) * 1000.0
            metrics["growth"] = median(late) / median(early)
            notes["early_block"] = f"runs 1-{args.block} of {args.blocks} fresh store(s)"
            notes["late_block"] = f"runs {filled + 1}-{filled + len(late)} of the filled store"
    return {"metrics": metrics, "notes": notes}


if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--observer", choices=("file", "tinydb"), required=True)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--block", type=int, default=20, help="runs per block compared for growth")
    p.add_argument("--blocks", type=int, default=0, help="fresh small stores for the growth ratio")
    p.add_argument("--grow-to", type=int, default=0, help="fill the big store to this many runs")
    raise SystemExit(main(body, p.parse_args()))
