"""The ``print_config`` tree, in Sacred's layout, with colours only for terminals.

Each level is indented two spaces; ``__doc__`` comes first, then plain values sorted by key, then nested
dicts sorted by key. Entries changed by fixed values are coloured (blue modified, green added,
red typechanged) and docs are grey comments.

>>> print(format_config({"lr": 0.1, "opt": {"m": 0.9}}, None, color=False))
Configuration (modified, added, typechanged, doc):
  lr = 0.1
  opt:
    m = 0.9
"""

from __future__ import annotations

import os
import pprint
from collections.abc import Iterator, Mapping
from typing import Any

from .config_summary import ConfigSummary

__all__ = ["format_config", "format_named_configs", "use_color"]

BLUE = "\033[94m"
GREEN = "\033[92m"
RED = "\033[91m"
GREY = "\033[90m"
ENDC = "\033[0m"

DOC_COLUMN = 35
_PRINTER = pprint.PrettyPrinter()


def use_color(stream: Any) -> bool:
    """Colour only a terminal, and never when ``NO_COLOR`` is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _paint(text: str, color: str, on: bool) -> str:
    return f"{color}{text}{ENDC}" if on and color else text


def format_config(config: Mapping[str, Any], summary: ConfigSummary | None, *, color: bool) -> str:
    """Return the printed config tree (see the module docstring)."""
    legend = ", ".join(
        _paint(word, c, color)
        for word, c in (("modified", BLUE), ("added", GREEN), ("typechanged", RED), ("doc", GREY))
    )
    lines = [f"Configuration ({legend}):"]
    for path, key, value, is_dict in _walk(config, ""):
        lines.append(_format_entry(path, key, value, is_dict, summary, color))
    return "\n".join(lines)


def _walk(d: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, str, Any, bool]]:
    def nested(key: Any) -> bool:
        value = d[key]
        return isinstance(value, Mapping) and bool(value)

    keys = [k for k in d if k != "__doc__"]
    if "__doc__" in d:
        yield prefix + "__doc__", "__doc__", d["__doc__"], False
    for key in sorted((k for k in keys if not nested(k)), key=str):
        yield prefix + str(key), str(key), d[key], False
    for key in sorted((k for k in keys if nested(k)), key=str):
        path = prefix + str(key)
        yield path, str(key), d[key], True
        yield from _walk(d[key], path + ".")


def _format_entry(
    path: str, key: str, value: Any, is_dict: bool, summary: ConfigSummary | None, color: bool
) -> str:
    indent = " " * (2 + 2 * path.count("."))
    marker = ""
    doc = None
    if summary is not None:
        if path in summary.typechanged:
            marker = RED
        elif path in summary.added:
            marker = GREEN
        elif path in summary.modified:
            marker = BLUE
        doc = summary.docs.get(path)
    if key == "__doc__":
        marker = GREY
        text = f'{indent}"""{str(value).replace(chr(10), chr(10) + indent)}"""'
    elif is_dict:
        text = f"{indent}{key}:"
    else:
        text = f"{indent}{key} = {_PRINTER.pformat(value)}"
    if doc:
        comment = _paint(f"# {doc}", GREY, color)
        text = (
            f"{text:<{DOC_COLUMN}}  {comment}"
            if len(text) <= DOC_COLUMN
            else f"{text}    {comment}"
        )
    return _paint(text, marker, color)


def format_named_configs(named: Mapping[str, Any], *, color: bool = False, indent: int = 2) -> str:
    """List named configs with their docs: ``{"fast": "fewer epochs", "big": None}``.

    The values are docs (``str`` or ``None``); objects with a ``__doc__`` (config scopes) work too.
    """
    pad = " " * indent
    lines = [f"Named Configurations ({_paint('doc', GREY, color)}):"]
    for name, entry in named.items():
        doc = entry if isinstance(entry, str) or entry is None else getattr(entry, "__doc__", None)
        line = pad + name
        if doc and doc.strip():
            if "\n" in doc.strip():
                body = doc.replace("\n", "\n" + pad + "  ")
                line += "\n" + _paint(f'{pad}  """{body}"""', GREY, color)
            else:
                line += _paint(f"   # {doc.strip()}", GREY, color)
        lines.append(line)
    if not named:
        lines.append(pad + "No named configs")
    return "\n".join(lines)
