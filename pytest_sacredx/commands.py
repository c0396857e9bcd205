"""Sacred's ``sacred.commands``: the built-in commands and the helpers that format their output.

The commands live in :mod:`pytest_sacredx.run.commands`, the tree's layout and colours in
:mod:`pytest_sacredx.config.printing`. Sacred's private helpers keep their names and, like Sacred's,
always colour (``print_config`` itself colours only a terminal):

>>> from pytest_sacredx.commands import ConfigEntry, _format_entry
>>> _format_entry(2, ConfigEntry("lr", 0.5, False, True, None, None))
'\\x1b[34m  lr = 0.5\\x1b[0m'
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .config.config_summary import ConfigSummary
from .config.printing import (  # noqa: F401 - Sacred's names, imported from here by its users
    COLOR_ADDED,
    COLOR_DIRTY,
    COLOR_DOC,
    COLOR_MODIFIED,
    COLOR_TYPECHANGED,
    ENDC,
    ConfigEntry,
    PathEntry,
    format_config,
    format_entry,
    format_named_config,
    format_named_configs,
    iterate_marked,
    legend,
)
from .run.commands import (  # noqa: F401 - as above
    help_for_command,
    print_config,
    print_dependencies,
    print_named_configs,
    save_config,
)

__all__ = [
    "print_config",
    "print_dependencies",
    "save_config",
    "help_for_command",
    "print_named_configs",
]

LEGEND = legend(color=True)


def _iterate_marked(
    cfg: Mapping[str, Any], config_mods: ConfigSummary
) -> Iterator[tuple[str, ConfigEntry | PathEntry]]:
    return iterate_marked(cfg, config_mods)


def _format_entry(indent: int, entry: ConfigEntry | PathEntry) -> str:
    return format_entry(indent, entry, color=True)


def _format_config(cfg: Mapping[str, Any], config_mods: ConfigSummary) -> str:
    return format_config(cfg, config_mods, color=True)


def _format_named_config(indent: int, path: str, named_config: Any) -> str:
    return format_named_config(indent, path, named_config, color=True)


def _format_named_configs(named_configs: Mapping[str, Any], indent: int = 2) -> str:
    return format_named_configs(named_configs, indent, color=True)
