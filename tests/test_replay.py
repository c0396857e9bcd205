"""A run's events recorded and replayed elsewhere (pytest_sacredx/observers/replay.py)."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_sacredx import Experiment
from pytest_sacredx.errors import ObserverError
from pytest_sacredx.observers import FileStorageObserver
from pytest_sacredx.observers.memory import MemoryObserver
from pytest_sacredx.observers.replay import Event, EventRecorder, FileContent, replay

OPTIONS = {"--loglevel": "ERROR"}


def experiment() -> Experiment:
    ex = Experiment("replayed", interactive=True)

    @ex.config
    def cfg():
        lr = 0.1

    @ex.main
    def main(lr: float, _run: Any) -> Any:
        print("training at", lr)
        for step in range(4):
            _run.log_scalar("loss", lr / (step + 1))
        _run.info["note"] = "kept"
        return {"lr": lr}

    return ex


def test_a_replayed_run_is_the_record_the_observer_would_have_made() -> None:
    direct, recorder = MemoryObserver(), EventRecorder()
    ex = experiment()
    ex.observers[:] = [direct, recorder]
    ex.run(config_updates={"lr": 0.5}, options=OPTIONS)
    replayed = MemoryObserver()
    run_id = replay(recorder.events, [replayed])
    assert run_id == "1"
    assert replayed.load_run("1") == direct.load_run("1")  # times, output, metrics, info: all of it
    assert [name for name, _ in replayed.events] == [name for name, _ in direct.events]


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=30))
def test_metric_series_survive_the_trip(values: list[float]) -> None:
    ex = Experiment("series", interactive=True)

    @ex.main
    def main(_run: Any) -> None:
        for v in values:
            _run.log_scalar("m", v)

    recorder = EventRecorder()
    ex.observers[:] = [recorder]
    ex.run(options=OPTIONS)
    memory = MemoryObserver()
    replay(recorder.events, [memory])
    assert memory.load_run("1").metrics["m"]["values"] == values


def test_periodic_heartbeats_are_not_kept_only_the_final_one() -> None:
    import time

    ex = Experiment("beats", interactive=True)

    @ex.main
    def main() -> None:
        print("x" * 1000)
        time.sleep(0.3)

    recorder = EventRecorder()
    ex.observers[:] = [recorder]
    ex.run(options={**OPTIONS, "--beat-interval": "0.02"})
    names = [e.name for e in recorder.events]
    assert names == ["started_event", "final_heartbeat_event", "completed_event"]
    assert recorder.events[1].kwargs["captured_out"].startswith("x" * 1000)


def test_without_a_final_beat_the_last_periodic_one_is_kept() -> None:
    recorder = EventRecorder()
    recorder.heartbeat_event(info={"a": 1}, captured_out="so far", beat_time=None, result=None)
    recorder.heartbeat_event(info={"a": 2}, captured_out="more", beat_time=None, result=None)
    recorder.failed_event(fail_time=None, fail_trace=["x"])
    assert [(e.name, e.kwargs.get("captured_out")) for e in recorder.events] == [
        ("heartbeat_event", "more"), ("failed_event", None)]


def test_info_is_copied_when_recorded() -> None:
    recorder = EventRecorder()
    info = {"step": 1}
    recorder.log_metrics(metrics_by_name={}, info=info)
    info["step"] = 2
    assert recorder.events[0].kwargs["info"] == {"step": 1}


def test_artifacts_and_resources_travel_as_bytes_into_file_storage(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    ex = Experiment("files", interactive=True)

    @ex.main
    def main(_run: Any) -> None:
        with _run.open_resource(str(data)) as f:
            f.read()
        folder = tempfile.mkdtemp()
        path = os.path.join(folder, "model.txt")
        Path(path).write_text("weights")
        _run.add_artifact(path, metadata={"epoch": 3})
        os.remove(path)  # gone where the run executed

    recorder = EventRecorder()
    ex.observers[:] = [recorder]
    ex.run(options=OPTIONS)
    artifact = next(e for e in recorder.events if e.name == "artifact_event")
    assert isinstance(artifact.kwargs["filename"], FileContent)
    assert artifact.kwargs["filename"].data == b"weights"
    data.unlink()  # the resource is gone here too: its bytes still arrive
    store = FileStorageObserver(str(tmp_path / "runs"))
    run_id = replay(recorder.events, [store])
    assert (tmp_path / "runs" / str(run_id) / "model.txt").read_text() == "weights"
    resources = list((tmp_path / "runs" / "_resources").iterdir())
    assert len(resources) == 1 and resources[0].read_text() == "a,b\n1,2\n"
    assert resources[0].name.startswith("data_")  # stored under the file's own base name


def test_files_above_the_bound_are_named_not_recorded(tmp_path: Path) -> None:
    small, big = tmp_path / "small.txt", tmp_path / "big.bin"
    small.write_bytes(b"s" * 10)
    big.write_bytes(b"b" * 100)
    recorder = EventRecorder(max_bytes=50)
    recorder.artifact_event(name="small.txt", filename=str(small))
    recorder.artifact_event(name="big.bin", filename=str(big))
    recorder.artifact_event(name="small2.txt", filename=str(small))
    assert [e.kwargs["name"] for e in recorder.events] == ["small.txt", "small2.txt"]
    assert recorder.oversize == [("big.bin", 100)]


class Refuses:
    priority = 10

    def started_event(self, **kwargs: Any) -> Any:
        raise RuntimeError("database is down")


class BreaksLater(MemoryObserver):
    def log_metrics(self, metrics_by_name: Any, info: Any) -> None:
        raise RuntimeError("disk full")


def _events() -> list[Event]:
    recorder = EventRecorder()
    ex = experiment()
    ex.observers[:] = [recorder]
    ex.run(options=OPTIONS)
    return recorder.events


def test_an_observer_refusing_the_start_stops_the_record_and_the_others_hear_it_failed() -> None:
    first = MemoryObserver(priority=20)
    with pytest.raises(ObserverError, match="Refuses could not record the start of the run: database is down"):
        replay(_events(), [first, Refuses()])
    assert first.load_run("1").status == "FAILED"


def test_a_later_failure_is_warned_about_once_and_the_terminal_event_still_arrives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken, good = BreaksLater(), MemoryObserver()
    with caplog.at_level(logging.WARNING, logger="sacredx.replay"):
        replay(_events(), [broken, good])
    assert good.load_run("1").status == "COMPLETED" and good.load_run("1").final_metrics() == {"loss": 0.025}
    assert broken.load_run("1").status == "COMPLETED"  # the terminal event reaches it
    warnings = [r for r in caplog.records if "BreaksLater" in r.getMessage()]
    assert len(warnings) == 1 and "disk full" in warnings[0].getMessage()


def test_observers_with_only_some_methods_and_join_is_called() -> None:
    class Partial:
        def __init__(self) -> None:
            self.calls: list[str] = []

        def completed_event(self, stop_time: Any, result: Any) -> None:
            self.calls.append("completed")

        def join(self) -> None:
            self.calls.append("join")

    partial = Partial()
    assert replay(_events(), [partial]) is None  # nobody returned an id
    assert partial.calls == ["completed", "join"]
