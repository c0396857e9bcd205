"""Comparing runs and sweeps: config differences, result and metric deltas, runs only on one side, and
whether the seeds or the source files differ between the sides.

- :func:`compare_runs`: a base run against each other run.
- :func:`compare_sweeps`: two pytest sweeps case by case (cases match by case id, the node id as
  collected). ``last`` names the newest sweep; as the side to compare against, ``last`` is the newest
  sweep *before* the other side.

>>> from pytest_sacredx.observers.record import RunRecord
>>> a = RunRecord(id="1", status="COMPLETED", config={"C": 1, "seed": 3}, result=0.9)
>>> b = RunRecord(id="2", status="COMPLETED", config={"C": 10, "seed": 3}, result=0.95)
>>> (c,) = compare_runs(a, [b])
>>> c.config, [(d.key, d.old, d.new) for d in c.values], c.seeds_differ
([('C', 1, 10)], [('result', 0.9, 0.95)], False)
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from typing import Any

import attrs

from ..errors import did_you_mean
from ..observers.record import RunRecord
from .errors import RunNotFoundError
from .fields import case_id, flatten, seed, sweep_id

__all__ = [
    "Delta",
    "RunComparison",
    "SweepComparison",
    "compare_runs",
    "compare_sweeps",
    "sweeps",
    "resolve_sweep",
    "numeric_values",
]


@attrs.frozen
class Delta:
    """One value on both sides (``None`` where a side lacks it)."""

    key: str
    old: Any
    new: Any

    @property
    def change(self) -> float | None:
        if _num(self.old) and _num(self.new):
            return float(self.new) - float(self.old)
        return None

    @property
    def relative(self) -> float | None:
        change = self.change
        if change is None or not self.old:
            return None
        return change / abs(float(self.old))


def _num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def numeric_values(rec: RunRecord) -> dict[str, Any]:
    """``result`` and each metric's last value, as compared."""
    out: dict[str, Any] = {}
    if rec.result is not None and not isinstance(rec.result, (dict, list)):
        out["result"] = rec.result
    elif isinstance(rec.result, dict):
        out.update({f"result.{k}": v for k, v in flatten(rec.result).items()})
    for name, value in rec.final_metrics().items():
        out[f"metrics.{name}"] = value
    return out


def _config_diff(old: RunRecord, new: RunRecord, skip: Sequence[str] = ()) -> list[tuple[str, Any, Any]]:
    a, b = flatten(old.config), flatten(new.config)
    keys = list(dict.fromkeys([*a, *b]))

    def same(x: Any, y: Any) -> bool:
        return json.dumps(x, sort_keys=True, default=str) == json.dumps(y, sort_keys=True, default=str)

    return [(k, a.get(k), b.get(k)) for k in keys if k not in skip and not same(a.get(k), b.get(k))]


def _deltas(old: RunRecord, new: RunRecord) -> list[Delta]:
    a, b = numeric_values(old), numeric_values(new)
    return [Delta(k, a.get(k), b.get(k)) for k in dict.fromkeys([*a, *b])]


def _sources(rec: RunRecord) -> frozenset[tuple[str, str]]:
    out = set()
    for item in rec.experiment.get("sources") or []:
        if isinstance(item, (list, tuple)) and len(item) >= 2:
            out.add((str(item[0]), str(item[1])))
    return frozenset(out)


@attrs.frozen
class RunComparison:
    base: RunRecord
    other: RunRecord
    config: list[tuple[str, Any, Any]]
    values: list[Delta]
    seeds_differ: bool
    sources_differ: bool


def compare_runs(base: RunRecord, others: Sequence[RunRecord]) -> list[RunComparison]:
    """``base`` against each of ``others``."""
    return [
        RunComparison(
            base,
            other,
            _config_diff(base, other, skip=("seed",)),
            _deltas(base, other),
            seed(base) != seed(other),
            _sources(base) != _sources(other),
        )
        for other in others
    ]


# -- sweeps --------------------------------------------------------------------------------------------


def _when(rec: RunRecord) -> str:
    when = rec.start_time or rec.queue_time or rec.heartbeat
    return when.isoformat() if isinstance(when, _dt.datetime) else ""


def sweeps(records: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    """Runs per sweep id, oldest sweep first (by its newest run's start)."""
    by: dict[str, list[RunRecord]] = {}
    for rec in records:
        s = sweep_id(rec)
        if s:
            by.setdefault(s, []).append(rec)
    order = sorted(by, key=lambda s: max(_when(r) for r in by[s]))
    return {s: by[s] for s in order}


def resolve_sweep(records: Sequence[RunRecord], ref: str, *, before: str | None = None) -> str:
    """The sweep id ``ref`` names: ``last`` (the newest; with ``before``, the newest older than that
    sweep), a sweep id, or an unambiguous prefix of one."""
    known = sweeps(records)
    order = list(known)
    if not order:
        raise RunNotFoundError("the store holds no pytest sweep (runs recorded by pytest carry a sweep id)")
    if ref == "last":
        if before is None:
            return order[-1]
        older = order[: order.index(before)] if before in order else order
        if not older:
            raise RunNotFoundError(f"no sweep before {before} in the store ({len(order)} sweep(s))")
        return older[-1]
    if ref in known:
        return ref
    matches = [s for s in order if s.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    recent = list(reversed(order))[:5]
    what = f"is ambiguous ({', '.join(matches)})" if matches else "is not in the store"
    raise RunNotFoundError(
        f"sweep {ref!r} {what}; recent sweeps: {', '.join(recent)}." + did_you_mean(ref, order)
    )


@attrs.frozen
class CaseComparison:
    case: str
    old: RunRecord
    new: RunRecord
    config: list[tuple[str, Any, Any]]
    values: list[Delta]


@attrs.frozen
class SweepComparison:
    old_sweep: str
    new_sweep: str
    cases: list[CaseComparison]
    only_old: list[RunRecord]
    only_new: list[RunRecord]
    seeds_differ: bool
    sources_differ: bool


def _by_case(runs: Sequence[RunRecord]) -> dict[str, RunRecord]:
    out: dict[str, RunRecord] = {}
    for rec in sorted(runs, key=_when):  # the newest run of a case wins
        out[case_id(rec) or str(rec.id)] = rec
    return out


def compare_sweeps(
    records: Sequence[RunRecord], sweep: str = "last", against: str = "last"
) -> SweepComparison:
    """Sweep ``sweep`` (new side) against sweep ``against`` (old side), case by case."""
    known = sweeps(records)
    new_id = resolve_sweep(records, sweep)
    old_id = resolve_sweep(records, against, before=new_id)
    old_cases, new_cases = _by_case(known[old_id]), _by_case(known[new_id])
    cases = []
    seeds_differ = sources_differ = False
    for case, new in new_cases.items():
        old = old_cases.get(case)
        if old is None:
            continue
        seeds_differ |= seed(old) != seed(new)
        sources_differ |= _sources(old) != _sources(new)
        cases.append(CaseComparison(case, old, new, _config_diff(old, new, skip=("seed",)),
                                    _deltas(old, new)))
    return SweepComparison(
        old_id,
        new_id,
        cases,
        [r for c, r in old_cases.items() if c not in new_cases],
        [r for c, r in new_cases.items() if c not in old_cases],
        seeds_differ,
        sources_differ,
    )
