"""Sacred's arg_parser names (pytest_sacredx.arg_parser): ``with`` words to updates, and the usage text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import dotted_keys, python_literals, same_value

from pytest_sacredx.arg_parser import _convert_value, format_usage, get_config_updates
from pytest_sacredx.cli.options import CommandLineOption
from pytest_sacredx.errors import UpdateSyntaxError
from pytest_sacredx.experiment import gather_command_line_options


def test_updates_nest_and_words_without_equals_name_named_configs():
    updates, named = get_config_updates(["a.b=1", "a.c='x'", "fast", "", "n=None", " k = [1, 2] "])
    assert updates == {"a": {"b": 1, "c": "x"}, "n": None, "k": [1, 2]}
    assert named == ["fast"]
    assert get_config_updates(None) == ({}, [])


def test_values_are_literals_never_code():
    payload = '{"py/reduce": [{"py/function": "os.getcwd"}, {"py/tuple": []}]}'
    updates, _ = get_config_updates([f"x={payload}"])
    assert updates["x"] == {"py/reduce": [{"py/function": "os.getcwd"}, {"py/tuple": []}]}
    assert _convert_value("__import__('os').getcwd()") == "__import__('os').getcwd()"
    assert _convert_value("rbf") == "rbf" and _convert_value("1.") == 1.0


def test_malformed_updates_name_the_word():
    with pytest.raises(UpdateSyntaxError, match="'a='"):
        get_config_updates(["a="])
    with pytest.raises(UpdateSyntaxError, match="'=1'"):
        get_config_updates(["=1"])


@given(dotted_keys, python_literals())
def test_an_update_round_trips_its_literal(key, value):
    updates, named = get_config_updates([f"{key}={value!r}"])
    node = updates
    for part in key.split(".")[:-1]:
        node = node[part]
    assert same_value(node[key.split(".")[-1]], value) and named == []


def _option_lines(usage: str) -> list[str]:
    section = usage.split("Options:\n", 1)[1].split("\n\n", 1)[0]
    return [line for line in section.splitlines() if line.startswith("  -")]


def test_usage_lists_every_flag_in_docopts_option_form():
    options = gather_command_line_options()
    usage = format_usage("my exp.py", "  Train it.  ", {}, options)
    assert usage.startswith("Usage:\n  'my exp.py' [(with UPDATE...)] [options]\n")
    assert "\n\nTrain it.\n\nOptions:\n" in usage
    lines = _option_lines(usage)
    assert len(lines) == len(options)
    for option, line in zip(options, lines, strict=True):
        flags, _, description = line.strip().partition("  ")
        if option.arg:
            assert flags == f"{option.short_flag} {option.arg} {option.long_flag}={option.arg}"
        else:
            assert flags == f"{option.short_flag} {option.long_flag}"
        assert description.strip().startswith(option.help.split()[0])


def test_long_descriptions_wrap_under_the_description_column():
    long_help = CommandLineOption(None, "-x", "--extra", False, "X", "word " * 40)
    usage = format_usage("e.py", None, {}, [long_help])
    first, *rest = usage.split("Options:\n", 1)[1].split("\nArguments:", 1)[0].strip("\n").splitlines()
    assert first.startswith("  -x X --extra=X") and rest
    assert all(re.match(r" {32}word", line) for line in rest)
    assert all(len(line) <= 79 for line in (first, *rest))


def test_commands_are_listed_with_the_first_line_of_their_docstring():
    def train():
        """Train the model.

        More text.
        """

    def evaluate():
        pass

    usage = format_usage("e.py", "", {"train": train, "evaluate": evaluate})
    assert usage.endswith("\nCommands:\n  train     Train the model.\n  evaluate  \n")


@given(st.text(alphabet="abc -_.", min_size=1, max_size=12))
def test_program_names_are_shell_quoted(name):
    usage = format_usage(name, "", {}, [])
    first = usage.splitlines()[1].strip()
    assert first.endswith(" [(with UPDATE...)] [options]")
    import shlex

    assert shlex.split(first)[0] == name
