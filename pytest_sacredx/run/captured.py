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

``_seed`` and ``_rnd`` come from the run's seed, as ``pytest_sacredx.run.seeding`` describes: one fresh
``_seed`` per call, drawn from the function's own generator in that run (Sacred's ``rnd`` attribute),
and ``_rnd = create_rnd(_seed)``. Outside a run the draw comes from the ``rnd`` attribute when it was
set, else from the global ``random``, as in Sacred.
"""

from __future__ import annotations

import datetime as _dt
import functools
import logging
import time
from typing import TYPE_CHECKING, Any

from .context import CURRENT_RUN, only_active_run
from .seeding import SeedStream, create_rnd, get_seed
from .signature import MISSING, Signature

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
        # Sacred's attributes set by hand (its tests do): what the function sees outside a run
        self._rnd: Any = None
        self._config: Any = None
        self._logger: Any = None
        self._run: Any = None

    # Sacred stores these on the function; here they are views of the active run, and what was set by
    # hand applies only outside a run (so two runs at once never see each other's values).
    @property
    def run(self) -> Run | None:
        return CURRENT_RUN.get() or self._run

    @run.setter
    def run(self, value: Any) -> None:
        self._run = value

    @property
    def config(self) -> Any:
        run = CURRENT_RUN.get()
        if run is not None:
            return run._captured_state(self).config
        return self._config if self._config is not None else {}

    @config.setter
    def config(self, value: Any) -> None:
        self._config = value

    @property
    def logger(self) -> Any:
        run = CURRENT_RUN.get()
        if run is not None:
            return run._captured_state(self).logger
        if self._logger is not None:
            return self._logger
        return logging.getLogger("sacredx").getChild(self.__name__)

    @logger.setter
    def logger(self, value: Any) -> None:
        self._logger = value

    @property
    def rnd(self) -> Any:
        """The generator this function's ``_seed`` draws come from: the active run's, or the one set
        by hand (None until then: the global ``random``)."""
        run = CURRENT_RUN.get()
        stream = run._captured_state(self).stream() if run is not None else None
        return stream.rnd if stream is not None else self._rnd

    @rnd.setter
    def rnd(self, value: Any) -> None:
        run = CURRENT_RUN.get()
        if run is not None and run._captured_state(self).stream() is not None:
            run._captured_state(self).set_stream(SeedStream(value))
        else:
            self._rnd = value

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        return functools.partial(self, instance)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        run = CURRENT_RUN.get() or only_active_run()
        state = run._captured_state(self) if run is not None else None
        config = state.config if state is not None else self._config or _EMPTY
        if self._specials:
            specials = self._special_values(run, state, kwargs)

            def lookup(name: str, missing: Any) -> Any:
                value = specials.get(name, MISSING)
                return config.get(name, missing) if value is MISSING else value

        else:
            lookup = config.get  # type: ignore[assignment]
        args, kwargs = self.signature.bind(args, kwargs, lookup)
        log = state.logger if state is not None else self._logger
        if log is not None and log.isEnabledFor(logging.DEBUG):
            start = time.monotonic()
            log.debug("Started")
            result = self.__wrapped__(*args, **kwargs)
            log.debug("Finished after %s.", _dt.timedelta(seconds=round(time.monotonic() - start)))
            return result
        captured_function = self.__wrapped__  # Sacred's name: an unfiltered traceback reads as Sacred's
        return captured_function(*args, **kwargs)

    def _special_values(self, run: Run | None, state: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        wanted = self._specials.difference(kwargs)
        values: dict[str, Any] = {}
        if "_config" in wanted:
            values["_config"] = state.config if state is not None else self.config
        if "_run" in wanted:
            values["_run"] = run if run is not None else self._run
        if "_log" in wanted:
            values["_log"] = self.logger
        if self.uses_randomness:
            # One draw per call, shared by _seed and _rnd when a function declares both. Sacred draws
            # even when the caller passes both (the next call's draws do not depend on how this one
            # was called) and seeds _rnd from the drawn seed, not a passed one; the name mode seeds
            # _rnd from a passed _seed and draws nothing.
            stream = state.stream() if state is not None else None
            seed = kwargs.get("_seed", MISSING)
            if stream is None:
                seed = get_seed(self._rnd)
            elif seed is MISSING or stream.draws_for_explicit_seed:
                seed = stream.next_seed()
            if "_seed" in wanted:
                values["_seed"] = seed
            if "_rnd" in wanted:
                values["_rnd"] = create_rnd(seed)
        return values

    def __repr__(self) -> str:
        return f"<captured function {self.__qualname__}>"


class CapturedState:
    """What one captured function sees during one run."""

    __slots__ = ("config", "logger", "_seeds", "_cf", "_stream")

    def __init__(self, config: Any, logger: logging.Logger, seeds: Any = None, cf: Any = None) -> None:
        self.config = config
        self.logger = logger
        self._seeds = seeds  # the run's RunSeeds (None: this run does not seed the function)
        self._cf = cf
        self._stream: SeedStream | None = None

    def stream(self) -> SeedStream | None:
        """The function's generator in this run, made on first use."""
        if self._stream is None and self._seeds is not None:
            seeds, self._seeds = self._seeds, None  # asked once: None stays None
            self._stream = seeds.stream(self._cf)
        return self._stream

    def set_stream(self, stream: SeedStream) -> None:
        self._stream = stream


def create_captured_function(
    function: Any, prefix: str | None = None, ingredient: Ingredient | None = None
) -> CapturedFunction:
    """Sacred's name for making a captured function; capturing twice is a no-op."""
    if isinstance(function, CapturedFunction):
        return function
    return CapturedFunction(function, prefix=prefix, ingredient=ingredient)
