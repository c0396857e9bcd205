"""TinyDB stores in Sacred 0.8.7's format: written by TinyDbObserver.create(path) / path= / create_from
with a hashfs store, read back by TinyDbReader, and read safely (no file outside the store is opened)."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from tinydb import TinyDB

from pytest_sacredx.observers import tinydb_sacred
from pytest_sacredx.observers.tinydb_hashfs import (
    TinyDbFormatError,
    TinyDbObserver,
    TinyDbReader,
    tiny_db_option,
)
from pytest_sacredx.observers.tinydb_hashfs.bases import BufferedReaderWrapper
from pytest_sacredx.observers.tinydb_sacred import SacredHashFS, get_db_file_manager

START = dt.datetime(2023, 3, 4, 5, 6, 7)
STOP = START + dt.timedelta(hours=1, minutes=2, seconds=3, milliseconds=400)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    base = tmp_path / "exp"
    base.mkdir()
    (base / "train.py").write_text("print('train')\n")
    (base / "data.csv").write_text("a,b\n1,2\n")
    (base / "weights.bin").write_bytes(b"\x00\x01weights")
    return {"base": base, "src": base / "train.py", "res": base / "data.csv", "art": base / "weights.bin"}


def ex_info(files: dict[str, Path], name: str = "sac") -> dict[str, Any]:
    return {
        "name": name,
        "base_dir": str(files["base"]),
        "sources": [["train.py", md5(files["src"])]],
        "dependencies": ["numpy==2.0"],
        "doc": "",
    }


def full_run(obs: TinyDbObserver, files: dict[str, Path], name: str = "sac", _id: Any = "r1") -> Any:
    run_id = obs.started_event(ex_info(files, name), "main", {"hostname": "h"}, START,
                               {"lr": 0.5, "layers": [2, 3]}, {"comment": "c"}, _id)
    obs.heartbeat_event({"acc": [1, 2]}, "out\n", START, 7)
    obs.resource_event(str(files["res"]))
    obs.artifact_event("weights", str(files["art"]))
    obs.completed_event(STOP, 42)
    return run_id


def test_create_writes_sacreds_file_and_documents(tmp_path: Path, files: dict[str, Path]) -> None:
    root = tmp_path / "db"
    obs = TinyDbObserver.create(str(root))
    assert root.is_dir() and obs.root == str(root)  # created at once, as Sacred does
    assert full_run(obs, files) == "r1"
    (doc,) = obs.runs.all()
    assert doc["start_time"] == START and doc["stop_time"] == STOP and doc["heartbeat"] == START
    assert (doc["status"], doc["result"], doc["info"], doc["captured_out"]) == (
        "COMPLETED", 42, {"acc": [1, 2]}, "out\n")
    assert doc["format"] == TinyDbObserver.VERSION and doc["config"] == {"lr": 0.5, "layers": [2, 3]}
    source = doc["experiment"]["sources"][0]
    assert source[:2] == ["train.py", md5(files["src"])] and source[2].read() == b"print('train')\n"
    resource = doc["resources"][0]
    assert resource[:2] == [str(files["res"]), md5(files["res"])]
    artifact = doc["artifacts"][0]
    assert artifact[:3] == ["weights", str(files["art"]), md5(files["art"])]
    assert isinstance(artifact[3], io.BufferedReader) and artifact[3].read() == b"\x00\x01weights"
    # on disk: stock TinyDB JSON with Sacred's tags, files in hashfs/ab/cd/ef/<rest>
    raw = json.loads((root / "metadata.json").read_text())["runs"]["1"]
    assert raw["start_time"] == "{TinyDate}:2023-03-04T05:06:07.000000"
    assert raw["artifacts"][0][3] == '{TinyFile}:"' + md5(files["art"]) + '"'
    digest = md5(files["art"])
    assert (root / "hashfs" / digest[:2] / digest[2:4] / digest[4:6] / digest[6:]).is_file()


def test_path_keyword_asks_for_sacreds_format_positional_for_ours(tmp_path: Path) -> None:
    assert TinyDbObserver(path=tmp_path / "a")._sacred
    assert not TinyDbObserver(tmp_path / "b")._sacred
    assert TinyDbObserver(tmp_path / "c", format="sacred")._sacred
    assert not TinyDbObserver(path=tmp_path / "d", format="log")._sacred
    with pytest.raises(TinyDbFormatError, match="format='log'"):
        TinyDbObserver(tmp_path / "e", format="json")


def test_an_existing_log_store_keeps_its_format(tmp_path: Path, files: dict[str, Path]) -> None:
    ours = TinyDbObserver(tmp_path / "db")
    queued = ours.queued_event(ex_info(files), "main", {}, START, {}, {}, None)
    later = TinyDbObserver.create(str(tmp_path / "db"))
    assert not later._sacred
    assert (tmp_path / "db" / "metadata.json").read_bytes().startswith(b'{"sacredx_tinydb_log"')
    assert [r.id for r in TinyDbReader(tmp_path / "db").list_runs()] == [queued]


def test_queued_runs_are_not_implemented_in_sacreds_format(tmp_path: Path, files: dict[str, Path]) -> None:
    obs = TinyDbObserver.create(str(tmp_path / "db"))
    with pytest.raises(NotImplementedError, match=r"TinyDbObserver\(folder\)"):
        obs.queued_event(ex_info(files), "main", {}, START, {}, {}, None)


def test_failures_metrics_and_unjsonable_values(tmp_path: Path, files: dict[str, Path]) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    obs = TinyDbObserver(path=tmp_path / "db")
    obs.started_event(ex_info(files), "main", {}, START, {"obj": Opaque(), "t": (1, 2)}, {}, None)
    obs.log_metrics({"loss": {"steps": [0, 1], "values": [0.5, 0.25], "timestamps": [START, STOP]}}, {})
    obs.log_metrics({"loss": {"steps": [2], "values": [0.125], "timestamps": [STOP]}}, {})
    obs.failed_event(STOP, "Traceback\nboom")
    (doc,) = obs.runs.all()
    assert doc["status"] == "FAILED" and doc["fail_trace"] == "Traceback\nboom"
    assert doc["config"]["t"] == [1, 2] and isinstance(doc["config"]["obj"], str)
    assert doc["metrics"]["loss"] == {
        "steps": [0, 1, 2], "values": [0.5, 0.25, 0.125], "timestamps": [START, STOP, STOP]}
    (record,) = TinyDbReader(tmp_path / "db").list_runs()
    assert record.status == "FAILED" and list(record.metrics["loss"]["steps"]) == [0, 1, 2]


def test_secrets_in_meta_are_redacted(tmp_path: Path, files: dict[str, Path]) -> None:
    obs = TinyDbObserver.create(str(tmp_path / "db"))
    obs.started_event(ex_info(files), "main", {}, START, {}, {"comment": "mongodb://u:hunter2@h/db"}, None)
    assert "hunter2" not in (tmp_path / "db" / "metadata.json").read_text()


def test_numpy_and_pandas_values_round_trip(tmp_path: Path) -> None:
    numpy = pytest.importorskip("numpy")
    pandas = pytest.importorskip("pandas")
    db, fs = get_db_file_manager(tmp_path)
    frame = pandas.DataFrame(numpy.eye(2), columns=["a", "b"])
    db.insert(tinydb_sacred.encode({"m": numpy.arange(3), "f": frame, "s": pandas.Series([1.5, 2.5])}, fs))
    (doc,) = TinyDB(tmp_path / "metadata.json", storage=tinydb_sacred.SerializationMiddleware(fs=fs)).all()
    assert isinstance(doc["m"], numpy.ndarray) and doc["m"].tolist() == [0, 1, 2]
    assert (doc["f"] == frame).all().all() and doc["s"].tolist() == [1.5, 2.5]
    raw = json.loads((tmp_path / "metadata.json").read_text())["_default"]["1"]
    assert raw["m"] == "{TinyArray}:[0, 1, 2]" and raw["f"].startswith("{TinyDataFrame}:")


def test_reading_never_opens_files_outside_the_store(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    root = tmp_path / "db"
    root.mkdir()
    doc = {"a": '{TinyFile}:"' + str(secret) + '"', "b": '{TinyFile}:"../../secret.txt"', "c": "{TinyDate}:nope",
           "d": '{TinyFile}:"' + "0" * 32 + '"'}
    (root / "metadata.json").write_text(json.dumps({"runs": {"1": doc}}))
    (read,) = TinyDbReader(root).runs.all()
    assert read["a"] == json.dumps(str(secret)) and read["b"] == '"../../secret.txt"'
    assert read["c"] == "nope"  # not a date: the text
    assert read["d"] == "0" * 32  # a well-formed id the store does not hold: the id, not a file


def test_reader_api_over_a_sacred_store(tmp_path: Path, files: dict[str, Path]) -> None:
    root = tmp_path / "db"
    obs = TinyDbObserver.create(str(root))
    full_run(obs, files, name="alpha one", _id="a")
    full_run(obs, files, name="beta", _id="b")
    reader = TinyDbReader(root)
    assert [d["_id"] for d in reader.fetch_metadata(exp_name="alpha")] == ["a"]
    assert reader.fetch_metadata(indices=-1)[0]["stop_time"] == STOP
    with pytest.raises(ValueError, match="exp_name=..., query=... or indices=..."):
        reader.fetch_metadata()
    with pytest.raises(ValueError, match="must be less than number of records"):
        reader.fetch_metadata(indices=2)
    (entry,) = reader.fetch_files(indices=0)
    assert entry["date"] == START and entry["exp_id"] == "a"
    assert entry["artifacts"]["weights"].read() == b"\x00\x01weights"
    assert list(entry["resources"]) == [str(files["res"])] and list(entry["sources"]) == ["train.py"]
    assert "Date: Sat 04 Mar 2023    Duration: 01:02:03.4" in reader.fetch_report(indices=0)[0]
    assert reader.load_artifact("b", "weights") == b"\x00\x01weights"
    record = reader.load_run("a")
    assert (record.status, record.result, record.config["lr"]) == ("COMPLETED", 42, 0.5)


def test_fetch_files_leaves_out_empty_groups(tmp_path: Path, files: dict[str, Path]) -> None:
    obs = TinyDbObserver(tmp_path / "db")  # ours: the same reader rules
    obs.started_event({**ex_info(files), "sources": []}, "main", {}, START, {}, {}, None)
    obs.completed_event(STOP, None)
    (entry,) = TinyDbReader(tmp_path / "db").fetch_files(indices=[0])
    assert sorted(entry) == ["date", "exp_id", "exp_name"]


def test_create_from_a_hashfs_store_gives_sacreds_documents(tmp_path: Path, files: dict[str, Path]) -> None:
    hashfs = pytest.importorskip("hashfs")
    fs = hashfs.HashFS(str(tmp_path / "hashfs"), depth=3, width=2, algorithm="md5")
    db = TinyDB(tmp_path / "metadata.json", storage=tinydb_sacred.SerializationMiddleware(fs=fs))
    obs = TinyDbObserver.create_from(db, fs)
    assert obs == TinyDbObserver.create(str(tmp_path))  # the same folder
    full_run(obs, files)
    (doc,) = obs.runs.all()
    assert doc["start_time"] == START and doc["artifacts"][0][3].read() == b"\x00\x01weights"
    # what we store, hashfs finds, and what hashfs stored, our store reads
    ours = SacredHashFS(tmp_path / "hashfs")
    assert fs.open(md5(files["src"])).read() == b"print('train')\n"
    assert ours.open(fs.put(str(files["res"])).id).read() == b"a,b\n1,2\n"


def test_buffered_reader_wrapper_copies_are_new_handles(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("abc")
    with open(path, "rb") as fh:
        wrapper = BufferedReaderWrapper(fh)
    clone, deep = copy.copy(wrapper), copy.deepcopy(wrapper)
    assert (clone.name, clone.mode) == (str(path), "rb") and deep.read() == b"abc"
    clone.close()
    assert clone.closed and not wrapper.closed and not deep.closed


def test_tiny_db_option_adds_an_observer_in_sacreds_format(tmp_path: Path) -> None:
    class Holder:
        observers: list[Any] = []

    holder = Holder()
    tiny_db_option(str(tmp_path / "db"), holder)
    (obs,) = holder.observers
    assert type(obs) is TinyDbObserver and obs._sacred and obs.root == str(tmp_path / "db")


def test_sacred_hashfs_exists_and_get_accept_paths_like_hashfs(tmp_path: Path) -> None:
    fs = SacredHashFS(tmp_path / "hashfs")
    path = tmp_path / "x.txt"
    path.write_text("hi")
    assert fs.exists(str(path)) and not fs.exists("0" * 32)
    address = fs.get(str(path))
    assert address is not None and address.id == md5(path) and fs.get(address.id) is not None
    with pytest.raises(FileNotFoundError):
        fs.open("../x.txt")
    assert os.path.relpath(address.abspath, fs.root) == address.relpath
