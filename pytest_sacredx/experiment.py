"""Experiment: the main ingredient — commands, observers, runs and the command line.

>>> from pytest_sacredx import Experiment
>>> ex = Experiment("hello", interactive=True)
>>> @ex.config
... def cfg():
...     recipient = "world"
...     message = "Hello %s!" % recipient
>>> @ex.main
... def greet(message):
...     return message
>>> ex.run(config_updates={"recipient": "you"}, options={"--loglevel": "ERROR"}).result
'Hello you!'
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Sequence
from typing import Any

from .errors import CommandNotFoundError
from .ingredient import Ingredient, caller_globals
from .run import commands as _builtin
from .run.captured import CapturedFunction
from .run.context import current_run as _current_run
from .run.options import BUILTIN_OPTIONS, DEFAULT_OPTIONS, CommandLineOption, normalize_options
from .run.run import Run

__all__ = ["Experiment", "gather_command_line_options"]


def gather_command_line_options(filter_disabled: bool | None = None) -> list[CommandLineOption]:
    """The built-in flags (Sacred's function name)."""
    return list(BUILTIN_OPTIONS)


class Experiment(Ingredient):
    """The central class: config, commands and observers; run it from Python or the command line."""

    def __init__(
        self,
        name: str | None = None,
        ingredients: Sequence[Ingredient] = (),
        interactive: bool = False,
        base_dir: str | None = None,
        additional_host_info: list[Any] | None = None,
        additional_cli_options: Sequence[Any] | None = None,
        save_git_info: bool = True,
    ) -> None:
        globs = caller_globals()
        if name is None:
            mainfile = globs.get("__file__")
            if interactive or mainfile is None:
                raise RuntimeError(
                    "An experiment without a main file needs a name: Experiment('my_experiment', interactive=True)."
                )
            name = os.path.basename(mainfile)
            for ext in (".pyc", ".py"):
                if name.endswith(ext):
                    name = name[: -len(ext)]
                    break
        super().__init__(
            path=name,
            ingredients=ingredients,
            interactive=interactive,
            base_dir=base_dir,
            _caller_globals=globs,
            save_git_info=save_git_info,
        )
        self.default_command: str | None = None
        self.command(_builtin.print_config, unobserved=True)
        self.command(_builtin.print_dependencies, unobserved=True)
        self.command(_builtin.save_config, unobserved=True)
        self.command(_builtin.print_named_configs(self), unobserved=True)
        self.observers: list[Any] = []
        self.current_run: Run | None = None
        self.captured_out_filter: Callable[[str], str] | None = None
        self.option_hooks: list[Callable[..., Any]] = []
        from .provenance.host import check_additional_host_info

        self.additional_host_info = list(additional_host_info or [])
        check_additional_host_info(self.additional_host_info)
        self.additional_cli_options = list(additional_cli_options or [])

    # ------------------------------------------------------------------ decorators
    def main(self, function: Callable[..., Any]) -> CapturedFunction:
        """The default command: ``python exp.py`` and ``ex.run()`` run it."""
        captured = self.command(function)
        self.default_command = captured.__name__
        return captured

    def automain(self, function: Callable[..., Any]) -> CapturedFunction:
        """Like :meth:`main`, and run the command line at once when the file is executed as a script
        (never when it is imported, e.g. by pytest)."""
        captured = self.main(function)
        if function.__module__ == "__main__":
            import __main__

            if not hasattr(__main__, "__file__"):
                raise RuntimeError(
                    "Cannot use @ex.automain in an interactive session: use @ex.main and call "
                    "ex.run_commandline() yourself."
                )
            self.run_commandline()
        return captured

    def option_hook(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function(options)`` sees (and may change) the options before each run is created."""
        if "options" not in inspect.signature(function).parameters:
            raise KeyError(f"option_hook {function.__name__} needs a parameter named 'options'.")
        self.option_hooks.append(function)
        return function

    def _child_name(self, ingredient: Ingredient, name: str) -> str:
        # The experiment's own commands and named configs are named without its path.
        return name if ingredient is self else super()._child_name(ingredient, name)

    # ------------------------------------------------------------------ running
    def get_default_options(self) -> dict[str, Any]:
        options = dict(DEFAULT_OPTIONS)
        for opt in self.additional_cli_options:
            options.setdefault(opt.long_flag, False if opt.is_flag else None)
        return options

    def run(
        self,
        command_name: str | None = None,
        config_updates: dict[str, Any] | None = None,
        named_configs: Sequence[str] = (),
        info: dict[str, Any] | None = None,
        meta_info: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
    ) -> Run:
        """Run a command (default: the main function) and return the finished :class:`Run`."""
        run = self._create_run(command_name, config_updates, named_configs, meta_info, options)
        if info is not None:
            run.info.update(info)
        run()
        return run

    def _create_run(
        self,
        command_name: str | None = None,
        config_updates: dict[str, Any] | None = None,
        named_configs: Sequence[str] = (),
        meta_info: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
    ) -> Run:
        from .run.assemble import create_run

        command_name = command_name or self.default_command
        if command_name is None:
            raise CommandNotFoundError(
                "No command to run: define a main function (@ex.main) or name a command."
            )
        full_options = self.get_default_options()
        full_options.update(normalize_options(options))
        for hook in self.option_hooks:
            hook(options=full_options)
        run = create_run(
            self,
            command_name,
            config_updates,
            named_configs=tuple(named_configs),
            force=bool(full_options.get("--force")),
            log_level=full_options.get("--loglevel"),
            default_seed=full_options.get("--seed"),
        )
        if getattr(run.main_function, "unobserved", False):
            run.unobserved = True
        run.meta_info = {
            "command": command_name,
            "options": _redact(full_options),
            "named_configs": list(named_configs),
        }
        if config_updates:
            run.meta_info["config_updates"] = _redact_updates(dict(config_updates))
        if meta_info:
            run.meta_info.update(meta_info)
        run.observer_factory = _observers_for_flag
        for option in [*BUILTIN_OPTIONS, *self.additional_cli_options]:
            value = full_options.get(option.long_flag)
            if value:
                option.apply(value, run)
        self.current_run = run
        return run

    def run_commandline(self, argv: str | Sequence[str] | None = None) -> Run | None:
        """Run as ``python exp.py [COMMAND] [with UPDATE…] [FLAGS]``; bad input exits with status 2."""
        from .cli.commandline import run_commandline

        return run_commandline(self, argv)

    def get_usage(self, program_name: str | None = None) -> tuple[str, str, str]:
        from .cli.commandline import get_usage

        return get_usage(self, program_name)

    # ------------------------------------------------------------------ inside a run
    def _active_run(self, what: str) -> Run:
        run = _current_run() or self.current_run
        if run is None or run.status != "RUNNING":
            raise RuntimeError(f"{what} needs a running run: call it from inside the experiment's functions.")
        return run

    def open_resource(self, filename: str, mode: str = "r") -> Any:
        """Open a file and record it as a resource of the current run."""
        return self._active_run("ex.open_resource").open_resource(filename, mode)

    def add_resource(self, filename: str) -> None:
        """Record a file the current run read."""
        self._active_run("ex.add_resource").add_resource(filename)

    def add_artifact(
        self,
        filename: str,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        content_type: str | None = None,
    ) -> None:
        """Store a file the current run produced."""
        self._active_run("ex.add_artifact").add_artifact(filename, name, metadata, content_type)

    @property
    def info(self) -> dict[str, Any]:
        """The current run's info dict (stored with each heartbeat)."""
        return self._active_run("ex.info").info

    def log_scalar(self, name: str, value: Any, step: int | None = None) -> None:
        """Record a metric value of the current run."""
        self._active_run("ex.log_scalar").log_scalar(name, value, step)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_globals"] = {k: v for k, v in self._globals.items() if k in ("__file__", "__doc__", "__name__")}
        state["current_run"] = None
        return state


def _observers_for_flag(flag: str, value: Any) -> list[Any]:
    """The observers an observer flag (``-F DIR``, ``-m SPEC``, ``-O URI``…) adds to a run."""
    from .observers.uri import from_flag

    return from_flag(flag, value)


def _redact(values: dict[str, Any]) -> dict[str, Any]:
    """Options or config updates without secrets, as stored with the run (the stores apply the same
    rule again, :func:`~pytest_sacredx.redact.redact_meta`)."""
    from .redact import redact_meta

    return redact_meta({"options": values})["options"]


def _redact_updates(updates: dict[str, Any]) -> dict[str, Any]:
    from .redact import redact_meta

    return redact_meta({"config_updates": updates})["config_updates"]
