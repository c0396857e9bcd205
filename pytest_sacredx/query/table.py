"""Rows of runs: selecting (``--where``, ``--sort``, ``--last``), the default columns, projections, and
the tidy table (one row per run, config flattened with dotted names).

The default columns are what tells runs of a sweep apart: short id, experiment, case (or variant),
status, start, duration, every config entry that varies among the listed runs, result, and the final
value of every metric.

>>> from pytest_sacredx.observers.record import RunRecord
>>> runs = [RunRecord(id=str(i), status="COMPLETED", config={"gamma": g, "C": 1}, result=g * 2)
...         for i, g in enumerate([0.1, 0.7])]
>>> varying_config(runs)
['config.gamma']
>>> rows(runs, ["id", "config.gamma", "result"])
[{'id': '0', 'config.gamma': 0.1, 'result': 0.2}, {'id': '1', 'config.gamma': 0.7, 'result': 1.4}]
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from ..observers.record import RunRecord
from .errors import QueryUsageError, UnknownFieldError
from .fields import Field, check_known, flatten, parse_field
from .where import parse_where

__all__ = [
    "select",
    "varying_config",
    "default_columns",
    "parse_columns",
    "rows",
    "tidy_rows",
    "sort_key",
]

_HEAD = ["id", "experiment", "case", "status", "start", "duration"]


_SCALARS = (str, int, float, bool, type(None))


def _canon(value: Any) -> Any:
    """A hashable stand-in for ``value`` that tells apart what JSON tells apart (1 from 1.0 is not)."""
    if value.__class__ in _SCALARS:
        return (value.__class__ is bool, value)
    return json.dumps(value, sort_keys=True, default=str)


_VARYING_CACHE: list[Any] = [None, None]


def varying_config(records: Sequence[RunRecord], *, exclude: Iterable[str] = ()) -> list[str]:
    """``config.KEY`` of every flattened config entry whose value differs among ``records`` (a key
    missing from some runs varies too), in first-seen order."""
    skip = set(exclude)
    cached, answer = _VARYING_CACHE
    # the columns, the groups and the plots ask about the same runs: the last answer is kept (with
    # the list itself, so that its id cannot be another list's)
    if cached is None or cached[0] is not records or cached[1] != len(records):
        answer = _varying(records)
        _VARYING_CACHE[:] = [(records, len(records)), answer]
    return [f"config.{k}" for k in answer if k not in skip]


def _varying(records: Sequence[RunRecord]) -> list[str]:
    first: dict[str, Any] = {}  # key -> the canonical value of the runs so far, while they agree
    varies: set[str] = set()
    for n, rec in enumerate(records):
        flat = flatten(rec.config)
        for key, value in flat.items():
            if key in varies:
                continue
            canon = _canon(value)
            if key not in first:
                first[key] = canon
                if n:  # the runs before did not have it
                    varies.add(key)
            elif first[key] != canon:
                varies.add(key)
        if len(flat) != len(first):
            varies.update(key for key in first if key not in flat)
    return [k for k in first if k in varies]


def metric_names(records: Sequence[RunRecord]) -> list[str]:
    """Every metric any run logged, sorted (stores differ in the order they keep)."""
    return sorted({name for rec in records for name in rec.metric_names()})


def default_columns(records: Sequence[RunRecord]) -> list[str]:
    """The columns ``sacredx runs`` shows when ``--columns`` is not given."""
    head = list(_HEAD)
    if len({rec.experiment_name for rec in records}) == 1:
        head.remove("experiment")
    if not any(rec.meta.get("pytest") for rec in records if isinstance(rec.meta, dict)):
        head[head.index("case")] = "variant"
    return [*head, *varying_config(records), "result", *(f"metrics.{m}" for m in metric_names(records))]


def parse_columns(spec: str | Sequence[str] | None, records: Sequence[RunRecord]) -> list[Field]:
    """Fields for ``--columns``: a comma-separated list; entries starting with ``+`` add to the
    default columns, ``-NAME`` removes one of them."""
    items: list[str] = []
    for part in [spec] if isinstance(spec, str) else list(spec or []):
        items += [p.strip() for p in part.split(",") if p.strip()]
    if not items or all(p[0] in "+-" for p in items):
        names = default_columns(records)
        for p in items:
            if p[0] == "+":
                names.append(p[1:])
            else:
                drop = parse_field(p[1:], "column").text
                if drop not in names:
                    raise UnknownFieldError(
                        f"column {p[1:]!r} is not a default column ({', '.join(names)})"
                    )
                names.remove(drop)
    else:
        names = items
    fields = [parse_field(n, "column") for n in names]
    check_known(fields, records, "column")
    return fields


def sort_key(field: Field, now: _dt.datetime | None = None) -> Any:
    """A key that sorts runs by ``field``: numbers before strings, missing values last."""

    def key(rec: RunRecord) -> tuple[int, Any]:
        value = field.get(rec, now)
        if value is None:
            return (3, "")
        if isinstance(value, bool):
            return (1, int(value))
        if isinstance(value, (int, float)):
            return (0, value) if value == value else (2, "")  # NaN after numbers
        return (1, value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str))

    return key


def select(
    records: Sequence[RunRecord],
    where: str | None = None,
    sort: str | None = None,
    last: int | None = None,
    now: _dt.datetime | None = None,
) -> list[RunRecord]:
    """The runs ``--where`` keeps, ordered by ``--sort KEY`` (``-KEY`` descending; default: as the
    store lists them, oldest first), the last ``N`` when ``last`` is given."""
    selected = list(records)
    if where:
        selected = parse_where(where).filter(selected, now)
    if sort:
        descending = sort.startswith("-")
        field = parse_field(sort.lstrip("-+"), "sort key")
        check_known([field], records, "sort key")
        key = sort_key(field, now)
        if descending:  # missing values stay last either way
            present = [r for r in selected if field.get(r, now) is not None]
            missing = [r for r in selected if field.get(r, now) is None]
            selected = sorted(present, key=key, reverse=True) + missing
        else:
            selected = sorted(selected, key=key)
    if last is not None:
        if last < 0:
            raise QueryUsageError(f"--last {last}: give a number of runs, 0 or more")
        selected = selected[-last:] if last else []
    return selected


def rows(
    records: Sequence[RunRecord], columns: Sequence[str | Field], now: _dt.datetime | None = None
) -> list[dict[str, Any]]:
    """One dict per run, keyed by the columns' canonical names."""
    fields = [c if isinstance(c, Field) else parse_field(c, "column") for c in columns]
    # a one-key config column (most of a sweep's table) is read from the row's config, fetched once
    plan = [(f.text, f.parts[0] if f.root == "config" and len(f.parts) == 1 else None, f.getter())
            for f in fields]
    out = []
    for rec in records:
        config = rec.config
        if config.__class__ is dict:
            cget = config.get
            out.append({text: get(rec, now) if key is None else cget(key) for text, key, get in plan})
        else:
            out.append({text: get(rec, now) for text, _, get in plan})
    return out


def tidy_rows(records: Sequence[RunRecord], now: _dt.datetime | None = None) -> list[dict[str, Any]]:
    """The tidy table: one row per run with its identity, status, times, seed, result, every config
    entry flattened (``config.opt.lr``) and each metric's last value (``metrics.loss``); every row has
    every column (``None`` where a run lacks it), in a stable order."""
    base = ["id", "experiment", "case", "variant", "sweep", "status", "start", "stop", "duration",
            "seed", "host", "result"]
    fields = [parse_field(b) for b in base]
    config_keys: dict[str, None] = {}
    for rec in records:
        config_keys.update(dict.fromkeys(flatten(rec.config)))
    metrics = metric_names(records)
    out = []
    for rec in records:
        row = {f.text: f.get(rec, now) for f in fields}
        flat = flatten(rec.config)
        for key in config_keys:
            row[f"config.{key}"] = flat.get(key)
        finals = rec.final_metrics()
        for name in metrics:
            row[f"metrics.{name}"] = finals.get(name)
        row["store"] = rec.store
        out.append(row)
    return out
