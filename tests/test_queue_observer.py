"""QueueObserver: order, exactly-once delivery through failure windows, draining, giving up.

The covered observer is a MemoryObserver behind a switch that makes every event raise while it is on;
intervals are a few milliseconds and every wait is bounded. The real fault (a MongoDB server killed and
restarted mid-run) is in test_mongo_observer.py.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_sacredx.observers.base import RunObserver
from pytest_sacredx.observers.memory import MemoryObserver
from pytest_sacredx.observers.queue import QueueObserver

T0 = dt.datetime(2024, 1, 1)
EX = {"name": "q", "base_dir": "", "sources": [], "dependencies": []}


def _t(s: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=s)


class Flaky(RunObserver):
    """Forwards to a MemoryObserver; raises ConnectionError from queued events while ``down`` is set,
    or for the next ``fail_next`` attempts."""

    def __init__(self) -> None:
        self.memory = MemoryObserver(priority=7)
        self.down = threading.Event()
        self.fail_next = 0
        self.attempts = 0
        self.failures = 0
        self.failure_dir: str | None = None

    def started_event(self, *args: Any, **kwargs: Any) -> Any:
        return self.memory.started_event(*args, **kwargs)

    def queued_event(self, *args: Any, **kwargs: Any) -> Any:
        return self.memory.queued_event(*args, **kwargs)

    def _call(self, name: str, *args: Any) -> Any:
        self.attempts += 1
        if self.down.is_set() or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            self.failures += 1
            raise ConnectionError(f"store unavailable ({name})")
        return getattr(self.memory, name)(*args)

    def heartbeat_event(self, *a: Any) -> None:
        self._call("heartbeat_event", *a)

    def log_metrics(self, *a: Any) -> None:
        self._call("log_metrics", *a)

    def artifact_event(self, *a: Any) -> None:
        self._call("artifact_event", *a)

    def resource_event(self, *a: Any) -> None:
        self._call("resource_event", *a)

    def completed_event(self, *a: Any) -> None:
        self._call("completed_event", *a)

    def interrupted_event(self, *a: Any) -> None:
        self._call("interrupted_event", *a)

    def failed_event(self, *a: Any) -> None:
        self._call("failed_event", *a)

    def join(self) -> None:
        self.memory.join()

    def load_run(self, run_id: Any) -> Any:
        return self.memory.load_run(run_id)


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def warnings(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno == logging.WARNING]


@pytest.fixture
def queue_log() -> Iterator[_ListHandler]:
    handler = _ListHandler()
    lg = logging.getLogger("sacredx.observers.queue")
    old = lg.level
    lg.addHandler(handler)
    lg.setLevel(logging.DEBUG)
    yield handler
    lg.removeHandler(handler)
    lg.setLevel(old)


def wait_until(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def run_in_thread(fn: Any, timeout: float = 30.0) -> None:
    """Call ``fn`` in a thread and fail (rather than hang) if it does not return in time."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"{fn} did not return within {timeout} s"
    if errors:
        raise errors[0]


def names(memory: MemoryObserver) -> list[str]:
    return [name for name, _ in memory.events]


def send_events(q: QueueObserver, n_beats: int = 5) -> list[str]:
    """Queued events of one run (without the terminal one); returns their names in order."""
    sent = []
    info: dict[str, Any] = {}
    for i in range(n_beats):
        q.heartbeat_event(info, f"{i}\n", _t(i), None)
        q.log_metrics({"loss": {"name": "loss", "steps": [i], "values": [i / 10],
                                "timestamps": [_t(i)]}}, info)
        sent += ["heartbeat_event", "log_metrics"]
    q.artifact_event("a.txt", "/tmp/a.txt", {"k": 1}, "text/plain")
    q.resource_event("/tmp/r.csv")
    return sent + ["artifact_event", "resource_event"]


def test_events_arrive_once_and_in_order_after_a_failure_window(queue_log: _ListHandler) -> None:
    flaky = Flaky()
    q = QueueObserver(flaky, interval=0.01, retry_interval=0.01)
    assert q.started_event(EX, "main", {}, T0, {"lr": 1}, {}, None) == "1"
    flaky.down.set()
    sent = send_events(q)
    assert wait_until(lambda: flaky.failures >= 5)  # the worker is retrying the head event
    assert names(flaky.memory) == ["started_event"]
    flaky.down.clear()
    run_in_thread(lambda: q.completed_event(_t(9), 0.5))
    run_in_thread(q.join)
    assert names(flaky.memory) == ["started_event", *sent, "completed_event", "join"]
    steps = [e["metrics_by_name"]["loss"]["steps"][0] for n, e in flaky.memory.events
             if n == "log_metrics"]
    assert steps == [0, 1, 2, 3, 4]
    record = flaky.memory.load_run("1")
    assert (record.status, record.result, record.captured_out) == ("COMPLETED", 0.5, "4\n")
    assert record.metrics["loss"]["steps"] == [0, 1, 2, 3, 4]
    warnings = queue_log.warnings()
    assert len(warnings) == 1 and "retrying every 0.01 s" in warnings[0]


def test_terminal_event_waits_for_recovery() -> None:
    flaky = Flaky()
    q = QueueObserver(flaky, interval=0.01, retry_interval=0.01)
    q.started_event(EX, "main", {}, T0, {}, {}, None)
    send_events(q, 2)
    flaky.down.set()
    done = threading.Event()

    def finish() -> None:
        q.failed_event(_t(3), ["trace"])
        done.set()

    thread = threading.Thread(target=finish, daemon=True)
    thread.start()
    assert wait_until(lambda: flaky.failures >= 3)
    assert not done.is_set()  # still blocked: the store is down
    flaky.down.clear()
    assert done.wait(10)
    assert names(flaky.memory)[-1] == "failed_event"
    assert flaky.memory.load_run("1").status == "FAILED"


def test_join_drains_without_a_terminal_event() -> None:
    flaky = Flaky()
    q = QueueObserver(flaky, interval=60, retry_interval=60)
    q.started_event(EX, "main", {}, T0, {}, {}, None)
    sent = send_events(q, 3)
    time.sleep(0.05)
    assert names(flaky.memory) == ["started_event"]  # batched: the interval has not passed
    run_in_thread(q.join)
    assert names(flaky.memory) == ["started_event", *sent, "join"]
    assert not any(t.name.startswith("sacredx-queue") and t.is_alive() for t in threading.enumerate())


def test_interval_delivers_without_join() -> None:
    flaky = Flaky()
    q = QueueObserver(flaky, interval=0.02, retry_interval=0.02)
    q.started_event(EX, "main", {}, T0, {}, {}, None)
    q.heartbeat_event({}, "x", _t(1), None)
    assert wait_until(lambda: "heartbeat_event" in names(flaky.memory))
    run_in_thread(lambda: q.completed_event(_t(2), None))


def test_started_event_is_synchronous_and_its_errors_propagate() -> None:
    class Broken(RunObserver):
        def started_event(self, *args: Any) -> Any:
            raise PermissionError("read-only store")

    q = QueueObserver(Broken(), interval=0.01)
    with pytest.raises(PermissionError, match="read-only store"):
        q.started_event(EX, "main", {}, T0, {}, {}, None)
    q.join()  # no worker was started; nothing to wait for


def test_queued_event_returns_the_id() -> None:
    memory = MemoryObserver()
    q = QueueObserver(memory, interval=0.01)
    assert q.queued_event(EX, "main", {}, T0, {}, {}, None) == "1"
    run_in_thread(q.join)
    assert memory.load_run("1").status == "QUEUED"


def test_max_retries_gives_up_with_one_warning_and_a_json_dump(
    tmp_path: Any, queue_log: _ListHandler
) -> None:
    flaky = Flaky()
    q = QueueObserver(flaky, interval=0.01, retry_interval=0.005, max_retries=3,
                      failure_dir=tmp_path)
    q.started_event(EX, "main", {}, T0, {}, {}, None)
    flaky.down.set()
    sent = send_events(q, 2)
    run_in_thread(lambda: q.completed_event(_t(5), {"acc": 1}))  # returns although nothing arrived
    run_in_thread(q.join)
    assert flaky.failures == 4  # the first try and 3 retries of the head event
    assert names(flaky.memory) == ["started_event"]
    warnings = queue_log.warnings()
    assert len(warnings) == 2  # one when failing began, one when giving up
    assert "gave up" in warnings[1]
    (dump,) = tmp_path.iterdir()
    assert str(dump) in warnings[1]
    data = json.loads(dump.read_text())
    assert [e["event"] for e in data["events"]] == [*sent, "completed_event", "join"]
    assert data["run_id"] == "1"
    assert data["events"][-2]["args"] == [_t(5).isoformat(), {"acc": 1}]


def test_failure_dir_defaults_to_the_covered_observers(tmp_path: Any) -> None:
    flaky = Flaky()
    flaky.failure_dir = str(tmp_path / "covered")
    q = QueueObserver(flaky, interval=0.01, retry_interval=0.0, max_retries=0)
    q.started_event(EX, "main", {}, T0, {}, {}, None)
    flaky.down.set()
    run_in_thread(lambda: q.interrupted_event(_t(1), "INTERRUPTED"))
    assert len(list((tmp_path / "covered").iterdir())) == 1


def test_log_metrics_is_forwarded_as_one_call() -> None:
    memory = MemoryObserver()
    q = QueueObserver(memory, interval=0.01)
    q.started_event(EX, "main", {}, T0, {}, {}, None)
    batch = {n: {"name": n, "steps": [0], "values": [1.0], "timestamps": [T0]} for n in "abc"}
    q.log_metrics(batch, {})
    run_in_thread(lambda: q.completed_event(_t(1), None))
    calls = [e for n, e in memory.events if n == "log_metrics"]
    assert len(calls) == 1 and calls[0]["metrics_by_name"] is batch


def test_attributes_delegate_to_the_covered_observer() -> None:
    memory = MemoryObserver(priority=12)
    q = QueueObserver(memory)
    assert q._covered_observer is memory
    assert q.priority == 12
    q.priority = 3
    assert memory.priority == 3
    assert q.runs is memory.runs and q.list_runs  # delegated
    assert (q.interval, q.retry_interval) == (20.0, 10.0)
    with pytest.raises(AttributeError):
        q.no_such_attribute  # noqa: B018
    assert q == QueueObserver(memory) and repr(q) == "QueueObserver(MemoryObserver(runs=0))"


def test_switches_self_handling_observers_to_raise() -> None:
    class SelfHandling(RunObserver):
        on_error = "warn"

    covered = SelfHandling()
    QueueObserver(covered)
    assert covered.on_error == "raise"


def test_one_queue_observer_serves_many_runs() -> None:
    flaky = Flaky()
    q = QueueObserver(flaky, interval=0.01, retry_interval=0.01)
    for i in range(3):
        assert q.started_event(EX, "main", {}, T0, {"i": i}, {}, None) == str(i + 1)
        q.heartbeat_event({}, f"run {i}", _t(1), None)
        flaky.fail_next = 2
        q.completed_event(_t(2), i)
        q.join()
    assert [r.result for r in flaky.memory.list_runs()] == [0, 1, 2]
    assert names(flaky.memory).count("join") == 3


def test_events_from_two_threads_keep_their_order() -> None:
    flaky = Flaky()
    q = QueueObserver(flaky, interval=0.001, retry_interval=0.001)
    q.started_event(EX, "main", {}, T0, {}, {}, None)
    flaky.fail_next = 5

    def beats() -> None:
        for i in range(50):
            q.heartbeat_event({}, str(i), _t(i), None)

    thread = threading.Thread(target=beats)
    thread.start()
    for i in range(50):
        q.log_metrics({"m": {"name": "m", "steps": [i], "values": [i], "timestamps": [T0]}}, {})
    thread.join(10)
    run_in_thread(lambda: q.completed_event(_t(99), None))
    beats_seen = [e["captured_out"] for n, e in flaky.memory.events if n == "heartbeat_event"]
    steps_seen = [e["metrics_by_name"]["m"]["steps"][0] for n, e in flaky.memory.events
                  if n == "log_metrics"]
    assert beats_seen == [str(i) for i in range(50)]
    assert steps_seen == list(range(50))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(st.sampled_from(["heartbeat_event", "log_metrics", "artifact_event",
                                     "resource_event"]), max_size=15),
    failures=st.lists(st.integers(0, 3), max_size=15),
    terminal=st.sampled_from(["completed_event", "interrupted_event", "failed_event"]),
)
def test_property_every_event_arrives_once_in_order(
    events: list[str], failures: list[int], terminal: str
) -> None:
    flaky = Flaky()
    q = QueueObserver(flaky, interval=0.001, retry_interval=0.0)
    q.started_event(EX, "main", {}, T0, {}, {}, None)
    args = {
        "heartbeat_event": lambda i: ({}, str(i), _t(i), None),
        "log_metrics": lambda i: ({"m": {"name": "m", "steps": [i], "values": [i],
                                         "timestamps": [T0]}}, {}),
        "artifact_event": lambda i: (f"a{i}", f"/tmp/a{i}", None, None),
        "resource_event": lambda i: (f"/tmp/r{i}",),
        "completed_event": lambda i: (_t(i), i),
        "interrupted_event": lambda i: (_t(i), "INTERRUPTED"),
        "failed_event": lambda i: (_t(i), ["x"]),
    }
    for i, name in enumerate(events):
        if i < len(failures):
            flaky.fail_next += failures[i]
        getattr(q, name)(*args[name](i))
    run_in_thread(lambda: getattr(q, terminal)(*args[terminal](len(events))), timeout=20)
    run_in_thread(q.join, timeout=20)
    assert names(flaky.memory) == ["started_event", *events, terminal, "join"]


def test_final_heartbeat_goes_through_the_queue_in_order() -> None:
    from pytest_sacredx.observers.queue import QueueObserver

    class Recorder(RunObserver):
        def __init__(self) -> None:
            self.calls: list[str] = []

        def started_event(self, *args: Any, **kwargs: Any) -> str:
            self.calls.append("started_event")
            return "1"

        def heartbeat_event(self, *args: Any, **kwargs: Any) -> None:
            time.sleep(0.05)  # slow store: a delegated final beat would overtake this one
            self.calls.append("heartbeat_event")

        def final_heartbeat_event(self, *args: Any, **kwargs: Any) -> None:
            self.calls.append("final_heartbeat_event")

        def completed_event(self, *args: Any, **kwargs: Any) -> None:
            self.calls.append("completed_event")

    covered = Recorder()
    queue = QueueObserver(covered, interval=0.01, retry_interval=0.01)
    now = dt.datetime(2024, 1, 1)
    queue.started_event({}, "main", {}, now, {}, {}, None)
    queue.heartbeat_event({}, "", now, None)
    queue.final_heartbeat_event({}, "", now, None)
    queue.completed_event(now, 1)
    queue.join()
    assert covered.calls == ["started_event", "heartbeat_event", "final_heartbeat_event", "completed_event"]


class _SacredStyle:
    """An observer written for Sacred's queue: not a RunObserver, per-metric ``log_metrics``, no join."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def started_event(self, *args: Any, **kwargs: Any) -> str:
        self.calls.append(("started_event", args, kwargs))
        return "7"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs))


def test_events_keep_their_keyword_arguments_and_order() -> None:
    covered = _SacredStyle()
    q = QueueObserver(covered, interval=0.01, retry_interval=0.01)
    assert q.started_event("ex", kwds="start") == "7"
    q.heartbeat_event(info={}, captured_out="x", beat_time=T0, result=1)
    q.artifact_event("model", filename="m.pt")
    run_in_thread(lambda: q.completed_event(stop_time=_t(1), result=2))
    assert covered.calls == [
        ("started_event", ("ex",), {"kwds": "start"}),
        ("heartbeat_event", (), {"info": {}, "captured_out": "x", "beat_time": T0, "result": 1}),
        ("artifact_event", ("model",), {"filename": "m.pt"}),
        ("completed_event", (), {"stop_time": _t(1), "result": 2}),
    ]
    # the terminal event stopped the worker; join is not forwarded to a class without one
    assert q._worker is not None and not q._worker.is_alive()
    q.join()
    assert [c[0] for c in covered.calls][-1] == "completed_event"


def test_log_metrics_goes_per_metric_to_sacred_style_observers() -> None:
    covered = _SacredStyle()
    q = QueueObserver(covered, interval=0.01)
    q.started_event()
    q.log_metrics({"a": [1], "b": [2]}, "info")
    q.join()
    assert covered.calls[1:] == [("log_metrics", ("a", [1], "info"), {}),
                                 ("log_metrics", ("b", [2], "info"), {})]


def test_log_metrics_per_metric_for_a_run_observer_with_sacreds_signature() -> None:
    class PerMetric(RunObserver):
        def __init__(self) -> None:
            self.got: list[tuple[Any, ...]] = []

        def started_event(self, *args: Any, **kwargs: Any) -> str:
            return "1"

        def log_metrics(self, metric_name: str, metric_values: Any, info: Any) -> None:  # type: ignore[override]
            self.got.append((metric_name, metric_values, info))

    covered = PerMetric()
    q = QueueObserver(covered, interval=0.01)
    q.started_event()
    q.log_metrics({"a": [1], "b": [2]}, {})
    q.join()
    assert covered.got == [("a", [1], {}), ("b", [2], {})]


class _StartsAfter(RunObserver):
    """``started_event`` raises ``error`` for the first ``failures`` attempts."""

    def __init__(self, failures: int, error: type[Exception] = ConnectionError) -> None:
        self.failures, self.error, self.attempts = failures, error, 0

    def started_event(self, *args: Any, **kwargs: Any) -> str:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise self.error("store unavailable")
        return "1"


def test_a_transient_start_failure_is_tried_again(queue_log: _ListHandler) -> None:
    covered = _StartsAfter(failures=3)
    q = QueueObserver(covered, interval=0.01, retry_interval=0.001)
    assert q.started_event(EX, "main", {}, T0, {}, {}, None) == "1"
    assert covered.attempts == 4
    (warning,) = queue_log.warnings()
    assert "started_event failed (ConnectionError: store unavailable)" in warning
    q.join()


def test_a_start_that_keeps_failing_propagates_after_start_retries() -> None:
    covered = _StartsAfter(failures=100)
    q = QueueObserver(covered, retry_interval=0.001, start_retries=2)
    with pytest.raises(ConnectionError):
        q.started_event(EX, "main", {}, T0, {}, {}, None)
    assert covered.attempts == 3


def test_other_start_errors_propagate_at_once() -> None:
    covered = _StartsAfter(failures=1, error=ValueError)
    q = QueueObserver(covered, retry_interval=0.001)
    with pytest.raises(ValueError):
        q.started_event(EX, "main", {}, T0, {}, {}, None)
    assert covered.attempts == 1


def test_the_covered_observers_transient_errors_decide() -> None:
    class Declares(_StartsAfter):
        transient_errors = (KeyError,)

    covered = Declares(failures=1, error=KeyError)
    assert QueueObserver(covered, retry_interval=0.001).started_event() == "1"
    covered = Declares(failures=1, error=ConnectionError)  # not declared: not retried
    with pytest.raises(ConnectionError):
        QueueObserver(covered, retry_interval=0.001).started_event()


def test_a_queue_equals_the_observer_it_covers() -> None:
    memory = MemoryObserver()
    q = QueueObserver(memory)
    assert q == memory and not q != memory and q == QueueObserver(memory)
    assert q != MemoryObserver() and q != "foo" and hash(q) == hash(memory)
