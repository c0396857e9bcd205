"""Sacred's ``sacred.utils``: the exceptions, their formatting, ``apply_backspaces_and_linefeeds``,
dotted-path helpers and small helpers about classes, names, modules and versions.

>>> from pytest_sacredx.utils import apply_backspaces_and_linefeeds
>>> apply_backspaces_and_linefeeds("10%\\r50%\\r100%\\n")
'100%\\n'
>>> convert_camel_case_to_snake_case("getHTTPResponseCode")
'get_http_response_code'
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from .config.paths import (
    PATHCHANGE,
    convert_to_nested_dict,
    get_by_dotted_path,
    iter_prefixes,
    iterate_flattened,
    iterate_flattened_separately,
    join_paths,
    recursive_update,
    rel_path,
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
from .optional import module_exists, module_is_in_cache, modules_exist
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
    "PATHCHANGE",
    "PYTHON_IDENTIFIER",
    "convert_camel_case_to_snake_case",
    "convert_to_nested_dict",
    "get_inheritors",
    "get_package_version",
    "iterate_flattened_separately",
    "module_exists",
    "module_is_in_cache",
    "modules_exist",
    "parse_version",
    "rel_path",
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

PYTHON_IDENTIFIER = re.compile(r"^[a-zA-Z_][_a-zA-Z0-9]*$")


def get_inheritors(cls: type) -> set[type]:
    """Every class that inherits from ``cls``, directly or not."""
    found: set[type] = set()
    todo: list[type] = [cls]
    while todo:
        parent = todo.pop()
        children: list[type] = parent.__subclasses__()
        for child in children:
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def convert_camel_case_to_snake_case(name: str) -> str:
    """``CamelCase`` → ``camel_case``; runs of capitals count as one word (``HTTPCode`` → ``http_code``)."""
    words = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", words).lower()


def parse_version(version_string: str) -> Any:
    """A comparable version (``packaging.version.Version``)."""
    from packaging.version import parse

    return parse(version_string)


def get_package_version(name: str) -> Any:
    """The installed version of a distribution or module ``name``, as :func:`parse_version` gives it."""
    from importlib import metadata

    try:
        text = metadata.version(name)
    except metadata.PackageNotFoundError:
        text = importlib.import_module(name).__version__
    return parse_version(text)


def is_prefix(pre_path: str, path: str) -> bool:
    """Whether ``pre_path`` is a parent path of ``path`` (``"a"`` of ``"a.b"``; not of ``"a"`` itself).

    Sacred's strict meaning; the config layer's ``config.paths.is_prefix`` also counts the path itself.
    """
    pre_path, path = pre_path.strip("."), path.strip(".")
    return not pre_path or path.startswith(pre_path + ".")
