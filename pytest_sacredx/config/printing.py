"""The ``print_config`` tree and the named-config list, in Sacred's layout.

Each level is indented two spaces; ``__doc__`` comes first, then plain values sorted by key, then nested
dicts sorted by key. Entries that updates or named configs changed are marked: on a terminal by
Sacred's colours (blue modified, green added, red typechanged, dim docs), elsewhere — a pipe, a CI
log, ``NO_COLOR`` — by a text marker in the first column (``~`` modified, ``+`` added, ``!``
typechanged), so the legend still means something:

>>> from pytest_sacredx.config import ConfigSummary
>>> cfg = {"lr": 0.1, "opt": {"m": 0.9}, "seed": 1}
>>> print(format_config(cfg, ConfigSummary(modified={"opt", "opt.m"}, added={"lr"}), color=False))
Configuration (~ modified, + added, ! typechanged, # doc):
+ lr = 0.1
  seed = 1
~ opt:
~   m = 0.9
"""

from __future__ import annotations

import os
import pprint
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from .config_summary import ConfigSummary

__all__ = [
    "COLOR_ADDED",
    "COLOR_DIRTY",
    "COLOR_DOC",
    "COLOR_MODIFIED",
    "COLOR_TYPECHANGED",
    "ENDC",
    "ConfigEntry",
    "PathEntry",
    "format_config",
    "format_entry",
    "format_named_config",
    "format_named_configs",
    "iterate_marked",
    "legend",
    "use_color",
]

# Sacred's colours (colorama's Fore.BLUE, Fore.GREEN, Fore.RED, Style.DIM, Style.RESET_ALL).
COLOR_MODIFIED = "\033[34m"
COLOR_ADDED = "\033[32m"
COLOR_TYPECHANGED = "\033[31m"
COLOR_DIRTY = "\033[31m"
COLOR_DOC = "\033[2m"
ENDC = "\033[0m"

# The text markers that stand in for the colours where there are none.
MARK_MODIFIED = "~"
MARK_ADDED = "+"
MARK_TYPECHANGED = "!"

DOC_COLUMN = 35
_PRINTER = pprint.PrettyPrinter()


class ConfigEntry(NamedTuple):
    """One value of the tree (Sacred's ``sacred.commands.ConfigEntry``)."""

    key: str
    value: Any
    added: bool
    modified: bool
    typechanged: tuple[type, type] | None
    doc: str | None


class PathEntry(NamedTuple):
    """One non-empty dict of the tree, printed as ``key:`` (Sacred's ``sacred.commands.PathEntry``)."""

    key: str
    added: bool
    modified: bool
    typechanged: tuple[type, type] | None
    doc: str | None


def use_color(stream: Any) -> bool:
    """Colour only a terminal, and never when ``NO_COLOR`` is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def legend(color: bool) -> str:
    """``(modified, added, typechanged, doc)``, in colour or with the text markers."""
    if color:
        words = [(COLOR_MODIFIED, "modified"), (COLOR_ADDED, "added"),
                 (COLOR_TYPECHANGED, "typechanged"), (COLOR_DOC, "doc")]  # fmt: skip
        return "(" + ", ".join(f"{c}{w}{ENDC}" for c, w in words) + ")"
    return f"({MARK_MODIFIED} modified, {MARK_ADDED} added, {MARK_TYPECHANGED} typechanged, # doc)"


def _walk(d: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any, bool]]:
    """``(dotted path, value, is a non-empty dict)``: ``__doc__``, plain values, then dicts, sorted."""

    def nested(key: Any) -> bool:
        value = d[key]
        return isinstance(value, Mapping) and bool(value)

    keys = [k for k in d if k != "__doc__"]
    if "__doc__" in d:
        yield prefix + "__doc__", d["__doc__"], False
    for key in sorted((k for k in keys if not nested(k)), key=str):
        yield prefix + str(key), d[key], False
    for key in sorted((k for k in keys if nested(k)), key=str):
        path = prefix + str(key)
        yield path, d[key], True
        yield from _walk(d[key], path + ".")


def iterate_marked(
    cfg: Mapping[str, Any], summary: ConfigSummary | None
) -> Iterator[tuple[str, ConfigEntry | PathEntry]]:
    """Every entry of the printed tree with its markers, as ``(dotted path, entry)``."""
    summary = summary if summary is not None else ConfigSummary()
    for path, value, is_dict in _walk(cfg, ""):
        key = path.rpartition(".")[2]
        marks = (
            path in summary.added,
            path in summary.modified,
            summary.typechanged.get(path),
            summary.docs.get(path),
        )
        yield path, (PathEntry(key, *marks) if is_dict else ConfigEntry(key, value, *marks))


def format_entry(indent: int, entry: ConfigEntry | PathEntry, color: bool = True) -> str:
    """One line (or a multi-line ``__doc__``) of the tree, ``indent`` spaces deep."""
    pad = " " * indent
    color_code, mark = "", ""
    if entry.typechanged:
        color_code, mark = COLOR_TYPECHANGED, MARK_TYPECHANGED
    elif entry.added:
        color_code, mark = COLOR_ADDED, MARK_ADDED
    elif entry.modified:
        color_code, mark = COLOR_MODIFIED, MARK_MODIFIED
    if entry.key == "__doc__":
        color_code, mark = COLOR_DOC, ""
        text = '{}"""{}"""'.format(pad, str(entry.value).replace("\n", "\n" + pad))  # type: ignore[union-attr]
    elif isinstance(entry, ConfigEntry):
        text = f"{pad}{entry.key} = {_PRINTER.pformat(entry.value)}"
    else:
        text = f"{pad}{entry.key}:"
    if entry.doc:
        comment = f"{COLOR_DOC}# {entry.doc}{ENDC}" if color else f"# {entry.doc}"
        text = f"{text:<{DOC_COLUMN}}  {comment}" if len(text) <= DOC_COLUMN else f"{text}    {comment}"
    if color:
        return f"{color_code}{text}{ENDC}" if color_code else text
    if mark and text.startswith(" "):
        text = mark + text[1:]
    return text


def format_config(cfg: Mapping[str, Any], summary: ConfigSummary | None, *, color: bool) -> str:
    """The whole ``print_config`` text (see the module docstring)."""
    lines = [f"Configuration {legend(color)}:"]
    for path, entry in iterate_marked(cfg, summary):
        lines.append(format_entry(2 + 2 * path.count("."), entry, color))
    return "\n".join(lines)


def _doc_of(named_config: Any) -> str | None:
    """A named config's own docstring: a string given as the doc, or the object's ``__doc__`` unless
    it is merely its class's (a dict config has no doc of its own)."""
    if named_config is None or isinstance(named_config, str):
        return named_config
    doc = getattr(named_config, "__doc__", None)
    if doc is None or doc == type(named_config).__doc__:
        return None
    return str(doc)


def format_named_config(indent: int, path: str, named_config: Any, color: bool = True) -> str:
    """One named config and its doc: ``   # doc`` for one line, a ``\"\"\"`` block for several."""
    pad = " " * indent
    text = path
    doc = _doc_of(named_config)
    if doc is not None:
        if doc.strip().count("\n") == 0:
            comment = f"   # {doc.strip()}"
        else:
            body = doc.replace("\n", "\n" + pad)
            comment = f'\n{pad}  """{body}"""'
        text += f"{COLOR_DOC}{comment}{ENDC}" if color else comment
    return pad + text


def format_named_configs(named: Mapping[str, Any], indent: int = 2, *, color: bool = False) -> str:
    """The ``print_named_configs`` text for ``{name: named config, or its doc as a string}``."""
    doc_word = f"{COLOR_DOC}doc{ENDC}" if color else "# doc"  # the plain legend print_config has
    lines = [f"Named Configurations ({doc_word}):"]
    for path, named_config in named.items():
        lines.append(format_named_config(indent, path, named_config, color))
    if len(lines) < 2:
        lines.append(" " * indent + "No named configs")
    return "\n".join(lines)
