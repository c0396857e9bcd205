"""One run's life: QUEUED → RUNNING → COMPLETED | FAILED | INTERRUPTED, and the events observers get.

``Run`` is Sacred's ``sacred.run.Run``: the same attributes and methods. What differs is how it keeps its
promises: the active run is a context variable (several runs can happen at once in one process), the
output and metrics are flushed with a last heartbeat on every exit path (also with ``-b 0``), SIGTERM and
SIGINT end a run as INTERRUPTED instead of leaving it RUNNING — also when they arrive while an observer
handles an event (see :mod:`pytest_sacredx.run.signals`) — and an observer that fails later than the
start is warned about once and skipped, so a broken store never decides a run's status.

>>> from pytest_sacredx import Experiment
>>> ex = Experiment("demo", interactive=True)
>>> @ex.main
... def main():
...     return 42
>>> ex.run(options={"--loglevel": "ERROR"}).result
42
"""

from __future__ import annotations

import datetime as _dt
import heapq
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from ..artifacts import check_artifact_name
from ..errors import ObserverError, SacredInterrupt
from ..logs import td_format
from . import signals
from .context import ACTIVE_RUNS, CURRENT_RUN
from .metrics import MetricsLogger
from .seeding import set_global_seed
from .signals import Terminated
from .tracebacks import format_filtered_exception

__all__ = ["Run", "Terminated", "utcnow"]


def utcnow() -> _dt.datetime:
    """Naive UTC, as Sacred stores times."""
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


#: what ends a run as INTERRUPTED (or the exception's ``STATUS``) instead of FAILED
_INTERRUPTS = (SacredInterrupt, KeyboardInterrupt, Terminated)


class Run:
    """A single run of an experiment's command; call it to execute."""

    def __init__(
        self,
        config: dict[str, Any],
        config_modifications: Any,
        main_function: Any,
        observers: list[Any],
        root_logger: logging.Logger,
        run_logger: logging.Logger,
        experiment_info: dict[str, Any],
        host_info: dict[str, Any],
        pre_run_hooks: list[Any],
        post_run_hooks: list[Any],
        captured_out_filter: Callable[[str], str] | None = None,
    ) -> None:
        self._id: Any = None
        #: (observer, the id it gave this run) for each observer that recorded the start: stores
        #: number their runs independently, so ``_id`` (the first one's) is not every store's id
        self.observer_ids: list[tuple[Any, Any]] = []
        self.captured_out: str = ""
        self.captured_out_filter = captured_out_filter
        self.config = config
        self.config_modifications = config_modifications
        self.experiment_info = experiment_info
        self.host_info = host_info
        self.info: dict[str, Any] = {}
        self.meta_info: dict[str, Any] = {}
        self.main_function = main_function
        self.observers = observers
        self.pre_run_hooks = pre_run_hooks
        self.post_run_hooks = post_run_hooks
        self.result: Any = None
        self.status: str | None = None
        self.start_time: _dt.datetime | None = None
        self.stop_time: _dt.datetime | None = None
        self.fail_trace: list[str] | None = None
        self.root_logger = root_logger
        self.run_logger = run_logger
        self.beat_interval = 10.0
        self.force = False
        self.debug = False
        self.pdb = False
        self.unobserved = False
        self.queue_only = False
        self.capture_mode: str | None = None
        self.seed: int = int(config.get("seed", 0) or 0)
        # Filled by the assembler: what captured functions of each ingredient see during this run.
        self._ingredient_configs: dict[Any, dict[str, Any]] = {}
        self._seeds: Any = None  # RunSeeds: how self.seed fans out to the captured functions
        self._ingredient_loggers: dict[Any, logging.Logger] = {}
        self._captured: dict[Any, Any] = {}
        self._metrics = MetricsLogger()
        self._resources: set[str] = set()
        self._failed_observers: list[Any] = []
        self._emit_lock = threading.RLock()
        self._heartbeat: int | None = None
        self._final_beat_sent = False
        self._capture: Any = None
        #: last value of each metric, updated as metrics are flushed
        self.final_metrics: dict[str, Any] = {}
        #: every flushed point of each metric, ``{name: {"steps": [...], "values": [...]}}``
        self.metric_series: dict[str, dict[str, list[Any]]] = {}
        #: ``f(run, status)`` called when the run ends, before its last heartbeat (the pytest plugin
        #: records the outcome here)
        self._finish_callbacks: list[Callable[[Run, str], None]] = []
        #: -l/--loglevel, applied to our loggers while the run executes
        self.log_level: str | int | None = None
        #: ``f(flag, value) -> [observer, ...]`` for the observer flags (``-F``, ``-m``…); the
        #: Experiment sets it (the run layer builds no stores itself)
        self.observer_factory: Callable[[str, Any], list[Any]] | None = None

    # ------------------------------------------------------------------ user API
    def open_resource(self, filename: str, mode: str = "r") -> Any:
        """Open a file and record it as a resource of this run."""
        self.add_resource(filename)
        return open(filename, mode)

    def add_resource(self, filename: str) -> None:
        """Record a file the run read (stored content-addressed by the observers)."""
        filename = os.path.abspath(filename)
        if filename in self._resources:
            return
        self._resources.add(filename)
        self._safe_emit("resource_event", filename=filename)

    def add_artifact(
        self,
        filename: str,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        content_type: str | None = None,
    ) -> None:
        """Store a file the run produced, under ``name`` (default: its base name)."""
        filename = os.path.abspath(filename)
        name = os.path.basename(filename) if name is None else name
        check_artifact_name(name)
        if not os.path.isfile(filename):
            raise FileNotFoundError(f"Artifact file {filename!r} does not exist.")
        self._safe_emit(
            "artifact_event", name=name, filename=filename, metadata=metadata, content_type=content_type
        )

    def log_scalar(self, metric_name: str, value: Any, step: int | None = None) -> None:
        """Record one value of a metric; ``step`` defaults to the metric's last step + 1."""
        self._metrics.log_scalar_metric(metric_name, value, step)

    # ------------------------------------------------------------------ life cycle
    def __call__(self, *args: Any) -> Any:
        if self.start_time is not None or self.status is not None:
            raise RuntimeError(
                "A run can only be started once: call ex.run() again for a new run."
            )
        self.observers = [] if self.unobserved else sorted(
            self.observers, key=lambda o: -getattr(o, "priority", 0)
        )
        from ..logs import set_log_level

        restore_log_level = set_log_level(self.root_logger, self.log_level)
        try:
            return self._execute(*args)
        finally:
            restore_log_level()

    def _execute(self, *args: Any) -> Any:
        if not self.observers and not self.debug and not self.unobserved:
            self.run_logger.warning("No observers have been added to this run")
        set_global_seed(self.seed)
        from .capture import OutputCapture, resolve_capture_mode

        self.capture_mode = resolve_capture_mode(self.capture_mode, bool(self.observers))
        # Sacred's debug lines, in Sacred's order (-l DEBUG prints the same log).
        self.run_logger.debug('Using capture mode "%s"', self.capture_mode)
        self.run_logger.info("Running command '%s'", self.command)
        if self.queue_only:
            self._emit_queued()
            self._join_observers()  # a QueueObserver started a worker for this run; let it finish
            return None
        token = CURRENT_RUN.set(self)
        ACTIVE_RUNS.append(self)
        restore_signals = signals.install()
        try:
            try:
                with OutputCapture(self.capture_mode, self.captured_out_filter) as self._capture:
                    self._emit_started()
                    self._start_heartbeat()
                    for hook in self.pre_run_hooks:
                        hook()
                    self.result = self.main_function(*args)
                    for hook in self.post_run_hooks:
                        hook()
                    if self.result is not None:
                        self.run_logger.info("Result: %s", self.result)
                    self.stop_time = utcnow()
                    self.run_logger.info("Completed after %s", self._elapsed())
                self._stop_heartbeat("COMPLETED")
                self._emit_terminal("completed_event", "COMPLETED", stop_time=self.stop_time, result=self.result)
            except _INTERRUPTS as exc:
                # Held: a signal now must not cut the record of the end short (it is raised after).
                with signals.held():
                    status = getattr(exc, "STATUS", "INTERRUPTED")
                    self.stop_time = self.stop_time or utcnow()
                    self._stop_heartbeat(status)
                    self.run_logger.warning("Aborted after %s!", self._elapsed())
                    self._emit_terminal(
                        "interrupted_event", status, interrupt_time=self.stop_time, status=status
                    )
                raise
            except BaseException as exc:
                with signals.held():
                    self.stop_time = utcnow()
                    self.fail_trace = format_filtered_exception(exc)
                    self._stop_heartbeat("FAILED")
                    if not isinstance(exc, ObserverError) or self.status is not None:
                        self.run_logger.error("Failed after %s!", self._elapsed())
                    if self.status == "RUNNING":
                        self._emit_terminal(
                            "failed_event", "FAILED", fail_time=self.stop_time, fail_trace=self.fail_trace
                        )
                    else:
                        self.status = "FAILED"
                raise
        finally:
            try:
                with signals.held():
                    CURRENT_RUN.reset(token)
                    ACTIVE_RUNS.remove(self)
                    self._join_observers()
            finally:
                restore_signals()  # raises a signal that arrived meanwhile: never swallowed
        return self.result

    @property
    def _started_observers(self) -> list[Any]:
        """The observers that recorded the start: only they get the run's later events. Before any
        start was sent (a Run driven by hand, as Sacred's tests do), every observer gets them."""
        if self.start_time is None:
            return list(self.observers)
        return [observer for observer, _ in self.observer_ids]

    def _join_observers(self) -> None:
        for observer in self.observers:
            try:
                observer.join()
            except Exception as e:  # noqa: BLE001 - one observer must not hide the others
                self.run_logger.warning("Observer %r failed to finish: %s", observer, e)

    def _elapsed(self) -> str:
        if self.start_time is None or self.stop_time is None:
            return "0:00:00"
        return td_format(self.stop_time - self.start_time)

    @property
    def command(self) -> str:
        """The main function's name, with its prefix (Sacred's ``prefix.signature.name``)."""
        fn = self.main_function
        signature = getattr(fn, "signature", None)
        name = getattr(signature, "name", None)
        if not isinstance(name, str):
            name = str(getattr(fn, "__name__", "main"))
        prefix = getattr(fn, "prefix", None)
        return f"{prefix}.{name}" if prefix else name

    # ------------------------------------------------------------------ events
    def _emit_queued(self) -> None:
        requested = self._id
        self.status = "QUEUED"
        queue_time = utcnow()
        self.meta_info["queue_time"] = queue_time
        for observer in self.observers:
            _id = observer.queued_event(
                ex_info=self.experiment_info,
                command=self.command,
                host_info=self.host_info,
                queue_time=queue_time,
                config=self.config,
                meta_info=self.meta_info,
                _id=requested,
            )
            if self._id is None:
                self._id = _id
        self.run_logger.info("Queued-up run with ID %s", self._id)

    def _emit_started(self) -> None:
        # Every observer gets the id the user asked for (or None), not the first store's id: stores
        # number their runs independently, and one store's id can already exist in another.
        requested = self._id
        self.status = "RUNNING"
        self.start_time = utcnow()
        started: list[Any] = []
        # Held as a whole: a signal during the start is raised once every observer has recorded the
        # run, so every store holds it and hears how it ended (INTERRUPTED).
        with signals.held():
            for observer in self.observers:
                try:
                    _id = observer.started_event(
                        ex_info=self.experiment_info,
                        command=self.command,
                        host_info=self.host_info,
                        start_time=self.start_time,
                        config=self.config,
                        meta_info=self.meta_info,
                        _id=requested,
                    )
                except _INTERRUPTS:
                    raise
                except Exception as e:
                    # Tell the observers that did record the start, then stop: nothing ran yet.
                    self.status = None
                    for o in started:
                        _call_quietly(o, "failed_event", fail_time=utcnow(), fail_trace=[str(e)])
                    raise ObserverError(
                        f"{type(observer).__name__} could not record the start of the run: {e} "
                        "(the run did not start; fix the observer or run with -u/--unobserved)"
                    ) from e
                started.append(observer)
                self.observer_ids.append((observer, _id))
                if self._id is None:
                    self._id = _id
        if self._id is None:
            self.run_logger.info("Started")
        else:
            self.run_logger.info('Started run with ID "%s"', self._id)

    def _emit_heartbeat(self, final: bool = False) -> None:
        # Held as a whole: the metrics drained here reach every store before a signal is raised.
        with signals.held(), self._emit_lock:
            beat_time = utcnow()
            if self._capture is not None:
                self.captured_out = self._capture.get()
            metrics_by_name = self._metrics.drain_linearized()
            if metrics_by_name:
                for name, series in metrics_by_name.items():
                    self.final_metrics[name] = series["values"][-1]
                    kept = self.metric_series.setdefault(name, {"steps": [], "values": []})
                    kept["steps"].extend(series["steps"])
                    kept["values"].extend(series["values"])
                self._safe_emit("log_metrics", metrics_by_name=metrics_by_name, info=self.info)
            beat = {
                "info": self.info,
                "captured_out": self.captured_out,
                "beat_time": beat_time,
                "result": self.result,
            }
            if not final:
                self._safe_emit("heartbeat_event", **beat)
                return
            # Once: a signal raised after the last beat reached every store ends the run with no
            # second one (a store merges the last beat into the terminal event).
            self._final_beat_sent = True
            # The last beat: observers that can skip what the terminal event repeats say so.
            for observer in self._started_observers:
                # Looked up on the class: a mock (or any object answering every attribute) is an
                # observer of Sacred's events only, and gets heartbeat_event as in Sacred.
                final = hasattr(type(observer), "final_heartbeat_event")
                event = "final_heartbeat_event" if final else "heartbeat_event"
                self._safe_emit(event, _only=observer, **beat)

    def _safe_emit(self, event: str, _only: Any = None, **kwargs: Any) -> None:
        # Held: an artifact, resource or metrics event reaches every store, then a signal is raised.
        with signals.held(), self._emit_lock:
            interrupt: BaseException | None = None
            for observer in self._started_observers if _only is None else (_only,):
                if observer in self._failed_observers:
                    continue
                try:
                    getattr(observer, event)(**kwargs)
                except _INTERRUPTS as e:  # a signal, or an observer that ends the run: not its failure
                    interrupt = interrupt or e
                except Exception as e:  # noqa: BLE001 - a failing store must not end the run
                    self._failed_observers.append(observer)
                    self.run_logger.warning(
                        "An error occurred in the '%s' observer: %s: %s (it gets no further events "
                        "of this run but its final one; its record of the run may be incomplete)",
                        type(observer).__name__, type(e).__name__, e,
                    )
            if interrupt is not None:
                raise interrupt

    def _emit_terminal(self, event: str, status: str, /, **kwargs: Any) -> None:
        # Positional-only: interrupted_event itself takes a keyword named status.
        self.status = status
        interrupt: BaseException | None = None
        with self._emit_lock:
            for observer in self._started_observers:
                try:
                    # Held per observer: a signal during the completion of the run is raised before
                    # the next store completes it, and every store then records it INTERRUPTED.
                    with signals.held():
                        getattr(observer, event)(**kwargs)
                except _INTERRUPTS as e:
                    if event == "completed_event":
                        raise
                    interrupt = interrupt or e  # the others still hear how the run ended
                except Exception as e:  # noqa: BLE001 - isolated: the others still get the event
                    if observer not in self._failed_observers:
                        self._failed_observers.append(observer)
                    self.run_logger.warning(
                        "An error occurred in the '%s' observer during %s: %s: %s",
                        type(observer).__name__, event, type(e).__name__, e,
                    )
        if interrupt is not None:
            raise interrupt

    # ------------------------------------------------------------------ heartbeat
    def _start_heartbeat(self) -> None:
        self.run_logger.debug("Starting Heartbeat")
        if self.beat_interval > 0:
            self._heartbeat = _BEATS.schedule(self.beat_interval, self._emit_heartbeat)

    def _stop_heartbeat(self, status: str) -> None:
        """Stop the thread and send one last beat, always: output and metrics are never left behind."""
        self.run_logger.debug("Stopping Heartbeat")
        for callback in self._finish_callbacks:
            callback(self, status)
        if self._heartbeat is not None:
            _BEATS.cancel(self._heartbeat)
            self._heartbeat = None
        if self._capture is not None:
            self.captured_out = self._capture.get()
        if self.status == "RUNNING" and not self._final_beat_sent:
            self._emit_heartbeat(final=True)

    def _captured_state(self, cf: Any) -> Any:
        state = self._captured.get(cf)
        if state is None:
            state = self._captured[cf] = self._make_captured_state(cf)
        return state

    def _make_captured_state(self, cf: Any) -> Any:
        from ..config.paths import get_by_dotted_path
        from .captured import CapturedState

        ing = cf.ingredient
        base = self._ingredient_configs.get(ing, {})
        config = get_by_dotted_path(base, cf.prefix, {}) if cf.prefix else base
        logger = self._ingredient_loggers.get(ing, self.run_logger).getChild(cf.__name__)
        return CapturedState(config, logger, self._seeds, cf)


class _BeatScheduler:
    """One daemon thread beats for every active run of the process.

    Starting a thread per run cost about a millisecond — more than a whole trivial run — and a pytest
    session runs thousands. ``cancel`` returns only once no beat of that run is in flight, so the last
    beat of a run never overtakes a periodic one.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: list[tuple[float, int]] = []  # heap of (time, token)
        self._entries: dict[int, tuple[float, Callable[[], None]]] = {}
        self._in_flight: int | None = None
        self._next_token = 0
        self._thread: threading.Thread | None = None

    def schedule(self, interval: float, beat: Callable[[], None]) -> int:
        with self._cond:
            self._next_token += 1
            token = self._next_token
            self._entries[token] = (interval, beat)
            due = time.monotonic() + interval
            earliest = self._due[0][0] if self._due else None
            heapq.heappush(self._due, (due, token))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="sacredx-heartbeat", daemon=True)
                self._thread.start()
            elif earliest is None or due < earliest:
                self._cond.notify()  # only an earlier deadline needs the thread awake
            return token

    def cancel(self, token: int) -> None:
        with self._cond:
            self._entries.pop(token, None)
            if threading.current_thread() is not self._thread:
                while self._in_flight == token:
                    self._cond.wait()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._due and self._due[0][1] not in self._entries:
                        heapq.heappop(self._due)  # cancelled
                    if self._due and self._due[0][0] <= time.monotonic():
                        break
                    self._cond.wait(None if not self._due else self._due[0][0] - time.monotonic())
                _, token = heapq.heappop(self._due)
                interval, beat = self._entries[token]
                self._in_flight = token
            try:
                beat()
            except Exception:  # noqa: BLE001 - a beat must never kill the scheduler
                pass
            finally:
                with self._cond:
                    self._in_flight = None
                    if token in self._entries:
                        heapq.heappush(self._due, (time.monotonic() + interval, token))
                    self._cond.notify_all()


_BEATS = _BeatScheduler()


def _call_quietly(observer: Any, event: str, **kwargs: Any) -> None:
    try:
        getattr(observer, event)(**kwargs)
    except Exception:  # noqa: BLE001
        pass
