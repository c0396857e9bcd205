"""The metrics buffer: step counting, scalar conversion, draining, and thread safety."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from pytest_sacredx import metrics_logger
from pytest_sacredx.run import metrics
from pytest_sacredx.run.metrics import MetricsLogger, ScalarMetricLogEntry, linearize_metrics


def test_steps_count_up_per_name_from_zero() -> None:
    logger = MetricsLogger()
    for value in (1.0, 2.0, 3.0):
        logger.log_scalar_metric("loss", value)
    logger.log_scalar_metric("acc", 0.5)
    entries = logger.get_last_metrics()
    assert [(e.name, e.step, e.value) for e in entries] == [
        ("loss", 0, 1.0),
        ("loss", 1, 2.0),
        ("loss", 2, 3.0),
        ("acc", 0, 0.5),
    ]


def test_explicit_step_moves_the_counter() -> None:
    logger = MetricsLogger()
    logger.log_scalar_metric("loss", 1.0, step=10)
    logger.log_scalar_metric("loss", 2.0)
    logger.log_scalar_metric("loss", 3.0, step=5)
    logger.log_scalar_metric("loss", 4.0)
    assert [e.step for e in logger.get_last_metrics()] == [10, 11, 5, 6]


def test_counter_survives_a_drain() -> None:
    logger = MetricsLogger()
    logger.log_scalar_metric("loss", 1.0)
    logger.get_last_metrics()
    logger.log_scalar_metric("loss", 2.0)
    assert [e.step for e in logger.get_last_metrics()] == [1]


def test_numpy_scalars_become_python_scalars() -> None:
    logger = MetricsLogger()
    logger.log_scalar_metric("a", np.float32(0.5), step=np.int64(3))
    logger.log_scalar_metric("a", np.int16(7))
    logger.log_scalar_metric("b", np.array(2.5))  # 0-d array
    logger.log_scalar_metric("c", np.bool_(True))
    entries = logger.get_last_metrics()
    assert [(type(e.step), e.step) for e in entries[:2]] == [(int, 3), (int, 4)]
    assert [(type(e.value), e.value) for e in entries] == [
        (float, 0.5),
        (int, 7),
        (float, 2.5),
        (bool, True),
    ]


def test_non_scalar_values_are_kept_as_given() -> None:
    logger = MetricsLogger()
    array = np.array([1.0, 2.0])
    logger.log_scalar_metric("vec", array)
    logger.log_scalar_metric("text", "hello")
    entries = logger.get_last_metrics()
    assert entries[0].value is array
    assert entries[1].value == "hello"


def test_entry_has_sacreds_fields_and_naive_utc_timestamp() -> None:
    logger = MetricsLogger()
    before = datetime.now(timezone.utc).replace(tzinfo=None)
    logger.log_scalar_metric("loss", 0.5)
    after = datetime.now(timezone.utc).replace(tzinfo=None)
    (entry,) = logger.get_last_metrics()
    assert isinstance(entry, ScalarMetricLogEntry)
    assert (entry.name, entry.step, entry.value) == ("loss", 0, 0.5)
    assert entry.timestamp.tzinfo is None
    slack = timedelta(milliseconds=1)
    assert before - slack <= entry.timestamp <= after + slack


def test_timestamps_without_utcfromtimestamp_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback used on Python >= 3.12 gives the same datetimes."""
    logger = MetricsLogger()
    now = time.time()
    for i in range(50):
        logger._pending.append(("x", i, now + i * 0.0123457, i))
    expected = [datetime(1970, 1, 1) + timedelta(seconds=now + i * 0.0123457) for i in range(50)]
    monkeypatch.setattr(metrics, "_utcfromtimestamp", None)
    assert [e.timestamp for e in logger.get_last_metrics()] == expected


def test_drain_returns_each_entry_once_in_order() -> None:
    logger = MetricsLogger()
    assert logger.get_last_metrics() == []
    for i in range(5):
        logger.log_scalar_metric("m", i)
    assert [e.value for e in logger.get_last_metrics()] == [0, 1, 2, 3, 4]
    assert logger.get_last_metrics() == []
    logger.log_scalar_metric("m", 5)
    assert [e.value for e in logger.get_last_metrics()] == [5]


def test_concurrent_logging_while_draining_loses_nothing() -> None:
    logger = MetricsLogger()
    per_thread, n_threads = 20_000, 3
    drained: list[ScalarMetricLogEntry] = []
    done = threading.Event()

    def drainer() -> None:
        while not done.is_set():
            drained.extend(logger.get_last_metrics())
        drained.extend(logger.get_last_metrics())

    def writer(name: str) -> None:
        for i in range(per_thread):
            logger.log_scalar_metric(name, i)

    drain_thread = threading.Thread(target=drainer)
    drain_thread.start()
    writers = [threading.Thread(target=writer, args=(f"m{k}",)) for k in range(n_threads)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    drain_thread.join()

    assert len(drained) == per_thread * n_threads
    for k in range(n_threads):
        mine = [e for e in drained if e.name == f"m{k}"]
        assert [e.value for e in mine] == list(range(per_thread))  # order kept per thread
        assert [e.step for e in mine] == list(range(per_thread))


def test_linearize_groups_by_name_in_order() -> None:
    logger = MetricsLogger()
    logger.log_scalar_metric("a", 1.0)
    logger.log_scalar_metric("b", 10.0, step=3)
    logger.log_scalar_metric("a", 2.0)
    entries = logger.get_last_metrics()
    grouped = linearize_metrics(entries)
    assert list(grouped) == ["a", "b"]
    assert grouped["a"] == {
        "steps": [0, 1],
        "values": [1.0, 2.0],
        "timestamps": [entries[0].timestamp, entries[2].timestamp],
        "name": "a",
    }
    assert grouped["b"]["steps"] == [3]
    assert linearize_metrics([]) == {}


def test_sacred_module_name_reexports() -> None:
    assert metrics_logger.MetricsLogger is MetricsLogger
    assert metrics_logger.ScalarMetricLogEntry is ScalarMetricLogEntry
    assert metrics_logger.linearize_metrics is linearize_metrics
