"""Sacred's single-file TinyDB format: told apart from our log, decoded, encoded, appended to safely.

The store Sacred 0.8.7 wrote (``tests/sacred_stores/tinydb``) is read and appended to in
``tests/test_sacred_stores.py``, and Sacred's own reader reads what we append in
``tests/test_sacred_readers.py``; these are the module's own rules.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from strategies import configs, identifiers
from tinydb import TinyDB
from tinydb.storages import JSONStorage

from pytest_sacredx.observers.sacred_formats import (
    SacredTinyDB,
    SacredTinyStorage,
    decode_doc,
    decode_value,
    encode_doc,
    is_sacred_tinydb,
)
from pytest_sacredx.observers.tinydb_hashfs import TinyDbObserver, TinyDbReader

FIXTURE = Path(__file__).resolve().parent / "sacred_stores" / "tinydb" / "metadata.json"
TIME = "2024-05-01T12:00:00.000001"


def test_the_two_formats_are_told_apart(tmp_path: Path) -> None:
    assert is_sacred_tinydb(FIXTURE)
    ours = tmp_path / "ours"
    TinyDbObserver(ours).started_event({"name": "x", "sources": []}, "main", {}, _dt(), {}, {}, None)
    assert not is_sacred_tinydb(ours / "metadata.json")
    assert not is_sacred_tinydb(tmp_path / "missing.json")
    (tmp_path / "empty.json").write_bytes(b"")
    assert not is_sacred_tinydb(tmp_path / "empty.json")


def _dt() -> Any:
    import datetime

    return datetime.datetime(2024, 5, 1, 12, 0)


def test_sacreds_tags_decode_to_our_document_form() -> None:
    raw = json.loads(FIXTURE.read_text())["runs"]["1"]
    doc = decode_doc(raw)
    assert doc["start_time"] == raw["start_time"].removeprefix("{TinyDate}:")
    (name, file_id), = doc["experiment"]["sources"]
    assert raw["experiment"]["sources"][0] == [name, file_id, "{TinyFile}:" + json.dumps(file_id)]
    assert [len(a) for a in doc["artifacts"]] == [3]  # [name, filename, id], the handle dropped
    assert doc["result"]["weights"] == {"py/object": "numpy.ndarray", "dtype": "float64",
                                        "values": [1.5, 2.5]}
    assert decode_value("{TinyArray}:[[1, 2], [3, 4]]")["dtype"] == "int64"
    assert decode_value("{TinyArray}:[true, false]")["dtype"] == "bool"
    assert decode_value('{TinyDataFrame}:{"a": {"0": 1}}') == {"a": {"0": 1}}


def test_our_values_encode_as_sacreds_tinydb_holds_them() -> None:
    doc = {
        "start_time": TIME,
        "result": {"w": {"py/object": "numpy.ndarray", "dtype": "float32", "values": [0.5]},
                   "n": {"py/object": "numpy.int64", "dtype": "int64", "value": 3},
                   "t": {"py/tuple": [1, 2]}},
        "artifacts": [["m.txt", "/tmp/m.txt", "ab"]],
        "experiment": {"name": "x", "sources": [["a.py", "cd"], ["gone.py", None]]},
    }
    out = encode_doc(doc)
    assert out["start_time"] == "{TinyDate}:" + TIME
    assert out["result"] == {"w": "{TinyArray}:[0.5]", "n": 3, "t": [1, 2]}
    assert out["artifacts"] == [["m.txt", "/tmp/m.txt", "ab", '{TinyFile}:"ab"']]
    assert out["experiment"]["sources"] == [["a.py", "cd", '{TinyFile}:"cd"'], ["gone.py", None, None]]


def _plain(value: Any) -> Any:
    """A value as JSON gives it back, without text that starts like one of Sacred's tags."""
    text = json.dumps(value)
    return json.loads(text.replace('"{Tiny', '"(Tiny'))


documents = st.fixed_dictionaries(
    {
        "_id": st.text(alphabet="0123456789abcdef", min_size=1, max_size=8),
        "status": st.sampled_from(["RUNNING", "COMPLETED", "FAILED"]),
        "start_time": st.just(TIME),
        "config": configs().map(_plain),
        "result": st.one_of(
            configs().map(_plain),
            st.lists(st.integers(-5, 5), max_size=3).map(
                lambda v: {"py/object": "numpy.ndarray", "dtype": "int64", "values": v} if v else None
            ),
        ),
        "resources": st.lists(st.tuples(st.text(max_size=6), identifiers).map(list), max_size=2),
        "artifacts": st.lists(
            st.tuples(identifiers, st.text(max_size=6), identifiers).map(list), max_size=2
        ),
        "experiment": st.fixed_dictionaries(
            {"name": identifiers, "sources": st.lists(st.tuples(identifiers, identifiers).map(list),
                                                      max_size=2)}
        ),
    }
)


@given(documents)
def test_our_documents_round_trip_through_sacreds_form(doc: dict[str, Any]) -> None:
    assert decode_doc(json.loads(json.dumps(encode_doc(doc)))) == doc


def test_documents_not_changed_are_written_back_as_they_were(tmp_path: Path) -> None:
    path = tmp_path / "metadata.json"
    # a spelling Sacred's json.dumps would not give (no spaces): kept as it is all the same
    path.write_text('{"runs": {"1": {"_id": "a", "heartbeat": "{TinyDate}:2024-05-01T12:00:00.000000"},'
                    ' "2": {"_id": "b", "x": 1.0}}}')
    db = SacredTinyDB(str(path), storage=SacredTinyStorage)
    db.table("runs").update({"x": 2.0}, doc_ids=[2])
    stored = json.loads(path.read_text())["runs"]
    assert stored["1"] == {"_id": "a", "heartbeat": "{TinyDate}:2024-05-01T12:00:00.000000"}
    assert stored["2"] == {"_id": "b", "x": 2.0}
    stock = TinyDB(str(path), storage=JSONStorage)
    assert [d["_id"] for d in stock.table("runs").all()] == ["a", "b"]
    stock.close()


def test_a_reader_opens_sacreds_file_without_writing(tmp_path: Path) -> None:
    root = tmp_path / "db"
    root.mkdir()
    data = FIXTURE.read_bytes()
    (root / "metadata.json").write_bytes(data)
    runs = list(TinyDbReader(root).list_runs())
    assert [r.status for r in runs] == ["COMPLETED", "FAILED"]
    assert (root / "metadata.json").read_bytes() == data
    assert sorted(p.name for p in root.iterdir()) == ["metadata.json"]


def test_processes_appending_to_sacreds_file_at_once_lose_no_run(tmp_path: Path) -> None:
    """Real processes, each recording runs into one Sacred-format folder: the lock keeps them all."""
    root = tmp_path / "db"
    root.mkdir()
    (root / "metadata.json").write_bytes(FIXTURE.read_bytes())
    code = textwrap.dedent(f"""
        import datetime, sys
        from pytest_sacredx.observers.tinydb_hashfs import TinyDbObserver
        t = datetime.datetime(2024, 5, 1, 12, 0)
        for i in range(8):
            obs = TinyDbObserver({str(root)!r})
            obs.started_event({{"name": "w" + sys.argv[1], "sources": []}}, "main", {{}}, t, {{"i": i}}, {{}}, None)
            obs.heartbeat_event({{}}, "out", t, None)
            obs.completed_event(t, i)
    """)
    workers = [subprocess.Popen([sys.executable, "-c", code, str(n)]) for n in range(3)]
    assert [w.wait(timeout=300) for w in workers] == [0, 0, 0]
    runs = list(TinyDbReader(root).list_runs())
    assert len(runs) == 2 + 3 * 8
    assert sorted((r.experiment_name, r.result) for r in runs[2:]) == sorted(
        (f"w{n}", i) for n in range(3) for i in range(8)
    )
    assert all(r.status == "COMPLETED" for r in runs[2:])
    assert list(json.loads((root / "metadata.json").read_text())["runs"]) == [
        str(i) for i in range(1, 27)
    ]
