"""Package dependencies through importlib.metadata: real installed packages, no pkg_resources."""

from __future__ import annotations

import collections
import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import attr
import attrs
import pytest

from pytest_sacredx.errors import DiscoveryModeError
from pytest_sacredx.provenance import PackageDependency, gather_dependencies, packages
from pytest_sacredx.provenance.packages import clear_package_cache, distributions_of
from pytest_sacredx.settings import SETTINGS


def deps_of(globs: dict, base_dir: str = "/nonexistent-base", mode: str = "imported") -> dict:
    """Found dependencies but numpy, which every mode adds when it is installed (tested below)."""
    found = {d.name: d.version for d in gather_dependencies(globs, base_dir, mode=mode)}
    found.pop("numpy", None)
    return found


def numpy_version() -> str | None:
    try:
        return importlib.metadata.version("numpy")
    except importlib.metadata.PackageNotFoundError:
        return None


@pytest.fixture
def no_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "numpy", raising=False)


def test_modules_functions_and_classes_map_to_their_distribution(no_numpy) -> None:
    found = deps_of({"pytest": pytest, "define": attr.define, "Factory": attrs.Factory})
    assert found == {
        "pytest": importlib.metadata.version("pytest"),
        "attrs": importlib.metadata.version("attrs"),
    }


def test_private_top_level_maps_through_the_distribution(no_numpy) -> None:
    # pytest.MonkeyPatch lives in `_pytest.monkeypatch`, which the pytest distribution provides.
    assert deps_of({"MonkeyPatch": pytest.MonkeyPatch}) == {
        "pytest": importlib.metadata.version("pytest")
    }


def test_standard_library_and_builtins_are_skipped(no_numpy) -> None:
    globs = {"os": os, "json": json, "OrderedDict": collections.OrderedDict, "len": len, "sys": sys}
    assert deps_of(globs) == {}


def test_local_modules_are_sources_not_dependencies(tmp_path: Path, monkeypatch, no_numpy) -> None:
    (tmp_path / "sxprov_localdep.py").write_text("__version__ = '1.2.3'\n")
    (tmp_path / "sxprov_noversion.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        globs = {
            "local": __import__("sxprov_localdep"),
            "unversioned": __import__("sxprov_noversion"),
        }
        assert deps_of(globs, base_dir=str(tmp_path)) == {}
        # Seen from elsewhere it is a third-party module: its declared version counts; none -> dropped.
        assert deps_of(globs, base_dir=str(tmp_path / "sub")) == {"sxprov_localdep": "1.2.3"}
    finally:
        sys.modules.pop("sxprov_localdep", None)
        sys.modules.pop("sxprov_noversion", None)


@pytest.mark.parametrize("mode", ["imported", "sys", "none"])
def test_numpy_is_added_in_every_mode_when_installed_without_importing_it(mode: str, no_numpy) -> None:
    found = {d.name: d.version for d in gather_dependencies({"pytest": pytest}, ".", mode=mode)}
    assert found.get("numpy") == numpy_version()
    assert "numpy" not in sys.modules  # read from its metadata


def test_an_imported_numpy_is_recorded_by_its_distribution(monkeypatch, no_numpy) -> None:
    fake = types.ModuleType("numpy")
    fake.__version__ = "9.9.9"
    monkeypatch.setitem(sys.modules, "numpy", fake)
    found = {d.name: d.version for d in gather_dependencies({}, ".", mode="none")}
    assert found["numpy"] == (numpy_version() or "9.9.9")


def test_sys_mode_takes_every_top_level_module(no_numpy) -> None:
    found = deps_of({}, mode="sys")
    assert found["pytest"] == importlib.metadata.version("pytest")
    assert found["attrs"] == importlib.metadata.version("attrs")
    assert not set(found) & set(sys.stdlib_module_names)


def test_pkg_mode_takes_every_installed_distribution(no_numpy) -> None:
    found = {d.name: d.version for d in gather_dependencies({}, ".", mode="pkg")}
    installed = {d.metadata["Name"] for d in importlib.metadata.distributions()}
    assert set(found) == installed
    assert found["attrs"] == importlib.metadata.version("attrs")


def test_mode_defaults_to_the_setting_at_call_time(monkeypatch, no_numpy) -> None:
    monkeypatch.setattr(SETTINGS, "DISCOVER_DEPENDENCIES", "none")
    assert {d.name for d in gather_dependencies({"pytest": pytest}, ".")} - {"numpy"} == set()
    monkeypatch.setattr(SETTINGS, "DISCOVER_DEPENDENCIES", "imported")
    assert {d.name for d in gather_dependencies({"pytest": pytest}, ".")} - {"numpy"} == {"pytest"}


def test_unknown_mode_names_the_valid_ones() -> None:
    with pytest.raises(DiscoveryModeError, match="'imported', 'sys', 'pkg', 'none'") as info:
        gather_dependencies({}, ".", mode="everything")
    assert isinstance(info.value, ValueError)


def test_import_map_is_computed_once_per_process(monkeypatch, no_numpy) -> None:
    clear_package_cache()
    calls = []
    real = importlib.metadata.distributions
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: calls.append(1) or real())
    for _ in range(20):
        deps_of({"pytest": pytest, "attr": attr}, mode="imported")
    assert calls == [1]


def test_the_import_map_is_the_standard_librarys(tmp_path) -> None:
    clear_package_cache()
    expected = {k: sorted(map(str, v)) for k, v in importlib.metadata.packages_distributions().items()}
    got = {k: sorted(map(str, v)) for k, v in packages._packages_distributions().items()}
    assert got == expected
    # the unusual spellings a RECORD may hold, against PackagePath's reading of them
    site = tmp_path / "site"
    info = site / "odd_dist-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nname: Odd-Dist\nVersion: 1.0\n\nName: not this\n")
    record = ["odd/__init__.py,,", "./dotted/x.py,,", "twice//y.py,,", "/abs/z.py,,", "single.py,,",
              '"comma,name.py",,', ".py,,", "../up/w.py,,", "data/file.txt,,", "odd-1.0.dist-info/RECORD,,"]
    (info / "RECORD").write_text("\n".join(record) + "\n")
    dist = importlib.metadata.PathDistribution(info)
    assert packages._metadata_name(dist) == dist.metadata["Name"] == "Odd-Dist"
    assert packages._inferred_top_levels(dist) == {
        f.parts[0] if len(f.parts) > 1 else f.with_suffix("").name for f in dist.files if f.suffix == ".py"
    }


def test_package_dependency_api() -> None:
    assert PackageDependency("attrs", "23.1").to_json() == "attrs==23.1"
    assert PackageDependency("mine", None).to_json() == "mine==<unknown>"
    assert sorted([PackageDependency("b", "1"), PackageDependency("a", "2")])[0].name == "a"
    assert PackageDependency.create(attr) == PackageDependency(
        "attrs", importlib.metadata.version("attrs")
    )
    mod = types.ModuleType("sxprov_unpackaged")
    mod.VERSION = (1, 2, 3)
    assert PackageDependency.create(mod) == PackageDependency("sxprov_unpackaged", "1.2.3")
    assert PackageDependency.get_version_heuristic(types.ModuleType("bare")) is None
    assert distributions_of("_pytest") == ["pytest"]


def test_import_stays_cheap_and_no_pkg_resources_anywhere() -> None:
    """In a fresh interpreter: importing starts nothing heavy; discovery never loads setuptools."""
    code = textwrap.dedent(
        """
        import sys
        before = set(sys.modules)
        import pytest_sacredx.provenance as prov
        loaded = set(sys.modules) - before
        heavy = {"subprocess", "importlib.metadata", "pytest", "numpy", "pkg_resources", "git"}
        assert not heavy & loaded, heavy & loaded
        import attrs
        for mode in ("imported", "sys", "pkg"):
            prov.gather_dependencies({"attrs": attrs}, ".", mode=mode)
        prov.get_host_info()
        assert "pkg_resources" not in sys.modules and "setuptools" not in sys.modules
        assert "numpy" not in sys.modules and "cpuinfo" not in sys.modules
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
