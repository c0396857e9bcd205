"""The ``sacredx`` tool reads runs back from stores."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pytest_sacredx import Experiment
from pytest_sacredx.cli.query import main
from pytest_sacredx.observers.file_storage import FileStorageObserver


@pytest.fixture
def store(tmp_path):
    ex = Experiment("q", interactive=True)

    @ex.main
    def run(x=1, _run=None):
        _run.log_scalar("loss", 1.0 / x)
        return x * 2

    ex.observers.append(FileStorageObserver(str(tmp_path / "runs")))
    for x in (1, 2, 4):
        ex.run(config_updates={"x": x}, options={"--loglevel": "ERROR"})
    # a run killed long ago: RUNNING with a stale heartbeat
    killed = FileStorageObserver(str(tmp_path / "runs"))
    old = dt.datetime(2020, 1, 1)
    killed.started_event({"name": "q", "base_dir": str(tmp_path), "sources": [], "dependencies": [],
                          "repositories": [], "mainfile": None}, "run", {}, old, {"x": 9}, {}, None)
    killed.heartbeat_event({}, "", old, None)
    return f"file:{tmp_path / 'runs'}"


def test_list_filters_and_json(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--store", store, "--status", "completed", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["result"] for r in rows] == [2, 4, 8]
    assert rows[-1]["metrics"] == {"loss": 0.25}


def test_dead_reports_stale_running_runs(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dead", "--store", store, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["status"] == "DEAD" and row["id"] == "4"


def test_show_and_missing_run(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "2", "--store", store, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["config"]["x"] == 2 and shown["status"] == "COMPLETED"
    assert main(["show", "99", "--store", store]) == 2
    assert capsys.readouterr().err.startswith("Error: no run '99'")


def test_bad_store_uri_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--store", "flie:x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: cannot read flie:x") and err.count("\n") == 1
