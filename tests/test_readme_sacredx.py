"""The ``sacredx`` command lines of the README run as shown (``README.md``, "Finding, comparing and
reporting runs"), against a store that holds two sweeps like the README's iris sweeps."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from test_store_contract import ex_info, metric, play_run

from pytest_sacredx.cli.query import main

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Finding, comparing and reporting runs", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    lines = [re.split(r"\s{2,}#", line)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line.startswith("sacredx ")]


def _sweeps(observer: Any) -> None:
    t = 0.0
    for sweep, seeds in (("9b9759946acc", (11, 12)), ("b19dc672cd83", (21, 22))):
        for c in (1, 10):
            for gamma in (0.1, 0.7):
                for k, seed in enumerate(seeds):
                    case = f"examples/iris_svm.py::iris_rbf_svm[C={c}-gamma={gamma}-seed{k}]"
                    accuracy = 0.9 + 0.01 * c / 10 + gamma / 10 + seed / 1000
                    play_run(observer, config={"C": c, "gamma": gamma, "seed": seed},
                             result=accuracy, metrics=(metric("accuracy", [0], [accuracy], t),),
                             experiment=ex_info(name="iris_rbf_svm"),
                             meta={"command": "run", "options": {}, "named_configs": [],
                                   "config_updates": {"C": c, "gamma": gamma},
                                   "pytest": {"case_id": case, "nodeid": case, "sweep_id": sweep,
                                              "case_seed": seed}},
                             start=t)
                    t += 1


def test_the_readme_shows_the_commands() -> None:
    commands = readme_commands()
    assert {c.split()[1] for c in commands} == {"runs", "compare", "show", "plot", "export", "copy",
                                                "convert", "report"}


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "120")
    from pytest_sacredx.observers.file_storage import FileStorageObserver
    from pytest_sacredx.observers.tinydb_hashfs import TinyDbObserver

    (tmp_path / ".sacredx").mkdir()  # the default store, and the file store copy reads
    _sweeps(TinyDbObserver(tmp_path / ".sacredx"))
    _sweeps(FileStorageObserver(tmp_path / "my_runs"))
    args = shlex.split(command)[1:]
    if args[0] == "show":  # the README's id is of its own store
        from pytest_sacredx.observers.tinydb_hashfs import TinyDbReader

        args[1] = next(TinyDbReader(tmp_path / ".sacredx").list_runs()).id[:6]
    assert main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    if args[0] == "runs" and "--group-by" in args:
        assert out.splitlines()[-1] == "4 groups of 8 runs by config.C, config.gamma"
    if args[0] == "compare":
        assert out.startswith("sweep b19dc672cd83 against 9b9759946acc: 8 cases on both sides")
    if args[0] == "copy":
        assert out.startswith("copied 16 runs to sqlite:///all_runs.db, skipped 16 already there")
    if args[0] == "convert":
        assert out.startswith("converted 16 runs into tinydb:sacred_runs (sacred format)")
        assert (tmp_path / "sacred_runs" / "metadata.json").read_text().startswith('{"runs": {"1": ')
