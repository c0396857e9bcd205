"""ConfigDict: the config-scope protocol for plain dicts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from strategies import configs

from pytest_sacredx.config import ConfigDict, ConfigSummary
from pytest_sacredx.config.paths import iter_prefixes, iterate_flattened
from pytest_sacredx.errors import InvalidConfigError, InvalidConfigKeyError


def test_returns_a_copy_of_the_dict():
    source = {"lr": 0.1, "opt": {"m": 0.9}, "layers": (64, 64)}
    cd = ConfigDict(source)
    first = cd()
    assert isinstance(first, ConfigSummary)
    assert first == {**source, "layers": [64, 64]}  # tuples become lists, as in Sacred
    assert first.added == set() and first.modified == set()
    first["opt"]["m"] = 0
    first["layers"].append(1)
    source["lr"] = 5
    assert cd() == {"lr": 0.1, "opt": {"m": 0.9}, "layers": [64, 64]}


def test_fixed_values_apply_recursively_with_markers():
    cd = ConfigDict({"lr": 0.1, "opt": {"m": 0.9, "nesterov": True}, "name": "x"})
    cfg = cd(fixed={"lr": 1, "opt": {"m": 0.5, "extra": 2}, "name": 3, "new": {"a": 1}})
    assert cfg == {
        "lr": 1,
        "opt": {"m": 0.5, "nesterov": True, "extra": 2},
        "name": 3,
        "new": {"a": 1},
    }
    assert cfg.added == {"opt.extra", "new", "new.a"}
    assert {"opt", "opt.m"} <= cfg.modified
    assert cfg.typechanged == {"name": (str, int), "lr": (float, int)}


def test_presets_fill_in_under_the_dict():
    cfg = ConfigDict({"a": {"x": 1}})(preset={"a": {"x": 0, "y": 2}, "b": 3}, fixed={"b": 4})
    assert cfg == {"a": {"x": 1, "y": 2}, "b": 4}
    assert cfg.added == set() and cfg.modified == {"b"}  # the preset defined b


def test_keys_are_checked_at_construction_and_any_value_is_kept():
    with pytest.raises(InvalidConfigKeyError, match="'a.b'") as info:
        ConfigDict({"a.b": 1})
    assert isinstance(info.value, KeyError)
    with pytest.raises(InvalidConfigError, match="must be a dict"):
        ConfigDict([("a", 1)])  # type: ignore[arg-type]
    cfg = ConfigDict({"f": len, "module": pytest, "s": {1, 2}})()
    assert cfg["f"] is len and cfg["module"] is pytest and cfg["s"] == {1, 2}


def test_fixed_values_are_checked():
    with pytest.raises(InvalidConfigKeyError, match=r"'\$x' in 'd'"):
        ConfigDict({"a": 1})(fixed={"d": {"$x": 1}})


def test_fallbacks_are_ignored():
    assert ConfigDict({"a": 1})(fallback={"ing": {"x": 1}}) == {"a": 1}


def test_numpy_scalars_are_normalized():
    np = pytest.importorskip("numpy")
    cfg = ConfigDict({"f": np.float64(0.5), "l": [np.int32(3)]})()
    assert cfg == {"f": 0.5, "l": [3]} and type(cfg["f"]) is float and type(cfg["l"][0]) is int


@settings(max_examples=40)
@given(configs(), configs())
def test_fixed_leaves_always_win(base, fixed):
    cfg = ConfigDict(base)(fixed=fixed)
    flat = dict(iterate_flattened(cfg))
    for key, value in iterate_flattened(fixed):
        if value == {}:
            continue
        assert flat[key] == value
    fixed_paths = {p for key, _ in iterate_flattened(fixed) for p in iter_prefixes(key)}
    for key in cfg.added:
        assert key in fixed_paths
