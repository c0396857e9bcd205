"""Workload 1 — import time: ``python -c "from <package> import Experiment"`` (what a user writes; the
package itself defines ``Experiment`` on first use) minus a bare ``python -c pass``.

Each sample is one pair of fresh interpreters started back to back (the order alternates), so
both share the machine's noise; the result is the median difference in milliseconds::

    python bench/workloads/import_time.py --lib sacredx --out r.json --samples 15
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from typing import Any

from _common import PACKAGES, main, median, parser


def _wall(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def body(args: argparse.Namespace) -> dict[str, Any]:
    statement = f"from {PACKAGES[args.lib]} import Experiment"
    _wall(statement)  # warm the OS page cache and any __pycache__ writes
    diffs: list[float] = []
    for i in range(args.samples):
        if i % 2:
            base = _wall("pass")
            full = _wall(statement)
        else:
            full = _wall(statement)
            base = _wall("pass")
        diffs.append((full - base) * 1000.0)
    return {
        "metrics": {"import_ms": median(diffs)},
        "samples": {"import_ms": diffs},
        "notes": {"statement": statement, "samples": args.samples},
    }


if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=15, help="interpreter pairs to time")
    a = p.parse_args()
    raise SystemExit(main(body, a))
