"""Sacred's ``sacred.utils``: the exceptions, their formatting, ``apply_backspaces_and_linefeeds`` and
dotted-path helpers.

>>> from pytest_sacredx.utils import apply_backspaces_and_linefeeds
>>> apply_backspaces_and_linefeeds("10%\\r50%\\r100%\\n")
'100%\\n'
"""

from __future__ import annotations

from .config.paths import (
    convert_to_nested_dict,
    get_by_dotted_path,
    is_prefix,
    iter_prefixes,
    iterate_flattened,
    join_paths,
    recursive_update,
    set_by_dotted_path,
)
from .errors import (
    CircularDependencyError,
    ConfigAddedError,
    ConfigError,
    InvalidConfigError,
    MissingConfigError,
    NamedConfigNotFoundError,
    ObserverError,
    SacredError,
    SacredInterrupt,
    SacredxError,
    SignatureError,
    TimeoutInterrupt,
)
from .run.capture import apply_backspaces_and_linefeeds
from .run.tracebacks import format_filtered_stacktrace, format_sacred_error

__all__ = [
    "apply_backspaces_and_linefeeds",
    "CircularDependencyError",
    "ConfigAddedError",
    "ConfigError",
    "InvalidConfigError",
    "MissingConfigError",
    "NamedConfigNotFoundError",
    "ObserverError",
    "SacredError",
    "SacredInterrupt",
    "SacredxError",
    "SignatureError",
    "TimeoutInterrupt",
    "convert_to_nested_dict",
    "format_filtered_stacktrace",
    "format_sacred_error",
    "get_by_dotted_path",
    "is_prefix",
    "iter_prefixes",
    "iterate_flattened",
    "join_paths",
    "recursive_update",
    "set_by_dotted_path",
]
