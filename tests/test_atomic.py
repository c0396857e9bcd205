"""Whole-file writes (pytest_sacredx/atomic.py, pytest_sacredx/observers/atomic.py): the stores' JSON text
is exactly the json module's indented text, a failed write leaves the old file, new files are exclusive."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import json_results, python_literals

from pytest_sacredx.atomic import write_atomic
from pytest_sacredx.observers.atomic import (
    dumps_json,
    json_file_bytes,
    write_bytes_new,
    write_json_atomic,
)


def reference(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False)


documents = st.dictionaries(
    st.sampled_from(["experiment", "host", "meta", "result", "status", "é", ""]),
    st.one_of(json_results(), python_literals()),
    max_size=6,
)


@given(st.lists(documents, min_size=1, max_size=4))
def test_dumps_json_is_the_json_modules_indented_text_also_when_values_repeat(
    docs: list[dict[str, Any]],
) -> None:
    # Written one after the other, as a store writes its runs: reused fragments must still be exact.
    for doc in [*docs, *docs]:
        assert dumps_json(doc) == reference(doc)


@pytest.mark.parametrize(
    "first, second",
    [
        ({"a": [1]}, {"a": [1.0]}),
        ({"a": [1]}, {"a": [True]}),
        ({"a": {"x": 0}}, {"a": {"x": False}}),
        ({"a": [1, 2]}, {"a": (1, 2)}),
        ({"a": [float("nan")]}, {"a": [float("inf")]}),
    ],
)
def test_equal_values_of_other_types_are_not_taken_for_each_other(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    assert dumps_json(first) == reference(first)
    assert dumps_json(second) == reference(second)


@pytest.mark.parametrize("obj", [[], {}, {1: "int key"}, {"a": 1, 2: "b"} , "text", 3.5, [{"a": [1]}]])
def test_anything_else_is_written_as_the_json_module_writes_it(obj: Any) -> None:
    try:
        expected = reference(obj)
    except TypeError as e:  # mixed key types do not sort: the same error as json's
        with pytest.raises(TypeError):
            dumps_json(obj)
        assert "not supported" in str(e)
        return
    assert dumps_json(obj) == expected


def test_text_that_is_not_utf8_is_escaped_and_reads_back() -> None:
    surrogate = os.fsdecode(b"caf\xe9")
    data = json_file_bytes({"path": surrogate})
    assert json.loads(data) == {"path": surrogate}


def test_write_atomic_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    write_json_atomic(target, {"status": "RUNNING"})
    write_atomic(target, b'{"status": "COMPLETED"}')
    assert json.loads(target.read_text()) == {"status": "COMPLETED"}
    assert os.listdir(tmp_path) == ["run.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    write_atomic(target, b"old")
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["run.json"]


def test_write_bytes_new_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    write_bytes_new(target, b"{}")
    with pytest.raises(FileExistsError):
        write_bytes_new(target, b"[]")
    assert target.read_bytes() == b"{}"
