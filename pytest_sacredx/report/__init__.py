"""One self-contained HTML file of runs: ``sacredx report -o report.html`` and ``pytest --exp-report``.

The file needs nothing else: its style, its script (our own, a few hundred lines) and its data (the runs,
embedded once as JSON) are inside it, and a Content-Security-Policy forbids every request, so it works
offline and as a CI artifact. The browser renders the runs table a page at a time (sort by a column,
filter, choose columns; click a run for its config and metric curves), the group-by view, the
comparison with the previous sweep and — with matplotlib installed — plots inlined as SVG (mean curves
per group, parallel coordinates). The same runs give a byte-identical file.

>>> from pytest_sacredx.observers.memory import MemoryObserver
>>> html = build_report(MemoryObserver(), title="empty")
>>> html.startswith("<!DOCTYPE html>") and "http-equiv=\\"Content-Security-Policy\\"" in html
True
"""

from __future__ import annotations

import os
from typing import Any

import attrs

from ..observers.record import RunReader, RunRecord

__all__ = ["ReportInfo", "build_report", "write_report", "render"]


@attrs.frozen
class ReportInfo:
    path: str
    runs: int
    size: int


def build_report(
    store: str | RunReader, *, where: str | None = None, title: str | None = None,
    records: list[RunRecord] | None = None, plots: bool = True, sweep: str | None = None,
) -> str:
    """The HTML text of the report of ``store`` (or of ``records`` when given); with ``sweep``, of the
    runs of that sweep only, compared with the sweep before it."""
    from ..observers.redact import redact_url
    from ..query.stores import read_runs
    from ..query.table import select

    if records is None:
        records = read_runs(store)
    chosen = select(records, where=where) if where else list(records)
    if sweep is not None:
        from ..query.fields import sweep_id

        chosen = [r for r in chosen if sweep_id(r) == sweep]
    name = redact_url(store) if isinstance(store, str) else getattr(store, "store", "") or repr(store)
    from .html import render

    return render(chosen, title=title or "sacredx runs", store=name, where=where, plots=plots,
                  history=records, sweep=sweep or "last")


def write_report(
    store: str | RunReader, path: str | os.PathLike[str], **kwargs: Any
) -> ReportInfo:
    """Write the report atomically to ``path``."""
    from ..atomic import atomic_file

    html = build_report(store, **kwargs)
    data = html.encode("utf-8")
    with atomic_file(path, "wb") as fh:
        fh.write(data)
    return ReportInfo(os.fspath(path), _run_count(html), len(data))


def _run_count(html: str) -> int:
    marker = 'data-runs="'
    start = html.find(marker)
    if start < 0:
        return 0
    start += len(marker)
    return int(html[start : html.index('"', start)])


def render(*args: Any, **kwargs: Any) -> str:
    from .html import render as _render

    return _render(*args, **kwargs)
