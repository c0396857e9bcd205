"""The command-line flags, where they were before they moved below the Experiment (:mod:`pytest_sacredx.run.options`).

>>> from pytest_sacredx.cli.options import cli_option
"""

from __future__ import annotations

from ..run.options import (
    BUILTIN_OPTIONS,
    DEFAULT_OPTIONS,
    CommandLineOption,
    cli_option,
    normalize_options,
)

__all__ = ["CommandLineOption", "cli_option", "DEFAULT_OPTIONS", "normalize_options", "BUILTIN_OPTIONS"]
