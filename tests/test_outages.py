"""A database server that goes away in the middle of a run: PostgreSQL (SqlObserver) and S3 (S3Observer).

With ``QueueObserver`` every event arrives, in order; without it the run finishes, the failure is
reported as a warning, and the result is kept (in the run's return value and in the other observer).
MongoDB's version of these tests is in test_mongo_observer.py.

Each test starts a server of its own, because it stops it (the shared servers of ``.ci/services.sh``
serve the other xdist workers):

- PostgreSQL: ``initdb`` into a fresh folder under the temp directory, ``pg_ctl start`` as the
  ``postgres`` user on a free loopback port; the outage is ``pg_ctl stop -m fast`` (every session is
  ended), then ``pg_ctl start`` on the same folder and port.
- S3: ``moto.server`` on a free loopback port; moto keeps its buckets in memory, so the outage is a
  ``SIGSTOP`` of the server (connections are accepted by the kernel and never answered, as with a
  hung server), then ``SIGCONT``. The observer gets no boto3 retries and 3 s timeouts
  (``client_config``): an attempt against the hung server fails after ~4 s (botocore waits 1 s for
  ``100 Continue`` before a PUT body, then the read timeout) instead of minutes, while a healthy
  request — milliseconds, a few hundred on a busy machine — stays far below them.

Every run is a real ``Experiment.run`` with heartbeats every 0.1 s; its main function logs one metric
value per step and starts and ends the outage itself. The outage lasts at least ~2.5 s of steps and
until the store has failed once (so it is felt however slow the machine is), at most ``FELT_TIMEOUT``.
Every wait is bounded. Without the binaries these
tests skip with the reason, or fail when ``SACREDX_SERVICES_REQUIRED=1``.
"""

from __future__ import annotations

import glob
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import pytest

from pytest_sacredx import Experiment
from pytest_sacredx.observers.memory import MemoryObserver
from pytest_sacredx.observers.queue import QueueObserver

pytestmark = [pytest.mark.slow, pytest.mark.service]

STEPS = 90
#: the outage spans steps [OUTAGE_FROM, OUTAGE_TO) of STEP_S seconds each: ~2.5 s
OUTAGE_FROM, OUTAGE_TO, STEP_S = 20, 70, 0.05
RESULT = 0.875
EVENTS = ("heartbeat_event", "log_metrics", "completed_event", "failed_event", "interrupted_event",
          "artifact_event", "resource_event")
RUN_TIMEOUT = 240.0
#: the longest an outage waits for the store's first failed attempt (one takes ~4 s against S3)
FELT_TIMEOUT = 60.0
#: boto3's connect and read timeouts against the private moto server
S3_TIMEOUT_S = 3.0


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("SACREDX_SERVICES_REQUIRED") == "1":
        pytest.fail(f"{reason} (SACREDX_SERVICES_REQUIRED=1: service tests must not be skipped)",
                    pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


def _wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


# -------------------------------------------------------------------------------------------------------
# private servers
# -------------------------------------------------------------------------------------------------------


class PgServer:
    """A PostgreSQL cluster of one test: its own data folder and loopback port, run as ``postgres``."""

    def __init__(self, bin_dir: str) -> None:
        self.bin = bin_dir
        self.port = _free_port()
        # Not under pytest's tmp_path: /tmp/pytest-of-root is 700, and postgres must reach its folder.
        self.root = tempfile.mkdtemp(prefix="sacredx-outage-pg.")
        os.chmod(self.root, 0o711)
        self.data = os.path.join(self.root, "data")
        os.mkdir(self.data, 0o700)
        shutil.chown(self.data, "postgres", "postgres")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.stops = 0

    def _pg(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run(["runuser", "-u", "postgres", "--", *args], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            log = os.path.join(self.data, "server.log")
            tail = open(log).read()[-2000:] if os.path.exists(log) else ""
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr}{done.stdout}\n{tail}")

    def init(self) -> None:
        self._pg(f"{self.bin}/initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "--no-sync",
                 "-E", "UTF8")

    def start(self) -> None:
        self._pg(f"{self.bin}/pg_ctl", "-D", self.data, "-l", os.path.join(self.data, "server.log"),
                 "-w", "-t", "30", "-o",
                 f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data} -c fsync=off", "start")
        _wait_until(lambda: _port_open(self.port), 30, f"PostgreSQL on port {self.port}")

    def stop(self, mode: str = "fast") -> None:
        self._pg(f"{self.bin}/pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "30", "stop")
        self.stops += 1

    def destroy(self) -> None:
        pid_file = os.path.join(self.data, "postmaster.pid")
        if os.path.exists(pid_file):
            try:
                self.stop("immediate")
            except Exception:  # the postmaster ignored pg_ctl: end it by its own PID
                with open(pid_file) as fh:
                    pid = int(fh.readline())
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.root, ignore_errors=True)


def _pg_bin_dir() -> str:
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: [int(p) for p in d.split("/")[-2].split(".") if p.isdigit()])
    dirs = [d for d in dirs if os.access(os.path.join(d, "initdb"), os.X_OK)]
    if not dirs:
        _unavailable("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); install it with: "
                     "apt-get install -y --no-install-recommends postgresql")
    if shutil.which("runuser") is None or os.geteuid() != 0:
        _unavailable("starting a private PostgreSQL needs root and runuser (it runs as user postgres)")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        _unavailable("no 'postgres' user to run a private PostgreSQL as")
    return dirs[-1]


@pytest.fixture
def own_pg() -> Iterator[PgServer]:
    pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg")
    server = PgServer(_pg_bin_dir())
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()


class MotoServer:
    """moto's S3 server of one test, on a free loopback port; ``pause``/``resume`` freeze it."""

    def __init__(self, log_path: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.pauses = 0
        _wait_until(lambda: self.proc.poll() is None and _port_open(self.port), 30,
                    f"moto server on port {self.port}")

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)
        self.pauses += 1

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a stopped process does not act on SIGTERM
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def own_moto(tmp_path: Any) -> Iterator[MotoServer]:
    pytest.importorskip("boto3")
    for module in ("moto.server", "flask", "flask_cors"):
        if importlib.util.find_spec(module.split(".")[0]) is None:
            _unavailable(f"moto's S3 server needs {module}: pip install 'moto[s3]' flask flask-cors")
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ.setdefault(name, value)
    server = MotoServer(str(tmp_path / "moto.log"))
    try:
        yield server
    finally:
        server.close()


# -------------------------------------------------------------------------------------------------------
# the run
# -------------------------------------------------------------------------------------------------------


class Deliveries:
    """Wraps an observer's event methods (on the instance) to list the events that reached the store."""

    def __init__(self, observer: Any) -> None:
        self.delivered: list[tuple[str, dict[str, Any]]] = []
        self.failures: list[tuple[str, str]] = []
        for name in EVENTS:
            setattr(observer, name, self._wrap(name, getattr(observer, name)))

    def _wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        params = {
            "heartbeat_event": ("info", "captured_out", "beat_time", "result"),
            "log_metrics": ("metrics_by_name", "info"),
            "completed_event": ("stop_time", "result"),
        }.get(name, ())

        def event(*args: Any, **kwargs: Any) -> Any:
            try:
                out = method(*args, **kwargs)
            except Exception as exc:
                self.failures.append((name, f"{type(exc).__name__}: {exc}"))
                raise
            self.delivered.append((name, {**dict(zip(params, args, strict=False)), **kwargs}))
            return out

        return event


def _run_with_outage(
    observers: list[Any], begin: Callable[[], None], end: Callable[[], None], felt: Callable[[], bool]
) -> Any:
    """``ex.run`` in a thread (bounded wait): STEPS metric values, the outage in the middle; it ends
    once ``felt()`` says the store failed (a condition, not a duration: a loaded machine may need
    longer for the first attempt to time out)."""
    ex = Experiment("outage")
    ex.observers.extend(observers)

    @ex.main
    def main(_run: Any) -> float:
        for step in range(STEPS):
            if step == OUTAGE_FROM:
                begin()
            elif step == OUTAGE_TO:
                _wait_until(felt, FELT_TIMEOUT, "the store's first failure during the outage")
                end()
            print(f"step {step}")
            _run.log_scalar("loss", 1.0 / (step + 1), step)
            time.sleep(STEP_S)
        return RESULT

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["run"] = ex.run(options={"--beat-interval": 0.1, "--capture": "sys"})
        except BaseException as exc:  # noqa: BLE001 - reported below
            box["error"] = exc

    thread = threading.Thread(target=target, name="outage-run", daemon=True)
    began = time.monotonic()
    thread.start()
    thread.join(RUN_TIMEOUT)
    assert not thread.is_alive(), f"the run did not finish within {RUN_TIMEOUT} s"
    if "error" in box:
        raise box["error"]
    box["run"].elapsed = time.monotonic() - began
    return box["run"]


def _expected_loss() -> dict[str, list[Any]]:
    return {"steps": list(range(STEPS)), "values": [1.0 / (s + 1) for s in range(STEPS)]}


def _memory_record(memory: MemoryObserver) -> Any:
    (record,) = list(memory.list_runs())
    return record


def _assert_every_event_arrived(deliveries: Deliveries, memory: MemoryObserver, record: Any) -> None:
    """The store got exactly the events the other observer got, in the same order, and holds them."""
    sent = [(name, payload) for name, payload in memory.events if name in EVENTS]
    got = deliveries.delivered
    assert [n for n, _ in got] == [n for n, _ in sent]
    assert got == sent  # same payloads too (each metric batch, each beat's output)
    assert deliveries.failures, "the outage was not felt: no event failed"
    assert record.status == "COMPLETED" and record.result == RESULT
    loss = record.metrics["loss"]
    assert list(loss["steps"]) == _expected_loss()["steps"]
    assert list(loss["values"]) == pytest.approx(_expected_loss()["values"])
    mem = _memory_record(memory)
    assert record.captured_out == mem.captured_out and f"step {STEPS - 1}\n" in record.captured_out


# What the run and the observers report (loggers "sacredx.*"). The drivers' own log lines are left
# out: psycopg, for one, warns when the server ends a connection in the middle of a pipeline.


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and r.name.startswith("sacredx")]


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records
            if r.levelno >= logging.ERROR and r.name.startswith("sacredx")]


def _assert_result_kept(run: Any, memory: MemoryObserver) -> None:
    assert run.status == "COMPLETED" and run.result == RESULT
    mem = _memory_record(memory)
    assert mem.status == "COMPLETED" and mem.result == RESULT
    assert list(mem.metrics["loss"]["steps"]) == _expected_loss()["steps"]


def _assert_one_failure_warning(caplog: pytest.LogCaptureFixture, observer: str) -> None:
    """The failure is reported once, when it happens, saying the record may be incomplete."""
    warnings_ = _warnings(caplog)
    failure = [w for w in warnings_ if w.startswith(f"An error occurred in the '{observer}' observer")]
    assert len(failure) == 1 and "may be incomplete" in failure[0], warnings_
    assert len(warnings_) == 1, warnings_
    assert not _errors(caplog)


# -------------------------------------------------------------------------------------------------------
# PostgreSQL
# -------------------------------------------------------------------------------------------------------


def test_postgres_restart_with_queue_observer_loses_no_event(
    own_pg: PgServer, caplog: pytest.LogCaptureFixture
) -> None:
    from pytest_sacredx.observers.sql import SqlObserver

    caplog.set_level(logging.INFO)
    sql = SqlObserver(own_pg.url)
    deliveries = Deliveries(sql)
    memory = MemoryObserver()
    queued = QueueObserver(sql, interval=0.05, retry_interval=0.2, max_retries=300)

    run = _run_with_outage([memory, queued], own_pg.stop, own_pg.start, lambda: bool(deliveries.failures))
    assert own_pg.stops == 1
    _assert_result_kept(run, memory)
    record = SqlObserver(own_pg.url).load_run(run._id)
    _assert_every_event_arrived(deliveries, memory, record)
    queue_warnings = [w for w in _warnings(caplog) if w.startswith("QueueObserver")]
    assert len(queue_warnings) == 1 and "retrying" in queue_warnings[0], queue_warnings
    assert len(_warnings(caplog)) == 1, _warnings(caplog)  # the run itself saw no failure
    assert not _errors(caplog)
    print(f"PostgreSQL outage with QueueObserver: run took {run.elapsed:.1f} s, "
          f"{len(deliveries.failures)} failed attempt(s), {len(deliveries.delivered)} events delivered")


def test_postgres_gone_for_good_queue_gives_up_and_dumps_the_rest(
    own_pg: PgServer, caplog: pytest.LogCaptureFixture, tmp_path: Any
) -> None:
    """The server never comes back: after ``max_retries`` failed attempts of one event the queue stops
    trying, writes every event it could not deliver (the end of the run included) as JSON into
    ``failure_dir``, and the run ends with its result; the store keeps what arrived before."""
    import json

    from pytest_sacredx.observers.sql import SqlObserver

    caplog.set_level(logging.INFO)
    sql = SqlObserver(own_pg.url)
    deliveries = Deliveries(sql)
    memory = MemoryObserver()
    queued = QueueObserver(sql, interval=0.05, retry_interval=0.05, max_retries=3,
                           failure_dir=tmp_path / "dump")
    run = _run_with_outage([memory, queued], own_pg.stop, lambda: None, lambda: bool(deliveries.failures))
    _assert_result_kept(run, memory)
    (dump_file,) = (tmp_path / "dump").iterdir()
    dump = json.loads(dump_file.read_text())
    names = [e["event"] for e in dump["events"]]
    assert names[-2:] == ["completed_event", "join"] and "heartbeat_event" in names
    completed = dump["events"][-2]
    assert RESULT in completed["args"] or completed["kwargs"].get("result") == RESULT, completed
    assert str(dump["run_id"]) == str(run._id)
    delivered = [n for n, _ in deliveries.delivered]
    assert "completed_event" not in delivered and delivered  # what came before the outage did arrive
    queue_warnings = [w for w in _warnings(caplog) if w.startswith("QueueObserver")]
    assert len(queue_warnings) == 2 and "gave up" in queue_warnings[1], queue_warnings
    assert str(dump_file) in queue_warnings[1]
    assert not _errors(caplog)
    own_pg.start()  # the events before the outage are in the database
    record = SqlObserver(own_pg.url).load_run(run._id)
    assert record.status == "RUNNING"
    steps = list(record.metrics["loss"]["steps"])
    assert steps == list(range(len(steps))) and len(steps) <= OUTAGE_FROM


def test_postgres_restart_without_queue_keeps_the_result(
    own_pg: PgServer, caplog: pytest.LogCaptureFixture
) -> None:
    from pytest_sacredx.observers.sql import SqlObserver

    caplog.set_level(logging.INFO)
    sql = SqlObserver(own_pg.url)
    deliveries = Deliveries(sql)
    memory = MemoryObserver()
    run = _run_with_outage([memory, sql], own_pg.stop, own_pg.start, lambda: bool(deliveries.failures))
    _assert_result_kept(run, memory)
    _assert_one_failure_warning(caplog, "SqlObserver")
    assert deliveries.failures and "OperationalError" in deliveries.failures[0][1]
    # The run skips a failed observer until its terminal event, which reaches the restarted server
    # through the same (stale) connection pool: the record ends COMPLETED with the result.
    record = SqlObserver(own_pg.url).load_run(run._id)
    assert record.status == "COMPLETED" and record.result == RESULT
    steps = list(record.metrics["loss"]["steps"])
    assert steps == list(range(len(steps))) and len(steps) <= OUTAGE_FROM
    print(f"PostgreSQL outage without a queue: run took {run.elapsed:.1f} s")


# -------------------------------------------------------------------------------------------------------
# S3 (moto)
# -------------------------------------------------------------------------------------------------------


def _s3_observer(server: MotoServer, bucket: str) -> Any:
    from botocore.config import Config

    from pytest_sacredx.observers.s3_observer import S3Observer

    fast = Config(connect_timeout=S3_TIMEOUT_S, read_timeout=S3_TIMEOUT_S, retries={"total_max_attempts": 1})
    return S3Observer(bucket, "runs", region="us-east-1", endpoint_url=server.url,
                      client_config=fast)


def test_s3_hang_with_queue_observer_loses_no_event(
    own_moto: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    s3 = _s3_observer(own_moto, "outage-queued")
    deliveries = Deliveries(s3)
    memory = MemoryObserver()
    queued = QueueObserver(s3, interval=0.05, retry_interval=0.2, max_retries=300)
    run = _run_with_outage([memory, queued], own_moto.pause, own_moto.resume,
                           lambda: bool(deliveries.failures))
    assert own_moto.pauses == 1
    _assert_result_kept(run, memory)
    record = _s3_observer(own_moto, "outage-queued").load_run(run._id)
    _assert_every_event_arrived(deliveries, memory, record)
    queue_warnings = [w for w in _warnings(caplog) if w.startswith("QueueObserver")]
    assert len(queue_warnings) == 1 and "retrying" in queue_warnings[0], queue_warnings
    assert len(_warnings(caplog)) == 1, _warnings(caplog)
    assert not _errors(caplog)
    print(f"S3 outage with QueueObserver: run took {run.elapsed:.1f} s, "
          f"{len(deliveries.failures)} failed attempt(s), {len(deliveries.delivered)} events delivered")


def test_s3_hang_without_queue_keeps_the_result(
    own_moto: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    s3 = _s3_observer(own_moto, "outage-direct")
    deliveries = Deliveries(s3)
    memory = MemoryObserver()
    run = _run_with_outage([memory, s3], own_moto.pause, own_moto.resume, lambda: bool(deliveries.failures))
    _assert_result_kept(run, memory)
    _assert_one_failure_warning(caplog, "S3Observer")
    assert deliveries.failures and "timeout" in deliveries.failures[0][1].lower()
    record = _s3_observer(own_moto, "outage-direct").load_run(run._id)
    assert record.status == "COMPLETED" and record.result == RESULT
    steps = list(record.metrics["loss"]["steps"])
    assert steps == list(range(len(steps))) and len(steps) <= OUTAGE_FROM
    print(f"S3 outage without a queue: run took {run.elapsed:.1f} s")
