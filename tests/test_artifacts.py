"""Artifact names: refused up front, before any store sees them, with one line that says the fix."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_sacredx.artifacts import MAX_ARTIFACT_NAME_BYTES, check_artifact_name
from pytest_sacredx.errors import ArtifactNameError


def test_names_up_to_the_limit_pass_longer_ones_are_refused() -> None:
    assert check_artifact_name("a" * MAX_ARTIFACT_NAME_BYTES) == "a" * MAX_ARTIFACT_NAME_BYTES
    with pytest.raises(ArtifactNameError, match=r"is 300 bytes long; .* at most 200 bytes"):
        check_artifact_name("a" * 300)
    with pytest.raises(ArtifactNameError, match="is 202 bytes long"):
        check_artifact_name("é" * 101)  # bytes, not characters: what the file system counts
    assert check_artifact_name("data_\udcff.csv") == "data_\udcff.csv"  # os.fsdecode's escape: one byte


SCRIPT = textwrap.dedent(
    """
    from pytest_sacredx import Experiment
    ex = Experiment("named")

    @ex.automain
    def main(_run):
        with open("a.txt", "w") as fh:
            fh.write("x")
        _run.add_artifact("a.txt", name="short.txt")
        _run.add_artifact("a.txt", name="a" * 300)
    """
)


def test_a_too_long_name_is_one_error_line_and_the_stores_keep_the_run(tmp_path: Path) -> None:
    (tmp_path / "exp.py").write_text(SCRIPT)
    proc = subprocess.run(
        [sys.executable, "exp.py", "-F", "runs", "-t", "db"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        "Error: Artifact name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…' is 300 bytes long; a store keeps "
        "names of at most 200 bytes (a file name's limit, less its temporary name), so give a shorter "
        "one (add_artifact(..., name='...'))."
    ]
    assert "Traceback" not in proc.stderr and "observer" not in proc.stderr  # no store was blamed
    run = json.loads((tmp_path / "runs" / "1" / "run.json").read_text())
    assert run["status"] == "FAILED" and run["artifacts"] == ["short.txt"]
    assert sorted(p.name for p in (tmp_path / "runs" / "1").iterdir() if p.name.endswith(".tmp")) == []
    from pytest_sacredx.observers.tinydb_hashfs import TinyDbReader

    (record,) = TinyDbReader(str(tmp_path / "db")).list_runs()
    assert record.status == "FAILED" and record.artifacts == ["short.txt"]
