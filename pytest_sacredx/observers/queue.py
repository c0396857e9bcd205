"""QueueObserver: a wrapper that delivers events from a background thread and loses none of them.

>>> from pytest_sacredx.observers import QueueObserver, MongoObserver  # doctest: +SKIP
>>> ex.observers.append(QueueObserver(MongoObserver(url="mongodb://db:27017"), interval=5))  # doctest: +SKIP

``started_event``/``queued_event`` go through at once (the run needs their id, and their errors must stop
the run; a transient one — the covered observer's ``transient_errors``, else ``ConnectionError`` or
``TimeoutError`` — is tried again up to ``start_retries`` times, ``retry_interval`` apart, first); every later event joins a FIFO queue that a worker thread delivers every ``interval`` seconds.
When the covered observer raises, the event stays at the head of the queue and is tried again every
``retry_interval`` seconds, so events arrive once and in order after the store recovers. With
``max_retries`` the worker gives up after that many retries of one event: it logs one warning and writes
the undelivered events as JSON into ``failure_dir`` (default: the covered observer's ``failure_dir``, else
the temp directory). Terminal events (``completed``/``interrupted``/``failed``) and ``join()`` wait until
the queue is empty, then stop the worker; the next run starts a new one.

Events are forwarded with the positional and keyword arguments they were given, as Sacred's
QueueObserver does. ``log_metrics`` reaches an observer written for Sacred's queue (anything that is not
a :class:`RunObserver`, or one whose ``log_metrics`` takes ``(metric_name, metric_values, info)``) as one
call per metric, Sacred's form; a :class:`RunObserver` with the usual ``(metrics_by_name, info)`` gets
the whole batch in one call. ``join`` is forwarded to the covered observer only when its class defines
one (every :class:`RunObserver` does). Sacred's QueueObserver retries forever and, after a failure, no
longer keeps events in order.

A covered observer that handles its own errors (``on_error = "warn"``, as :class:`MongoObserver` does)
is switched to ``on_error = "raise"``, so that the queue sees the failures it is there to retry.
"""

from __future__ import annotations

import collections
import datetime as _dt
import inspect
import logging
import os
import tempfile
import threading
import time
from collections.abc import Mapping
from typing import Any

from ..serialize import to_jsonable
from .base import RunObserver

__all__ = ["QueueObserver"]

logger = logging.getLogger("sacredx.observers.queue")

#: an event waiting in the queue: (method name, positional arguments, keyword arguments)
_Event = tuple[str, tuple[Any, ...], dict[str, Any]]

_TERMINAL = frozenset({"completed_event", "interrupted_event", "failed_event"})


class QueueObserver(RunObserver):
    """Wraps ``covered_observer``; see the module docstring for the delivery rules.

    >>> from pytest_sacredx.observers.memory import MemoryObserver
    >>> q = QueueObserver(MemoryObserver(), interval=0.01)
    >>> import datetime as dt; t = dt.datetime(2024, 1, 1)
    >>> q.started_event({"name": "x"}, "main", {}, t, {}, {}, None)
    '1'
    >>> q.completed_event(t, 42)  # blocks until delivered
    >>> q.load_run("1").result  # other attributes come from the covered observer
    42
    """

    def __init__(
        self,
        covered_observer: RunObserver,
        interval: float = 20.0,
        retry_interval: float = 10.0,
        max_retries: int | None = None,
        failure_dir: str | os.PathLike[str] | None = None,
        start_retries: int = 10,
    ) -> None:
        self._covered_observer = covered_observer
        self._start_retries = max(0, int(start_retries))
        self._interval = float(interval)
        self._retry_interval = float(retry_interval)
        self._max_retries = max_retries
        self._failure_dir = os.fspath(failure_dir) if failure_dir is not None else None
        if getattr(covered_observer, "on_error", None) == "warn":
            covered_observer.on_error = "raise"  # type: ignore[attr-defined]
        self._cond = threading.Condition()
        self._queue: collections.deque[_Event] = collections.deque()
        #: the worker of the current (or last) run; ``_active`` says whether it still delivers
        self._worker: threading.Thread | None = None
        self._active = False
        self._wake = False
        self._stop = False
        self._gave_up = False
        self._dumped: list[_Event] = []
        self._failure_path: str | None = None
        self._run_id: Any = None

    # -- attributes ---------------------------------------------------------------------------------------

    @property
    def priority(self) -> int:  # type: ignore[override]
        """The covered observer's priority (the run sorts observers by it)."""
        return getattr(self._covered_observer, "priority", 0)

    @priority.setter
    def priority(self, value: int) -> None:
        self._covered_observer.priority = value

    @property
    def interval(self) -> float:
        return self._interval

    @property
    def retry_interval(self) -> float:
        return self._retry_interval

    def __getattr__(self, name: str) -> Any:
        # only reached for names QueueObserver lacks; guard against lookups before __init__ ran
        if name.startswith("__") or "_covered_observer" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["_covered_observer"], name)

    def __eq__(self, other: object) -> bool:
        # equal to what it covers (Sacred: a queued Mongo observer equals a MongoObserver on the same
        # collection), and to another queue over an equal observer
        if isinstance(other, QueueObserver):
            other = other._covered_observer
        return bool(self._covered_observer == other)

    def __hash__(self) -> int:
        try:
            return hash(self._covered_observer)
        except TypeError:
            return hash((QueueObserver, id(self._covered_observer)))

    def __repr__(self) -> str:
        return f"QueueObserver({self._covered_observer!r})"

    # -- synchronous events -------------------------------------------------------------------------------

    def queued_event(self, *args: Any, **kwargs: Any) -> Any:
        return self._begin("queued_event", args, kwargs)

    def started_event(self, *args: Any, **kwargs: Any) -> Any:
        return self._begin("started_event", args, kwargs)

    def _begin(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self._stop_worker()  # a previous run that never ended: deliver what it left first
        run_id = self._start_with_retries(name, args, kwargs)
        with self._cond:
            self._queue.clear()
            self._stop = self._wake = self._gave_up = False
            self._dumped = []
            self._failure_path = None
            self._run_id = run_id
            self._active = True
            self._worker = threading.Thread(
                target=self._work, name=f"sacredx-queue-{run_id}", daemon=True
            )
            self._worker.start()
        return run_id

    def _start_with_retries(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The start event, tried again on a transient error (the store's ``transient_errors``, else
        ``ConnectionError``/``TimeoutError``) at most ``start_retries`` times, ``retry_interval`` apart;
        any other error, or the last one, propagates and stops the run."""
        transient = self._transient_errors()
        for attempt in range(self._start_retries + 1):
            try:
                return getattr(self._covered_observer, name)(*args, **kwargs)
            except transient as exc:
                if attempt == self._start_retries:
                    raise
                if attempt == 0:
                    logger.warning(
                        "QueueObserver: %s.%s failed (%s: %s); trying again up to %d times, every %g s",
                        type(self._covered_observer).__name__, name, type(exc).__name__,
                        _first_line(exc), self._start_retries, self._retry_interval,
                    )
                time.sleep(self._retry_interval)
        raise AssertionError("unreachable")  # pragma: no cover

    def _transient_errors(self) -> tuple[type[BaseException], ...]:
        declared = getattr(type(self._covered_observer), "transient_errors", None)
        if declared is not None:
            errors = getattr(self._covered_observer, "transient_errors", ())
            if isinstance(errors, tuple) and all(
                isinstance(e, type) and issubclass(e, BaseException) for e in errors
            ):
                return errors
        return (ConnectionError, TimeoutError)

    # -- queued events ------------------------------------------------------------------------------------

    def heartbeat_event(self, *args: Any, **kwargs: Any) -> None:
        self._put("heartbeat_event", args, kwargs)

    def final_heartbeat_event(self, *args: Any, **kwargs: Any) -> None:
        # Through the queue like every event (delegating it would overtake queued ones), as the
        # covered observer's own final beat when its class has one.
        name = "final_heartbeat_event" if _defines(self._covered_observer, "final_heartbeat_event") else "heartbeat_event"
        self._put(name, args, kwargs)

    def log_metrics(self, metrics_by_name: Mapping[str, Any], info: Any) -> None:
        if not self._per_metric():
            self._put("log_metrics", (metrics_by_name, info), {})
            return
        for metric_name, metric_values in metrics_by_name.items():
            self._put("log_metrics", (metric_name, metric_values, info), {})

    def _per_metric(self) -> bool:
        """Whether the covered observer takes ``log_metrics(metric_name, metric_values, info)``."""
        covered = self._covered_observer
        if not isinstance(covered, RunObserver):
            return True
        try:
            signature = inspect.signature(covered.log_metrics)
        except (TypeError, ValueError):
            return False
        candidates: tuple[tuple[Any, ...], ...] = (({}, {}), ("name", {}, {}))
        for args in candidates:
            try:
                signature.bind(*args)
            except TypeError:
                continue
            return len(args) == 3
        return False

    def resource_event(self, *args: Any, **kwargs: Any) -> None:
        self._put("resource_event", args, kwargs)

    def artifact_event(self, *args: Any, **kwargs: Any) -> None:
        self._put("artifact_event", args, kwargs)

    def completed_event(self, *args: Any, **kwargs: Any) -> None:
        self._put("completed_event", args, kwargs)

    def interrupted_event(self, *args: Any, **kwargs: Any) -> None:
        self._put("interrupted_event", args, kwargs)

    def failed_event(self, *args: Any, **kwargs: Any) -> None:
        self._put("failed_event", args, kwargs)

    def join(self) -> None:
        """Wait until every queued event is delivered (or given up on), stop the worker, then forward."""
        self._stop_worker()
        if self._gave_up:
            with self._cond:
                self._dumped.append(("join", (), {}))
                self._write_failure_file()
            return
        if _defines(self._covered_observer, "join"):
            self._covered_observer.join()

    def _stop_worker(self) -> None:
        with self._cond:
            worker = self._worker
            if worker is None or not self._active:
                return
            self._stop = self._wake = True
            self._cond.notify_all()
        worker.join()
        with self._cond:
            if self._worker is worker:
                self._active = False

    def _put(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        with self._cond:
            if self._gave_up or not self._active:
                if self._gave_up:
                    self._dumped.append((name, args, kwargs))
                    self._write_failure_file()
                    return
                # no run in progress (an event after join): deliver directly, errors to the caller
                getattr(self._covered_observer, name)(*args, **kwargs)
                return
            self._queue.append((name, args, kwargs))
            if name in _TERMINAL:
                self._stop = self._wake = True
                self._cond.notify_all()
        if name in _TERMINAL:
            self._stop_worker()

    # -- the worker ---------------------------------------------------------------------------------------

    def _work(self) -> None:
        try:
            self._deliver_until_stopped()
        except BaseException:  # pragma: no cover - a bug in this module; never kill silently
            logger.exception("QueueObserver: worker thread crashed; undelivered events are dumped")
            with self._cond:
                self._give_up_locked()
        finally:
            with self._cond:
                self._cond.notify_all()

    def _deliver_until_stopped(self) -> None:
        failures = 0
        while True:
            with self._cond:
                if not self._queue and self._stop:
                    return
                if not self._wake:
                    self._cond.wait_for(lambda: self._wake, timeout=self._interval)
                self._wake = self._stop
            while True:
                with self._cond:
                    if not self._queue:
                        break
                    name, args, kwargs = self._queue[0]
                try:
                    getattr(self._covered_observer, name)(*args, **kwargs)
                except Exception as exc:
                    failures += 1
                    if failures == 1:
                        logger.warning(
                            "QueueObserver: %s.%s failed (%s: %s); retrying every %g s",
                            type(self._covered_observer).__name__, name, type(exc).__name__,
                            _first_line(exc), self._retry_interval,
                        )
                    if self._max_retries is not None and failures > self._max_retries:
                        with self._cond:
                            self._give_up_locked()
                        return
                    with self._cond:
                        # sleep; a join() does not shorten the retry interval (that is its point)
                        self._cond.wait_for(lambda: False, timeout=self._retry_interval)
                    continue
                with self._cond:
                    self._queue.popleft()
                    self._cond.notify_all()
                if failures:
                    logger.info("QueueObserver: %s recovered after %d failed attempt(s)",
                                type(self._covered_observer).__name__, failures)
                    failures = 0

    def _give_up_locked(self) -> None:
        """Stop delivering: dump the undelivered events as JSON and log one warning."""
        self._gave_up = True
        self._dumped = list(self._queue)
        self._queue.clear()
        path = self._write_failure_file()
        logger.warning(
            "QueueObserver: gave up on %s after %s retries; %d undelivered event(s) written to %s",
            type(self._covered_observer).__name__, self._max_retries, len(self._dumped), path,
        )

    def _write_failure_file(self) -> str:
        from .atomic import write_json_atomic

        if self._failure_path is None:
            directory = (
                self._failure_dir
                or getattr(self._covered_observer, "failure_dir", None)
                or tempfile.gettempdir()
            )
            os.makedirs(directory, exist_ok=True)
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
            self._failure_path = os.path.join(
                directory, f"sacredx_queue_fail_{self._run_id}_{stamp}.json"
            )
        write_json_atomic(
            self._failure_path,
            {
                "observer": repr(self._covered_observer),
                "run_id": to_jsonable(self._run_id),
                "events": [
                    {"event": n, "args": to_jsonable(list(a)), "kwargs": to_jsonable(k)}
                    for n, a, k in self._dumped
                ],
            },
        )
        return self._failure_path


def _defines(observer: Any, name: str) -> bool:
    """Whether ``observer``'s class has a method ``name`` (a mock's made-up attributes do not count)."""
    return callable(getattr(type(observer), name, None))


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else ""
