"""Experiment: construction, decorators, commands, hooks, ``run()`` and what it hands to observers."""

# ruff: noqa: F841, UP031 - config scopes: their local variables are the config

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import QUIET, events_of, new_experiment, observed

from pytest_sacredx import Experiment
from pytest_sacredx.errors import CommandNotFoundError, SacredInterrupt, TimeoutInterrupt
from pytest_sacredx.experiment import gather_command_line_options
from pytest_sacredx.run import Run

BUILTIN_COMMANDS = ["print_config", "print_dependencies", "save_config", "print_named_configs"]


def _define_in_file(tmp_path: Path, filename: str, source: str) -> dict[str, Any]:
    """Execute ``source`` as if it were the module ``filename`` (so it has a ``__file__``)."""
    path = tmp_path / filename
    path.write_text(textwrap.dedent(source))
    globs: dict[str, Any] = {"__file__": str(path), "__name__": path.stem}
    exec(compile(path.read_text(), str(path), "exec"), globs)
    return globs


# --------------------------------------------------------------------------- construction
def test_name_defaults_to_the_main_files_stem(tmp_path: Path) -> None:
    globs = _define_in_file(
        tmp_path,
        "my_study.py",
        '''
        """What my study is about."""
        from pytest_sacredx import Experiment
        ex = Experiment()
        ''',
    )
    ex = globs["ex"]
    assert ex.path == "my_study"
    assert ex.mainfile == str(tmp_path / "my_study.py")
    assert ex.base_dir == str(tmp_path)
    assert ex.doc == "What my study is about."


def test_an_interactive_experiment_needs_a_name() -> None:
    with pytest.raises(RuntimeError, match="name"):
        Experiment(interactive=True)


def test_without_a_main_file_interactive_must_be_said(tmp_path: Path) -> None:
    globs: dict[str, Any] = {"__name__": "notebook"}
    with pytest.raises(RuntimeError, match="interactive=True"):
        exec("from pytest_sacredx import Experiment\nex = Experiment('nb')", globs)
    exec("from pytest_sacredx import Experiment\nex = Experiment('nb', interactive=True)", globs)
    assert globs["ex"].mainfile is None


def test_builtin_commands_are_registered_and_unobserved() -> None:
    ex = new_experiment()
    assert list(ex.commands) == BUILTIN_COMMANDS
    assert all(ex.commands[name].unobserved for name in BUILTIN_COMMANDS)
    assert ex.observers == [] and ex.current_run is None and ex.option_hooks == []
    assert ex.default_command is None


def test_gather_command_line_options_lists_sacreds_flags() -> None:
    flags = {opt.long_flag for opt in gather_command_line_options()}
    assert {"--help", "--debug", "--pdb", "--loglevel", "--comment", "--beat-interval", "--unobserved",
            "--queue", "--force", "--priority", "--enforce_clean", "--print-config", "--id", "--name",
            "--capture", "--file_storage", "--mongo_db", "--sql", "--tiny_db", "--s3"} <= flags


# --------------------------------------------------------------------------- main and commands
def test_main_becomes_the_default_command_and_run_returns_the_run() -> None:
    ex = new_experiment()

    @ex.main
    def compute():
        return 42

    assert ex.default_command == "compute"
    run = ex.run(options=QUIET)
    assert isinstance(run, Run)
    assert run.result == 42 and run.status == "COMPLETED"
    assert ex.current_run is run  # stays set after the run, as in Sacred


def test_run_without_main_names_the_fix() -> None:
    ex = new_experiment()
    with pytest.raises(CommandNotFoundError, match="@ex.main"):
        ex.run(options=QUIET)


def test_unknown_command_suggests_the_closest() -> None:
    ex = new_experiment()

    @ex.command
    def train():
        pass

    with pytest.raises(CommandNotFoundError, match="Did you mean 'train'") as info:
        ex.run("trian", options=QUIET)
    assert isinstance(info.value, KeyError)


def test_commands_run_by_name_with_their_config() -> None:
    ex = new_experiment()

    @ex.config
    def cfg():
        name = "John"

    @ex.command
    def greet(name):
        return f"Hello {name}!"

    @ex.main
    def main():
        return "main"

    assert ex.run("greet", options=QUIET).result == "Hello John!"
    assert ex.run("greet", config_updates={"name": "Jane"}, options=QUIET).result == "Hello Jane!"
    assert ex.run("main", options=QUIET).result == "main"
    assert ex.run(options=QUIET).result == "main"


def test_unobserved_command_sends_no_events_observed_one_does() -> None:
    ex = new_experiment()
    obs = observed(ex)

    @ex.command(unobserved=True)
    def peek():
        return 1

    @ex.command
    def work():
        return 2

    ex.run("peek", options=QUIET)
    assert obs.events == []
    ex.run("print_config", options=QUIET)
    assert obs.events == []
    ex.run("work", options=QUIET)
    assert events_of(obs)[0] == "started_event"
    assert events_of(obs)[-2:] == ["completed_event", "join"]
    assert obs.runs[-1]["command"] == "work" and obs.runs[-1]["result"] == 2


def test_unobserved_option_drops_observers() -> None:
    ex = new_experiment()
    obs = observed(ex)

    @ex.main
    def main():
        return 1

    run = ex.run(options={**QUIET, "--unobserved": True})
    assert run.unobserved and run.result == 1
    assert obs.events == []


# --------------------------------------------------------------------------- running many times
def test_one_experiment_runs_many_times_with_fresh_runs() -> None:
    ex = new_experiment()
    obs = observed(ex)

    @ex.config
    def cfg():
        x = 1

    @ex.main
    def main(x):
        return x * 2

    runs = [ex.run(config_updates={"x": i}, options=QUIET) for i in range(5)]
    assert [r.result for r in runs] == [0, 2, 4, 6, 8]
    assert len({id(r) for r in runs}) == 5
    assert [r["status"] for r in obs.runs] == ["COMPLETED"] * 5
    assert [r["config"]["x"] for r in obs.runs] == [0, 1, 2, 3, 4]
    assert ex.run(options=QUIET).result == 2  # updates of earlier runs did not stick


def test_info_and_meta_info_are_passed_through() -> None:
    ex = new_experiment()
    obs = observed(ex)

    @ex.main
    def main(_run):
        _run.info["seen"] = dict(_run.info)
        return None

    run = ex.run(
        config_updates={"seed": 3},
        named_configs=(),
        info={"pre": 1},
        meta_info={"extra": "yes"},
        options={**QUIET, "--comment": "first try"},
    )
    assert run.info["seen"] == {"pre": 1}
    assert run.meta_info["command"] == "main"
    assert run.meta_info["comment"] == "first try"
    assert run.meta_info["extra"] == "yes"
    assert run.meta_info["config_updates"] == {"seed": 3}
    assert run.meta_info["named_configs"] == []
    assert run.meta_info["options"]["--comment"] == "first try"
    assert obs.runs[-1]["meta"]["comment"] == "first try"


def test_option_names_are_accepted_in_both_spellings() -> None:
    ex = new_experiment()

    @ex.main
    def main():
        pass

    run = ex.run(options={"loglevel": "ERROR", "--beat_interval": 0.5, "comment": "c"})
    assert run.beat_interval == 0.5
    assert run.meta_info["comment"] == "c"


# --------------------------------------------------------------------------- hooks
def test_option_hook_sees_and_changes_the_options_before_the_run() -> None:
    ex = new_experiment()
    seen: list[Any] = []

    @ex.option_hook
    def hook(options):
        seen.append(options["--comment"])
        options["--comment"] = "from the hook"

    @ex.main
    def main():
        pass

    run = ex.run(options={**QUIET, "--comment": "given"})
    assert seen == ["given"]
    assert run.meta_info["comment"] == "from the hook"


def test_option_hook_needs_an_options_parameter() -> None:
    ex = new_experiment()
    with pytest.raises(KeyError, match="options"):

        @ex.option_hook
        def hook(opts):
            pass


def test_pre_and_post_run_hooks_wrap_the_main_function_with_config_access() -> None:
    ex = new_experiment()
    calls: list[Any] = []

    @ex.config
    def cfg():
        a = 1
        opt = {"lr": 0.5}

    @ex.pre_run_hook
    def pre(a):
        calls.append(("pre", a))

    @ex.post_run_hook(prefix="opt")
    def post(lr, _run):
        calls.append(("post", lr, _run.result))

    @ex.main
    def main(a):
        calls.append(("main", a))
        return "done"

    ex.run(config_updates={"a": 7}, options=QUIET)
    assert calls == [("pre", 7), ("main", 7), ("post", 0.5, "done")]


def test_ingredient_run_hooks_run_too() -> None:
    from pytest_sacredx import Ingredient

    ing = Ingredient("data", interactive=True)
    calls: list[str] = []

    @ing.pre_run_hook
    def load():
        calls.append("data.pre")

    ex = new_experiment(ingredients=[ing])

    @ex.main
    def main():
        calls.append("main")

    ex.run(options=QUIET)
    assert calls == ["data.pre", "main"]


# --------------------------------------------------------------------------- outcomes
def test_failure_is_reraised_and_recorded() -> None:
    ex = new_experiment()
    obs = observed(ex)

    @ex.main
    def main():
        raise ValueError("bad data")

    with pytest.raises(ValueError, match="bad data"):
        ex.run(options=QUIET)
    run = obs.runs[-1]
    assert run["status"] == "FAILED"
    assert run["fail_trace"][-1] == "ValueError: bad data\n"
    assert ex.current_run is not None and ex.current_run.status == "FAILED"


@pytest.mark.parametrize(
    ("exc", "status"),
    [(KeyboardInterrupt(), "INTERRUPTED"), (SacredInterrupt(), "INTERRUPTED"), (TimeoutInterrupt(), "TIMEOUT")],
)
def test_interrupts_end_the_run_with_their_status(exc: BaseException, status: str) -> None:
    ex = new_experiment()
    obs = observed(ex)

    @ex.main
    def main():
        raise exc

    with pytest.raises(type(exc)):
        ex.run(options=QUIET)
    assert obs.runs[-1]["status"] == status
    assert events_of(obs)[-2:] == ["interrupted_event", "join"]
    assert obs.events[-2][1]["status"] == status


def test_custom_interrupt_status() -> None:
    class Diverged(SacredInterrupt):
        STATUS = "DIVERGED"

    ex = new_experiment()
    obs = observed(ex)

    @ex.main
    def main():
        raise Diverged()

    with pytest.raises(Diverged):
        ex.run(options=QUIET)
    assert obs.runs[-1]["status"] == "DIVERGED"


def test_delegating_methods_need_a_running_run() -> None:
    ex = new_experiment()
    with pytest.raises(RuntimeError, match="running run"):
        ex.log_scalar("loss", 1.0)
    with pytest.raises(RuntimeError, match="running run"):
        _ = ex.info


def test_delegating_methods_reach_the_current_run(tmp_path: Path) -> None:
    ex = new_experiment()
    obs = observed(ex)
    artifact = tmp_path / "model.txt"
    artifact.write_text("weights")

    @ex.main
    def main():
        ex.info["epochs"] = 3
        ex.log_scalar("loss", 0.5)
        ex.log_scalar("loss", 0.25)
        ex.add_artifact(str(artifact))
        with ex.open_resource(str(artifact)) as f:
            return f.read()

    run = ex.run(options=QUIET)
    assert run.result == "weights"
    stored = obs.runs[-1]
    assert stored["info"] == {"epochs": 3}
    assert stored["metrics"]["loss"]["values"] == [0.5, 0.25]
    assert stored["artifacts"] == ["model.txt"]
    assert stored["resources"][0][0] == os.path.abspath(artifact)


def test_queue_only_queues() -> None:
    ex = new_experiment()
    obs = observed(ex)
    ran: list[int] = []

    @ex.main
    def main():
        ran.append(1)

    run = ex.run(options={**QUIET, "--queue": True})
    assert run.status == "QUEUED" and ran == []
    assert events_of(obs) == ["queued_event", "join"]


def test_observers_get_the_started_event_in_priority_order() -> None:
    ex = new_experiment()
    order: list[str] = []

    class Named:
        def __init__(self, name: str, priority: int) -> None:
            self.name, self.priority = name, priority

        def started_event(self, **kwargs: Any) -> None:
            order.append(self.name)

    ex.observers += [Named("low", 1), Named("high", 30), Named("mid", 20)]

    @ex.main
    def main():
        pass

    ex.run(options=QUIET)
    assert order == ["high", "mid", "low"]
