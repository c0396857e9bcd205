"""pytest-sacredx: Sacred's experiment API, rebuilt as a pytest plugin.

Switch from Sacred by changing one import::

    from pytest_sacredx import Experiment   # was: from sacred import Experiment

Run experiments as scripts (``python exp.py with gamma=0.7 -F runs``) or as parametrized pytest cases
(``pytest exp.py --exp-config gamma=0.1,0.7``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .experiment import Experiment
    from .ingredient import Ingredient
    from .run.options import cli_option
    from .settings import SETTINGS

__author__ = "pytest-sacredx developers"
__author_email__ = ""
__url__ = "https://github.com/pytest-sacredx/pytest-sacredx"

__all__ = [
    "Experiment",
    "Ingredient",
    "observers",
    "SETTINGS",
    "cli_option",
    "host_info_gatherer",
    "host_info_getter",
    "__version__",
]


#: the public names and the modules that define them, imported on first use: a command that only reads
#: stores (``sacredx runs``, every subpackage import) does not pay for the experiment machinery
_LAZY = {
    "Experiment": ".experiment",
    "Ingredient": ".ingredient",
    "cli_option": ".run.options",
    "SETTINGS": ".settings",
}


def __getattr__(name: str) -> Any:
    # Loaded on first use: host_info and the observers package are not needed to define an experiment.
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    if name in ("host_info_gatherer", "host_info_getter"):
        from . import host_info

        return getattr(host_info, name)
    if name == "observers":
        import importlib

        return importlib.import_module(".observers", __name__)
    raise AttributeError(f"module 'pytest_sacredx' has no attribute {name!r}")
