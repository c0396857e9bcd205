"""Secrets given as options never reach a stored run."""

from __future__ import annotations

import json

from pytest_sacredx import Experiment, cli_option
from pytest_sacredx.observers.file_storage import FileStorageObserver
from pytest_sacredx.redact import REDACTED


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


# --------------------------------------------------------------------------- one rule, every place
# A secret-named key (password, token, …, plus SETTINGS.SECRET_WORDS) shows *** wherever a run's
# metadata or a report shows it; the config itself keeps the value. Counted in every file.
SECRET = "hunter2"

SCRIPT = '''
from pytest_sacredx import Experiment
ex = Experiment("secrets")

@ex.config
def cfg():
    password = "default"
    db = {"token": "t0", "host": "localhost"}
    lr = 0.1

@ex.automain
def main(password, db, lr):
    print("training with lr", lr)
    return lr
'''


def occurrences(folder) -> dict[str, int]:
    """How often the secret appears in each file under ``folder`` (files where it does not: left out)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            n = path.read_bytes().count(SECRET.encode())
            if n:
                found[str(path.relative_to(folder))] = n
    return found


def test_a_script_keeps_secrets_in_its_config_only(tmp_path) -> None:
    import subprocess
    import sys

    (tmp_path / "exp.py").write_text(SCRIPT)
    proc = subprocess.run(
        [sys.executable, "exp.py", "with", f"password={SECRET}", f"db.token={SECRET}", "lr=0.2",
         "-F", "runs", "-t", "db", "-c", f"postgresql://me:{SECRET}@host/x"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    # the config keeps both values (the run needs them); nothing else holds them
    assert occurrences(tmp_path / "runs") == {"1/config.json": 2}
    tiny = occurrences(tmp_path / "db")
    assert sum(tiny.values()) == 2, tiny
    meta = json.loads((tmp_path / "runs" / "1" / "run.json").read_text())["meta"]
    assert f"password={REDACTED}" in meta["argv"] and f"db.token={REDACTED}" in meta["argv"]
    assert meta["options"]["UPDATE"] == [f"password={REDACTED}", f"db.token={REDACTED}", "lr=0.2"]
    assert meta["config_updates"] == {"password": REDACTED, "db.token": REDACTED, "lr": 0.2}
    from pytest_sacredx.observers.tinydb_hashfs import TinyDbReader

    (record,) = TinyDbReader(str(tmp_path / "db")).list_runs()
    assert record.config["password"] == SECRET and record.config["db"]["token"] == SECRET
    assert record.meta["config_updates"]["password"] == REDACTED


def test_the_conflicting_values_of_an_error_hide_a_secret(tmp_path) -> None:
    import subprocess
    import sys

    (tmp_path / "exp.py").write_text(SCRIPT)
    proc = subprocess.run(
        [sys.executable, "exp.py", "with", f"db_password={SECRET}", "-F", "runs"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: Added new config entry that is not used anywhere.")
    assert f"db_password={REDACTED}" in proc.stderr and SECRET not in proc.stderr, proc.stderr
    assert not (tmp_path / "runs").exists() or occurrences(tmp_path / "runs") == {}


def test_conflicting_values_show_secret_keys_as_stars() -> None:
    from pytest_sacredx.errors import InvalidConfigError, one_line

    error = InvalidConfigError("Bad", conflicting_configs=("db.password", "lr"),
                               config={"db": {"password": SECRET}, "lr": 1})
    assert one_line(error) == f"Bad. Conflicting configuration values: db.password={REDACTED}, lr=1"


def test_settings_extend_the_secret_words() -> None:
    from pytest_sacredx import SETTINGS
    from pytest_sacredx.redact import is_secret_key

    assert not is_secret_key("db.pin")
    SETTINGS.SECRET_WORDS = ["pin"]
    try:
        assert is_secret_key("db.pin") and is_secret_key("pinCode")
    finally:
        SETTINGS.SECRET_WORDS = []
    assert not is_secret_key("db.pin")


PYTEST_EXP = '''
from pytest_sacredx import Experiment
ex = Experiment("secrets")

@ex.config
def cfg():
    password = "default"
    lr = 0.1

@ex.main
def main(password, lr, _run):
    print("training with lr", lr)
    _run.log_scalar("loss", lr)
    assert lr > 1, "lr too small"
'''


def test_under_pytest_a_secret_appears_in_no_report_and_no_store_but_the_config(pytester) -> None:
    from plugin_helpers import run_pytest

    pytester.makepyfile(exp_secrets=PYTEST_EXP)
    result = run_pytest(
        pytester, "serial", f"--exp-config=password={SECRET},hunter3", "--exp-config=lr=0.1",
        "--exp-observer=file:runs", "--exp-observer=tinydb:db", "--junitxml=junit.xml", "-rA", "-v",
    )
    result.assert_outcomes(failed=2)
    text = result.stdout.str() + result.stderr.str()
    # case ids, node ids, the failures' config changes and reproduce lines, the summary: ***
    assert SECRET not in text and "hunter3" not in text, text
    assert f"exp_secrets.py::secrets[lr=0.1-password={REDACTED}] FAILED" in text
    assert f"exp_secrets.py::secrets[lr=0.1-password={REDACTED}-dup1] FAILED" in text
    assert f"config changes: password='{REDACTED}', lr=0.1" in text
    assert "reproduce (give the secret values in place of ***): pytest" in text
    assert f"'--exp-config=password={REDACTED}'" in text
    assert SECRET not in (pytester.path / "junit.xml").read_text()
    # the stores: each run's config holds its value, nothing else anywhere (meta, cout, ids)
    assert occurrences(pytester.path / "runs") == {"1/config.json": 1}
    assert sum(occurrences(pytester.path / "db").values()) == 1
    for name in ("cout.txt", "run.json"):
        assert SECRET not in (pytester.path / "runs" / "1" / name).read_text()
