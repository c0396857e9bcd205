"""Logging: our ``sacredx`` logger hierarchy, Sacred's line format, and a root logger left alone."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from engine_helpers import new_experiment

from pytest_sacredx import Ingredient
from pytest_sacredx.errors import CommandLineError
from pytest_sacredx.logs import BASE_LOGGER_NAME, get_run_loggers, parse_log_level


@pytest.fixture
def restore_sacredx_logger() -> Iterator[logging.Logger]:
    """Runs change the level, handlers and propagation of our ``sacredx`` logger; put them back."""
    base = logging.getLogger(BASE_LOGGER_NAME)
    saved = (base.level, list(base.handlers), base.propagate, base.__dict__.get("_sacredx_set_level"))
    yield base
    base.setLevel(saved[0])
    base.handlers[:] = saved[1]
    base.propagate = saved[2]
    if saved[3] is None:
        base.__dict__.pop("_sacredx_set_level", None)
    else:
        base._sacredx_set_level = saved[3]  # type: ignore[attr-defined]


def greeter(name: str = "logdemo"):
    data = Ingredient("data", interactive=True)

    @data.capture
    def load(_log):
        _log.info("loading")
        return _log.name

    ex = new_experiment(name, ingredients=[data])

    @ex.capture
    def helper(_log):
        return _log.name

    @ex.main
    def main(_log, _run):
        _log.info("in main")
        return _log.name, helper(), load(), _run.run_logger.name

    return ex


@pytest.mark.parametrize(("given", "level"), [("DEBUG", 10), ("debug", 10), ("Warning", 30), ("10", 10), (40, 40), (" 5 ", 5)])
def test_parse_log_level(given: object, level: int) -> None:
    assert parse_log_level(given) == level


def test_parse_log_level_refuses_unknown_names() -> None:
    with pytest.raises(CommandLineError, match="Unknown log level 'LOUD'"):
        parse_log_level("LOUD")


def test_logger_names(restore_sacredx_logger: logging.Logger) -> None:
    run = greeter().run(options={"--loglevel": "ERROR"})
    # As in Sacred: the experiment's captured functions log under the root, an ingredient's under
    # <root>.<ingredient>, the run itself under <root>.<experiment>.
    assert run.result == ("sacredx.main", "sacredx.helper", "sacredx.data.load", "sacredx.logdemo")


def test_name_flag_renames_the_run_logger(restore_sacredx_logger: logging.Logger) -> None:
    run = greeter().run(options={"--loglevel": "ERROR", "--name": "renamed"})
    assert run.run_logger.name == "sacredx.renamed"


def test_a_users_logger_is_used_as_the_root(restore_sacredx_logger: logging.Logger) -> None:
    ex = greeter()
    ex.logger = logging.getLogger("mine")
    run = ex.run(options={"--loglevel": "ERROR"})
    assert run.result[0] == "mine.main" and run.result[3] == "mine.logdemo"
    ex.logger.setLevel(logging.NOTSET)


def test_with_root_handlers_records_propagate_and_root_is_untouched(
    caplog: pytest.LogCaptureFixture, restore_sacredx_logger: logging.Logger
) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    greeter().run(options={"--loglevel": "INFO"})
    assert root.handlers == handlers and root.level == level
    assert ("sacredx.logdemo", logging.INFO, "Running command 'main'") in caplog.record_tuples
    assert ("sacredx.main", logging.INFO, "in main") in caplog.record_tuples
    assert ("sacredx.data.load", logging.INFO, "loading") in caplog.record_tuples


def test_without_root_handlers_we_print_sacreds_lines_to_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], restore_sacredx_logger: logging.Logger
) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    base = restore_sacredx_logger
    base.handlers[:] = []
    base.setLevel(logging.NOTSET)
    base.propagate = True
    greeter().run()
    assert root.handlers == []
    err = capsys.readouterr().err.splitlines()
    assert err[:3] == [
        "WARNING - logdemo - No observers have been added to this run",
        "INFO - logdemo - Running command 'main'",
        "INFO - logdemo - Started",
    ]
    assert "INFO - main - in main" in err
    assert "INFO - data.load - loading" in err
    assert err[-1] == "INFO - logdemo - Completed after 0:00:00"
    assert base.propagate is False  # our lines are not printed twice

    # The user configures logging later: our handler steps aside and records reach theirs.
    stream = io.StringIO()
    user_handler = logging.StreamHandler(stream)
    monkeypatch.setattr(root, "handlers", [user_handler])
    greeter().run()
    assert capsys.readouterr().err == ""
    assert base.propagate is True
    # The level we had set steps aside too: the user's root level (WARNING by default) decides.
    assert stream.getvalue() == "No observers have been added to this run\n"
    saved_level = root.level
    root.setLevel(logging.INFO)
    try:
        greeter().run()
    finally:
        root.setLevel(saved_level)
    assert "Running command 'main'" in stream.getvalue()


def test_get_run_loggers_sets_only_our_level(restore_sacredx_logger: logging.Logger) -> None:
    from pytest_sacredx.logs import set_log_level

    root_level = logging.getLogger().level
    ex = new_experiment("levels")
    base, run_logger = get_run_loggers(ex)
    before = base.level
    restore = set_log_level(base, "WARNING")
    assert base.name == BASE_LOGGER_NAME and base.level == logging.WARNING
    assert run_logger.name == "sacredx.levels"
    assert logging.getLogger().level == root_level
    restore()
    assert base.level == before


def test_loglevel_lasts_one_run(restore_sacredx_logger: logging.Logger, caplog: pytest.LogCaptureFixture) -> None:
    ex = new_experiment("scoped")

    @ex.main
    def main(_log):
        _log.warning("loud")

    caplog.set_level(logging.INFO)
    ex.run(options={"--loglevel": "ERROR"})
    assert "loud" not in caplog.text  # -l ERROR held during its run
    ex.run()
    assert "loud" in caplog.text  # and only then: Sacred's root-logger level stuck for the process


@pytest.mark.slow
def test_a_script_leaves_the_root_logger_unconfigured(tmp_path) -> None:
    script = tmp_path / "quiet.py"
    script.write_text(
        textwrap.dedent(
            """
            import logging
            from pytest_sacredx import Experiment
            ex = Experiment("quiet")

            @ex.main
            def main(_log):
                _log.warning("from main")

            ex.run_commandline(["quiet.py", "-l", "INFO"])
            root = logging.getLogger()
            print(len(root.handlers), root.level)
            """
        )
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "0 30\n"  # no handler, default WARNING level: nothing configured behind our back
    assert "WARNING - main - from main" in proc.stderr


def test_runs_in_threads_leave_the_level_as_it_was(restore_sacredx_logger: logging.Logger) -> None:
    """Overlapping ``-l ERROR`` runs end in any order; the logger's own level comes back (it once
    stayed at ERROR when one run restored the level another had set)."""
    import threading

    ex = new_experiment("overlap")
    started = threading.Barrier(3)

    @ex.main
    def main():
        started.wait()

    before = restore_sacredx_logger.level
    threads = [threading.Thread(target=ex.run, kwargs={"options": {"--loglevel": "ERROR"}}) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert restore_sacredx_logger.level == before
