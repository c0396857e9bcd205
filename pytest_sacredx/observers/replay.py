"""A run's observer events as data: recorded where the run executes, replayed into observers elsewhere.

A run executed on another machine (a Dask worker) cannot write into the stores of the process that
asked for it — a TinyDB folder or a FileStorage directory on the machine running pytest. So the worker
attaches an :class:`EventRecorder`, ships its events back, and :func:`replay` delivers them to the real
observers in the same order and with the same isolation rules as a :class:`~pytest_sacredx.run.Run`
(observers by priority; a failing ``started_event`` stops the record; a later failure is warned about
once and that observer gets only the terminal event; ``join`` at the end). The stores need no shared
file system, and a store cannot tell a replayed run from a local one.

What travels:

- every event in order, its arguments copied when recorded (``info`` keeps changing during the run);
- periodic heartbeats are not kept — each repeats the whole output so far — only the last periodic one
  (in case the run never sent a final beat) and the final heartbeat;
- artifact and resource files as their bytes (:class:`FileContent`), so the worker may delete them
  right after ``add_artifact``. Their total is bounded (``max_bytes``): a file that would pass the bound
  is left out and named in ``oversize``, and the caller decides what that means for the run.

>>> recorder = EventRecorder()
>>> recorder.completed_event(stop_time=None, result=42)
>>> [e.name for e in recorder.events]
['completed_event']
"""

from __future__ import annotations

import copy
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from ..errors import ObserverError
from .base import RunObserver

__all__ = ["Event", "FileContent", "EventRecorder", "replay", "DEFAULT_MAX_BYTES", "TERMINAL_EVENTS"]

#: what the files of one run may add up to when they travel with its events
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
TERMINAL_EVENTS = ("completed_event", "failed_event", "interrupted_event")
_START_EVENTS = ("started_event", "queued_event")
_FILE_EVENTS = ("artifact_event", "resource_event")

_log = logging.getLogger("sacredx.replay")


@attrs.frozen
class FileContent:
    """The bytes of a file an event names, and the path it had where the run executed."""

    filename: str
    data: bytes = attrs.field(repr=lambda d: f"<{len(d)} bytes>")


@attrs.frozen
class Event:
    """One observer call: the method's name and its keyword arguments."""

    name: str
    kwargs: dict[str, Any]


def _copy(value: Any) -> Any:
    try:
        return copy.deepcopy(value)
    except Exception:  # noqa: BLE001 - an uncopyable value travels as it is
        return value


class EventRecorder(RunObserver):
    """Records one run's events (see the module docstring); ``started_event`` returns no id — the
    stores the events are replayed into assign it."""

    priority = 0

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.events: list[Event] = []
        #: ``(name, size in bytes)`` of artifact/resource files left out because of ``max_bytes``
        self.oversize: list[tuple[str, int]] = []
        self._bytes = 0
        self._last_beat: Event | None = None

    def _add(self, event: str, /, **kwargs: Any) -> None:
        self.events.append(Event(event, kwargs))

    def queued_event(self, ex_info: Any, command: Any, host_info: Any, queue_time: Any, config: Any,
                     meta_info: Any, _id: Any) -> Any:
        self._add("queued_event", ex_info=ex_info, command=command, host_info=host_info,
                  queue_time=queue_time, config=_copy(config), meta_info=_copy(meta_info), _id=_id)
        return None

    def started_event(self, ex_info: Any, command: Any, host_info: Any, start_time: Any, config: Any,
                      meta_info: Any, _id: Any) -> Any:
        self._add("started_event", ex_info=ex_info, command=command, host_info=host_info,
                  start_time=start_time, config=_copy(config), meta_info=_copy(meta_info), _id=_id)
        return None

    def heartbeat_event(self, info: Any, captured_out: Any, beat_time: Any, result: Any) -> None:
        self._last_beat = Event("heartbeat_event", {"info": _copy(info), "captured_out": captured_out,
                                                    "beat_time": beat_time, "result": _copy(result)})

    def final_heartbeat_event(self, info: Any, captured_out: Any, beat_time: Any, result: Any) -> None:
        self._last_beat = None
        self._add("final_heartbeat_event", info=_copy(info), captured_out=captured_out,
                  beat_time=beat_time, result=_copy(result))

    def log_metrics(self, metrics_by_name: Any, info: Any) -> None:
        self._add("log_metrics", metrics_by_name=_copy(metrics_by_name), info=_copy(info))

    def _file(self, name: str, filename: str) -> FileContent | None:
        size = os.path.getsize(filename)
        if self._bytes + size > self.max_bytes:
            self.oversize.append((name, size))
            return None
        with open(filename, "rb") as f:
            data = f.read()
        self._bytes += len(data)
        return FileContent(filename, data)

    def artifact_event(self, name: str, filename: str, metadata: Any = None, content_type: Any = None) -> None:
        content = self._file(name, filename)
        if content is not None:
            self._add("artifact_event", name=name, filename=content, metadata=_copy(metadata),
                      content_type=content_type)

    def resource_event(self, filename: str) -> None:
        content = self._file(os.path.basename(filename), filename)
        if content is not None:
            self._add("resource_event", filename=content)

    def _terminal(self, event: str, /, **kwargs: Any) -> None:
        if self._last_beat is not None:  # no final beat came: keep the last periodic one
            self.events.append(self._last_beat)
            self._last_beat = None
        self._add(event, **kwargs)

    def completed_event(self, stop_time: Any, result: Any) -> None:
        self._terminal("completed_event", stop_time=stop_time, result=_copy(result))

    def interrupted_event(self, interrupt_time: Any, status: str) -> None:
        self._terminal("interrupted_event", interrupt_time=interrupt_time, status=status)

    def failed_event(self, fail_time: Any, fail_trace: Any) -> None:
        self._terminal("failed_event", fail_time=fail_time, fail_trace=list(fail_trace or []))


def _materialize(kwargs: dict[str, Any], folder: Callable[[], str]) -> dict[str, Any]:
    """FileContent values become files in a temporary folder (their base names kept)."""
    out = dict(kwargs)
    for key, value in kwargs.items():
        if isinstance(value, FileContent):
            local = value.filename
            if not (os.path.isfile(local) and _same_bytes(local, value.data)):
                sub = tempfile.mkdtemp(dir=folder())
                local = os.path.join(sub, os.path.basename(value.filename) or "file")
                with open(local, "wb") as f:
                    f.write(value.data)
            out[key] = local
    return out


def _same_bytes(path: str, data: bytes) -> bool:
    try:
        if os.path.getsize(path) != len(data):
            return False
        with open(path, "rb") as f:
            return f.read() == data
    except OSError:
        return False


def replay(
    events: Sequence[Event],
    observers: Sequence[Any],
    *,
    logger: logging.Logger | None = None,
    observer_ids: list[tuple[Any, Any]] | None = None,
    failed: list[Any] | None = None,
) -> Any:
    """Deliver ``events`` to ``observers`` as a run would; return the run id the first observer that
    recorded the start gave (or None). ``observer_ids`` gets ``(observer, its id)`` for each observer
    that recorded the start, ``failed`` each observer that failed later — as ``Run.observer_ids`` and
    the run's failed observers do, even when the start fails.

    An artifact or resource file that still exists with the same bytes at its original path (a worker
    on this machine) is passed as it is; otherwise its bytes go to a temporary file with the same base
    name, removed after every observer's ``join``. Raises :class:`ObserverError` when an observer
    refuses the start (the observers that had recorded it get a ``failed_event``).
    """
    log = logger or _log
    ordered = sorted(observers, key=lambda o: -getattr(o, "priority", 0))
    failed = [] if failed is None else failed
    observer_ids = [] if observer_ids is None else observer_ids
    run_id: Any = None
    tmp: tempfile.TemporaryDirectory[str] | None = None

    def folder() -> str:
        nonlocal tmp
        if tmp is None:
            tmp = tempfile.TemporaryDirectory(prefix="sacredx-replay-")
        return tmp.name

    try:
        for event in events:
            kwargs = _materialize(event.kwargs, folder) if event.name in _FILE_EVENTS else event.kwargs
            if event.name in _START_EVENTS:
                started: list[Any] = []
                for observer in ordered:
                    method = getattr(observer, event.name, None)
                    if method is None:
                        continue
                    try:
                        _id = method(**kwargs)
                    except Exception as e:
                        for o in started:
                            _quietly(o, "failed_event", fail_time=kwargs.get("start_time"), fail_trace=[str(e)])
                        raise ObserverError(
                            f"{type(observer).__name__} could not record the start of the run: {e}"
                        ) from e
                    started.append(observer)
                    observer_ids.append((observer, _id))
                    if run_id is None:
                        run_id = _id
                continue
            terminal = event.name in TERMINAL_EVENTS
            for observer in ordered:
                if observer in failed and not terminal:
                    continue
                name = event.name
                if name == "final_heartbeat_event" and not hasattr(observer, name):
                    name = "heartbeat_event"
                method = getattr(observer, name, None)
                if method is None:
                    continue
                try:
                    method(**kwargs)
                except Exception as e:  # noqa: BLE001 - one failing store must not stop the others
                    if observer not in failed:
                        failed.append(observer)
                    log.warning(
                        "An error occurred in the '%s' observer during %s: %s: %s (its record of the "
                        "run may be incomplete)", type(observer).__name__, event.name, type(e).__name__, e,
                    )
    finally:
        for observer in ordered:
            join = getattr(observer, "join", None)
            if join is None:
                continue
            try:
                join()
            except Exception as e:  # noqa: BLE001
                log.warning("Observer %r failed to finish: %s", observer, e)
        if tmp is not None:
            tmp.cleanup()
    return run_id


def _quietly(observer: Any, event: str, **kwargs: Any) -> None:
    try:
        getattr(observer, event)(**kwargs)
    except Exception:  # noqa: BLE001
        pass
