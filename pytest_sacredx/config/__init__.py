"""The config layer: scopes, dicts, files, dotted updates, safe value parsing and printing.

It knows nothing of runs or experiments. Sacred users import the same names from here:

>>> from pytest_sacredx.config import ConfigDict
>>> ConfigDict({"lr": 0.1})(fixed={"lr": 1.0})
ConfigSummary({'lr': 1.0}, added=set(), modified={'lr'}, typechanged={}, docs={})
"""

from __future__ import annotations

from typing import Any

from .config_dict import ConfigDict
from .config_files import load_config_file, save_config_file
from .config_scope import ConfigScope, chain_evaluate_config_scopes
from .config_summary import ConfigSummary
from .custom_containers import ReadOnlyDict, ReadOnlyList, make_read_only
from .utils import dogmatize, undogmatize

__all__ = [
    "chain_evaluate_config_scopes",
    "create_captured_function",
    "dogmatize",
    "undogmatize",
    "ConfigDict",
    "ConfigScope",
    "ConfigSummary",
    "ReadOnlyDict",
    "ReadOnlyList",
    "load_config_file",
    "make_read_only",
    "save_config_file",
]


def __getattr__(name: str) -> Any:
    # Captured functions belong to the run layer (they find the active run); Sacred users import
    # them from here.
    if name == "create_captured_function":
        from ..run.captured import create_captured_function

        return create_captured_function
    raise AttributeError(f"module 'pytest_sacredx.config' has no attribute {name!r}")
