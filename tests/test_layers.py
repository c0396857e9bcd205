"""The package's layers: imports only point down, and no module imports another module's private names.

Every ``import`` in ``pytest_sacredx`` (at module level and inside functions; ``if TYPE_CHECKING:``
blocks are annotations only and do not count) is checked against the layer order below. A module may
import from its own layer and from the layers under it. The few deliberate exceptions are listed in
``ALLOWED_UP`` with their reason. A new module belongs to the layer of its folder (or must be added to
``LAYERS``), so the test fails loudly instead of letting an arrow point up unnoticed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pytest_sacredx"

#: lowest first; entries are module names relative to the package, a trailing ``*`` takes a folder
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "base",
        ("_version", "errors", "settings", "atomic", "serialize", "redact", "artifacts", "logs",
         "optional", "fast_json"),
    ),
    ("config", ("config.*", "arg_parser")),
    ("provenance", ("provenance.*", "dependencies", "host_info")),
    ("run", ("run.*", "metrics_logger", "commands")),
    # serializer: Sacred's flatten/restore write the stores' value forms (observers/document.py)
    ("observers", ("observers.*", "serializer")),
    ("experiment", ("ingredient", "experiment", "strategies", "utils", "stflow.*", "remote", "")),
    ("query", ("query.*", "report.*")),
    ("cli", ("cli.*",)),
    ("pytest_plugin", ("pytest_plugin.*",)),
]

#: (importer, imported): why this one upward import is right
ALLOWED_UP = {
    ("config", "run.captured"): "Sacred's module path: `from sacred.config import create_captured_function`",
    ("experiment", "cli.commandline"): "Sacred's API: ex.run_commandline() / ex.get_usage() enter the command line",
}


def _layer_of(module: str) -> int:
    for rank, (_, patterns) in enumerate(LAYERS):
        for pattern in patterns:
            if pattern.endswith(".*"):
                folder = pattern[:-2]
                if module == folder or module.startswith(folder + "."):
                    return rank
            elif module == pattern:
                return rank
    raise AssertionError(
        f"pytest_sacredx.{module} is in no layer of tests/test_layers.py::LAYERS; add it where it belongs"
    )


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), path))
    return out


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for child in node.body:
                    for sub in ast.walk(child):
                        if hasattr(sub, "lineno"):
                            lines.add(sub.lineno)
    return lines


def _imports(module: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module relative to the package, names, line) for every import of the package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                target = ".".join(p for p in [*parts, node.module or ""] if p)
            elif (node.module or "").startswith("pytest_sacredx"):
                target = (node.module or "").removeprefix("pytest_sacredx").lstrip(".")
            else:
                continue
            names = [alias.name for alias in node.names]
            # ``from . import document``: the names may be submodules
            submodules = [n for n in names if (PACKAGE / Path(*target.split("."), n)).with_suffix(".py").exists()
                          or (PACKAGE / Path(*target.split("."), n) / "__init__.py").exists()]
            for name in submodules:
                found.append((f"{target}.{name}".strip("."), [], node.lineno))
            rest = [n for n in names if n not in submodules]
            if rest or not submodules:
                found.append((target, rest, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("pytest_sacredx"):
                    found.append((alias.name.removeprefix("pytest_sacredx").lstrip("."), [], node.lineno))
    return found


MODULES = _modules()


def _name(module: str) -> str:
    return f"pytest_sacredx.{module}" if module else "pytest_sacredx"


def _group(module: str) -> str:
    return LAYERS[_layer_of(module)][0]


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m or "pytest_sacredx" for m, _ in MODULES])
def test_imports_point_down(module: str, path: Path) -> None:
    mine = _layer_of(module)
    upward = []
    for target, _names, line in _imports(module, path):
        theirs = _layer_of(target)
        if theirs > mine and (_group(module), target) not in ALLOWED_UP:
            upward.append(
                f"{path.relative_to(PACKAGE.parent)}:{line} imports {_name(target)} "
                f"(layer {LAYERS[theirs][0]!r}, above {LAYERS[mine][0]!r})"
            )
    assert not upward, "imports must point down:\n" + "\n".join(upward)


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m or "pytest_sacredx" for m, _ in MODULES])
def test_no_private_names_from_other_modules(module: str, path: Path) -> None:
    private = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name} from {_name(target)}"
        for target, names, line in _imports(module, path)
        if target != module
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert not private, "make the helper public (or move it) instead:\n" + "\n".join(private)


def test_the_layer_table_knows_every_module() -> None:
    for module, _ in MODULES:
        _layer_of(module)  # raises with the fix when a module is in no layer


def test_an_upward_import_is_found(tmp_path: Path) -> None:
    # the checker itself: a run module importing an observer is reported
    fake = tmp_path / "fake.py"
    fake.write_text("from ..observers.base import RunObserver\n\ndef f():\n    from ..cli import query\n")
    imports = _imports("run.fake", fake)
    assert [(t, _layer_of(t) > _layer_of("run.fake")) for t, _, _ in imports] == [
        ("observers.base", True),
        ("cli.query", True),
    ]
