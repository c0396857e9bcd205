"""Provenance of a run — host, source files, package dependencies, git state — cheap and cached.

Everything expensive (CPU and GPU probing, the import-name → distribution map, ``git`` processes, file
digests) is computed at most once per process and reused, so a sweep of many runs pays it once.
Importing this package starts no process and reads no package metadata.

How an ingredient and an experiment use it (Sacred's ``ex_info``):

>>> import pytest_sacredx.provenance as prov
>>> globs = {"__file__": prov.__file__, "prov": prov}
>>> base = prov.os.path.dirname(prov.__file__)
>>> sources = prov.gather_sources(globs, base, mode="none", save_git_info=False)
>>> deps = prov.gather_dependencies(globs, base, mode="none")
>>> info = prov.experiment_info("demo", base, None, sources, deps, None)
>>> info["sources"][0][0], info["mainfile"]
('__init__.py', None)
>>> [d for d in info["dependencies"] if not d.startswith("numpy==")]  # numpy, as in Sacred, if installed
[]
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from .git import clear_git_cache, find_git_toplevel, gather_repositories, git_info
from .host import (
    HostInfoGetter,
    IgnoreHostInfo,
    check_additional_host_info,
    clear_host_info_cache,
    get_host_info,
    host_info_gatherer,
    host_info_gatherers,
    host_info_getter,
)
from .packages import PackageDependency, clear_package_cache, gather_dependencies
from .sources import Source, clear_digest_cache, gather_sources, get_digest

__all__ = [
    "HostInfoGetter",
    "IgnoreHostInfo",
    "PackageDependency",
    "Source",
    "check_additional_host_info",
    "clear_caches",
    "experiment_info",
    "find_git_toplevel",
    "gather_dependencies",
    "gather_repositories",
    "gather_sources",
    "get_digest",
    "get_host_info",
    "git_info",
    "host_info_gatherer",
    "host_info_gatherers",
    "host_info_getter",
]


def experiment_info(
    name: str,
    base_dir: str,
    mainfile: Source | str | None,
    sources: Iterable[Source],
    dependencies: Iterable[PackageDependency],
    repositories: Iterable[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Sacred's experiment-info dict (``run.json["experiment"]``) from gathered provenance.

    ``sources`` become sorted ``[relative path, md5]`` pairs, ``dependencies`` sorted ``"name==version"``
    strings (case-insensitively, as Sacred sorts them), ``mainfile`` a path relative to ``base_dir``.
    With ``repositories=None`` they are collected from the sources.

    >>> experiment_info("exp", "/base", None, [Source("/base/a.py", "d41d8")], [])
    {'name': 'exp', 'base_dir': '/base', 'sources': [('a.py', 'd41d8')], 'dependencies': [], 'repositories': [], 'mainfile': None}
    """
    sources = list(sources)
    if isinstance(mainfile, Source):
        main: str | None = mainfile.to_json(base_dir)[0]
    elif mainfile:
        main = os.path.relpath(os.path.realpath(mainfile), os.path.realpath(base_dir))
    else:
        main = None
    unique_deps = {d.to_json(): d for d in dependencies}
    return {
        "name": name,
        "base_dir": base_dir,
        "sources": sorted({s.to_json(base_dir) for s in sources}),
        "dependencies": sorted(unique_deps, key=lambda j: (j.lower(), j)),
        "repositories": (
            gather_repositories(sources)
            if repositories is None
            else [dict(r) for r in repositories]
        ),
        "mainfile": main,
    }


def clear_caches() -> None:
    """Forget all per-process provenance caches: host info, git state, package map, digests.

    Call it when something may have changed during a long-lived process (a file edited between runs
    of a pytest session whose dirty flag should be re-read, a package installed mid-session).

    >>> clear_caches()
    """
    clear_host_info_cache()
    clear_git_cache()
    clear_package_cache()
    clear_digest_cache()
