"""The sweep grammar: values, ranges, choices, quoting, named sets, product order."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_sacredx.errors import UpdateSyntaxError
from pytest_sacredx.pytest_plugin.sweep import (
    Axis,
    FloatRange,
    Variant,
    check_repeated_keys,
    count_cases,
    expand,
    merge_axes,
    parse_axis,
    parse_named_sets,
    parse_values,
)


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("0.1,0.7", [0.1, 0.7]),
        ("1", [1]),
        ("rbf,linear", ["rbf", "linear"]),
        ("range(0, 4)", [0, 1, 2, 3]),
        ("range(0,1,0.25)", [0.0, 0.25, 0.5, 0.75]),
        ("range(0, 1, 0.1)", [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]),
        ("range(5, 1, -2)", [5, 3]),
        ("choice(rbf, 'poly,3', [1, 2])", ["rbf", "poly,3", [1, 2]]),
        ("'a,b'", ["a,b"]),
        ("[1,2],[3]", [[1, 2], [3]]),
        ('{"a": 1, "b": 2},None', [{"a": 1, "b": 2}, None]),
        ("True,False", [True, False]),
    ],
)
def test_values(text: str, values: list[object]) -> None:
    assert list(parse_values(text)) == values


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ("gamma", "has no '='"),
        ("=1,2", "is not a config key"),
        ("a..b=1", "is not a config key"),
        ("gamma=", "No values"),
        ("gamma=1,,2", "Empty value"),
        ("gamma=[1,2", "Unclosed bracket"),
        ("gamma='a", "Unclosed quote"),
        ("gamma=1]", "Unbalanced"),
        ("gamma=range(1)", "range() takes (start, stop[, step])"),
        ("gamma=range(0, 1, 0)", "step must not be 0"),
        ("gamma=range(3, 1)", "is empty"),
        ("gamma=range(a, 2)", "range() takes numbers"),
    ],
)
def test_errors_name_the_problem(item: str, fragment: str) -> None:
    with pytest.raises(UpdateSyntaxError) as info:
        parse_axis(item)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_product_order_and_ids() -> None:
    variants = expand([parse_axis("x=1,2"), parse_axis("opt.lr=0.1,0.01")], [("fast",), ("fast", "big")])
    assert [v.id for v in variants][:3] == ["fast-opt.lr=0.1-x=1", "fast-opt.lr=0.01-x=1", "fast-opt.lr=0.1-x=2"]
    assert len(variants) == 8
    assert variants[-1].named == ("fast", "big") and variants[-1].config_updates == {"x": 2, "opt.lr": 0.01}


def test_same_text_values_get_distinct_ids() -> None:
    ids = [v.id for v in expand([Axis("x", (1, "1", 1.0))])]
    assert len(set(ids)) == 3


def test_named_sets() -> None:
    assert parse_named_sets(["fast,accurate", "fast+big", "fast"]) == [("fast",), ("accurate",), ("fast", "big")]
    with pytest.raises(UpdateSyntaxError):
        parse_named_sets(["fast,"])


def test_merge_overrides_key_by_key() -> None:
    ini = [Axis("a", (1,)), Axis("b", (2,))]
    cli = [Axis("b", (3, 4))]
    assert merge_axes(ini, [], cli) == [Axis("a", (1,)), Axis("b", (3, 4))]


def test_no_axes_is_one_default_variant() -> None:
    assert expand([]) == [Variant()]
    assert Variant().id == ""


literals = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@given(st.lists(literals, min_size=1, max_size=5))
def test_literal_lists_round_trip(values: list[object]) -> None:
    assert parse_values(",".join(repr(v) for v in values)) == values


@given(st.text(max_size=60))
def test_arbitrary_text_parses_or_raises_the_documented_error(text: str) -> None:
    try:
        axis = parse_axis(text)
    except UpdateSyntaxError:
        return
    assert axis.values


@given(st.lists(st.tuples(st.sampled_from("abcde"), st.lists(st.integers(0, 3), min_size=1, max_size=3)), max_size=3))
def test_expansion_is_the_cartesian_product(spec: list[tuple[str, list[int]]]) -> None:
    axes = merge_axes([Axis(k, tuple(v)) for k, v in spec])
    variants = expand(axes)
    expected = list(itertools.product(*(a.values for a in axes)))
    assert [tuple(val for _, val in v.updates) for v in variants] == expected
    assert expand(axes) == variants  # deterministic


def test_ranges_stay_lazy_and_are_counted_before_expansion() -> None:
    huge = parse_axis("a=range(0, 100000000000)")
    floats = parse_axis("b=range(0, 3e7)")
    assert len(huge.values) == 100_000_000_000 and huge.values[-1] == 99_999_999_999
    assert len(floats.values) == 30_000_000 and floats.values[1] == 1.0
    assert count_cases([huge, floats], [("fast",), ("big",)]) == 2 * 100_000_000_000 * 30_000_000
    assert list(FloatRange(0, 1, 0.25)) == [0.0, 0.25, 0.5, 0.75] and FloatRange(0, 1, 0.25)[-1] == 0.75


def test_infinite_float_range_is_a_syntax_error() -> None:
    with pytest.raises(UpdateSyntaxError, match="no finite number of values"):
        parse_axis("a=range(0, 1e308, 1e-308)")


@pytest.mark.parametrize(
    "item",
    ["gamma=0.1,0.7 C=1", "gamma=0.1,C=1", "gamma=0.1 optimizer.lr=0.2", "gamma=1  C = 2"],
)
def test_a_second_key_in_one_item_is_refused(item: str) -> None:
    with pytest.raises(UpdateSyntaxError, match=r"holds a second key .*one KEY=VALUES per line"):
        parse_axis(item, origin="sacredx_config in pytest.ini")


@pytest.mark.parametrize(
    ("item", "values"),
    [("name='a b=c'", ["a b=c"]), ("k=choice(x, 'y=1')", ["x", "y=1"]), ("url=http://h?a=b", ["http://h?a=b"]),
     ("d={'a': 1},[1, 2]", [{"a": 1}, [1, 2]]), ("op=a==b", ["a==b"])],
)
def test_equals_signs_inside_values_are_not_keys(item: str, values: list[object]) -> None:
    assert list(parse_axis(item).values) == values


def test_the_same_key_twice_is_refused_with_the_merged_spelling() -> None:
    with pytest.raises(UpdateSyntaxError, match=r"C=… is given twice \(C=1,10 and C=5\).*--exp-config C=1,10,5"):
        check_repeated_keys([parse_axis("C=1,10"), parse_axis("C=5")])
    check_repeated_keys([parse_axis("C=1,10"), parse_axis("gamma=5")])
