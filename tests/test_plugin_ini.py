"""Ini keys are checked like options at session start: the key, the file, what was given, what is allowed."""

from __future__ import annotations

import pytest
from plugin_helpers import TOY, run_pytest

from pytest_sacredx.pytest_plugin.ini import check_value


def _inprocess(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return run_pytest(pytester, "serial", *args)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("sacredx_summary = maybe", "sacredx_summary = 'maybe' in tox.ini: use one of no, short, full."),
        ("sacredx_capture = tee", "sacredx_capture = 'tee' in tox.ini: use one of no, sys, fd."),
        ("sacredx_seed_scope = run", "sacredx_seed_scope = 'run' in tox.ini: use one of case, experiment."),
        ("sacredx_regression = maybe", "sacredx_regression in tox.ini: *'maybe'*; use true or false."),
        ("sacredx_beat_interval = often", "sacredx_beat_interval = 'often' in tox.ini: use a number of seconds*"),
        ("sacredx_seeds = five", "sacredx_seeds = 'five' in tox.ini: use a whole number >= 0."),
        ("sacredx_max_cases = 0", "sacredx_max_cases = '0' in tox.ini: use a whole number >= 1."),
        ("sacredx_seed = lucky", "sacredx_seed = 'lucky' in tox.ini: use an integer, or last."),
    ],
)
def test_bad_ini_values_are_one_usage_error_naming_key_and_file(
    pytester: pytest.Pytester, line: str, message: str
) -> None:
    pytester.makepyfile(exp_toy=TOY)
    pytester.makeini(f"[pytest]\n{line}\n")
    result = _inprocess(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stderr.str()


def test_an_override_on_the_command_line_is_named_as_such(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = _inprocess(pytester, "-o", "sacredx_summary=maybe")
    result.stderr.fnmatch_lines(["ERROR: sacredx_summary = 'maybe' in -o sacredx_summary=…: use one of*"])


def test_a_bad_beat_interval_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = _inprocess(pytester, "--exp-beat-interval", "-1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --exp-beat-interval='-1': give a number of seconds >= 0."])


def test_good_values_pass() -> None:
    for name, text in [("sacredx_summary", "full"), ("sacredx_regression", "true"), ("sacredx_seeds", "3"),
                       ("sacredx_beat_interval", "0.5"), ("sacredx_seed", "last"), ("sacredx_max_cases", "5")]:
        assert check_value(name, text, "tox.ini") is None
