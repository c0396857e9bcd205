"""The command line of experiment scripts, in-process: parsing, flags, built-in commands, exit codes.

(The same command lines as real subprocesses are in ``test_examples.py``.)
"""

# ruff: noqa: F841, UP031 - config scopes: their local variables are the config

from __future__ import annotations

import json
from pathlib import Path

import pytest
from engine_helpers import new_experiment, observed

from pytest_sacredx import cli_option
from pytest_sacredx.cli.commandline import get_usage, parse_command_line
from pytest_sacredx.errors import CommandLineError, UpdateSyntaxError


def hello():
    ex = new_experiment("hello")

    @ex.config
    def cfg():
        recipient = "world"  # whom to greet
        message = "Hello %s!" % recipient
        optimizer = {"lr": 0.1}

    @ex.named_config
    def rude():
        """A rude greeting."""
        recipient = "you there"

    @ex.command
    def greet(recipient, times=1):
        """Greet someone.

        More text.
        """
        return f"hi {recipient}" * times

    @ex.main
    def main(message):
        print(message)
        return message

    return ex


def cli(ex, *args: str) -> object:
    return ex.run_commandline(["exp.py", *args])


def exit_code(ex, *args: str) -> int:
    with pytest.raises(SystemExit) as info:
        cli(ex, *args)
    return info.value.code


# --------------------------------------------------------------------------- parsing
def test_parse_command_updates_named_configs_and_flags() -> None:
    ex = hello()
    parsed = parse_command_line(
        ex, ["greet", "with", "rude", "optimizer.lr=0.5", "layers=[64, 64]", "kernel=rbf", "-l", "DEBUG", "-f"]
    )
    assert parsed.command == "greet"
    assert parsed.named_configs == ["rude"]
    assert parsed.updates == {"optimizer.lr": 0.5, "layers": [64, 64], "kernel": "rbf"}
    assert parsed.options["--loglevel"] == "DEBUG" and parsed.options["--force"] is True
    assert parsed.options["UPDATE"] == ["rude", "optimizer.lr=0.5", "layers=[64, 64]", "kernel=rbf"]
    assert parsed.options["with"] is True and parsed.options["COMMAND"] == "greet"


def test_flags_may_come_anywhere() -> None:
    ex = hello()
    parsed = parse_command_line(ex, ["-l", "ERROR", "with", "a=1", "--comment=hi", "b=2", "-u"])
    assert parsed.command is None
    assert parsed.updates == {"a": 1, "b": 2}
    assert parsed.options["--comment"] == "hi" and parsed.options["--unobserved"] is True


def test_negative_numbers_are_values_not_flags() -> None:
    parsed = parse_command_line(hello(), ["with", "x=-1", "y=-0.5"])
    assert parsed.updates == {"x": -1, "y": -0.5}


def test_both_spellings_of_sacreds_long_flags() -> None:
    ex = hello()
    for flag in ("--beat-interval", "--beat_interval"):
        assert parse_command_line(ex, [flag, "3"]).options["--beat-interval"] == "3"
    for flag in ("--print-config", "--print_config", "-p"):
        assert parse_command_line(ex, [flag]).options["--print-config"] is True


def test_help_forms() -> None:
    ex = hello()
    assert parse_command_line(ex, ["help"]).help
    parsed = parse_command_line(ex, ["help", "greet"])
    assert parsed.help and parsed.help_command == "greet"
    assert parse_command_line(ex, ["-h"]).help


@pytest.mark.parametrize(
    ("argv", "error", "text"),
    [
        (["--nmae", "x"], CommandLineError, "Did you mean '--name'?"),
        (["-Z"], CommandLineError, "Unknown flag '-Z'"),
        (["-l"], CommandLineError, "expected one argument"),
        (["greet", "recipient=x"], CommandLineError, "after 'with'"),
        (["with", "a="], UpdateSyntaxError, "value is empty"),
        (["with", "=1"], UpdateSyntaxError, "key is empty"),
    ],
)
def test_parse_errors_are_one_line(argv: list[str], error: type, text: str) -> None:
    with pytest.raises(error, match=text) as info:
        parse_command_line(hello(), argv)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- running
def test_runs_the_main_function_with_updates(capsys: pytest.CaptureFixture[str]) -> None:
    ex = hello()
    run = cli(ex, "with", "recipient=you", "-l", "ERROR")
    assert run.result == "Hello you!"
    assert capsys.readouterr().out == "Hello you!\n"
    assert run.meta_info["argv"] == ["exp.py", "with", "recipient=you", "-l", "ERROR"]


def test_a_string_command_line_is_split_like_a_shell() -> None:
    ex = hello()
    run = ex.run_commandline("exp.py greet with 'recipient=\"two words\"' times=2 -l ERROR")
    assert run.result == "hi two wordshi two words"


def test_print_config_marks_and_documents(capsys: pytest.CaptureFixture[str]) -> None:
    ex = hello()
    cli(ex, "print_config", "with", "recipient=you", "seed=1", "-l", "ERROR")
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "Configuration (~ modified, + added, ! typechanged, # doc):",
        "  message = 'Hello you!'",
        "~ recipient = 'you'                  # whom to greet",
        "~ seed = 1                           # the random seed for this experiment",
        "  optimizer:",
        "    lr = 0.1",
    ]


def test_print_config_flag_prints_before_running(capsys: pytest.CaptureFixture[str]) -> None:
    cli(hello(), "-p", "-l", "ERROR")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Configuration")
    assert out[-2] == "-" * 79 and out[-1] == "Hello world!"


def test_print_named_configs(capsys: pytest.CaptureFixture[str]) -> None:
    cli(hello(), "print_named_configs", "-l", "ERROR")
    assert capsys.readouterr().out.splitlines() == ["Named Configurations (# doc):", "  rude   # A rude greeting."]


def test_save_config_writes_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cli(hello(), "save_config", "with", "recipient=you", "seed=2", "-l", "ERROR")
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved == {"message": "Hello you!", "recipient": "you", "seed": 2, "optimizer": {"lr": 0.1}}
    cli(hello(), "save_config", "with", "config_filename=other.json", "-l", "ERROR")
    assert "config_filename" not in json.loads((tmp_path / "other.json").read_text())


def test_print_dependencies(capsys: pytest.CaptureFixture[str]) -> None:
    cli(hello(), "print_dependencies", "-l", "ERROR")
    out = capsys.readouterr().out
    assert "Dependencies:" in out and "Sources:" in out


def test_help_prints_usage_and_commands(capsys: pytest.CaptureFixture[str]) -> None:
    ex = hello()
    assert cli(ex, "--help") is None
    out = capsys.readouterr().out
    assert "Usage:" in out and "Options:" in out and "-l, --loglevel LEVEL" in out
    assert "  greet" in out and "Greet someone." in out and "More text." not in out
    cli(ex, "help", "greet")
    out = capsys.readouterr().out
    assert out.startswith("greet(recipient, times=1)") and "More text." in out


def test_get_usage_returns_sacreds_triple() -> None:
    short, long, internal = get_usage(hello(), "prog.py")
    assert short.startswith("Usage:\n  prog.py [(with UPDATE...)] [options]")
    assert short in long and internal == short


def test_flags_reach_the_run() -> None:
    ex = hello()
    obs = observed(ex)
    run = cli(ex, "-c", "a comment", "-n", "renamed", "-i", "myid", "-b", "0.5", "-l", "ERROR")
    assert run.meta_info["comment"] == "a comment"
    assert run.experiment_info["name"] == "renamed"
    assert run.run_logger.name.endswith("renamed")
    assert run._id == "myid" and obs.runs[-1]["_id"] == "myid"
    assert run.beat_interval == 0.5


def test_queue_and_unobserved_flags() -> None:
    ex = hello()
    obs = observed(ex)
    run = cli(ex, "-q", "-l", "ERROR")
    assert run.status == "QUEUED" and obs.events[0][0] == "queued_event"
    obs.events.clear()
    run = cli(ex, "-u", "-l", "ERROR")
    assert run.status == "COMPLETED" and obs.events == []


def test_custom_cli_option() -> None:
    @cli_option("-o", "--own-flag", is_flag=True)
    def own_flag(args, run):
        """Set info['own']."""
        run.info["own"] = args

    @cli_option("-w", "--width")
    def width(args, run):
        """Set info['width']."""
        run.info["width"] = int(args)

    ex = new_experiment("custom", additional_cli_options=[own_flag, width])

    @ex.main
    def main():
        pass

    run = ex.run_commandline(["exp.py", "-o", "--width", "3", "-l", "ERROR"])
    assert run.info == {"own": True, "width": 3}
    assert "--own-flag" in get_usage(ex)[1] and "Set info['own']." in get_usage(ex)[1]
    with pytest.raises(ValueError, match="short flag"):
        cli_option("--x", "--long")(lambda a, r: None)


# --------------------------------------------------------------------------- exit codes
@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("nope",), 'Command "nope" not found'),
        (("--nope",), "Unknown flag"),
        (("with", "a="), "value is empty"),
        (("with", "message.b=1"), "'message' is not a dict"),
        (("with", "raude"), "Did you mean 'rude'?"),
        (("with", "recipent=x"), "not used anywhere"),
        (("-l", "LOUD"), "Unknown log level"),
        (("-P", "high"), "Invalid priority"),
        (("-b", "often"), "Invalid beat interval"),
        (("greet", "with", "recipient={'$x': 1}"), "Invalid config key '$x'"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys: pytest.CaptureFixture[str], args: tuple[str, ...], text: str) -> None:
    assert exit_code(hello(), *args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("Error: ") and text in err


def test_a_missing_config_value_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    ex = hello()

    @ex.capture
    def some_function(a, b):
        pass

    @ex.command
    def use():
        some_function()

    assert exit_code(ex, "use", "-l", "CRITICAL") == 2
    err = capsys.readouterr().err
    assert err == "Error: some_function is missing value(s): ['a', 'b']; add them to the config or pass them when calling some_function()\n"


def test_a_failing_run_exits_1_with_a_trace_of_the_users_frames(capsys: pytest.CaptureFixture[str]) -> None:
    ex = hello()

    @ex.command
    def crash():
        raise ZeroDivisionError("oops")

    assert exit_code(ex, "crash", "-l", "CRITICAL") == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent calls WITHOUT Sacred internals):")
    assert "in crash" in err and err.endswith("ZeroDivisionError: oops\n\n")  # a blank line, as Sacred
    assert "pytest_sacredx" not in err.replace("pytest_sacredx.errors", "")


def test_debug_flag_reraises() -> None:
    ex = hello()

    @ex.command
    def crash():
        raise ZeroDivisionError("oops")

    with pytest.raises(ZeroDivisionError):
        cli(ex, "crash", "-d", "-l", "CRITICAL")
    with pytest.raises(CommandLineError):
        cli(ex, "--nope", "-d")


# --------------------------------------------------------------------------- values no store can write
BIG = """
from pytest_sacredx import Experiment
ex = Experiment("big")

@ex.config
def cfg():
    n = 0

@ex.automain
def main(n):
    return 1
"""


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9" * 5000, "Error: Cannot parse update n=…: '99999999999999999999…99999' is an integer of 5000 digits"),
        ("0x" + "f" * 5000, "Error: Config entry 'n' is an integer of 6021 digits"),
    ],
    ids=["decimal", "hex"],
)
def test_a_huge_integer_is_one_error_line_and_no_run(tmp_path: Path, value: str, message: str) -> None:
    import subprocess
    import sys

    (tmp_path / "exp.py").write_text(BIG)
    proc = subprocess.run(
        [sys.executable, "exp.py", "-F", "runs", "-t", "db", "with", f"n={value}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), proc.stderr
    assert "PYTHONINTMAXSTRDIGITS=0" in lines[0] and "Observer" not in lines[0]
    # no half run anywhere: no run folder, no TinyDB run
    assert not (tmp_path / "runs").exists() or [p.name for p in (tmp_path / "runs").iterdir()] == []
    if (tmp_path / "db").exists():
        from pytest_sacredx.observers.tinydb_hashfs import TinyDbReader

        assert list(TinyDbReader(str(tmp_path / "db")).list_runs()) == []
