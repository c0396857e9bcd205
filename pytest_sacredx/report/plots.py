"""Plots of runs with matplotlib (an optional extra: ``pip install 'pytest-sacredx[report]'``).

- ``curves``: a metric against its steps, a line per run; the legend names the config values that vary
  (with ``by``: one colour per value of that key).
- ``final``: one reduced value per run (``loss:min``, ``result``) against a config key, the mean per
  value of ``by`` as a line.
- ``parallel``: parallel coordinates over the varying config keys and the chosen values, each axis
  scaled to its own range (text values spread evenly), lines coloured by the last axis.

Files are reproducible: the same runs give byte-identical SVG and PNG files (no dates, fixed ids).

>>> from pytest_sacredx.observers.record import RunRecord
>>> run = RunRecord(id="1", status="COMPLETED", config={"lr": 0.1},
...                 metrics={"loss": {"steps": [0, 1], "values": [1.0, 0.5], "timestamps": []}})
>>> svg = figure_svg(curves_figure([run], "loss"))  # doctest: +SKIP
>>> svg.startswith("<svg")  # doctest: +SKIP
True
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from typing import Any

from ..errors import missing_extra
from ..observers.record import RunRecord
from ..query.errors import QueryUsageError
from ..query.fields import Field, check_known, parse_field
from ..query.table import metric_names, varying_config

__all__ = [
    "curves_figure",
    "group_curves_figure",
    "final_figure",
    "parallel_figure",
    "figure_svg",
    "plot_to_file",
]

MAX_LEGEND = 12
MAX_PARALLEL_LINES = 1000
MAX_PARALLEL_AXES = 12
#: runs a mean curve averages at most (evenly spaced through the store)
MAX_MEAN_RUNS = 2000


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise missing_extra("report", "matplotlib") from None
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "sacredx"  # stable element ids: byte-identical files
    plt.rcParams["svg.fonttype"] = "none"  # text as text: smaller, selectable
    return plt


def _metric_field(name: str, default_reducer: str | None = None) -> Field:
    text = name.strip()
    if text == "result" or text.startswith(("result.", "config.")):
        return parse_field(text)
    if not text.startswith("metrics."):
        text = "metrics." + text
    if default_reducer and ":" not in text:
        text += ":" + default_reducer
    return parse_field(text)


def _label(rec: RunRecord, keys: Sequence[Field]) -> str:
    parts = [f"{k.text.removeprefix('config.')}={_short(k.get(rec))}" for k in keys]
    return ", ".join(parts) or str(rec.id)[:12]


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _legend_keys(records: Sequence[RunRecord]) -> list[Field]:
    return [parse_field(k) for k in varying_config(records, exclude=("seed",))] or [
        parse_field(k) for k in varying_config(records)
    ]


def _new_figure(plt: Any, wide: bool = False) -> tuple[Any, Any]:
    fig, ax = plt.subplots(figsize=(9 if wide else 7, 4.5), dpi=100)
    ax.grid(True, alpha=0.3)
    return fig, ax


def curves_figure(records: Sequence[RunRecord], metric: str, by: str | None = None) -> Any:
    """A metric against its steps, a line per run."""
    plt = _pyplot()
    field = _metric_field(metric)
    if field.root != "metrics":
        raise QueryUsageError(f"plot {metric}: curves need a metric (loss), not {field.text}")
    check_known([field], records, "metric")
    name = field.metric or ""
    fig, ax = _new_figure(plt)
    by_field = parse_field(by) if by else None
    if by_field is not None:
        check_known([by_field], records, "--by key")
    keys = [by_field] if by_field is not None else _legend_keys(records)
    colors: dict[str, Any] = {}
    cmap = plt.get_cmap("tab10")
    labelled: set[str] = set()
    for rec in records:
        series = rec.metrics.get(name)
        if not series or not series.get("values"):
            continue
        values = series["values"]
        steps = series.get("steps") or list(range(len(values)))
        label = _label(rec, keys)
        if by_field is not None or len(records) > MAX_LEGEND:
            group = label
            if group not in colors:
                colors[group] = cmap(len(colors) % 10)
            shown = group if group not in labelled and len(colors) <= MAX_LEGEND else None
            labelled.add(group)
            ax.plot(steps, values, color=colors[group], linewidth=1, alpha=0.7, label=shown)
        else:
            ax.plot(steps, values, linewidth=1.2, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel(name)
    ax.set_title(f"{name} per step ({len(records)} runs)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def group_curves_figure(records: Sequence[RunRecord], metric: str, max_groups: int = 10) -> Any:
    """The mean curve of a metric per config group (runs of one variant over seeds are averaged)."""
    from ..query.groups import default_group_keys

    plt = _pyplot()
    keys = [parse_field(k) for k in default_group_keys(records)]
    labels: set[str] = set()
    for rec in records:
        labels.add(_label(rec, keys) if keys else "")
        if len(labels) > max_groups:  # too many to tell apart: the mean over the runs
            keys = []
            break
    step = max(1, math.ceil(len(records) / MAX_MEAN_RUNS))
    sample = list(records)[::step]
    groups: dict[str, dict[Any, list[float]]] = {}
    for rec in sample:
        series = rec.metrics.get(metric)
        if not series or not series.get("values"):
            continue
        by_step = groups.setdefault(_label(rec, keys) if keys else "all runs", {})
        steps = series.get("steps") or list(range(len(series["values"])))
        for st, v in zip(steps, series["values"], strict=False):
            if _number(v):
                by_step.setdefault(st, []).append(float(v))
    fig, ax = _new_figure(plt)
    for label in list(groups)[:max_groups]:
        by_step = groups[label]
        xs = sorted(by_step)
        ax.plot(xs, [math.fsum(by_step[x]) / len(by_step[x]) for x in xs], linewidth=1.3, label=label)
    what = "mean per group" if keys else "mean of the runs"
    if step > 1:
        what += f" ({len(sample)} of {len(records)} runs, evenly spaced)"
    ax.set_title(f"{metric}: {what}")
    ax.set_xlabel("step")
    ax.set_ylabel(metric)
    if groups:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def final_figure(records: Sequence[RunRecord], value: str, x: str, by: str | None = None) -> Any:
    """One value per run (a metric reduced, ``last`` by default, or ``result``) against ``x``."""
    plt = _pyplot()
    field = _metric_field(value, default_reducer=None)
    x_field = parse_field(x)
    by_field = parse_field(by) if by else None
    check_known([f for f in (field, x_field, by_field) if f is not None], records, "plot key")
    fig, ax = _new_figure(plt)
    groups: dict[str, list[tuple[float, float]]] = {}
    for rec in records:
        xv, yv = x_field.get(rec), field.get(rec)
        if not _number(xv) or not _number(yv):
            continue
        groups.setdefault(_label(rec, [by_field]) if by_field else "", []).append((float(xv), float(yv)))
    cmap = plt.get_cmap("tab10")
    for i, (label, points) in enumerate(groups.items()):
        color = cmap(i % 10)
        xs, ys = zip(*points, strict=True) if points else ((), ())
        ax.scatter(xs, ys, s=14, alpha=0.6, color=color)
        means: dict[float, list[float]] = {}
        for px, py in points:
            means.setdefault(px, []).append(py)
        mx = sorted(means)
        ax.plot(mx, [math.fsum(means[v]) / len(means[v]) for v in mx], color=color, linewidth=1.5,
                label=(label + " (mean)") if label else "mean")
    ax.set_xlabel(x_field.text.removeprefix("config."))
    ax.set_ylabel(field.text.removeprefix("metrics."))
    if groups and all(v > 0 for pts in groups.values() for v, _ in pts):
        xs_all = [v for pts in groups.values() for v, _ in pts]
        if max(xs_all) / min(xs_all) >= 100:
            ax.set_xscale("log")
    ax.set_title(f"{field.text.removeprefix('metrics.')} against {ax.get_xlabel()}")
    if groups:
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def parallel_figure(records: Sequence[RunRecord], values: Sequence[str] | None = None) -> Any:
    """Parallel coordinates over the varying config keys (except ``seed``) and ``values``."""
    plt = _pyplot()
    from matplotlib.collections import LineCollection

    axes_fields = [parse_field(k) for k in varying_config(records, exclude=("seed",))]
    dropped = max(0, len(axes_fields) - MAX_PARALLEL_AXES)
    axes_fields = axes_fields[:MAX_PARALLEL_AXES]
    names = list(values) if values else ["result", *(f"metrics.{m}" for m in metric_names(records))]
    value_fields = [_metric_field(v) for v in names]
    check_known(value_fields, records, "plot value")
    value_fields = [f for f in value_fields if any(_number(f.get(r)) for r in records)]
    fields = axes_fields + value_fields
    fig, ax = _new_figure(plt, wide=True)
    if len(fields) < 2 or not records:
        ax.text(0.5, 0.5, "nothing varies: no parallel coordinates", ha="center", va="center")
        ax.set_axis_off()
        return fig
    step = max(1, math.ceil(len(records) / MAX_PARALLEL_LINES))
    shown = list(records)[::step]
    columns = [[f.get(r) for r in shown] for f in fields]
    scaled: list[list[float]] = []
    ticks: list[tuple[list[float], list[str]]] = []
    for col in columns:
        nums = [v for v in col if _number(v)]
        if len(nums) == len([v for v in col if v is not None]) and nums:
            lo, hi = min(nums), max(nums)
            span = (hi - lo) or 1.0
            scaled.append([((v - lo) / span) if _number(v) else math.nan for v in col])
            ticks.append(([0.0, 1.0], [f"{lo:.3g}", f"{hi:.3g}"]))
        else:
            cats = sorted({_short(v) for v in col if v is not None})
            place = {c: (i / (len(cats) - 1) if len(cats) > 1 else 0.5) for i, c in enumerate(cats)}
            scaled.append([place[_short(v)] if v is not None else math.nan for v in col])
            ticks.append(([place[c] for c in cats], cats))
    segments = [list(zip(range(len(fields)), [scaled[j][i] for j in range(len(fields))], strict=True))
                for i in range(len(shown))]
    colour = scaled[-1]
    cmap = plt.get_cmap("viridis")
    lines = LineCollection(segments, colors=[cmap(c if c == c else 0.0) for c in colour],
                           linewidths=1, alpha=0.5)
    ax.add_collection(lines)
    ax.set_xlim(-0.05, len(fields) - 0.95)
    ax.set_ylim(-0.08, 1.08)
    ax.set_xticks(range(len(fields)))
    ax.set_xticklabels([f.text.removeprefix("config.").removeprefix("metrics.") for f in fields],
                       fontsize=8)
    ax.set_yticks([])
    ax.grid(False)
    for i, (pos, labels) in enumerate(ticks):
        ax.axvline(i, color="0.6", linewidth=0.8)
        for p, text in zip(pos, labels, strict=True):
            ax.text(i + 0.02, p, text, fontsize=7, va="center", color="0.25")
    note = f" ({len(shown)} of {len(records)} runs)" if step > 1 else f" ({len(records)} runs)"
    if dropped:
        note += f", first {MAX_PARALLEL_AXES} config keys of {MAX_PARALLEL_AXES + dropped}"
    ax.set_title("parallel coordinates" + note + f", colour: {ax.get_xticklabels()[-1].get_text()}")
    fig.tight_layout()
    return fig


def figure_svg(fig: Any) -> str:
    """The figure as an ``<svg>`` element to inline in HTML (no XML prolog, no DOCTYPE, no date)."""
    plt = _pyplot()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    start, end = text.find("<metadata>"), text.find("</metadata>")
    if 0 <= start < end:  # RDF about the file, not part of the picture
        text = text[:start] + text[end + len("</metadata>"):]
    return text


def plot_to_file(
    records: Sequence[RunRecord],
    metric: str,
    path: str,
    *,
    x: str = "step",
    by: str | None = None,
    kind: str = "curves",
) -> None:
    """``sacredx plot``: write a PNG or SVG file."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".png", ".svg"):
        raise QueryUsageError(f"plot -o {path}: give a .png or .svg file name")
    if not records:
        raise QueryUsageError("plot: no runs selected (check --runs, --sweep, --where)")
    if kind == "curves":
        if x != "step":
            raise QueryUsageError("plot --kind curves plots against the step; use --kind final for --x config.KEY")
        fig = curves_figure(records, metric, by)
    elif kind == "final":
        if x == "step":
            raise QueryUsageError("plot --kind final needs --x config.KEY (the key to plot against)")
        fig = final_figure(records, metric, x, by)
    else:
        fig = parallel_figure(records, [m for m in metric.split(",") if m.strip()])
    plt = _pyplot()
    from ..atomic import atomic_file

    with atomic_file(path, "wb") as fh:
        if ext == ".svg":
            fig.savefig(fh, format="svg", metadata={"Date": None, "Creator": None})
        else:
            fig.savefig(fh, format="png", metadata={"Software": None})
    plt.close(fig)
