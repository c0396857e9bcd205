"""Sacred's ``sacred.config.captured_function``: :func:`create_captured_function`.

A captured function looks up the active run when it is called, so it lives in the run layer
(``pytest_sacredx.run.captured``); this module gives it Sacred's import path without the config
layer importing the run layer at import time.

>>> from pytest_sacredx.config.captured_function import create_captured_function
>>> create_captured_function(lambda a=1: a)()
1
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_captured_function"]


def create_captured_function(function: Any, prefix: str | None = None) -> Any:
    """``function`` as a captured function (its free parameters filled from the config when called);
    a captured function is returned as it is."""
    from ..run.captured import create_captured_function as create

    return create(function, prefix=prefix)
