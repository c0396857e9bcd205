"""The built-in commands every experiment has: ``print_config``, ``print_dependencies``,
``save_config`` and ``print_named_configs`` (all unobserved, as in Sacred).

>>> # python hello_config.py print_config with recipient=you
"""

from __future__ import annotations

import copy
import sys
from typing import Any

__all__ = ["print_config", "print_dependencies", "save_config", "make_print_named_configs", "print_config_of"]


def print_config_of(run: Any) -> None:
    from ..config.printing import format_config, use_color

    print(format_config(run.config, run.config_modifications, color=use_color(sys.stdout)))


def print_config(_run: Any) -> None:
    """Print the updated configuration and exit.

    Entries are marked by colour (on a terminal): modified in blue, added in green, type changed in red.
    """
    print_config_of(_run)


def print_dependencies(_run: Any) -> None:
    """Print the detected source files, package dependencies and version control state."""
    info = _run.experiment_info
    print("Dependencies:")
    for dep in info.get("dependencies", []):
        name, _, version = dep.partition("==")
        print(f"  {name:<20} == {version}")
    print("\nSources:")
    for source, digest in info.get("sources", []):
        print(f"  {source:<43}  {digest}")
    repos = info.get("repositories", [])
    if repos:
        print("\nVersion Control:")
        for repo in repos:
            mark = "M" if repo.get("dirty") else " "
            print(f"{mark} {repo.get('url', ''):<43}  {repo.get('commit', '')}")
    print()


def save_config(_config: Any, _log: Any, config_filename: str = "config.json") -> None:
    """Store the updated configuration in a file (.json, .yaml, .yml or .toml)."""
    from ..config.config_files import save_config_file

    config = copy.deepcopy(_config)
    config.pop("config_filename", None)
    _log.info("Saving config to %s", config_filename)
    save_config_file(dict(config), config_filename)


def make_print_named_configs(ingredient: Any) -> Any:
    """``print_named_configs`` bound to one experiment."""

    def print_named_configs(_run: Any) -> None:
        """Print the available named configs and exit."""
        from ..config.printing import format_named_configs

        named = {}
        for name, cfg in ingredient.gather_named_configs():
            doc = getattr(cfg, "__doc__", None) if not isinstance(cfg, dict) else None
            if doc and type(cfg).__doc__ == doc:
                doc = None
            named[name] = (doc or "").strip().split("\n")[0]
        print(format_named_configs(named))

    return print_named_configs
