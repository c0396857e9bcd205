"""Sacred's ``sacred.serializer`` names (``serializer.py``)."""

from __future__ import annotations

from pytest_sacredx.serializer import flatten, json, restore


def test_json_round_trips_plain_values() -> None:
    value = {"a": 1, "b": [1.5, "x", None, True], "c": {"d": {}}}
    assert json.decode(json.encode(value)) == value
    assert flatten(value) == value and restore(value) == value


def test_flatten_makes_tuples_sets_and_keys_json_values() -> None:
    assert flatten({"t": (1, 2), 3: {2, 1}}) == {"t": [1, 2], "3": [1, 2]}


def test_decoding_never_builds_objects() -> None:
    text = '{"py/object": "os.system", "py/newargs": ["echo"]}'
    assert json.decode(text) == {"py/object": "os.system", "py/newargs": ["echo"]}
