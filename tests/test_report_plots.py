"""``sacredx plot`` and the report's figures (``pytest_sacredx/report/plots.py``, matplotlib)."""

from __future__ import annotations

from pathlib import Path

import pytest
from query_helpers import record_history
from test_store_contract import memory_store

from pytest_sacredx.cli.query import main

pytest.importorskip("matplotlib")


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = memory_store(tmp_path)
    record_history(s, tmp_path)
    return s.reader


@pytest.mark.parametrize(
    ("args", "magic"),
    [
        (["plot", "loss", "--sweep", "last"], b"<?xml"),
        (["plot", "acc", "--where", "status == COMPLETED", "--by", "C"], b"<?xml"),
        (["plot", "loss:min", "--x", "gamma", "--by", "C"], b"<?xml"),
        (["plot", "result", "--x", "config.gamma"], b"\x89PNG"),
        (["plot", "result,metrics.loss", "--kind", "parallel"], b"\x89PNG"),
    ],
    ids=["curves", "curves-by", "final-vs-key", "result-vs-key", "parallel"],
)
def test_plots_are_written_and_reproducible(store, tmp_path: Path, args: list[str], magic: bytes,
                                            capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    ext = ".svg" if magic == b"<?xml" else ".png"
    first, second = tmp_path / f"a{ext}", tmp_path / f"b{ext}"
    assert main([*args, "-o", str(first)], store=store) == 0
    assert main([*args, "-o", str(second)], store=store) == 0
    assert capsys.readouterr().err == ""
    assert first.read_bytes().startswith(magic) and len(first.read_bytes()) > 5000
    assert first.read_bytes() == second.read_bytes()


def test_svg_legends_name_the_varying_config(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "loss.svg"
    assert main(["plot", "loss", "--sweep", "last", "-o", str(out)], store=store) == 0
    svg = out.read_text()
    for label in ("C=1, gamma=0.1", "C=10, gamma=0.1", "C=1, gamma=1.5"):
        assert label in svg


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plot", "nope"], "Error: unknown metric 'metrics.nope': no listed run logged metric 'nope' "
                           "(metrics: acc, loss).\n"),
        (["plot", "loss", "--kind", "final"], "Error: plot --kind final needs --x config.KEY (the key "
                                              "to plot against)\n"),
        (["plot", "loss", "--where", "status == QUEUED"], "Error: plot: no runs selected (check --runs, "
                                                          "--sweep, --where)\n"),
    ],
)
def test_plot_mistakes(store, tmp_path: Path, args: list[str], message: str,  # type: ignore[no-untyped-def]
                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*args, "-o", str(tmp_path / "x.png")], store=store) == 2
    assert capsys.readouterr().err == message
    assert not (tmp_path / "x.png").exists()
