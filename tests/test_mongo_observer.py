"""MongoObserver against a real server (nx-27017's wire protocol, or a real MongoDB) and mongomock.

Server: ``SACREDX_MONGO_URL`` (a real MongoDB) wins over ``SACREDX_MONGO_WIRE_URL`` (the nx-27017 wire
server that ``.ci/services.sh`` starts). Test ids carry the server kind (``[nx-27017]``/``[mongodb]``) and
the terminal summary names the server. Without a reachable server the service tests skip, or fail when
``SACREDX_SERVICES_REQUIRED=1``. Exact stored types (BSON dates, ints) are checked with mongomock too,
because the wire server has known type gaps (README, "Tests and servers").

The outage tests kill a server, so they start their own nx-27017 (free port, on-disk database file) and
need only the ``nx-27017`` executable; they run against it whatever the environment names.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

pymongo = pytest.importorskip("pymongo")
import gridfs  # noqa: E402
from pymongo.errors import AutoReconnect  # noqa: E402

from pytest_sacredx.errors import (  # noqa: E402
    ObserverError,
    ObserverURIError,
    RunIdExistsError,
    SacredxError,
)
from pytest_sacredx.observers.mongo import (  # noqa: E402
    DEFAULT_MONGO_PRIORITY,
    MongoCollectionNameError,
    MongoConfigError,
    MongoConnectionError,
    MongoObserver,
    QueuedMongoObserver,
    force_bson_encodeable,
    parse_mongo_db_arg,
)
from pytest_sacredx.observers.queue import QueueObserver  # noqa: E402
from pytest_sacredx.observers.record import RunRecord  # noqa: E402

T0 = dt.datetime(2024, 5, 1, 12, 0, 0, 123000)


def _t(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


# -------------------------------------------------------------------------------------------------------
# which server
# -------------------------------------------------------------------------------------------------------


def _server_from_env() -> tuple[str, str | None]:
    real = os.environ.get("SACREDX_MONGO_URL")
    if real:
        return "mongodb", real
    wire = os.environ.get("SACREDX_MONGO_WIRE_URL")
    if wire:
        return "nx-27017", wire
    return "no-server", None


SERVER_KIND, SERVER_URL = _server_from_env()
_SERVER_LABEL = {"mongodb": "a real MongoDB", "nx-27017": "the nx-27017 wire server"}


class _ServerSummary:
    """Prints, at the end of the session, which MongoDB server the service tests ran against."""

    def __init__(self, line: str) -> None:
        self.line = line

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.write_line(self.line)


def _unavailable(reason: str) -> None:
    message = (
        f"MongoDB service tests: {reason}. Start the servers with "
        "`source .ci/services.sh && services_start` (sets SACREDX_MONGO_WIRE_URL), or set "
        "SACREDX_MONGO_URL to a real MongoDB."
    )
    if os.environ.get("SACREDX_SERVICES_REQUIRED") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session", params=[pytest.param(SERVER_URL, id=SERVER_KIND)])
def mongo_url(request: pytest.FixtureRequest) -> str:
    """The URL of the MongoDB server for this session (see the module docstring)."""
    url = request.param
    if url is None:
        _unavailable("neither SACREDX_MONGO_URL nor SACREDX_MONGO_WIRE_URL is set")
    from pytest_sacredx.observers.redact import redact_url

    client = pymongo.MongoClient(url, serverSelectionTimeoutMS=2000)
    try:
        client.admin.command("ping")
    except pymongo.errors.PyMongoError as exc:
        _unavailable(f"{SERVER_KIND} at {redact_url(url)} does not answer ({type(exc).__name__})")
    finally:
        client.close()
    line = f"MongoDB tests ran against: {_SERVER_LABEL[SERVER_KIND]} at {redact_url(url)}"
    name = "sacredx-mongo-server-summary"
    if not request.config.pluginmanager.has_plugin(name):
        request.config.pluginmanager.register(_ServerSummary(line), name)
    print(line)
    return url


@pytest.fixture
def db_name() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"sacredx_{worker}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def observer(mongo_url: str, db_name: str) -> Iterator[MongoObserver]:
    obs = MongoObserver(url=mongo_url, db_name=db_name)
    yield obs
    obs.client.drop_database(db_name)
    obs.client.close()


@pytest.fixture
def mock_db() -> Any:
    mongomock = pytest.importorskip("mongomock")
    pytest.importorskip("mongomock.gridfs").enable_gridfs_integration()
    return mongomock.MongoClient()["sacred"]


@pytest.fixture
def mock_observer(mock_db: Any) -> MongoObserver:
    return MongoObserver.create_from(mock_db["runs"], gridfs.GridFS(mock_db))


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def at(self, level: int) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno == level]


@pytest.fixture
def mongo_log() -> Iterator[_ListHandler]:
    """Records of the observers' loggers (independent of who configured logging)."""
    handler = _ListHandler()
    loggers = [logging.getLogger("sacredx.observers.mongo"),
               logging.getLogger("sacredx.observers.queue")]
    old = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield handler
    for lg, level in zip(loggers, old, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


# -------------------------------------------------------------------------------------------------------
# a run's events
# -------------------------------------------------------------------------------------------------------


@pytest.fixture
def experiment_dir(tmp_path: Any) -> dict[str, Any]:
    base = tmp_path / "exp"
    base.mkdir()
    (base / "train.py").write_text("print('train')\n")
    (base / "util.py").write_text("X = 1\n")
    (base / "data.csv").write_text("a,b\n1,2\n")
    (base / "plot.png").write_bytes(b"\x89PNG fake")
    import hashlib

    def md5(name: str) -> str:
        return hashlib.md5((base / name).read_bytes()).hexdigest()

    ex_info = {
        "name": "demo",
        "base_dir": str(base),
        "sources": [("train.py", md5("train.py")), ("util.py", md5("util.py"))],
        "dependencies": ["numpy==1.26.0"],
        "repositories": [],
        "mainfile": "train.py",
    }
    return {"base": base, "ex_info": ex_info, "md5": md5}


HOST = {"hostname": "box", "os": ["Linux", "Linux-6"], "python_version": "3.11.7", "cpu": "x", "ENV": {}}
META = {"command": "main", "options": {"--mongo_db": "mongodb://alice:s3cret@h:27017/x"},
        "named_configs": [], "config_updates": {"lr": 0.5}}


def start(obs: Any, exp: dict[str, Any], _id: Any = None, config: dict[str, Any] | None = None) -> Any:
    return obs.started_event(exp["ex_info"], "main", HOST, T0, config or {"lr": 0.5, "layers": (2, 3)},
                             META, _id)


def metrics(name: str, steps: list[int], start_s: float = 0) -> dict[str, dict[str, Any]]:
    return {name: {"name": name, "steps": steps, "values": [s / 10 for s in steps],
                   "timestamps": [_t(start_s + i) for i in range(len(steps))]}}


def full_run(obs: Any, exp: dict[str, Any]) -> Any:
    """started → heartbeat → metrics → artifact → resource → more metrics → final beat → completed."""
    run_id = start(obs, exp)
    info: dict[str, Any] = {}
    obs.heartbeat_event(info, "epoch 0\n", _t(1), None)
    obs.log_metrics({**metrics("loss", [0, 1]), **metrics("acc", [0])}, info)
    obs.heartbeat_event(info, "epoch 0\nepoch 1\n", _t(2), None)
    obs.artifact_event("plot.png", str(exp["base"] / "plot.png"), {"dpi": 72})
    obs.resource_event(str(exp["base"] / "data.csv"))
    obs.log_metrics(metrics("loss", [2, 3], 5), info)
    obs.heartbeat_event(info, "epoch 0\nepoch 1\ndone\n", _t(3), 0.93)
    obs.completed_event(_t(4), 0.93)
    obs.join()
    return run_id


SACRED_RUN_KEYS = {
    "_id", "experiment", "format", "command", "host", "start_time", "config", "meta", "status",
    "resources", "artifacts", "captured_out", "info", "heartbeat", "result", "stop_time",
}


# -------------------------------------------------------------------------------------------------------
# against the server
# -------------------------------------------------------------------------------------------------------


@pytest.mark.service
def test_full_run_round_trips(observer: MongoObserver, experiment_dir: dict[str, Any]) -> None:
    run_id = full_run(observer, experiment_dir)
    assert run_id == 1
    doc = observer.runs.find_one({"_id": 1})
    assert SACRED_RUN_KEYS <= set(doc)
    assert doc["format"] == "MongoObserver-0.7.0"
    assert doc["status"] == "COMPLETED"
    assert doc["result"] == 0.93
    assert doc["config"] == {"lr": 0.5, "layers": {"py/tuple": [2, 3]}}  # Sacred's flatten form
    assert doc["captured_out"] == "epoch 0\nepoch 1\ndone\n"
    assert doc["meta"]["options"]["--mongo_db"] == "mongodb://alice:***@h:27017/x"  # no secrets stored
    assert isinstance(doc["start_time"], dt.datetime) and doc["stop_time"] == _t(4)
    assert doc["heartbeat"] == _t(3)

    # sources: [relative name, GridFS id], content readable
    sources = doc["experiment"]["sources"]
    assert [s[0] for s in sources] == ["train.py", "util.py"]
    assert observer.fs.get(sources[0][1]).read() == b"print('train')\n"

    # artifacts: [{name, file_id}], GridFS filename artifact://<collection>/<id>/<name>
    (artifact,) = doc["artifacts"]
    assert artifact["name"] == "plot.png"
    stored = observer.fs.get(artifact["file_id"])
    assert stored.read() == b"\x89PNG fake"
    assert stored.filename == "artifact://runs/1/plot.png"
    assert stored.metadata == {"dpi": 72}

    # resources: [[filename, md5]] and uploaded to GridFS
    csv = str(experiment_dir["base"] / "data.csv")
    assert doc["resources"] == [[csv, experiment_dir["md5"]("data.csv")]]
    assert observer.fs.find_one({"filename": csv}).read() == b"a,b\n1,2\n"

    # metrics documents, listed on the run
    loss = observer.metrics.find_one({"run_id": 1, "name": "loss"})
    assert loss["steps"] == [0, 1, 2, 3] and loss["values"] == [0.0, 0.1, 0.2, 0.3]
    assert loss["timestamps"][0] == _t(0)
    assert {(m["name"], m["id"]) for m in doc["info"]["metrics"]} == {
        ("loss", str(loss["_id"])),
        ("acc", str(observer.metrics.find_one({"name": "acc"})["_id"])),
    }

    # reader
    record = observer.load_run("1")
    assert isinstance(record, RunRecord)
    assert (record.id, record.status, record.result) == ("1", "COMPLETED", 0.93)
    assert record.metrics["loss"]["values"] == [0.0, 0.1, 0.2, 0.3]
    assert record.final_metrics() == {"loss": 0.3, "acc": 0.0}
    assert record.artifacts == ["plot.png"] and record.start_time == T0
    assert record.experiment_name == "demo"
    assert record.store.startswith("mongodb://") and record.store.endswith(f"/{observer.runs.database.name}.runs")
    assert record.effective_status() == "COMPLETED"


@pytest.mark.service
def test_ids_are_integers_from_one_and_sources_are_deduplicated(
    observer: MongoObserver, experiment_dir: dict[str, Any]
) -> None:
    ids = []
    for _ in range(3):
        ids.append(start(observer, experiment_dir))
        observer.completed_event(_t(1), None)
    assert ids == [1, 2, 3]
    files = list(observer.fs.find({"filename": str(experiment_dir["base"] / "train.py")}))
    assert len(files) == 1  # same (filename, md5): stored once
    assert [r.id for r in observer.list_runs()] == ["1", "2", "3"]
    with pytest.raises(KeyError):
        observer.load_run(99)


@pytest.mark.service
def test_ids_keep_counting_past_ten(observer: MongoObserver, experiment_dir: dict[str, Any]) -> None:
    # ids must be compared as numbers, not as text ("9" > "10")
    observer.runs.insert_many([{"_id": i, "status": "COMPLETED"} for i in range(1, 12)])
    observer.runs.insert_one({"_id": "custom", "status": "COMPLETED"})
    assert start(observer, experiment_dir) == 12
    observer.completed_event(_t(1), None)


@pytest.mark.service
def test_failed_run(observer: MongoObserver, experiment_dir: dict[str, Any]) -> None:
    start(observer, experiment_dir)
    observer.heartbeat_event({}, "boom\n", _t(1), None)
    observer.failed_event(_t(2), ["Traceback (most recent call last):\n", "ValueError: boom\n"])
    doc = observer.runs.find_one({"_id": 1})
    assert doc["status"] == "FAILED"
    assert doc["fail_trace"] == ["Traceback (most recent call last):\n", "ValueError: boom\n"]
    assert doc["stop_time"] == _t(2)
    assert observer.load_run(1).fail_trace == doc["fail_trace"]


@pytest.mark.service
@pytest.mark.parametrize("status", ["INTERRUPTED", "TIMEOUT"])
def test_interrupted_run(observer: MongoObserver, experiment_dir: dict[str, Any], status: str) -> None:
    start(observer, experiment_dir)
    observer.interrupted_event(_t(2), status)
    doc = observer.runs.find_one({"_id": 1})
    assert (doc["status"], doc["stop_time"]) == (status, _t(2))


@pytest.mark.service
def test_requested_id_and_overwrite(observer: MongoObserver, experiment_dir: dict[str, Any]) -> None:
    assert start(observer, experiment_dir, _id=41) == 41
    observer.completed_event(_t(1), "first")
    again = MongoObserver(url=SERVER_URL, db_name=observer.runs.database.name, overwrite=41)
    assert start(again, experiment_dir, config={"lr": 0.1}) == 41
    again.completed_event(_t(2), "second")
    assert observer.runs.count_documents({}) == 1
    doc = observer.runs.find_one({"_id": 41})
    assert (doc["result"], doc["config"]) == ("second", {"lr": 0.1})
    missing = MongoObserver(url=SERVER_URL, db_name=observer.runs.database.name, overwrite=7)
    with pytest.raises(ObserverError, match="Cannot overwrite run 7"):
        start(missing, experiment_dir)


@pytest.mark.service
def test_unencodable_values_are_stored_anyway(observer: MongoObserver,
                                              experiment_dir: dict[str, Any]) -> None:
    start(observer, experiment_dir, config={"big": 2**70, "obj": object()})
    observer.completed_event(_t(1), {"huge": 2**80})
    doc = observer.runs.find_one({"_id": 1})
    assert doc["config"]["big"] == str(2**70)
    assert doc["config"]["obj"].startswith("<object object")
    assert doc["result"] == {"huge": str(2**80)}


@pytest.mark.service
def test_captured_out_keeps_the_tail(observer: MongoObserver, experiment_dir: dict[str, Any]) -> None:
    observer.captured_out_limit = 1000
    start(observer, experiment_dir)
    text = "".join(f"line {i}\n" for i in range(1000))
    observer.heartbeat_event({}, text, _t(1), None)
    observer.completed_event(_t(2), None)
    out = observer.runs.find_one({"_id": 1})["captured_out"]
    assert out.endswith("line 999\n")
    assert out.startswith("[sacredx: ") and "MongoObserver keeps the last 1000 bytes" in out
    assert len(out.split("\n", 1)[1].encode()) <= 1000


@pytest.mark.service
def test_collection_prefix(mongo_url: str, db_name: str, experiment_dir: dict[str, Any]) -> None:
    obs = MongoObserver(url=mongo_url, db_name=db_name, collection_prefix="exp1")
    try:
        start(obs, experiment_dir)
        obs.log_metrics(metrics("loss", [0]), {})
        obs.artifact_event("plot.png", str(experiment_dir["base"] / "plot.png"))
        obs.completed_event(_t(1), None)
        db = obs.client[db_name]
        assert db["exp1_runs"].count_documents({}) == 1
        assert db["exp1_metrics"].count_documents({}) == 1
        assert obs.fs.find_one({"filename": "artifact://exp1_runs/1/plot.png"}) is not None
    finally:
        obs.client.drop_database(db_name)


@pytest.mark.service
def test_queued_event(observer: MongoObserver, experiment_dir: dict[str, Any]) -> None:
    # the run puts the queue time into meta before the event, as Sacred's does; the store keeps meta
    meta = {**META, "queue_time": T0}
    run_id = observer.queued_event(experiment_dir["ex_info"], "main", HOST, T0, {"a": 1}, meta, None)
    doc = observer.runs.find_one({"_id": run_id})
    # Sacred's queued document: the queue time in meta, no start time
    assert (doc["status"], doc["meta"]["queue_time"]) == ("QUEUED", T0)
    assert "start_time" not in doc
    assert observer.load_run(run_id).queue_time == T0


@pytest.mark.service
def test_non_finite_floats(observer: MongoObserver, experiment_dir: dict[str, Any],
                           mongo_log: _ListHandler) -> None:
    """A real MongoDB stores NaN and ±inf as BSON doubles. nx-27017 keeps documents as SQLite JSON,
    which has neither: it refuses them on insert and, on a replace, stores them as text that makes every
    later query on that collection fail ("malformed JSON"). There they are stored as strings."""
    nan, inf = float("nan"), float("inf")
    start(observer, experiment_dir, config={"lr": nan})
    info: dict[str, Any] = {}
    observer.log_metrics(metrics("loss", [0]), info)  # the metric document exists: the next is a replace
    observer.log_metrics({"loss": {"steps": [1], "values": [nan], "timestamps": [_t(1)]}}, info)
    observer.heartbeat_event(info, "", _t(1), inf)
    observer.completed_event(_t(2), -inf)
    assert observer.metrics.count_documents({"run_id": 1}) == 1  # a query on a field still works
    record = observer.load_run(1)
    warnings = [r.getMessage() for r in mongo_log.at(logging.WARNING)]
    if SERVER_KIND == "nx-27017":
        assert (record.config, record.result) == ({"lr": "nan"}, "-inf")
        assert record.metrics["loss"]["values"] == [0.0, "nan"]
        (warning,) = warnings  # one per run, for the run and its metric documents together
        assert "cannot hold NaN or infinite floats" in warning
    else:
        assert math.isnan(record.config["lr"]) and record.result == -inf
        assert record.metrics["loss"]["values"][0] == 0.0
        assert math.isnan(record.metrics["loss"]["values"][1])
        assert warnings == []


@pytest.mark.service
def test_requested_id_that_exists(observer: MongoObserver, experiment_dir: dict[str, Any]) -> None:
    start(observer, experiment_dir, _id="chosen")
    observer.completed_event(_t(1), "first")
    with pytest.raises(RunIdExistsError, match="'chosen' already exists") as info:
        start(observer, experiment_dir, _id="chosen")
    assert isinstance(info.value, FileExistsError)
    assert observer.load_run("chosen").result == "first"
    assert start(observer, experiment_dir) == 1  # string ids stay out of the numbering


def test_unreachable_server_fails_fast_with_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once we leave: nobody listens there
    obs = MongoObserver(url=f"mongodb://alice:s3cret@127.0.0.1:{port}", serverSelectionTimeoutMS=300)
    began = time.monotonic()
    with pytest.raises(MongoConnectionError) as info:
        obs.started_event({"name": "x", "base_dir": "", "sources": []}, "main", {}, T0, {}, {}, None)
    assert time.monotonic() - began < 5
    message = str(info.value)
    assert "\n" not in message and "s3cret" not in message
    assert f"mongodb://alice:***@127.0.0.1:{port}/sacred.runs" in message
    assert "services_start" in message and "serverSelectionTimeoutMS" in message
    assert isinstance(info.value, ConnectionError) and isinstance(info.value, SacredxError)


def test_default_server_selection_timeout_is_short() -> None:
    obs = MongoObserver(url="mongodb://127.0.0.1:1")
    assert obs.client.options.server_selection_timeout == 5.0
    obs.client.close()
    obs = MongoObserver(url="mongodb://127.0.0.1:1", serverSelectionTimeoutMS=1234)
    assert obs.client.options.server_selection_timeout == 1.234
    obs.client.close()


# -------------------------------------------------------------------------------------------------------
# exact stored types (mongomock), failure handling
# -------------------------------------------------------------------------------------------------------


def test_stored_types_are_bson_native(
    mock_db: Any, mock_observer: MongoObserver, experiment_dir: dict[str, Any]
) -> None:
    from bson import ObjectId

    run_id = full_run(mock_observer, experiment_dir)
    doc = mock_observer.runs.find_one({"_id": run_id})
    assert type(doc["_id"]) is int
    for key in ("start_time", "heartbeat", "stop_time"):
        assert type(doc[key]) is dt.datetime, key
    assert type(doc["experiment"]["sources"][0][1]) is ObjectId
    assert type(doc["artifacts"][0]["file_id"]) is ObjectId
    assert doc["config"]["layers"] == {"py/tuple": [2, 3]}
    loss = mock_observer.metrics.find_one({"name": "loss"})
    assert type(loss["_id"]) is ObjectId and loss["run_id"] == 1
    assert all(type(t) is dt.datetime for t in loss["timestamps"])
    assert all(type(s) is int for s in loss["steps"])
    art = mock_db["fs.files"].find_one({"filename": "artifact://runs/1/plot.png"})
    assert art["contentType"] == "image/png" and art["metadata"] == {"dpi": 72}
    assert mock_observer.load_run(1).metrics["loss"]["steps"] == [0, 1, 2, 3]


def test_log_metrics_adds_metric_ids_to_info(mock_observer: MongoObserver,
                                             experiment_dir: dict[str, Any]) -> None:
    start(mock_observer, experiment_dir)
    info: dict[str, Any] = {"custom": 1}
    mock_observer.log_metrics(metrics("loss", [0]), info)
    doc_id = str(mock_observer.metrics.find_one({"name": "loss"})["_id"])
    assert info["metrics"] == [{"name": "loss", "id": doc_id}]
    mock_observer.heartbeat_event(info, "", _t(1), None)
    assert mock_observer.runs.find_one({"_id": 1})["info"] == {
        "custom": 1, "metrics": [{"name": "loss", "id": doc_id}]
    }


def test_reader_gives_the_users_info_and_plain_ints(mock_db: Any, mock_observer: MongoObserver,
                                                    experiment_dir: dict[str, Any]) -> None:
    from bson import Int64

    start(mock_observer, experiment_dir, config={"big": 2**40})
    info: dict[str, Any] = {"custom": 1}
    mock_observer.log_metrics(metrics("loss", [0]), info)
    mock_observer.heartbeat_event(info, "", _t(1), None)
    mock_observer.completed_event(_t(2), None)
    mock_db["runs"].update_one({"_id": 1}, {"$set": {"config.big": Int64(2**40), "result": Int64(7)}})
    record = mock_observer.load_run(1)
    assert record.info == {"custom": 1}  # Sacred's info.metrics index stays in the document only
    assert "metrics" in mock_db["runs"].find_one({"_id": 1})["info"]
    assert type(record.config["big"]) is int and type(record.result) is int
    assert record.metrics["loss"]["steps"] == [0]


def test_bson_unencodable_values_and_keys(mock_db: Any, mock_observer: MongoObserver,
                                          experiment_dir: dict[str, Any], mongo_log: _ListHandler) -> None:
    start(mock_observer, experiment_dir, config={"a\x00b": 1, "a.b": 2, "big": 2**70, "x": float("nan")})
    mock_observer.completed_event(_t(1), None)
    config = mock_db["runs"].find_one({"_id": 1})["config"]
    # only what BSON cannot encode changes: NUL in keys (C strings), ints beyond 64 bits
    assert set(config) == {"a\ufffdb", "a.b", "big", "x"}
    assert config["big"] == str(2**70) and math.isnan(config["x"])
    (warning,) = mongo_log.at(logging.WARNING)
    assert "BSON cannot encode" in warning.getMessage()


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return False


class RefusingCollection:
    """A collection proxy whose writes, like nx-27017's inserts, refuse documents holding NaN/inf."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.attempts: list[bool] = []  # per write: did the document hold a non-finite float?

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name in ("insert_one", "replace_one"):
            def write(*args: Any, **kwargs: Any) -> Any:
                refused = _has_non_finite(args[0] if name == "insert_one" else args[1])
                self.attempts.append(refused)
                if refused:
                    raise pymongo.errors.WriteError("Invalid JSON document", 8, {})
                return attr(*args, **kwargs)
            return write
        return attr


def test_refused_non_finite_floats_are_stored_as_strings(
    mock_db: Any, experiment_dir: dict[str, Any], mongo_log: _ListHandler
) -> None:
    runs = RefusingCollection(mock_db["runs"])
    obs = MongoObserver.create_from(runs, gridfs.GridFS(mock_db))
    start(obs, experiment_dir, config={"lr": float("nan")})
    obs.heartbeat_event({}, "", _t(1), float("inf"))
    obs.completed_event(_t(2), float("-inf"))
    doc = mock_db["runs"].find_one({"_id": 1})
    assert (doc["config"], doc["result"], doc["status"]) == ({"lr": "nan"}, "-inf", "COMPLETED")
    # refused once, written converted; then converted up front (heartbeat, completed): no more refusals
    assert runs.attempts == [True, False, False, False]
    (warning,) = mongo_log.at(logging.WARNING)
    assert "refused it (Invalid JSON document" in warning.getMessage()


def test_nonfinite_support_is_probed_not_guessed_from_the_name() -> None:
    """The observer stores NaN/±inf in a probe document and reads it back; the server's name plays no part."""
    mongomock = pytest.importorskip("mongomock")
    from pytest_sacredx.observers.mongo_probe import keeps_nonfinite

    real_like = mongomock.MongoClient().db.metrics  # keeps floats as they are, like mongod
    assert keeps_nonfinite(real_like)
    assert real_like.count_documents({}) == 0  # the probe is deleted again

    class Refusing:  # what a JSON-backed server (nx-27017) does with NaN on insert
        def insert_one(self, doc: Any) -> None:
            raise pymongo.errors.WriteError("Invalid JSON document", code=2)

    assert not keeps_nonfinite(Refusing())

    class Textual:  # stores them, but gives back text
        def __init__(self) -> None:
            self.doc: Any = None

        def insert_one(self, doc: Any) -> None:
            self.doc = {**doc, "sacredx_probe": ["nan", "inf", "-inf"]}

        def find_one(self, query: Any) -> Any:
            return self.doc

        def delete_one(self, query: Any) -> None:
            self.doc = None

    assert not keeps_nonfinite(Textual())


@pytest.mark.service
def test_the_wire_server_is_probed_as_refusing_nonfinite(observer: MongoObserver) -> None:
    from pytest_sacredx.observers.mongo_probe import keeps_nonfinite

    on_wire_server = not os.environ.get("SACREDX_MONGO_URL")
    assert keeps_nonfinite(observer.metrics) is not on_wire_server
    assert observer.metrics.count_documents({"sacredx_probe": {"$exists": True}}) == 0


class FlakyCollection:
    """A collection proxy whose writes raise AutoReconnect while ``down`` is set."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.down = False
        self.write_attempts = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name in ("insert_one", "replace_one", "update_one"):
            def write(*args: Any, **kwargs: Any) -> Any:
                self.write_attempts += 1
                if self.down:
                    raise AutoReconnect("connection refused (test)")
                return attr(*args, **kwargs)
            return write
        return attr


def _flaky_observer(mock_db: Any, tmp_path: Any) -> tuple[MongoObserver, FlakyCollection, FlakyCollection]:
    runs, mets = FlakyCollection(mock_db["runs"]), FlakyCollection(mock_db["metrics"])
    obs = MongoObserver.create_from(runs, gridfs.GridFS(mock_db), metrics_collection=mets,
                                    failure_dir=tmp_path / "failed")
    obs.retry_delay = 0
    return obs, runs, mets


def test_outage_logs_one_warning_and_loses_nothing(
    mock_db: Any, tmp_path: Any, experiment_dir: dict[str, Any], mongo_log: _ListHandler
) -> None:
    obs, runs, mets = _flaky_observer(mock_db, tmp_path)
    start(obs, experiment_dir)
    info: dict[str, Any] = {}
    runs.down = mets.down = True
    obs.heartbeat_event(info, "a\n", _t(1), None)
    obs.log_metrics(metrics("loss", [0, 1]), info)
    obs.heartbeat_event(info, "a\nb\n", _t(2), None)
    assert len(mongo_log.at(logging.WARNING)) == 1
    assert "lost the connection" in mongo_log.at(logging.WARNING)[0].getMessage()
    runs.down = mets.down = False
    obs.log_metrics(metrics("loss", [2], 3), info)
    obs.completed_event(_t(3), 1)
    doc = mock_db["runs"].find_one({"_id": 1})
    assert (doc["status"], doc["captured_out"], doc["heartbeat"]) == ("COMPLETED", "a\nb\n", _t(2))
    assert mock_db["metrics"].find_one({"name": "loss"})["steps"] == [0, 1, 2]
    assert len(mongo_log.at(logging.WARNING)) == 1 and not mongo_log.at(logging.ERROR)


def test_final_save_retries_then_dumps_json(
    mock_db: Any, tmp_path: Any, experiment_dir: dict[str, Any], mongo_log: _ListHandler
) -> None:
    obs, runs, mets = _flaky_observer(mock_db, tmp_path)
    start(obs, experiment_dir)
    obs.log_metrics(metrics("loss", [0]), {})
    runs.down = True
    before = runs.write_attempts
    obs.completed_event(_t(5), {"acc": 0.5})
    assert runs.write_attempts - before == 10  # completed: 10 attempts
    (dump,) = (tmp_path / "failed").iterdir()
    assert dump.name.startswith("sacred_mongo_fail_1_") and dump.suffix == ".json"
    data = json.loads(dump.read_text())
    assert data["run"]["status"] == "COMPLETED" and data["run"]["result"] == {"acc": 0.5}
    assert data["run"]["stop_time"] == _t(5).isoformat()
    assert data["metrics"][0]["name"] == "loss"
    (error,) = mongo_log.at(logging.ERROR)
    assert str(dump) in error.getMessage()


@pytest.mark.parametrize(("event", "attempts"), [("interrupted", 3), ("failed", 1)])
def test_final_save_attempts(mock_db: Any, tmp_path: Any, experiment_dir: dict[str, Any],
                             event: str, attempts: int) -> None:
    obs, runs, _ = _flaky_observer(mock_db, tmp_path)
    start(obs, experiment_dir)
    runs.down = True
    before = runs.write_attempts
    if event == "interrupted":
        obs.interrupted_event(_t(1), "INTERRUPTED")
    else:
        obs.failed_event(_t(1), ["trace"])
    assert runs.write_attempts - before == attempts
    assert len(list((tmp_path / "failed").iterdir())) == 1


def test_raise_mode_propagates_and_is_idempotent(mock_db: Any, tmp_path: Any,
                                                  experiment_dir: dict[str, Any]) -> None:
    obs, runs, mets = _flaky_observer(mock_db, tmp_path)
    obs.on_error = "raise"
    start(obs, experiment_dir)
    mets.down = True
    with pytest.raises(AutoReconnect):
        obs.log_metrics(metrics("loss", [0, 1]), {})
    mets.down = False
    obs.log_metrics(metrics("loss", [0, 1]), {})  # the retry of the same event
    assert mock_db["metrics"].find_one({"name": "loss"})["steps"] == [0, 1]


def test_artifact_during_outage_is_uploaded_later(mock_db: Any, tmp_path: Any,
                                                  experiment_dir: dict[str, Any]) -> None:
    obs, runs, _ = _flaky_observer(mock_db, tmp_path)
    start(obs, experiment_dir)
    path = experiment_dir["base"] / "plot.png"

    def failing_put(*args: Any, **kwargs: Any) -> Any:
        raise AutoReconnect("down")

    real_put = obs.fs.put
    obs.fs.put = failing_put
    obs.artifact_event("plot.png", str(path))
    path.unlink()  # temporary artifacts may be gone by the time the server is back
    obs.fs.put = real_put
    obs.completed_event(_t(1), None)
    doc = mock_db["runs"].find_one({"_id": 1})
    assert obs.fs.get(doc["artifacts"][0]["file_id"]).read() == b"\x89PNG fake"


# -------------------------------------------------------------------------------------------------------
# construction, grammar, helpers
# -------------------------------------------------------------------------------------------------------


def test_constructor_validation(mock_db: Any) -> None:
    with pytest.raises(ValueError, match="must be a pymongo.MongoClient") as info:
        MongoObserver(client=object())
    assert isinstance(info.value, MongoConfigError)
    client = pymongo.MongoClient("mongodb://127.0.0.1:1", connect=False)
    with pytest.raises(ValueError, match="both a client and a url"):
        MongoObserver(url="mongodb://127.0.0.1:1", client=client)
    obs = MongoObserver(client=client, db_name="d")
    assert obs.runs.full_name == "d.runs" and obs.client is client
    for reserved in ("fs.files", "fs.chunks", "_properties", "system.indexes", "search_space"):
        with pytest.raises(KeyError) as key_info, pytest.warns(DeprecationWarning):
            MongoObserver(url="mongodb://127.0.0.1:1", collection=reserved)
        assert isinstance(key_info.value, MongoCollectionNameError)
        assert reserved in str(key_info.value)
    with pytest.raises(ValueError, match="collection and collection_prefix"):
        MongoObserver(url="mongodb://127.0.0.1:1", collection="x", collection_prefix="y")
    with pytest.warns(DeprecationWarning, match="collection_prefix"):
        obs = MongoObserver(url="mongodb://127.0.0.1:1", collection="old")
    assert (obs.runs.name, obs.metrics.name) == ("old", "metrics")
    with pytest.warns(DeprecationWarning, match="create"):
        assert isinstance(MongoObserver.create(url="mongodb://127.0.0.1:1"), MongoObserver)
    with pytest.raises(ObserverURIError, match="Invalid MongoDB URL"):
        MongoObserver(url="mongodb://h:99999")
    client.close()


def test_attributes_priority_equality(mock_db: Any) -> None:
    a = MongoObserver.create_from(mock_db["runs"], gridfs.GridFS(mock_db))
    b = MongoObserver.create_from(mock_db["runs"], gridfs.GridFS(mock_db), priority=5)
    assert a.priority == DEFAULT_MONGO_PRIORITY == 30 and b.priority == 5
    assert a == b and a != MongoObserver.create_from(mock_db["other"], gridfs.GridFS(mock_db))
    assert a.VERSION == "MongoObserver-0.7.0"
    assert a.metrics.name == "metrics" and isinstance(a.fs, gridfs.GridFS)


def test_queued_mongo_observer() -> None:
    q = QueuedMongoObserver(interval=1.5, retry_interval=0.5, url="mongodb://127.0.0.1:1", db_name="z")
    assert isinstance(q, QueueObserver)
    covered = q._covered_observer
    assert isinstance(covered, MongoObserver) and covered.on_error == "raise"
    assert (q.interval, q.retry_interval, q.priority) == (1.5, 0.5, 30)
    assert q.runs.full_name == "z.runs"  # delegated


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("mydb", {"db_name": "mydb"}),
        ("mydb!50", {"db_name": "mydb", "priority": 50}),
        ("mydb.coll", {"db_name": "mydb", "collection": "coll"}),
        ("mydb.coll:12", {"db_name": "mydb", "collection": "coll", "overwrite": 12}),
        ("localhost:27017", {"url": "localhost:27017"}),
        ("127.0.0.1:27017", {"url": "127.0.0.1:27017"}),
        ("db.example.com:27017", {"url": "db.example.com:27017"}),
        ("localhost:27017:mydb", {"url": "localhost:27017", "db_name": "mydb"}),
        ("h:1:mydb.c:3!-2", {"url": "h:1", "db_name": "mydb", "collection": "c", "overwrite": 3,
                             "priority": -2}),
        ("mongodb://u:p@h:1/exps", {"url": "mongodb://u:p@h:1/exps", "db_name": "exps"}),
        ("mongodb+srv://cluster.x.net", {"url": "mongodb+srv://cluster.x.net"}),
    ],
)
def test_parse_mongo_db_arg(spec: str, expected: dict[str, Any]) -> None:
    assert parse_mongo_db_arg(spec) == expected


@pytest.mark.parametrize("spec", ["", "my db", "h:port:db", "db.c:x", "db!high", "a:b:c:d"])
def test_parse_mongo_db_arg_errors(spec: str) -> None:
    with pytest.raises(ValueError, match=r"Invalid MongoDB spec") as info:
        parse_mongo_db_arg(spec)
    assert isinstance(info.value, ObserverURIError) and "\n" not in str(info.value)


def test_force_bson_encodeable() -> None:
    import bson

    weird = {"a.b": {"$x": 1, "ok": [2**64, (1, 2), {3}]}, "obj": object(), "t": T0, "n": None,
             "nul\x00": 1}
    out = force_bson_encodeable(weird)
    bson.encode(out)
    assert out["a,b"]["@x"] == 1 and out["nul\ufffd"] == 1
    assert out["a,b"]["ok"] == [str(2**64), [1, 2], [3]]
    assert out["t"] == T0 and out["n"] is None and isinstance(out["obj"], str)


def test_importing_observers_does_not_import_pymongo() -> None:
    code = (
        "import sys, pytest_sacredx.observers as o\n"
        "assert 'pymongo' not in sys.modules, 'observers imported pymongo'\n"
        "o.QueueObserver; o.from_uri\n"
        "assert 'pymongo' not in sys.modules, 'queue/uri imported pymongo'\n"
        "o.MongoObserver\n"
        "assert 'pymongo' not in sys.modules, 'the mongo module imported pymongo at import'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_missing_pymongo_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymongo", None)
    with pytest.raises(ImportError, match=r"pip install 'pytest-sacredx\[mongo\]'"):
        MongoObserver(url="mongodb://h")


# -------------------------------------------------------------------------------------------------------
# many writers, a server that goes away
# -------------------------------------------------------------------------------------------------------

_WRITER = textwrap.dedent(
    """
    import datetime as dt, json, sys
    from pytest_sacredx.observers.mongo import MongoObserver
    url, db, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    obs = MongoObserver(url=url, db_name=db)
    ex = {"name": "c", "base_dir": "", "sources": [], "dependencies": []}
    ids = []
    for i in range(n):
        t = dt.datetime.utcnow()
        ids.append(obs.started_event(ex, "main", {}, t, {"i": i}, {}, None))
        obs.completed_event(t, i)
    print(json.dumps(ids))
    """
)


@pytest.mark.slow
@pytest.mark.service
def test_two_processes_share_one_database(mongo_url: str, db_name: str) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, mongo_url, db_name, "100"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    ids = [i for out, _ in outputs for i in json.loads(out)]
    client = pymongo.MongoClient(mongo_url, serverSelectionTimeoutMS=2000)
    try:
        assert len(ids) == 200 and sorted(ids) == list(range(1, 201))
        stored = sorted(d["_id"] for d in client[db_name]["runs"].find({}, {"_id": 1}))
        assert stored == list(range(1, 201))
        assert client[db_name]["runs"].count_documents({"status": "COMPLETED"}) == 200
    finally:
        client.drop_database(db_name)
        client.close()


class NxServer:
    """An nx-27017 server of this test's own, on a free port, over an on-disk database file."""

    def __init__(self, tmp_path: Any) -> None:
        self.exe = shutil.which("nx-27017")
        self.dir = tmp_path
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.exe is not None
        self.proc = subprocess.Popen(
            [self.exe, "--host", "127.0.0.1", "-p", str(self.port), "--db", str(self.dir / "nx.db"),
             "--log-file", str(self.dir / "nx.log"), "--pid-file", str(self.dir / "nx.pid")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(f"nx-27017 did not start on port {self.port}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def own_server(tmp_path: Any) -> Iterator[NxServer]:
    server = NxServer(tmp_path)
    if server.exe is None:
        _unavailable("the nx-27017 executable is not installed (pip install nx-27017)")
    server.start()
    yield server
    server.kill()


def _wait_until(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def _run_through_an_outage(obs: Any, server: NxServer, exp: dict[str, Any]) -> None:
    """Events before, during (server killed) and after (restarted on the same file) an outage."""
    start(obs, exp)
    info: dict[str, Any] = {}
    obs.heartbeat_event(info, "1\n", _t(1), None)
    obs.log_metrics(metrics("loss", [0]), info)
    server.kill()
    obs.heartbeat_event(info, "1\n2\n", _t(2), None)
    obs.log_metrics(metrics("loss", [1, 2], 1), info)
    obs.artifact_event("plot.png", str(exp["base"] / "plot.png"))
    obs.resource_event(str(exp["base"] / "data.csv"))
    obs.heartbeat_event(info, "1\n2\n3\n", _t(3), None)
    time.sleep(2.0)
    server.start()
    obs.log_metrics(metrics("loss", [3], 3), info)
    obs.heartbeat_event(info, "1\n2\n3\n4\n", _t(4), 0.5)
    obs.completed_event(_t(5), 0.5)
    obs.join()


def _assert_complete(url: str) -> None:
    client = pymongo.MongoClient(url, serverSelectionTimeoutMS=5000)
    try:
        db = client["outage"]
        doc = db["runs"].find_one({"_id": 1})
        assert doc["status"] == "COMPLETED" and doc["result"] == 0.5
        assert doc["captured_out"] == "1\n2\n3\n4\n" and doc["heartbeat"] == _t(4)
        assert [a["name"] for a in doc["artifacts"]] == ["plot.png"]
        assert len(doc["resources"]) == 1
        assert db["metrics"].find_one({"name": "loss"})["steps"] == [0, 1, 2, 3]
        fs = gridfs.GridFS(db)
        assert fs.get(doc["artifacts"][0]["file_id"]).read() == b"\x89PNG fake"
    finally:
        client.close()


@pytest.mark.slow
@pytest.mark.service
def test_queue_observer_survives_a_server_restart(
    own_server: NxServer, experiment_dir: dict[str, Any], mongo_log: _ListHandler
) -> None:
    mongo = MongoObserver(url=own_server.url, db_name="outage", serverSelectionTimeoutMS=300)
    queued = QueueObserver(mongo, interval=0.05, retry_interval=0.1, max_retries=600)
    done = threading.Event()

    def scenario() -> None:
        _run_through_an_outage(queued, own_server, experiment_dir)
        done.set()

    worker = threading.Thread(target=scenario, daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert done.is_set(), "the queue did not drain within 120 s"
    _assert_complete(own_server.url)
    assert not mongo_log.at(logging.ERROR)
    queue_warnings = [r for r in mongo_log.at(logging.WARNING) if r.name.endswith("queue")]
    assert len(queue_warnings) == 1 and "retrying" in queue_warnings[0].getMessage()


@pytest.mark.slow
@pytest.mark.service
def test_queue_retries_a_start_while_the_server_is_down(
    own_server: NxServer, experiment_dir: dict[str, Any], mongo_log: _ListHandler
) -> None:
    """A run that starts while the server is down (after the observer had connected) starts once it is
    back: the queue tries the start again instead of failing the run."""
    mongo = MongoObserver(url=own_server.url, db_name="outage", serverSelectionTimeoutMS=300)
    queued = QueueObserver(mongo, interval=0.05, retry_interval=0.1, start_retries=600)
    assert start(queued, experiment_dir) == 1
    queued.completed_event(_t(1), 1)
    own_server.kill()

    def start_failed() -> bool:
        return any("started_event failed" in r.getMessage() for r in mongo_log.at(logging.WARNING))

    box: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: box.update(id=start(queued, experiment_dir)), daemon=True)
    worker.start()
    assert _wait_until(start_failed, 60), "the start never met the outage"
    own_server.start()
    worker.join(timeout=60)
    assert box.get("id") == 2, box
    queued.completed_event(_t(2), 2)
    client = pymongo.MongoClient(own_server.url, serverSelectionTimeoutMS=5000)
    try:
        runs = client["outage"]["runs"]
        assert [(d["_id"], d["status"], d["result"]) for d in runs.find({}).sort("_id")] == [
            (1, "COMPLETED", 1), (2, "COMPLETED", 2)]
    finally:
        client.close()
    assert not mongo_log.at(logging.ERROR)


@pytest.mark.slow
@pytest.mark.service
def test_without_queue_an_outage_logs_one_warning(
    own_server: NxServer, experiment_dir: dict[str, Any], mongo_log: _ListHandler
) -> None:
    mongo = MongoObserver(url=own_server.url, db_name="outage", serverSelectionTimeoutMS=300)
    mongo.retry_delay = 0.5
    began = time.monotonic()
    _run_through_an_outage(mongo, own_server, experiment_dir)  # nothing raises
    assert time.monotonic() - began < 60
    warnings_ = mongo_log.at(logging.WARNING)
    assert len(warnings_) == 1 and "lost the connection" in warnings_[0].getMessage()
    assert not mongo_log.at(logging.ERROR)
    # whole-document writes: what the outage held back is in the store once the server is back
    _assert_complete(own_server.url)


@pytest.mark.service
def test_ids_restart_from_one_after_the_runs_are_deleted(
    observer: MongoObserver, experiment_dir: dict[str, Any]
) -> None:
    for expected in (1, 2):
        assert start(observer, experiment_dir) == expected
        observer.completed_event(_t(1), None)
    observer.runs.delete_many({})
    assert start(observer, experiment_dir) == 1  # max + 1, not "our last + 1"
    observer.completed_event(_t(1), None)
    other = MongoObserver(url=SERVER_URL, db_name=observer.runs.database.name)
    assert start(other, experiment_dir) == 2
    other.completed_event(_t(1), None)
    assert start(observer, experiment_dir) == 3  # the other writer's run is skipped on a clash
    observer.completed_event(_t(1), None)


def test_a_string_fail_trace_is_stored_as_that_string(mock_observer: MongoObserver) -> None:
    """A trace handed over as one string stays one string (not a list of its characters)."""
    ex_info = {"name": "x", "base_dir": "", "sources": [], "dependencies": []}
    mock_observer.started_event(ex_info, "main", {}, T0, {}, {}, None)
    mock_observer.failed_event(T0, "lots of errors and\nso\non...")
    assert mock_observer.runs.find_one()["fail_trace"] == "lots of errors and\nso\non..."
    assert mock_observer.load_run(1).fail_trace == ["lots of errors and\n", "so\n", "on..."]


def test_queue_tries_a_lost_mongo_connection_at_start_again(
    mock_db: Any, mongo_log: _ListHandler
) -> None:
    """A start that meets a lost connection (pymongo's AutoReconnect) is tried again by the queue;
    the run is stored once, and the queue equals a MongoObserver over the same collection."""
    runs = mock_db["runs"]
    inserts = {"n": 0}
    real_insert = runs.insert_one

    def flaky_insert(doc: Any, *args: Any, **kwargs: Any) -> Any:
        inserts["n"] += 1
        if inserts["n"] <= 2:
            raise AutoReconnect("connection lost")
        return real_insert(doc, *args, **kwargs)

    runs.insert_one = flaky_insert  # type: ignore[method-assign]
    queued = QueueObserver(MongoObserver.create_from(runs, gridfs.GridFS(mock_db)),
                           interval=0.01, retry_interval=0.001)
    ex_info = {"name": "x", "base_dir": "", "sources": [], "dependencies": []}
    assert queued.started_event(ex_info, "main", {}, T0, {}, {}, "A") == "A"
    queued.completed_event(T0, 1)
    assert inserts["n"] == 3 and runs.count_documents({}) == 1
    assert any("started_event failed (AutoReconnect" in r.getMessage()
               for r in mongo_log.at(logging.WARNING))
    assert queued == MongoObserver.create_from(runs, gridfs.GridFS(mock_db))
