"""The store contract: every store records the same event sequences and reads them back as one RunRecord.

Each entry of ``STORE_FACTORIES`` builds ``(observer, reader)`` for a fresh folder; the ``store`` fixture
runs every test against each. To put a new backend under the contract, append one factory (a function
``(tmp_path) -> Store`` that calls ``pytest.skip`` when its package or service is unavailable), or a
``pytest.param(factory, marks=pytest.mark.service)``. The factory's name minus ``_store`` is the test id,
and ``Store.name`` must be the scheme of the records' ``store`` URI.

``play_run`` plays a run's whole event sequence (as the run engine sends it, see ``observers/base.py``)
with the payloads given, so these tests do not depend on the engine.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_sacredx.observers.base import RunObserver
from pytest_sacredx.observers.record import RunReader, RunRecord
from pytest_sacredx.serialize import to_jsonable

# Milliseconds: the precision every store keeps (BSON dates, and so MongoDB, hold no microseconds).
T0 = dt.datetime(2024, 5, 1, 12, 0, 0, 123000)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@attrs.frozen
class Store:
    observer: RunObserver
    reader: RunReader
    name: str


# -- the factories: one per backend ------------------------------------------------------------------


def memory_store(tmp_path: Path) -> Store:
    from pytest_sacredx.observers.memory import MemoryObserver

    obs = MemoryObserver()
    return Store(obs, obs, "memory")


def file_store(tmp_path: Path) -> Store:
    from pytest_sacredx.observers.file_storage import FileStorageObserver, FileStorageReader

    basedir = tmp_path / "file_runs"
    return Store(FileStorageObserver(basedir), FileStorageReader(basedir), "file")


def tinydb_store(tmp_path: Path) -> Store:
    from pytest_sacredx.observers.tinydb_hashfs import TinyDbObserver, TinyDbReader

    root = tmp_path / "tinydb_runs"
    root.mkdir()
    return Store(TinyDbObserver(root), TinyDbReader(root), "tinydb")


def sqlite_store(tmp_path: Path) -> Store:
    pytest.importorskip("sqlalchemy")
    from pytest_sacredx.observers.sql import SqlObserver

    obs = SqlObserver(f"sqlite:///{tmp_path / 'sql_runs.db'}")
    return Store(obs, obs, "sqlite")


def postgres_store(tmp_path: Path) -> Store:
    from service_fixtures import new_pg_database_url

    from pytest_sacredx.observers.sql import SqlObserver

    obs = SqlObserver(new_pg_database_url())  # a fresh database, dropped at exit
    return Store(obs, obs, "postgresql+psycopg")


def s3_store(tmp_path: Path) -> Store:
    from service_fixtures import new_s3_location

    from pytest_sacredx.observers.s3_observer import S3Observer

    endpoint, bucket = new_s3_location()  # moto's server and a fresh bucket name
    obs = S3Observer(bucket, "runs", region="us-east-1", endpoint_url=endpoint)
    return Store(obs, obs, "s3")


def mongo_store(tmp_path: Path) -> Store:
    pytest.importorskip("pymongo")
    from service_fixtures import _service_url, _unique

    from pytest_sacredx.observers.mongo import MongoObserver

    # A real MongoDB when SACREDX_MONGO_URL is set, else the wire-protocol server CI starts.
    url = os.environ.get("SACREDX_MONGO_URL") or _service_url(
        "SACREDX_MONGO_WIRE_URL", "MongoDB wire server (nx-27017)", 27017
    )
    obs = MongoObserver(url=url, db_name=_unique("sacredx_contract"))
    return Store(obs, obs, "mongodb")


def on_mongo_wire_server(store: Store) -> bool:
    """The mongo store runs against the nx-27017 wire server rather than a real MongoDB."""
    return store.name == "mongodb" and not os.environ.get("SACREDX_MONGO_URL")


def as_stored(store: Store, value: Any) -> Any:
    """``value`` (already JSON-ready) as ``store`` gives it back: itself, except for two limits.

    - MongoDB (any server): BSON field names are C strings, so pymongo refuses a NUL in a key; the
      observer stores it as U+FFFD.
    - The nx-27017 wire server (not a real MongoDB, which stores NaN and ±inf as BSON doubles): it
      keeps documents as SQLite JSON, which has no NaN or Infinity, and refuses them; the observer
      stores them as ``str(value)`` (``"nan"``, ``"inf"``, ``"-inf"``).
    """
    if store.name != "mongodb":
        return value
    nonfinite_as_str = on_mongo_wire_server(store)

    def convert(v: Any) -> Any:
        if isinstance(v, dict):
            return {k.replace("\x00", "\ufffd"): convert(x) for k, x in v.items()}
        if isinstance(v, list):
            return [convert(x) for x in v]
        if nonfinite_as_str and isinstance(v, float) and not math.isfinite(v):
            return str(v)
        return v

    return convert(value)


STORE_FACTORIES: list[Any] = [
    memory_store,
    file_store,
    tinydb_store,
    sqlite_store,
    pytest.param(postgres_store, marks=pytest.mark.service),
    pytest.param(s3_store, marks=pytest.mark.service),
    pytest.param(mongo_store, marks=pytest.mark.service),
]


def _factory_id(factory: Callable[[Path], Store]) -> str:
    return factory.__name__.removesuffix("_store")


@pytest.fixture(params=STORE_FACTORIES, ids=_factory_id)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return request.param(tmp_path)


# -- playing runs ------------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A source file, an artifact and a resource to hand to the events."""
    d = tmp_path / "inputs"
    d.mkdir()
    paths = {"source": d / "exp.py", "artifact": d / "model.txt", "resource": d / "data.csv"}
    paths["source"].write_text("print('hi')\n")
    paths["artifact"].write_text("weights\n")
    paths["resource"].write_text("a,b\n1,2\n")
    return paths


def ex_info(files: dict[str, Path] | None = None, name: str = "demo") -> dict[str, Any]:
    base = str(files["source"].parent) if files else "/nonexistent"
    return {
        "name": name,
        "base_dir": base,
        "sources": [("exp.py", "0" * 32)] if files else [],
        "dependencies": ["numpy==1.26.0", "pytest-sacredx==0.1.0"],
        "repositories": [],
        "mainfile": "exp.py",
    }


HOST = {
    "hostname": "box",
    "os": ["Linux", "Linux-6"],
    "python_version": "3.11.7",
    "cpu": "x",
    "ENV": {},
}
META = {
    "command": "main",
    "options": {"--seed": 7},
    "named_configs": [],
    "config_updates": {"lr": 0.1},
}


def play_run(
    observer: RunObserver,
    *,
    config: dict[str, Any] | None = None,
    result: Any = 0.5,
    end: str = "completed",
    info: dict[str, Any] | None = None,
    outputs: tuple[str, ...] = ("hello\n", "hello\nworld\n"),
    metrics: tuple[dict[str, dict[str, Any]], ...] = (),
    artifacts: tuple[tuple[str, Path], ...] = (),
    resources: tuple[Path, ...] = (),
    experiment: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
    _id: Any = None,
    start: float = 0.0,
) -> Any:
    """Send the events of one run; ``end`` is ``completed``, ``failed``, ``interrupted:<STATUS>``,
    ``queued`` (queued_event only) or ``killed`` (no final event, no join)."""
    experiment = experiment if experiment is not None else ex_info()
    config = {"lr": 0.1, "layers": [1, 2]} if config is None else config
    meta = META if meta is None else meta
    if end == "queued":
        # as the run does (and Sacred's): the queue time travels in meta
        meta = {**meta, "queue_time": at(start)}
        return observer.queued_event(experiment, "main", HOST, at(start), config, meta, _id)
    run_id = observer.started_event(experiment, "main", HOST, at(start), config, meta, _id)
    info = {"epoch": 1} if info is None else info
    beat = start
    for i, out in enumerate(outputs):
        beat += 1
        if i < len(metrics):
            observer.log_metrics(metrics[i], info)
        observer.heartbeat_event(info, out, at(beat), None)
        if i == 0:
            for name, path in artifacts:
                observer.artifact_event(name, str(path))
            for path in resources:
                observer.resource_event(str(path))
    for m in metrics[len(outputs) :]:
        observer.log_metrics(m, info)
    if end == "killed":
        return run_id
    observer.heartbeat_event(info, outputs[-1] if outputs else "", at(beat + 1), result)
    if end == "completed":
        observer.completed_event(at(beat + 2), result)
    elif end == "failed":
        observer.failed_event(
            at(beat + 2), ["Traceback (most recent call last):\n", "ValueError: x\n"]
        )
    elif end.startswith("interrupted:"):
        observer.interrupted_event(at(beat + 2), end.split(":", 1)[1])
    observer.join()
    return run_id


def metric(name: str, steps: list[int], values: list[Any], t: float) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "name": name,
            "steps": steps,
            "values": values,
            "timestamps": [at(t + s) for s in steps],
        }
    }


def only_run(store: Store) -> RunRecord:
    runs = list(store.reader.list_runs())
    assert len(runs) == 1
    return runs[0]


def same(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)


# -- the contract ------------------------------------------------------------------------------------


def test_full_run_round_trips(store: Store, files: dict[str, Path]) -> None:
    run_id = play_run(
        store.observer,
        config={"lr": 0.1, "nested": {"depth": 3, "name": "x"}, "seeds": [1, 2]},
        result={"acc": 0.93},
        info={"epoch": 2, "note": "ok"},
        outputs=("step 1\n", "step 1\nstep 2\n", "step 1\nstep 2\ndone\n"),
        metrics=(
            metric("loss", [0, 1], [0.9, 0.7], 0),
            {**metric("loss", [2], [0.5], 0), **metric("acc", [2], [0.8], 0)},
            metric("loss", [3], [0.4], 0),
        ),
        artifacts=(("model.txt", files["artifact"]),),
        resources=(files["resource"],),
        experiment=ex_info(files),
    )
    # Ids are strings, except MongoDB's and S3's, which are Sacred's integers there (Omniboard relies
    # on MongoDB's).
    assert isinstance(run_id, int if store.name in ("mongodb", "s3") else str)
    rec = only_run(store)
    assert rec.id == str(run_id)
    assert rec.status == "COMPLETED"
    assert rec.experiment_name == "demo"
    assert rec.experiment["dependencies"] == ["numpy==1.26.0", "pytest-sacredx==0.1.0"]
    assert [s[0] for s in rec.experiment["sources"]] == ["exp.py"]
    assert rec.command == "main"
    assert rec.config == {"lr": 0.1, "nested": {"depth": 3, "name": "x"}, "seeds": [1, 2]}
    assert rec.result == {"acc": 0.93}
    assert rec.info == {"epoch": 2, "note": "ok"}
    assert rec.meta == META
    assert rec.host == HOST
    assert rec.captured_out == "step 1\nstep 2\ndone\n"
    assert rec.start_time == T0
    assert rec.heartbeat == at(4) and rec.stop_time == at(5)
    assert rec.final_metrics() == {"loss": 0.4, "acc": 0.8}
    assert rec.metrics["loss"]["steps"] == [0, 1, 2, 3]
    assert rec.metrics["loss"]["values"] == [0.9, 0.7, 0.5, 0.4]
    assert rec.metrics["loss"]["timestamps"] == [at(0), at(1), at(2), at(3)]
    assert rec.artifacts == ["model.txt"]
    assert [r[0] for r in rec.resources] == [str(files["resource"])]
    assert rec.fail_trace is None
    assert rec.effective_status() == "COMPLETED"
    assert store.reader.load_run(run_id) == rec


def test_failed_run(store: Store) -> None:
    run_id = play_run(store.observer, end="failed", result=None)
    rec = store.reader.load_run(run_id)
    assert rec.status == "FAILED"
    assert rec.fail_trace == ["Traceback (most recent call last):\n", "ValueError: x\n"]
    assert rec.stop_time == at(4)


@pytest.mark.parametrize("status", ["INTERRUPTED", "TIMEOUT"])
def test_interrupted_run(store: Store, status: str) -> None:
    run_id = play_run(store.observer, end=f"interrupted:{status}")
    rec = store.reader.load_run(run_id)
    assert rec.status == status
    assert rec.stop_time == at(4)


def test_queued_run(store: Store) -> None:
    run_id = play_run(store.observer, end="queued", config={"lr": 0.3})
    rec = store.reader.load_run(run_id)
    assert rec.status == "QUEUED"
    assert rec.experiment_name == "demo"
    assert rec.config == {"lr": 0.3}
    # Sacred keeps the queue time in meta; every store does, and every record has it as a datetime
    assert rec.meta == {**META, "queue_time": T0} and rec.command == "main"
    assert rec.queue_time == T0 and rec.start_time is None


def test_killed_run_stays_running_with_last_heartbeat(store: Store) -> None:
    run_id = play_run(store.observer, end="killed", outputs=("a\n", "a\nb\n"))
    rec = store.reader.load_run(run_id)
    assert rec.status == "RUNNING"
    assert rec.heartbeat == at(2)
    assert rec.captured_out == "a\nb\n"
    assert rec.effective_status(now=at(2) + dt.timedelta(hours=1)) == "DEAD"


def test_output_rewritten_by_filter(store: Store) -> None:
    # a progress bar filtered with backspaces/\r changes text written earlier
    run_id = play_run(
        store.observer, outputs=("progress 10%", "progress 100%\n", "progress 100%\nok\n")
    )
    assert store.reader.load_run(run_id).captured_out == "progress 100%\nok\n"


def test_unserializable_values_come_back_as_documented(store: Store) -> None:
    np = pytest.importorskip("numpy")
    marker = object()
    value = {
        "obj": marker,
        "array": np.arange(3),
        "scalar": np.float64(1.5),
        "tuple": (1, (2, 3)),
        "nan": float("nan"),
        "inf": float("inf"),
        "set": {3, 1},
        "date": dt.date(2024, 1, 2),
        3: "int key",
    }
    run_id = play_run(
        store.observer, config=value, result=(marker, np.array([[1.0, 2.0]])), info={"v": value}
    )
    rec = store.reader.load_run(run_id)
    assert same(rec.config, as_stored(store, to_jsonable(value)))
    assert same(rec.info, as_stored(store, {"v": to_jsonable(value)}))
    assert rec.result == [repr(marker), [[1.0, 2.0]]]
    assert rec.status == "COMPLETED"
    (listed,) = [r for r in store.reader.list_runs() if r.id == str(run_id)]  # the lazy listing path
    assert same(listed.config, rec.config) and same(listed.info, rec.info) and listed.result == rec.result


def test_ids_are_unique_strings_and_runs_list_in_order(store: Store) -> None:
    ids = [play_run(store.observer, config={"i": i}, start=i) for i in range(5)]
    # MongoDB's and S3's ids are Sacred's integers (see test_full_run_round_trips); records carry them
    # as text.
    assert all(isinstance(i, int if store.name in ("mongodb", "s3") else str) for i in ids)
    assert len(set(ids)) == 5
    runs = list(store.reader.list_runs())
    assert [r.id for r in runs] == [str(i) for i in ids]
    assert [r.config["i"] for r in runs] == list(range(5))


def test_requested_id_is_used_once(store: Store) -> None:
    assert play_run(store.observer, _id="chosen") == "chosen"
    assert store.reader.load_run("chosen").status == "COMPLETED"
    with pytest.raises(FileExistsError, match="chosen"):
        play_run(store.observer, _id="chosen")
    other = play_run(store.observer)
    assert other != "chosen"
    assert {r.id for r in store.reader.list_runs()} == {"chosen", str(other)}  # Mongo: int `other`


def test_unknown_run_is_a_key_error(store: Store) -> None:
    play_run(store.observer)
    with pytest.raises(KeyError):
        store.reader.load_run("no-such-run")


def test_empty_store_lists_nothing(store: Store) -> None:
    assert list(store.reader.list_runs()) == []


def test_record_store_names_the_backend(store: Store) -> None:
    play_run(store.observer)
    rec = only_run(store)
    assert rec.store.split(":", 1)[0] == store.name


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    config=st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=5),
    result=json_values,
)
def test_json_values_round_trip_exactly(store: Store, config: dict[str, Any], result: Any) -> None:
    # one store for all examples: each example is one more run in it
    run_id = play_run(store.observer, config=config, result=result)
    rec = store.reader.load_run(run_id)
    assert same(rec.config, as_stored(store, config))
    assert same(rec.result, as_stored(store, result))


def test_a_text_key_that_looks_like_a_jsonpickle_key_reads_back_as_written(store: Store) -> None:
    """jsonpickle writes a key that is not text as ``json://<JSON>``; a text key starting so is escaped
    (``json://"json://1"``), as jsonpickle escapes it, instead of reading back as ``"1"``."""
    config = {"json://1": 1, "json://": 2, "json://x": 3}
    rec = store.reader.load_run(play_run(store.observer, config=config, result={"json://1": 4}))
    assert same(rec.config, as_stored(store, config))
    assert same(rec.result, as_stored(store, {"json://1": 4}))


def test_many_runs_through_one_observer_keep_separate_state(store: Store) -> None:
    first = play_run(store.observer, outputs=("one\n",), metrics=(metric("m", [0], [1.0], 0),))
    second = play_run(store.observer, outputs=("two\n",), metrics=(metric("m", [0], [2.0], 0),))
    a, b = store.reader.load_run(first), store.reader.load_run(second)
    assert (a.captured_out, b.captured_out) == ("one\n", "two\n")
    assert (a.metrics["m"]["values"], b.metrics["m"]["values"]) == ([1.0], [2.0])


def test_reader_sees_runs_written_after_it_was_opened(store: Store) -> None:
    assert list(store.reader.list_runs()) == []
    run_id = play_run(store.observer, end="killed")
    assert store.reader.load_run(run_id).status == "RUNNING"
    store.observer.completed_event(at(9), 1)
    assert store.reader.load_run(run_id).status == "COMPLETED"


def test_observer_module_imports_stay_lazy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, pytest_sacredx.observers as o; o.FileStorageObserver; o.MemoryObserver; "
        "print('tinydb' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    assert out.stdout.strip() == "False"


# -- text that is not UTF-8 and NumPy values --------------------------------------------------------

#: what os.listdir gives for a file name that is not UTF-8
ODD = os.fsdecode(b"data_\xff.csv")


def utf8_text(text: str) -> str:
    """The documented form where a store needs valid UTF-8: each undecodable byte as ``\\xNN``."""
    return text.replace("\udcff", "\\xff")


def odd_as_stored(store: Store, text: str) -> str:
    """MongoDB strings must be UTF-8: the bytes that are not are written as ``\\xNN`` escapes; JSON
    stores (and SQL's JSON columns) keep the text exactly."""
    return utf8_text(text) if store.name == "mongodb" else text


def test_text_that_is_not_utf8_is_kept(store: Store, tmp_path: Path) -> None:
    artifact = tmp_path / "out.bin"
    artifact.write_bytes(b"\x00\x01")
    run_id = play_run(
        store.observer,
        config={"path": ODD},
        result={"file": ODD},
        info={"seen": [ODD]},
        outputs=(f"reading {ODD}\n", f"reading {ODD}\ndone\n"),
        artifacts=((ODD, artifact),),
    )
    rec = store.reader.load_run(run_id)
    assert rec.status == "COMPLETED"
    assert rec.config == {"path": odd_as_stored(store, ODD)}
    assert rec.result == {"file": odd_as_stored(store, ODD)}
    assert rec.info == {"seen": [odd_as_stored(store, ODD)]}
    out = f"reading {ODD}\ndone\n"
    text_column = store.name in ("mongodb", "sqlite", "postgresql+psycopg")  # must be valid UTF-8
    assert rec.captured_out == (utf8_text(out) if text_column else out)
    assert rec.artifacts == [utf8_text(ODD) if text_column else ODD]


def test_numpy_values_are_read_back_as_plain_values(store: Store) -> None:
    np = pytest.importorskip("numpy")
    result = {"arr": np.arange(3), "f": np.float64(1.5), "i": np.int64(3), "t": (1, 2)}
    run_id = play_run(store.observer, result=result, info={"m": np.array([[1.0, 2.0]])})
    rec = store.reader.load_run(run_id)
    assert rec.result == {"arr": [0, 1, 2], "f": 1.5, "i": 3, "t": [1, 2]}
    assert rec.info == {"m": [[1.0, 2.0]]}
