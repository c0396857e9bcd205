"""Secrets given as options never reach a stored run."""

from __future__ import annotations

import json

from pytest_sacredx import Experiment, cli_option
from pytest_sacredx.observers.file_storage import FileStorageObserver


@cli_option("-k", "--api-token")
def api_token(args, run):
    """A token the experiment needs."""


def test_secret_options_are_redacted_in_stored_runs(tmp_path) -> None:
    ex = Experiment("secrets", interactive=True, additional_cli_options=[api_token])
    ex.observers.append(FileStorageObserver(str(tmp_path / "runs")))

    @ex.main
    def main():
        return 1

    run = ex.run(options={"--api-token": "hunter2", "--loglevel": "ERROR",
                          "--comment": "copied from postgresql+psycopg://me:s3cret@db/runs"})
    text = (tmp_path / "runs" / "1" / "run.json").read_text()
    assert "hunter2" not in text and "s3cret" not in text
    stored = json.loads(text)["meta"]["options"]
    assert stored["--comment"].startswith("copied from postgresql+psycopg://me:")
    assert run.meta_info["options"]["--api-token"] != "hunter2"
