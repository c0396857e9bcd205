"""Runs as text: terminal tables that fit the width, CSV and JSON, and the ``show`` page of one run.

Tables use rich when it is installed (``pip install 'pytest-sacredx[query]'``) and a plain aligned
layout otherwise; both fit the terminal width (``COLUMNS`` when output is not a terminal), shortening
long cells first. CSV and JSON hold the full values: lists and dicts as JSON, ``None`` as an empty cell
(CSV) or ``null``.

>>> print(plain_table(["id", "result"], [["1", "0.9"], ["2", "0.95"]], width=40))
id  result
--  ------
1   0.9
2   0.95
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

from ..observers.record import RunRecord
from ..serialize import to_jsonable
from .fields import case_id, duration, iso, reduce_series, seed, sweep_id
from .stores import short_id

__all__ = [
    "cell",
    "headers",
    "plain_table",
    "print_table",
    "to_csv",
    "to_json",
    "show_run",
    "terminal_width",
]


def terminal_width() -> int:
    try:
        width = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        width = 0
    return width or shutil.get_terminal_size((100, 24)).columns


def cell(column: str, value: Any) -> str:
    """How a value reads in a terminal table."""
    if value is None:
        return ""
    if column == "id":
        return short_id(value)
    if column == "case" and isinstance(value, str) and "::" in value:
        return value.rsplit("::", 1)[1]
    if column in ("start", "stop", "heartbeat") and isinstance(value, str):
        return value[5:16].replace("T", " ")  # MM-DD HH:MM: the year and seconds rarely tell runs apart
    if column == "duration" and isinstance(value, (int, float)):
        return _duration(float(value))
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value
    return json.dumps(to_jsonable(value), sort_keys=True, default=str)


def headers(names: Sequence[str]) -> list[str]:
    """Column titles for a terminal: ``config.`` and ``metrics.`` dropped where that stays unique.

    >>> headers(["id", "config.gamma", "metrics.loss:min", "config.loss", "metrics.loss"])
    ['id', 'gamma', 'loss:min', 'config.loss', 'metrics.loss']
    """
    short = [n.split(".", 1)[1] if n.startswith(("config.", "metrics.")) else n for n in names]
    others = list(names)
    return [s if short.count(s) == 1 and s not in others[:i] + others[i + 1:] else n
            for i, (s, n) in enumerate(zip(short, names, strict=True))]


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _fit(widths: list[int], header: Sequence[str], width: int) -> list[int]:
    """Shrink the widest columns until the row fits (never below the header or 6 characters)."""
    widths = list(widths)
    for floor in ([min(w, max(10, len(h))) for w, h in zip(widths, header, strict=True)],
                  [min(w, 4) for w in widths]):
        while sum(widths) + 2 * (len(widths) - 1) > width:
            i = max(range(len(widths)), key=lambda j: widths[j] - floor[j])
            if widths[i] <= floor[i]:
                break
            widths[i] -= 1
    return widths


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def plain_table(header: Sequence[str], body: Sequence[Sequence[str]], width: int | None = None) -> str:
    width = width or terminal_width()
    widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(header)]
    widths = _fit(widths, header, width)
    lines = []
    for row in [list(header), ["-" * w for w in widths], *body]:
        lines.append("  ".join(_clip(c, w).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _numeric(body: Sequence[Sequence[str]], i: int) -> bool:
    values = [r[i] for r in body if r[i]]
    for v in values:
        try:
            float(v)
        except ValueError:
            return False
    return bool(values)


def _drop(header: Sequence[str], body: Sequence[Sequence[str]], optional: Sequence[int],
          width: int) -> tuple[list[str], list[list[str]], list[str]]:
    """Leave out ``optional`` columns (in that order) while the natural widths do not fit."""
    keep = list(range(len(header)))
    natural = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(header)]
    hidden: list[str] = []
    for i in optional:
        if sum(natural[k] for k in keep) + 2 * (len(keep) - 1) <= width:
            break
        if i in keep and len(keep) > 2:
            keep.remove(i)
            hidden.append(header[i])
    return [header[k] for k in keep], [[r[k] for k in keep] for r in body], hidden


def print_table(
    header: Sequence[str],
    body: Sequence[Sequence[str]],
    out: IO[str],
    title: str | None = None,
    plain: bool = False,
    optional: Sequence[int] = (),
) -> None:
    """A table on ``out``: rich's when installed (and ``plain`` is false), else :func:`plain_table`.

    When the table is wider than the terminal, the ``optional`` columns (indices, least wanted first)
    are left out until it fits, and a last line names them; then the widest cells are shortened.
    """
    width = terminal_width()
    hidden: list[str] = []
    if optional:
        header, body, hidden = _drop(header, body, optional, width)
    _print_table(header, body, out, title, plain, width)
    if hidden:
        out.write(f"(not shown, to fit {width} columns: {', '.join(hidden)})\n")


def _print_table(header: Sequence[str], body: Sequence[Sequence[str]], out: IO[str],
                 title: str | None, plain: bool, width: int) -> None:
    if not plain:
        try:
            from rich import box
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            plain = True
    if title:  # a line of its own: a title is not cut or wrapped to the table's width
        out.write(title + "\n")
    if plain:
        out.write(plain_table(header, body, width) + "\n")
        return
    widths = _fit([max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(header)],
                  header, width)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True, show_edge=False)
    for i, name in enumerate(header):
        table.add_column(name, overflow="ellipsis", no_wrap=True, width=widths[i],
                         justify="right" if _numeric(body, i) else "left")
    for row in body:
        table.add_row(*row)
    console = Console(file=out, width=width, highlight=False, soft_wrap=False,
                      color_system="auto" if getattr(out, "isatty", lambda: False)() else None)
    console.print(table)


def _jsonable(value: Any) -> Any:
    return to_jsonable(value)


def to_json(rows: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps([_jsonable(dict(r)) for r in rows], indent=2, sort_keys=False, default=str,
                      allow_nan=True) + "\n"


def to_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    columns = list(columns) if columns is not None else list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    cell = _CSV_CELLS.get
    plain = _CSV_AS_IS.issuperset
    for row in rows:
        values = list(map(row.get, columns))
        # the csv module writes str, int and float (repr) and None ("") as we do: only the rest is converted
        if not plain(map(type, values)):
            values = [cell(v.__class__, _csv_cell)(v) for v in values]
        writer.writerow(values)
    return buf.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float, str)):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(_jsonable(value), sort_keys=True, default=str)


_CSV_AS_IS = frozenset({str, int, float, type(None)})
# the cell of the plain types, by type: one dict lookup instead of isinstance checks, 300,000 times
_CSV_CELLS: dict[type, Callable[[Any], str]] = {
    type(None): lambda v: "",
    bool: lambda v: "true" if v else "false",
    float: float.__repr__,
    int: int.__repr__,
    str: str,
}


# -- show ----------------------------------------------------------------------------------------------


def show_run(rec: RunRecord, *, color: bool = False, tail: int = 20,
             now: _dt.datetime | None = None) -> str:
    """The ``sacredx show`` page: identity, provenance, config as ``print_config`` shows it, result,
    metrics (last/min/max), artifacts and the tail of the captured output."""
    from ..config.printing import format_config

    status = rec.effective_status(now) if now is not None else rec.effective_status()
    lines = [f"Run {rec.id}  ({rec.store})" if rec.store else f"Run {rec.id}"]

    def add(label: str, value: Any) -> None:
        if value not in (None, "", [], {}):
            lines.append(f"  {label:<11} {value}")

    add("experiment", rec.experiment_name)
    add("command", rec.command)
    add("status", status + (" (stored RUNNING, heartbeat stale)" if status == "DEAD" else ""))
    add("case", case_id(rec))
    add("sweep", sweep_id(rec))
    add("seed", seed(rec))
    add("start", (iso(rec.start_time) or "").replace("T", " "))
    add("stop", (iso(rec.stop_time) or "").replace("T", " "))
    if duration(rec) is not None:
        add("duration", _duration(float(duration(rec) or 0)))
    host = rec.host if isinstance(rec.host, Mapping) else {}
    if host:
        os_name = host.get("os")
        os_text = os_name[1] if isinstance(os_name, list) and len(os_name) > 1 else os_name
        extra = ", ".join(str(x) for x in (os_text, host.get("python_version") and
                                           f"Python {host.get('python_version')}") if x)
        add("host", f"{host.get('hostname', '')}" + (f" ({extra})" if extra else ""))
    for repo in rec.experiment.get("repositories") or []:
        if isinstance(repo, Mapping):
            add("git", f"{repo.get('url', '')} {str(repo.get('commit', ''))[:12]}"
                + (" (dirty)" if repo.get("dirty") else ""))
    sources = [s[0] for s in rec.experiment.get("sources") or [] if isinstance(s, (list, tuple)) and s]
    add("sources", ", ".join(sources))
    add("result", cell("result", rec.result) if rec.result is not None else None)
    lines.append("")
    lines.append(format_config(rec.config, None, color=color).rstrip("\n"))
    if rec.metrics:
        lines.append("")
        header = ["metric", "last", "min", "max", "points", "last step"]
        body = []
        for name, series in rec.metrics.items():
            body.append([name, *(cell("", reduce_series(series, r)) for r in ("last", "min", "max")),
                         str(len(series.get("values") or [])), cell("", reduce_series(series, "step"))])
        lines.append(plain_table(header, body, 1000))
    if rec.artifacts:
        lines.append("")
        lines.append("Artifacts: " + ", ".join(rec.artifacts))
    if rec.fail_trace:
        lines.append("")
        lines.append("Fail trace:")
        lines.extend("  " + ln for ln in "".join(rec.fail_trace).rstrip("\n").splitlines()[-tail:])
    out_lines = rec.captured_out.rstrip("\n").splitlines()
    if out_lines:
        lines.append("")
        shown = out_lines[-tail:]
        lines.append(f"Output (last {len(shown)} of {len(out_lines)} lines):" if len(out_lines) > tail
                     else "Output:")
        lines.extend("  " + ln for ln in shown)
    return "\n".join(lines) + "\n"
