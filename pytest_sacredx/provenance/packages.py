"""Package dependencies of an experiment (``"name==version"``), through ``importlib.metadata`` only.

Sacred used ``pkg_resources`` (slow to import, deprecated, gone when setuptools is absent) and always
imported numpy to record it. Here import names are mapped to distributions as
``importlib.metadata.packages_distributions()`` maps them — computed once per process, since it reads
every installed distribution's file list, and with plain string work instead of a path object per
listed file and an email parse per distribution — and versions are looked up once per distribution. numpy is added
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


_import_map: list[Mapping[str, list[str]]] = []  # [import name -> distribution names] once computed


# The map reads the file list of every installed distribution: once per process, and the lock keeps
# two threads from both paying it.
def _packages_distributions() -> Mapping[str, list[str]]:
    if not _import_map:
        with _lock:
            if not _import_map:
                _import_map.append(_scan_import_names())
    return _import_map[0]


def _scan_import_names() -> dict[str, list[str]]:
    """What ``importlib.metadata.packages_distributions()`` returns, from the same files: each
    distribution's ``top_level.txt``, else the top-level names of the ``.py`` files its ``RECORD``
    lists; named by its metadata's ``Name``. The standard library builds a path object for each of
    the ~15,000 files a venv's ``RECORD`` files list and parses each ``METADATA`` with the email
    package: half a second of a pytest session's start here, for a map asked a handful of names."""
    import importlib.metadata

    out: dict[str, list[str]] = {}
    for dist in importlib.metadata.distributions():
        tops: Iterable[str] = (dist.read_text("top_level.txt") or "").split()
        if not tops:
            tops = _inferred_top_levels(dist)
        name = None
        for top in tops:
            if name is None:
                name = _metadata_name(dist)
            out.setdefault(top, []).append(name)  # type: ignore[arg-type]
    return out


def _inferred_top_levels(dist: Any) -> set[str]:
    """The top-level names of the ``.py`` files a distribution lists, as ``PackagePath`` sees them."""
    text = dist.read_text("RECORD")
    if not text:  # an egg-info distribution: its own file list, rare enough for the slow way
        return {
            f.parts[0] if len(f.parts) > 1 else f.with_suffix("").name
            for f in dist.files or ()
            if f.suffix == ".py"
        }
    import csv
    from pathlib import PurePosixPath

    tops: set[str] = set()
    for row in csv.reader(text.splitlines()):
        if not row or not row[0].endswith(".py"):
            continue
        parts = row[0].split("/")
        if "" in parts or "." in parts:  # a root, doubled or dotted separators: normalize as a path
            path = PurePosixPath(row[0])
            if path.suffix == ".py":
                tops.add(path.parts[0] if len(path.parts) > 1 else path.with_suffix("").name)
            continue
        last = parts[-1]
        if len(last) > 3:  # "x.py"; a file named ".py" has no suffix
            tops.add(parts[0] if len(parts) > 1 else last[:-3])
    return tops


def _metadata_name(dist: Any) -> str | None:
    """``dist.metadata["Name"]`` from the header lines; the email parser only for unusual headers."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line:
            break  # end of the headers
        key, sep, value = line.partition(":")
        if sep and key.lower() == "name":
            follows = lines[i + 1] if i + 1 < len(lines) else ""
            if follows[:1] in (" ", "\t") or not value.strip():
                break  # folded or empty: let the email package decide
            return value.lstrip(" \t")
    meta = dist.metadata
    return meta["Name"] if meta else None


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
