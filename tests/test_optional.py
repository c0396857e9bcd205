"""Lazy optional packages (pytest_sacredx.optional): Sacred's ``sacred.optional`` names, imported on use."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from pytest_sacredx import optional as opt


def _run(code: str) -> dict:
    script = textwrap.dedent(code)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_optional_import_gives_the_first_module_or_nothing() -> None:
    assert opt.optional_import("json", "os") == (True, json)
    assert opt.optional_import("json", "surely_not_a_package_xyz") == (False, None)


def test_modules_exist_does_not_import() -> None:
    out = _run(
        """
        import json, sys
        from pytest_sacredx import optional as opt
        print(json.dumps([opt.modules_exist("numpy", "json"), "numpy" in sys.modules,
                          opt.module_exists("no_such_pkg_xyz"), opt.module_exists("no_such_pkg_xyz.sub")]))
        """
    )
    assert out == [True, False, False, False]


def test_importing_the_module_imports_no_optional_package() -> None:
    out = _run(
        """
        import json, sys
        import pytest_sacredx.optional as opt
        asked = [opt.has_numpy, opt.has_pandas, opt.has_yaml, opt.has_sqlalchemy, opt.has_tinydb]
        print(json.dumps([asked[0], sorted({"numpy", "pandas", "yaml", "sqlalchemy", "tinydb"} & set(sys.modules))]))
        """
    )
    assert out == [True, []]


def test_module_attributes_import_on_first_use() -> None:
    np = pytest.importorskip("numpy")
    import yaml

    assert opt.np is np and opt.yaml is yaml
    assert opt.has_numpy is True


def test_missing_package_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(opt._MODULES, "missing_mod", "surely_not_a_package_xyz")
    monkeypatch.delitem(vars(opt), "missing_mod", raising=False)
    assert opt.missing_mod is None  # type: ignore[attr-defined]
    monkeypatch.delitem(vars(opt), "missing_mod")


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has_nothing"):
        opt.has_nothing  # type: ignore[attr-defined]  # noqa: B018


def test_libc_flushes() -> None:
    libc = opt.libc
    assert libc is None or libc.fflush(None) == 0
