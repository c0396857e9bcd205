"""ConfigDict: the config-scope protocol for plain dicts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from strategies import configs

from pytest_sacredx.config import ConfigDict, ConfigSummary
from pytest_sacredx.config.paths import iterate_flattened
from pytest_sacredx.errors import InvalidConfigError


def test_returns_a_copy_of_the_dict():
    source = {"lr": 0.1, "opt": {"m": 0.9}, "layers": (64, 64)}
    cd = ConfigDict(source)
    first = cd()
    assert isinstance(first, ConfigSummary)
    assert first == source and first.added == set() and first.modified == set()
    first["opt"]["m"] = 0
    source["lr"] = 5
    assert cd() == {"lr": 0.1, "opt": {"m": 0.9}, "layers": (64, 64)}


def test_fixed_values_apply_recursively_with_markers():
    cd = ConfigDict({"lr": 0.1, "opt": {"m": 0.9, "nesterov": True}, "name": "x"})
    cfg = cd(fixed={"lr": 1, "opt": {"m": 0.5, "extra": 2}, "name": 3, "new": {"a": 1}})
    assert cfg == {
        "lr": 1,
        "opt": {"m": 0.5, "nesterov": True, "extra": 2},
        "name": 3,
        "new": {"a": 1},
    }
    assert cfg.added == {"opt.extra", "new.a"}
    assert {"lr", "opt.m"} <= cfg.modified and "opt" in cfg.modified
    assert cfg.typechanged == {"name": (str, int)}


def test_presets_fill_in_under_the_dict():
    cfg = ConfigDict({"a": {"x": 1}})(preset={"a": {"x": 0, "y": 2}, "b": 3}, fixed={"b": 4})
    assert cfg == {"a": {"x": 1, "y": 2}, "b": 4}
    assert cfg.added == {"b"} and cfg.modified == set()  # against the dict itself, as for scopes


def test_values_and_keys_are_validated_at_construction():
    with pytest.raises(InvalidConfigError, match=r"'f' is a function"):
        ConfigDict({"f": lambda: 1})
    with pytest.raises(InvalidConfigError, match="'a.b'"):
        ConfigDict({"a.b": 1})
    with pytest.raises(InvalidConfigError, match="must be a dict"):
        ConfigDict([("a", 1)])  # type: ignore[arg-type]


def test_fixed_values_are_validated():
    with pytest.raises(InvalidConfigError, match="'s' is a set"):
        ConfigDict({"a": 1})(fixed={"s": {1, 2}})


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
    for key in cfg.added:
        assert key in dict(iterate_flattened(fixed))
