"""The error hierarchy (``errors.py``): Sacred's names and arguments, and message layouts."""

from __future__ import annotations

import pytest

from pytest_sacredx.errors import (
    ConfigAddedError,
    InvalidConfigError,
    SacredError,
    SacredxError,
    one_line,
)


def test_sacred_error_is_our_base_under_sacreds_name() -> None:
    assert SacredError is SacredxError
    assert SacredError.__name__ == "SacredError"
    assert issubclass(ConfigAddedError, SacredError)


def test_sacred_error_keeps_sacreds_arguments_and_defaults() -> None:
    error = SacredError("boom")
    assert (error.print_traceback, error.filter_traceback, error.print_usage) == (True, "default", False)
    error = SacredError("boom", False, "never", True)
    assert (error.print_traceback, error.filter_traceback, error.print_usage) == (False, "never", True)


def test_an_unknown_filter_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="'sometimes'"):
        SacredError("boom", filter_traceback="sometimes")


def test_a_config_error_lists_its_conflicting_values_on_lines_of_their_own() -> None:
    error = InvalidConfigError(
        "Need to be equal", conflicting_configs=("a", "b.a"), config={"a": 1, "b": {"a": "x"}}
    )
    assert str(error) == "Need to be equal\nConflicting configuration values:\n  a=1\n  b.a=x"


def test_a_single_conflicting_key_may_be_a_string_and_a_missing_value_is_none() -> None:
    error = InvalidConfigError("Bad", conflicting_configs="lr")
    assert error.conflicting_configs == ("lr",)
    assert str(error) == "Bad\nConflicting configuration values:\n  lr=None"


def test_conflicting_values_can_be_left_out() -> None:
    error = InvalidConfigError("Bad", "lr", {"lr": 1}, print_conflicting_configs=False)
    assert str(error) == "Bad"


def test_one_line_joins_the_lines_for_a_command_line() -> None:
    error = InvalidConfigError("Bad", conflicting_configs=("a", "b"), config={"a": 1, "b": 2})
    error.hint = "Did you mean 'c'? Use -f."
    assert one_line(error) == "Bad. Conflicting configuration values: a=1, b=2. Did you mean 'c'? Use -f."
    assert one_line(ValueError("plain")) == "plain"
