"""The plugin's ini keys are checked like its options: at session start, each bad value one usage error
that names the key, the file it came from (or ``-o``), what was given and what is allowed.

pytest itself accepts any text for a plain ini key and raises a bare ``ValueError`` for a bad ``bool``
one when it is first read, so ``sacredx_summary = maybe`` would be ignored and ``sacredx_regression =
maybe`` would end in a traceback. :func:`ini_origin` is also what the other modules use to name an ini
line in their own messages (``sacredx_config in pytest.ini``).

>>> check_value("sacredx_summary", "maybe", "pytest.ini")
"sacredx_summary = 'maybe' in pytest.ini: use one of no, short, full."
>>> check_value("sacredx_summary", "full", "pytest.ini") is None
True
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

__all__ = ["CHOICES", "check_value", "ini_origin"]

#: choice-valued keys and what they allow (the options of the same names allow the same)
CHOICES: dict[str, tuple[str, ...]] = {
    "sacredx_summary": ("no", "short", "full"),
    "sacredx_capture": ("no", "sys", "fd"),
    "sacredx_seed_scope": ("case", "experiment"),
}
_BOOLS = ("sacredx_regression", "sacredx_baseline_series", "sacredx_check_determinism",
          "sacredx_record_examples")
_TRUTH = ("y", "yes", "t", "true", "on", "1", "n", "no", "f", "false", "off", "0")


def _non_negative_number(text: str) -> str | None:
    try:
        value = float(text)
    except ValueError:
        return "a number of seconds, e.g. 10 (0 sends only the last heartbeat)"
    return None if 0 <= value < float("inf") else "a number of seconds >= 0"


def _count(minimum: int) -> Callable[[str], str | None]:
    def check(text: str) -> str | None:
        try:
            value = int(text)
        except ValueError:
            return f"a whole number >= {minimum}"
        return None if value >= minimum else f"a whole number >= {minimum}"

    return check


def _seed(text: str) -> str | None:
    if text == "last":
        return None
    try:
        int(text)
    except ValueError:
        return "an integer, or last"
    return None


_NUMBERS: dict[str, Callable[[str], str | None]] = {
    "sacredx_beat_interval": _non_negative_number,
    "sacredx_seeds": _count(0),
    "sacredx_max_cases": _count(1),
    "sacredx_seed": _seed,
}


def check_value(name: str, text: str, origin: str) -> str | None:
    """The message for a bad value of ini key ``name`` (None when it is fine); ``text`` as written."""
    text = text.strip()
    if name in CHOICES and text not in CHOICES[name]:
        return f"{name} = {text!r} in {origin}: use one of {', '.join(CHOICES[name])}."
    if name in _BOOLS and text.lower() not in _TRUTH:
        return f"{name} = {text!r} in {origin}: use true or false."
    check = _NUMBERS.get(name)
    problem = check(text) if check is not None else None
    if problem:
        return f"{name} = {text!r} in {origin}: use {problem}."
    return None


def ini_origin(config: pytest.Config, name: str) -> str:
    """Where ini key ``name`` was set: ``-o name=…`` or the ini file, relative to the rootdir."""
    for item in getattr(config.option, "override_ini", None) or ():
        if item.split("=", 1)[0].strip() == name:
            return f"-o {name}=…"
    path = config.inipath
    if path is None:
        return "the ini file"
    try:
        return str(Path(path).relative_to(config.rootpath))
    except ValueError:
        return str(path)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for name in (*CHOICES, *_BOOLS, *_NUMBERS):
        try:
            value = config.getini(name)
        except (ValueError, pytest.UsageError) as e:  # a bool key pytest cannot read: says the value
            raise pytest.UsageError(f"{name} in {ini_origin(config, name)}: {e}; use true or false.") from None
        if not isinstance(value, str) or not value.strip():
            continue
        message = check_value(name, value, ini_origin(config, name))
        if message:
            raise pytest.UsageError(message)
    beat = config.getoption("sacredx_beat_interval", None)
    if beat is not None:
        problem = _non_negative_number(str(beat))
        if problem:
            raise pytest.UsageError(f"--exp-beat-interval={beat!r}: give {problem}.")
