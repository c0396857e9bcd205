"""Hypothesis strategies over an experiment's config space: property-based experiments.

``configs(ex, **overrides)`` draws config updates for ``ex`` — a dict ``{dotted key: value}`` to pass
to ``exp_run(**updates)`` (or ``ex.run(config_updates=…)``):

- numbers around their defaults, keeping type and sign: a float within two orders of magnitude of its
  default (drawn evenly in log scale), an int within a factor of two (``0`` draws from 0…10);
- bools either way; strings, lists and other values stay at their defaults, except that every value a
  named config sets for a key is a candidate for that key;
- ``overrides`` replace the strategy of any key (``gamma=st.floats(1e-3, 10)``; ``optimizer__lr`` for
  ``optimizer.lr``; a plain value pins the key);
- ``seed`` is drawn too, from hypothesis's own data, so a failing example replays exactly and shrinks
  like any other key. Every key shrinks towards its default, so a falsifying example changes as few
  entries as it can, and entries equal to their defaults are left out of the updates.

Under pytest, the ``exp_run`` runs of a ``@given`` test are scratch runs — not recorded — except the
falsifying example's, which is run once more and recorded (``info["hypothesis"]``); with
``--exp-record-examples`` every example is recorded. Experiments are slower than hypothesis's default
deadline and ``exp_run`` is a function-scoped fixture, hence ``experiment_settings()``::

    from hypothesis import given
    from pytest_sacredx.strategies import configs, experiment_settings

    @pytest.mark.experiment(ex)
    @experiment_settings(max_examples=20)
    @given(updates=configs(ex, gamma=st.floats(1e-3, 10), C=st.floats(0.1, 100)))
    def test_beats_chance(exp_run, updates):
        assert exp_run(**updates).result > 1 / 3

This module imports hypothesis (``pip install 'pytest-sacredx[hypothesis]'``); nothing else in
pytest_sacredx imports this module.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Mapping, Sequence
from typing import Any

try:
    from hypothesis import HealthCheck, settings
    from hypothesis import strategies as st
    from hypothesis.strategies import SearchStrategy
except ImportError as e:  # pragma: no cover - the extra is installed in the test environment
    raise ImportError(
        f"pytest_sacredx.strategies needs hypothesis ({e}); install it with: "
        "pip install 'pytest-sacredx[hypothesis]'"
    ) from None

from .config.paths import iterate_flattened
from .errors import ConfigKeyError, SacredxError, did_you_mean
from .run.seeding import SEED_MAX

__all__ = ["configs", "around", "experiment_settings"]

#: how far a float may move from its default, in orders of magnitude
FLOAT_DECADES = 2


def experiment_settings(**kwargs: Any) -> settings:
    """``hypothesis.settings`` for experiments: no deadline (a run takes longer than 200 ms) and the
    ``function_scoped_fixture`` health check off (``exp_run`` is safe to share between examples)."""
    kwargs.setdefault("deadline", None)
    suppressed = set(kwargs.pop("suppress_health_check", ())) | {HealthCheck.function_scoped_fixture}
    return settings(suppress_health_check=sorted(suppressed, key=lambda h: h.value), **kwargs)


def around(default: Any, candidates: Sequence[Any] = ()) -> SearchStrategy[Any] | None:
    """The strategy of one config value (see the module docstring); None keeps it at its default.

    >>> around(True) is not None, around("rbf") is None, around("rbf", ["linear"]) is not None
    (True, True, True)
    """
    extra = [c for c in candidates if c != default or type(c) is not type(default)]
    drawn: SearchStrategy[Any] | None = None
    if isinstance(default, bool):
        drawn = st.just(not default)
    elif isinstance(default, int):
        if default == 0:
            drawn = st.integers(0, 10)
        else:
            size = abs(default)
            lo, hi = max(1, (size + 1) // 2), max(size * 2, size + 2)
            sign = 1 if default > 0 else -1
            drawn = st.integers(lo, hi).map(lambda v: sign * v)
    elif isinstance(default, float) and math.isfinite(default):
        if default == 0:
            drawn = st.floats(0.0, 1.0)
        else:
            exp = math.log10(abs(default))
            fsign = 1.0 if default > 0 else -1.0
            drawn = st.floats(exp - FLOAT_DECADES, exp + FLOAT_DECADES).map(lambda e: fsign * 10.0**e)
    options: list[SearchStrategy[Any]] = [st.just(default)]  # first: examples shrink towards defaults
    if extra:
        options.append(st.sampled_from(extra))
    if drawn is not None:
        options.append(drawn)
    return st.one_of(options) if len(options) > 1 else None


def configs(experiment: Any, **overrides: Any) -> SearchStrategy[dict[str, Any]]:
    """A strategy of config updates for ``experiment`` (see the module docstring).

    >>> from pytest_sacredx import Experiment
    >>> ex = Experiment("demo", interactive=True)
    >>> @ex.config
    ... def cfg():
    ...     lr = 0.1
    ...     layers = 2
    >>> @ex.main
    ... def main(lr, layers):
    ...     return lr * layers
    >>> from hypothesis import find
    >>> updates = find(configs(ex), lambda u: "layers" in u)  # the simplest draw that moves layers
    >>> sorted(updates), updates["layers"] in (1, 3, 4)         # 1…4 around 2, never the default
    (['layers', 'seed'], True)
    """
    defaults = _flat_config(experiment)
    candidates: dict[str, list[Any]] = {}
    for name in _named_config_names(experiment):
        try:
            named = _flat_config(experiment, (name,))
        except SacredxError:
            continue  # a named config that needs other updates to apply: no candidates from it
        for key, value in named.items():
            if key in defaults and value != defaults[key]:
                candidates.setdefault(key, []).append(value)
    parts: dict[str, SearchStrategy[Any]] = {}
    for key, default in defaults.items():
        if key == "seed":
            continue
        strategy = around(default, candidates.get(key, []))
        if strategy is not None:
            parts[key] = strategy
    pinned: set[str] = set()
    for raw_key, value in overrides.items():
        key = raw_key.replace("__", ".")
        nested = [k for k in defaults if k.startswith(key + ".")]
        if key not in defaults and not nested and key != "seed":
            raise ConfigKeyError(
                f"configs({getattr(experiment, 'path', experiment)!r}, {raw_key}=…): the experiment has no "
                f"config entry {key!r}.{did_you_mean(key, defaults)}"
            )
        for sub in nested:  # a whole dict replaced: its entries are no longer drawn one by one
            parts.pop(sub, None)
        parts[key] = value if isinstance(value, SearchStrategy) else st.just(value)
        pinned.add(key)
    parts.setdefault("seed", st.integers(1, SEED_MAX))

    def changed(drawn: dict[str, Any]) -> dict[str, Any]:
        return {
            k: v
            for k, v in drawn.items()
            if k in pinned or k == "seed" or k not in defaults or not _same(v, defaults[k])
        }

    return st.fixed_dictionaries(parts).map(changed)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _named_config_names(experiment: Any) -> list[str]:
    return [name for name, _ in experiment.gather_named_configs()]


def _flat_config(experiment: Any, named: tuple[str, ...] = ()) -> dict[str, Any]:
    """The experiment's config (with ``named`` applied) as ``{dotted key: leaf}``; global RNGs untouched."""
    state = random.getstate()
    np = sys.modules.get("numpy")
    np_state = np.random.get_state() if np is not None else None
    try:
        run = experiment._create_run(
            named_configs=named, options={"--unobserved": True, "--seed": 1, "--loglevel": "ERROR"}
        )
    finally:
        random.setstate(state)
        if np is not None and np_state is not None:
            np.random.set_state(np_state)
    return {k: v for k, v in iterate_flattened(run.config) if not isinstance(v, Mapping)}
