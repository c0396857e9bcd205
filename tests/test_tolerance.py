"""Tolerance and baseline comparison logic: nested results, lists, dicts, NaN, inf, per-key rtol/atol."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import json_results

from pytest_sacredx.pytest_plugin.tolerance import (
    Difference,
    Tolerance,
    Tolerances,
    close,
    compare,
    compare_run,
    format_differences,
)

finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
# away from subnormals, where x * (1 + r) rounds back to x
normal = finite.filter(lambda x: x == 0 or abs(x) > 1e-300)


@given(json_results())
def test_a_value_equals_itself_nan_included(value: Any) -> None:
    assert compare(value, value) == []


@given(json_results())
def test_a_value_equals_its_json_round_trip(value: Any) -> None:
    assert compare(value, json.loads(json.dumps(value))) == []


@given(json_results(), json_results())
def test_comparison_is_symmetric_in_whether_it_differs(a: Any, b: Any) -> None:
    assert bool(compare(a, b)) == bool(compare(b, a))


@given(normal, st.floats(min_value=1e-9, max_value=0.5))
def test_a_change_within_rtol_passes_and_beyond_fails(x: float, rtol: float) -> None:
    tols = Tolerances({"result": Tolerance(rtol=rtol)})
    inside = x * (1 + rtol / 2)
    assert compare(x, inside, tols) == []
    if x != 0:
        outside = x * (1 + rtol * 3)
        assert [d.key for d in compare(x, outside, tols)] == ["result"]


@given(finite, st.floats(min_value=1e-9, max_value=10))
def test_atol_bounds_the_absolute_change(x: float, atol: float) -> None:
    tols = Tolerances({"*": Tolerance(atol=atol)})
    assert compare(x, x + atol / 2, tols) == [] or abs(x) > 1e6  # float spacing of large x
    assert compare(x, x + atol * 4, tols) != [] or abs(x) > 1e6


@pytest.mark.parametrize(
    "a, b, same",
    [
        (math.nan, math.nan, True),
        (math.inf, math.inf, True),
        (-math.inf, -math.inf, True),
        (math.inf, -math.inf, False),
        (math.inf, 1e308, False),
        (math.nan, 0.0, False),
        (1, 1.0, True),
        (10**20, 10**20 + 1, False),
    ],
)
def test_special_numbers(a: Any, b: Any, same: bool) -> None:
    assert close(a, b) is same
    assert close(a, b, Tolerance(rtol=0.5)) is same or not (math.isnan(a) or math.isinf(a))


def test_nested_results_name_the_path_and_use_per_key_tolerances() -> None:
    expected = {"scores": {"top1": 0.9, "top5": 0.99}, "per_class": [0.8, 0.9, math.nan], "name": "svm"}
    got = {"scores": {"top1": 0.9004, "top5": 0.95}, "per_class": [0.8, 0.91, math.nan], "name": "svm"}
    tols = Tolerances.from_ini(["scores.top1 rtol=1e-3", "per_class atol=0.02"])
    assert [d.key for d in compare(expected, got, tols)] == ["result.scores.top5"]
    assert [d.key for d in compare(expected, got)] == [
        "result.per_class[1]",
        "result.scores.top1",
        "result.scores.top5",
    ]
    # the result as a whole
    assert compare(expected, got, Tolerances.from_ini(["result rtol=0.05"])) == []


def test_structure_differences_are_reported() -> None:
    diffs = compare({"a": [1, 2], "b": 1}, {"a": [1, 2, 3], "c": 1})
    assert [(d.key, d.note) for d in diffs] == [
        ("result.a", "length"),
        ("result.b", "missing"),
        ("result.c", "not in the baseline"),
    ]
    assert [d.note for d in compare(True, 1)] == ["type"]
    assert [d.note for d in compare("1", 1)] == ["type"]
    assert compare(None, None) == []


def test_compare_run_checks_result_and_each_metric() -> None:
    old = {"result": 0.9, "metrics": {"acc": 0.9, "loss": 0.1, "gone": 1}}
    new = {"result": 0.9, "metrics": {"acc": 0.9001, "loss": 0.1, "added": 2}}
    diffs = compare_run(old, new, Tolerances.from_marker({"loss": {"atol": 1e-3}}))
    assert [(d.key, d.note) for d in diffs] == [
        ("acc", ""),
        ("added", "metric not in the baseline"),
        ("gone", "metric not logged"),
    ]
    assert compare_run(old, new, Tolerances.from_marker({"acc": 1e-3})) != []
    assert [d.key for d in compare_run(old, new, Tolerances.from_marker(1e-3))] == ["added", "gone"]


def test_difference_table_has_abs_and_rel_columns() -> None:
    text = format_differences([Difference("acc", 0.5, 0.4, Tolerance(rtol=1e-3))])
    header, row = text.splitlines()
    assert header.split() == ["key", "expected", "got", "abs", "diff", "rel", "diff", "tolerance"]
    assert row.split() == ["acc", "0.5", "0.4", "0.1", "20%", "rtol=0.001"]
    assert Difference("x", 0, 1).rel_diff == math.inf
    assert Difference("x", math.nan, 1).rel_diff is None


@pytest.mark.parametrize(
    "line, message",
    [
        ("accuracy", "give rtol=R and/or atol=A"),
        ("accuracy rtol=abc", "'abc' is not a number"),
        ("accuracy tol=1", "is not rtol=R or atol=A"),
        ("accuracy rtol=-1", "a tolerance is a number >= 0"),
    ],
)
def test_bad_ini_lines_say_what_is_expected(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Tolerances.from_ini([line])


def test_ini_lines_and_marker_values() -> None:
    tols = Tolerances.from_ini(["# comment", "", "accuracy rtol=1e-3 atol=0", "* atol=1e-9"])
    assert tols.lookup(["accuracy"]) == Tolerance(rtol=1e-3)
    assert tols.lookup(["loss"]) == Tolerance(atol=1e-9)
    marker = Tolerances.from_marker({"accuracy": 0.01})
    assert tols.merged(marker).lookup(["accuracy"]) == Tolerance(rtol=0.01)
    with pytest.raises(ValueError, match="unknown"):
        Tolerances.from_marker({"accuracy": {"rtl": 1}})
    assert str(Tolerance()) == "exact" and str(Tolerance(rtol=0.1, atol=2)) == "rtol=0.1 atol=2"
