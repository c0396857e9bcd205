"""Helpers for the engine's unit tests (experiment, ingredient, assemble, captured, run, …).

``new_experiment`` builds an interactive experiment (no main file needed); ``QUIET`` keeps run logs out
of the output; ``events_of`` lists the observer events a :class:`MemoryObserver` received.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_sacredx import Experiment
from pytest_sacredx.logs import BASE_LOGGER_NAME
from pytest_sacredx.observers.memory import MemoryObserver

QUIET: dict[str, Any] = {"--loglevel": "ERROR"}
LOUD: dict[str, Any] = {"--loglevel": "DEBUG"}


def new_experiment(name: str = "demo", **kwargs: Any) -> Experiment:
    """An experiment that needs no main file."""
    return Experiment(name, interactive=True, **kwargs)


def observed(ex: Experiment) -> MemoryObserver:
    """Attach and return a fresh in-memory observer."""
    obs = MemoryObserver()
    ex.observers.append(obs)
    return obs


def events_of(obs: MemoryObserver) -> list[str]:
    return [name for name, _ in obs.events]


@pytest.fixture
def restore_sacredx_logger() -> Iterator[logging.Logger]:
    """Runs change the level, handlers and propagation of our ``sacredx`` logger; put them back."""
    base = logging.getLogger(BASE_LOGGER_NAME)
    saved = (base.level, list(base.handlers), base.propagate, base.__dict__.get("_sacredx_set_level"))
    yield base
    base.setLevel(saved[0])
    base.handlers[:] = saved[1]
    base.propagate = saved[2]
    if saved[3] is None:
        base.__dict__.pop("_sacredx_set_level", None)
    else:
        base._sacredx_set_level = saved[3]  # type: ignore[attr-defined]
