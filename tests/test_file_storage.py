"""FileStorageObserver: Sacred's layout and key sets, race-free ids, atomic and incremental writes."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_sacredx.errors import ArtifactNameError, StoreFormatError
from pytest_sacredx.observers import file_storage
from pytest_sacredx.observers.atomic import dumps_json, write_json_atomic
from pytest_sacredx.observers.file_storage import FileStorageObserver, FileStorageReader

T = dt.datetime(2024, 1, 1, 12, 0, 0, 5)
HOST = {"hostname": "h"}


@pytest.fixture
def src(tmp_path: Path) -> Path:
    d = tmp_path / "project"
    d.mkdir()
    (d / "exp.py").write_text("print(1)\n")
    return d


def ex(src: Path | None = None) -> dict[str, Any]:
    return {
        "name": "demo",
        "base_dir": str(src) if src else "/nonexistent",
        "sources": [("exp.py", "ignored")] if src else [],
        "dependencies": [],
    }


def start(
    obs: FileStorageObserver, src: Path | None = None, _id: Any = None, config: Any = None
) -> str:
    return obs.started_event(ex(src), "main", HOST, T, config or {"a": 1}, {"command": "main"}, _id)


def run_json(obs: FileStorageObserver, run_id: str = "1") -> dict[str, Any]:
    return json.loads((Path(obs.basedir) / run_id / "run.json").read_text())


def test_constructor_creates_nothing(tmp_path: Path) -> None:
    FileStorageObserver(tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_create_is_deprecated_create_from_is_not(tmp_path: Path) -> None:
    with pytest.deprecated_call():
        a = FileStorageObserver.create(str(tmp_path / "runs"))
    b = FileStorageObserver.create_from(tmp_path / "runs", priority=3)
    assert a == b and hash(a) == hash(b) and b.priority == 3 and a.priority == 20
    assert a != FileStorageObserver(tmp_path / "other")
    assert FileStorageObserver.VERSION == "FileStorageObserver-0.7.0"


START_KEYS = {
    "experiment",
    "command",
    "host",
    "start_time",
    "meta",
    "status",
    "resources",
    "artifacts",
    "heartbeat",
}


def test_run_json_key_sets_at_each_stage(tmp_path: Path, src: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs, src)
    entry = run_json(obs)
    assert set(entry) == START_KEYS and entry["status"] == "RUNNING" and entry["heartbeat"] is None
    assert entry["start_time"] == T.isoformat()
    obs.heartbeat_event({}, "", T, 3)
    assert set(run_json(obs)) == START_KEYS | {"result"}
    obs.completed_event(T, 4)
    entry = run_json(obs)
    assert set(entry) == START_KEYS | {"result", "stop_time"}
    assert (entry["status"], entry["result"]) == ("COMPLETED", 4)

    start(obs, src)
    obs.failed_event(T, ["trace\n"])
    entry = run_json(obs, "2")
    assert set(entry) == START_KEYS | {"stop_time", "fail_trace"} and entry["status"] == "FAILED"

    start(obs, src)
    obs.interrupted_event(T, "INTERRUPTED")
    assert set(run_json(obs, "3")) == START_KEYS | {"stop_time"}


def test_queued_run_has_sacreds_keys_and_stores_sources_from_anywhere(
    tmp_path: Path, src: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # Sacred resolved sources against the working directory (a bug)
    obs = FileStorageObserver(tmp_path / "runs")
    run_id = obs.queued_event(ex(src), "main", HOST, T, {"a": 1}, {"command": "main"}, None)
    entry = run_json(obs, run_id)
    assert set(entry) == {"experiment", "command", "host", "meta", "status"}
    assert entry["status"] == "QUEUED"
    assert entry["meta"] == {"command": "main"}  # as given: the run puts queue_time there, not the store
    (stored,) = entry["experiment"]["sources"]
    assert stored[0] == "exp.py"
    assert (tmp_path / "runs" / stored[1]).read_text() == "print(1)\n"


def test_json_files_are_sorted_and_indented(tmp_path: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs, config={"b": 1, "a": {"d": (1, 2), "c": None}})
    text = (tmp_path / "runs" / "1" / "config.json").read_text()
    # a tuple in Sacred's jsonpickle form, as Sacred 0.8.7's FileStorageObserver writes it
    assert text == dumps_json({"a": {"c": None, "d": {"py/tuple": [1, 2]}}, "b": 1})
    assert text.startswith('{\n  "a"')


def test_ids_continue_after_the_largest_numeric_dir(tmp_path: Path) -> None:
    base = tmp_path / "runs"
    for name in ("3", "7", "_sources", "notes", "12abc"):
        (base / name).mkdir(parents=True)
    obs = FileStorageObserver(base)
    assert start(obs) == "8"
    assert start(obs) == "9"
    other = FileStorageObserver(base)  # another process takes ids meanwhile
    assert start(other) == "10"
    assert start(obs) == "11"  # our next guess (10) is taken: list once, continue after the max


def test_requested_id_and_collision(tmp_path: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    assert start(obs, _id="baseline") == "baseline"
    with pytest.raises(FileExistsError, match="baseline"):
        start(obs, _id="baseline")
    assert start(obs) == "1"


def test_sources_are_content_addressed_and_shared(tmp_path: Path, src: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs, src)
    start(obs, src)
    assert (
        run_json(obs, "1")["experiment"]["sources"] == run_json(obs, "2")["experiment"]["sources"]
    )
    assert len(os.listdir(tmp_path / "runs" / "_sources")) == 1
    (src / "exp.py").write_text("print(2)\n")
    start(obs, src)
    assert len(os.listdir(tmp_path / "runs" / "_sources")) == 2


def test_missing_source_does_not_break_the_run(tmp_path: Path, src: Path) -> None:
    (src / "exp.py").unlink()
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs, src)
    assert run_json(obs)["experiment"]["sources"] == [["exp.py", None]]


def test_cout_is_appended_not_rewritten(tmp_path: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs)
    cout = tmp_path / "runs" / "1" / "cout.txt"
    obs.heartbeat_event({}, "héllo\n", T, None)
    inode = cout.stat().st_ino
    obs.heartbeat_event({}, "héllo\nwörld\n", T, None)
    assert cout.stat().st_ino == inode  # same file: appended in place
    assert cout.read_bytes() == "héllo\nwörld\n".encode()
    obs.heartbeat_event({}, "rewritten\n", T, None)  # the filter changed earlier text
    assert cout.read_text(encoding="utf-8") == "rewritten\n"


def test_info_json_only_when_info(tmp_path: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs)
    obs.heartbeat_event({}, "", T, None)
    assert not (tmp_path / "runs" / "1" / "info.json").exists()
    obs.heartbeat_event({"a": (1,)}, "", T, None)
    assert json.loads((tmp_path / "runs" / "1" / "info.json").read_text()) == {"a": {"py/tuple": [1]}}


def test_metrics_json_is_sacred_shaped_and_complete_at_the_end(tmp_path: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs)
    run_dir = tmp_path / "runs" / "1"
    obs.log_metrics({}, {})
    assert (
        json.loads((run_dir / "metrics.json").read_text()) == {}
    )  # as Sacred: exists when nothing logged
    n = 0
    for _ in range(30):  # 3,000 points: past the size where metrics.json is rewritten on each beat
        steps = list(range(n, n + 100))
        n += 100
        obs.log_metrics(
            {
                "loss": {
                    "name": "loss",
                    "steps": steps,
                    "values": [float(s) for s in steps],
                    "timestamps": [T] * 100,
                }
            },
            {},
        )
        on_disk = json.loads((run_dir / "metrics.json").read_text())
        assert set(on_disk["loss"]) == {"steps", "values", "timestamps"}
    assert FileStorageReader(run_dir.parent).load_run("1").metrics["loss"]["steps"] == list(
        range(n)
    )
    obs.completed_event(T, None)
    final = json.loads((run_dir / "metrics.json").read_text())
    assert final["loss"]["steps"] == list(range(n))
    assert final["loss"]["timestamps"][0] == T.isoformat()


def test_reader_ignores_a_torn_metrics_line(tmp_path: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs)
    obs.log_metrics({"m": {"name": "m", "steps": [0], "values": [1.0], "timestamps": [T]}}, {})
    with open(tmp_path / "runs" / "1" / "metrics.jsonl", "ab") as fh:
        fh.write(b'{"m": {"steps": [1], "val')  # killed mid-append
    assert FileStorageReader(tmp_path / "runs").load_run("1").metrics["m"]["values"] == [1.0]


@pytest.mark.parametrize(
    "name",
    [
        "run.json",
        "config.json",
        "cout.txt",
        "metrics.json",
        "metrics.jsonl",
        "info.json",
        "a/b.txt",
        "../escape",
        "..",
        ".",
        "",
    ],
)
def test_bad_artifact_names_are_refused(tmp_path: Path, name: str) -> None:
    artifact = tmp_path / "a.txt"
    artifact.write_text("x")
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs)
    before = (tmp_path / "runs" / "1" / "run.json").read_bytes()
    with pytest.raises(ArtifactNameError) as info:
        obs.artifact_event(name, str(artifact))
    assert repr(name) in str(info.value)
    assert isinstance(info.value, ValueError)
    assert (tmp_path / "runs" / "1" / "run.json").read_bytes() == before


def test_artifacts_are_copied_once_listed(tmp_path: Path) -> None:
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"\x00\x01")
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs)
    obs.artifact_event("model.bin", str(artifact))
    obs.artifact_event("model.bin", str(artifact))
    assert (tmp_path / "runs" / "1" / "model.bin").read_bytes() == b"\x00\x01"
    assert run_json(obs)["artifacts"] == ["model.bin"]

    lazy = FileStorageObserver(tmp_path / "lazy", copy_artifacts=False)
    start(lazy)
    lazy.artifact_event("model.bin", str(artifact))
    assert not (tmp_path / "lazy" / "1" / "model.bin").exists()
    assert run_json(lazy)["artifacts"] == ["model.bin"]


def test_resources_are_stored_by_content_and_recorded_with_sacreds_path(tmp_path: Path) -> None:
    a, b = tmp_path / "data.csv", tmp_path / "other" / "data.csv"
    b.parent.mkdir()
    a.write_text("1,2\n")
    b.write_text("1,2\n")
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs)
    obs.resource_event(str(a))
    obs.resource_event(str(a))
    obs.resource_event(str(b))
    resources = run_json(obs)["resources"]
    assert [r[0] for r in resources] == [str(a), str(b)]
    assert resources[0][1] == resources[1][1]
    (stored,) = os.listdir(tmp_path / "runs" / "_resources")
    # Sacred records the stored copy's path under the resource folder, not one relative to basedir
    assert resources[0][1] == str(tmp_path / "runs" / "_resources" / stored)
    assert stored.startswith("data_") and stored.endswith(".csv")


def test_no_temporary_files_are_left(tmp_path: Path, src: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs, src)
    obs.log_metrics({"m": {"name": "m", "steps": [0], "values": [1.0], "timestamps": [T]}}, {})
    obs.heartbeat_event({"a": 1}, "x", T, 1)
    obs.completed_event(T, 1)
    leftovers = [p for p in (tmp_path / "runs").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_an_interrupted_write_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "run.json"
    write_json_atomic(target, {"status": "RUNNING"})

    def boom(*args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        write_json_atomic(target, {"status": "COMPLETED"})
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"status": "RUNNING"}
    assert os.listdir(tmp_path) == ["run.json"]


def test_reader_order_and_skipped_dirs(tmp_path: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    for _ in range(11):
        start(obs)
    start(obs, _id="zeta")
    (tmp_path / "runs" / "99").mkdir()  # a run dir whose run.json is not written yet
    (tmp_path / "runs" / "notes.txt").write_text("x")
    reader = FileStorageReader(tmp_path / "runs")
    assert [r.id for r in reader.list_runs()] == [str(i) for i in range(1, 12)] + ["zeta"]
    assert [r.id for r in obs.list_runs()][:3] == ["1", "2", "3"]
    with pytest.raises(KeyError):
        reader.load_run("_sources")
    with pytest.raises(KeyError):
        reader.load_run("99")
    assert list(FileStorageReader(tmp_path / "missing").list_runs()) == []


def test_record_fields_are_parsed_back(tmp_path: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs)
    obs.heartbeat_event({"i": 1}, "out", T, None)
    obs.completed_event(T, {"acc": 1.0})
    rec = obs.load_run(1)
    assert rec.start_time == T and rec.heartbeat == T and rec.stop_time == T
    assert rec.store == f"file:{tmp_path / 'runs'}"
    assert (rec.result, rec.info, rec.captured_out) == ({"acc": 1.0}, {"i": 1}, "out")


def test_metrics_json_exists_without_metrics_as_in_sacred(tmp_path: Path) -> None:
    # Sacred 0.8.7 writes metrics.json ({}) on the first beat of every run; programs open it blindly
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs)
    obs.heartbeat_event({}, "", T, None)
    obs.completed_event(T, 1)
    assert json.loads((tmp_path / "runs" / "1" / "metrics.json").read_text()) == {}


#: run.json["result"] as Sacred 0.8.7's FileStorageObserver wrote it (recorded once with Sacred in a
#: throw-away virtual environment) for {"arr": np.arange(3), "f": np.float64(1.5), "i": np.int64(3),
#: "m": np.array([[1.0, 2.0]]), "t": (1, 2), "b": np.bool_(True), "f32": np.float32(0.25)}
SACRED_087_NUMPY_RESULT = {
    "arr": {"dtype": "int64", "py/object": "numpy.ndarray", "values": [0, 1, 2]},
    "b": {"dtype": "bool", "py/object": "numpy.bool", "value": True},
    "f": {"dtype": "float64", "py/object": "numpy.float64", "value": 1.5},
    "f32": {"dtype": "float32", "py/object": "numpy.float32", "value": 0.25},
    "i": {"dtype": "int64", "py/object": "numpy.int64", "value": 3},
    "m": {"dtype": "float64", "py/object": "numpy.ndarray", "values": [[1.0, 2.0]]},
    "t": {"py/tuple": [1, 2]},
}


def test_numpy_results_are_stored_as_sacred_stores_them(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs)
    result = {
        "arr": np.arange(3), "f": np.float64(1.5), "i": np.int64(3), "m": np.array([[1.0, 2.0]]),
        "t": (1, 2), "b": np.bool_(True), "f32": np.float32(0.25),
    }
    obs.completed_event(T, result)
    stored = json.loads((tmp_path / "runs" / "1" / "run.json").read_text())["result"]
    if np.__version__ < "2":  # numpy 1.x names the bool scalar type bool_
        stored["b"]["py/object"] = stored["b"]["py/object"].replace("bool_", "bool")
    assert stored == SACRED_087_NUMPY_RESULT
    # a program reading its own run.json, as Sacred users do
    assert stored["arr"]["values"] == [0, 1, 2]
    assert obs.load_run("1").result["arr"] == [0, 1, 2]  # RunRecord: plain values


def test_a_listing_reads_run_files_only_when_asked_and_the_bulk_only_when_asked(
    tmp_path: Path,
) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    for i in range(3):
        start(obs, config={"i": i})
        obs.log_metrics({"loss": {"name": "loss", "steps": [0], "values": [0.5], "timestamps": [T]}}, {})
        obs.heartbeat_event({}, f"out {i}\n", T, None)
        obs.completed_event(T, i)
    records = list(FileStorageReader(tmp_path / "runs").list_runs())
    # listing read no run file: run 2's run.json is damaged afterwards and only run 2 notices
    (tmp_path / "runs" / "2" / "run.json").write_text("{not json")
    assert [r.id for r in records] == ["1", "2", "3"]  # ids come from the folder names
    assert (records[0].status, records[0].config, records[0].result) == ("COMPLETED", {"i": 0}, 0)
    with pytest.raises(StoreFormatError, match=r"^cannot read file:.*: run 2: JSONDecodeError"):
        _ = records[1].status
    # the light fields do not open cout.txt or the metrics: make them unreadable, then ask
    for name in ("cout.txt", "metrics.json"):
        path = tmp_path / "runs" / "3" / name
        path.unlink()
        path.mkdir()
    assert (records[2].status, records[2].result) == ("COMPLETED", 2)
    with pytest.raises(StoreFormatError, match="run 3: IsADirectoryError"):
        _ = records[2].captured_out
    assert records[0].captured_out == "out 0\n" and records[0].final_metrics() == {"loss": 0.5}


def test_a_writer_lists_the_folder_once_without_keeping_the_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    for _ in range(5):
        start(obs)
    monkeypatch.setattr(os, "listdir", lambda *_: pytest.fail("listdir builds the whole list"))
    fresh = FileStorageObserver(tmp_path / "runs")  # another process
    assert start(fresh) == "6"

def test_started_run_json_is_sacreds_with_isoformat_times_and_an_empty_cout(tmp_path: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    whole_second = dt.datetime(1999, 5, 4, 3, 2, 1)
    run_id = obs.started_event(ex(), "main", HOST, whole_second, {"a": 1}, {"c": 1}, None)
    entry = run_json(obs, run_id)
    # Sacred writes isoformat text: no microseconds when they are zero
    assert entry["start_time"] == "1999-05-04T03:02:01"
    assert (entry["heartbeat"], entry["resources"], entry["artifacts"]) == (None, [], [])
    assert (tmp_path / "runs" / run_id / "cout.txt").read_text() == ""
    obs.heartbeat_event({}, "", T, None)
    obs.completed_event(T, 1)
    entry = run_json(obs, run_id)
    assert (entry["heartbeat"], entry["stop_time"]) == (T.isoformat(), T.isoformat())
    assert FileStorageReader(tmp_path / "runs").load_run(run_id).start_time == whole_second


def test_a_fail_trace_given_as_text_is_stored_as_that_text(tmp_path: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs)
    obs.failed_event(T, "one\ntwo")
    assert run_json(obs)["fail_trace"] == "one\ntwo"
    assert FileStorageReader(tmp_path / "runs").load_run("1").fail_trace == ["one\n", "two"]


def test_save_file_copies_into_the_run_and_refuses_the_runs_own_files(tmp_path: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs)
    notes = tmp_path / "notes.txt"
    notes.write_text("n\n")
    obs.save_file(str(notes))
    obs.save_file(str(notes), "copy.txt")
    assert (tmp_path / "runs" / "1" / "notes.txt").read_text() == "n\n"
    assert (tmp_path / "runs" / "1" / "copy.txt").read_text() == "n\n"
    with pytest.raises(FileExistsError, match="reserved"):
        obs.save_file(str(notes), "cout.txt")
    with pytest.raises(ArtifactNameError):  # the same error, a ValueError too
        obs.save_file(str(notes), "run.json")
    assert (tmp_path / "runs" / "1" / "cout.txt").read_text() == ""

def test_a_start_that_fails_leaves_no_run_folder(tmp_path: Path) -> None:
    obs = FileStorageObserver(str(tmp_path / "runs"))
    with pytest.raises(ValueError, match="integer string conversion"):  # a value json cannot write
        start(obs, config={"n": 10**5000})
    assert [p.name for p in (tmp_path / "runs").iterdir() if p.name != "_sources"] == []
    run_id = start(obs)  # the observer still records the next run
    assert run_json(obs, run_id)["status"] == "RUNNING"
    assert [r.id for r in FileStorageReader(str(tmp_path / "runs")).list_runs()] == [run_id]


# -- the last N runs without listing them all -------------------------------------------------------------


def _tree(root: Path) -> list[tuple[str, int, bytes]]:
    return sorted((str(p), p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else b"")
                  for p in root.rglob("*"))


def test_last_runs_skips_folders_that_are_no_run_and_takes_older_ones(tmp_path: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    for _ in range(12):
        start(obs)
    root = tmp_path / "runs"
    (root / "12" / "run.json").unlink()  # a start not written yet
    (root / "11" / "run.json").unlink()
    (root / "11" / "run.json").mkdir()  # not a file
    (root / "13").mkdir()
    (root / "20").write_text("a file named like a run")
    (root / ".hidden").mkdir()
    reader = FileStorageReader(root)
    before = _tree(root)
    tail = reader.last_runs(3)
    assert [r.id for r in tail.records] == ["8", "9", "10"]
    assert [r.status for r in tail.records] == ["RUNNING"] * 3
    # 14 entries named like runs, of which the 4 newest were looked at and found to be no run
    assert tail.total == 10 == len(list(reader.list_runs()))
    assert [r.id for r in reader.last_runs(100).records] == [r.id for r in reader.list_runs()]
    assert reader.last_runs(0).records == [] and reader.last_runs(0).total == 14
    with pytest.raises(ValueError, match="0 or more"):
        reader.last_runs(-1)
    assert _tree(root) == before  # reading never writes


def test_last_runs_looks_at_the_runs_it_takes_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    for _ in range(40):
        start(obs)
    looked: list[str] = []
    real_stat = os.stat

    def stat(path: Any, *args: Any, **kwargs: Any) -> Any:
        looked.append(os.fspath(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    tail = FileStorageReader(tmp_path / "runs").last_runs(2)
    assert [r.id for r in tail.records] == ["39", "40"] and tail.total == 40
    assert sorted(looked) == [f"{tmp_path / 'runs'}/{i}/run.json" for i in (39, 40)]


def test_last_runs_put_other_names_after_the_numbers_as_the_listing_does(tmp_path: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    for name in ("3", "10", "007", "7", "beta", "alpha"):
        start(obs, _id=name)
    reader = FileStorageReader(tmp_path / "runs")
    listed = [r.id for r in reader.list_runs()]
    assert listed == ["3", "007", "7", "10", "alpha", "beta"]
    for n in range(8):
        assert [r.id for r in reader.last_runs(n).records] == (listed[-n:] if n else [])


_NAMES = st.one_of(st.integers(0, 60).map(str), st.integers(0, 9).map(lambda i: f"0{i}"),
                   st.sampled_from(["a", "b", "zeta", "_sources", ".tmp"]))


@settings(max_examples=40)
@given(
    folders=st.dictionaries(_NAMES, st.sampled_from(["run", "empty", "run.json dir", "file"]),
                            max_size=25),
    n=st.integers(0, 30),
)
def test_last_runs_are_the_listings_last_runs(tmp_path_factory: pytest.TempPathFactory,
                                              folders: dict[str, str], n: int) -> None:
    root = tmp_path_factory.mktemp("runs")
    for name, kind in folders.items():
        if kind == "file":
            (root / name).write_text("x")
            continue
        (root / name).mkdir()
        if kind == "run":
            (root / name / "run.json").write_text(json.dumps({"status": "COMPLETED", "_id": name}))
        elif kind == "run.json dir":
            (root / name / "run.json").mkdir()
    before = _tree(root)
    reader = FileStorageReader(root)
    listed = [r.id for r in reader.list_runs()]
    tail = reader.last_runs(n)
    assert [r.id for r in tail.records] == (listed[-n:] if n else [])
    assert all(r.status == "COMPLETED" for r in tail.records)
    assert tail.total >= len(listed)
    if n > len(listed):  # never had enough runs, so every entry was looked at
        assert tail.total == len(listed)
    assert _tree(root) == before


def test_metrics_and_output_are_read_apart(tmp_path: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs)
    obs.log_metrics({"loss": {"name": "loss", "steps": [0, 1], "values": [0.5, 0.25],
                              "timestamps": [T, T]}}, {})
    obs.heartbeat_event({}, "out\n", T, None)
    obs.completed_event(T, 1)
    (tmp_path / "runs" / "1" / "cout.txt").unlink()
    (tmp_path / "runs" / "1" / "cout.txt").mkdir()  # unreadable: only reading the output notices
    (rec,) = FileStorageReader(tmp_path / "runs").list_runs()
    assert rec.final_metrics() == {"loss": 0.25} and rec.metrics["loss"]["timestamps"] == [T, T]
    assert rec.status == "COMPLETED" and not rec.is_loaded
    with pytest.raises(StoreFormatError, match="run 1: IsADirectoryError"):
        _ = rec.captured_out
    (tmp_path / "runs" / "1" / "cout.txt").rmdir()
    (tmp_path / "runs" / "1" / "cout.txt").write_text("again\n")
    (rec,) = FileStorageReader(tmp_path / "runs").last_runs(1).records
    assert rec.captured_out == "again\n" and rec == FileStorageReader(tmp_path / "runs").load_run("1")
    assert rec.is_loaded


def test_final_values_of_a_listed_run_are_read_without_its_series(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs)
    obs.log_metrics({"loss": {"name": "loss", "steps": [0, 1], "values": [0.5, 0.25], "timestamps": [T, T]},
                     "acc": {"name": "acc", "steps": [0], "values": [1], "timestamps": [T]}}, {})
    obs.completed_event(T, 1)
    (rec,) = FileStorageReader(tmp_path / "runs").list_runs()
    assert rec.config is not None and rec.status == "COMPLETED"  # the light parts, as a listing reads them
    converted: list[Any] = []
    monkeypatch.setattr(file_storage.document, "metric_series",
                        lambda m: converted.append(m) or pytest.fail("series converted"))
    assert rec.final_metrics() == {"loss": 0.25, "acc": 1} and sorted(rec.metric_names()) == ["acc", "loss"]
    assert converted == [] and not rec.is_loaded
    monkeypatch.undo()
    assert rec.final_metrics() == FileStorageReader(tmp_path / "runs").load_run("1").final_metrics()


def test_a_listed_run_with_an_empty_series_loads_its_metrics_for_the_final_values(tmp_path: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs)
    obs.log_metrics({"loss": {"name": "loss", "steps": [0], "values": [0.5], "timestamps": [T]}}, {})
    obs.completed_event(T, 1)
    with open(tmp_path / "runs" / "1" / "metrics.jsonl", "a") as fh:  # what the reader reads first
        fh.write(json.dumps({"empty": {"steps": [], "values": [], "timestamps": []}}) + "\n")
    (rec,) = FileStorageReader(tmp_path / "runs").list_runs()
    assert rec.config is not None
    # the finals cannot name a metric with no value: the series were loaded, and name it
    assert rec.final_metrics() == {"loss": 0.5} and rec.metric_names() == ["loss", "empty"]


def test_a_listed_runs_final_values_are_decoded_and_a_vanished_run_says_so(tmp_path: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs)
    obs.log_metrics({"w": {"name": "w", "steps": [0], "values": [{"py/object": "numpy.ndarray",
                                                                  "dtype": "float64", "values": [1.5, 2.0]}],
                           "timestamps": [T]}}, {})
    obs.completed_event(T, 1)
    listed = list(FileStorageReader(tmp_path / "runs").list_runs())
    assert listed[0].config is not None
    assert listed[0].final_metrics() == {"w": [1.5, 2.0]} == FileStorageReader(tmp_path / "runs").load_run(
        "1").final_metrics()
    again = list(FileStorageReader(tmp_path / "runs").list_runs())
    assert again[0].config is not None
    shutil.rmtree(tmp_path / "runs" / "1")  # removed after it was listed
    with pytest.raises(KeyError, match="1"):
        again[0].final_metrics()


_NAMES = st.sampled_from(["loss", "acc", 'we"ird', "back\\slash", "ünï", "values", "]", ",", "a,b"])
_POINTS = st.one_of(
    st.integers(-(10**20), 10**20), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.text(max_size=3), st.lists(st.integers(), max_size=2),
)


@given(
    st.lists(st.dictionaries(_NAMES, st.lists(_POINTS, max_size=3), max_size=3), max_size=4),
    st.sampled_from(["", '{"loss":{"st', "not json", '{"x":{"steps":[0],"timestamps":["]"],"values":[1]}}']),
)
@settings(max_examples=60)
def test_final_values_skimmed_from_metrics_jsonl_are_the_full_reads(
    tmp_path_factory: pytest.TempPathFactory, beats: list[dict[str, list[Any]]], tail: str
) -> None:
    root = tmp_path_factory.mktemp("runs")
    obs = FileStorageObserver(root)
    start(obs)
    for beat in beats:
        obs.log_metrics({n: {"name": n, "steps": list(range(len(v))), "values": v, "timestamps": [T] * len(v)}
                         for n, v in beat.items()}, {})
    if tail:  # a torn line, a foreign one, or one whose timestamp holds a bracket
        with open(root / "1" / "metrics.jsonl", "a") as fh:
            fh.write(tail + "\n")
    obs.completed_event(T, 1)
    (listed,) = FileStorageReader(root).list_runs()
    loaded = FileStorageReader(root).load_run("1")
    assert json.dumps(listed.final_metrics(), sort_keys=True) == json.dumps(loaded.final_metrics(), sort_keys=True)
    assert sorted(listed.metric_names()) == sorted(loaded.metric_names())


def test_the_writers_metrics_lines_are_skimmed_and_odd_ones_refused(tmp_path: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs)
    obs.log_metrics({"loss": {"name": "loss", "steps": [0, 1], "values": [0.5, 1e-05], "timestamps": [T, T]},
                     "acc": {"name": "acc", "steps": [0], "values": [float("nan")], "timestamps": [T]}}, {})
    (line,) = (tmp_path / "runs" / "1" / "metrics.jsonl").read_text().splitlines()
    skimmed = file_storage._skim_line(line)
    assert skimmed is not None and skimmed["loss"] == (True, 1e-05) and skimmed["acc"][1] != skimmed["acc"][1]
    for odd in ['{"x":{"steps":[0],"timestamps":["]"],"values":[1]}}',  # a bracket inside a string
                '{"x":{"steps":[0],"timestamps":["a"],"values":[[1]]}}',  # a nested value
                '{"x\\"y":{"steps":[0],"timestamps":["a"],"values":[1]}}',  # an escape in the name
                '{"x":{"steps":[0],"values":[1],"timestamps":["a"]}}']:  # another key order
        assert file_storage._skim_line(odd) is None, odd


@pytest.mark.parametrize("size", [0, 5, file_storage._READ_AT_ONCE, 2 * file_storage._READ_AT_ONCE + 7])
def test_read_bytes_gives_the_whole_file_whatever_its_size(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "f").write_bytes(data)
    (tmp_path / "short").write_bytes(b"ab")
    assert file_storage._read_bytes(str(tmp_path / "f")) == data
    assert file_storage._read_bytes(str(tmp_path / "short")) == b"ab"  # nothing of f in the kept buffer
    assert file_storage._read_bytes(str(tmp_path / "f")) == data


def test_a_where_over_the_config_reads_only_config_json_of_the_runs_it_drops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    for i in range(3):
        start(obs)
        obs.completed_event(T, i)
    listed = list(FileStorageReader(tmp_path / "runs").list_runs())
    opened: list[str] = []
    real = file_storage._read_bytes
    monkeypatch.setattr(file_storage, "_read_bytes", lambda p: opened.append(os.path.basename(p)) or real(p))
    assert [r.config for r in listed] == [{"a": 1}] * 3 and opened == ["config.json"] * 3
    opened.clear()
    assert listed[1].result == 1 and opened == ["run.json", "info.json"]  # config.json not again
    assert listed[1] == FileStorageReader(tmp_path / "runs").load_run(listed[1].id)


def test_a_peeked_config_that_is_damaged_or_gone_says_so_as_the_light_load_does(tmp_path: Path) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    for _ in range(2):
        start(obs)
        obs.completed_event(T, 1)
    listed = list(FileStorageReader(tmp_path / "runs").list_runs())
    (tmp_path / "runs" / "1" / "config.json").write_text("{torn")
    shutil.rmtree(tmp_path / "runs" / "2")
    with pytest.raises(StoreFormatError, match="config|Expecting|JSON"):
        _ = listed[0].config
    with pytest.raises(KeyError, match="2"):
        _ = listed[1].config


@pytest.mark.parametrize("line", ['{"m":{"steps":[0],"values":{"a":1}}}',  # a foreign shape
                                  '{"m":{"steps":[0],"timestamps":["a"],"values":[1,,2]}}'])  # damaged
def test_an_odd_metrics_line_gives_the_final_values_a_full_read_gives(tmp_path: Path, line: str) -> None:
    obs = FileStorageObserver(tmp_path / "runs")
    start(obs)
    obs.log_metrics({"m": {"name": "m", "steps": [0], "values": [0.5], "timestamps": [T]}}, {})
    obs.completed_event(T, 1)
    with open(tmp_path / "runs" / "1" / "metrics.jsonl", "a") as fh:
        fh.write(line + "\n")
    (listed,) = FileStorageReader(tmp_path / "runs").list_runs()
    assert listed.config is not None and listed.status == "COMPLETED"
    assert listed.final_metrics() == FileStorageReader(tmp_path / "runs").load_run("1").final_metrics()
