"""A pytest plugin that serves ``import sacred`` (and every ``sacred.*``) from ``pytest_sacredx``.

Loaded by ``compat/run.py`` with ``-p sacred_alias`` before Sacred's own conftest imports ``sacred``.
``sacred.X`` is *the same module object* as ``pytest_sacredx.X``, so ``mock.patch("sacred.observers.mongo.x")``
patches our module, exactly as it would patch Sacred's. Nothing of Sacred is on the path: a name we do
not provide fails to import, as it would for a user.

It also writes one JSON line per test phase to ``$SACREDX_COMPAT_RESULTS``, so the runner reads the exact
node ids and outcomes (junit XML would lose the path of a parametrized test).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import json
import os
import sys
from types import ModuleType
from typing import Any

ALIAS = "sacred"
TARGET = "pytest_sacredx"


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: Any) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """The module was executed under its real name already."""


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != ALIAS and not name.startswith(ALIAS + "."):
            return None
        real = TARGET + name[len(ALIAS) :]
        try:
            spec = importlib.util.find_spec(real)
        except ModuleNotFoundError:
            return None
        if spec is None:
            return None
        return importlib.util.spec_from_loader(
            name, _AliasLoader(real), is_package=spec.submodule_search_locations is not None
        )


if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())


def pytest_collectreport(report: Any) -> None:
    if report.failed:
        _record(report, "collect")


def pytest_runtest_logreport(report: Any) -> None:
    _record(report, report.when)


def _record(report: Any, when: str) -> None:
    path = os.environ.get("SACREDX_COMPAT_RESULTS")
    if not path:
        return
    message = ""
    if report.failed and report.longrepr is not None:
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else str(report.longrepr).splitlines()[-1]
    elif report.skipped and isinstance(report.longrepr, tuple):
        message = str(report.longrepr[2])
    line = {
        "nodeid": report.nodeid,
        "when": when,
        "outcome": report.outcome,
        "message": message.splitlines()[0][:300] if message else "",
    }
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
