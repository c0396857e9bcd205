"""Package dependencies of an experiment (``"name==version"``), through ``importlib.metadata`` only.

Sacred used ``pkg_resources`` (slow to import, deprecated, gone when setuptools is absent) and always
imported numpy to record it. Here import names are mapped to distributions with
``importlib.metadata.packages_distributions()`` — computed once per process, since it reads every
installed distribution's file list — and versions are looked up once per distribution. numpy is added
whenever it is installed, as Sacred adds it, but read from its metadata instead of being imported.

``SETTINGS.DISCOVER_DEPENDENCIES`` picks what counts:

- ``imported`` — top-level packages of the non-local modules the globals reference (module objects,
  and the modules that define the functions, classes and objects in them);
- ``sys`` — every top-level module in ``sys.modules``;
- ``pkg`` — every installed distribution;
- ``none`` — nothing.

The standard library, builtins and local modules (files under ``base_dir``) are never dependencies;
neither is anything whose version cannot be found.

>>> import attrs
>>> deps = gather_dependencies({"attrs": attrs}, base_dir=".", mode="imported")
>>> [d.to_json() for d in deps if d.name == "attrs"]  # doctest: +ELLIPSIS
['attrs==...']
"""

from __future__ import annotations

import functools
import os
import re
import sys
import threading
import types
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from ..errors import DiscoveryModeError
from ..settings import SETTINGS
from .sources import is_local_source, iter_referenced_modules

__all__ = [
    "DEPENDENCY_DISCOVERY_MODES",
    "PEP440_VERSION_PATTERN",
    "DependencyMode",
    "PackageDependency",
    "clear_package_cache",
    "distributions_of",
    "gather_dependencies",
]

DependencyMode = Literal["imported", "sys", "pkg", "none"]
DEPENDENCY_DISCOVERY_MODES: tuple[str, ...] = ("imported", "sys", "pkg", "none")

_lock = threading.Lock()

#: A public version identifier as PEP 440 spells it: ``[N!]N(.N)*[{a|b|c|rc}N][.postN][.devN]``.
#: ``add_package_dependency`` refuses versions it does not match.
#:
#: >>> bool(PEP440_VERSION_PATTERN.match("1!2.0rc1.post3.dev4")), PEP440_VERSION_PATTERN.match("v1")
#: (True, None)
PEP440_VERSION_PATTERN = re.compile(
    r"^(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*(?:(?:a|b|c|rc)[0-9]+)?(?:\.post[0-9]+)?(?:\.dev[0-9]+)?$"
)


@attrs.frozen(order=True)
class PackageDependency:
    """An installed package and its version, stored as ``"name==version"``.

    >>> PackageDependency("attrs", "23.1.0").to_json()
    'attrs==23.1.0'
    >>> PackageDependency("mylib", None).to_json()
    'mylib==<unknown>'
    """

    name: str
    version: str | None = None

    def to_json(self) -> str:
        return f"{self.name}=={self.version or '<unknown>'}"

    @classmethod
    def create(cls, module: types.ModuleType) -> PackageDependency:
        """The dependency a module stands for: its distribution and version when installed as one,
        else the module's name and the version it declares (``__version__``, ``VERSION``, ``version``).

        >>> import attr
        >>> PackageDependency.create(attr).name
        'attrs'
        """
        top = module.__name__.split(".", 1)[0]
        dists = distributions_of(top)
        if dists:
            dist = dists[0]
            return cls(dist, _dist_version(dist))
        return cls(top, cls.get_version_heuristic(module))

    @staticmethod
    def get_version_heuristic(module: types.ModuleType) -> str | None:
        """A version the module declares about itself, or None (Sacred's fallback for unpackaged code).

        >>> import types
        >>> m = types.ModuleType("m"); m.VERSION = (1, 2)
        >>> PackageDependency.get_version_heuristic(m)
        '1.2'
        """
        for attr in ("__version__", "VERSION", "version"):
            value = getattr(module, attr, None)
            if isinstance(value, str):
                return value
            if isinstance(value, tuple) and value:
                return ".".join(str(p) for p in value)
        return None


def gather_dependencies(
    globs: Mapping[str, Any],
    base_dir: str,
    mode: DependencyMode | str | None = None,
) -> set[PackageDependency]:
    """The package dependencies of the module whose globals are ``globs`` (see the module docstring).

    ``mode`` defaults to ``SETTINGS.DISCOVER_DEPENDENCIES`` *at call time*. In every mode, numpy is
    added when it is installed, as Sacred adds it (runs seed numpy's RNG); it is not imported for that.

    >>> "os" in {d.name for d in gather_dependencies({"os": os}, ".", mode="imported")}
    False
    """
    if mode is None:
        mode = SETTINGS.DISCOVER_DEPENDENCIES
    if mode not in DEPENDENCY_DISCOVERY_MODES:
        raise DiscoveryModeError(
            f"SETTINGS.DISCOVER_DEPENDENCIES is {mode!r}; expected one of "
            f"{', '.join(map(repr, DEPENDENCY_DISCOVERY_MODES))}"
        )
    if mode == "none":
        deps: set[PackageDependency] = set()
    elif mode == "pkg":
        deps = {PackageDependency(name, version) for name, version in _installed().items()}
    else:
        if mode == "imported":
            modules: Iterable[tuple[str, Any]] = iter_referenced_modules(globs)
        else:
            modules = list(sys.modules.items())
        deps = _from_modules(modules, os.path.realpath(base_dir))
    numpy = _numpy_dependency()
    if numpy is not None:
        deps.add(numpy)
    return deps


def _numpy_dependency() -> PackageDependency | None:
    """numpy, whenever it is installed, as Sacred records it (runs seed its global RNG, so its version
    is part of what reproduces a run) — read from its metadata, never by importing it."""
    np = sys.modules.get("numpy")
    if isinstance(np, types.ModuleType):
        dep = PackageDependency.create(np)
        return dep if dep.version is not None else None
    version = _dist_version("numpy")
    return PackageDependency("numpy", version) if version is not None else None


def distributions_of(import_name: str) -> list[str]:
    """Names of the installed distributions that provide the top-level import ``import_name``.

    >>> distributions_of("attr")
    ['attrs']
    >>> distributions_of("no_such_module_here")
    []
    """
    found = _packages_distributions().get(import_name)
    if found:
        return list(found)
    # Editable installs often hide their packages behind an import hook that packages_distributions()
    # cannot see; a distribution named like the module is the next best answer.
    name = _dist_name(import_name)
    return [name] if name is not None else []


def clear_package_cache() -> None:
    """Forget the import-name map and the versions (after installing packages mid-process)."""
    with _lock:
        _import_map.clear()
    _dist_version.cache_clear()
    _dist_name.cache_clear()
    _installed.cache_clear()


def _from_modules(modules: Iterable[tuple[str, Any]], base: str) -> set[PackageDependency]:
    deps: set[PackageDependency] = set()
    tops: set[str] = set()
    for modname, mod in modules:
        top = modname.split(".", 1)[0]
        if top in tops or _is_stdlib(top):
            continue
        if not isinstance(mod, types.ModuleType):
            continue
        filename = getattr(mod, "__file__", None)
        if isinstance(filename, str) and filename and is_local_source(filename, modname, base):
            continue  # local code is recorded as a source, not as a package
        tops.add(top)
        top_mod = sys.modules.get(top)
        dists = distributions_of(top)
        if dists:
            # A namespace (`google`) can come from several distributions; record each of them.
            deps.update(PackageDependency(d, _dist_version(d)) for d in dists)
        elif isinstance(top_mod, types.ModuleType) and not top.startswith("_"):
            deps.add(PackageDependency(top, PackageDependency.get_version_heuristic(top_mod)))
    return {d for d in deps if d.version is not None}


def _is_stdlib(top: str) -> bool:
    return (
        top in sys.stdlib_module_names
        or top in sys.builtin_module_names
        or top in ("__main__", "__mp_main__", "")
    )


_import_map: list[Mapping[str, list[str]]] = []  # [packages_distributions()] once computed


# packages_distributions() reads the file list of every installed distribution (~70 ms for ~130 of
# them): once per process, and the lock keeps two threads from both paying it.
def _packages_distributions() -> Mapping[str, list[str]]:
    if not _import_map:
        with _lock:
            if not _import_map:
                import importlib.metadata

                _import_map.append(importlib.metadata.packages_distributions())
    return _import_map[0]


@functools.cache
def _dist_version(dist: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None


@functools.cache
def _dist_name(import_name: str) -> str | None:
    import importlib.metadata

    if import_name.startswith("_"):
        return None
    try:
        dist = importlib.metadata.distribution(import_name)
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None
    name = dist.metadata["Name"] if dist.metadata else None
    return name or None


@functools.cache
def _installed() -> dict[str, str]:
    import importlib.metadata

    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():  # sys.path order: the first one is what imports
        name = dist.metadata["Name"] if dist.metadata else None
        if name and name not in found and dist.version:
            found[name] = dist.version
    return found
