"""Config values and keys (pytest_sacredx.config.utils): normalization, key rules, fill-in, dogmatize."""

from __future__ import annotations

import pytest
from hypothesis import given
from strategies import configs

from pytest_sacredx.config.custom_containers import DogmaticDict, DogmaticList
from pytest_sacredx.config.utils import (
    assert_is_valid_key,
    dogmatize,
    normalize_numpy,
    normalize_or_die,
    recursive_fill_in,
    undogmatize,
)
from pytest_sacredx.errors import InvalidConfigKeyError
from pytest_sacredx.settings import SETTINGS


def test_containers_are_rebuilt_tuples_become_lists_and_other_values_are_kept():
    class Thing:
        pass

    thing, inner = Thing(), [1, (2, 3)]
    value = {"t": (1, inner), "obj": thing, "f": len, "s": {1}}
    out = normalize_or_die(value)
    assert out == {"t": [1, [1, [2, 3]]], "obj": thing, "f": len, "s": {1}}
    assert out["t"][1] is not inner and out["obj"] is thing


@pytest.mark.parametrize(
    "name",
    ["bool_", "int_", "intc", "intp", "int8", "uint16", "uint64", "float16", "float32", "float64"],
)
def test_numpy_scalars_become_python_scalars(name):
    np = pytest.importorskip("numpy")
    value = normalize_or_die({"x": [getattr(np, name)(3)]})["x"][0]
    assert type(value) in (bool, int, float) and value == (True if name == "bool_" else 3)


def test_numpy_arrays_are_kept_and_numpy_is_never_imported_for_it():
    np = pytest.importorskip("numpy")
    arr = np.arange(3, dtype=np.int16)
    assert normalize_or_die({"a": arr})["a"] is arr
    assert normalize_numpy("text") == "text"


@pytest.mark.parametrize("key", ["$f", "contains.dot", "py/tuple", "py/anything", "json://1", "a=b"])
def test_bad_keys_are_key_errors_that_name_the_setting(key):
    with pytest.raises(InvalidConfigKeyError, match="SETTINGS.CONFIG.ENFORCE_") as info:
        normalize_or_die({"ok": {key: 1}})
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    with pytest.raises(KeyError):
        assert_is_valid_key(key)


def test_key_rules_follow_the_settings(monkeypatch):
    monkeypatch.setattr(SETTINGS.CONFIG, "ENFORCE_KEYS_MONGO_COMPATIBLE", False)
    assert normalize_or_die({"a.b": 1}) == {"a.b": 1}
    assert normalize_or_die({1: "x", (1, 2): "y"}) == {1: "x", (1, 2): "y"}
    monkeypatch.setattr(SETTINGS.CONFIG, "ENFORCE_STRING_KEYS", True)
    with pytest.raises(InvalidConfigKeyError, match="strings"):
        normalize_or_die({1: "x"})
    monkeypatch.setattr(SETTINGS.CONFIG, "ENFORCE_VALID_PYTHON_IDENTIFIER_KEYS", True)
    with pytest.raises(InvalidConfigKeyError, match="identifiers"):
        normalize_or_die({"not valid": 1})


def test_recursive_fill_in_adds_only_missing_entries_as_copies():
    preset = {"opt": {"lr": 0, "m": [0.9]}, "seed": 3}
    config = recursive_fill_in({"opt": {"lr": 1}, "seed": 4}, preset)
    assert config == {"opt": {"lr": 1, "m": [0.9]}, "seed": 4}
    config["opt"]["m"].append(1)
    assert preset["opt"]["m"] == [0.9]


def test_dogmatize_fixes_every_level_and_undogmatize_undoes_it():
    d = dogmatize({"a": {"b": [1, {"c": 2}]}, "t": ([1],)})
    assert isinstance(d, DogmaticDict) and dict(d) == {}  # fixed entries appear on revelation
    d.revelation()
    assert isinstance(d["a"], DogmaticDict) and isinstance(d["a"]["b"], DogmaticList)
    assert isinstance(d["t"][0], DogmaticList)
    plain = undogmatize(d)
    assert plain == {"a": {"b": [1, {"c": 2}]}, "t": ([1],)}
    assert type(plain) is dict and type(plain["a"]["b"]) is list and type(plain["t"][0]) is list


@given(configs())
def test_a_revealed_dogmatized_config_undogmatizes_to_itself(cfg):
    d = dogmatize(cfg)
    d.revelation()
    assert undogmatize(d) == cfg
