"""Source discovery and digests, on a small project laid out in tmp_path and really imported."""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
from pathlib import Path

import pytest

from pytest_sacredx import dependencies as sacred_dependencies
from pytest_sacredx.errors import DiscoveryModeError, SacredxError, SourceNotFoundError
from pytest_sacredx.provenance import Source, experiment_info, gather_sources, get_digest
from pytest_sacredx.provenance.sources import (
    clear_digest_cache,
    get_py_file_if_possible,
    is_local_source,
)
from pytest_sacredx.settings import SETTINGS

PKG = "sxprov_srcpkg"  # unusual names, so nothing else in the session imports them


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """proj/main.py, proj/sxprov_helper.py, proj/sxprov_srcpkg/{__init__,sub,other,unused}.py + noise."""
    root = tmp_path / "proj"
    pkg = root / PKG
    pkg.mkdir(parents=True)
    (root / "main.py").write_text("MAIN = True\n")
    (root / "sxprov_helper.py").write_text("def helper():\n    return 1\n")
    (pkg / "__init__.py").write_text("")
    (pkg / "sub.py").write_text("def func():\n    return 2\n\nclass Thing:\n    pass\n")
    (pkg / "other.py").write_text("OTHER = 3\n")
    (pkg / "unused.py").write_text("UNUSED = 4\n")
    (root / "notes.txt").write_text("not a source\n")
    for noise in (".hidden/h.py", "venv/lib/site-packages/dep.py", "site-packages/x.py"):
        (root / noise).parent.mkdir(parents=True, exist_ok=True)
        (root / noise).write_text("")
    (root / "venv" / "pyvenv.cfg").write_text("home = /usr\n")
    monkeypatch.syspath_prepend(str(root))
    for name in list(sys.modules):
        if name.startswith((PKG, "sxprov_helper")):
            monkeypatch.delitem(sys.modules, name)
    yield root
    for name in list(sys.modules):
        if name.startswith((PKG, "sxprov_helper")):
            del sys.modules[name]


def imported_globs(root: Path) -> dict:
    sub = importlib.import_module(f"{PKG}.sub")
    importlib.import_module(f"{PKG}.other")  # imported, but not referenced by the globals
    helper = importlib.import_module("sxprov_helper")
    return {
        "__file__": str(root / "main.py"),
        "__name__": "__main__",
        "func": sub.func,
        "Thing": sub.Thing,
        "sxprov_helper": helper,
        "os": os,
        "pytest": pytest,
        "n": 3,
    }


def names(sources: set[Source], root: Path) -> set[str]:
    return {s.to_json(str(root))[0].replace(os.sep, "/") for s in sources}


def test_imported_mode_follows_the_globals_and_parent_packages(project: Path) -> None:
    found = gather_sources(
        imported_globs(project), str(project), mode="imported", save_git_info=False
    )
    assert names(found, project) == {
        "main.py",
        "sxprov_helper.py",
        f"{PKG}/__init__.py",
        f"{PKG}/sub.py",
    }
    by_name = {s.to_json(str(project))[0].replace(os.sep, "/"): s for s in found}
    assert by_name["main.py"].digest == md5(project / "main.py")
    assert by_name["main.py"].filename == os.path.realpath(project / "main.py")


def test_instances_count_through_their_class(project: Path) -> None:
    sub = importlib.import_module(f"{PKG}.sub")
    found = gather_sources(
        {"thing": sub.Thing()}, str(project), mode="imported", save_git_info=False
    )
    assert names(found, project) == {f"{PKG}/__init__.py", f"{PKG}/sub.py"}


def test_wrappers_count_through_the_wrapped_function(project: Path) -> None:
    import functools

    sub = importlib.import_module(f"{PKG}.sub")

    class Captured:  # defined here, in the tests, like a captured-function wrapper of a library
        def __init__(self, func):
            functools.update_wrapper(self, func)

    found = gather_sources(
        {"f": Captured(sub.func)}, str(project), mode="imported", save_git_info=False
    )
    assert names(found, project) == {f"{PKG}/__init__.py", f"{PKG}/sub.py"}


def test_sys_mode_takes_every_local_imported_module(project: Path) -> None:
    found = gather_sources(imported_globs(project), str(project), mode="sys", save_git_info=False)
    assert names(found, project) == {
        "main.py",
        "sxprov_helper.py",
        f"{PKG}/__init__.py",
        f"{PKG}/sub.py",
        f"{PKG}/other.py",
    }


def test_dir_mode_takes_every_py_file_but_hidden_and_installed_ones(project: Path) -> None:
    found = gather_sources(
        {"__file__": str(project / "main.py")}, str(project), mode="dir", save_git_info=False
    )
    assert names(found, project) == {
        "main.py",
        "sxprov_helper.py",
        f"{PKG}/__init__.py",
        f"{PKG}/sub.py",
        f"{PKG}/other.py",
        f"{PKG}/unused.py",
    }


def test_none_mode_keeps_only_the_main_file(project: Path) -> None:
    found = gather_sources(imported_globs(project), str(project), mode="none", save_git_info=False)
    assert names(found, project) == {"main.py"}


def test_mode_defaults_to_the_setting_at_call_time(project: Path, monkeypatch) -> None:
    globs = imported_globs(project)
    monkeypatch.setattr(SETTINGS, "DISCOVER_SOURCES", "none")
    assert names(gather_sources(globs, str(project), save_git_info=False), project) == {"main.py"}
    monkeypatch.setattr(SETTINGS, "DISCOVER_SOURCES", "sys")
    assert f"{PKG}/other.py" in names(
        gather_sources(globs, str(project), save_git_info=False), project
    )


def test_unknown_mode_names_the_valid_ones() -> None:
    with pytest.raises(DiscoveryModeError, match="'imported', 'sys', 'dir', 'none'") as info:
        gather_sources({}, ".", mode="all")
    assert isinstance(info.value, ValueError) and isinstance(info.value, SacredxError)
    assert "'all'" in str(info.value)


def test_modules_outside_base_dir_are_not_sources(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    found = gather_sources(imported_globs(project), str(elsewhere), mode="sys", save_git_info=False)
    assert {os.path.basename(s.filename) for s in found} == {"main.py"}


def test_main_pyc_maps_to_py(project: Path) -> None:
    pyc = project / "main.pyc"
    pyc.write_bytes(b"compiled")
    found = gather_sources({"__file__": str(pyc)}, str(project), mode="none", save_git_info=False)
    assert names(found, project) == {"main.py"}
    cached = project / "__pycache__" / "main.cpython-311.pyc"
    cached.parent.mkdir()
    cached.write_bytes(b"")
    assert get_py_file_if_possible(str(cached)) == str(project / "main.py")
    lonely = project / "lonely.pyc"
    lonely.write_bytes(b"")
    assert get_py_file_if_possible(str(lonely)) == str(lonely)


def test_is_local_source_rule(tmp_path: Path) -> None:
    base = str(tmp_path)
    assert is_local_source(os.path.join(base, "pkg", "mod.py"), "pkg.mod", base)
    assert is_local_source(os.path.join(base, "pkg", "__init__.py"), "pkg", base)
    assert not is_local_source(os.path.join(base, "pkg", "mod.py"), "mod", base)
    assert not is_local_source(os.path.join(base, "venv", "pkg", "mod.py"), "pkg.mod", base)
    assert not is_local_source("/outside/mod.py", "mod", base)
    # base_dir inside the package: the absolute path must still spell the whole dotted name
    inner = os.path.join(base, "pkg", "experiments")
    assert is_local_source(os.path.join(inner, "util.py"), "pkg.experiments.util", inner)
    assert not is_local_source(os.path.join(inner, "util.py"), "other.experiments.util", inner)


def test_digest_is_md5_and_cached_by_mtime_and_size(tmp_path: Path, monkeypatch) -> None:
    clear_digest_cache()
    f = tmp_path / "a.py"
    f.write_text("a = 1\n")
    expected = md5(f)
    reads = []
    real_md5 = hashlib.md5
    monkeypatch.setattr(hashlib, "md5", lambda *a, **k: reads.append(1) or real_md5(*a, **k))
    assert get_digest(str(f)) == expected
    assert get_digest(str(f)) == expected
    assert len(reads) == 1  # the unchanged file was read once
    f.write_text("a = 22\n")  # another size: noticed without clearing anything
    assert get_digest(str(f)) == real_md5(b"a = 22\n").hexdigest()
    assert len(reads) == 2


def test_source_create_and_to_json(project: Path) -> None:
    link = project / "link.py"
    link.symlink_to(project / "main.py")
    src = Source.create(str(link), save_git_info=False)
    assert src.filename == os.path.realpath(project / "main.py")
    assert src.to_json(str(project)) == ("main.py", md5(project / "main.py"))
    assert src.to_json() == (src.filename, src.digest)
    with pytest.raises(SourceNotFoundError, match="nope.py") as info:
        Source.create(str(project / "nope.py"))
    assert isinstance(info.value, ValueError)


def test_experiment_info_shape(project: Path) -> None:
    found = gather_sources(
        imported_globs(project), str(project), mode="imported", save_git_info=False
    )
    main = Source.create(str(project / "main.py"), save_git_info=False)
    info = experiment_info("exp", str(project), main, found, [], None)
    assert info["name"] == "exp" and info["base_dir"] == str(project)
    assert info["mainfile"] == "main.py"
    assert info["sources"] == sorted(info["sources"])
    assert ("main.py", md5(project / "main.py")) in info["sources"]
    assert info["repositories"] == [] and info["dependencies"] == []
    assert (
        experiment_info("exp", str(project), str(project / "main.py"), [], [])["mainfile"]
        == "main.py"
    )


def test_sacred_gather_sources_and_dependencies(project: Path, monkeypatch) -> None:
    monkeypatch.setattr(SETTINGS, "DISCOVER_SOURCES", "imported")
    monkeypatch.setattr(SETTINGS, "DISCOVER_DEPENDENCIES", "imported")
    globs = imported_globs(project)
    main, sources, deps = sacred_dependencies.gather_sources_and_dependencies(
        globs, save_git_info=False
    )
    assert main is not None and main.filename == os.path.realpath(project / "main.py")
    assert main in sources
    assert names(sources, project) >= {"main.py", f"{PKG}/sub.py"}
    assert "pytest" in {d.name for d in deps}
    # No __file__ (a notebook): no main file, base_dir falls back to the cwd.
    main, sources, _ = sacred_dependencies.gather_sources_and_dependencies({}, save_git_info=False)
    assert main is None and sources == set()
