"""What importing the package costs, and the import paths Sacred users have (README, "From Sacred")."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap

import pytest

HEAVY = ("pytest", "_pytest", "numpy", "pymongo", "sqlalchemy", "boto3", "yaml", "pkg_resources", "setuptools",
         "pandas", "matplotlib", "rich", "selenium", "PIL", "hypothesis", "dask", "distributed")
#: what the sacredx tool and the HTML report use: never loaded with the plugin either
QUERY_EXTRAS = ("pandas", "matplotlib", "rich", "selenium", "PIL", "sqlalchemy", "pymongo", "boto3")


def _modules_after(code: str) -> set[str]:
    script = textwrap.dedent(
        f"""
        import json, sys
        {code}
        print(json.dumps(sorted(sys.modules)))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr  # no warnings (pkg_resources deprecation, …)
    return set(json.loads(proc.stdout))


@pytest.mark.slow
def test_import_loads_nothing_heavy() -> None:
    loaded = _modules_after("import pytest_sacredx")
    assert not {m.split(".")[0] for m in loaded} & set(HEAVY)


@pytest.mark.slow
def test_defining_an_experiment_loads_nothing_heavy() -> None:
    loaded = _modules_after(
        """
        from pytest_sacredx import Experiment, Ingredient
        ing = Ingredient("data", interactive=True)
        ex = Experiment("demo", ingredients=[ing], interactive=True)
        ex.add_config(a=1)

        @ex.capture
        def f(a):
            return a
        """
    )
    assert not {m.split(".")[0] for m in loaded} & set(HEAVY)


@pytest.mark.slow
def test_loading_the_plugin_loads_no_query_extra_and_no_dask() -> None:
    """The report's libraries and the executor's engine load only when a command or option asks."""
    loaded = _modules_after(
        """
        import pytest_sacredx.pytest_plugin.plugin as plugin
        import importlib
        for name in plugin.pytest_plugins:
            importlib.import_module(name)
        """
    )
    assert not {m.split(".")[0] for m in loaded} & {*QUERY_EXTRAS, "dask", "distributed", "numpy"}
    assert "pytest_sacredx.query" not in loaded and "pytest_sacredx.report" not in loaded


SACRED_NAMES = {
    "pytest_sacredx": [
        "Experiment", "Ingredient", "observers", "SETTINGS", "cli_option", "host_info_gatherer",
        "host_info_getter", "__version__", "__author__", "__author_email__", "__url__",
    ],
    "pytest_sacredx.experiment": ["Experiment", "gather_command_line_options"],
    "pytest_sacredx.ingredient": ["Ingredient"],
    "pytest_sacredx.run": ["Run"],
    "pytest_sacredx.utils": [
        "SacredError", "SacredInterrupt", "TimeoutInterrupt", "ConfigError", "InvalidConfigError",
        "MissingConfigError", "NamedConfigNotFoundError", "ConfigAddedError", "SignatureError",
        "CircularDependencyError", "ObserverError", "apply_backspaces_and_linefeeds",
        "get_by_dotted_path", "set_by_dotted_path", "iterate_flattened", "join_paths", "is_prefix",
        "convert_to_nested_dict", "recursive_update", "iter_prefixes",
    ],
    "pytest_sacredx.settings": ["SETTINGS", "SettingError"],
    "pytest_sacredx.host_info": [
        "get_host_info", "host_info_gatherers", "host_info_getter", "host_info_gatherer", "HostInfoGetter",
        "IgnoreHostInfo",
    ],
    "pytest_sacredx.config": ["ConfigScope", "ConfigDict", "load_config_file", "save_config_file"],
    "pytest_sacredx.config.config_scope": ["ConfigScope"],
    "pytest_sacredx.metrics_logger": ["MetricsLogger", "ScalarMetricLogEntry", "linearize_metrics"],
    "pytest_sacredx.dependencies": ["get_digest", "Source", "PackageDependency"],
}


@pytest.mark.parametrize(("module", "names"), SACRED_NAMES.items(), ids=list(SACRED_NAMES))
def test_sacreds_import_paths_exist(module: str, names: list[str]) -> None:
    mod = importlib.import_module(module)
    missing = [n for n in names if not hasattr(mod, n)]
    assert missing == []


def test_sacreds_config_helpers_exist() -> None:
    import pytest_sacredx.config as config

    missing = [
        n for n in ("create_captured_function", "chain_evaluate_config_scopes", "dogmatize", "undogmatize")
        if not hasattr(config, n)
    ]
    assert missing == []


def test_the_names_are_the_real_classes() -> None:
    import pytest_sacredx
    from pytest_sacredx import errors
    from pytest_sacredx.experiment import Experiment
    from pytest_sacredx.ingredient import Ingredient
    from pytest_sacredx.run.run import Run
    from pytest_sacredx.utils import SacredError, SignatureError

    assert pytest_sacredx.Experiment is Experiment and pytest_sacredx.Ingredient is Ingredient
    assert importlib.import_module("pytest_sacredx.run").Run is Run
    assert SacredError is errors.SacredxError and issubclass(SignatureError, TypeError)
    assert issubclass(Experiment, Ingredient)
    assert "Experiment" in pytest_sacredx.__all__
