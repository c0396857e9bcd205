"""LazyRunRecord: a RunRecord whose fields come from the store on first access, bulk only when asked."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import attrs
import pytest

from pytest_sacredx.errors import RunNotFoundError
from pytest_sacredx.observers.lazy_record import NOT_PEEKED, LazyRunRecord
from pytest_sacredx.observers.record import RunRecord

FULL = {"id": "r1", "status": "COMPLETED", "config": {"lr": 0.1}, "result": 0.5,
        "captured_out": "hello\n", "metrics": {"loss": {"steps": [0], "values": [1.0], "timestamps": []}}}


def loader(calls: list[bool]) -> Any:
    def load(full: bool) -> dict[str, Any]:
        calls.append(full)
        if full:
            return dict(FULL)
        return {k: v for k, v in FULL.items() if k not in ("captured_out", "metrics")}
    return load


def test_light_fields_load_once_and_bulk_once() -> None:
    calls: list[bool] = []
    rec = LazyRunRecord.lazy(loader(calls), store="x:")
    assert rec.store == "x:" and calls == []
    assert (rec.id, rec.status, rec.config, rec.experiment, rec.command) == (
        "r1", "COMPLETED", {"lr": 0.1}, {}, "main")  # absent fields take RunRecord's defaults
    assert calls == [False] and not rec.is_loaded
    assert rec.captured_out == "hello\n" and rec.metrics["loss"]["values"] == [1.0]
    assert calls == [False, True] and rec.is_loaded
    assert rec.final_metrics() == {"loss": 1.0} and calls == [False, True]


def test_bulk_first_loads_everything_in_one_call() -> None:
    calls: list[bool] = []
    rec = LazyRunRecord.lazy(loader(calls))
    assert rec.metrics and rec.status == "COMPLETED" and calls == [True]


def test_behaves_as_the_plain_record_it_stands_for() -> None:
    plain = RunRecord(**FULL)  # type: ignore[arg-type]
    rec = LazyRunRecord.lazy(loader([]))
    assert rec == plain and plain == rec and not (rec != plain)
    assert attrs.asdict(rec) == attrs.asdict(plain)
    assert repr(rec).startswith("LazyRunRecord(id='r1'")
    evolved = attrs.evolve(rec, status="FAILED")
    assert evolved.status == "FAILED" and evolved.captured_out == "hello\n"
    assert pickle.loads(pickle.dumps(rec)) == plain and copy.deepcopy(rec) == plain
    assert rec != RunRecord(id="r1", status="FAILED")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        rec.status = "X"  # type: ignore[misc]


def test_a_run_gone_when_read_raises_from_the_field() -> None:
    def gone(full: bool) -> dict[str, Any]:
        raise RunNotFoundError("no run 'r9' in the store")

    rec = LazyRunRecord.lazy(gone, id="r9")
    assert rec.id == "r9"
    with pytest.raises(KeyError):
        _ = rec.status


def test_a_heavy_loader_reads_each_bulky_field_on_its_own() -> None:
    calls: list[Any] = []

    def heavy(name: str) -> Any:
        calls.append(name)
        return FULL[name]

    rec = LazyRunRecord.lazy(loader(calls), heavy, store="x:")
    assert rec.final_metrics() == {"loss": 1.0} and calls == ["metrics"]
    assert rec.status == "COMPLETED" and calls == ["metrics", False] and not rec.is_loaded
    assert rec.metrics["loss"]["values"] == [1.0] and calls == ["metrics", False]
    assert rec.captured_out == "hello\n" and calls == ["metrics", False, "captured_out"]
    assert rec.is_loaded and rec == RunRecord(**{**FULL, "store": "x:"})  # type: ignore[arg-type]
    assert calls == ["metrics", False, "captured_out"]


def test_a_config_peek_answers_the_config_alone_and_the_light_load_keeps_it() -> None:
    calls: list[bool] = []
    peeks: list[str] = []
    rec = LazyRunRecord.lazy(loader(calls), None, lambda: peeks.append("peek") or {"lr": 0.1})
    assert rec.config == {"lr": 0.1} and rec.config == {"lr": 0.1}
    assert peeks == ["peek"] and calls == []  # once, and nothing else read
    assert rec.status == "COMPLETED" and calls == [False]
    assert rec == RunRecord(**FULL) and calls == [False, True]  # type: ignore[arg-type]
    assert pickle.loads(pickle.dumps(rec)) == RunRecord(**FULL)  # type: ignore[arg-type]


def test_a_peek_that_cannot_tell_leaves_the_config_to_the_light_load() -> None:
    calls: list[bool] = []
    rec = LazyRunRecord.lazy(loader(calls), None, lambda: NOT_PEEKED)
    assert rec.config == {"lr": 0.1} and calls == [False]
    later: list[bool] = []
    loaded_first = LazyRunRecord.lazy(loader(later), None, lambda: pytest.fail("peeked"))
    assert loaded_first.status == "COMPLETED" and loaded_first.config == {"lr": 0.1} and later == [False]
