"""The usage examples in the docstrings of ``pytest_sacredx/query/`` and ``pytest_sacredx/report/`` run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "pytest_sacredx.query", "pytest_sacredx.query.errors", "pytest_sacredx.query.fields",
    "pytest_sacredx.query.where", "pytest_sacredx.query.table", "pytest_sacredx.query.groups",
    "pytest_sacredx.query.compare", "pytest_sacredx.query.copy", "pytest_sacredx.query.stores",
    "pytest_sacredx.query.text", "pytest_sacredx.report", "pytest_sacredx.report.data",
    "pytest_sacredx.report.html", "pytest_sacredx.report.plots",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0 or name.endswith("plots")
