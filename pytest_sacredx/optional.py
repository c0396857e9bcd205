"""Optional packages, looked up lazily: Sacred's ``sacred.optional`` names (``has_numpy``, ``np`` …).

Importing this module imports nothing optional. ``has_<name>`` asks the import system whether the package
could be imported (without importing it); ``np``, ``yaml``, ``pandas`` import their package on first
attribute access, and are ``None`` when it is missing. So code written for Sacred
(``import sacred.optional as opt; if opt.has_numpy: opt.np.array(...)``) works unchanged and
``import pytest_sacredx`` stays cheap.

>>> from pytest_sacredx import optional as opt
>>> opt.optional_import("json")[0], opt.optional_import("surely_not_a_package")
(True, (False, None))
>>> opt.modules_exist("json", "os"), opt.module_is_in_cache("json")
(True, True)
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any

__all__ = [
    "get_tensorflow",
    "module_exists",
    "module_is_in_cache",
    "modules_exist",
    "optional_import",
]
# Besides these, the lazy attributes of __getattr__: has_numpy, np, has_yaml, yaml, has_pandas, pandas,
# has_sqlalchemy, has_mako, has_tinydb, has_tensorflow and libc.


def optional_import(*package_names: str) -> tuple[bool, ModuleType | None]:
    """Import every package named; return ``(True, first module)``, or ``(False, None)`` if one is missing."""
    try:
        packages = [importlib.import_module(name) for name in package_names]
    except ImportError:
        return False, None
    return True, packages[0]


def module_is_in_cache(modname: str) -> bool:
    """Whether ``modname`` is imported already (so using it costs nothing more)."""
    return modname in sys.modules


def module_exists(modname: str) -> bool:
    """Whether ``modname`` can be imported, without importing it (its parent packages may be imported).

    A module whose import is broken (a missing parent, a ``__spec__`` of None) counts as absent.
    """
    if module_is_in_cache(modname):
        return sys.modules[modname] is not None
    try:
        return importlib.util.find_spec(modname) is not None
    except (ImportError, ValueError, AttributeError):
        return False


def modules_exist(*modnames: str) -> bool:
    """Whether every module named can be imported (see :func:`module_exists`)."""
    return all(module_exists(m) for m in modnames)


def get_tensorflow() -> Any:
    """TensorFlow's v1 API (``tensorflow.compat.v1``), which is what Sacred's ``stflow`` helpers use."""
    import tensorflow.compat.v1 as tf

    return tf


def _libc() -> Any:
    # Flushing C stdio buffers before fd capture needs libc; where ctypes cannot find it, None.
    try:
        import ctypes
        import ctypes.util
    except ImportError:  # pragma: no cover - Python built without ctypes
        return None
    try:
        return ctypes.cdll.msvcrt  # type: ignore[attr-defined]  # Windows
    except (OSError, AttributeError):
        pass
    name = ctypes.util.find_library("c")
    if name is None:  # pragma: no cover - no libc found
        return None
    try:
        return ctypes.cdll.LoadLibrary(name)
    except OSError:  # pragma: no cover - libc found but not loadable
        return None


# name -> the modules that must all be importable
_HAS = {
    "has_numpy": ("numpy",),
    "has_yaml": ("yaml",),
    "has_pandas": ("pandas",),
    "has_sqlalchemy": ("sqlalchemy",),
    "has_mako": ("mako",),
    "has_tinydb": ("tinydb", "tinydb_serialization", "hashfs"),
    "has_tensorflow": ("tensorflow",),
}
# name -> the module it imports on first use (None when that is not installed)
_MODULES = {"np": "numpy", "yaml": "yaml", "pandas": "pandas"}


def __getattr__(name: str) -> Any:
    if name in _HAS:
        value: Any = modules_exist(*_HAS[name])
    elif name in _MODULES:
        value = optional_import(_MODULES[name])[1]
    elif name == "libc":
        value = _libc()
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # answered once; later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HAS) | set(_MODULES) | {"libc"})
