"""Sacred's ``sacred.dependencies`` module: source files, package dependencies and their discovery.

The code lives in :mod:`pytest_sacredx.provenance`; this module keeps Sacred's import path and its
``gather_sources_and_dependencies`` entry point working.

>>> import pytest_sacredx.dependencies as deps
>>> main, sources, packages = deps.gather_sources_and_dependencies(
...     {"__file__": deps.__file__}, save_git_info=False)
>>> main in sources, main.filename.endswith("dependencies.py")
(True, True)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .provenance.git import gather_repositories, git_info
from .provenance.packages import PEP440_VERSION_PATTERN, PackageDependency, gather_dependencies
from .provenance.sources import (
    Source,
    gather_sources,
    get_digest,
    get_py_file_if_possible,
    is_local_source,
)

__all__ = [
    "PEP440_VERSION_PATTERN",
    "PackageDependency",
    "Source",
    "gather_dependencies",
    "gather_repositories",
    "gather_sources",
    "gather_sources_and_dependencies",
    "get_commit_if_possible",
    "get_digest",
    "get_main_file",
    "get_py_file_if_possible",
    "git_info",
    "is_local_source",
]


def get_commit_if_possible(
    filename: str, save_git_info: bool = True
) -> tuple[str | None, str | None, bool | None]:
    """Sacred's ``(repo url, commit, dirty)`` for a file; ``(None, None, None)`` outside a repository."""
    info = git_info(filename) if save_git_info else None
    if info is None:
        return None, None, None
    return info["url"], info["commit"], info["dirty"]


def get_main_file(
    globs: Mapping[str, Any], save_git_info: bool = True
) -> tuple[str, Source | None]:
    """``(experiment directory, main Source)`` from ``globs["__file__"]``; the cwd and None without one
    (an interactive session or a notebook).
    """
    filename = globs.get("__file__")
    if not filename:
        return os.path.abspath(os.curdir), None
    main = Source.create(filename, save_git_info)
    return os.path.dirname(main.filename), main


def gather_sources_and_dependencies(
    globs: Mapping[str, Any], save_git_info: bool, base_dir: str | None = None
) -> tuple[Source | None, set[Source], set[PackageDependency]]:
    """Sacred's entry point: the main file, the sources and the dependencies of a module's globals,
    following ``SETTINGS.DISCOVER_SOURCES`` and ``SETTINGS.DISCOVER_DEPENDENCIES``.

    ``base_dir`` defaults to the main file's directory (the cwd when there is no main file).
    """
    experiment_dir, main = get_main_file(globs, save_git_info)
    base_dir = base_dir or experiment_dir
    sources = gather_sources(globs, base_dir, save_git_info=save_git_info)
    if main is not None:
        sources.add(main)
    dependencies = gather_dependencies(globs, base_dir)
    return main, sources, dependencies
