"""The Dask engine behind ``--exp-executor``: ``dask://HOST:PORT`` or ``dask:local[:N]``.

Dask distributed is the engine because it is light on the machines this runs on (a ~5 MB wheel,
~160 MB resident for a scheduler and two workers) and stays on loopback; the pytest plugin sees it
only through :class:`DaskEngine` — ``executor(resources)`` gives a ``concurrent.futures.Executor`` —
so another engine fits behind the same seam.

- Each case is one task (``pure=False``, submitted with falling priority so that cases start in item
  order) running :func:`task` on a worker, which wraps :func:`pytest_sacredx.remote.execute_case`
  and announces the attempt (worker, host, pid) on the scheduler's event topic ``sacredx-case-start``
  once the run is about to start.
- A worker that dies while a case runs on it: the scheduler publishes ``remove-worker`` with the keys
  it was processing; a key whose attempt started on that worker fails its future at once with
  :class:`WorkerLost` (naming worker, host and pid) and the task is cancelled, so Dask does not rerun
  it behind the plugin's back (``--exp-retries`` decides). A task that had not started yet is left to
  Dask to reschedule.
- Resources (``{"GPU": 1}``) are Dask worker resources; :meth:`DaskEngine.unsatisfiable` says when no
  worker offers them, instead of letting the case wait forever.
- ``dask:local[:N]`` starts a ``LocalCluster`` on 127.0.0.1 with N single-threaded worker processes
  (default: the machine's CPU count) and stops it at the end of the session.

This module imports no pytest: workers import it to run :func:`task`.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as _dt
import itertools
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Mapping
from typing import Any

import attrs
import distributed

from ..remote import EngineStartError, RemoteCase, RemoteOutcome, WorkerLost, execute_case

__all__ = ["DaskEngine", "DaskCaseExecutor", "task", "START_TOPIC"]

START_TOPIC = "sacredx-case-start"
_log = logging.getLogger("sacredx.executor")


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def task(case: RemoteCase) -> RemoteOutcome:
    """What a worker runs for one case (module-level, so Dask pickles it by reference)."""
    worker = distributed.get_worker()
    key = worker.get_current_task()

    def announce(run: Any) -> None:
        try:
            host_info = json.loads(json.dumps(run.host_info, default=str))
        except (TypeError, ValueError):
            host_info = {}
        worker.log_event(START_TOPIC, {
            "key": str(key), "worker": worker.address, "host": socket.gethostname(), "pid": os.getpid(),
            "time": _utcnow().isoformat(), "host_info": host_info,
        })

    outcome = execute_case(case, on_start=announce)
    return attrs.evolve(outcome, worker=worker.address)


class DaskCaseExecutor(cf.Executor):
    """A ``concurrent.futures.Executor`` whose tasks need ``resources`` on a Dask worker."""

    def __init__(self, engine: DaskEngine, resources: Mapping[str, float]) -> None:
        self._engine = engine
        self._resources = dict(resources) or None

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:  # type: ignore[override]
        return self._engine._submit(fn, args, kwargs, self._resources)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            self._engine.cancel_all()


class DaskEngine:
    """A connection to a Dask cluster (or a LocalCluster it started) for one pytest session."""

    name = "dask"
    task = staticmethod(task)

    def __init__(self, address: str | None, n_workers: int | None = None, timeout: float = 10.0) -> None:
        self.address = address
        self._cluster: Any = None
        #: a LocalCluster: the workers see this machine's files and share the terminal
        self.local = address is None
        try:
            if address is None:
                self._cluster = distributed.LocalCluster(
                    n_workers=n_workers or os.cpu_count() or 2, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR,
                )
                self.client = distributed.Client(self._cluster, timeout=timeout)
            else:
                self.client = distributed.Client(address, timeout=timeout)
        except (OSError, TimeoutError) as e:
            self._close_cluster()
            where = f"at {address}" if address else "(LocalCluster)"
            raise EngineStartError(f"no Dask scheduler answers {where} within {timeout:g} s ({e})") from None
        try:
            self.client.wait_for_workers(1, timeout=timeout)
        except (TimeoutError, OSError) as e:
            self.close()
            raise EngineStartError(f"the Dask scheduler at {self.client.scheduler.address} has no workers "
                                   f"after {timeout:g} s ({type(e).__name__})") from None
        self._lock = threading.Lock()
        self._tracked: dict[str, tuple[Any, cf.Future[Any]]] = {}
        self._starts: dict[str, dict[str, Any]] = {}
        self._priority = itertools.count()
        self._executors: dict[tuple[tuple[str, float], ...], DaskCaseExecutor] = {}
        self._workers: dict[str, Any] = {}
        self.refresh()
        self.client.subscribe_topic(START_TOPIC, self._on_start)
        self.client.subscribe_topic("all", self._on_scheduler_event)

    # -- what the plugin asks -------------------------------------------------------------------------
    def executor(self, resources: Mapping[str, float] | None = None) -> DaskCaseExecutor:
        key = tuple(sorted((resources or {}).items()))
        if key not in self._executors:
            self._executors[key] = DaskCaseExecutor(self, dict(key))
        return self._executors[key]

    def refresh(self) -> None:
        self._workers = dict(self.client.scheduler_info(n_workers=-1).get("workers", {}))

    def slots(self) -> int:
        return sum(int(w.get("nthreads", 1)) for w in self._workers.values()) or 1

    def describe(self) -> str:
        where = self.client.scheduler.address
        kind = f"LocalCluster {where}" if self._cluster is not None else where
        return f"dask {kind} ({len(self._workers)} workers, {self.slots()} threads)"

    def unsatisfiable(self, resources: Mapping[str, float]) -> str | None:
        """None when some worker offers ``resources``, else the message saying so."""
        if not resources:
            return None
        for refresh in (False, True):
            if refresh:
                self.refresh()
            if any(all(float(w.get("resources", {}).get(r, 0)) >= a for r, a in resources.items())
                   for w in self._workers.values()):
                return None
        wanted = ",".join(f"{r}={a:g}" for r, a in sorted(resources.items()))
        offers = sorted({f"{r}={v:g}" for w in self._workers.values() for r, v in w.get("resources", {}).items()})
        return (f"no Dask worker offers the resources {wanted} (the workers offer: "
                f"{', '.join(offers) or 'no resources'}); start a worker with --resources \"{wanted}\".")

    def cancel_all(self) -> None:
        with self._lock:
            entries = list(self._tracked.values())
            self._tracked.clear()
        for _, cfut in entries:
            cfut.cancel()
        if entries:
            try:
                self.client.cancel([d for d, _ in entries])
            except Exception:  # noqa: BLE001 - closing down anyway
                pass

    def close(self) -> None:
        try:
            self.cancel_all()
            for topic in (START_TOPIC, "all"):
                try:
                    self.client.unsubscribe_topic(topic)
                except Exception:  # noqa: BLE001
                    pass
            self.client.close()
        except AttributeError:  # never connected
            pass
        finally:
            self._close_cluster()

    def _close_cluster(self) -> None:
        if self._cluster is not None:
            try:
                self._cluster.close()
            finally:
                self._cluster = None

    # -- futures --------------------------------------------------------------------------------------
    def _submit(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                resources: dict[str, float] | None) -> cf.Future[Any]:
        key = f"sacredx-case-{uuid.uuid4().hex}"
        dfut = self.client.submit(fn, *args, key=key, pure=False, resources=resources,
                                  priority=-next(self._priority), **kwargs)
        cfut: cf.Future[Any] = cf.Future()
        with self._lock:
            self._tracked[key] = (dfut, cfut)

        def cancelled(f: cf.Future[Any]) -> None:
            if f.cancelled():
                with self._lock:
                    entry = self._tracked.pop(key, None)
                if entry is not None:
                    entry[0].cancel()

        cfut.add_done_callback(cancelled)
        dfut.add_done_callback(self._settle)
        return cfut

    def _settle(self, dfut: Any) -> None:
        """Dask's callback thread: the task ended (or was cancelled); pass the outcome on."""
        key = str(dfut.key)
        with self._lock:
            entry = self._tracked.pop(key, None)
        start = self._starts.pop(key, None)
        if entry is None:
            return  # settled already (its worker died) or cancelled by us
        cfut = entry[1]
        try:
            result = dfut.result()
        except distributed.client.FutureCancelledError as e:
            _set(cfut, exception=EngineStartError(f"the Dask task of the case was cancelled ({e})"))
        except distributed.KilledWorker as e:
            last = getattr(e, "last_worker", None)
            address = getattr(last, "address", "") or (start or {}).get("worker", "unknown")
            _set(cfut, exception=self._lost(address, start))
        except BaseException as e:  # noqa: BLE001 - the task's own failure travels to the case
            _set(cfut, exception=e)
        else:
            _set(cfut, result=result)

    def _lost(self, worker: str, start: dict[str, Any] | None) -> WorkerLost:
        start = start or {}
        started = None
        if start.get("time"):
            try:
                started = _dt.datetime.fromisoformat(start["time"])
            except ValueError:
                started = None
        host = start.get("host") or str(self._workers.get(worker, {}).get("host", ""))
        return WorkerLost(worker, host, int(start.get("pid", 0) or 0), started, start.get("host_info"))

    # -- scheduler events (the client's event loop) ---------------------------------------------------
    def _on_start(self, event: Any) -> None:
        _, msg = event
        if isinstance(msg, dict) and "key" in msg:
            key = str(msg["key"])
            with self._lock:
                if key in self._tracked:  # not yet settled (else it would stay here forever)
                    self._starts[key] = msg

    def _on_scheduler_event(self, event: Any) -> None:
        _, msg = event
        if not isinstance(msg, dict) or msg.get("action") != "remove-worker":
            return
        worker = msg.get("worker")
        for key in msg.get("processing-tasks", ()) or ():
            key = str(key)
            start = self._starts.get(key)
            if start is None or start.get("worker") != worker:
                continue  # it had not started there: Dask reschedules it, nothing ran
            with self._lock:
                entry = self._tracked.pop(key, None)
            self._starts.pop(key, None)
            if entry is None:
                continue
            dfut, cfut = entry
            _set(cfut, exception=self._lost(str(worker), start))
            # not from the event loop: Future.cancel waits for the loop
            threading.Thread(target=_cancel_quietly, args=(dfut,), daemon=True).start()
        self._workers.pop(str(worker), None)


def _cancel_quietly(dfut: Any) -> None:
    try:
        dfut.cancel()
    except Exception:  # noqa: BLE001
        pass


def _set(cfut: cf.Future[Any], *, result: Any = None, exception: BaseException | None = None) -> None:
    try:
        if exception is not None:
            cfut.set_exception(exception)
        else:
            cfut.set_result(result)
    except cf.InvalidStateError:  # cancelled meanwhile
        pass
