"""Assembling the report: the template, the style and the script (``report/assets``), the embedded JSON
and the inlined SVG plots.

>>> html = render([], title="no runs", store="file:runs")
>>> 'data-runs="0"' in html and "<script" in html and "src=" not in html
True
"""

from __future__ import annotations

import html as _html
from collections.abc import Sequence
from importlib import resources
from typing import Any

from ..observers.record import RunRecord
from ..query.compare import compare_sweeps, sweeps
from ..query.errors import QueryError
from ..query.fields import case_id, parse_field
from ..query.groups import default_group_keys, group_runs
from ..query.table import metric_names
from .data import build_payload, reference_time, to_script_json

__all__ = ["render"]


def _asset(name: str) -> str:
    return (resources.files(__package__) / "assets" / name).read_text(encoding="utf-8")


def _num(value: Any) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


#: groups the report lists (the largest first when there are more)
MAX_GROUPS = 200
#: groups whose mean curves one figure draws
MAX_CURVE_GROUPS = 10


def _all_distinct(records: Sequence[RunRecord], keys: Sequence[str]) -> bool:
    fields = [parse_field(k) for k in keys]
    seen: set[tuple[str, ...]] = set()
    for rec in records:
        key = tuple(repr(f.get(rec)) for f in fields)
        if key in seen:
            return False
        seen.add(key)
    return len(records) > 1


def _groups(records: Sequence[RunRecord]) -> dict[str, Any]:
    keys_used = default_group_keys(records)
    if keys_used and _all_distinct(records, keys_used):
        keys_text = ", ".join(k.removeprefix("config.") for k in keys_used)
        return {"rows": [], "title": None,
                "empty": f"every run has a config of its own ({len(records)} runs, varying "
                         f"{keys_text}): nothing to aggregate; group by fewer keys with "
                         "sacredx runs --group-by KEYS"}
    groups = group_runs(records)
    total = len(groups)
    if total > MAX_GROUPS:
        groups = sorted(groups, key=lambda g: -g.n)[:MAX_GROUPS]
    names = list(dict.fromkeys(v for g in groups for v in g.stats))
    keys = list(groups[0].keys) if groups else []
    header = [*(k.removeprefix("config.") for k in keys), "n"]
    for v in names:
        short = v.removeprefix("metrics.")
        header += [f"{short} mean ± std", f"{short} min", f"{short} max"]
    rows = []
    for g in groups:
        row: list[Any] = [*g.key, g.n]
        for v in names:
            s = g.stats.get(v)
            row += [f"{s.mean:.4g} ± {s.std:.2g}", float(f"{s.min:.6g}"), float(f"{s.max:.6g}")] if s \
                else ["", None, None]
        rows.append(row)
    title = (f"{total} groups by {', '.join(k.removeprefix('config.') for k in keys)}"
             if keys else "one group: no config entry other than the seed varies")
    if total > len(groups):
        title += f" (the {len(groups)} largest shown)"
    return {"header": header, "rows": rows, "title": title if records else None, "empty": "no runs"}


def _comparison(records: Sequence[RunRecord], sweep: str = "last") -> dict[str, Any]:
    if len(sweeps(records)) < 2:
        return {"rows": [], "empty": "needs two pytest sweeps in the store (the newest is compared "
                                     "with the one before)"}
    try:
        c = compare_sweeps(records, sweep=sweep)
    except QueryError as e:  # the sweep is the oldest: nothing before it
        return {"rows": [], "empty": str(e)}
    rows: list[list[Any]] = []
    for case in c.cases:
        name = case.case.rsplit("::", 1)[-1]
        rows += [[name, f"config.{k}", _num(x), _num(y), ""] for k, x, y in case.config]
        for d in case.values:
            change = "" if d.change is None else "=" if d.change == 0 else f"{d.change:+.4g}" + (
                f" ({d.relative * 100:+.3g}%)" if d.relative is not None else "")
            rows.append([name, d.key, d.old, d.new, change])
    notes = []
    if c.only_new:
        notes.append(f"only in {c.new_sweep}: " + ", ".join(
            (case_id(r) or r.id).rsplit("::", 1)[-1] for r in c.only_new[:20]))
    if c.only_old:
        notes.append(f"only in {c.old_sweep}: " + ", ".join(
            (case_id(r) or r.id).rsplit("::", 1)[-1] for r in c.only_old[:20]))
    if c.seeds_differ:
        notes.append("seeds differ between the sweeps")
    if c.sources_differ:
        notes.append("source files differ between the sweeps")
    return {
        "title": f"sweep {c.new_sweep} against {c.old_sweep}: {len(c.cases)} cases on both sides",
        "header": ["case", "key", "old", "new", "change"],
        "rows": rows,
        "notes": notes,
        "empty": "no case ran in both sweeps",
    }


def _plots(records: Sequence[RunRecord]) -> str:
    try:
        from .plots import figure_svg, group_curves_figure, parallel_figure
    except ImportError:  # pragma: no cover - plots imports matplotlib lazily
        return ""
    from ..errors import MissingExtraError

    figures: list[str] = []
    try:
        for metric in metric_names(records)[:4]:
            figures.append(figure_svg(group_curves_figure(records, metric, MAX_CURVE_GROUPS)))
        if records:
            figures.append(figure_svg(parallel_figure(records)))
    except MissingExtraError:
        return ('<p class="none">Plots need matplotlib: pip install '
                "'pytest-sacredx[report]'</p>")
    return "\n".join(f"<figure>{svg}</figure>" for svg in figures) or '<p class="none">no metrics</p>'


def render(
    records: Sequence[RunRecord],
    *,
    title: str,
    store: str,
    where: str | None = None,
    plots: bool = True,
    history: Sequence[RunRecord] | None = None,
    sweep: str = "last",
) -> str:
    """The report's HTML for ``records``; the comparison looks for ``sweep`` and the sweep before it
    in ``history`` (default: ``records``)."""
    payload = build_payload(records, title=title, store=store, groups=_groups(records),
                            comparison=_comparison(records if history is None else history, sweep))
    statuses: dict[str, int] = {}
    for rec in records:
        status = rec.effective_status()
        statuses[status] = statuses.get(status, 0) + 1
    now = reference_time(records)
    experiments = sorted({r.experiment_name for r in records if r.experiment_name})
    summary = [("runs", str(len(records))), *sorted(statuses.items()),
               ("sweeps", str(len(sweeps(records))))]
    if experiments:
        summary.append(("experiments", ", ".join(experiments[:5]) + (" …" if len(experiments) > 5 else "")))
    sub = f"store {store}" + (f" · where {where}" if where else "")
    if now is not None:
        sub += f" · newest run {now.isoformat(timespec='seconds').replace('T', ' ')}"
    esc = _html.escape
    replacements = {
        "@@TITLE@@": esc(title),
        "@@SUBTITLE@@": esc(sub),
        "@@SUMMARY@@": "".join(f"<div><b>{esc(str(v))}</b>{esc(k)}</div>" for k, v in summary),
        "@@CSS@@": _asset("report.css"),
        "@@PLOTS@@": _plots(records) if plots else "",
        "@@JS@@": _asset("report.js"),
        "@@DATA@@": to_script_json(payload),
    }
    text = _asset("template.html")
    # One pass over the template, so no inserted text is scanned for markers again.
    parts = text.split("@@")
    out = []
    for i, part in enumerate(parts):
        key = f"@@{part}@@"
        out.append(replacements[key] if i % 2 and key in replacements else (part if i % 2 == 0 else f"@@{part}@@"))
    html = "".join(out)
    return html.replace("<body>", f'<body data-runs="{len(records)}">', 1)
