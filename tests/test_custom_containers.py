"""Config containers: read-only views (refuse changes, name the key, copy and pickle to plain
containers) and the dogmatic ones that hold fixed values."""

from __future__ import annotations

import copy
import json
import pickle
import sys

import pytest

from pytest_sacredx.config import ReadOnlyDict, ReadOnlyList, make_read_only
from pytest_sacredx.config.custom_containers import (
    DogmaticDict,
    DogmaticList,
    fallback_dict,
    is_different,
    type_changed,
)
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


# --------------------------------------------------------------------------- dogmatic containers
def test_fixed_entries_win_over_assignments_and_record_what_was_tried():
    d = DogmaticDict(fixed={"lr": 1.0, "name": "adam", "n": 3})
    d["lr"] = 0.1
    d["name"] = "adam"
    d["n"] = "three"
    d["free"] = 5
    assert dict(d) == {"lr": 1.0, "name": "adam", "n": 3, "free": 5}
    assert d.modified == {"lr", "n"}  # name was assigned its fixed value
    assert d.typechanges == {"n": (str, int)}  # 0.1 -> 1.0 keeps its type


def test_fixed_entries_survive_update_and_delete():
    d = DogmaticDict(fixed={"a": 1})
    d.update({"a": 2, "b": 2})
    d.update([("a", 3)], a=4, c=3)
    del d["a"]
    assert dict(d) == {"a": 1, "b": 2, "c": 3}


def test_a_fixed_dict_absorbs_the_assigned_dict_and_records_nested_changes():
    d = DogmaticDict(fixed={"opt": {"lr": 1, "extra": {"k": 1}}})
    d["opt"] = {"lr": "fast", "momentum": 0.9}
    assert d["opt"] == {"lr": 1, "momentum": 0.9}  # extra is revealed later
    assert d.typechanges == {"opt.lr": (str, int)}
    assert {"opt", "opt.lr"} <= d.modified
    assert d.revelation() == {"opt.extra", "opt.extra.k"}
    assert d["opt"]["extra"] == {"k": 1}


def test_revelation_adds_unassigned_fixed_entries_with_their_parents():
    d = DogmaticDict(fixed={"a": 1, "h": {"i": {"j": 2}}, "e": {}})
    d["a"] = 0
    assert "h" not in d
    assert d.revelation() == {"h", "h.i", "h.i.j", "e"}
    assert d["h"]["i"]["j"] == 2 and d["e"] == {}
    assert d.revelation() == set()  # nothing left to reveal


def test_fallback_entries_are_readable_but_not_part_of_the_dict():
    d = DogmaticDict(fallback={"ing": {"size": 3}})
    assert "ing" in d and d["ing"] == {"size": 3} and d.get("ing") == {"size": 3}
    assert dict(d) == {} and d.get("missing", 7) == 7
    with pytest.raises(KeyError):
        d["missing"]
    d["ing"] = "mine"
    assert d.fallback_writes == ["ing"] and dict(d) == {"ing": "mine"}


def test_a_fixed_dict_over_a_fallback_dict_reads_its_other_entries():
    d = DogmaticDict(fixed={"ing": {"size": 5}}, fallback={"ing": {"size": 3, "path": "p"}})
    assert d["ing"]["size"] == 5 and d["ing"]["path"] == "p"
    d["ing"] = {"size": 1, "new": 2}
    assert d["ing"]["size"] == 5 and d["ing"]["new"] == 2 and d["ing"]["path"] == "p"


def test_the_callers_fixed_dict_is_not_changed():
    fixed = {"opt": {"lr": 1}}
    d = DogmaticDict(fixed=fixed)
    d["opt"] = {"lr": 2, "m": 3}
    d.revelation()
    assert fixed == {"opt": {"lr": 1}}


def test_a_dogmatic_list_ignores_changes():
    items = DogmaticList([3, 1, 2])
    items.append(4)
    items.extend([5])
    items.insert(0, 0)
    items.remove(3)
    items.sort()
    items.reverse()
    items[0] = 9
    del items[0]
    items += [7]
    items *= 2
    items.clear()
    assert items == [3, 1, 2] and isinstance(items, DogmaticList)
    with pytest.raises(TypeError):
        items.pop()
    assert items.count(1) == 1 and items.index(2) == 2 and items[-1] == 2


def test_a_dogmatic_list_reveals_the_dicts_inside():
    items = DogmaticList([DogmaticDict(fixed={"a": 1}), 2])
    assert items.revelation() == set()
    assert items[0] == {"a": 1}


def test_fallback_dict_is_a_new_dict_with_overrides():
    base = {"a": 1, "b": 2}
    d = fallback_dict(base, b=3, _log="log")
    assert d == {"a": 1, "b": 3, "_log": "log"} and base == {"a": 1, "b": 2}


@pytest.mark.parametrize(
    ("old", "new", "changed"),
    [
        (1, 2, False),
        (1, 2.0, True),
        (1.0, 2, True),
        (True, 1, True),
        (None, "x", False),
        ("x", None, True),
        ((1,), [1], False),
        ({"a": 1}, DogmaticDict(), False),
        ([1], DogmaticList(), False),
    ],
)
def test_type_changed(old, new, changed):
    assert type_changed(old, new) is changed


def test_numpy_scalars_are_the_kind_of_their_python_value():
    np = pytest.importorskip("numpy")
    assert not type_changed(1, np.int64(2)) and not type_changed(0.5, np.float32(1))
    assert not type_changed(True, np.bool_(False)) and type_changed(1, np.float64(1))


def test_is_different():
    np = pytest.importorskip("numpy")
    assert not is_different([1, 2], [1, 2]) and is_different([1, 2], [1, 3])
    assert not is_different(np.arange(3), np.arange(3)) and is_different(np.arange(3), np.zeros(3))
    assert is_different(np.arange(3), np.arange(4)) and is_different(np.arange(2), "ab")

    class Weird:
        def __ne__(self, other):
            raise ValueError("cannot compare")

    assert is_different(Weird(), 1)
