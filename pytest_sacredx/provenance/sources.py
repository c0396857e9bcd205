"""Source files of an experiment: which local files it runs, their md5 and their git state.

Discovery starts from the globals of the module that creates the experiment (Sacred's rule) and follows
``SETTINGS.DISCOVER_SOURCES``:

- ``imported`` — the modules the globals reference (module objects, and the modules that define the
  functions, classes and objects in them), with their parent packages, whose files lie under
  ``base_dir`` *and* whose path relative to ``base_dir`` spells the dotted module name;
- ``sys`` — every module in ``sys.modules`` that is local in the same sense;
- ``dir`` — every ``*.py`` below ``base_dir`` (hidden directories, virtualenvs and site-packages skipped);
- ``none`` — nothing but the main file.

The main file (``globs["__file__"]``) is always a source. Digests are cached by (path, mtime, size), so
re-discovering the same sources costs a ``stat`` per file.

>>> import pytest_sacredx.provenance.sources as s
>>> srcs = s.gather_sources({"__file__": s.__file__, "s": s}, base_dir=".", mode="none")
>>> [src.to_json(".")[0].endswith("sources.py") for src in srcs]
[True]
"""

from __future__ import annotations

import os
import sys
import threading
import types
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

import attrs

from ..errors import DiscoveryModeError, SourceNotFoundError
from ..settings import SETTINGS
from .git import git_info

__all__ = [
    "SOURCE_DISCOVERY_MODES",
    "SOURCE_EXTENSIONS",
    "Source",
    "SourceMode",
    "gather_sources",
    "get_digest",
    "get_py_file_if_possible",
    "is_local_source",
    "iter_referenced_modules",
]

SourceMode = Literal["imported", "sys", "dir", "none"]
SOURCE_DISCOVERY_MODES: tuple[str, ...] = ("imported", "sys", "dir", "none")
SOURCE_EXTENSIONS: tuple[str, ...] = (".py", ".pyx", ".so", ".pyd", ".ipynb")

# Directories that `dir` mode never enters: caches, build trees of tools, installed packages.
_SKIPPED_DIRS = frozenset({"__pycache__", "site-packages", "dist-packages", "node_modules"})

# Never sources: the main module is added from ``__file__``; builtins has no file.
_SKIPPED_MODULES = frozenset({"__main__", "__mp_main__", "builtins"})

_digest_lock = threading.Lock()
_digests: dict[str, tuple[int, int, str]] = {}  # path -> (mtime_ns, size, md5); one entry per file


def get_digest(filename: str) -> str:
    """Return the md5 hex digest of a file's contents (Sacred's ``get_digest``).

    Cached by (path, mtime_ns, size): an unchanged file is read once per process.

    >>> import os, tempfile
    >>> with tempfile.NamedTemporaryFile("wb", delete=False) as f:
    ...     _ = f.write(b"abc")
    >>> get_digest(f.name)
    '900150983cd24fb0d6963f7d28e17f72'
    >>> os.remove(f.name)
    """
    st = os.stat(filename)
    with _digest_lock:
        hit = _digests.get(filename)
    if hit is not None and hit[0] == st.st_mtime_ns and hit[1] == st.st_size:
        return hit[2]
    import hashlib  # lazily: its OpenSSL binding is the costliest import here

    h = hashlib.md5(usedforsecurity=False)  # a fingerprint, not security; allowed on FIPS systems
    with open(filename, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    with _digest_lock:
        _digests[filename] = (st.st_mtime_ns, st.st_size, digest)
    return digest


def clear_digest_cache() -> None:
    """Forget cached digests (for tests; a changed file is noticed anyway through mtime and size)."""
    with _digest_lock:
        _digests.clear()


def get_py_file_if_possible(filename: str) -> str:
    """Map a compiled ``x.pyc`` (also ``__pycache__/x.cpython-311.pyc``) to its ``x.py`` when that exists.

    >>> get_py_file_if_possible("/nowhere/mod.py")
    '/nowhere/mod.py'
    """
    if not filename.endswith(".pyc"):
        return filename
    sibling = filename[:-1]
    if os.path.exists(sibling):
        return sibling
    head, tail = os.path.split(filename)
    if os.path.basename(head) == "__pycache__":
        original = os.path.join(os.path.dirname(head), tail.split(".", 1)[0] + ".py")
        if os.path.exists(original):
            return original
    return filename


@attrs.frozen
class Source:
    """One source file: its realpath, md5 and the git state of the repository holding it.

    >>> src = Source.create(__file__, save_git_info=False)
    >>> name, digest = src.to_json(os.path.dirname(__file__))  # the path relative to a base dir, the md5
    >>> name, len(digest)
    ('sources.py', 32)
    """

    filename: str
    digest: str
    repo: str | None = None
    commit: str | None = None
    is_dirty: bool | None = None

    @classmethod
    def create(cls, filename: str, save_git_info: bool = True) -> Source:
        """Read the file's digest (and git state when ``save_git_info``); the file must exist."""
        if not filename or not os.path.isfile(filename):
            raise SourceNotFoundError(
                f"Source file not found: {filename!r}; pass the path of an existing file"
            )
        path = os.path.realpath(get_py_file_if_possible(os.path.abspath(filename)))
        info = git_info(path) if save_git_info else None
        if info is None:
            return cls(path, get_digest(path))
        return cls(path, get_digest(path), info["url"], info["commit"], info["dirty"])

    def to_json(self, base_dir: str | None = None) -> tuple[str, str]:
        """``(path relative to base_dir, md5)`` as stored in ``experiment.sources`` (absolute without base)."""
        if base_dir:
            return os.path.relpath(self.filename, os.path.realpath(base_dir)), self.digest
        return self.filename, self.digest


def gather_sources(
    globs: Mapping[str, Any],
    base_dir: str,
    mode: SourceMode | str | None = None,
    save_git_info: bool = True,
) -> set[Source]:
    """Find the local source files of the module whose globals are ``globs`` (see the module docstring).

    ``mode`` defaults to ``SETTINGS.DISCOVER_SOURCES`` *at call time*. The main file is always included.

    >>> gather_sources({}, ".", mode="none")
    set()
    """
    if mode is None:
        mode = SETTINGS.DISCOVER_SOURCES
    if mode not in SOURCE_DISCOVERY_MODES:
        raise DiscoveryModeError(
            f"SETTINGS.DISCOVER_SOURCES is {mode!r}; expected one of "
            f"{', '.join(map(repr, SOURCE_DISCOVERY_MODES))}"
        )
    base = os.path.realpath(base_dir)
    files: set[str] = set()
    if mode == "imported":
        files.update(_local_module_files(iter_referenced_modules(globs), base))
    elif mode == "sys":
        files.update(_local_module_files(list(sys.modules.items()), base))
    elif mode == "dir":
        files.update(_iter_dir_sources(base))
    main = globs.get("__file__")
    if isinstance(main, str) and main:
        main = os.path.realpath(get_py_file_if_possible(os.path.abspath(main)))
        # The main file counts whatever its extension (a script named `train` is still the experiment).
        if os.path.isfile(main):
            files.add(main)
    return {Source.create(f, save_git_info) for f in sorted(files)}


def iter_referenced_modules(globs: Mapping[str, Any]) -> Iterator[tuple[str, types.ModuleType]]:
    """Yield ``(name, module)`` for each module the globals reference, and each parent package, once.

    A global refers to a module by being one, or through its ``__module__`` (Sacred's rule): functions
    and classes name where they are defined, wrappers made with ``functools.wraps`` (captured functions)
    where the wrapped function is, other objects where their class is.
    ``__main__`` is skipped (the main file is handled on its own) and so is ``builtins``.

    >>> import json
    >>> [name for name, _ in iter_referenced_modules({"json": json, "x": 1})]
    ['json']
    """
    seen: set[str] = set()
    for value in list(globs.values()):
        modname = _module_name_of(value)
        if not modname:
            continue
        parts = modname.split(".")
        if parts[0] in _SKIPPED_MODULES:
            continue
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            if name in seen:
                continue
            seen.add(name)
            mod = sys.modules.get(name)
            if isinstance(mod, types.ModuleType):
                yield name, mod


def is_local_source(filename: str, modname: str, base_dir: str) -> bool:
    """Whether a module file lies under ``base_dir`` at the path its dotted name spells (Sacred's rule).

    ``base/pkg/mod.py`` is local as ``pkg.mod``; with ``base_dir`` inside a package, ``base/mod.py`` is
    local as ``pkg.sub.mod`` when the absolute path ends in ``pkg/sub/mod.py``.

    >>> is_local_source("/b/pkg/mod.py", "pkg.mod", "/b")
    True
    >>> is_local_source("/b/venv/lib/site-packages/pkg/mod.py", "pkg.mod", "/b")
    False
    """
    filename = os.path.realpath(os.path.abspath(filename))
    base = os.path.realpath(os.path.abspath(base_dir))
    if os.path.commonpath([filename, base]) != base or filename == base:
        return False
    rel_parts = _module_parts(os.path.relpath(filename, base))
    mod_parts = modname.split(".")
    if len(rel_parts) > len(mod_parts):
        return False
    abs_parts = _module_parts(filename)
    return abs_parts[-len(mod_parts) :] == mod_parts


def _module_parts(path: str) -> list[str]:
    parts = [p for p in path.replace(os.sep, "/").split("/") if p]
    if not parts:
        return parts
    if parts[-1] in ("__init__.py", "__init__.pyc"):
        return parts[:-1]
    parts[-1] = parts[-1].split(".", 1)[0]  # mod.py, mod.cpython-311-x86_64-linux-gnu.so
    return parts


def _module_name_of(value: Any) -> str | None:
    name: object
    if isinstance(value, types.ModuleType):
        name = value.__name__
    else:
        try:
            name = getattr(value, "__module__", None)
        except Exception:  # a proxy whose __getattr__ fails must not break discovery
            name = None
        if not isinstance(name, str):
            name = getattr(type(value), "__module__", None)
    return name if isinstance(name, str) else None


def _local_module_files(modules: Iterable[tuple[str, Any]], base: str) -> Iterator[str]:
    for modname, mod in modules:
        filename = getattr(mod, "__file__", None) if isinstance(mod, types.ModuleType) else None
        if not isinstance(filename, str) or not filename:
            continue  # builtins, namespace packages, frozen modules
        if modname.split(".", 1)[0] in _SKIPPED_MODULES:
            continue
        filename = get_py_file_if_possible(os.path.abspath(filename))
        if not filename.endswith(SOURCE_EXTENSIONS) or not os.path.isfile(filename):
            continue
        if is_local_source(filename, modname, base):
            yield os.path.realpath(filename)


def _iter_dir_sources(base: str) -> Iterator[str]:
    for root, dirs, files in os.walk(base):
        dirs[:] = [
            d
            for d in dirs
            if not d.startswith(".")
            and d not in _SKIPPED_DIRS
            and not os.path.exists(os.path.join(root, d, "pyvenv.cfg"))  # a virtualenv
        ]
        for f in files:
            if f.endswith(".py"):
                yield os.path.realpath(os.path.join(root, f))
