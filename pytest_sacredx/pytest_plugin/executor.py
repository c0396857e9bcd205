"""``--exp-executor``: each case's run executes on a cluster; everything else stays in this process.

Collection, seeding, reporting and recording happen here as always; only the run itself — the config
assembly and the main function — executes on a worker. Each experiment item's run is submitted ahead
of its turn (a bounded look-ahead: never more than ``sacredx_executor_lookahead`` cases in flight,
default twice the cluster's threads, so a 10,000-case sweep never holds 10,000 futures) and the item
waits for its own future; pass/fail, ``-x``, ``--lf``, JUnit XML and the summary work as they do
serially. A test marked ``@pytest.mark.experiment`` submits when it calls ``exp_run`` (what it asks
for is known only then).

- ``--exp-executor dask://HOST:PORT`` (ini ``sacredx_executor``) uses a running Dask scheduler;
  ``dask:local`` / ``dask:local:N`` starts a LocalCluster of N single-threaded worker processes on
  127.0.0.1 for the session. Needs the ``dask`` extra (``pip install 'pytest-sacredx[dask]'``). The
  engine sits behind a ``concurrent.futures.Executor`` (:class:`Engine`), so others can follow.
- Recording: the worker records the run's events (:mod:`pytest_sacredx.observers.replay`) and this
  process replays them into the session's observers, so the default TinyDB store and FileStorage work
  without a shared file system. Artifact and resource files travel with the events, up to
  ``sacredx_executor_max_bytes`` per run (default 64 MiB; a run above it is FAILED, saying so).
  ``_run._id`` is None while a run executes remotely: the stores assign it at replay.
- The experiment module must be importable on the workers (installed, or on their ``PYTHONPATH``);
  folders in ini ``sacredx_worker_path`` (relative to the rootdir) are put on their ``sys.path`` for
  workers sharing this file system — a LocalCluster gets the experiment's own folder automatically.
  A worker that cannot import it fails the case with the module's name and that fix. A worker that
  imported another version of the file (workers keep modules between sessions) fails the case too.
- Resources: ``@pytest.mark.experiment(ex, resources={"GPU": 1})`` and ini ``sacredx_resources``
  lines ``PATTERN NAME=AMOUNT …`` (PATTERN matched against the case id, e.g. ``exp_gpu.py::* GPU=1``)
  are Dask worker resources: such cases go only to workers started with ``--resources "GPU=1"``.
- Faults: a worker that dies during a case fails it with the worker, host and pid, and its run is
  recorded FAILED (nothing is left RUNNING); ``--exp-retries K`` (ini ``sacredx_retries``) resubmits
  such a case up to K times, each lost attempt recorded. An unreachable scheduler is one usage error at
  session start. Not with ``-n``: choose processes here or the cluster.
- Seeds, configs and results are those of a serial run with the same session seed: the case requests
  are computed here, identically (``recording.case_request``).

Example::

    $ dask scheduler --host 127.0.0.1 --port 8786 &  dask worker tcp://127.0.0.1:8786 --nworkers 2 --nthreads 1 &
    $ pytest exp_train.py --exp-config lr=0.1,0.01 --exp-executor dask://127.0.0.1:8786
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import fnmatch
import os
import re
import sys
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs
import pytest

from ..errors import SacredxError
from .keys import CASE_EXECUTOR

__all__ = [
    "Engine",
    "ExecutorSpec",
    "parse_executor",
    "parse_resource_line",
    "parse_size",
    "make_engine",
    "RemoteCaseError",
]

ENGINE = pytest.StashKey["Engine"]()
RUNNER = pytest.StashKey["CaseRunner"]()
SETTINGS = pytest.StashKey["Settings"]()


class Engine(Protocol):
    """What the plugin needs of an execution engine."""

    name: str
    #: True when the workers are processes of this machine started for this session: they see its
    #: files (experiment folders go on their path) and share its terminal (their output is kept off it)
    local: bool

    def executor(self, resources: Mapping[str, float] | None = None) -> cf.Executor:
        """An executor whose tasks run where ``resources`` are offered; ``submit(task, case)``."""
        ...

    def task(self, case: Any) -> Any:
        """The function the executor runs for one case (wraps ``remote.execute_case``)."""
        ...

    def slots(self) -> int: ...

    def describe(self) -> str: ...

    def unsatisfiable(self, resources: Mapping[str, float]) -> str | None: ...

    def close(self) -> None: ...


class RemoteCaseError(SacredxError, RuntimeError):
    """A case whose run could not execute, or did not complete, on the executor."""


@attrs.frozen
class ExecutorSpec:
    """A parsed ``--exp-executor`` value.

    >>> parse_executor("dask://127.0.0.1:8786")
    ExecutorSpec(engine='dask', address='tcp://127.0.0.1:8786', workers=None, text='dask://127.0.0.1:8786')
    >>> parse_executor("dask:local:3").workers
    3
    """

    engine: str
    address: str | None
    workers: int | None
    text: str


_DASK_ADDRESS = re.compile(r"dask://(?P<host>\[[^\]]+\]|[^:/\s]+):(?P<port>\d+)/?\Z")
_DASK_LOCAL = re.compile(r"dask:local(?::(?P<n>\d+))?\Z")
_EXECUTOR_FORMS = "dask://HOST:PORT (a running scheduler) or dask:local[:N] (a LocalCluster of N workers)"


def parse_executor(text: str) -> ExecutorSpec:
    """``dask://HOST:PORT`` or ``dask:local[:N]``; a ``ValueError`` naming the mistake otherwise."""
    value = text.strip()
    m = _DASK_ADDRESS.match(value)
    if m is not None:
        return ExecutorSpec("dask", f"tcp://{m.group('host')}:{m.group('port')}", None, value)
    m = _DASK_LOCAL.match(value)
    if m is not None:
        n = int(m.group("n")) if m.group("n") else None
        if n == 0:
            raise ValueError(f"--exp-executor {value}: a LocalCluster needs at least one worker (dask:local:2).")
        return ExecutorSpec("dask", None, n, value)
    hint = ""
    if value.startswith("dask://"):
        hint = " The address needs a port, e.g. dask://127.0.0.1:8786."
    elif value.startswith("tcp://"):
        hint = f" Write it as dask://{value[6:]}."
    raise ValueError(f"--exp-executor {value!r}: give {_EXECUTOR_FORMS}.{hint}")


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*\Z", re.I)


def parse_size(text: str) -> int:
    """Bytes from ``"64MiB"``, ``"1GB"``, ``"500k"`` or a plain number of bytes.

    >>> parse_size("64MiB"), parse_size("2kb"), parse_size("10")
    (67108864, 2000, 10)
    """
    m = _SIZE.match(str(text))
    if m is None:
        raise ValueError(f"sacredx_executor_max_bytes = {text!r}: give bytes, e.g. 64MiB, 500MB or 1000000.")
    unit = (m.group(2) or "b").lower()
    base = 1024 if "i" in unit else 1000
    power = {"b": 0, "k": 1, "m": 2, "g": 3}[unit[0]]
    return int(float(m.group(1)) * base**power)


def parse_resource_line(line: str) -> tuple[str, dict[str, float]]:
    """``"exp_gpu.py::* GPU=1 MEM=2e9"`` → ``("exp_gpu.py::*", {"GPU": 1.0, "MEM": 2e9})``.

    >>> parse_resource_line("*[big*] GPU=2")
    ('*[big*]', {'GPU': 2.0})
    """
    parts = line.split()
    if len(parts) < 2:
        raise ValueError(f"sacredx_resources line {line!r}: expected PATTERN NAME=AMOUNT …, e.g. exp_gpu.py::* GPU=1.")
    pattern, amounts = parts[0], {}
    for part in parts[1:]:
        name, eq, amount = part.partition("=")
        try:
            value = float(amount)
        except ValueError:
            value = -1.0
        if not eq or not name or value <= 0:
            raise ValueError(f"sacredx_resources line {line!r}: {part!r} is not NAME=AMOUNT with a positive "
                             "amount, e.g. GPU=1.")
        amounts[name] = value
    return pattern, amounts


def _marker_resources(item: pytest.Item) -> dict[str, float]:
    marker = item.get_closest_marker("experiment")
    value = marker.kwargs.get("resources") if marker is not None else None
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
        for k, v in value.items()
    ):
        raise RemoteCaseError(
            f"@pytest.mark.experiment(…, resources={value!r}): give a dict of resource names to positive "
            "amounts, e.g. resources={'GPU': 1}."
        )
    return {k: float(v) for k, v in value.items()}


@attrs.frozen
class Settings:
    spec: ExecutorSpec
    retries: int
    lookahead: int | None
    max_bytes: int
    timeout: float
    resources: tuple[tuple[str, dict[str, float]], ...]
    worker_path: tuple[str, ...]


def make_engine(spec: ExecutorSpec, timeout: float) -> Engine:
    """Connect to (or start) the cluster ``spec`` names."""
    try:
        from .dask_executor import DaskEngine
    except ImportError:
        from ..errors import missing_extra

        raise missing_extra("dask", "Dask distributed (the --exp-executor engine)") from None
    return DaskEngine(spec.address, spec.workers, timeout)


# ----------------------------------------------------------------------------------------- hooks
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sacredx", "experiments (pytest-sacredx)")
    group.addoption(
        "--exp-executor",
        dest="sacredx_executor",
        default=None,
        metavar="URI",
        help=f"Run each case's run on a cluster: {_EXECUTOR_FORMS}.",
    )
    group.addoption(
        "--exp-retries",
        dest="sacredx_retries",
        default=None,
        metavar="K",
        help="Resubmit a case whose executor worker died, up to K times (default 0).",
    )
    parser.addini("sacredx_executor", "Default of --exp-executor.", default=None)
    parser.addini("sacredx_retries", "Default of --exp-retries.", default=None)
    parser.addini("sacredx_resources", "Executor resources per case: lines PATTERN NAME=AMOUNT … (PATTERN "
                  "matched against the case id).", type="linelist", default=[])
    parser.addini("sacredx_worker_path", "Folders (relative to the rootdir) put on the executor workers' "
                  "sys.path, for workers that share this file system.", type="linelist", default=[])
    parser.addini("sacredx_executor_max_bytes", "Artifact and resource bytes one run may send back from a "
                  "worker (default 64MiB).", default="64MiB")
    parser.addini("sacredx_executor_lookahead", "Cases submitted ahead of their turn (default: twice the "
                  "cluster's threads).", default=None)
    parser.addini("sacredx_executor_timeout", "Seconds to wait for the scheduler and its first worker "
                  "(default 10).", default="10")


def _settings(config: pytest.Config) -> Settings | None:
    text = config.getoption("sacredx_executor") or config.getini("sacredx_executor")
    if not text:
        return None
    try:
        spec = parse_executor(str(text))
        retries = _count(config.getoption("sacredx_retries") or config.getini("sacredx_retries") or "0",
                         "--exp-retries", minimum=0)
        lookahead_text = config.getini("sacredx_executor_lookahead")
        lookahead = _count(lookahead_text, "sacredx_executor_lookahead", minimum=1) if lookahead_text else None
        max_bytes = parse_size(config.getini("sacredx_executor_max_bytes"))
        timeout = _seconds(config.getini("sacredx_executor_timeout"))
        resources = tuple(parse_resource_line(line) for line in config.getini("sacredx_resources"))
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None
    root = config.rootpath
    worker_path = tuple(str((root / p).resolve()) for p in config.getini("sacredx_worker_path"))
    return Settings(spec, retries, lookahead, max_bytes, timeout, resources, worker_path)


def _count(text: Any, what: str, minimum: int) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ValueError(f"{what} {text!r}: give a whole number of at least {minimum}.")
    return value


def _seconds(text: Any) -> float:
    try:
        value = float(str(text))
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ValueError(f"sacredx_executor_timeout = {text!r}: give a positive number of seconds, e.g. 10.")
    return value


def pytest_configure(config: pytest.Config) -> None:
    settings = _settings(config)
    if settings is None:
        return
    if hasattr(config, "workerinput") or (getattr(config.option, "numprocesses", None) or 0) or (
        getattr(config.option, "dist", "no") not in ("no", None)
    ):
        raise pytest.UsageError(
            f"--exp-executor {settings.spec.text} with -n/--dist: the cluster already runs the cases in "
            "parallel; drop -n (or drop --exp-executor to use local processes)."
        )
    config.stash[SETTINGS] = settings


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    settings = config.stash.get(SETTINGS, None)
    if settings is None or config.option.collectonly:
        return
    from ..remote import EngineStartError

    try:
        engine = make_engine(settings.spec, settings.timeout)
    except EngineStartError as e:
        start = ("start one with: dask scheduler --host HOST --port PORT, and workers with: dask worker "
                 "tcp://HOST:PORT --nthreads 1; or use --exp-executor dask:local")
        raise pytest.UsageError(f"--exp-executor {settings.spec.text}: {e}; {start}.") from None
    except SacredxError as e:
        raise pytest.UsageError(f"--exp-executor {settings.spec.text}: {e}") from None
    config.stash[ENGINE] = engine
    runner = CaseRunner(config, engine, settings)
    config.stash[RUNNER] = runner
    config.stash[CASE_EXECUTOR] = runner.execute


def pytest_report_header(config: pytest.Config) -> str | None:
    runner = config.stash.get(RUNNER, None)
    if runner is None:
        return None
    return (f"sacredx: executor {runner.engine.describe()}, look-ahead {runner.lookahead}, "
            f"retries {runner.settings.retries}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
    runner = item.config.stash.get(RUNNER, None)
    if runner is not None:
        runner.advance(item)
    return (yield)


def pytest_sessionfinish(session: pytest.Session) -> None:
    runner = session.config.stash.get(RUNNER, None)
    if runner is not None:
        runner.cancel_pending()


def pytest_unconfigure(config: pytest.Config) -> None:
    engine = config.stash.get(ENGINE, None)
    if engine is not None:
        del config.stash[ENGINE]
        engine.close()


# ----------------------------------------------------------------------------------------- runner
@attrs.define
class _Pending:
    request: Any
    future: cf.Future[Any]
    resources: dict[str, float]

    def matches(self, request: Any) -> bool:
        a, b = self.request, request
        return (a.updates, a.named, a.seed, a.case_id, a.options) == (b.updates, b.named, b.seed, b.case_id, b.options)


class CaseRunner:
    """Submits the session's cases ahead of their turn and turns each outcome into the item's run."""

    def __init__(self, config: pytest.Config, engine: Engine, settings: Settings) -> None:
        self.config = config
        self.engine = engine
        self.settings = settings
        self.lookahead = settings.lookahead or max(2, 2 * engine.slots())
        self.pending: dict[int, _Pending] = {}
        self._index: dict[int, int] | None = None
        self._locations: dict[int, tuple[str, str, str, str]] = {}

    # -- look-ahead -----------------------------------------------------------------------------------
    def advance(self, item: pytest.Item) -> None:
        """Keep the next ``lookahead`` experiment items (from ``item`` on) submitted."""
        from .collect import ExperimentItem

        items = item.session.items
        if self._index is None or len(self._index) != len(items):
            self._index = {id(it): i for i, it in enumerate(items)}
        start = self._index.get(id(item))
        if start is None:
            return
        for ahead in items[start:start + self.lookahead]:
            if id(ahead) in self.pending or not isinstance(ahead, ExperimentItem):
                continue
            from .keys import SCRATCH_RUNS
            from .recording import case_request

            if ahead.stash.get(SCRATCH_RUNS, False):
                continue
            try:
                request = case_request(ahead, ahead.variant)
                resources = self.resources(ahead)
                if self.engine.unsatisfiable(resources):
                    continue  # the item's own turn reports it
                self.pending[id(ahead)] = self._submit(ahead, ahead.experiment, request, resources)
            except Exception:  # noqa: BLE001 - the item's own turn raises it where it belongs
                continue

    def cancel_pending(self) -> None:
        for pending in self.pending.values():
            pending.future.cancel()
        self.pending.clear()

    # -- one case -------------------------------------------------------------------------------------
    def resources(self, item: pytest.Item) -> dict[str, float]:
        from .keys import CASE_ID

        case_id = item.stash.get(CASE_ID, item.nodeid)
        merged: dict[str, float] = {}
        for pattern, amounts in self.settings.resources:
            if fnmatch.fnmatchcase(case_id, pattern):
                merged.update(amounts)
        merged.update(_marker_resources(item))
        return merged

    def _location(self, experiment: Any) -> tuple[str, str, str, str]:
        """(module, attribute, mainfile, the folder the module's name is relative to)."""
        found = self._locations.get(id(experiment))
        if found is not None:
            return found
        mainfile = experiment.mainfile or ""
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            if name == "__main__" or not path or not mainfile or not _same_file(path, mainfile):
                continue
            for attribute, value in list(vars(module).items()):
                if value is experiment:
                    depth = name.count(".") + (2 if os.path.basename(path) == "__init__.py" else 1)
                    root = str(Path(path).resolve().parents[depth - 1])
                    found = (name, attribute, mainfile, root)
                    self._locations[id(experiment)] = found
                    return found
        raise RemoteCaseError(
            f"experiment {experiment.path!r} is not a module-level variable of an imported module, so a "
            "worker cannot import it; define it at the top level of its file."
        )

    def _submit(self, item: pytest.Item, experiment: Any, request: Any, resources: dict[str, float]) -> _Pending:
        from ..remote import RemoteCase

        module, attribute, mainfile, root = self._location(experiment)
        path = self.settings.worker_path + ((root,) if self.engine.local else ())
        case = RemoteCase(
            module=module, attribute=attribute, mainfile=mainfile, config_updates=dict(request.updates),
            named_configs=tuple(request.named), meta_info=copy.deepcopy(request.meta),
            options=dict(request.options), max_bytes=self.settings.max_bytes, sys_path=path,
            quiet=self.engine.local,
        )
        future = self.engine.executor(resources).submit(self.engine.task, case)
        return _Pending(request, future, resources)

    def execute(self, item: pytest.Item, experiment: Any, request: Any, run: Any) -> None:
        """``CASE_EXECUTOR``: run ``run``'s case on the cluster and replay it into ``run.observers``.

        A case that did not complete fails with ``pytest.fail(…, pytrace=False)``: the message (the
        worker's traceback of the experiment, or what went wrong with the worker) is the whole story;
        this process's frames would only be noise."""
        try:
            self._execute(item, experiment, request, run)
        except RemoteCaseError as e:
            pytest.fail(str(e), pytrace=False)

    def _execute(self, item: pytest.Item, experiment: Any, request: Any, run: Any) -> None:
        resources = self.resources(item)
        problem = self.engine.unsatisfiable(resources)
        if problem:
            raise RemoteCaseError(problem)
        pending = self.pending.pop(id(item), None)
        if pending is not None and not pending.matches(request):
            pending.future.cancel()
            pending = None
        attempts = self.settings.retries + 1
        for attempt in range(1, attempts + 1):
            if pending is None:
                pending = self._submit(item, experiment, request, resources)
            try:
                outcome = _wait(pending.future)
            except RemoteCaseError:
                raise
            except Exception as e:
                from ..remote import WorkerLost

                if not isinstance(e, WorkerLost):
                    raise RemoteCaseError(f"the {self.engine.name.capitalize()} task of this case failed: "
                                          f"{type(e).__name__}: {e}") from None
                self._record_lost(run, e, attempt, attempts)
                if attempt == attempts:
                    more = ("" if self.settings.retries else
                            "; --exp-retries K resubmits a case whose worker died")
                    raise RemoteCaseError(
                        f"{e} (attempt {attempt} of {attempts}); its run {run._id} is recorded FAILED{more}."
                    ) from None
                pending = None
                continue
            self._finish(run, outcome, attempt)
            return

    # -- turning outcomes into the local run ----------------------------------------------------------
    def _executor_meta(self, run: Any, attempt: int, worker: str, host: str, pid: int) -> None:
        meta = run.meta_info.setdefault("pytest", {})
        meta["executor"] = {"engine": self.engine.name, "worker": worker, "host": host, "pid": pid,
                            "attempt": attempt}

    def _record_lost(self, run: Any, lost: Any, attempt: int, attempts: int) -> None:
        """A FAILED run for an attempt whose worker died: what this process knows of it."""
        from ..observers.replay import Event, replay

        now = _utcnow()
        trace = [f"{lost} (attempt {attempt} of {attempts}).\n"]
        for callback in run._finish_callbacks:
            callback(run, "FAILED")
        self._executor_meta(run, attempt, lost.worker, lost.host, lost.pid)
        host_info = lost.host_info or {**run.host_info, "hostname": lost.host}
        events = [
            Event("started_event", {"ex_info": run.experiment_info, "command": run.command,
                                    "host_info": host_info, "start_time": lost.started or now,
                                    "config": run.config, "meta_info": copy.deepcopy(run.meta_info), "_id": None}),
            Event("final_heartbeat_event", {"info": run.info, "captured_out": "", "beat_time": now, "result": None}),
            Event("failed_event", {"fail_time": now, "fail_trace": trace}),
        ]
        run.observer_ids.clear()
        run._id = replay(events, run.observers, logger=run.run_logger, observer_ids=run.observer_ids,
                         failed=run._failed_observers)
        run.status, run.start_time, run.stop_time, run.fail_trace = "FAILED", lost.started or now, now, trace
        run.host_info = host_info

    def _finish(self, run: Any, outcome: Any, attempt: int) -> None:
        from ..observers.replay import TERMINAL_EVENTS, Event, replay

        where = f"{self.engine.name.capitalize()} worker {outcome.worker} (host {outcome.host}, pid {outcome.pid})"
        if outcome.error:
            raise RemoteCaseError(f"{where}: {outcome.error}")
        from ..remote import replay_log_records

        replay_log_records(outcome.log_records)  # into pytest's log capture, as a local run's are
        status = outcome.status or "FAILED"
        for callback in run._finish_callbacks:
            callback(run, status)
        remote_info: dict[str, Any] = {}
        for event in outcome.events:
            if "info" in event.kwargs and isinstance(event.kwargs["info"], dict):
                remote_info = event.kwargs["info"]
        run.info = _merge_info(remote_info, run.info)
        self._executor_meta(run, attempt, outcome.worker, outcome.host, outcome.pid)
        remote_sources: set[tuple[str, ...]] | None = None
        events = []
        for event in outcome.events:
            kwargs = event.kwargs
            if event.name in ("started_event", "queued_event"):
                remote_sources = _sources(kwargs.get("ex_info"))
                kwargs = {**kwargs, "meta_info": run.meta_info}
                run.start_time = kwargs.get("start_time")
                run.host_info = kwargs.get("host_info") or run.host_info
            elif "info" in kwargs:
                kwargs = {**kwargs, "info": run.info}
            if event.name == "log_metrics":
                for name, series in (kwargs.get("metrics_by_name") or {}).items():
                    if series.get("values"):
                        run.final_metrics[name] = series["values"][-1]
                    kept = run.metric_series.setdefault(name, {"steps": [], "values": []})
                    kept["steps"].extend(series.get("steps", []))
                    kept["values"].extend(series.get("values", []))
            elif event.name in ("heartbeat_event", "final_heartbeat_event"):
                run.captured_out = kwargs.get("captured_out", "")
            elif event.name == "completed_event":
                run.result, run.stop_time = kwargs.get("result"), kwargs.get("stop_time")
            elif event.name == "failed_event":
                run.fail_trace, run.stop_time = list(kwargs.get("fail_trace") or []), kwargs.get("fail_time")
            elif event.name == "interrupted_event":
                run.stop_time = kwargs.get("interrupt_time")
            events.append(Event(event.name, kwargs))
        run.observer_ids.clear()  # a lost attempt before this one had its own ids
        run._id = replay(events, run.observers, logger=run.run_logger, observer_ids=run.observer_ids,
                         failed=run._failed_observers)
        run.status = status
        if not any(e.name in TERMINAL_EVENTS for e in events):
            raise RemoteCaseError(f"{where}: the run sent no final event (status {status}).")
        if status != "COMPLETED":
            trace = "".join(run.fail_trace or []) or f"ended {status}\n"
            raise RemoteCaseError(f"the run failed on {where}:\n{trace.rstrip()}")
        local_sources = _sources(run.experiment_info)
        if remote_sources is not None and local_sources and remote_sources != local_sources:
            differ = sorted({s[0] for s in remote_sources ^ local_sources})
            raise RemoteCaseError(
                f"{where} ran other versions of {', '.join(differ)} than this session (their md5 differ): "
                "workers keep the modules earlier sessions imported; restart them, or deploy this version."
            )


def _wait(future: cf.Future[Any]) -> Any:
    # A timeout loop, not one blocking wait: Ctrl-C reaches the main thread between the waits.
    while True:
        try:
            return future.result(timeout=0.5)
        except cf.TimeoutError:
            continue
        except cf.CancelledError:
            raise RemoteCaseError("the case's task was cancelled before it finished") from None


def _merge_info(remote: dict[str, Any], local: dict[str, Any]) -> dict[str, Any]:
    """The worker's info (what the experiment wrote) with this process's (hooks, the pytest outcome)."""
    merged = {**remote, **{k: v for k, v in local.items() if k != "pytest"}}
    if "pytest" in remote or "pytest" in local:
        merged["pytest"] = {**(remote.get("pytest") or {}), **(local.get("pytest") or {})}
    return merged


def _sources(ex_info: Any) -> set[tuple[str, ...]]:
    if not isinstance(ex_info, Mapping):
        return set()
    return {tuple(str(x) for x in s) for s in ex_info.get("sources") or ()}


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _utcnow() -> Any:
    import datetime as _dt

    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)

