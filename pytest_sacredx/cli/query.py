"""``sacredx``: find, compare, plot, export, copy and report runs from any store.

    sacredx runs    [--where EXPR] [--columns COLS] [--sort KEY] [--last N] [--group-by [KEYS]]
                    [--format table|json|csv]
    sacredx show    RUN_ID (any unique prefix) [--json] [--tail N]
    sacredx compare RUN_ID RUN_ID … | --sweep X [--against last|SWEEP]   [--format table|json]
    sacredx plot    METRIC [--runs IDS | --sweep X | --where EXPR] [--x step|config.KEY] [--by KEY]
                    [--kind curves|final|parallel] -o FILE.png|svg
    sacredx export  [--format csv|json] [-o FILE] [--where EXPR]
    sacredx copy    --from URI [--from URI …] --to URI [--where EXPR]
    sacredx convert --from URI --to URI [--format sacredx|sacred] [--where EXPR]
                    a new store from an old one: Sacred's TinyDB file <-> our TinyDB log
    sacredx report  [--where EXPR] -o report.html
    sacredx dead    [--after SECONDS]                 RUNNING runs whose heartbeat is stale
    sacredx list    (the older name of runs: --status, --experiment, --json)
    sacredx check-sweep SWEEP (--expect-cases FILE | --from-collect -- PYTEST ARGS) [--store URI …]

Every command takes ``--store URI`` (default ``tinydb:.sacredx``, the pytest plugin's store; ``copy``
and ``convert`` take ``--from``/``--to``). Paths (``config.gamma``, ``metrics.loss:min``, ``status``, ``case``,
``sweep``…) are described in :mod:`pytest_sacredx.query.fields`, the ``--where`` grammar in
:mod:`pytest_sacredx.query.where`. Bad input is one ``Error:`` line and exit status 2; only ``copy``
and ``convert`` write, and only to ``--to``. This module parses arguments; the work is in ``query/`` and ``report/``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import gc
import json
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import IO, Any, NoReturn

from ..errors import SacredxError
from ..observers.record import RunReader

__all__ = ["main"]

_FORMAT_HELP = "table (default; fits the terminal), json or csv"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"Error: {self.prog}: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sacredx", description="Find, compare, plot and report recorded runs.")
    sub = parser.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    common = _Parser(add_help=False)
    common.add_argument("--store", default=None, metavar="URI",
                        help="store URI (default tinydb:.sacredx, the pytest plugin's store)")
    select = _Parser(add_help=False)
    select.add_argument("--where", metavar="EXPR",
                        help="keep runs where EXPR holds, e.g. 'config.gamma > 0.5 and status == COMPLETED'")
    select.add_argument("--sort", metavar="KEY", help="sort by a path; --sort=-KEY for descending")
    select.add_argument("--last", type=int, metavar="N", help="only the last N runs (after sorting)")

    runs = sub.add_parser("runs", parents=[common, select], help="a row per run")
    runs.add_argument("--columns", metavar="COLS",
                      help="comma-separated paths (metrics.loss:min …); +PATH adds to, -PATH removes "
                      "from the default columns")
    runs.add_argument("--group-by", nargs="?", const="", default=None, metavar="KEYS",
                      help="n, mean ± std, min, max per group (default keys: every varying config "
                      "entry except seed)")
    runs.add_argument("--format", choices=("table", "json", "csv"), default="table", help=_FORMAT_HELP)
    runs.add_argument("--plain", action="store_true", help="a plain table even when rich is installed")

    lst = sub.add_parser("list", parents=[common, select], help="the older name of runs")
    lst.add_argument("--status")
    lst.add_argument("--experiment")
    lst.add_argument("--json", action="store_true", help="print JSON")

    show = sub.add_parser("show", parents=[common], help="one run in full")
    show.add_argument("run_id", metavar="RUN_ID", help="a run id or any unique prefix of one")
    show.add_argument("--json", action="store_true", help="the whole record as JSON")
    show.add_argument("--tail", type=int, default=20, metavar="N", help="lines of output to show")

    dead = sub.add_parser("dead", parents=[common], help="RUNNING runs with a stale heartbeat")
    dead.add_argument("--after", type=float, default=120.0, help="seconds without a heartbeat")
    dead.add_argument("--json", action="store_true", help="print JSON")

    compare = sub.add_parser("compare", parents=[common], help="runs or sweeps side by side")
    compare.add_argument("run_ids", nargs="*", metavar="RUN_ID",
                         help="a base run and the runs to compare with it")
    compare.add_argument("--sweep", metavar="SWEEP", help="the sweep to compare (default: last)")
    compare.add_argument("--against", metavar="last|SWEEP",
                         help="the sweep to compare with (default: last, the one before --sweep)")
    compare.add_argument("--format", choices=("table", "json"), default="table")

    plot = sub.add_parser("plot", parents=[common], help="a PNG or SVG of a metric")
    plot.add_argument("metric", metavar="METRIC",
                      help="a metric (loss), a reduced one for --x config.KEY (loss:min), or several "
                      "comma-separated for --kind parallel")
    plot.add_argument("--runs", metavar="IDS", help="comma-separated run ids or prefixes")
    plot.add_argument("--sweep", metavar="SWEEP", help="the runs of one sweep (last for the newest)")
    plot.add_argument("--where", metavar="EXPR", help="the runs where EXPR holds")
    plot.add_argument("--x", default="step", metavar="step|config.KEY",
                      help="step: a curve per run; config.KEY: the final value against that key")
    plot.add_argument("--by", metavar="KEY", help="one line (and colour) per value of KEY")
    plot.add_argument("--kind", choices=("curves", "final", "parallel"), default=None,
                      help="default: curves for --x step, final for --x config.KEY")
    plot.add_argument("-o", "--output", required=True, metavar="FILE", help="FILE.png or FILE.svg")

    export = sub.add_parser("export", parents=[common, select], help="the tidy table, a row per run")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")

    copy = sub.add_parser("copy", help="copy runs between stores (idempotent)")
    copy.add_argument("--from", dest="sources", action="append", required=True, metavar="URI",
                      help="a store to copy from (repeat to merge several)")
    copy.add_argument("--to", dest="dest", required=True, metavar="URI", help="the store to copy into")
    copy.add_argument("--where", metavar="EXPR", help="copy only the runs where EXPR holds")

    convert = sub.add_parser(
        "convert", help="a new store from an old one, in our format or Sacred's (TinyDB: log or file)")
    convert.add_argument("--from", dest="source", required=True, metavar="URI", help="the store to convert")
    convert.add_argument("--to", dest="dest", required=True, metavar="URI",
                         help="a store that holds no runs yet (a new folder, database, …)")
    convert.add_argument("--format", choices=("sacredx", "sacred"), default="sacredx",
                         help="sacredx: a tinydb: destination is our append log (default); sacred: "
                              "Sacred 0.8.7's single-file metadata.json, which Sacred's TinyDbReader "
                              "opens. Other stores have one layout (Sacred's) either way")
    convert.add_argument("--where", metavar="EXPR", help="convert only the runs where EXPR holds")

    report = sub.add_parser("report", parents=[common], help="one self-contained HTML file")
    report.add_argument("--where", metavar="EXPR", help="only the runs where EXPR holds")
    report.add_argument("-o", "--output", default="report.html", metavar="FILE")
    report.add_argument("--title", default=None)

    from .check_sweep import add_parser as add_check_sweep

    add_check_sweep(sub)
    return parser


def _store(args: argparse.Namespace) -> Any:
    from ..query.stores import DEFAULT_STORE

    if getattr(args, "reader", None) is not None:
        return args.reader
    return args.store or DEFAULT_STORE


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def _records(args: argparse.Namespace) -> list[Any]:
    from ..query.stores import read_runs

    return read_runs(_store(args))


def _tail_only(args: argparse.Namespace) -> bool:
    """``--last N`` with nothing that needs every run first (``--where``, ``--sort``)."""
    return args.last is not None and not args.where and not args.sort


def _tail(args: argparse.Namespace) -> Any:
    from ..query.stores import read_last_runs

    return read_last_runs(_store(args), args.last)


def _config_path(name: str) -> str:
    from ..query.fields import ROOTS

    name = name.strip()
    return name if name.split(".", 1)[0].split(":", 1)[0] in ROOTS else f"config.{name}"


# -- commands --------------------------------------------------------------------------------------------


def _cmd_runs(args: argparse.Namespace, out: IO[str]) -> int:
    from ..query import text
    from ..query.table import parse_columns, rows, select

    now = _now()
    if _tail_only(args):  # the last N as stored: read N runs, not the store
        tail = _tail(args)
        records: Sequence[Any] = tail.records
        chosen = list(records)
        total = tail.total
    else:
        records = _records(args)
        chosen = select(records, where=args.where, sort=args.sort, last=args.last, now=now)
        total = len(records)
    if args.group_by is not None:
        return _group_by(args, chosen, out, now)
    fields = parse_columns(args.columns, chosen or records)
    data = rows(chosen, fields, now)
    if args.format == "json":
        out.write(text.to_json(data))
    elif args.format == "csv":
        out.write(text.to_csv(data, [f.text for f in fields]))
    else:
        names = [f.text for f in fields]
        body = [[text.cell(h, r[h]) for h in names] for r in data]
        optional = [] if args.columns else _optional(names)
        text.print_table(text.headers(names), body, out, plain=args.plain, optional=optional)
        out.write(f"{len(chosen)} of {total} runs\n")
    return 0


def _optional(names: list[str]) -> list[int]:
    """Default columns a narrow terminal can do without, least wanted first."""
    order = ["start", "duration", "experiment", "config.seed"]
    order += [n for n in reversed(names) if n.startswith("metrics.")]
    return [names.index(n) for n in order if n in names]


def _group_by(args: argparse.Namespace, chosen: list[Any], out: IO[str], now: _dt.datetime) -> int:
    from ..query import text
    from ..query.groups import group_runs

    keys = [_config_path(k) for k in args.group_by.split(",") if k.strip()] or None
    values = None
    if args.columns:
        values = [c.strip() for c in args.columns.split(",") if c.strip()]
    groups = group_runs(chosen, keys, values, now)
    names = list(dict.fromkeys(v for g in groups for v in g.stats))
    if args.format in ("json", "csv"):
        data = []
        for g in groups:
            row: dict[str, Any] = dict(zip(g.keys, g.key, strict=True))
            row["n"] = g.n
            for v in names:
                s = g.stats.get(v)
                for part in ("mean", "std", "min", "max"):
                    row[f"{v}:{part}"] = getattr(s, part) if s else None
            data.append(row)
        out.write(text.to_json(data) if args.format == "json" else text.to_csv(data))
        return 0
    key_names = list(groups[0].keys) if groups else [*(keys or [])]
    header = [*text.headers(key_names), "n"]
    for v in text.headers(names):
        header += [f"{v} mean±sd", "min–max"]
    body = []
    for g in groups:
        row_cells = [*g.key, str(g.n)]
        for v in names:
            s = g.stats.get(v)
            row_cells += ([f"{s.mean:.4g} ± {s.std:.2g}", f"{s.min:.4g}–{s.max:.4g}"] if s
                          else ["", ""])
        body.append(row_cells)
    text.print_table(header, body, out, plain=args.plain)
    out.write(f"{len(groups)} groups of {len(chosen)} runs"
              + (f" by {', '.join(key_names)}" if key_names else "") + "\n")
    return 0


def _cmd_list(args: argparse.Namespace, out: IO[str]) -> int:
    from ..query import text
    from ..query.table import rows, select

    if _tail_only(args) and not args.status and not args.experiment:
        records = _tail(args).records
    else:
        records = select(_records(args), where=args.where, sort=args.sort, now=_now())
    if args.status:
        records = [r for r in records if r.effective_status() == args.status.upper()]
    if args.experiment:
        records = [r for r in records if r.experiment_name == args.experiment]
    if args.last is not None:
        records = records[-args.last:] if args.last > 0 else []
    columns = ["id", "experiment", "status", "start", "duration", "result"]
    data = rows(records, columns)
    for row, rec in zip(data, records, strict=True):
        row["metrics"] = rec.final_metrics()
    if args.json:
        out.write(text.to_json(data))
    else:
        body = [[text.cell(c, r[c]) for c in columns] for r in data]
        out.write(text.plain_table(columns, body) + "\n")
    return 0


def _cmd_show(args: argparse.Namespace, out: IO[str]) -> int:
    from ..config.printing import use_color
    from ..query import text
    from ..query.stores import find_run
    from ..serialize import to_jsonable

    rec = find_run(_records(args), args.run_id)
    if args.json:
        import attrs

        data = attrs.asdict(rec)
        data["effective_status"] = rec.effective_status()
        out.write(json.dumps(to_jsonable(data), indent=2, sort_keys=True, default=str) + "\n")
        return 0
    out.write(text.show_run(rec, color=use_color(out), tail=args.tail))
    return 0


def _cmd_dead(args: argparse.Namespace, out: IO[str]) -> int:
    from ..query import text
    from ..query.table import rows

    now = _now()
    records = [r for r in _records(args)
               if r.effective_status(now, _dt.timedelta(seconds=args.after)) == "DEAD"]
    columns = ["id", "experiment", "case", "start", "heartbeat"]
    data = rows(records, columns, now)
    for row in data:
        row["status"] = "DEAD"
    if args.json:
        out.write(text.to_json(data))
    else:
        body = [[text.cell(c, r[c]) for c in columns] for r in data]
        out.write(text.plain_table(columns, body) + "\n")
    return 0


def _cmd_compare(args: argparse.Namespace, out: IO[str]) -> int:
    from ..query import text
    from ..query.compare import compare_runs, compare_sweeps
    from ..query.errors import QueryUsageError
    from ..query.stores import find_run

    records = _records(args)
    if args.run_ids and (args.sweep or args.against):
        raise QueryUsageError("compare: give run ids or --sweep/--against, not both")
    if len(args.run_ids) == 1:
        raise QueryUsageError(f"compare {args.run_ids[0]}: give a second run id (or --sweep/--against)")
    if args.run_ids:
        found = [find_run(records, i) for i in args.run_ids]
        comparisons = compare_runs(found[0], found[1:])
        if args.format == "json":
            out.write(text.to_json([_run_comparison_json(c) for c in comparisons]))
            return 0
        for c in comparisons:
            _print_run_comparison(c, out)
        return 0
    comparison = compare_sweeps(records, args.sweep or "last", args.against or "last")
    if args.format == "json":
        out.write(text.to_json([_sweep_comparison_json(comparison)]))
        return 0
    _print_sweep_comparison(comparison, out)
    return 0


def _change(d: Any) -> str:
    if d.change == 0:
        return "="
    if d.change is None:
        return "—" if d.old is not None and d.new is not None else ("new" if d.old is None else "gone")
    rel = f" ({d.relative * 100:+.3g}%)" if d.relative is not None else ""
    return f"{d.change:+.4g}{rel}"


def _print_run_comparison(c: Any, out: IO[str]) -> None:
    from ..query import text

    a, b = text.cell("id", c.base.id), text.cell("id", c.other.id)
    header = ["key", f"run {a}", f"run {b}", "change"]
    body = [[f"config.{k}", text.cell("", x), text.cell("", y), ""] for k, x, y in c.config]
    body += [[d.key, text.cell("", d.old), text.cell("", d.new), _change(d)] for d in c.values]
    text.print_table(header, body, out, title=f"run {a} against run {b}")
    notes = []
    if c.seeds_differ:
        from ..query.fields import seed

        notes.append(f"seeds differ ({seed(c.base)} vs {seed(c.other)})")
    if c.sources_differ:
        notes.append("source files differ")
    if not c.config:
        notes.append("same config" + (" except the seed" if c.seeds_differ else ""))
    out.write("; ".join(notes) + "\n" if notes else "")


def _run_comparison_json(c: Any) -> dict[str, Any]:
    return {
        "base": c.base.id,
        "other": c.other.id,
        "config": [{"key": k, "base": x, "other": y} for k, x, y in c.config],
        "values": [{"key": d.key, "base": d.old, "other": d.new, "change": d.change,
                    "relative": d.relative} for d in c.values],
        "seeds_differ": c.seeds_differ,
        "sources_differ": c.sources_differ,
    }


def _sweep_comparison_json(s: Any) -> dict[str, Any]:
    from ..query.fields import case_id

    return {
        "sweep": s.new_sweep,
        "against": s.old_sweep,
        "cases": [
            {"case": c.case, "old_run": c.old.id, "new_run": c.new.id,
             "config": [{"key": k, "old": x, "new": y} for k, x, y in c.config],
             "values": [{"key": d.key, "old": d.old, "new": d.new, "change": d.change,
                         "relative": d.relative} for d in c.values]}
            for c in s.cases
        ],
        "only_old": [case_id(r) or r.id for r in s.only_old],
        "only_new": [case_id(r) or r.id for r in s.only_new],
        "seeds_differ": s.seeds_differ,
        "sources_differ": s.sources_differ,
    }


def _print_sweep_comparison(s: Any, out: IO[str]) -> None:
    from ..query import text
    from ..query.fields import case_id

    header = ["case", "key", "old", "new", "change"]
    body = []
    for c in s.cases:
        name = text.cell("case", c.case)
        body += [[name, f"config.{k}", text.cell("", x), text.cell("", y), ""] for k, x, y in c.config]
        body += [[name, d.key, text.cell("", d.old), text.cell("", d.new), _change(d)] for d in c.values]
    title = (f"sweep {s.new_sweep} against {s.old_sweep}: {len(s.cases)} cases on both sides, "
             f"{len(s.only_new)} only in {s.new_sweep}, {len(s.only_old)} only in {s.old_sweep}")
    text.print_table(header, body, out, title=title)
    for label, runs in ((f"only in {s.new_sweep}", s.only_new), (f"only in {s.old_sweep}", s.only_old)):
        if runs:
            out.write(f"{label}: " + ", ".join(text.cell("case", case_id(r) or r.id) for r in runs) + "\n")
    if s.seeds_differ:
        out.write("seeds differ between the sweeps (different session seeds): changes mix code and "
                  "randomness\n")
    if s.sources_differ:
        out.write("source files differ between the sweeps\n")


def _cmd_export(args: argparse.Namespace, out: IO[str]) -> int:
    from ..atomic import atomic_file
    from ..query import text
    from ..query.table import select, tidy_rows

    data = tidy_rows(select(_records(args), where=args.where, sort=args.sort, last=args.last,
                            now=_now()))
    body = text.to_json(data) if args.format == "json" else text.to_csv(data)
    if args.output:
        with atomic_file(args.output, "w", encoding="utf-8") as fh:
            fh.write(body)
        sys.stderr.write(f"wrote {len(data)} runs to {args.output}\n")
    else:
        out.write(body)
    return 0


def _cmd_copy(args: argparse.Namespace, out: IO[str]) -> int:
    from ..observers.redact import redact_url
    from ..observers.uri import from_uri
    from ..query.copy import copy_runs
    from ..query.errors import QueryUsageError, StoreReadError
    from ..query.stores import close, open_store, read_runs
    from ..query.table import select

    sources = []
    readers = []
    try:
        for uri in args.sources:
            reader = open_store(uri)
            readers.append(reader)
            sources.append((redact_url(uri), select(read_runs(reader), where=args.where), reader))
    except BaseException:
        for reader in readers:
            close(reader)
        raise
    if args.dest.strip().lower().rstrip(":") in ("memory", "none"):
        raise QueryUsageError(f"copy --to {args.dest}: give a store that lasts (tinydb:DIR, file:DIR, …)")
    try:
        observer = from_uri(args.dest)
    except (SacredxError, ImportError) as e:
        raise StoreReadError(f"cannot open --to {redact_url(args.dest)}: {e}") from None
    dest_reader: Any = None
    try:
        dest_reader = open_store(args.dest)
    except StoreReadError:
        dest_reader = observer if hasattr(observer, "list_runs") else None
    try:
        report = copy_runs(sources, observer, dest_reader)
    finally:
        for reader in readers:
            close(reader)
        close(dest_reader)
    out.write(f"copied {len(report.copied)} runs to {redact_url(args.dest)}, "
              f"skipped {report.skipped} already there\n")
    if report.missing_artifacts:
        out.write(f"{len(report.missing_artifacts)} artifacts could not be read from their store: "
                  + ", ".join(f"{r}/{n}" for r, n in report.missing_artifacts[:5]) + "\n")
    return 0


def _cmd_convert(args: argparse.Namespace, out: IO[str]) -> int:
    from ..observers.redact import redact_url
    from ..query.convert import convert_store

    report = convert_store(args.source, args.dest, args.format, where=args.where)
    out.write(f"converted {len(report.copied)} runs into {redact_url(args.dest)} "
              f"({args.format} format)\n")
    if report.skipped:
        out.write(f"{report.skipped} runs were left out as duplicates of others\n")
    if report.missing_artifacts:
        out.write(f"{len(report.missing_artifacts)} artifacts could not be read from their store: "
                  + ", ".join(f"{r}/{n}" for r, n in report.missing_artifacts[:5]) + "\n")
    return 0


def _cmd_plot(args: argparse.Namespace, out: IO[str]) -> int:
    from ..query.stores import find_run
    from ..query.table import select
    from ..report.plots import plot_to_file

    records = _records(args)
    now = _now()
    chosen = records
    if args.runs:
        chosen = [find_run(records, i) for i in args.runs.split(",") if i.strip()]
    if args.sweep:
        where = "sweep == last" if args.sweep == "last" else None
        if where:
            chosen = select(chosen, where=where, now=now)
        else:
            from ..query.compare import resolve_sweep
            from ..query.fields import sweep_id

            wanted = resolve_sweep(records, args.sweep)
            chosen = [r for r in chosen if sweep_id(r) == wanted]
    if args.where:
        chosen = select(chosen, where=args.where, now=now)
    x = args.x if args.x == "step" else _config_path(args.x)
    kind = args.kind or ("curves" if x == "step" else "final")
    by = _config_path(args.by) if args.by else None
    plot_to_file(chosen, args.metric, args.output, x=x, by=by, kind=kind)
    out.write(f"wrote {args.output} ({len(chosen)} runs)\n")
    return 0


def _cmd_report(args: argparse.Namespace, out: IO[str]) -> int:
    from ..report import write_report

    store = _store(args)
    info = write_report(store, args.output, where=args.where, title=args.title)
    out.write(f"wrote {args.output}: {info.runs} runs, {info.size / 1e6:.2f} MB\n")
    return 0


_COMMANDS = {
    "runs": _cmd_runs,
    "list": _cmd_list,
    "show": _cmd_show,
    "dead": _cmd_dead,
    "compare": _cmd_compare,
    "plot": _cmd_plot,
    "export": _cmd_export,
    "copy": _cmd_copy,
    "convert": _cmd_convert,
    "report": _cmd_report,
}


@contextlib.contextmanager
def _few_collections() -> Iterator[None]:
    """Cyclic garbage collection a hundred times less often while a command runs: reading 10,000 runs
    allocates millions of dicts and lists that hold no cycles, and the collections they trigger cost
    15 % of ``sacredx runs --where`` over such a store. Collections still happen, so a command that
    does make cycles stays bounded in memory; automatic collection turned off stays off, and commands
    run at once in threads restore the threshold when the last of them ends."""
    global _gc_running, _gc_before
    with _GC_LOCK:
        if not _gc_running:
            _gc_before = gc.get_threshold()
            if _gc_before[0]:
                gc.set_threshold(_gc_before[0] * 100, *_gc_before[1:])
        _gc_running += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _gc_running -= 1
            if not _gc_running:
                gc.set_threshold(*_gc_before)


_GC_LOCK = threading.Lock()
_gc_running = 0  # commands running now
_gc_before: tuple[int, ...] = ()  # the threshold the first of them found


def main(argv: Sequence[str] | None = None, *, store: RunReader | None = None) -> int:
    """Run one ``sacredx`` command; returns the exit status (2 for any mistake in the input).

    ``store`` reads from a reader object instead of ``--store`` (a ``MemoryObserver`` in a notebook).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    rest: list[str] = []
    if "--" in argv:  # check-sweep --from-collect -- PYTEST ARGS
        cut = argv.index("--")
        argv, rest = argv[:cut], argv[cut + 1:]
    args = _parser().parse_args(argv)
    args.pytest_args = rest
    if args.cmd == "check-sweep":
        from .check_sweep import run as check_sweep

        return check_sweep(args)
    if rest:
        sys.stderr.write(f"Error: sacredx {args.cmd}: unexpected arguments after '--' (see sacredx --help)\n")
        return 2
    args.reader = store
    out = sys.stdout
    try:
        with _few_collections():
            return _COMMANDS[args.cmd](args, out)
    except BrokenPipeError:  # `sacredx runs | head`: the reader has all it wanted
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
    except (SacredxError, ImportError) as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        sys.stderr.write(f"Error: {message}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
