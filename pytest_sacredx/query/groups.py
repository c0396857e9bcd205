"""The multi-seed view: runs grouped by config keys, with n, mean ± std, min and max of the result and of
each final metric per group.

The default keys are every config entry that varies among the runs except ``seed`` — so the runs of one
variant over several seeds form one group.

>>> from pytest_sacredx.observers.record import RunRecord
>>> runs = [RunRecord(id=str(i), status="COMPLETED", config={"C": c, "seed": i}, result=r)
...         for i, (c, r) in enumerate([(1, 0.8), (1, 0.9), (10, 0.95)])]
>>> [(g.key, g.n, round(g.stats["result"].mean, 3)) for g in group_runs(runs)]
[(('1',), 2, 0.85), (('10',), 1, 0.95)]
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Sequence
from typing import Any

import attrs

from ..observers.record import RunRecord
from .fields import Field, check_known, parse_field
from .table import metric_names, varying_config

__all__ = ["Stats", "Group", "group_runs", "default_group_keys", "stats"]


@attrs.frozen
class Stats:
    """n, mean, sample standard deviation, min and max of the numbers of one group."""

    n: int
    mean: float
    std: float
    min: float
    max: float

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def stats(values: Sequence[Any]) -> Stats | None:
    """Stats of the numbers in ``values`` (bools, strings, NaN and None are left out)."""
    nums = [float(v) for v in values
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)]
    if not nums:
        return None
    mean = math.fsum(nums) / len(nums)
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in nums) / (len(nums) - 1)) if len(nums) > 1 else 0.0
    return Stats(len(nums), mean, std, min(nums), max(nums))


@attrs.frozen
class Group:
    """One group: the values of the group keys (as shown), its runs, and stats per value name
    (``result`` and ``metrics.NAME``)."""

    keys: tuple[str, ...]
    key: tuple[str, ...]
    runs: tuple[RunRecord, ...]
    stats: dict[str, Stats]

    @property
    def n(self) -> int:
        return len(self.runs)


def default_group_keys(records: Sequence[RunRecord]) -> list[str]:
    return varying_config(records, exclude=("seed",))


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if value.__class__ is str:
        return value  # type: ignore[no-any-return]
    if value.__class__ in (int, float):
        return repr(value)  # what JSON writes, without its encoder's cost per value
    return json.dumps(value, sort_keys=True, default=str)


def group_runs(
    records: Sequence[RunRecord],
    keys: Sequence[str] | None = None,
    values: Sequence[str] | None = None,
    now: _dt.datetime | None = None,
) -> list[Group]:
    """Groups in order of first appearance. ``values`` default to ``result`` and every metric's last
    value; give ``metrics.loss:min`` and the like to summarise something else."""
    names = list(keys) if keys else default_group_keys(records)
    key_fields = [parse_field(k, "group-by key") for k in names]
    check_known(key_fields, records, "group-by key")
    value_fields: list[Field] = [
        parse_field(v, "column") for v in (values or ["result", *(f"metrics.{m}" for m in metric_names(records))])
    ]
    check_known(value_fields, records, "column")
    buckets: dict[tuple[str, ...], list[RunRecord]] = {}
    for rec in records:
        buckets.setdefault(tuple(_shown(f.get(rec, now)) for f in key_fields), []).append(rec)
    groups = []
    for key, runs in buckets.items():
        per: dict[str, Stats] = {}
        for field in value_fields:
            s = stats([field.get(r, now) for r in runs])
            if s is not None:
                per[field.text] = s
        groups.append(Group(tuple(f.text for f in key_fields), key, tuple(runs), per))
    return groups
