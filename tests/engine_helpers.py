"""Helpers for the engine's unit tests (experiment, ingredient, assemble, captured, run, …).

``new_experiment`` builds an interactive experiment (no main file needed); ``QUIET`` keeps run logs out
of the output; ``events_of`` lists the observer events a :class:`MemoryObserver` received.
"""

from __future__ import annotations

from typing import Any

from pytest_sacredx import Experiment
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
