"""Workload 3 — a 1,000-entry config scope, built and evaluated: ``ConfigScope(f)()`` per second.

The scope's source is generated (1,000 assignments: constants, strings, lists, dicts and entries
computed from earlier ones, some with a comment that becomes documentation), written to a module
in a temporary folder and imported, so that both libraries can read the function's source the
way they do for a real config scope::

    python bench/workloads/config_scope.py --lib sacredx --out r.json --entries 1000 --evals 30
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path
from typing import Any

from _common import load, main, median, parser, scratch_dir


def scope_source(entries: int) -> str:
    """``def cfg():`` with *entries* assignments; every kind of entry a real scope holds."""
    lines = ["def cfg():"]
    for i in range(entries):
        kind = i % 5
        if kind == 0 or i == 0:
            lines.append(f"    v{i} = {i}  # entry number {i}")
        elif kind == 1:
            lines.append(f"    v{i} = v{i - 1} * 2 + 1")
        elif kind == 2:
            lines.append(f"    v{i} = 'name_{i}'")
        elif kind == 3:
            lines.append(f"    v{i} = [v{i - 3}, {i}, 0.5]")
        else:
            lines.append(f"    v{i} = {{'lr': 0.01 * {i}, 'depth': v{i - 4}}}")
    return "\n".join(lines) + "\n"


def import_scope(folder: Path, entries: int) -> Any:
    path = folder / "bench_scope_module.py"
    path.write_text(scope_source(entries), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("bench_scope_module", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.cfg


def body(args: argparse.Namespace) -> dict[str, Any]:
    lib = load(args.lib)
    ConfigScope = lib.module("config.config_scope").ConfigScope  # noqa: N806 - the library's name
    with scratch_dir("scope") as folder:
        func = import_scope(folder, args.entries)
        for _ in range(args.warmup):
            ConfigScope(func)()
        build_eval: list[float] = []
        eval_only: list[float] = []
        for _ in range(args.evals):
            t0 = time.perf_counter()
            scope = ConfigScope(func)
            t1 = time.perf_counter()
            cfg = scope()
            t2 = time.perf_counter()
            build_eval.append((t2 - t0) * 1000.0)
            eval_only.append((t2 - t1) * 1000.0)
    assert len(cfg) == args.entries, f"{len(cfg)} entries, expected {args.entries}"
    ms = median(build_eval)
    return {
        "metrics": {"scope_ms": ms, "scopes_per_s": 1000.0 / ms, "eval_only_ms": median(eval_only)},
        "samples": {"scope_ms": build_eval},
        "notes": {"entries": args.entries, "evals": args.evals},
    }


if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--entries", type=int, default=1000)
    p.add_argument("--evals", type=int, default=30)
    p.add_argument("--warmup", type=int, default=2)
    raise SystemExit(main(body, p.parse_args()))
