"""MemoryObserver: what the engine sent (``events``) and what a store would hold (``runs``)."""

from __future__ import annotations

import datetime as dt

import pytest

from pytest_sacredx.errors import RunIdExistsError
from pytest_sacredx.observers import MemoryObserver
from pytest_sacredx.observers.record import RunReader

T = dt.datetime(2024, 1, 1, 12)
EX = {"name": "demo", "base_dir": "/", "sources": [], "dependencies": []}


def start(obs: MemoryObserver, _id: object = None, config: dict | None = None) -> str:
    return obs.started_event(
        EX, "main", {"hostname": "h"}, T, config or {"a": 1}, {"command": "main"}, _id
    )


def test_ids_count_up_as_strings() -> None:
    obs = MemoryObserver()
    assert [start(obs) for _ in range(3)] == ["1", "2", "3"]
    assert [r["_id"] for r in obs.runs] == ["1", "2", "3"]


def test_requested_id_and_duplicates() -> None:
    obs = MemoryObserver()
    assert start(obs, _id="2") == "2"
    assert start(obs) == "3"  # "2" is taken, so the next number is skipped over
    with pytest.raises(RunIdExistsError, match="'2'"):
        start(obs, _id=2)


def test_events_are_kept_verbatim_in_order() -> None:
    obs = MemoryObserver()
    start(obs)
    result = (1, 2)
    obs.heartbeat_event({"x": 1}, "out", T, None)
    obs.completed_event(T, result)
    obs.join()
    assert [name for name, _ in obs.events] == [
        "started_event",
        "heartbeat_event",
        "completed_event",
        "join",
    ]
    assert obs.events[2][1]["result"] is result  # raw payload, by reference
    assert obs.runs[0]["result"] == {"py/tuple": [1, 2]}  # stored form: Sacred's jsonpickle JSON


def test_stored_values_are_snapshots() -> None:
    obs = MemoryObserver()
    start(obs)
    info = {"epoch": 1}
    obs.heartbeat_event(info, "", T, None)
    info["epoch"] = 2  # the engine passes info by reference and keeps mutating it
    assert obs.load_run("1").info == {"epoch": 1}


def test_metrics_accumulate_and_artifacts_do_not_repeat() -> None:
    obs = MemoryObserver()
    start(obs)
    obs.log_metrics(
        {"loss": {"name": "loss", "steps": [0], "values": [1.0], "timestamps": [T]}}, {}
    )
    obs.log_metrics(
        {"loss": {"name": "loss", "steps": [1], "values": [0.5], "timestamps": [T]}}, {}
    )
    obs.artifact_event("a.txt", "/tmp/a.txt")
    obs.artifact_event("a.txt", "/tmp/a.txt")
    rec = obs.load_run("1")
    assert rec.metrics == {"loss": {"steps": [0, 1], "values": [1.0, 0.5], "timestamps": [T, T]}}
    assert rec.artifacts == ["a.txt"]
    assert rec.store == "memory:"


def test_is_a_run_reader_and_unknown_ids_raise() -> None:
    obs = MemoryObserver()
    assert isinstance(obs, RunReader)
    with pytest.raises(KeyError):
        obs.load_run("1")


def test_event_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="before started_event"):
        MemoryObserver().completed_event(T, None)


def test_queued_then_listed() -> None:
    obs = MemoryObserver()
    run_id = obs.queued_event(EX, "main", {}, T, {"a": 1}, {}, None)
    (rec,) = obs.list_runs()
    assert (rec.id, rec.status, rec.queue_time, rec.start_time) == (run_id, "QUEUED", T, None)
