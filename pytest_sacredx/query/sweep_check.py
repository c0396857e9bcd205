"""Is a sweep complete? Every expected case recorded exactly once, none missing, none extra.

A sweep split over shards (``--exp-shard I/N``) or machines is only as good as its union: a shard that
crashed, split a different case list, or ran twice leaves holes or duplicates that no single job sees.
:func:`check_sweep` compares the runs of one sweep (``meta.pytest.sweep_id``) with the expected case
ids (``pytest --collect-only --exp-list-cases FILE``) and counts the statuses.

A case is *duplicated* when runs of it come from more than one pytest session (``meta.pytest.session``)
— one test calling ``exp_run`` twice, or an executor retry, records several runs in one session and
is not a duplicate. With ``allow_reruns`` (a CI job re-run), duplicates are reported but accepted, and
the statuses count each case's latest run.

>>> from pytest_sacredx.observers.record import RunRecord
>>> def rec(case, session, status="COMPLETED"):
...     meta = {"pytest": {"sweep_id": "s1", "case_id": case, "session": session}}
...     return RunRecord(id=case + session, status=status, meta=meta)
>>> result = check_sweep([rec("a", "x"), rec("b", "y", "FAILED")], "s1", ["a", "b", "c"])
>>> result.ok, result.missing, result.statuses
(False, ('c',), {'COMPLETED': 1, 'FAILED': 1})
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from ..errors import SacredxError
from ..observers.record import RunRecord

__all__ = ["SweepCheck", "check_sweep", "read_expected", "resolve_sweep", "SweepNotFoundError"]


class SweepNotFoundError(SacredxError, LookupError):
    """The store holds no sweep with that id (or the prefix names several)."""


@attrs.frozen
class SweepCheck:
    """What :func:`check_sweep` found; ``ok`` when nothing is missing, extra or (unless accepted)
    duplicated."""

    sweep: str
    expected: int
    recorded: int
    statuses: dict[str, int]
    missing: tuple[str, ...]
    duplicated: dict[str, tuple[str, ...]]
    unexpected: tuple[str, ...]
    plans: tuple[str, ...]
    allow_reruns: bool = False

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unexpected and (self.allow_reruns or not self.duplicated)

    def lines(self, store: str = "", limit: int = 20) -> list[str]:
        """The report a person reads: counts first, then each problem with up to ``limit`` case ids."""
        counts = ", ".join(f"{s} {n}" for s, n in sorted(self.statuses.items())) or "no runs"
        where = f" in {store}" if store else ""
        out = [f"sweep {self.sweep}{where}: {self.expected} expected cases, {self.recorded} recorded ({counts})"]

        def section(title: str, cases: Sequence[str], detail: dict[str, Any] | None = None) -> None:
            if not cases:
                return
            out.append(f"{title} ({len(cases)}):")
            for case in list(cases)[:limit]:
                extra = f"  (sessions {', '.join(detail[case])})" if detail else ""
                out.append(f"  {case}{extra}")
            if len(cases) > limit:
                out.append(f"  … {len(cases) - limit} more")

        section("missing", self.missing)
        section("re-run" if self.allow_reruns else "duplicated", sorted(self.duplicated), self.duplicated)
        section("unexpected (recorded, not expected)", self.unexpected)
        if len(self.plans) > 1:
            out.append(
                f"note: the shards split by different plans ({', '.join(self.plans)}): they saw different "
                "case lists or durations; give every shard the same arguments (or --exp-shard-by hash)."
            )
        out.append("OK" if self.ok else "FAILED")
        return out

    def to_json(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["ok"] = self.ok
        return data


def read_expected(path: str | os.PathLike[str]) -> list[str]:
    """Case ids from a file written by ``--exp-list-cases``: one per line; blank lines and ``#``
    comments are skipped."""
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]


def _pytest_meta(rec: RunRecord) -> dict[str, Any]:
    meta = (rec.meta or {}).get("pytest")
    return meta if isinstance(meta, dict) else {}


def resolve_sweep(records: Iterable[RunRecord], ref: str) -> str:
    """The sweep id ``ref`` names: an id, an unambiguous prefix of one, or ``last`` (the most recent)."""
    latest: dict[str, str] = {}
    for rec in records:
        sweep = _pytest_meta(rec).get("sweep_id")
        if sweep:
            when = rec.start_time or rec.heartbeat
            stamp = when.isoformat() if when is not None else ""
            latest[sweep] = max(latest.get(sweep, ""), stamp)
    recent = sorted(latest, key=lambda s: latest[s], reverse=True)
    if ref == "last":
        if not recent:
            raise SweepNotFoundError("the store holds no pytest sweep yet.")
        return recent[0]
    if ref in latest:
        return ref
    matches = [s for s in latest if s.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    what = f"is ambiguous ({', '.join(sorted(matches))})" if matches else "is not in the store"
    raise SweepNotFoundError(
        f"sweep {ref!r} {what}; recent sweeps: {', '.join(recent[:5]) or 'none'}."
    )


def check_sweep(
    records: Iterable[RunRecord], sweep: str, expected: Iterable[str], *, allow_reruns: bool = False
) -> SweepCheck:
    """Compare the runs of ``sweep`` in ``records`` with the ``expected`` case ids."""
    wanted = list(dict.fromkeys(expected))
    by_case: dict[str, list[RunRecord]] = {}
    plans: set[str] = set()
    for rec in records:
        meta = _pytest_meta(rec)
        if meta.get("sweep_id") != sweep or not meta.get("case_id"):
            continue
        by_case.setdefault(str(meta["case_id"]), []).append(rec)
        plan = (meta.get("shard") or {}).get("plan") if isinstance(meta.get("shard"), dict) else None
        if plan:
            plans.add(str(plan))
    wanted_set = set(wanted)
    statuses: dict[str, int] = {}
    duplicated: dict[str, tuple[str, ...]] = {}
    for case in wanted:
        runs = by_case.get(case)
        if not runs:
            continue
        sessions = list(dict.fromkeys(str(_pytest_meta(r).get("session") or f"run {r.id}") for r in runs))
        if len(sessions) > 1:
            duplicated[case] = tuple(sessions)
        latest = max(runs, key=_when)
        status = latest.effective_status()
        statuses[status] = statuses.get(status, 0) + 1
    return SweepCheck(
        sweep=sweep,
        expected=len(wanted),
        recorded=sum(1 for c in wanted if c in by_case),
        statuses=statuses,
        missing=tuple(c for c in wanted if c not in by_case),
        duplicated=duplicated,
        unexpected=tuple(sorted(c for c in by_case if c not in wanted_set)),
        plans=tuple(sorted(plans)),
        allow_reruns=allow_reruns,
    )


def _when(rec: RunRecord) -> tuple[str, str]:
    when = rec.start_time or rec.heartbeat
    return (when.isoformat() if when is not None else "", str(rec.id))
