"""The ``--where`` grammar (``pytest_sacredx/query/where.py``): it agrees with the same predicate written
in Python, and every mistake is a one-line error that points at the column."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pytest_sacredx.observers.record import RunRecord
from pytest_sacredx.query.errors import UnknownFieldError, WhereSyntaxError
from pytest_sacredx.query.where import parse_where

KERNELS = ("rbf", "linear", "poly")
STATUSES = ("COMPLETED", "FAILED", "INTERRUPTED", "QUEUED")
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge,
}

numbers = st.one_of(st.integers(-5, 5), st.floats(-10, 10, allow_nan=False, allow_infinity=False))


@st.composite
def records(draw: st.DrawFn) -> RunRecord:
    meta: dict[str, Any] = {}
    if draw(st.booleans()):
        meta["pytest"] = {"worker": draw(st.sampled_from(["gw0", "gw1", "master", ""]))}
    loss = draw(st.lists(numbers, min_size=1, max_size=4))
    return RunRecord(
        id=str(draw(st.integers(0, 10**6))),
        status=draw(st.sampled_from(STATUSES)),
        config={"gamma": draw(numbers), "kernel": draw(st.sampled_from(KERNELS))},
        meta=meta,
        metrics={"loss": {"steps": list(range(len(loss))), "values": loss, "timestamps": []}},
    )


Pred = Callable[[RunRecord], bool]


@st.composite
def atoms(draw: st.DrawFn) -> tuple[str, Pred]:
    kind = draw(st.sampled_from(["gamma", "kernel", "kernel_in", "status", "chain", "range", "worker",
                                 "loss"]))
    if kind == "gamma":
        op, v = draw(st.sampled_from(sorted(OPS))), draw(numbers)
        return f"config.gamma {op} {v!r}", lambda r: OPS[op](r.config["gamma"], v)
    if kind == "kernel":
        op, k = draw(st.sampled_from(["==", "!=", "="])), draw(st.sampled_from(KERNELS))
        quoted = draw(st.sampled_from([k, f"'{k}'", f'"{k}"']))
        return f"config.kernel {op} {quoted}", lambda r: (r.config["kernel"] == k) == (op != "!=")
    if kind == "kernel_in":
        ks = draw(st.lists(st.sampled_from(KERNELS), min_size=1, max_size=3))
        negate = draw(st.booleans())
        text = f"config.kernel {'not in' if negate else 'in'} ({', '.join(ks)})"
        return text, lambda r: (r.config["kernel"] in ks) != negate
    if kind == "status":
        s = draw(st.sampled_from(STATUSES))
        return f"status == {s}", lambda r: r.status == s
    if kind == "chain":
        lo, hi = draw(numbers), draw(numbers)
        return f"{lo!r} < config.gamma <= {hi!r}", lambda r: lo < r.config["gamma"] <= hi
    if kind == "range":
        lo, hi = draw(numbers), draw(numbers)
        return f"config.gamma in {lo!r}..{hi!r}", lambda r: lo <= r.config["gamma"] <= hi
    if kind == "worker":
        return "meta.pytest.worker", lambda r: bool(r.meta.get("pytest", {}).get("worker"))
    v = draw(numbers)
    return f"metrics.loss:min < {v!r}", lambda r: min(r.metrics["loss"]["values"]) < v


def expressions() -> st.SearchStrategy[tuple[str, Pred]]:
    def extend(inner: st.SearchStrategy[tuple[str, Pred]]) -> st.SearchStrategy[tuple[str, Pred]]:
        def both(pair: tuple[tuple[str, Pred], tuple[str, Pred]], word: str) -> tuple[str, Pred]:
            (ta, fa), (tb, fb) = pair
            if word == "and":
                return f"({ta}) and ({tb})", lambda r: fa(r) and fb(r)
            return f"({ta}) or ({tb})", lambda r: fa(r) or fb(r)

        return st.one_of(
            st.tuples(inner, inner).map(lambda p: both(p, "and")),
            st.tuples(inner, inner).map(lambda p: both(p, "or")),
            inner.map(lambda p: (f"not ({p[0]})", lambda r, f=p[1]: not f(r))),
        )

    return st.recursive(atoms(), extend, max_leaves=6)


@given(expr=expressions(), runs=st.lists(records(), min_size=1, max_size=8))
def test_where_agrees_with_python(expr: tuple[str, Pred], runs: list[RunRecord]) -> None:
    text, predicate = expr
    assert parse_where(text).filter(runs) == [r for r in runs if predicate(r)]


@given(st.text(alphabet=st.sampled_from(list("config.gamma<>=!() 0.5and or not in,'\"[]~:metrics")),
               min_size=1, max_size=40))
@example(" ")  # blanks only: quoted as typed
def test_anything_typed_parses_or_points_at_a_column(text: str) -> None:
    """Any text: a filter, or one line that quotes the expression as typed (blanks too) and names a
    column or says it is empty."""
    runs = [RunRecord(id="1", status="COMPLETED", config={"gamma": 1})]
    try:
        parse_where(text).filter(runs)
    except WhereSyntaxError as e:
        message = str(e)
        assert "\n" not in message and message.startswith(f"--where {text!r}")
        m = re.search(r"column (\d+)", message)
        assert m is not None or "empty expression" in message
        if m:
            assert 1 <= int(m.group(1)) <= len(text) + 1
    except UnknownFieldError as e:
        assert "\n" not in str(e)


def _runs() -> list[RunRecord]:
    def rec(i: str, sweep: str | None, **config: Any) -> RunRecord:
        import datetime as dt

        meta = {"pytest": {"sweep_id": sweep, "worker": "gw0"}} if sweep else {}
        return RunRecord(id=i, status="COMPLETED", config=config, meta=meta,
                         start_time=dt.datetime(2024, 1, int(i)))
    return [rec("1", "s_old", gamma=0.1, kernel="rbf"), rec("2", "s_new", gamma=0.7, kernel="linear"),
            rec("3", None, gamma=0.9, kernel="rbf", flag=True)]


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("sweep == last", ["2"]),
        ("sweep != last", ["1", "3"]),
        ("not meta.pytest.worker", ["3"]),
        ("config.flag == true", ["3"]),
        ("config.flag == null", ["1", "2"]),
        ("config.kernel ~ 'li'", ["2"]),
        ("config.kernel ~ \"^r\" and config.gamma >= 0.5", ["3"]),
        ("id in (1, '3')", ["3"]),  # ids are strings: the number 1 is not the id '1'
        ("start > '2024-01-01T12'", ["2", "3"]),
        ("config.kernel = rbf or config.gamma < 0.2", ["1", "3"]),
        ("config.gamma in [0.1, 0.9]", ["1", "3"]),
    ],
)
def test_examples(text: str, ids: list[str]) -> None:
    assert [r.id for r in parse_where(text).filter(_runs())] == ids


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "--where '': empty expression; e.g. --where 'config.gamma > 0.5'"),
        ("(status == COMPLETED", "--where '(status == COMPLETED': column 21: expected ')' to close "
                                 "the '(' at column 1, found the end"),
        ("config.gamma $ 1", "--where 'config.gamma $ 1': column 14: unexpected character '$'"),
        ("gamma > 1", "--where 'gamma > 1': column 1: expected a path to test, found 'gamma' (a path "
                      "starts with config., metrics., status, …)"),
        ("confg.gamma > 1", "--where 'confg.gamma > 1': column 1: unknown field 'confg.gamma'; a path "
                            "starts with one of id, experiment, status, case, variant, sweep, seed, "
                            "start, stop, heartbeat, duration, result, command, host, config, meta, "
                            "info, metrics, store. Did you mean 'config.gamma'?"),
        ("config.kernel in (rbf linear)", "--where 'config.kernel in (rbf linear)': column 23: "
                                          "expected ',' or ')' in the list opened at column 18"),
        ("config.gamma in 1", "--where 'config.gamma in 1': column 18: expected '..' of a range "
                              "(lo..hi) or a list (a, b), found the end"),
        ("config.kernel ~ '('", "--where \"config.kernel ~ '('\": column 17: bad regular expression "
                                "'(': missing ), unterminated subpattern at position 0"),
        ("status == COMPLETED and", "--where 'status == COMPLETED and': column 24: expected a value"),
    ],
)
def test_syntax_errors_point_at_the_column(text: str, message: str) -> None:
    with pytest.raises(WhereSyntaxError) as info:
        parse_where(text)
    assert str(info.value) == message


def test_unknown_config_keys_and_metrics_are_refused_with_a_suggestion() -> None:
    where = parse_where("config.gama > 0.5")
    with pytest.raises(UnknownFieldError, match=r"Did you mean 'config.gamma'\?$"):
        where.filter(_runs())
    assert parse_where("config.gama > 0.5").filter([]) == []  # nothing to check against
    assert parse_where("meta.anything.at.all").filter(_runs()) == []  # meta paths are free
