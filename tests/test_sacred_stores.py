"""Stores Sacred 0.8.7 wrote open in our readers and in ``sacredx``, and take new runs from our observers.

The stores under ``tests/sacred_stores/`` were written by real Sacred 0.8.7 (``record.py`` there
re-records them; no Sacred is needed here): a FileStorage folder, a TinyDB folder, a SQLite file, and for
the servers JSON dumps of what Sacred wrote — ``mongo.json`` (its ``runs``/``metrics``/GridFS documents,
loaded here into the loopback MongoDB wire server) and ``postgresql.json`` (Sacred's ``CREATE TABLE``
statements for PostgreSQL and its rows, loaded here into the loopback PostgreSQL). Each holds run A
(COMPLETED; metrics, an artifact, a resource, a result holding a NumPy array) and run B (FAILED).

Appending keeps every old run as it was: the records read back are equal, and where the format allows it
the bytes are too (every file of FileStorage's old runs; the text of every old TinyDB document).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from pytest_sacredx import Experiment
from pytest_sacredx.observers.readers import open_reader
from pytest_sacredx.observers.record import RunRecord
from pytest_sacredx.observers.uri import from_uri

FIXTURES = Path(__file__).resolve().parent / "sacred_stores"
CONFIG_A = {"lr": 0.1, "layers": [64, 32], "opt": {"name": "sgd", "momentum": 0.9}, "fail": False}
LOSS = [1.0, 0.5, 1.0 / 3.0]


def copy_fixture(name: str, tmp_path: Path) -> Path:
    src, dst = FIXTURES / name, tmp_path / name
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy(src, dst)
    return dst


def load_mongo_dump(url: str) -> str:
    """Sacred's documents from ``mongo.json`` into a fresh database of the wire server; its URI."""
    import pymongo
    from bson import json_util

    dump = json_util.loads((FIXTURES / "mongo.json").read_text(encoding="utf-8"))
    name = f"sacredx_sacred_{uuid.uuid4().hex[:8]}"
    client: Any = pymongo.MongoClient(url)
    try:
        for collection, docs in dump["collections"].items():
            if docs:
                client[name][collection].insert_many(docs)
    finally:
        client.close()
    return f"{url.rstrip('/')}/{name}"


def drop_mongo(uri: str) -> None:
    import pymongo

    base, _, name = uri.rpartition("/")
    client: Any = pymongo.MongoClient(base)
    try:
        client.drop_database(name)
    finally:
        client.close()


def load_pg_dump(url: str) -> None:
    """Sacred's tables (its DDL for PostgreSQL) and rows from ``postgresql.json`` into an empty database.

    Sacred lets the database number every table but ``run`` (it picks ``run.id`` itself), so after
    loading, every sequence but ``run``'s is moved past the loaded ids, as Sacred's inserts leave them."""
    import sqlalchemy as sa

    dump = json.loads((FIXTURES / "postgresql.json").read_text(encoding="utf-8"))
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

    def value(v: Any) -> Any:
        if isinstance(v, dict) and "$bytes" in v:
            return bytes.fromhex(v["$bytes"])
        if isinstance(v, dict) and "$datetime" in v:
            return dt.datetime.fromisoformat(v["$datetime"])
        return v

    with engine.begin() as conn:
        for statement in dump["ddl"]:
            conn.execute(sa.text(statement))
        meta = sa.MetaData()
        meta.reflect(conn)
        order = [t.name for t in meta.sorted_tables]
        for table in order:
            rows = [{k: value(v) for k, v in row.items()} for row in dump["rows"].get(table, [])]
            if rows:
                conn.execute(meta.tables[table].insert(), rows)
            pk = list(meta.tables[table].primary_key.columns)
            if rows and table != "run" and len(pk) == 1:
                conn.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{pk[0].name}'), "
                    f"(SELECT MAX({pk[0].name}) FROM {table}))"
                ))
    engine.dispose()


@pytest.fixture(params=["file", "tinydb", "sqlite", "postgresql", "mongo"])
def sacred_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``(kind, URI)`` of a copy of a store Sacred 0.8.7 wrote (a server database for the last two)."""
    kind = request.param
    if kind == "file":
        yield kind, f"file:{copy_fixture('file_storage', tmp_path)}"
    elif kind == "tinydb":
        yield kind, f"tinydb:{copy_fixture('tinydb', tmp_path)}"
    elif kind == "sqlite":
        yield kind, f"sqlite:///{copy_fixture('sacred.sqlite', tmp_path)}"
    elif kind == "postgresql":
        url = request.getfixturevalue("fresh_pg_url")
        load_pg_dump(url)
        yield kind, url
    else:
        uri = load_mongo_dump(request.getfixturevalue("mongo_wire_url"))
        yield kind, uri
        drop_mongo(uri)


def read_all(uri: str) -> list[RunRecord]:
    reader = open_reader(uri)
    try:
        return list(reader.list_runs())
    finally:
        close = getattr(reader, "close", None)
        if callable(close):
            close()


def comparable(rec: RunRecord) -> dict[str, Any]:
    return attrs.asdict(rec)


def raw_rows(kind: str, uri: str) -> Any:
    """What the database holds for Sacred's runs, as stored (rows or documents), to compare exactly."""
    if kind in ("sqlite", "postgresql"):
        import sqlalchemy as sa

        engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
        sacred_columns = [
            "id", "run_id", "command", "start_time", "heartbeat", "stop_time", "queue_time", "priority",
            "comment", "fail_trace", "captured_out", "config", "info", "status", "host_id",
            "experiment_id", "result",
        ]
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                f"SELECT {', '.join(sacred_columns)} FROM run WHERE id <= 2 ORDER BY id"
            )).all()
            artifacts = conn.execute(sa.text(
                "SELECT artifact_id, filename, content, run_id FROM artifact ORDER BY artifact_id"
            )).all()
        engine.dispose()
        return [tuple(r) for r in rows], [tuple(a) for a in artifacts if a[3] in ("0", "2")]
    if kind == "mongo":
        import pymongo

        base, _, name = uri.rpartition("/")
        client: Any = pymongo.MongoClient(base)
        try:
            db = client[name]
            return (sorted(db.runs.find({"_id": {"$in": [1, 2]}}), key=lambda d: d["_id"]),
                    sorted(db.metrics.find({"run_id": {"$in": [1, 2]}}), key=lambda d: str(d["_id"])))
        finally:
            client.close()
    return None


def file_bytes(root: Path) -> dict[str, str]:
    """A digest of every file under ``root`` (or of ``root``, a file)."""
    if root.is_file():
        return {root.name: hashlib.sha1(root.read_bytes()).hexdigest()}
    return {
        str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.service
def test_sacreds_runs_read_back_as_sacred_wrote_them(sacred_store: tuple[str, str]) -> None:
    kind, uri = sacred_store
    local = Path(uri.split(":", 1)[1].removeprefix("///")) if kind in ("file", "tinydb", "sqlite") else None
    before = file_bytes(local) if local is not None else {}
    runs = read_all(uri)
    assert [r.status for r in runs] == ["COMPLETED", "FAILED"]
    a, b = runs
    assert a.experiment_name == b.experiment_name == "sacred_store"
    assert {k: a.config[k] for k in CONFIG_A} == CONFIG_A
    assert b.config["lr"] == 0.01 and b.config["fail"] is True
    assert isinstance(a.start_time, dt.datetime) and isinstance(a.stop_time, dt.datetime)
    assert a.start_time <= a.stop_time
    assert "training with lr 0.1" in a.captured_out
    assert b.fail_trace and "RuntimeError: boom" in "".join(b.fail_trace)
    assert a.artifacts == ["model.txt"]
    reader = open_reader(uri)
    assert reader.load_artifact(a.id, "model.txt") == b"weights\n"  # type: ignore[attr-defined]
    assert reader.load_run(a.id).config == a.config
    if kind == "sqlite" or kind == "postgresql":  # Sacred's SQL result column is a Float
        assert a.result == 0.875
    else:
        assert a.result["score"] == 0.875 and a.result["weights"] == [1.5, 2.5]
    if kind == "file" or kind == "mongo":  # Sacred's TinyDB and SQL observers drop metrics
        assert a.metrics["loss"]["values"] == pytest.approx(LOSS)
        assert a.metrics["loss"]["steps"] == [0, 1, 2]
        assert a.result["n"] == 3  # numpy.int64, which Sacred's TinyDB cannot store
    if kind in ("file", "tinydb"):
        assert [s[0] for s in a.experiment["sources"]] == [".record_inner.py"]
    if local is not None:
        assert file_bytes(local) == before  # reading wrote nothing


def our_run(uri: str) -> str:
    """Record one run of our own into the store at ``uri``; its id."""
    import numpy as np

    ex = Experiment("ours_after_sacred")

    @ex.config
    def cfg() -> None:
        lr = 0.5  # noqa: F841

    @ex.main
    def main(_run: Any, lr: float) -> Any:
        _run.log_scalar("loss", 0.25, 0)
        return {"score": 0.5, "weights": np.array([3.0, 4.0])}

    observer = from_uri(uri)
    assert observer is not None
    ex.observers.append(observer)
    run = ex.run()
    return str(run._id)


@pytest.mark.service
def test_our_observers_append_to_sacreds_stores_and_leave_its_runs_alone(
    sacred_store: tuple[str, str],
) -> None:
    kind, uri = sacred_store
    path = Path(uri.split(":", 1)[1].removeprefix("///"))
    before = read_all(uri)
    bytes_before = file_bytes(path) if kind == "file" else {}
    text_before = (path / "metadata.json").read_bytes() if kind == "tinydb" else b""
    rows_before = raw_rows(kind, uri)
    assert rows_before is None or all(rows_before)  # something of both runs to compare

    new_id = our_run(uri)

    after = read_all(uri)
    assert [comparable(r) for r in after[:2]] == [comparable(r) for r in before]
    new = after[2]
    assert (new.id, new.experiment_name, new.status) == (new_id, "ours_after_sacred", "COMPLETED")
    assert new.config["lr"] == 0.5 and new.result["weights"] == [3.0, 4.0]
    if kind in ("file", "sqlite", "postgresql", "mongo"):
        assert new_id == "3"  # ids continue after Sacred's (its SQL ids are 1 and 2 as keys)
    assert raw_rows(kind, uri) == rows_before  # SQL rows and Mongo documents of Sacred's runs, exactly
    if kind == "file":
        old = {k: v for k, v in file_bytes(path).items() if k in bytes_before}
        assert old == bytes_before  # every file of Sacred's runs, byte for byte
    if kind == "tinydb":
        text = (path / "metadata.json").read_bytes()
        assert text.startswith(text_before[: -len(b"}}")])  # Sacred's documents, byte for byte
        assert b'"{TinyDate}:' in text[len(text_before) :]  # the new run in Sacred's format too
        assert list(json.loads(text)["runs"]) == ["1", "2", "3"]  # document ids continue


@pytest.mark.service
@pytest.mark.parametrize("sacred_store", ["sqlite", "postgresql"], indirect=True)
def test_a_queued_run_fits_sacreds_sql_schema(sacred_store: tuple[str, str]) -> None:
    """Sacred's PostgreSQL ``status_enum`` has no QUEUED; the observer adds it before writing one."""
    _, uri = sacred_store
    observer: Any = from_uri(uri)
    ex_info = {"name": "queued_after_sacred", "base_dir": "/", "sources": [], "dependencies": []}
    when = dt.datetime(2024, 5, 1, 12, 0)
    run_id = observer.queued_event(ex_info, "main", {"hostname": "h"}, when, {"lr": 1}, {}, None)
    rec = open_reader(uri).load_run(run_id)
    assert (rec.status, rec.config, rec.queue_time) == ("QUEUED", {"lr": 1}, when)


@pytest.mark.service
def test_sacredx_runs_and_show_open_sacreds_stores(sacred_store: tuple[str, str]) -> None:
    kind, uri = sacred_store
    env = {**os.environ, "NO_COLOR": "1"}
    runs = subprocess.run(
        [sys.executable, "-m", "pytest_sacredx.cli.query", "runs", "--store", uri, "--format", "json"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert runs.returncode == 0, runs.stderr
    rows = json.loads(runs.stdout)
    assert [row["status"] for row in rows] == ["COMPLETED", "FAILED"]
    first = str(read_all(uri)[0].id)
    show = subprocess.run(
        [sys.executable, "-m", "pytest_sacredx.cli.query", "show", first, "--store", uri],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert show.returncode == 0, show.stderr
    assert "sacred_store" in show.stdout and "COMPLETED" in show.stdout
