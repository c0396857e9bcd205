"""``sacredx convert``: a new store from an old one, TinyDB as our append log or as Sacred's single file.

The Sacred side starts from ``tests/sacred_stores/tinydb`` (written by Sacred 0.8.7; see ``record.py``
there). That Sacred's own ``TinyDbReader`` opens what ``--format sacred`` writes is checked with real
Sacred in ``tests/test_sacred_readers.py``; here the file is checked as data.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from pytest_sacredx.observers.readers import open_reader
from pytest_sacredx.observers.record import RunRecord
from pytest_sacredx.query.convert import convert_store
from pytest_sacredx.query.errors import QueryUsageError

FIXTURES = Path(__file__).resolve().parent / "sacred_stores"
LOG_HEADER = b'{"sacredx_tinydb_log"'


def sacred_tinydb(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / "tinydb", tmp_path / "sacred_db"))


def same_run(rec: RunRecord) -> dict[str, object]:
    """What a conversion keeps: all but the store, ``meta`` (it gains ``copied_from``), resources and
    ``base_dir`` (named in ``copied_from``)."""
    data = attrs.asdict(rec)
    for key in ("store", "meta", "resources"):  # resources: by name in meta.copied_from
        data.pop(key)
    data["experiment"] = {k: v for k, v in rec.experiment.items() if k != "base_dir"}
    data["experiment"]["sources"] = [s[0] for s in rec.experiment.get("sources", [])]
    return data


def sacredx(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_sacredx.cli.query", *args],
                          capture_output=True, text=True, timeout=120)


def test_sacreds_tinydb_file_becomes_our_log_with_every_run(tmp_path: Path) -> None:
    src = sacred_tinydb(tmp_path)
    dest = tmp_path / "ours"
    report = convert_store(f"tinydb:{src}", f"tinydb:{dest}")
    old = list(open_reader(f"tinydb:{src}").list_runs())
    new = list(open_reader(f"tinydb:{dest}").list_runs())
    assert (dest / "metadata.json").read_bytes().startswith(LOG_HEADER)
    assert report.copied == [(r.id, r.id) for r in old]  # ids kept
    assert [same_run(r) for r in new] == [same_run(r) for r in old]
    assert new[0].meta["copied_from"] == {
        "store": f"tinydb:{src}", "id": old[0].id, "sources": [".record_inner.py"],
        "base_dir": old[0].experiment["base_dir"], "resources": [old[0].resources[0][0]],
    }
    reader = open_reader(f"tinydb:{dest}")
    assert reader.load_artifact(new[0].id, "model.txt") == b"weights\n"  # type: ignore[attr-defined]
    # the source file's text came along (from Sacred's hashfs into ours)
    (name, file_id), = new[0].experiment["sources"]
    stored = (dest / "hashfs").rglob("*")
    assert file_id == old[0].experiment["sources"][0][1]
    assert any(p.is_file() and "ex.observers.append(obs)" in p.read_text(errors="replace")
               for p in stored)


def test_our_log_becomes_sacreds_file_and_back(tmp_path: Path) -> None:
    ours = tmp_path / "ours"
    convert_store(f"tinydb:{sacred_tinydb(tmp_path)}", f"tinydb:{ours}")
    back = tmp_path / "back"
    convert_store(f"tinydb:{ours}", f"tinydb:{back}", "sacred")
    text = (back / "metadata.json").read_text(encoding="utf-8")
    data = json.loads(text)  # TinyDB's single JSON document, as Sacred's TinyDbObserver writes it
    assert list(data) == ["runs"] and list(data["runs"]) == ["1", "2"]
    first = data["runs"]["1"]
    assert first["start_time"].startswith("{TinyDate}:")
    (source,) = first["experiment"]["sources"]
    assert source[0] == ".record_inner.py" and source[2] == "{TinyFile}:" + json.dumps(source[1])
    assert first["artifacts"][0][0] == "model.txt" and first["artifacts"][0][3].startswith("{TinyFile}:")
    assert [same_run(r) for r in open_reader(f"tinydb:{back}").list_runs()] == [
        same_run(r) for r in open_reader(f"tinydb:{ours}").list_runs()
    ]


def test_file_storage_converts_to_tinydb_with_metrics_and_sources(tmp_path: Path) -> None:
    src = shutil.copytree(FIXTURES / "file_storage", tmp_path / "fs")
    dest = tmp_path / "db"
    convert_store(f"file:{src}", f"tinydb:{dest}")
    (a, b) = open_reader(f"tinydb:{dest}").list_runs()
    assert (a.id, a.status, b.id, b.status) == ("1", "COMPLETED", "2", "FAILED")
    assert a.metrics["loss"]["values"][0] == 1.0 and a.result["weights"] == [1.5, 2.5]
    assert a.experiment["sources"][0][0] == ".record_inner.py" and a.experiment["sources"][0][1]


def test_a_destination_that_holds_runs_is_refused(tmp_path: Path) -> None:
    src = sacred_tinydb(tmp_path)
    with pytest.raises(QueryUsageError, match="holds runs already.*sacredx copy"):
        convert_store(f"tinydb:{src}", f"tinydb:{src}")


def test_a_folder_of_the_other_format_is_refused(tmp_path: Path) -> None:
    dest = tmp_path / "db"
    dest.mkdir()
    (dest / "metadata.json").write_text('{"runs": {}}')
    with pytest.raises(QueryUsageError, match="is Sacred's TinyDB file already; give a new folder"):
        convert_store(f"tinydb:{sacred_tinydb(tmp_path)}", f"tinydb:{dest}", "sacredx")


def test_the_command_line_converts_and_reports_mistakes_in_one_line(tmp_path: Path) -> None:
    src = sacred_tinydb(tmp_path)
    ok = sacredx("convert", "--from", f"tinydb:{src}", "--to", f"tinydb:{tmp_path / 'new'}")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("converted 2 runs into tinydb:")
    again = sacredx("convert", "--from", f"tinydb:{src}", "--to", f"tinydb:{tmp_path / 'new'}")
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and again.stderr.startswith("Error: convert --to ")
    bad = sacredx("convert", "--from", f"tinydb:{src}", "--to", "memory:")
    assert bad.returncode == 2 and "give a store that lasts" in bad.stderr
