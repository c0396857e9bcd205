"""The config layer: scopes, dicts, files, dotted updates, safe value parsing and printing.

It knows nothing of runs or experiments. Sacred users import the same names from here:

>>> from pytest_sacredx.config import ConfigDict
>>> ConfigDict({"lr": 0.1})(fixed={"lr": 1.0})
ConfigSummary({'lr': 1.0}, added=set(), modified={'lr'}, typechanged={}, docs={})
"""

from __future__ import annotations

from .config_dict import ConfigDict
from .config_scope import ConfigScope
from .custom_containers import ReadOnlyDict, ReadOnlyList, make_read_only
from .files import load_config_file, save_config_file
from .summary import ConfigSummary

__all__ = [
    "ConfigDict",
    "ConfigScope",
    "ConfigSummary",
    "ReadOnlyDict",
    "ReadOnlyList",
    "load_config_file",
    "make_read_only",
    "save_config_file",
]
