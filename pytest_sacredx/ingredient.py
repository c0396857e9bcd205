"""Ingredient: a reusable unit of config scopes, named configs, captured functions and commands.

>>> data = Ingredient("dataset", interactive=True)
>>> @data.config
... def cfg():
...     size = 100  # number of samples
>>> @data.capture
... def load(size):
...     return list(range(size))
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .config.config_dict import ConfigDict
from .config.config_scope import ConfigScope
from .config.paths import join_paths
from .errors import CircularDependencyError, ConfigFileError, ConfigKeyError
from .run.captured import CapturedFunction, create_captured_function

__all__ = ["Ingredient", "optional_kwargs_decorator", "ConfigFileNotFoundError"]


class ConfigFileNotFoundError(ConfigFileError, FileNotFoundError):
    """``add_config("missing.json")``: an OSError, as in Sacred, and one of our config errors."""

_OWN_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def optional_kwargs_decorator(wrapped: Callable[..., Any]) -> Callable[..., Any]:
    """Let a decorator method be used bare (``@ex.capture``) or with keywords (``@ex.capture(prefix=…)``)."""

    def decorator(self: Any, function: Any = None, **kwargs: Any) -> Any:
        if function is None:
            return lambda f: wrapped(self, f, **kwargs)
        return wrapped(self, function, **kwargs)

    decorator.__name__ = wrapped.__name__
    decorator.__doc__ = wrapped.__doc__
    decorator.__wrapped__ = wrapped  # type: ignore[attr-defined]
    return decorator


def caller_globals() -> dict[str, Any]:
    """The globals of the first frame outside this package: the user's module."""
    frame = sys._getframe(1)
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _OWN_PACKAGE:
        frame = frame.f_back  # type: ignore[assignment]
    return frame.f_globals if frame is not None else {}


class Ingredient:
    """Config and functions under a dotted ``path``; its config appears under that key of the
    experiment's config."""

    def __init__(
        self,
        path: str,
        ingredients: Sequence[Ingredient] = (),
        interactive: bool = False,
        _caller_globals: dict[str, Any] | None = None,
        base_dir: str | None = None,
        save_git_info: bool = True,
    ) -> None:
        self.path = path
        self.config_hooks: list[Callable[..., Any]] = []
        self.configurations: list[Any] = []
        self.named_configs: dict[str, Any] = {}
        self.ingredients = list(ingredients)
        self.logger: Any = None
        self.captured_functions: list[CapturedFunction] = []
        self.post_run_hooks: list[CapturedFunction] = []
        self.pre_run_hooks: list[CapturedFunction] = []
        self.commands: dict[str, CapturedFunction] = {}
        self.save_git_info = save_git_info
        globs = _caller_globals if _caller_globals is not None else caller_globals()
        self._globals = globs
        mainfile = globs.get("__file__")
        if mainfile is None and not interactive:
            raise RuntimeError(
                "Defining an experiment in interactive mode! If you do this on purpose, "
                "pass interactive=True."
            )
        self.mainfile: str | None = os.path.abspath(mainfile) if mainfile else None
        if mainfile and mainfile.endswith(".pyc"):
            self.mainfile = self.mainfile[:-1]  # type: ignore[index]
        self.doc: str | None = globs.get("__doc__")
        self.base_dir = os.path.abspath(base_dir) if base_dir else (
            os.path.dirname(self.mainfile) if self.mainfile else os.getcwd()
        )
        self._extra_sources: set[str] = set()
        self._extra_dependencies: dict[str, str] = {}
        self._ex_info: dict[str, Any] | None = None

    # ------------------------------------------------------------------ decorators
    @optional_kwargs_decorator
    def capture(self, function: Any, prefix: str | None = None) -> CapturedFunction:
        """Fill the function's missing arguments from the config (``prefix`` selects a sub-dict)."""
        if isinstance(function, CapturedFunction):
            return function
        captured = create_captured_function(function, prefix=prefix, ingredient=self)
        self.captured_functions.append(captured)
        return captured

    @optional_kwargs_decorator
    def pre_run_hook(self, func: Any, prefix: str | None = None) -> CapturedFunction:
        """A captured function run before the main function of every run."""
        cf = self.capture(func, prefix=prefix)
        self.pre_run_hooks.append(cf)
        return cf

    @optional_kwargs_decorator
    def post_run_hook(self, func: Any, prefix: str | None = None) -> CapturedFunction:
        """A captured function run after the main function of every run."""
        cf = self.capture(func, prefix=prefix)
        self.post_run_hooks.append(cf)
        return cf

    @optional_kwargs_decorator
    def command(
        self, function: Any = None, prefix: str | None = None, unobserved: bool = False
    ) -> CapturedFunction:
        """A captured function that the command line can run by name (``python exp.py NAME``)."""
        captured = self.capture(function, prefix=prefix)
        captured.unobserved = unobserved
        self.commands[function.__name__] = captured
        return captured

    def config(self, function: Callable[..., Any]) -> ConfigScope:
        """A config scope: the function's local variables become config entries."""
        scope = ConfigScope(function)
        self.configurations.append(scope)
        return scope

    def named_config(self, func: Callable[..., Any]) -> ConfigScope:
        """A config scope applied only when named (``with NAME`` / ``named_configs=["NAME"]``)."""
        scope = ConfigScope(func)
        self._add_named_config(func.__name__, scope)
        return scope

    def config_hook(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """``func(config, command_name, logger) -> dict of updates``, run after the config scopes."""
        import inspect

        params = list(inspect.signature(func).parameters)
        if params != ["config", "command_name", "logger"]:
            raise ValueError(
                f"Wrong signature for config_hook {func.__name__}{tuple(params)}: it must be "
                "(config, command_name, logger)."
            )
        self.config_hooks.append(func)
        return func

    # ------------------------------------------------------------------ config
    def add_config(self, cfg_or_file: Any = None, **kw_conf: Any) -> None:
        """Add a dict, keyword entries, or a config file (.json, .yaml, .yml, .toml)."""
        self.configurations.append(self._create_config_dict(cfg_or_file, kw_conf))

    def add_named_config(self, name: str, cfg_or_file: Any = None, **kw_conf: Any) -> None:
        """Add a named config from a dict, keyword entries or a file."""
        self._add_named_config(name, self._create_config_dict(cfg_or_file, kw_conf))

    def _add_named_config(self, name: str, conf: Any) -> None:
        if name in self.named_configs:
            raise ConfigKeyError(
                f"Named config {name!r} is already defined in {self.path!r}; choose another name."
            )
        self.named_configs[name] = conf

    @staticmethod
    def _create_config_dict(cfg_or_file: Any, kw_conf: dict[str, Any]) -> ConfigDict:
        if cfg_or_file is not None and kw_conf:
            raise ValueError("add_config takes either a dict/file or keyword entries, not both.")
        if cfg_or_file is None and not kw_conf:
            raise ValueError("add_config needs a dict, a file name or keyword entries.")
        if kw_conf:
            cfg_or_file = kw_conf
        if isinstance(cfg_or_file, (str, os.PathLike)):
            from .config.config_files import load_config_file

            if not os.path.exists(cfg_or_file):
                raise ConfigFileNotFoundError(
                    f"Config file {os.fspath(cfg_or_file)!r} does not exist; check the path "
                    "(relative paths start at the current directory)."
                )
            cfg_or_file = load_config_file(cfg_or_file)
        if not isinstance(cfg_or_file, dict):
            raise TypeError(f"Invalid argument type {type(cfg_or_file).__name__}: give a dict or a file name.")
        return ConfigDict(cfg_or_file)

    # ------------------------------------------------------------------ provenance
    def add_source_file(self, filename: str) -> None:
        """Record an extra source file with the runs."""
        if not os.path.isfile(filename):
            raise ValueError(f"Source file {filename!r} does not exist.")
        self._extra_sources.add(os.path.abspath(filename))
        self._ex_info = None

    def add_package_dependency(self, package_name: str, version: str) -> None:
        """Record a package dependency with the runs."""
        from .provenance.packages import PEP440_VERSION_PATTERN

        if not PEP440_VERSION_PATTERN.match(version):
            raise ValueError(f"Invalid version string {version!r} for {package_name!r}: use a PEP 440 version.")
        self._extra_dependencies[package_name] = version
        self._ex_info = None

    @property
    def sources(self) -> set[Any]:
        from .provenance import gather_sources

        sources = set(gather_sources(self._globals, self.base_dir, save_git_info=self.save_git_info)) if self.mainfile else set()
        if self._extra_sources:
            from .provenance.sources import Source

            sources |= {Source.create(f, save_git_info=self.save_git_info) for f in self._extra_sources}
        return sources

    @property
    def dependencies(self) -> set[Any]:
        from .provenance import gather_dependencies
        from .provenance.packages import PackageDependency

        deps = set(gather_dependencies(self._globals, self.base_dir))
        deps |= {PackageDependency(n, v) for n, v in self._extra_dependencies.items()}
        return deps

    def get_experiment_info(self) -> dict[str, Any]:
        """Name, base_dir, sources, dependencies and repositories of this ingredient tree (cached: a
        sweep of many runs gathers it once)."""
        if self._ex_info is None:
            from .provenance import experiment_info, gather_repositories

            sources: set[Any] = set()
            dependencies: set[Any] = set()
            for ing, _ in self.traverse_ingredients():
                sources |= ing.sources
                dependencies |= ing.dependencies
            repos = gather_repositories(sources) if self.save_git_info else []
            self._ex_info = experiment_info(
                name=self.path,
                base_dir=self.base_dir,
                mainfile=self.mainfile,
                sources=sources,
                dependencies=dependencies,
                repositories=repos,
            )
        # The same object for every run until provenance changes: observers can then convert it once
        # per sweep instead of once per run. Treat it as read-only (``--name`` replaces it).
        return self._ex_info

    # ------------------------------------------------------------------ traversal
    def traverse_ingredients(self) -> Iterator[tuple[Ingredient, int]]:
        """This ingredient and its sub-ingredients in preorder, as ``(ingredient, depth)``."""
        yield from self._traverse([])

    def _traverse(self, stack: list[Ingredient]) -> Iterator[tuple[Ingredient, int]]:
        if any(s is self for s in stack):
            cycle = [s.path for s in stack[next(i for i, s in enumerate(stack) if s is self):]]
            raise CircularDependencyError(
                f"Circular dependency of ingredients: {'->'.join(cycle + [self.path])}; remove one of "
                "these ingredients from the other's `ingredients`."
            )
        yield self, len(stack)
        stack.append(self)
        try:
            for ingredient in self.ingredients:
                yield from ingredient._traverse(stack)
        finally:
            stack.pop()

    def _child_name(self, ingredient: Ingredient, name: str) -> str:
        """``ingredient.name``: every ingredient's items carry its path (an experiment drops its own)."""
        return join_paths(ingredient.path, name)

    def gather_commands(self) -> Iterator[tuple[str, CapturedFunction]]:
        """Commands of the whole tree as ``path.command`` (an experiment's own without a path).

        >>> data = Ingredient("data", interactive=True)
        >>> @data.command
        ... def stats():
        ...     pass
        >>> [name for name, _ in data.gather_commands()]
        ['data.stats']
        """
        for ingredient, _ in self.traverse_ingredients():
            for name, cmd in ingredient.commands.items():
                yield self._child_name(ingredient, name), cmd

    def gather_named_configs(self) -> Iterator[tuple[str, Any]]:
        """Named configs of the whole tree as ``path.name`` (an experiment's own without a path)."""
        for ingredient, _ in self.traverse_ingredients():
            for name, cfg in ingredient.named_configs.items():
                yield self._child_name(ingredient, name), cfg

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r}>"
