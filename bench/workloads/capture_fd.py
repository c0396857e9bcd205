"""Workload 7 — ``fd`` capture of 100,000 printed lines in one run: time, and lines lost in cout.txt.

Run with stdout on a pipe that the harness drains (as under CI or a job scheduler): the run prints
numbered lines with ``--capture fd`` into a FileStorageObserver, and ``cout.txt`` is checked for
every line number. Sacred tees through ``tee`` subprocesses and can lose output here; its losses are
reported, not treated as an error::

    python bench/workloads/capture_fd.py --lib sacredx --out r.json --lines 100000 --repeats 3 | cat >/dev/null
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

from _common import QUIET, Lib, load, main, median, parser, scratch_dir

LINE = re.compile(r"^bench line (\d+) ", re.MULTILINE)


def build(lib: Lib, lines: int) -> Any:
    ex = lib.Experiment("bench_capture_fd")
    ex.add_config(lines=lines)

    @ex.main
    def print_many(lines: int) -> int:
        for i in range(lines):
            print(f"bench line {i} of the fd capture workload")
        return lines

    return ex


def lines_missing(text: str, lines: int) -> int:
    seen = {int(m) for m in LINE.findall(text)}
    return lines - len(seen & set(range(lines)))


def body(args: argparse.Namespace) -> dict[str, Any]:
    lib = load(args.lib)
    options = {**QUIET, "--capture": "fd"}
    times: list[float] = []
    lost: list[int] = []
    with scratch_dir("capture") as store:
        ex = build(lib, 100)
        ex.observers.append(lib.observer("file", store / "warm"))
        ex.run(options=options)
        ex = build(lib, args.lines)
        ex.observers.append(lib.observer("file", store / "runs"))
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            run = ex.run(options=options)
            times.append(time.perf_counter() - t0)
            cout = store / "runs" / str(run._id) / "cout.txt"
            text = cout.read_text(encoding="utf-8", errors="replace") if cout.exists() else ""
            lost.append(lines_missing(text, args.lines))
    return {
        "metrics": {
            "time_s": median(times),
            "lines_lost": float(sum(lost)),
            "runs_with_loss": float(sum(1 for n in lost if n)),
        },
        "samples": {"time_s": times},
        "notes": {"lines": args.lines, "repeats": args.repeats, "lost_per_run": lost},
    }


if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--lines", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=3, help="runs per process")
    raise SystemExit(main(body, p.parse_args()))
