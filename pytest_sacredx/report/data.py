"""What the HTML report embeds: the runs as one compact JSON document, column by column.

The runs table is a list of column names and a list of rows (values in column order), so 10,000 runs
do not repeat 40 key names each; each run's metric curves keep at most :data:`MAX_POINTS` points (every
k-th point and the last one, values to 4 significant digits) — enough to draw, small enough that a
10,000-run report stays a few megabytes. Everything is ordered, so the same runs give the same bytes.

>>> import datetime
>>> from pytest_sacredx.observers.record import RunRecord
>>> run = RunRecord(id="1", status="COMPLETED", config={"lr": 0.1}, result=0.5,
...                 start_time=datetime.datetime(2024, 5, 1, 12, 0),
...                 metrics={"loss": {"steps": [0, 1, 2], "values": [3.0, 2.0, 1.0], "timestamps": []}})
>>> payload = build_payload([run], title="demo", store="memory:")
>>> payload["columns"][:3], payload["rows"][0][:3]
(['id', 'experiment', 'case'], ['1', None, None])
>>> payload["curves"][0]
{'loss': {'a': 0, 'd': 1, 'l': 2, 'v': [3.0, 2.0, 1.0]}}
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Sequence
from typing import Any

from ..observers.record import RunRecord
from ..query.fields import parse_field
from ..query.table import default_columns, tidy_rows

__all__ = ["MAX_POINTS", "build_payload", "to_script_json", "reference_time", "compact_curve"]

#: points kept per metric curve in the report
MAX_POINTS = 25


def reference_time(records: Sequence[RunRecord]) -> _dt.datetime | None:
    """The newest time in the runs (the report says it, rather than when it was made, so the same
    store gives the same file; only a RUNNING run whose heartbeat goes stale in between changes it,
    to DEAD)."""
    times = [t for r in records for t in (r.start_time, r.stop_time, r.heartbeat, r.queue_time) if t]
    return max(times) if times else None


def _plain(value: Any) -> Any:
    """A JSON cell: scalars as they are (non-finite floats as strings), containers as JSON text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _round(value: Any) -> Any:
    cls = value.__class__
    if cls is float:
        return float(f"{value:.4g}") if math.isfinite(value) else None
    if cls is int:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return _round(float(value)) if isinstance(value, float) else int(value)


def compact_curve(series: dict[str, Any]) -> dict[str, Any] | None:
    """At most ``MAX_POINTS`` (+ the last) points: ``{"a": first step, "d": step between kept points,
    "l": last step, "v": values}`` when the steps are evenly spaced, else ``{"s": steps, "v": values}``."""
    values = list(series.get("values") or [])
    if not values:
        return None
    steps = list(series.get("steps") or range(len(values)))
    if len(steps) != len(values):
        steps = list(range(len(values)))
    stride = max(1, math.ceil(len(values) / MAX_POINTS))
    keep = list(range(0, len(values), stride))
    if keep[-1] != len(values) - 1:
        keep.append(len(values) - 1)
    kept_values = [_round(values[i]) for i in keep]
    kept_steps = [steps[i] for i in keep]
    try:  # evenly spaced integer steps (the usual 0, 1, 2, …): compared in C, not point by point
        even = len(steps) > 1 and steps[1] != steps[0] and steps == list(
            range(steps[0], steps[-1] + 1 if steps[1] > steps[0] else steps[-1] - 1, steps[1] - steps[0]))
    except TypeError:  # float steps
        even = False
    if even or len(steps) == 1:
        delta = (steps[1] - steps[0]) * stride if len(steps) > 1 else 1
        return {"a": kept_steps[0], "d": delta, "l": kept_steps[-1], "v": kept_values}
    return {"s": [_round(s) for s in kept_steps], "v": kept_values}


def build_payload(
    records: Sequence[RunRecord],
    *,
    title: str,
    store: str,
    groups: dict[str, Any] | None = None,
    comparison: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document the report's script renders."""
    now = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)  # who is DEAD: as sacredx runs says
    table = tidy_rows(records, now)
    columns = list(table[0]) if table else [f.text for f in map(parse_field, ("id", "status"))]
    shown = [c for c in default_columns(records) if c in columns] if records else columns
    return {
        "title": title,
        "store": store,
        "newest": newest.isoformat(timespec="seconds") if (newest := reference_time(records)) else None,
        "columns": columns,
        "shown": shown,
        "rows": [[_plain(row[c]) for c in columns] for row in table],
        "curves": [
            {name: c for name, m in rec.metrics.items() if (c := compact_curve(m)) is not None}
            for rec in records
        ],
        "groups": _finite(groups),
        "comparison": _finite(comparison),
    }


def _finite(value: Any) -> Any:
    """NaN and ±inf (not JSON) as strings, anywhere in ``value``."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def to_script_json(payload: dict[str, Any]) -> str:
    """JSON safe inside ``<script type="application/json">``: every ``<`` escaped (no ``</script>``,
    no ``<!--`` can end or confuse the element), no NaN (not JSON)."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
