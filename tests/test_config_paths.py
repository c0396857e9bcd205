"""Dotted-path helpers (pytest_sacredx.config.paths)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from strategies import configs

from pytest_sacredx.config.paths import (
    convert_to_nested_dict,
    get_by_dotted_path,
    is_prefix,
    iter_prefixes,
    iterate_flattened,
    join_paths,
    recursive_update,
    set_by_dotted_path,
)
from pytest_sacredx.errors import ConfigKeyError


def test_join_paths_skips_empty_parts():
    assert join_paths("", "a", "", "b.c") == "a.b.c"
    assert join_paths() == ""


def test_iter_prefixes_and_is_prefix():
    assert list(iter_prefixes("a.b.c")) == ["a", "a.b", "a.b.c"]
    assert is_prefix("a", "a.b") and is_prefix("a.b", "a.b") and is_prefix("", "x")
    assert not is_prefix("a", "ab") and not is_prefix("a.b", "a")


def test_get_by_dotted_path():
    d = {"a": {"b": {"c": 1}}, "x": 3}
    assert get_by_dotted_path(d, "a.b.c") == 1
    assert get_by_dotted_path(d, "") is d
    assert get_by_dotted_path(d, "a.z", default="dflt") == "dflt"
    assert get_by_dotted_path(d, "x.y") is None


def test_set_by_dotted_path_creates_intermediate_dicts():
    d: dict = {"a": {"keep": 1}}
    set_by_dotted_path(d, "a.b.c", 2)
    set_by_dotted_path(d, "top", 3)
    assert d == {"a": {"keep": 1, "b": {"c": 2}}, "top": 3}


def test_set_through_a_non_dict_is_a_clear_error():
    with pytest.raises(ConfigKeyError) as info:
        set_by_dotted_path({"a": 3}, "a.b", 1)
    assert str(info.value) == (
        "Cannot set 'a.b': 'a' is 3 (int), not a dict. Set 'a' itself, or choose another key."
    )
    assert isinstance(info.value, KeyError)


def test_iterate_flattened_sorted_leaves_and_empty_dicts():
    d = {"b": 1, "a": {"y": {}, "x": [1, 2]}}
    assert list(iterate_flattened(d)) == [("a.x", [1, 2]), ("a.y", {}), ("b", 1)]


def test_convert_to_nested_dict_merges_and_does_not_touch_input():
    given_dict = {"a": {"c": 2}}
    nested = convert_to_nested_dict({"a.b": 1, "a": given_dict["a"], "d": 4})
    assert nested == {"a": {"b": 1, "c": 2}, "d": 4}
    assert given_dict == {"a": {"c": 2}}
    with pytest.raises(ConfigKeyError):
        convert_to_nested_dict({"a": 3, "a.b": 1})


def test_recursive_update_merges_nested_and_returns_target():
    d = {"a": {"x": 1, "y": 2}, "b": 1}
    out = recursive_update(d, {"a": {"y": 3, "z": 4}, "b": {"n": 1}})
    assert out is d
    assert d == {"a": {"x": 1, "y": 3, "z": 4}, "b": {"n": 1}}


@settings(max_examples=40)
@given(configs())
def test_flatten_then_nest_round_trips(cfg):
    flat = dict(iterate_flattened(cfg))
    assert convert_to_nested_dict(flat) == cfg
