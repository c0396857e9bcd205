"""The metrics buffer behind ``run.log_scalar``: cheap to log into, drained at each heartbeat.

Logging is on the user's hot path (a training loop may log every step), so a call stores one raw tuple
``(name, step, time.time(), value)`` in a list and returns; datetimes and records are built only when the
heartbeat drains the buffer. The step counter is per metric name, as in Sacred.

>>> logger = MetricsLogger()
>>> logger.log_scalar_metric("loss", 0.5)
>>> logger.log_scalar_metric("loss", 0.25)
>>> logger.log_scalar_metric("acc", 0.9, step=10)
>>> [(e.name, e.step, e.value) for e in logger.get_last_metrics()]
[('loss', 0, 0.5), ('loss', 1, 0.25), ('acc', 10, 0.9)]
>>> logger.get_last_metrics()
[]
>>> logger.log_scalar_metric("loss", 0.125)
>>> linearize_metrics(logger.get_last_metrics())["loss"]["steps"]
[2]
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

__all__ = ["MetricsLogger", "ScalarMetricLogEntry", "linearize_metrics"]

# Values of these types are stored as they are; anything else may be a numpy/torch scalar.
_PLAIN_TYPES = frozenset({int, float, bool, str, type(None)})
_EPOCH = datetime(1970, 1, 1)
# The C-level naive-UTC constructor is 3x faster than epoch + timedelta, but deprecated (warns) from 3.12.
_utcfromtimestamp = datetime.utcfromtimestamp if sys.version_info < (3, 12) else None


class ScalarMetricLogEntry(NamedTuple):
    """One logged value: ``timestamp`` is a naive UTC datetime, as Sacred stores it.

    >>> ScalarMetricLogEntry("loss", 0, datetime(2024, 1, 1), 0.5).name
    'loss'
    """

    name: str
    step: int
    timestamp: datetime
    value: Any


def _to_python_scalar(value: Any) -> Any:
    """Turn a numpy (or torch) scalar into the Python scalar it holds; leave anything else alone.

    Duck-typed on ``.item()`` plus ``.dtype`` so numpy is never imported here; arrays with more than one
    element make ``.item()`` raise and are kept as they are.
    """
    item = getattr(value, "item", None)
    if item is None or not hasattr(value, "dtype"):
        return value
    try:
        return item()
    except (TypeError, ValueError, RuntimeError):
        return value


class MetricsLogger:
    """Collects scalar metrics of one run until the next heartbeat drains them.

    Thread-safe for one or more logging threads plus one draining thread (the heartbeat): a log call
    only appends to a list (atomic under the GIL, and per-list locked on free-threaded builds), and the
    drain removes exactly the prefix it has read, so an entry appended meanwhile stays for the next drain.

    >>> logger = MetricsLogger()
    >>> for loss in (0.9, 0.5, 0.3):
    ...     logger.log_scalar_metric("training.loss", loss)
    >>> [e.step for e in logger.get_last_metrics()]
    [0, 1, 2]
    """

    __slots__ = ("_pending", "_step_counter", "_drain_lock")

    def __init__(self) -> None:
        self._pending: list[tuple[str, Any, float, Any]] = []
        self._step_counter: dict[str, Any] = {}
        self._drain_lock = threading.Lock()

    def log_scalar_metric(self, metric_name: str, value: Any, step: int | None = None) -> None:
        """Add a measurement; ``step`` defaults to the last step of this metric plus one, from 0.

        An explicit step moves the counter, so the next automatic step follows it.
        """
        if step is None:
            step = self._step_counter.get(metric_name, -1) + 1
        elif type(step) is not int:
            step = _to_python_scalar(step)
        if type(value) not in _PLAIN_TYPES:
            value = _to_python_scalar(value)
        self._step_counter[metric_name] = step
        self._pending.append((metric_name, step, time.time(), value))

    def _drain(self) -> list[tuple[str, Any, float, Any]]:
        with self._drain_lock:
            pending = self._pending
            count = len(pending)
            if not count:
                return []
            raw = pending[:count]
            # Only this prefix is removed: appends made after the slice land behind it and survive.
            del pending[:count]
        return raw

    def drain_linearized(self) -> dict[str, dict[str, Any]]:
        """``linearize_metrics(get_last_metrics())`` in one pass, without the per-entry records: the
        run's heartbeat needs only the grouped form."""
        by_name: dict[str, dict[str, Any]] = {}
        columns: dict[str, tuple[Any, Any, Any]] = {}
        if _utcfromtimestamp is not None:
            to_dt = _utcfromtimestamp
        else:

            def to_dt(ts: float) -> datetime:
                return _EPOCH + timedelta(seconds=ts)

        for name, step, ts, value in self._drain():
            cols = columns.get(name)
            if cols is None:
                steps: list[Any] = []
                values: list[Any] = []
                stamps: list[datetime] = []
                by_name[name] = {"steps": steps, "values": values, "timestamps": stamps, "name": name}
                cols = columns[name] = (steps.append, values.append, stamps.append)
            cols[0](step)
            cols[1](value)
            cols[2](to_dt(ts))
        return by_name

    def get_last_metrics(self) -> list[ScalarMetricLogEntry]:
        """Remove and return everything logged since the previous call, oldest first."""
        raw = self._drain()
        if not raw:
            return []
        # tuple.__new__ skips the NamedTuple's Python-level __new__: the drain is most of a beat's cost.
        new, entry = tuple.__new__, ScalarMetricLogEntry
        if _utcfromtimestamp is not None:
            utc = _utcfromtimestamp
            return [new(entry, (name, step, utc(ts), value)) for name, step, ts, value in raw]
        epoch, delta = _EPOCH, timedelta
        return [
            new(entry, (name, step, epoch + delta(seconds=ts), value))
            for name, step, ts, value in raw
        ]

    def __repr__(self) -> str:
        return f"<MetricsLogger pending={len(self._pending)} metrics={sorted(self._step_counter)}>"


def linearize_metrics(logged_metrics: Iterable[ScalarMetricLogEntry]) -> dict[str, dict[str, Any]]:
    """Group entries by metric name, keeping their order, in the shape observers store.

    >>> e = ScalarMetricLogEntry
    >>> t = datetime(2024, 1, 1)
    >>> linearize_metrics([e("a", 0, t, 1.0), e("b", 0, t, 2.0), e("a", 1, t, 3.0)])["a"]["values"]
    [1.0, 3.0]
    """
    by_name: dict[str, dict[str, Any]] = {}
    columns: dict[str, tuple[Any, Any, Any]] = {}
    for name, step, timestamp, value in logged_metrics:
        cols = columns.get(name)
        if cols is None:
            steps: list[Any] = []
            values: list[Any] = []
            timestamps: list[datetime] = []
            # Sacred's key order, so a dump of this dict matches its files byte for byte.
            by_name[name] = {
                "steps": steps,
                "values": values,
                "timestamps": timestamps,
                "name": name,
            }
            cols = columns[name] = (steps.append, values.append, timestamps.append)
        cols[0](step)
        cols[1](value)
        cols[2](timestamp)
    return by_name
