"""The version is written once, in ``pytest_sacredx/_version.py``: the installed metadata, the package
attribute and the build configuration all come from there."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest_sacredx
from pytest_sacredx._version import __version__

ROOT = Path(__file__).resolve().parents[1]


def test_metadata_and_package_attribute_agree() -> None:
    assert pytest_sacredx.__version__ == __version__
    assert importlib.metadata.version("pytest-sacredx") == __version__
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|rc\d+)?", __version__)


def test_pyproject_reads_it_instead_of_repeating_it() -> None:
    text = (ROOT / "pyproject.toml").read_text()  # read as text: tomllib is Python 3.11+
    assert re.search(r'^dynamic = \["version"\]', text, re.M)
    assert not re.search(r"^version = ['\"]", text, re.M)
    assert 'version = { attr = "pytest_sacredx._version.__version__" }' in text


def test_the_changelog_has_a_section_for_it() -> None:
    assert f"## {__version__}" in (ROOT / "CHANGELOG.md").read_text()
