"""Captured functions: arguments filled from the active run's config at call time.

The wrapper holds no config of its own. On each call it asks the context variable for the active run
and takes its config, logger and seed generator from that run, so the same function used by two runs at
once (threads, pytest items, nested ``ex.run()``) never sees the other's values.

>>> from pytest_sacredx import Experiment
>>> ex = Experiment("demo", interactive=True)
>>> @ex.capture
... def scale(x, factor=2):
...     return x * factor
>>> scale(3)  # no active run: defaults apply
6
"""

from __future__ import annotations

import functools
import logging
import random
import time
from typing import TYPE_CHECKING, Any

from .context import _CURRENT, only_active_run
from .seeding import SEED_MAX, create_rnd, random_seed
from .signature import _MISSING, Signature

if TYPE_CHECKING:
    from ..ingredient import Ingredient
    from .run import Run

__all__ = ["CapturedFunction", "create_captured_function"]

_EMPTY: dict[str, Any] = {}


class CapturedFunction:
    """A function whose free parameters come from the config (explicit arguments win, then config
    values, then the function's defaults). ``_config``, ``_run``, ``_log``, ``_seed`` and ``_rnd`` are
    special parameters filled by the run."""

    __name__: str  # set by functools.update_wrapper
    __qualname__: str

    def __init__(
        self, function: Any, prefix: str | None = None, ingredient: Ingredient | None = None
    ) -> None:
        functools.update_wrapper(self, function)
        self.__wrapped__ = function
        self.prefix = prefix
        self.ingredient = ingredient
        self.signature = Signature(function)
        self.uses_randomness = self.signature.uses_randomness
        self._specials = frozenset(self.signature.specials)
        self.unobserved = False

    # Sacred exposes these as attributes of the function; here they are views of the active run.
    @property
    def run(self) -> Run | None:
        return _CURRENT.get()

    @property
    def config(self) -> dict[str, Any]:
        run = _CURRENT.get()
        return run._captured_state(self).config if run is not None else {}

    @property
    def logger(self) -> logging.Logger:
        run = _CURRENT.get()
        if run is not None:
            return run._captured_state(self).logger
        return logging.getLogger("sacredx").getChild(self.__name__)

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        return functools.partial(self, instance)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        run = _CURRENT.get() or only_active_run()
        state = run._captured_state(self) if run is not None else None
        config = state.config if state is not None else _EMPTY
        if self._specials:
            specials = self._special_values(run, state, kwargs)

            def lookup(name: str, missing: Any) -> Any:
                value = specials.get(name, _MISSING)
                return config.get(name, missing) if value is _MISSING else value

        else:
            lookup = config.get  # type: ignore[assignment]
        args, kwargs = self.signature.bind(args, kwargs, lookup)
        log = state.logger if state is not None else None
        if log is not None and log.isEnabledFor(logging.DEBUG):
            start = time.monotonic()
            log.debug("Started")
            result = self.__wrapped__(*args, **kwargs)
            log.debug("Finished after %s.", _fmt_duration(time.monotonic() - start))
            return result
        captured_function = self.__wrapped__  # Sacred's name: an unfiltered traceback reads as Sacred's
        return captured_function(*args, **kwargs)

    def _special_values(self, run: Run | None, state: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        wanted = self._specials.difference(kwargs)
        values: dict[str, Any] = {}
        if "_config" in wanted:
            values["_config"] = state.config if state is not None else {}
        if "_run" in wanted:
            values["_run"] = run
        if "_log" in wanted:
            values["_log"] = self.logger
        if "_seed" in wanted or "_rnd" in wanted:
            # One draw per call, shared by _seed and _rnd when a function declares both.
            seed = kwargs.get("_seed", _MISSING)
            if seed is _MISSING:
                seed = state.next_seed() if state is not None else random_seed()
            if "_seed" in wanted:
                values["_seed"] = seed
            if "_rnd" in wanted:
                values["_rnd"] = create_rnd(seed)
        return values

    def __repr__(self) -> str:
        return f"<captured function {self.__qualname__}>"


class CapturedState:
    """What one captured function sees during one run."""

    __slots__ = ("config", "logger", "_seed_source", "_seed_rng")

    def __init__(self, config: Any, logger: logging.Logger, seed_source: int) -> None:
        self.config = config
        self.logger = logger
        self._seed_source = seed_source
        self._seed_rng: random.Random | None = None

    def next_seed(self) -> int:
        if self._seed_rng is None:
            self._seed_rng = random.Random(self._seed_source)
        return self._seed_rng.randint(1, SEED_MAX)


def create_captured_function(
    function: Any, prefix: str | None = None, ingredient: Ingredient | None = None
) -> CapturedFunction:
    """Sacred's name for making a captured function; capturing twice is a no-op."""
    if isinstance(function, CapturedFunction):
        return function
    return CapturedFunction(function, prefix=prefix, ingredient=ingredient)


def _fmt_duration(seconds: float) -> str:
    import datetime as _dt

    return str(_dt.timedelta(seconds=int(seconds)))
