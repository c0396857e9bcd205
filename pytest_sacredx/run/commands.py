"""The commands every experiment has: ``print_config``, ``print_dependencies``, ``save_config`` and
``print_named_configs``, all unobserved, as in Sacred (whose users import them from
:mod:`pytest_sacredx.commands`, Sacred's ``sacred.commands``).

``python exp.py print_config with lr=0.5`` prints the config a run would get, marking what the
updates changed: in Sacred's colours on a terminal, with text markers (``~`` modified, ``+`` added,
``!`` typechanged) in a pipe or under ``NO_COLOR``.

>>> from pytest_sacredx import Experiment
>>> ex = Experiment("demo", interactive=True)
>>> @ex.config
... def cfg():
...     lr = 0.1  # learning rate
>>> @ex.main
... def main(lr):
...     return lr
>>> _ = ex.run("print_config", config_updates={"lr": 0.5}, options={"--loglevel": "ERROR"})
... # doctest: +ELLIPSIS
Configuration (~ modified, + added, ! typechanged, # doc):
~ lr = 0.5                           # learning rate
  seed = ...
"""

from __future__ import annotations

import copy
import inspect
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..config.printing import COLOR_DIRTY, ENDC, format_config, format_named_configs, use_color

if TYPE_CHECKING:
    from ..ingredient import Ingredient
    from .run import Run

__all__ = [
    "print_config",
    "print_dependencies",
    "save_config",
    "help_for_command",
    "print_named_configs",
    "make_print_named_configs",
    "print_config_of",
]


def print_config(_run: Run) -> None:
    """Print the updated configuration and exit.

    Entries changed by updates or named configs are marked: blue (~) modified, green (+) added,
    red (!) type changed; docs are dim comments.
    """
    color = use_color(sys.stdout)
    print(format_config(_run.config, _run.config_modifications, color=color))


def print_dependencies(_run: Run) -> None:
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
        color = use_color(sys.stdout)
        print("\nVersion Control:")
        for repo in repos:
            mark = (COLOR_DIRTY + "M" if color else "M") if repo.get("dirty") else " "
            end = ENDC if color and repo.get("dirty") else ""
            print(f"{mark} {repo.get('url', ''):<43}  {repo.get('commit', '')}{end}")
    print()


def save_config(_config: Mapping[str, Any], _log: Any, config_filename: str = "config.json") -> None:
    """Store the updated configuration in a file (.json, .yaml, .yml or .toml), by default
    config.json; the config entry config_filename names another one."""
    from ..config.config_files import save_config_file

    config = copy.deepcopy(dict(_config))
    config.pop("config_filename", None)
    _log.info('Saving config to "%s"', config_filename)
    save_config_file(config, config_filename)


def print_named_configs(ingredient: Ingredient) -> Callable[[], None]:
    """The ``print_named_configs`` command of ``ingredient``: its named configs and those of its
    sub-ingredients (``ingredient.name``), with their docs."""

    def print_named_configs() -> None:
        """Print the available named configs and exit."""
        named = dict(ingredient.gather_named_configs())
        print(format_named_configs(named, 2, color=use_color(sys.stdout)))

    return print_named_configs


def help_for_command(command: Any) -> str:
    """The help text of a command: its signature and docstring, as ``python exp.py help NAME``
    prints it."""
    import pydoc  # only for `help`: not worth importing with every experiment

    function = inspect.unwrap(command) if callable(command) else command
    return pydoc.plain(pydoc.text.document(function))


# Earlier names of ours, still imported by the command-line options (``-p`` prints the config).
print_config_of = print_config
make_print_named_configs = print_named_configs
