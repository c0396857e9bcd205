"""``sacredx``: read runs back from any store.

    sacredx list [--store URI] [--status S] [--experiment NAME] [--last N] [--json]
    sacredx show RUN_ID [--store URI] [--json]
    sacredx dead [--store URI] [--after SECONDS]
    sacredx check-sweep SWEEP (--expect-cases FILE | --from-collect -- PYTEST ARGS) [--store URI]

The default store is the pytest plugin's, ``tinydb:.sacredx``. ``dead`` lists runs still marked RUNNING
whose last heartbeat is older than ``--after`` seconds (a killed process leaves its run RUNNING).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from collections.abc import Sequence
from typing import Any

from ..errors import SacredxError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sacredx", description="Read runs back from a store.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", default="tinydb:.sacredx", help="store URI (default tinydb:.sacredx)")
    common.add_argument("--json", action="store_true", help="print JSON")
    lst = sub.add_parser("list", parents=[common], help="list runs")
    lst.add_argument("--status")
    lst.add_argument("--experiment")
    lst.add_argument("--last", type=int)
    show = sub.add_parser("show", parents=[common], help="show one run")
    show.add_argument("run_id")
    dead = sub.add_parser("dead", parents=[common], help="RUNNING runs with a stale heartbeat")
    dead.add_argument("--after", type=float, default=120.0, help="seconds without a heartbeat")
    from .check_sweep import add_parser as add_check_sweep

    add_check_sweep(sub)
    return parser


def _row(r: Any) -> dict[str, Any]:
    duration = (r.stop_time - r.start_time).total_seconds() if r.stop_time and r.start_time else None
    return {
        "id": r.id,
        "experiment": r.experiment_name,
        "status": r.effective_status(),
        "start_time": r.start_time.isoformat(timespec="seconds") if r.start_time else "",
        "duration": duration,
        "result": r.result,
        "metrics": r.final_metrics(),
    }


def _print_table(rows: list[dict[str, Any]]) -> None:
    header = ["id", "experiment", "status", "start_time", "duration", "result"]
    cells = [[_cell(row[h]) for h in header] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for c in cells:
        print("  ".join(x.ljust(w) for x, w in zip(c, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    return text if len(text) <= 40 else text[:39] + "…"


def main(argv: Sequence[str] | None = None) -> int:
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
    try:
        from ..observers.readers import open_reader

        reader = open_reader(args.store)
        if args.cmd == "show":
            record = reader.load_run(args.run_id)
            import attrs

            data = attrs.asdict(record)
            data["effective_status"] = record.effective_status()
            print(json.dumps(data, indent=2, default=str, sort_keys=True))
            return 0
        records = list(reader.list_runs())
    except KeyError as e:
        print(f"Error: no run {args.run_id!r} in {args.store}: {e}", file=sys.stderr)
        return 2
    except (SacredxError, OSError, ValueError) as e:
        print(f"Error: cannot read {args.store}: {e}", file=sys.stderr)
        return 2
    if args.cmd == "dead":
        now = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
        records = [r for r in records if r.effective_status(now, _dt.timedelta(seconds=args.after)) == "DEAD"]
    else:
        if args.status:
            records = [r for r in records if r.effective_status() == args.status.upper()]
        if args.experiment:
            records = [r for r in records if r.experiment_name == args.experiment]
        if args.last:
            records = records[-args.last:]
    rows = [_row(r) for r in records]
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        _print_table(rows)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
