"""Opening stores for the ``sacredx`` commands: ``read_last_runs`` reads the newest runs only where the
store's reader can (folder and TinyDB stores), and ``runs``/``list --last N`` use it unless a
``--where``/``--sort`` needs every run first; either way they show what the full listing's tail shows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from pytest_sacredx.cli.query import main
from pytest_sacredx.observers.file_storage import FileStorageObserver, FileStorageReader
from pytest_sacredx.observers.memory import MemoryObserver
from pytest_sacredx.observers.record import RunTail
from pytest_sacredx.observers.tinydb_hashfs import TinyDbObserver, TinyDbReader
from pytest_sacredx.query.errors import QueryUsageError, StoreReadError
from pytest_sacredx.query.stores import read_last_runs

T = dt.datetime(2024, 1, 1, 12)
EX = {"name": "demo", "base_dir": "/nonexistent", "sources": [], "dependencies": []}


def fill(obs: Any, runs: int) -> None:
    for i in range(runs):
        obs.started_event(EX, "main", {"hostname": "h"}, T, {"i": i, "gamma": i / 10}, {}, None)
        obs.log_metrics({"loss": {"name": "loss", "steps": [0, 1], "values": [1.0, i / 10],
                                  "timestamps": [T, T]}}, {})
        obs.heartbeat_event({}, f"out {i}\n", T, None)
        obs.completed_event(T, i)


@pytest.fixture(params=["file", "tinydb"])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    root = tmp_path / "store"
    if request.param == "file":
        fill(FileStorageObserver(root), 12)
        return f"file:{root}"
    obs = TinyDbObserver(root)
    fill(obs, 12)
    obs.db.close()
    return f"tinydb:{root}"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", [
    ["runs", "--last", "3", "--plain"],
    ["runs", "--last", "3", "--format", "csv"],
    ["runs", "--last", "2", "--format", "json", "--columns", "id,config.gamma,metrics.loss"],
    ["runs", "--last", "0", "--format", "csv", "--columns", "id"],
    ["runs", "--last", "50", "--format", "csv"],
    ["runs", "--last", "4", "--group-by", "--plain"],
    ["list", "--last", "3"],
    ["list", "--last", "0", "--json"],
])
def test_last_n_shows_what_the_full_listings_tail_shows(
    uri: str, command: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _run(capsys, *command, "--store", uri)
    for reader in (FileStorageReader, TinyDbReader):
        monkeypatch.delattr(reader, "last_runs")  # the tail of the full listing instead
    assert _run(capsys, *command, "--store", uri) == fast
    if command[:2] == ["runs", "--last"] and "--plain" in command and "--group-by" not in command:
        assert fast.endswith("3 of 12 runs\n")


def test_last_n_lists_no_run_but_the_ones_shown(uri: str, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for reader in (FileStorageReader, TinyDbReader):
        monkeypatch.setattr(reader, "list_runs", lambda self: pytest.fail("listed every run"))
    out = _run(capsys, "runs", "--last", "2", "--format", "csv", "--columns", "result", "--store", uri)
    assert out.splitlines() == ["result", "10", "11"]
    assert _run(capsys, "list", "--last", "1", "--store", uri).splitlines()[-1].endswith("COMPLETED  01-01 12:00  0.0s      11")


def test_a_where_or_a_sort_still_reads_every_run(uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "runs", "--last", "2", "--sort=-result", "--format", "csv", "--columns",
               "result", "--store", uri)
    assert out.splitlines() == ["result", "1", "0"]
    out = _run(capsys, "runs", "--last", "2", "--where", "config.gamma < 0.35", "--format", "csv",
               "--columns", "result", "--store", uri)
    assert out.splitlines() == ["result", "2", "3"]


def test_read_last_runs_falls_back_to_the_listing_and_refuses_a_negative_count(tmp_path: Path) -> None:
    obs = MemoryObserver()
    fill(obs, 4)
    tail = read_last_runs(obs, 2)
    assert isinstance(tail, RunTail) and tail.total == 4
    assert [r.result for r in tail.records] == [2, 3]
    with pytest.raises(QueryUsageError, match=r"^--last -1: give a number of runs, 0 or more$"):
        read_last_runs(obs, -1)
    with pytest.raises(StoreReadError, match="no such folder"):
        read_last_runs(f"file:{tmp_path / 'missing'}", 3)
