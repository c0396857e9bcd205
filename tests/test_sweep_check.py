"""Is a sweep complete (pytest_sacredx/query/sweep_check.py)."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_sacredx.observers.record import RunRecord
from pytest_sacredx.query.sweep_check import (
    SweepNotFoundError,
    check_sweep,
    read_expected,
    resolve_sweep,
)

T0 = _dt.datetime(2026, 1, 1)


def rec(case: str, session: str, status: str = "COMPLETED", sweep: str = "s1", minute: int = 0,
        plan: str | None = None) -> RunRecord:
    meta: dict[str, Any] = {"sweep_id": sweep, "case_id": case, "session": session}
    if plan:
        meta["shard"] = {"index": 1, "count": 2, "by": "hash", "plan": plan}
    return RunRecord(id=f"{case}-{session}-{minute}", status=status, meta={"pytest": meta},
                     start_time=T0 + _dt.timedelta(minutes=minute), heartbeat=T0 + _dt.timedelta(minutes=minute))


@given(st.lists(st.text(min_size=1, max_size=10), unique=True, max_size=30), st.integers(1, 4), st.data())
def test_any_split_of_the_expected_cases_over_sessions_is_complete(cases: list[str], n: int, data: Any) -> None:
    records = [rec(c, f"shard{data.draw(st.integers(1, n))}") for c in cases]
    result = check_sweep(records, "s1", cases)
    assert result.ok and result.recorded == len(cases) and not result.missing
    assert result.statuses == ({"COMPLETED": len(cases)} if cases else {})


def test_missing_duplicated_and_unexpected_cases_fail() -> None:
    records = [rec("a", "x"), rec("b", "x"), rec("b", "y", minute=1), rec("z", "y"), rec("c", "x", sweep="other")]
    result = check_sweep(records, "s1", ["a", "b", "c"])
    assert not result.ok
    assert result.missing == ("c",)
    assert result.duplicated == {"b": ("x", "y")}
    assert result.unexpected == ("z",)
    text = "\n".join(result.lines("tinydb:.sacredx"))
    assert "sweep s1 in tinydb:.sacredx: 3 expected cases, 2 recorded (COMPLETED 2)" in text
    assert "duplicated (1):\n  b  (sessions x, y)" in text and text.endswith("FAILED")


def test_several_runs_in_one_session_are_one_case() -> None:
    records = [rec("a", "x", "FAILED"), rec("a", "x", "COMPLETED", minute=1)]  # an executor retry
    result = check_sweep(records, "s1", ["a"])
    assert result.ok and result.statuses == {"COMPLETED": 1}


def test_reruns_are_accepted_on_request_and_the_latest_run_counts() -> None:
    records = [rec("a", "x", "FAILED"), rec("a", "y", "COMPLETED", minute=5)]
    assert not check_sweep(records, "s1", ["a"]).ok
    result = check_sweep(records, "s1", ["a"], allow_reruns=True)
    assert result.ok and result.statuses == {"COMPLETED": 1}
    assert "re-run (1):" in "\n".join(result.lines())


def test_a_killed_shard_leaves_runs_counted_as_dead() -> None:
    result = check_sweep([rec("a", "x", "RUNNING")], "s1", ["a"])
    assert result.statuses == {"DEAD": 1}


def test_different_shard_plans_are_noted() -> None:
    result = check_sweep([rec("a", "x", plan="p1"), rec("b", "y", plan="p2")], "s1", ["a", "b"])
    assert result.ok and result.plans == ("p1", "p2")
    assert any("different plans (p1, p2)" in line for line in result.lines())


def test_resolve_sweep_by_id_prefix_and_last() -> None:
    records = [rec("a", "x", sweep="gh-100", minute=1), rec("a", "x", sweep="gh-200", minute=2),
               rec("a", "x", sweep="nightly", minute=0)]
    assert resolve_sweep(records, "gh-100") == "gh-100"
    assert resolve_sweep(records, "night") == "nightly"
    assert resolve_sweep(records, "last") == "gh-200"
    with pytest.raises(SweepNotFoundError, match=r"'gh' is ambiguous \(gh-100, gh-200\)"):
        resolve_sweep(records, "gh")
    with pytest.raises(SweepNotFoundError, match="'x' is not in the store; recent sweeps: gh-200, gh-100"):
        resolve_sweep(records, "x")
    with pytest.raises(SweepNotFoundError, match="no pytest sweep"):
        resolve_sweep([], "last")


def test_read_expected_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "cases.txt"
    path.write_text("# the sweep\na.py::x[C=1]\n\n  a.py::x[C=2]  \n")
    assert read_expected(path) == ["a.py::x[C=1]", "a.py::x[C=2]"]
