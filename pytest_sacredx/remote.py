"""One case's run executed in another process, recorded as events that travel back.

The process that collected the case (pytest) sends a :class:`RemoteCase` — where to import the
experiment from, the config updates, named configs, meta info and options (the seed among them) — and
:func:`execute_case` runs it there with an :class:`~pytest_sacredx.observers.replay.EventRecorder` as
its only observer, returning a :class:`RemoteOutcome`: the events, the status and who ran it. The asking
process replays the events into its own observers. Nothing here knows pytest or Dask; an executor
engine calls :func:`execute_case` on its workers.

- The experiment is imported by module name (``RemoteCase.module``): the workers need the project on
  their path, as they do for any Dask task. ``sys_path`` folders are put first on ``sys.path`` (for
  workers that share this file system). A module the worker cannot import is not an exception but an
  outcome with ``error`` naming the module and the fix.
- One run at a time per process: runs seed the process's global RNGs (``random``, NumPy), so two runs
  in threads of one worker would draw from each other's generators; a lock keeps a worker with several
  threads reproducible. The global RNG states are restored afterwards.
- The worker's own threads draw from ``random`` too (Dask samples results to size them, jitters
  back-offs), and each such draw would shift the run's stream: while the run executes, the module-level
  functions bound to the global generator (``random.random``, and copies such as ``from random import
  randint`` elsewhere) send the threads that existed before the run — the worker's — to a generator of
  their own. The run's thread, and threads it starts, draw from the global generator exactly as in a
  serial run (through one extra call when they go through the ``random`` module).
- Log records the run emits travel back too, and do not reach the run's captured output: a handler
  on the root logger keeps them, so — as under pytest, whose handlers sit on the root logger — our
  own stderr handler steps aside.
- Files over ``max_bytes`` do not travel: the run is reported FAILED, its trace naming the file and
  the bound, instead of being recorded COMPLETED without its artifact.

>>> case = RemoteCase(module="no_such_module_here", attribute="ex", mainfile="/x/no_such_module_here.py")
>>> outcome = execute_case(case)
>>> outcome.status is None and "cannot import the experiment module 'no_such_module_here'" in outcome.error
True
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib
import logging
import os
import random
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

import attrs

from .errors import SacredxError
from .observers.replay import DEFAULT_MAX_BYTES, Event, EventRecorder

__all__ = [
    "RemoteCase",
    "RemoteOutcome",
    "execute_case",
    "replay_log_records",
    "oversize_trace",
    "WorkerLost",
    "EngineStartError",
]

_RUN_LOCK = threading.Lock()


@attrs.frozen
class RemoteCase:
    """What a worker needs to run one case: picklable, no live objects."""

    module: str
    attribute: str
    mainfile: str
    config_updates: dict[str, Any] = attrs.field(factory=dict)
    named_configs: tuple[str, ...] = ()
    meta_info: dict[str, Any] = attrs.field(factory=dict)
    options: dict[str, Any] = attrs.field(factory=dict)
    max_bytes: int = DEFAULT_MAX_BYTES
    sys_path: tuple[str, ...] = ()
    #: keep the run's output and log lines off this process's stdout/stderr (they are still captured
    #: into the run): a LocalCluster's workers share the terminal of the pytest process
    quiet: bool = False


@attrs.frozen
class RemoteOutcome:
    """What came back: the run's events and status, or ``error`` when no run could start."""

    events: list[Event] = attrs.field(factory=list)
    status: str | None = None
    error: str | None = None
    oversize: list[tuple[str, int]] = attrs.field(factory=list)
    host: str = ""
    pid: int = 0
    worker: str = ""
    #: the log records the run emitted (``LogRecord.__dict__``, message formatted), for the asking
    #: process to hand to its own logging (pytest's log capture) with :func:`replay_log_records`
    log_records: list[dict[str, Any]] = attrs.field(factory=list)


class WorkerLost(SacredxError, RuntimeError):
    """The worker running a case died (killed, out of memory, its machine gone)."""

    def __init__(self, worker: str, host: str = "", pid: int = 0, started: _dt.datetime | None = None,
                 host_info: dict[str, Any] | None = None, engine: str = "Dask") -> None:
        self.worker, self.host, self.pid, self.started = worker, host, pid, started
        self.host_info = host_info or {}
        where = f"host {host}, pid {pid}" if pid else f"host {host or _host_of(worker)}"
        super().__init__(f"{engine} worker {worker} ({where}) died while running the case")


class EngineStartError(SacredxError, RuntimeError):
    """No cluster to run on: the scheduler does not answer, or has no workers."""


def _host_of(address: str) -> str:
    rest = address.split("://", 1)[-1]
    return rest.rsplit(":", 1)[0]


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def oversize_trace(oversize: list[tuple[str, int]], max_bytes: int) -> list[str]:
    """The fail trace of a run whose files could not travel back.

    >>> oversize_trace([("model.pt", 3 * 2**20)], 2**20)[0][:70]
    "The run's files 'model.pt' (3.0 MiB) exceed the 1.0 MiB that may trave"
    """
    names = ", ".join(f"{name!r} ({_size(size)})" for name, size in oversize)
    return [
        f"The run's files {names} exceed the {_size(max_bytes)} that may travel back from an "
        "executor worker with its events, so they were not recorded. Have the run write large files to "
        "storage the workers share (an S3 bucket, a network folder) and record their location in "
        "_run.info, or raise the bound with ini sacredx_executor_max_bytes.\n"
    ]


def _import_error(case: RemoteCase, detail: str) -> str:
    folder = os.path.dirname(case.mainfile) or "."
    return (
        f"cannot import the experiment module {case.module!r} ({case.mainfile}): {detail}. Make it "
        f"importable on every worker: install the project there, or start the workers with "
        f"PYTHONPATH set to the folder holding it ({folder} here); workers that share this file system "
        "can get that folder from ini sacredx_worker_path."
    )


def _load(case: RemoteCase) -> Any:
    """The experiment object, or a message saying why it cannot be had."""
    from .experiment import Experiment

    for entry in reversed(case.sys_path):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    try:
        module = importlib.import_module(case.module)
    except ModuleNotFoundError as e:
        top = case.module.split(".")
        if e.name is not None and e.name in (".".join(top[:i]) for i in range(1, len(top) + 1)):
            return _import_error(case, "no such module on this worker's path")
        return _import_error(case, f"importing it failed: {e} (is that package installed on the workers?)")
    except Exception as e:  # noqa: BLE001 - whatever the module raises, the case reports it
        return _import_error(case, f"importing it raised {type(e).__name__}: {e}")
    experiment = getattr(module, case.attribute, None)
    if not isinstance(experiment, Experiment):
        return (f"the experiment module {case.module!r} on this worker has no Experiment named "
                f"{case.attribute!r}; the workers may run another version of {case.mainfile}.")
    return experiment


def _restore_rngs() -> Callable[[], None]:
    state = random.getstate()
    np = sys.modules.get("numpy")
    np_state = np.random.get_state() if np is not None else None

    def restore() -> None:
        random.setstate(state)
        if np is not None and np_state is not None:
            np.random.set_state(np_state)

    return restore


def execute_case(case: RemoteCase, on_start: Callable[[Any], None] | None = None) -> RemoteOutcome:
    """Run ``case`` here and return its events; ``on_start(run)`` is called once the run is created,
    just before it starts (an engine announces the attempt there)."""
    host, pid = socket.gethostname(), os.getpid()
    with _RUN_LOCK:
        experiment = _load(case)
        if isinstance(experiment, str):
            return RemoteOutcome(error=experiment, host=host, pid=pid)
        restore = _restore_rngs()
        keeper = _RecordKeeper()
        root = logging.getLogger()
        root.addHandler(keeper)
        try:
            try:
                run = experiment._create_run(
                    config_updates=case.config_updates or None,
                    named_configs=case.named_configs,
                    meta_info=case.meta_info,
                    options=case.options,
                )
            except Exception as e:  # noqa: BLE001 - a config this worker cannot build
                return RemoteOutcome(error=f"the run could not be created on this worker: {type(e).__name__}: {e}",
                                     host=host, pid=pid)
            recorder = EventRecorder(case.max_bytes)
            run.observers = [recorder]
            if on_start is not None:
                on_start(run)
            with contextlib.ExitStack() as stack:
                if case.quiet:
                    sink = stack.enter_context(open(os.devnull, "w"))
                    stack.enter_context(contextlib.redirect_stdout(sink))
                    stack.enter_context(contextlib.redirect_stderr(sink))
                stack.enter_context(_private_random_for_other_threads())
                try:
                    run()
                except BaseException:  # noqa: BLE001 - the run's status and trace say what happened
                    pass
        finally:
            root.removeHandler(keeper)
            restore()
    events, status = recorder.events, run.status
    if recorder.oversize and events and events[-1].name in ("completed_event", "failed_event"):
        trace = oversize_trace(recorder.oversize, case.max_bytes)
        if events[-1].name == "failed_event":
            trace = [*events[-1].kwargs.get("fail_trace", []), *trace]
        events[-1] = Event("failed_event", {"fail_time": _utcnow(), "fail_trace": trace})
        status = "FAILED"
    return RemoteOutcome(events=events, status=status, oversize=recorder.oversize, host=host, pid=pid,
                         log_records=keeper.records)


_BOUND_CACHE: tuple[int, list[tuple[Any, str]]] = (-1, [])


def _shared_random_functions() -> list[tuple[Any, str]]:
    """``(module, name)`` of every module-level name bound to the global generator's methods:
    ``random.random`` and copies like ``from random import randint`` in other modules (Dask's
    compression sampling has one). Rescanned only when modules were imported since."""
    global _BOUND_CACHE
    shared = random._inst  # type: ignore[attr-defined]
    count, found = _BOUND_CACHE
    if count == len(sys.modules):
        return found
    found = []
    for module in list(sys.modules.values()):
        try:
            items = list(vars(module).items())
        except TypeError:
            continue
        for name, value in items:
            if getattr(value, "__self__", None) is shared and callable(value):
                found.append((module, name))
    _BOUND_CACHE = (len(sys.modules), found)
    return found


@contextlib.contextmanager
def _private_random_for_other_threads() -> Any:
    """Threads alive now, other than this one, draw from their own ``random.Random`` meanwhile."""
    here = threading.get_ident()
    foreign = frozenset(t.ident for t in threading.enumerate()) - {here}
    shared = random._inst  # type: ignore[attr-defined]
    private = random.Random()
    patched = [(module, name, getattr(module, name)) for module, name in _shared_random_functions()]

    def dispatch(name: str) -> Callable[..., Any]:
        mine, theirs = getattr(shared, name), getattr(private, name)

        def draw(*args: Any, **kwargs: Any) -> Any:
            return (theirs if threading.get_ident() in foreign else mine)(*args, **kwargs)

        return draw

    for module, name, original in patched:
        setattr(module, name, dispatch(original.__name__))
    try:
        yield
    finally:
        for module, name, original in patched:
            setattr(module, name, original)


class _RecordKeeper(logging.Handler):
    """Keeps the records of the thread running the case (a worker's other threads log too)."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()
        self.records: list[dict[str, Any]] = []
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        data = dict(record.__dict__)
        data["msg"], data["args"] = record.getMessage(), None
        if record.exc_info:
            data["exc_text"] = self._formatter.formatException(record.exc_info)
        data["exc_info"] = None
        self.records.append({k: v for k, v in data.items() if _plain(v)})


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, tuple, list))


def replay_log_records(records: list[dict[str, Any]]) -> None:
    """Hand records a run emitted elsewhere to this process's loggers (and so to their handlers)."""
    for data in records:
        record = logging.makeLogRecord(data)
        logging.getLogger(record.name).handle(record)


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
