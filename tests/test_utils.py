"""Sacred's sacred.utils helpers (pytest_sacredx.utils) beyond the dotted paths of config.paths."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pytest_sacredx import utils
from pytest_sacredx.config import paths


def test_the_sacred_names_are_there():
    for name in ("PATHCHANGE", "iterate_flattened_separately", "rel_path", "get_inheritors",
                 "convert_camel_case_to_snake_case", "module_exists", "modules_exist",
                 "module_is_in_cache", "get_package_version", "parse_version", "is_prefix"):
        assert hasattr(utils, name), name


def test_is_prefix_is_strict_here_and_inclusive_in_the_config_layer():
    assert utils.is_prefix("", "a") and utils.is_prefix("a", "a.b") and utils.is_prefix("a.", "a.b")
    assert not utils.is_prefix("a", "a") and not utils.is_prefix("a", "ab")
    assert paths.is_prefix("a", "a")


def test_join_paths_ignores_stray_dots_and_empty_parts():
    assert utils.join_paths("a.b.", "", "c.d") == "a.b.c.d" and utils.join_paths() == ""


def test_rel_path():
    assert utils.rel_path("a.b", "a.b.c.d") == "c.d" and utils.rel_path("", "x") == "x"
    assert utils.rel_path("a", "a") == ""
    with pytest.raises(ValueError, match="not a prefix"):
        utils.rel_path("b", "a.b")


def test_iterate_flattened_separately_orders_for_printing():
    d = {"z": 1, "m": {"y": 2, "seed": 3, "q": {}}, "seed": 4, "a": {"k": 5}}
    assert list(utils.iterate_flattened_separately(d, ["seed"])) == [
        ("seed", 4),
        ("z", 1),
        ("a", utils.PATHCHANGE),
        ("a.k", 5),
        ("m", utils.PATHCHANGE),
        ("m.seed", 3),
        ("m.q", {}),
        ("m.y", 2),
    ]


def test_get_inheritors_finds_indirect_subclasses():
    class A:
        pass

    class B(A):
        pass

    class C(B):
        pass

    assert utils.get_inheritors(A) == {B, C} and utils.get_inheritors(C) == set()


@pytest.mark.parametrize(
    ("name", "snake"),
    [("MongoObserver", "mongo_observer"), ("HTTPServer", "http_server"), ("already_snake", "already_snake"),
     ("S3Observer", "s3_observer"), ("parseXMLFile2", "parse_xml_file2")],
)
def test_camel_case_to_snake_case(name, snake):
    assert utils.convert_camel_case_to_snake_case(name) == snake


def test_versions_compare_as_versions():
    assert utils.parse_version("1.10") > utils.parse_version("1.9")
    installed = utils.get_package_version("hypothesis")
    import hypothesis

    assert installed == utils.parse_version(hypothesis.__version__)


def test_module_lookups_do_not_import():
    code = (
        "import sys, pytest_sacredx.utils as u;"
        "print(u.module_exists('sqlite3'), u.modules_exist('sqlite3', 'nope_xyz'), "
        "u.module_is_in_cache('sqlite3'), 'sqlite3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "False", "False"]
