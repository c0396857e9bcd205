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

__all__ = ["is_update", "parse_update", "parse_value"]

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
    if strict or SETTINGS.COMMAND_LINE.STRICT_PARSING:
        shown = s if len(s) <= 60 else s[:57] + "..."
        raise UpdateSyntaxError(
            f"Cannot parse value {shown!r}: it is not a Python literal (number, quoted string, list, "
            f"tuple, dict, True/False/None); quote it to pass a string, e.g. {repr(shown)!r}"
        )
    return s


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
    return key, parse_value(raw)
