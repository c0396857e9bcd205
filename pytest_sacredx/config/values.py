"""Safe parsing of command-line config values (``with lr=0.1 layers=[64,64] kernel=rbf``).

Sacred decodes these values with jsonpickle, so ``x={"py/reduce": ...}`` runs arbitrary code. We only
accept Python literals (``ast.literal_eval``, which never executes anything); other text stays a string
unless strict parsing is on.

>>> parse_update("layers=[64, 64]")
('layers', [64, 64])
>>> parse_value("rbf"), parse_value("123_456")
('rbf', '123_456')
"""

from __future__ import annotations

import ast
import re
from typing import Any

from ..errors import UpdateSyntaxError
from ..settings import SETTINGS

__all__ = ["is_update", "parse_update", "parse_value", "check_int_sizes", "int_limit_message"]

# Longer values are not worth parsing as literals (and the parser's memory use grows with them).
MAX_LITERAL_LENGTH = 100_000

_PARSE_ERRORS = (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, OverflowError)
_KEY_RE = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)*")


def parse_value(text: str, *, strict: bool = False) -> Any:
    """Return the Python literal ``text`` spells, or ``text`` itself (stripped) when it is not one.

    With ``strict`` (or ``SETTINGS.COMMAND_LINE.STRICT_PARSING``) text that is not a literal raises
    :class:`UpdateSyntaxError` instead. Numbers with underscores (``123_456``) are not numbers here:
    they are usually ids, and Sacred turning them into ints was a bug (#862).
    """
    s = text.strip()
    ok, value = _literal(s)
    if ok:
        return value
    if _over_int_limit(s):
        raise UpdateSyntaxError(int_limit_message(repr(_short(s)), _longest_number(s)))
    if strict or SETTINGS.COMMAND_LINE.STRICT_PARSING:
        shown = s if len(s) <= 60 else s[:57] + "..."
        raise UpdateSyntaxError(
            f"Cannot parse value {shown!r}: it is not a Python literal (number, quoted string, list, "
            f"tuple, dict, True/False/None); quote it to pass a string, e.g. {repr(shown)!r}"
        )
    return s


_DIGITS = re.compile(r"\d+")


def _over_int_limit(s: str) -> bool:
    """Does ``s`` fail to parse only because an integer literal in it has more digits than Python
    converts from text (``sys.get_int_max_str_digits()``; hexadecimal has no limit)? Such a value
    must not silently become a string."""
    if not s or len(s) > MAX_LITERAL_LENGTH or not _DIGITS.search(s):
        return False
    try:
        ast.parse(s, mode="eval")
    except SyntaxError as e:
        return "integer string conversion" in str(e)
    except _PARSE_ERRORS:
        return False
    return False


def _longest_number(s: str) -> int:
    return max((len(m) for m in _DIGITS.findall(s)), default=0)


def _short(s: str) -> str:
    return s if len(s) <= 40 else s[:20] + "…" + s[-5:]


def int_limit_message(what: str, digits: int | None = None) -> str:
    """Why an integer of more digits than Python's int-text limit is refused, and the fixes.

    >>> int_limit_message("'n'", 5000).split(",")[0]
    "'n' is an integer of 5000 digits"
    """
    import sys

    limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 4300
    size = f"of {digits} digits" if digits is not None else "of more digits"
    return (
        f"{what} is an integer {size}, more than Python's limit of {limit} digits for turning an "
        "integer into text or back (sys.get_int_max_str_digits()), so no store could write it. Pass it "
        "as a string (quoted), or raise the limit for the process: PYTHONINTMAXSTRDIGITS=0."
    )


def _literal(s: str) -> tuple[bool, Any]:
    if not s or len(s) > MAX_LITERAL_LENGTH:
        return False, None
    try:
        tree = ast.parse(s, mode="eval")
        if "_" in s and _has_underscored_number(tree, s):
            return False, None
        return True, ast.literal_eval(tree)
    except _PARSE_ERRORS:
        return False, None


def _has_underscored_number(tree: ast.AST, source: str) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float, complex):
            segment = ast.get_source_segment(source, node) or ""
            if "_" in segment:
                return True
    return False


def is_update(item: str) -> bool:
    """Whether a command-line word is a ``key=value`` update (rather than a named config)."""
    return "=" in item


def parse_update(item: str) -> tuple[str, Any]:
    """Split ``"a.b=1"`` into ``("a.b", 1)``; the value is parsed by :func:`parse_value`.

    The value may itself contain ``=`` (``"s=a=b"`` gives ``("s", "a=b")``).
    """
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep:
        raise UpdateSyntaxError(f"Cannot parse update {item!r}: expected key=value, e.g. {item}=1")
    if not key:
        raise UpdateSyntaxError(
            f"Cannot parse update {item!r}: the key is empty; write it as name=value, e.g. lr{item}"
        )
    if not _KEY_RE.fullmatch(key):
        raise UpdateSyntaxError(
            f"Cannot parse update {item!r}: {key!r} is not a key; use names of letters, digits and _ "
            f"(not starting with a digit) joined by single dots, e.g. optimizer.lr=0.1"
        )
    if not raw.strip():
        raise UpdateSyntaxError(
            f"Cannot parse update {item!r}: the value is empty; use {key}='' for an empty string"
        )
    try:
        return key, parse_value(raw)
    except UpdateSyntaxError as e:
        if _over_int_limit(raw.strip()):
            raise UpdateSyntaxError(f"Cannot parse update {key}=…: {e}") from None
        raise


def check_int_sizes(config: Any, path: str = "") -> None:
    """Raise InvalidConfigError for an integer in ``config`` that Python cannot turn into text.

    Such an integer (more decimal digits than ``sys.get_int_max_str_digits()``, e.g. from a hex literal
    ``with n=0xfff…``, or ``n = 10**5000`` in a config scope) fails in every store, so the run is
    refused before it starts, naming the entry.

    >>> check_int_sizes({"a": {"n": 10**5000}})
    Traceback (most recent call last):
    ...
    pytest_sacredx.errors.InvalidConfigError: Config entry 'a.n' is an integer of 5001 digits, more than Python's limit of 4300 digits for turning an integer into text or back (sys.get_int_max_str_digits()), so no store could write it. Pass it as a string (quoted), or raise the limit for the process: PYTHONINTMAXSTRDIGITS=0.
    """
    import math
    import sys

    limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
    if not limit:
        return
    smallest_bits = int((limit - 1) * math.log2(10))  # fewer bits: fewer than ``limit`` digits

    def walk(value: Any, where: str) -> None:
        if isinstance(value, int) and not isinstance(value, bool):
            if value.bit_length() > smallest_bits:
                try:
                    str(value)
                except ValueError:
                    from ..errors import InvalidConfigError

                    digits = int(value.bit_length() * math.log10(2)) + 1
                    raise InvalidConfigError(
                        int_limit_message(f"Config entry {where or 'value'!r}", digits)
                    ) from None
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{where}.{k}" if where else str(k))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, f"{where}[{i}]")

    walk(config, path)
