"""The run index of the TinyDB log (metadata.json.idx): used by writers and readers, checked against the
log, extended for lines written without it, rebuilt when it does not match; writers parse no run."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from pytest_sacredx.cli.query import main
from pytest_sacredx.errors import RunIdExistsError
from pytest_sacredx.observers.lazy_record import LazyRunRecord
from pytest_sacredx.observers.tinydb_bases import LogStorage
from pytest_sacredx.observers.tinydb_hashfs import TinyDbObserver, TinyDbReader
from pytest_sacredx.observers.tinydb_index import (
    DOC,
    HEADER,
    HEAVY,
    PATCH,
    RECORD,
    SKIP,
    IndexFile,
    classify,
)

T = dt.datetime(2024, 1, 1, 12)
EX = {"name": "demo", "base_dir": "/nonexistent", "sources": [], "dependencies": []}


def record_run(obs: TinyDbObserver, i: int, _id: Any = None) -> str:
    run_id = obs.started_event(EX, "main", {"hostname": "h"}, T, {"i": i}, {}, _id)
    obs.log_metrics({"loss": {"name": "loss", "steps": [0, 1], "values": [1.0, 0.5],
                              "timestamps": [T, T]}}, {})
    obs.heartbeat_event({"i": i}, f"out {i}\n", T, None)
    obs.completed_event(T, i)
    return run_id


def store(tmp_path: Path, runs: int) -> tuple[Path, list[str]]:
    root = tmp_path / "db"
    obs = TinyDbObserver(root)
    ids = [record_run(obs, i) for i in range(runs)]
    obs.db.close()
    return root, ids


def summary(root: Path) -> list[tuple[str, str, Any, Any, str, dict[str, Any]]]:
    """Every run as a reader lists it, every field read (light and heavy)."""
    return [(r.id, r.status, r.config, r.result, r.captured_out, r.final_metrics())
            for r in TinyDbReader(root).list_runs()]


def index_records(root: Path) -> list[tuple[int, int, int, int, int]]:
    """(offset, length, kind, document id, max id) of each record."""
    data = (root / "metadata.json.idx").read_bytes()
    body = data[HEADER.size:]
    return [(off, lk & ((1 << 40) - 1), lk >> 40, doc_id, max_id)
            for off, lk, doc_id, max_id, _ in RECORD.iter_unpack(body[: len(body) - len(body) % 32])]


def expected(ids: list[str]) -> list[tuple[str, str, Any, Any, str, dict[str, Any]]]:
    return [(run_id, "COMPLETED", {"i": i}, i, f"out {i}\n", {"loss": 0.5})
            for i, run_id in enumerate(ids)]


def test_classify_sorts_lines_into_what_a_listing_needs_and_the_bulk() -> None:
    assert classify({"t": "runs", "id": 2, "doc": {"_id": "a"}}, "runs") == (DOC, 2)
    assert classify({"t": "runs", "id": 2, "cat": {"captured_out": "x"}}, "runs") == (HEAVY, 2)
    assert classify({"t": "runs", "id": 2, "set": {"heartbeat": "t"}, "cat": {"captured_out": "x"}},
                    "runs") == (PATCH, 2)  # a beat also changes what a listing shows
    assert classify({"t": "runs", "id": 2, "ext": [[["artifacts"], [["a", "f", "x"]]]]}, "runs") == (
        PATCH, 2)
    assert classify({"t": "other", "id": 2, "doc": {}}, "runs") == (SKIP, 0)
    assert classify({"sacredx_tinydb_log": 1}, "runs") == (SKIP, 0)
    assert classify(None, "runs") == (SKIP, 0)


def test_writers_keep_one_index_record_per_log_line(tmp_path: Path) -> None:
    root, ids = store(tmp_path, 5)
    other = TinyDbObserver(root)  # a second process
    ids.append(record_run(other, 5))
    lines = (root / "metadata.json").read_bytes().split(b"\n")[:-1]
    records = index_records(root)
    assert len(records) == len(lines)
    offset = 0
    for (off, length, kind, doc_id, _), line in zip(records, lines, strict=True):
        assert (off, length) == (offset, len(line))
        assert (kind, doc_id) == classify(json.loads(line), "runs")
        offset += len(line) + 1
    assert records[-1][4] == 6  # the highest document id so far, for the next writer
    assert summary(root) == expected(ids)


def test_opening_a_writer_on_a_big_store_parses_no_run(tmp_path: Path) -> None:
    root, ids = store(tmp_path, 300)
    obs = TinyDbObserver(root)  # a fresh process: it must not replay the 300 runs
    ids.append(record_run(obs, 300))
    storage = obs.db.storage
    assert isinstance(storage, LogStorage)
    assert (storage.parsed_lines, storage.index.parsed) == (0, 0)
    assert storage._tables == {}  # nothing held but the run it wrote
    assert obs.run_entry is not None and obs.run_entry["result"] == 300
    assert summary(root) == expected(ids)


def test_lines_appended_without_the_index_are_read_and_then_indexed(tmp_path: Path) -> None:
    root, ids = store(tmp_path, 3)
    # an older writer (or one killed between its two appends) adds a run to the log only
    doc = {"_id": "foreign", "status": "RUNNING", "config": {"i": 3}, "experiment": EX, "metrics": {}}
    with open(root / "metadata.json", "ab") as fh:
        fh.write(json.dumps({"t": "runs", "id": 4, "doc": doc}).encode() + b"\n")
        fh.write(b'{"t":"runs","id":4,"set":{"status":"COMPLETED","result":3}}\n')
        fh.write(b'{"t":"runs","id":4,"cat":{"captured_out":"out 3\\n"}}\n')
        fh.write(b'{"t":"runs","id":4,"ext":[[["metrics","loss","values"],[1.0,0.5]]]}\n')
    before = len(index_records(root))
    assert [r[0] for r in summary(root)] == [*ids, "foreign"]
    assert summary(root)[-1][1:5] == ("COMPLETED", {"i": 3}, 3, "out 3\n")
    assert len(index_records(root)) == before  # readers never write the index
    obs = TinyDbObserver(root)
    ids += ["foreign", record_run(obs, 4)]
    storage = obs.db.storage
    assert isinstance(storage, LogStorage) and storage.index.parsed == 4  # just the foreign lines
    assert len(index_records(root)) == before + 4 + 4
    assert [r[0] for r in summary(root)] == ids
    assert obs.runs.get(doc_id=5)["_id"] == ids[-1]  # the next id came from the foreign run's


@pytest.mark.parametrize("damage", ["garbage", "other store", "truncated log", "wrong offset"])
def test_a_corrupt_or_stale_index_is_detected_and_rebuilt(tmp_path: Path, damage: str) -> None:
    root, ids = store(tmp_path, 6)
    index = root / "metadata.json.idx"
    if damage == "garbage":
        index.write_bytes(b"\x00not an index" * 50)
    elif damage == "other store":  # an index copied from another store, or left from before a swap
        other, _ = store(tmp_path / "other", 2)
        shutil.copy(other / "metadata.json.idx", index)
    elif damage == "truncated log":  # the log lost its tail; the index still points past it
        log = root / "metadata.json"
        lines = log.read_bytes().split(b"\n")
        log.write_bytes(b"\n".join(lines[:-10]) + b"\n")  # the last two runs (4 lines each) and one
        ids = ids[:4]
    else:  # a record in the middle claims run 2's doc line for run 3
        data = bytearray(index.read_bytes())
        at = HEADER.size + RECORD.size * 5  # the 6th log line: run 2's doc line
        off, length_kind, doc_id, max_id, crc = RECORD.unpack_from(data, at)
        assert doc_id == 2
        RECORD.pack_into(data, at, off, length_kind, doc_id + 1, max_id, crc)
        index.write_bytes(bytes(data))
    listed = summary(root)
    if damage == "truncated log":  # run 4 lost its last line: it is back to RUNNING
        assert listed[:3] == expected(ids)[:3] and len(listed) == 4
        assert listed[3][:2] == (ids[3], "RUNNING")
    else:
        assert listed == expected(ids)
    obs = TinyDbObserver(root)  # the next writer repairs the index under the lock
    ids.append(record_run(obs, 99))
    storage = obs.db.storage
    assert isinstance(storage, LogStorage)
    assert storage.index.parsed > 0
    lines = (root / "metadata.json").read_bytes().split(b"\n")[:-1]
    assert len(index_records(root)) == len(lines)
    assert [r[0] for r in summary(root)] == ids


def test_a_torn_last_line_and_a_torn_index_record_are_ignored_then_cut(tmp_path: Path) -> None:
    root, ids = store(tmp_path, 3)
    with open(root / "metadata.json", "ab") as fh:
        fh.write(b'{"t":"runs","id":3,"set":{"status":"FAI')  # a writer killed mid-append
    with open(root / "metadata.json.idx", "ab") as fh:
        fh.write(b"\x01\x02\x03")  # and mid-record
    assert summary(root) == expected(ids)
    obs = TinyDbObserver(root)
    ids.append(record_run(obs, 3))
    assert all(json.loads(line) for line in (root / "metadata.json").read_bytes().splitlines())
    assert ((root / "metadata.json.idx").stat().st_size - HEADER.size) % RECORD.size == 0
    storage = obs.db.storage
    assert isinstance(storage, LogStorage) and storage.index.parsed == 0  # the index was good
    assert summary(root) == expected(ids)


def test_a_listing_reads_a_run_only_when_asked_and_its_bulk_only_when_asked(tmp_path: Path) -> None:
    root, ids = store(tmp_path, 4)
    records = list(TinyDbReader(root).list_runs())
    assert all(isinstance(r, LazyRunRecord) and not r.is_loaded for r in records)
    # damage run 2's metric line in place: a listing that does not ask for metrics never sees it
    log = root / "metadata.json"
    data = log.read_bytes()
    at = data.index(b'{"t":"runs","id":2,"ext"')
    end = data.index(b"\n", at)
    log.write_bytes(data[:at] + b"x" * (end - at) + data[end:])
    assert (records[1].status, records[1].config, records[1].result) == ("COMPLETED", {"i": 1}, 1)
    assert not records[1].is_loaded
    # asked for, the damaged line is found out (the index no longer matches) and skipped
    assert records[1].metrics == {}
    assert records[1].captured_out == "out 1\n"
    assert records[1].is_loaded
    assert [r.final_metrics() for r in records if r.id != ids[1]] == [{"loss": 0.5}] * 3


def test_records_stay_readable_after_the_reader_closed_and_the_log_was_compacted(
    tmp_path: Path,
) -> None:
    root, ids = store(tmp_path, 5)
    reader = TinyDbReader(root)
    records = list(reader.list_runs())
    reader.close()
    obs = TinyDbObserver(root)
    obs.runs.all()  # the TinyDB API loads the store...
    obs.db.storage.compact()  # ...and a compaction replaces the log
    assert [(r.id, r.result, r.captured_out) for r in records] == [
        (run_id, i, f"out {i}\n") for i, run_id in enumerate(ids)
    ]


def test_compaction_puts_the_bulk_on_lines_of_its_own(tmp_path: Path) -> None:
    root, ids = store(tmp_path, 3)
    obs = TinyDbObserver(root)
    obs.db.storage.compact()
    lines = [json.loads(x) for x in (root / "metadata.json").read_bytes().splitlines()]
    docs = [x for x in lines if "doc" in x]
    assert all("captured_out" not in d["doc"] and "metrics" not in d["doc"] for d in docs)
    assert [classify(x, "runs")[0] for x in lines if "set" in x] == [HEAVY] * 3
    # the final metric values ride on the document line, covering the metric line after it
    assert all(d["fin_covers"] == 1 and set(d["fin"]) == set(d_metrics) for d, d_metrics in
               zip(docs, [x["set"].get("metrics", {}) for x in lines if "set" in x], strict=True))
    assert summary(root) == expected(ids)


def test_a_given_run_id_is_still_refused_when_taken_without_loading_the_store(tmp_path: Path) -> None:
    root, ids = store(tmp_path, 20)
    obs = TinyDbObserver(root)
    with pytest.raises(RunIdExistsError):
        obs.started_event(EX, "main", {}, T, {}, {}, ids[7])
    record_run(obs, 20, _id="mine")
    storage = obs.db.storage
    assert isinstance(storage, LogStorage) and storage._tables == {}
    assert TinyDbReader(root).load_run("mine").result == 20


def test_sacredx_list_last_reads_only_the_runs_it_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root, ids = store(tmp_path, 30)
    loaded: list[int] = []
    real = TinyDbReader._load_values

    def counting(self: TinyDbReader, handle: Any, doc_id: int, index: Any, full: bool) -> Any:
        loaded.append(doc_id)
        return real(self, handle, doc_id, index, full)

    monkeypatch.setattr(TinyDbReader, "_load_values", counting)
    for command in (["list", "--last", "3"], ["runs", "--last", "3", "--plain"]):
        loaded.clear()
        assert main([*command, "--store", f"tinydb:{root}"]) == 0
        out = capsys.readouterr().out
        assert all(run_id[:12] in out for run_id in ids[-3:]) and ids[0][:12] not in out
        assert set(loaded) == {28, 29, 30}


def test_index_file_load_scans_only_what_the_index_lacks(tmp_path: Path) -> None:
    root, _ = store(tmp_path, 4)
    path = str(root / "metadata.json")
    fd = os.open(path, os.O_RDONLY)
    try:
        index = IndexFile(path, "runs")
        loaded = index.load(fd, os.fstat(fd).st_size)
        assert index.parsed == 0 and loaded.doc_ids() == [1, 2, 3, 4] and loaded.max_id == 4
        os.unlink(path + ".idx")
        again = IndexFile(path, "runs")
        assert again.load(fd, os.fstat(fd).st_size).lines == loaded.lines and again.parsed > 0
    finally:
        os.close(fd)


def test_records_stay_readable_after_the_store_was_removed(tmp_path: Path) -> None:
    root, ids = store(tmp_path, 2)
    reader = TinyDbReader(root)
    records = list(reader.list_runs())
    reader.close()
    shutil.rmtree(root)  # a scratch store read once, then deleted
    assert [(r.id, r.status, r.final_metrics()) for r in records] == [
        (run_id, "COMPLETED", {"loss": 0.5}) for run_id in ids
    ]


def test_a_writer_alone_syncs_once_and_sees_every_other_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "db"
    first, second = TinyDbObserver(root), TinyDbObserver(root)  # two processes' writers
    tails: list[int] = []
    real_tail = IndexFile.tail

    def counted_tail(self: IndexFile, log_fd: int) -> Any:
        tails.append(id(self))
        return real_tail(self, log_fd)

    monkeypatch.setattr(IndexFile, "tail", counted_tail)
    ids = [record_run(first, i) for i in range(10)]
    first_index = first.db.storage.index  # type: ignore[attr-defined]
    assert tails.count(id(first_index)) == 1  # nobody else wrote: the next writes skip the check
    for i in range(10, 16):  # interleaved: each writer must see the other's lines and index records
        ids.append(record_run(second if i % 2 else first, i))
    with open(root / "metadata.json", "ab") as fh:  # an older writer appends without the index
        doc = {"_id": "foreign", "status": "COMPLETED", "config": {"i": 16}, "experiment": EX}
        fh.write(json.dumps({"t": "runs", "id": 17, "doc": doc}).encode() + b"\n")
    ids += ["foreign", record_run(first, 17)]
    assert tails.count(id(first_index)) > 1
    assert len(set(ids)) == len(ids)
    lines = (root / "metadata.json").read_bytes().split(b"\n")[:-1]
    records = index_records(root)
    assert len(records) == len(lines)
    for (off, length, kind, doc_id, _), line in zip(records, lines, strict=True):
        assert (kind, doc_id) == classify(json.loads(line), "runs")
        assert (root / "metadata.json").read_bytes()[off : off + length] == line
    assert [r[0] for r in summary(root)] == ids
