"""Read-only config containers: refuse changes, name the key, copy and pickle to plain containers."""

from __future__ import annotations

import copy
import json
import pickle
import sys

import pytest

from pytest_sacredx.config import ReadOnlyDict, ReadOnlyList, make_read_only
from pytest_sacredx.errors import ReadOnlyConfigError, SacredError


@pytest.fixture
def cfg():
    return make_read_only({"model": {"layers": [64, {"units": 3}]}, "pair": (1, [2]), "lr": 0.1})


def test_structure_is_read_only_all_the_way_down(cfg):
    assert isinstance(cfg, ReadOnlyDict) and isinstance(cfg, dict)
    assert isinstance(cfg["model"]["layers"], ReadOnlyList)
    assert isinstance(cfg["pair"], tuple) and isinstance(cfg["pair"][1], ReadOnlyList)
    assert cfg == {"model": {"layers": [64, {"units": 3}]}, "pair": (1, [2]), "lr": 0.1}


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda c: c.__setitem__("lr", 1), "tried to set 'lr'"),
        (lambda c: c["model"].__setitem__("depth", 1), "tried to set 'model.depth'"),
        (lambda c: c["model"]["layers"][1].update(units=4), "tried to set 'model.layers[1].units'"),
        (lambda c: c["model"]["layers"].__setitem__(0, 1), "tried to set 'model.layers[0]'"),
        (lambda c: c["model"]["layers"].append(1), "tried to change 'model.layers'"),
        (lambda c: c["pair"][1].extend([3]), "tried to change 'pair[1]'"),
        (lambda c: c.__delitem__("lr"), "tried to delete 'lr'"),
        (lambda c: c.pop("lr"), "tried to delete 'lr'"),
        (lambda c: c.setdefault("x", 1), "tried to set 'x'"),
        (lambda c: c.clear(), "read-only"),
        (lambda c: c.popitem(), "read-only"),
        (lambda c: c["model"]["layers"].sort(), "model.layers"),
        (lambda c: c["model"]["layers"].reverse(), "model.layers"),
        (lambda c: c["model"]["layers"].insert(0, 1), "model.layers"),
        (lambda c: c["model"]["layers"].remove(64), "model.layers"),
        (lambda c: c["model"]["layers"].pop(), "model.layers"),
        (lambda c: c["model"]["layers"].clear(), "model.layers"),
        (lambda c: c["model"]["layers"].__delitem__(0), "model.layers[0]"),
    ],
)
def test_every_mutation_raises_naming_the_key(cfg, mutate, where):
    with pytest.raises(ReadOnlyConfigError) as info:
        mutate(cfg)
    message = str(info.value)
    assert message.startswith("The configuration is read-only in a captured function!")
    assert where in message
    assert isinstance(info.value, SacredError) and isinstance(info.value, TypeError)


def test_in_place_operators_raise(cfg):
    layers = cfg["model"]["layers"]
    with pytest.raises(ReadOnlyConfigError):
        layers += [1]
    with pytest.raises(ReadOnlyConfigError):
        layers *= 2
    model = cfg["model"]
    with pytest.raises(ReadOnlyConfigError):
        model |= {"a": 1}


def test_copies_and_pickles_are_plain_and_mutable(cfg):
    for clone in (copy.deepcopy(cfg), pickle.loads(pickle.dumps(cfg))):
        assert type(clone) is dict and type(clone["model"]) is dict
        assert type(clone["model"]["layers"]) is list and type(clone["model"]["layers"][1]) is dict
        assert type(clone["pair"]) is tuple and type(clone["pair"][1]) is list
        clone["model"]["layers"].append(1)
        assert clone == json.loads(json.dumps(clone)) | {"pair": clone["pair"]}
    shallow = copy.copy(cfg)
    assert type(shallow) is dict and shallow == cfg
    assert type(cfg.copy()) is dict and type(cfg["model"]["layers"].copy()) is list
    assert type(copy.copy(cfg["model"]["layers"])) is list


def test_json_and_yaml_dump_work(cfg):
    yaml = pytest.importorskip("yaml")
    assert json.loads(json.dumps(cfg))["model"]["layers"] == [64, {"units": 3}]
    make_read_only({})  # yaml is imported now, so the representers get registered
    text = yaml.safe_dump(make_read_only({"a": [1, {"b": 2}]}))
    assert yaml.safe_load(text) == {"a": [1, {"b": 2}]}


def test_named_tuples_keep_their_type():
    from collections import namedtuple

    Point = namedtuple("Point", "x y")
    frozen = make_read_only({"p": Point([1], 2)})
    assert type(frozen["p"]) is Point and isinstance(frozen["p"].x, ReadOnlyList)


def test_scalars_pass_through():
    assert make_read_only(3) == 3 and make_read_only("s") == "s" and make_read_only(None) is None


def test_yaml_is_not_imported_by_the_config_package():
    import subprocess

    code = (
        "import sys, pytest_sacredx.config as c; c.make_read_only({'a': [1]});"
        "print(sorted(m for m in ('yaml', 'numpy', 'pytest') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
