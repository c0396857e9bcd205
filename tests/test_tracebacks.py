"""Trimmed tracebacks (``run/tracebacks.py``) and Sacred's ``format_filtered_stacktrace`` /
``format_sacred_error``."""

from __future__ import annotations

import re

import pytest

from pytest_sacredx import Experiment
from pytest_sacredx.errors import SacredError
from pytest_sacredx.utils import format_filtered_stacktrace, format_sacred_error

HEADER = "Traceback (most recent calls WITHOUT Sacred internals):"


def _failing_captured_function():
    ex = Experiment("tb", interactive=True)

    @ex.capture
    def broken():
        raise LookupError("from the user's code")

    return broken


@pytest.mark.parametrize("mode", ["default", "always"])
def test_filtered_modes_drop_our_frames(mode: str) -> None:
    broken = _failing_captured_function()
    try:
        broken()
    except LookupError:
        text = format_filtered_stacktrace(mode)
    assert text.startswith(HEADER)
    assert "pytest_sacredx" not in text
    assert "in broken" in text and text.endswith("LookupError: from the user's code\n")


def test_never_keeps_every_frame() -> None:
    broken = _failing_captured_function()
    try:
        broken()
    except LookupError:
        text = format_filtered_stacktrace("never")
    assert text.startswith("Traceback (most recent call last):")
    assert "pytest_sacredx" in text and "in broken" in text
    assert "captured_function(*args, **kwargs)" in text  # the frame that calls the user's function


def test_default_shows_only_our_frames_when_the_error_is_ours() -> None:
    try:
        SacredError("raised by our own check", filter_traceback="sometimes")
    except ValueError:
        text = format_filtered_stacktrace("default")
    assert text.startswith("Exception originated from within pytest_sacredx.")
    assert "errors.py" in text and "test_tracebacks.py" not in text


def test_no_exception_being_handled_is_an_empty_text() -> None:
    assert format_filtered_stacktrace() == ""


def test_an_unknown_mode_is_refused() -> None:
    try:
        raise KeyError("x")
    except KeyError:
        with pytest.raises(ValueError, match="'sometimes'"):
            format_filtered_stacktrace("sometimes")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"print_traceback": False}, r"pytest_sacredx\.errors\.SacredError: message\n$"),
        ({"print_traceback": False, "print_usage": True}, r"usage\npytest_sacredx\.errors\.SacredError: message\n$"),
        ({"filter_traceback": "never"}, r"Traceback \(most recent call last\):\n(.|\n)*in test_format_sacred_error"),
        ({}, re.escape(HEADER) + r"\n(.|\n)*in test_format_sacred_error\n(.|\n)*SacredError: message\n$"),
    ],
)
def test_format_sacred_error(kwargs: dict, expected: str) -> None:
    try:
        raise SacredError("message", **kwargs)
    except SacredError as e:
        text = format_sacred_error(e, "usage")
    assert re.match(expected, text), text


def test_a_chained_error_shows_both_tracebacks_trimmed() -> None:
    try:
        try:
            {}["missing"]
        except KeyError as e:
            raise SacredError("wrapped") from e
    except SacredError as e:
        text = format_sacred_error(e, "usage")
    assert text.count(HEADER) == 2
    assert "KeyError: 'missing'" in text
    assert "The above exception was the direct cause of the following exception:" in text
    assert text.endswith("SacredError: wrapped\n")
