"""Entry module of the pytest plugin (``pytest11: sacredx``): registers one module per feature.

    ini        ini keys checked like options at session start
    sweep      --exp-config / --exp-named-config grammar → variants (pure, no hooks)
    collect    experiments → items, variants → cases; @pytest.mark.experiment + exp_run
    seeding    session seed, case seeds, RNG state restore; exp_seed
    recording  observers per session, pytest metadata in every run
    report     header, failure sections, "experiment runs" table, JUnit properties
    xdist      controller → worker plumbing (only when xdist is active)
    baselines  --exp-regression / --exp-regen: reproducible-seed regression baselines
    multiseed  --exp-seeds N: seeds as a sweep axis, mean ± std per variant
    determinism  --exp-check-determinism: each case twice with the same seed
    compare    --exp-compare / --exp-compare-fail: this sweep against an earlier one
    properties hypothesis examples through exp_run: only the falsifying one is recorded
    html_report  --exp-report FILE: the session's runs as one self-contained HTML file
    shard      --exp-shard I/N, --exp-sweep-id: one sweep split over processes; --exp-list-cases
    executor   --exp-executor dask://…: each case's run on a cluster, its events replayed here

Loading it imports no database client, no NumPy and no Dask.
"""

from __future__ import annotations

import pytest

pytest_plugins = [
    "pytest_sacredx.pytest_plugin.ini",
    "pytest_sacredx.pytest_plugin.collect",
    "pytest_sacredx.pytest_plugin.seeding",
    "pytest_sacredx.pytest_plugin.recording",
    "pytest_sacredx.pytest_plugin.report",
    "pytest_sacredx.pytest_plugin.xdist",
    "pytest_sacredx.pytest_plugin.baselines",
    "pytest_sacredx.pytest_plugin.multiseed",
    "pytest_sacredx.pytest_plugin.determinism",
    "pytest_sacredx.pytest_plugin.compare",
    "pytest_sacredx.pytest_plugin.properties",
    "pytest_sacredx.pytest_plugin.html_report",
    "pytest_sacredx.pytest_plugin.shard",
    "pytest_sacredx.pytest_plugin.executor",
]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)
