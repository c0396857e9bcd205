"""The built-in commands, where they were before they moved below the Experiment (:mod:`pytest_sacredx.run.commands`).

>>> from pytest_sacredx.cli.commands import print_config
"""

from __future__ import annotations

from ..run.commands import (
    make_print_named_configs,
    print_config,
    print_config_of,
    print_dependencies,
    save_config,
)

__all__ = ["print_config", "print_dependencies", "save_config", "make_print_named_configs", "print_config_of"]
