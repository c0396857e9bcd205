"""Hooks that pytest-sacredx adds to pytest; implement them in a ``conftest.py`` or a plugin.

Each takes keyword arguments, as every pytest hook does; a hook implementation may accept any subset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..experiment import Experiment
    from ..run.run import Run
    from .sweep import Variant


def pytest_sacredx_variants(config: pytest.Config, experiment: Experiment) -> list[Variant] | None:
    """Contribute config variants of ``experiment``; the lists of all implementations are concatenated
    (the plugin's own implementation turns ``--exp-config`` and ini lines into variants).

    Example — always also run a smoke variant::

        from pytest_sacredx.pytest_plugin.sweep import Variant

        def pytest_sacredx_variants(config, experiment):
            if "epochs" in experiment.named_configs or True:
                return [Variant(updates=(("epochs", 1),))]
    """


def pytest_sacredx_modify_variants(
    config: pytest.Config, experiment: Experiment, variants: list[Variant]
) -> None:
    """Change the final list of ``experiment``'s variants in place, after all contributions (and the
    marker's sweep, for ``@pytest.mark.experiment`` tests) were merged; the list becomes the cases, in
    its order. The plugin's ``--exp-seeds N`` repeats each variant here with ``seed_index`` 0…N-1.

    Example — drop the variants of a slow kernel on CI::

        def pytest_sacredx_modify_variants(config, experiment, variants):
            if os.environ.get("CI"):
                variants[:] = [v for v in variants if dict(v.updates).get("kernel") != "poly"]
    """


@pytest.hookspec(firstresult=True)
def pytest_sacredx_case_seed(item: pytest.Item, session_seed: int) -> int | None:
    """Return the seed of one case; the first non-None answer wins.

    The default is ``derive_seed(session_seed, case_id)`` (see ``pytest_sacredx.run.seeding``).
    Example — one fixed seed for every case of a smoke run::

        def pytest_sacredx_case_seed(item, session_seed):
            if item.config.getoption("--smoke", False):
                return 1234
    """


def pytest_sacredx_make_observers(config: pytest.Config) -> list[Any] | None:
    """Return extra observers that record every case of this session (each process calls it once).

    Example::

        from pytest_sacredx.observers import FileStorageObserver

        def pytest_sacredx_make_observers(config):
            return [FileStorageObserver(str(config.rootpath / "runs"))]
    """


def pytest_sacredx_run_started(item: pytest.Item, run: Run) -> None:
    """Called when a case's run is created, just before it executes; ``run.meta_info`` and
    ``run.info`` may still be changed here.

    Example::

        def pytest_sacredx_run_started(item, run):
            run.meta_info["ci_job"] = os.environ.get("CI_JOB_ID")
    """


def pytest_sacredx_run_finished(item: pytest.Item, run: Run) -> None:
    """Called after a case's run ended (completed, failed or interrupted), with its final status.

    Example::

        def pytest_sacredx_run_finished(item, run):
            print(item.nodeid, run.status, run.result)
    """
