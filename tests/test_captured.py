"""Captured functions: argument priority, prefixes, special arguments, errors, and what they look like
outside a run."""

from __future__ import annotations

import logging
import pickle
from typing import Any

import pytest
from engine_helpers import LOUD, QUIET, new_experiment

from pytest_sacredx.errors import MissingConfigError, SacredxError, SignatureError
from pytest_sacredx.run.captured import CapturedFunction, create_captured_function
from pytest_sacredx.run.signature import Signature


def experiment_with(**config: Any):
    ex = new_experiment("cap")
    if config:
        ex.add_config(config)
    return ex


def run_calling(ex, fn, *args: Any, updates: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """Run ``fn(*args, **kwargs)`` as the main function's body and return its result."""

    @ex.command
    def call():
        return fn(*args, **kwargs)

    return ex.run("call", config_updates=updates, options=QUIET).result


# --------------------------------------------------------------------------- priority
def test_explicit_arguments_win_then_config_then_defaults() -> None:
    ex = experiment_with(a=1, b=2)

    @ex.capture
    def f(a, b=20, c=30):
        return a, b, c

    assert run_calling(ex, f) == (1, 2, 30)
    assert run_calling(ex, f, 5) == (5, 2, 30)
    assert run_calling(ex, f, b=7) == (1, 7, 30)
    assert run_calling(ex, f, 5, 6, 7) == (5, 6, 7)


def test_keyword_only_and_star_arguments() -> None:
    ex = experiment_with(a=1, k=2)

    @ex.capture
    def f(a, *rest, k, **extra):
        return a, rest, k, extra

    assert run_calling(ex, f) == (1, (), 2, {})
    assert run_calling(ex, f, 9, 8, 7, z=1) == (9, (8, 7), 2, {"z": 1})


def test_prefix_selects_a_sub_dict() -> None:
    ex = experiment_with(optimizer={"lr": 0.1, "schedule": {"gamma": 0.5}}, lr="top-level")

    @ex.capture(prefix="optimizer")
    def opt(lr):
        return lr

    @ex.capture(prefix="optimizer.schedule")
    def sched(gamma, lr=None):
        return gamma, lr

    @ex.capture(prefix="nothing.here")
    def absent(x=3):
        return x

    assert run_calling(ex, opt) == 0.1
    assert run_calling(ex, sched) == (0.5, None)
    assert run_calling(ex, absent) == 3
    assert run_calling(ex, opt, updates={"optimizer.lr": 1.0}) == 1.0


def test_methods_skip_self() -> None:
    ex = experiment_with(scale=3)

    class Model:
        def __init__(self, base: int) -> None:
            self.base = base

        @ex.capture
        def predict(self, x, scale):
            return self.base + x * scale

    model = Model(10)
    assert run_calling(ex, lambda: model.predict(2)) == 16
    assert run_calling(ex, lambda: model.predict(2, scale=1)) == 12


# --------------------------------------------------------------------------- special arguments
def test_special_arguments() -> None:
    ex = experiment_with(a=1, opt={"lr": 0.1})

    @ex.capture
    def f(_config, _run, _log, _seed, _rnd):
        return _config, _run, _log, _seed, _rnd

    @ex.command
    def call(_run):
        return f(), _run

    (config, run, log, seed, rnd), the_run = ex.run("call", config_updates={"seed": 3}, options=QUIET).result
    assert run is the_run
    assert dict(config) == {"a": 1, "opt": {"lr": 0.1}, "seed": 3}
    assert isinstance(log, logging.Logger) and log.name == "sacredx.f"
    assert isinstance(seed, int) and 1 <= seed < 2**31
    assert hasattr(rnd, "integers") or hasattr(rnd, "randint")


def test_special_arguments_can_be_passed_explicitly() -> None:
    ex = experiment_with()

    @ex.capture
    def f(_seed, _rnd):
        return _seed, _rnd

    from pytest_sacredx.run.seeding import create_rnd, get_seed

    seed, rnd = run_calling(ex, f, _seed=42)
    assert seed == 42
    # Sacred's rule: the call still draws, and _rnd is seeded from the draw (test_seeding.py has the
    # draws); the "name" derivation seeds _rnd from an explicit _seed instead
    assert get_seed(rnd) != get_seed(create_rnd(42))
    marker = object()
    assert run_calling(ex, f, _seed=1, _rnd=marker)[1] is marker


def test_config_under_a_prefix_is_the_sub_dict() -> None:
    ex = experiment_with(opt={"lr": 0.1})

    @ex.capture(prefix="opt")
    def f(_config):
        return dict(_config)

    assert run_calling(ex, f) == {"lr": 0.1}


def test_each_call_draws_a_new_seed_and_rnd_is_seeded_with_it() -> None:
    ex = experiment_with()

    @ex.capture
    def f(_seed, _rnd):
        return _seed, _rnd

    @ex.command
    def call():
        return [f() for _ in range(3)]

    draws = ex.run("call", config_updates={"seed": 1}, options=QUIET).result
    seeds = [s for s, _ in draws]
    assert len(set(seeds)) == 3
    from pytest_sacredx.run.seeding import create_rnd, get_seed

    for seed, rnd in draws:
        assert get_seed(rnd) == get_seed(create_rnd(seed))


def test_the_config_is_read_only_in_a_captured_function() -> None:
    ex = experiment_with(opt={"lr": 0.1, "layers": [1, 2]})

    @ex.capture
    def mutate(opt, what):
        if what == "set":
            opt["lr"] = 1
        elif what == "append":
            opt["layers"].append(3)
        return "mutated"

    for what in ("set", "append"):
        with pytest.raises(SacredxError, match="read-only") as info:
            run_calling(ex, mutate, what=what)
        assert isinstance(info.value, TypeError)


def test_read_only_config_copies_and_pickles_to_plain_values() -> None:
    import copy

    ex = experiment_with(opt={"lr": 0.1, "layers": [1, 2]})

    @ex.capture
    def f(opt):
        clone = copy.deepcopy(opt)
        clone["lr"] = 2
        return clone, pickle.loads(pickle.dumps(opt))

    clone, unpickled = run_calling(ex, f)
    assert clone == {"lr": 2, "layers": [1, 2]}
    assert unpickled == {"lr": 0.1, "layers": [1, 2]}


def test_logger_logs_start_and_finish_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    ex = experiment_with(a=1)

    @ex.capture
    def f(a):
        return a

    @ex.main
    def main():
        return f()

    ex.run(options=LOUD)
    records = [(r.name, r.levelno, r.getMessage()) for r in caplog.records if r.name == "sacredx.f"]
    assert records[0] == ("sacredx.f", logging.DEBUG, "Started")
    assert records[1][2].startswith("Finished after 0:00:00")


# --------------------------------------------------------------------------- errors
def test_missing_argument_names_function_and_parameter() -> None:
    ex = experiment_with(a=1)

    @ex.capture
    def some_function(a, b, c=3):
        return a

    with pytest.raises(MissingConfigError) as info:
        run_calling(ex, some_function)
    assert "some_function is missing value(s): ['b']" in str(info.value)
    assert isinstance(info.value, TypeError)


def test_signature_errors() -> None:
    ex = experiment_with(a=1)

    @ex.capture
    def f(a, b=2):
        return a

    with pytest.raises(SignatureError, match="unexpected positional"):
        run_calling(ex, f, 1, 2, 3)
    with pytest.raises(SignatureError, match=r"unexpected keyword argument\(s\): \['z'\]"):
        run_calling(ex, f, z=1)
    with pytest.raises(SignatureError, match=r"multiple values for argument\(s\) \['a'\]"):
        run_calling(ex, f, 1, a=2)


# --------------------------------------------------------------------------- outside a run, attributes
def test_outside_a_run_defaults_and_explicit_arguments_apply() -> None:
    ex = experiment_with(a=1)

    @ex.capture
    def f(a, b=2, _seed=None, _log=None):
        return a, b

    assert f(5) == (5, 2)
    with pytest.raises(MissingConfigError, match=r"\['a'\]"):
        f()
    assert f.run is None and f.config == {}
    assert f.logger.name == "sacredx.f"


def test_attributes_set_by_hand_apply_outside_a_run(caplog: pytest.LogCaptureFixture) -> None:
    """Sacred's attributes ``config``, ``logger``, ``run`` and ``rnd`` can be set on the function; they
    are what it sees when no run is active (a run's own values win inside it)."""
    import random

    ex = experiment_with(a=1)

    @ex.capture
    def f(a, _config, _log, _run, _seed):
        return a, _config, _log, _run, _seed

    logger = logging.getLogger("by-hand")
    marker = object()
    f.config, f.logger, f.run, f.rnd = {"a": 11}, logger, marker, random.Random(1234)
    with caplog.at_level(logging.DEBUG, logger="by-hand"):
        assert f() == (11, {"a": 11}, logger, marker, random.Random(1234).randint(1, 10**9))
    assert [r.getMessage() for r in caplog.records] == ["Started", "Finished after 0:00:00."]
    assert f.config == {"a": 11} and f.logger is logger and f.run is marker

    @ex.main
    def main(_run):
        return f()[0], f.run is _run, f.logger is logger

    assert ex.run(options=QUIET).result == (1, True, False)


def test_attributes_of_a_captured_function() -> None:
    ex = experiment_with()

    def g(x, _rnd):
        """Doc of g."""
        return x

    cf = ex.capture(g, prefix="p")
    assert isinstance(cf, CapturedFunction)
    assert cf.prefix == "p" and cf.uses_randomness and cf.__doc__ == "Doc of g." and cf.__name__ == "g"
    assert isinstance(cf.signature, Signature) and cf.signature.arguments == ["x", "_rnd"]
    assert create_captured_function(cf) is cf
    assert "g" in repr(cf)


def test_a_captured_function_sees_the_run_it_is_called_in() -> None:
    ex = experiment_with(a=1)

    @ex.capture
    def f(a):
        return a

    @ex.main
    def main(_run):
        return f.run is _run, dict(f.config), f.logger.name

    assert ex.run(options=QUIET).result == (True, {"a": 1, "seed": ex.current_run.config["seed"]}, "sacredx.f")


def test_plain_thread_inside_a_run_sees_the_only_active_run() -> None:
    """Sacred's captured functions work in threads the main function starts; with one active run in the
    process there is no ambiguity, so a thread that did not copy the context still finds it."""
    import threading

    from pytest_sacredx import Experiment

    ex = Experiment("threads_fallback", interactive=True)
    ex.add_config(a=5)

    @ex.capture
    def read(a):
        return a

    @ex.main
    def main():
        out: list[int] = []
        worker = threading.Thread(target=lambda: out.append(read()))
        worker.start()
        worker.join()
        return out

    assert ex.run(options={"--loglevel": "ERROR"}).result == [5]
