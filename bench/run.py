"""Side-by-side benchmark of pytest-sacredx against Sacred 0.8.7: one invocation, one table.

Every workload in ``bench/workloads/`` is a small script that runs under either library (the APIs
are the same; ``--lib`` picks the package). This harness runs each workload for each side in fresh
subprocesses — ours in this interpreter, Sacred in ``bench/.venv-sacred`` (created on first use by
``sacred_env.py``) — several times, alternating the order of the sides between repetitions so that
they share the machine's noise, and prints medians, ratios and the targets from the issues::

    python bench/run.py                 # full run (about 10–15 minutes)
    python bench/run.py --quick         # fewer repetitions and smaller sizes (about 5 minutes)
    python bench/run.py --only run --only tinydb --json out.json
    python bench/run.py --list

The machine is shared and noisy: only medians and ratios are reported, never absolute-time
assertions. A side that fails or is not finished yet shows "n/a" with its error below the table;
the harness itself never crashes on a workload. Only the standard library is used here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

BENCH_DIR = Path(__file__).resolve().parent
WORKLOADS_DIR = BENCH_DIR / "workloads"
sys.path.insert(0, str(BENCH_DIR))

from sacred_env import SACRED_VERSION, ensure_sacred_venv  # noqa: E402 - needs the path above

Mode = Literal["quick", "full"]
Side = Literal["sacredx", "sacred", "bare"]

SIDE_TITLES: dict[str, str] = {
    "sacredx": "pytest-sacredx",
    "sacred": f"Sacred {SACRED_VERSION}",
    "bare": "bare pytest",
}


# --------------------------------------------------------------------------------------------
# What is measured


@dataclass(frozen=True)
class Row:
    """One line of the table: a metric of our side against an anchor side or a fixed bound.

    ``kind="ratio"``: ratio = ours / anchor, PASS when ``ratio <op> target``.
    ``kind="ours"``: PASS when ``ours <op> target``; the anchor's figure is shown for information.
    ``kind="info"``: no target.
    """

    label: str
    metric: str
    unit: str
    kind: Literal["ratio", "ours", "info"]
    op: Literal[">=", "<="] = ">="
    target: float = 0.0
    target_text: str = ""
    anchor: Side = "sacred"
    anchor_metric: str | None = None
    agg: Literal["median", "sum"] = "median"
    digits: int = 1


@dataclass(frozen=True)
class Workload:
    """A script in ``bench/workloads`` and how to run and judge it."""

    name: str
    title: str
    script: str
    rows: tuple[Row, ...]
    args: Callable[[Mode, str], list[str]]
    reps: dict[str, int]
    sides: tuple[Side, ...] = ("sacredx", "sacred")
    timeout: float = 900.0


def _fixed(quick: list[str], full: list[str]) -> Callable[[Mode, str], list[str]]:
    return lambda mode, side: list(quick if mode == "quick" else full)


def _tinydb_args(mode: Mode, side: str) -> list[str]:
    # Runs/s over 200 runs on both sides; then the growth ratio, runs 1-20 of fresh stores
    # interleaved with runs into the big store: ours filled to 2,000 runs (5 blocks of 20 pairs),
    # Sacred's left at 200 runs (one block: it slows down too much for more).
    args = ["--observer", "tinydb", "--runs", "200"]
    return args + (
        ["--grow-to", "2000", "--blocks", "5"] if side == "sacredx" else ["--blocks", "1"]
    )


WORKLOADS: tuple[Workload, ...] = (
    Workload(
        name="import",
        title="1. import time",
        script="import_time.py",
        args=_fixed(["--samples", "5"], ["--samples", "5"]),
        reps={"quick": 3, "full": 5},
        rows=(
            Row(
                "`from … import Experiment`, minus `python -c pass`",
                "import_ms",
                "ms",
                "ratio",
                "<=",
                1 / 3,
                "≤ 1/3",
            ),
        ),
    ),
    Workload(
        name="run",
        title="2. ex.run(), no observers",
        script="run_trivial.py",
        args=_fixed(["--runs", "300"], ["--runs", "1000"]),
        reps={"quick": 3, "full": 5},
        rows=(
            Row(
                "ex.run(), 10-entry scope + captured fn, no observers",
                "runs_per_s",
                "runs/s",
                "ratio",
                ">=",
                2,
                "≥ 2×",
            ),
        ),
    ),
    Workload(
        name="scope",
        title="3. 1,000-entry config scope",
        script="config_scope.py",
        args=_fixed(["--evals", "10"], ["--evals", "30"]),
        reps={"quick": 3, "full": 5},
        rows=(
            Row(
                "ConfigScope(f)() of 1,000 entries (build + evaluate)",
                "scope_ms",
                "ms",
                "ratio",
                "<=",
                0.5,
                "≤ 0.5 (≥ 2× faster)",
            ),
            Row(
                "  … evaluate only (scope built once, as per run)",
                "eval_only_ms",
                "ms",
                "info",
                digits=2,
            ),
        ),
    ),
    Workload(
        name="file",
        title="4. ex.run() + FileStorageObserver",
        script="run_observed.py",
        args=_fixed(
            ["--observer", "file", "--runs", "200"], ["--observer", "file", "--runs", "200"]
        ),
        reps={"quick": 3, "full": 5},
        rows=(
            Row(
                "ex.run() + FileStorageObserver, 200 runs",
                "runs_per_s",
                "runs/s",
                "ratio",
                ">=",
                3,
                "≥ 3×",
            ),
        ),
    ),
    Workload(
        name="tinydb",
        title="5. ex.run() + TinyDbObserver",
        script="run_observed.py",
        args=_tinydb_args,
        reps={"quick": 2, "full": 3},
        rows=(
            Row(
                "ex.run() + TinyDbObserver, 200 runs",
                "runs_per_s",
                "runs/s",
                "ratio",
                ">=",
                30,
                "≥ 30×",
            ),
            Row(
                "TinyDB cost of run ~2,050 / run ~10 (Sacred: ~210 / ~10)",
                "growth",
                "×",
                "ours",
                "<=",
                1.3,
                "ours ≤ 1.3",
                digits=2,
            ),
        ),
    ),
    Workload(
        name="metrics",
        title="6. 100,000 log_scalar calls",
        script="log_scalar.py",
        args=_fixed(["--repeats", "1"], ["--repeats", "3"]),
        reps={"quick": 3, "full": 5},
        rows=(
            Row(
                "100,000 log_scalar incl. final flush (FileStorage)",
                "calls_per_s",
                "calls/s",
                "ratio",
                ">=",
                2,
                "≥ 2×",
                digits=0,
            ),
            Row(
                "  … the calls alone, without start and flush",
                "loop_calls_per_s",
                "calls/s",
                "info",
                digits=0,
            ),
        ),
    ),
    Workload(
        name="capture",
        title="7. fd capture of 100,000 lines",
        script="capture_fd.py",
        args=_fixed(["--repeats", "2"], ["--repeats", "3"]),
        reps={"quick": 2, "full": 3},
        rows=(
            Row(
                "fd capture of 100,000 printed lines, stdout on a pipe",
                "time_s",
                "s",
                "ratio",
                "<=",
                1.0,
                "≤ 1 (no slower)",
                digits=3,
            ),
            Row(
                "  … lines missing from cout.txt, all runs",
                "lines_lost",
                "lines",
                "ours",
                "<=",
                0,
                "ours = 0",
                agg="sum",
                digits=0,
            ),
            Row(
                "  … runs that lost lines",
                "runs_with_loss",
                "runs",
                "ours",
                "<=",
                0,
                "ours = 0",
                agg="sum",
                digits=0,
            ),
        ),
    ),
    Workload(
        name="sweep",
        title="8. pytest sweep of 1,000 cases",
        script="pytest_sweep.py",
        sides=("sacredx", "bare", "sacred"),
        args=_fixed(["--cases", "1000"], ["--cases", "1000"]),
        reps={"quick": 1, "full": 3},
        timeout=1800.0,
        rows=(
            Row(
                "pytest sweep, 1,000 cases, vs bare pytest",
                "ms_per_case",
                "ms/case",
                "ratio",
                "<=",
                3,
                "≤ 3×",
                anchor="bare",
                digits=2,
            ),
            Row(
                "pytest sweep, 1,000 cases, vs Sacred-in-pytest",
                "ms_per_case",
                "ms/case",
                "ratio",
                "<=",
                0.2,
                "≤ 0.2 (≥ 5× faster)",
                digits=2,
            ),
        ),
    ),
    Workload(
        name="regression",
        title="9. --exp-regression over 1,000 cases",
        script="pytest_regression.py",
        sides=("sacredx",),
        args=_fixed(["--cases", "1000", "--repeats", "2"], ["--cases", "1000", "--repeats", "3"]),
        reps={"quick": 1, "full": 2},
        timeout=1800.0,
        rows=(
            Row(
                "1,000-case sweep checked against baselines, vs the same sweep without",
                "ms_per_case_regression",
                "ms/case",
                "ratio",
                "<=",
                1.2,
                "≤ 1.2 (≤ +20%)",
                anchor="sacredx",
                anchor_metric="ms_per_case_plain",
                digits=2,
            ),
        ),
    ),
    Workload(
        name="xdist",
        title="10. CPU-bound sweep, serial vs -n 2",
        script="pytest_xdist.py",
        sides=("sacredx",),
        # Enough work (about 18 s / 30 s of CPU) that the workers' start-up is not the story.
        args=_fixed(["--cases", "60", "--work", "300", "--repeats", "1"],
                    ["--cases", "100", "--work", "300", "--repeats", "2"]),
        reps={"quick": 1, "full": 2},
        timeout=1800.0,
        rows=(
            Row(
                "CPU-bound sweep: -n 2 speed-up over serial",
                "speedup",
                "×",
                "ours",
                ">=",
                1.6,
                "≥ 1.6×",
                anchor="sacredx",
                digits=2,
            ),
        ),
    ),
)

BY_NAME: dict[str, Workload] = {w.name: w for w in WORKLOADS}


# --------------------------------------------------------------------------------------------
# Running


@dataclass
class SideResult:
    """Everything one side produced over the repetitions of one workload."""

    reps: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: str | None = None
    stdout_lines: list[int] = field(default_factory=list)

    def value(self, metric: str, agg: str) -> float | None:
        values = [r["metrics"][metric] for r in self.reps if metric in r.get("metrics", {})]
        if not values:
            return None
        if agg == "sum":
            return float(sum(values))
        pooled = [s for r in self.reps for s in r.get("samples", {}).get(metric, [])]
        return float(statistics.median(pooled if pooled else values))

    def spread(self, metric: str) -> tuple[float, float] | None:
        values = [r["metrics"][metric] for r in self.reps if metric in r.get("metrics", {})]
        return (min(values), max(values)) if len(values) > 1 else None


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    # Same start-up conditions on both sides: no injected paths, bytecode caches in use.
    for name in (
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTEST_ADDOPTS",
        "PYTHONSTARTUP",
        "PYTHONDONTWRITEBYTECODE",
    ):
        env.pop(name, None)
    return env


def run_once(
    workload: Workload, side: Side, python: Path, mode: Mode
) -> tuple[dict[str, Any], int]:
    """One fresh subprocess of *workload* for *side*; returns its JSON result and stdout line count.

    Its stdout goes to a pipe that is drained here (the capture workload prints 100,000 lines and
    must see a real pipe); the result comes back through a file, so it never mixes with output.
    """
    with tempfile.TemporaryDirectory(prefix="sacredx-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cwd = Path(tmp) / "cwd"
        cwd.mkdir()
        cmd = [
            str(python),
            str(WORKLOADS_DIR / workload.script),
            "--lib",
            side,
            "--out",
            str(out),
            *workload.args(mode, side),
        ]
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                env=_clean_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            return {"ok": False, "error": f"cannot start {python}: {exc}"}, 0
        try:
            stdout, stderr = proc.communicate(timeout=workload.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            return {"ok": False, "error": f"timed out after {workload.timeout:.0f} s"}, 0
        lines = stdout.count(b"\n")
        if out.exists():
            try:
                return json.loads(out.read_text(encoding="utf-8")), lines
            except json.JSONDecodeError as exc:
                return {"ok": False, "error": f"unreadable result: {exc}"}, lines
        tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        return {"ok": False, "error": f"exit code {proc.returncode}: {tail[0][:300]}"}, lines


def run_workload(
    workload: Workload, pythons: dict[str, Path | str], mode: Mode, reps: int | None
) -> dict[str, SideResult]:
    """All repetitions of one workload, the order of the sides rotating between repetitions."""
    results: dict[str, SideResult] = {side: SideResult() for side in workload.sides}
    count = reps if reps is not None else workload.reps[mode]
    for rep in range(count):
        shift = rep % len(workload.sides)
        order = workload.sides[shift:] + workload.sides[:shift]
        for side in order:
            result = results[side]
            if result.skipped:
                continue
            python = pythons[side]
            if isinstance(python, str):  # the interpreter itself could not be had
                result.errors.append(python)
                continue
            t0 = time.perf_counter()
            payload, lines = run_once(workload, side, python, mode)
            took = time.perf_counter() - t0
            if payload.get("ok"):
                result.reps.append(payload)
                result.stdout_lines.append(lines)
                status = "ok"
            elif payload.get("skipped"):
                result.skipped = payload["skipped"]
                status = f"skipped: {result.skipped}"
            else:
                result.errors.append(payload.get("error", "unknown error"))
                status = f"error: {result.errors[-1]}"
            print(
                f"  [{workload.name}] rep {rep + 1}/{count} {SIDE_TITLES[side]:<15} {took:6.1f} s  {status}",
                file=sys.stderr,
                flush=True,
            )
    return results


# --------------------------------------------------------------------------------------------
# Reporting


@dataclass(frozen=True)
class Line:
    """A computed row of the table."""

    workload: str
    label: str
    unit: str
    ours: float | None
    anchor: float | None
    anchor_title: str
    ratio: float | None
    target: str
    verdict: str
    digits: int


def _passes(value: float, op: str, target: float) -> bool:
    return value >= target if op == ">=" else value <= target


def evaluate(workload: Workload, results: dict[str, SideResult]) -> list[Line]:
    lines: list[Line] = []
    for row in workload.rows:
        ours = results["sacredx"].value(row.metric, row.agg)
        anchor_side = results.get(row.anchor)
        anchor = (
            anchor_side.value(row.anchor_metric or row.metric, row.agg) if anchor_side else None
        )
        ratio: float | None = None
        verdict = "—"
        if row.kind == "ratio":
            if ours is not None and anchor:
                ratio = ours / anchor
                verdict = "PASS" if _passes(ratio, row.op, row.target) else "FAIL"
            else:
                verdict = "n/a"
        elif row.kind == "info" and ours is not None and anchor:
            ratio = ours / anchor
        elif row.kind == "ours":
            verdict = (
                "n/a" if ours is None else ("PASS" if _passes(ours, row.op, row.target) else "FAIL")
            )
        lines.append(
            Line(
                workload=workload.name,
                label=row.label,
                unit=row.unit,
                ours=ours,
                anchor=anchor,
                anchor_title=SIDE_TITLES[row.anchor],
                ratio=ratio,
                target=row.target_text or "—",
                verdict=verdict,
                digits=row.digits,
            )
        )
    return lines


def _num(value: float | None, digits: int, unit: str) -> str:
    if value is None:
        return "n/a"
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}" if unit not in ("×",) else f"{text}×"


def render_table(lines: Sequence[Line]) -> str:
    header = (
        "workload",
        "pytest-sacredx",
        "anchor",
        "anchor is",
        "ratio ours/anchor",
        "target",
        "result",
    )
    body = [
        (
            line.label,
            _num(line.ours, line.digits, line.unit),
            _num(line.anchor, line.digits, line.unit),
            line.anchor_title,
            "—" if line.ratio is None else f"{line.ratio:.2f}",
            line.target,
            line.verdict,
        )
        for line in lines
    ]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def fmt(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt(header), rule, *(fmt(r) for r in body)])


def render_notes(
    workloads: Sequence[Workload], all_results: dict[str, dict[str, SideResult]]
) -> str:
    notes: list[str] = []
    for workload in workloads:
        for side, result in all_results[workload.name].items():
            who = f"{workload.name} / {SIDE_TITLES[side]}"
            if result.skipped:
                notes.append(f"- SKIP {who}: {result.skipped}")
            if workload.name == "capture" and result.stdout_lines:
                notes.append(
                    f"- tee {who}: {sorted(result.stdout_lines)} lines reached the drained stdout pipe per process"
                )
            for error in dict.fromkeys(result.errors):  # once per distinct error
                notes.append(f"- n/a {who}: {error}")
            for row in workload.rows:
                metric = row.metric if side == "sacredx" else (row.anchor_metric or row.metric)
                spread = result.spread(metric)
                if (
                    spread
                    and row.kind != "info"
                    and row.agg == "median"
                    and (side == "sacredx" or side == row.anchor)
                ):
                    notes.append(
                        f"- spread {who} {metric}: {spread[0]:,.{row.digits}f} … {spread[1]:,.{row.digits}f} "
                        f"over {len(result.reps)} repetitions"
                    )
    return "\n".join(dict.fromkeys(notes))  # two rows of one metric give one spread line


def machine_line() -> str:
    load = ""
    if hasattr(os, "getloadavg"):
        load = ", load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    return f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}{load}"


# --------------------------------------------------------------------------------------------
# Command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="pytest-sacredx against Sacred 0.8.7, side by side (medians and ratios).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="workloads: " + ", ".join(f"{w.name} ({w.title})" for w in WORKLOADS),
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and smaller sizes")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BY_NAME),
        metavar="NAME",
        help="run only this workload (repeatable)",
    )
    parser.add_argument("--reps", type=int, default=None, help="override the repetitions per side")
    parser.add_argument(
        "--json", type=Path, default=None, metavar="PATH", help="also write all results as JSON"
    )
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = parser.parse_args(argv)

    if args.list:
        for w in WORKLOADS:
            print(
                f"{w.name:<8} {w.title}  (bench/workloads/{w.script}; sides: {', '.join(w.sides)})"
            )
        return 0

    mode: Mode = "quick" if args.quick else "full"
    selected = [BY_NAME[n] for n in dict.fromkeys(args.only)] if args.only else list(WORKLOADS)

    pythons: dict[str, Path | str] = {"sacredx": Path(sys.executable), "bare": Path(sys.executable)}
    try:
        pythons["sacred"] = ensure_sacred_venv()
    except Exception as exc:  # noqa: BLE001 - no anchor is reported as n/a, not a crash
        pythons["sacred"] = f"Sacred venv unavailable: {exc}"
        print(f"[run] {pythons['sacred']}", file=sys.stderr)

    started = datetime.now(timezone.utc)
    print(
        f"[run] {mode} run of {len(selected)} workload(s) on {machine_line()}",
        file=sys.stderr,
        flush=True,
    )
    all_results: dict[str, dict[str, SideResult]] = {}
    lines: list[Line] = []
    for workload in selected:
        print(f"[run] {workload.title}", file=sys.stderr, flush=True)
        all_results[workload.name] = run_workload(workload, pythons, mode, args.reps)
        lines.extend(evaluate(workload, all_results[workload.name]))
    elapsed = (datetime.now(timezone.utc) - started).total_seconds()

    print()
    print(
        f"pytest-sacredx vs Sacred {SACRED_VERSION} — {mode} run, {started:%Y-%m-%d %H:%M} UTC, {elapsed:.0f} s"
    )
    print(f"machine: {machine_line()}")
    print()
    print(render_table(lines))
    notes = render_notes(selected, all_results)
    if notes:
        print()
        print(notes)

    if args.json:
        payload = {
            "mode": mode,
            "started": started.isoformat(),
            "elapsed_s": elapsed,
            "machine": machine_line(),
            "pythons": {k: str(v) for k, v in pythons.items()},
            "table": [line.__dict__ for line in lines],
            "results": {
                name: {side: result.__dict__ for side, result in sides.items()}
                for name, sides in all_results.items()
            },
        }
        args.json.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
        print(f"\n[run] results written to {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
