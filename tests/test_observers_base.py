"""Shared observer helpers: the artifact-name rule and Sacred's deprecated ``create``."""

from __future__ import annotations

import warnings

import pytest

from pytest_sacredx.errors import ArtifactNameError
from pytest_sacredx.observers.base import RESERVED_ARTIFACT_NAMES, check_artifact_name
from pytest_sacredx.observers.file_storage import FileStorageObserver


@pytest.mark.parametrize("name", ["", ".", "..", "a/b.txt", "c\\d", "x\0y", 3, *sorted(RESERVED_ARTIFACT_NAMES)])
def test_bad_artifact_names_are_refused_in_one_line(name: object) -> None:
    with pytest.raises(ArtifactNameError) as info:
        check_artifact_name(name)
    assert repr(name) in str(info.value) and "\n" not in str(info.value)


def test_reserved_names_can_be_allowed_by_stores_without_files() -> None:
    assert check_artifact_name("run.json", reserved=frozenset()) == "run.json"
    assert check_artifact_name("model.pt") == "model.pt"


def test_deprecated_create_warns_at_the_callers_line(tmp_path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        observer = FileStorageObserver.create(str(tmp_path / "runs"))
    (warning,) = caught
    assert issubclass(warning.category, DeprecationWarning)
    assert "FileStorageObserver.create(...) is deprecated" in str(warning.message)
    assert warning.filename == __file__
    assert observer == FileStorageObserver(str(tmp_path / "runs"))
