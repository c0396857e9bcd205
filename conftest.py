"""The repository's own pytest hooks (the suite's fixtures are in tests/conftest.py).

``--doctest-modules`` imports every module of the package to look for examples; a module without one
yields no test, and importing it is only a cost (``pytest_plugin/dask_executor.py`` loads Dask's
``distributed`` at its top: half a second of each worker's collection). Modules whose source holds
no ``>>>`` are left out of doctest collection; every other module is collected as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent / "pytest_sacredx"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.suffix != ".py" or not config.getoption("doctestmodules", False):
        return None
    if PACKAGE not in collection_path.resolve().parents:
        return None
    if ">>>" in collection_path.read_text(encoding="utf-8"):
        return None
    return True
