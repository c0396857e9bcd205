"""``sacredx copy`` (``pytest_sacredx/query/copy.py``): runs with their metrics and artifacts between any
two stores of the contract suite, idempotent, merging several stores into one.

Every store type is a source (copied into TinyDB) and a destination (copied from FileStorage); memory
goes through ``copy_runs`` itself, having no URI outside its process.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from query_helpers import case_id, record_history, store_uri
from test_store_contract import (
    STORE_FACTORIES,
    Store,
    _factory_id,
    file_store,
    play_run,
    tinydb_store,
)

from pytest_sacredx.cli.query import main
from pytest_sacredx.observers.record import RunRecord
from pytest_sacredx.query.copy import copy_runs, fingerprint


@pytest.fixture(params=STORE_FACTORIES, ids=_factory_id)
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return request.param(_folder(tmp_path / "any"))


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _copy(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["copy", *args]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


def _check_copy(source: list[RunRecord], dest: list[RunRecord], source_name: str) -> None:
    assert len(dest) == len(source) == 10
    by_fp = {fingerprint(r): r for r in dest}
    for rec in source:
        got = by_fp[fingerprint(rec)]
        assert (got.status, got.config, got.result) == (rec.status, rec.config, rec.result)
        assert got.effective_status() == rec.effective_status()
        assert {k: m["values"] for k, m in got.metrics.items()} == {
            k: m["values"] for k, m in rec.metrics.items()}
        assert {k: m["steps"] for k, m in got.metrics.items()} == {
            k: m["steps"] for k, m in rec.metrics.items()}
        assert got.captured_out == rec.captured_out and got.artifacts == rec.artifacts
        assert got.fail_trace == rec.fail_trace and got.info == rec.info
        assert got.meta["copied_from"]["id"] == str(rec.id)
        assert got.meta["copied_from"]["store"].startswith(source_name)
        assert {k: v for k, v in got.meta.items() if k != "copied_from"} == rec.meta


def test_every_store_copies_into_tinydb_twice_and_once(any_store: Store, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    record_history(any_store, tmp_path)
    source = list(any_store.reader.list_runs())
    dest = tmp_path / "dest"
    dest.mkdir()
    uri = store_uri(any_store)
    if uri is None:  # memory: no URI; the same function the command calls
        from pytest_sacredx.observers.tinydb_hashfs import TinyDbObserver, TinyDbReader

        report = copy_runs([("memory:", source, any_store.reader)], TinyDbObserver(dest), None)
        assert len(report.copied) == 10 and report.missing_artifacts == []
        again = copy_runs([("memory:", source, any_store.reader)], TinyDbObserver(dest),
                          TinyDbReader(dest))
        assert (again.copied, again.skipped) == ([], 10)
    else:
        out = _copy(capsys, "--from", uri, "--to", f"tinydb:{dest}")
        assert out.startswith("copied 10 runs to tinydb:") and out.endswith("skipped 0 already there\n")
        out = _copy(capsys, "--from", uri, "--to", f"tinydb:{dest}")
        assert "copied 0 runs" in out and "skipped 10 already there" in out
    from pytest_sacredx.observers.tinydb_hashfs import TinyDbReader

    reader = TinyDbReader(dest)
    copied = list(reader.list_runs())
    _check_copy(source, copied, any_store.name)
    (with_artifact,) = [r for r in copied if r.artifacts]
    assert reader.load_artifact(with_artifact.id, "model.txt") == b"weights v2\n"


def test_file_store_copies_into_every_store(any_store: Store, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    src = file_store(_folder(tmp_path / "src"))
    record_history(src, tmp_path)
    source = list(src.reader.list_runs())
    uri = store_uri(any_store)
    if uri is None:
        report = copy_runs([("file:", source, src.reader)], any_store.observer, any_store.reader)
        assert len(report.copied) == 10
    else:
        assert "copied 10 runs" in _copy(capsys, "--from", f"file:{src.reader.basedir}", "--to", uri)
        assert "skipped 10" in _copy(capsys, "--from", f"file:{src.reader.basedir}", "--to", uri)
    copied = list(any_store.reader.list_runs())
    _check_copy(source, copied, "file:")
    (with_artifact,) = [r for r in copied if r.artifacts]
    if any_store.name != "memory":  # memory: keeps artifact names, its files were scratch copies
        assert any_store.reader.load_artifact(with_artifact.id, "model.txt") == b"weights v2\n"  # type: ignore[attr-defined]
    # ids are kept where the destination had none of them
    assert sorted(r.id for r in copied) == sorted(r.id for r in source)


def test_copy_merges_stores_and_keeps_each_run_once(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    a, b = file_store(_folder(tmp_path / "a")), tinydb_store(_folder(tmp_path / "b"))
    record_history(a, tmp_path)
    record_history(b, tmp_path)  # the same ten runs, recorded in another store
    extra = play_run(b.observer, config={"C": 100, "gamma": 9.0}, start=500)
    merged = tmp_path / "merged"
    out = _copy(capsys, "--from", f"file:{a.reader.basedir}", "--from", f"tinydb:{b.reader.root}",
                "--to", f"file:{merged}")
    assert out.startswith("copied 11 runs") and "skipped 10 already there" in out
    from pytest_sacredx.observers.file_storage import FileStorageReader

    runs = list(FileStorageReader(merged).list_runs())
    assert len(runs) == 11
    # A's ids 1..10 were kept, and so was the id of the run only B had
    assert [r.config for r in runs if r.id == str(extra)] == [{"C": 100, "gamma": 9.0}]
    assert sorted(r.id for r in runs if r.id != str(extra)) == sorted(str(i) for i in range(1, 11))


def test_copy_where_and_bad_destination(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = file_store(_folder(tmp_path / "src"))
    record_history(src, tmp_path)
    out = _copy(capsys, "--from", f"file:{src.reader.basedir}", "--to", f"tinydb:{tmp_path / 't'}",
                "--where", "sweep == last and status == COMPLETED")
    assert out.startswith("copied 3 runs")
    from pytest_sacredx.observers.tinydb_hashfs import TinyDbReader

    cases = sorted(str(r.meta["pytest"]["case_id"]) for r in TinyDbReader(tmp_path / "t").list_runs())
    assert cases == sorted([case_id(1, 0.1), case_id(1, 0.7), case_id(1, 1.5)])
    assert main(["copy", "--from", f"file:{src.reader.basedir}", "--to", "memory:"]) == 2
    assert capsys.readouterr().err == (
        "Error: copy --to memory:: give a store that lasts (tinydb:DIR, file:DIR, …)\n")
    assert main(["copy", "--from", f"file:{tmp_path / 'nope'}", "--to", f"file:{tmp_path / 'x'}"]) == 2
    assert not (tmp_path / "x").exists()  # nothing is created when the source cannot be read


def test_fingerprint_ignores_the_store_and_the_id() -> None:
    import datetime as dt

    t = dt.datetime(2024, 1, 1, 12, 0, 0, 123456)
    a = RunRecord(id="1", status="COMPLETED", config={"a": 1}, start_time=t, store="file:x",
                  host={"hostname": "h"})
    b = RunRecord(id="zz", status="FAILED", config={"a": 1}, start_time=t.replace(microsecond=123000),
                  store="s3://b/p", host={"hostname": "h"}, meta={"copied_from": {"id": "1"}})
    c = RunRecord(id="1", status="COMPLETED", config={"a": 2}, start_time=t, host={"hostname": "h"})
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)
