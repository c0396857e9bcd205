"""The error hierarchy: every error we raise on purpose is a :class:`SacredxError`.

Each class also subclasses the builtin it is closest to, so code written for Sacred (``except KeyError``)
or for plain Python keeps working. Messages are one line that names the mistake and the fix; the command
line prints ``str(error)`` and exits 2, the pytest plugin turns it into ``pytest.UsageError``.

>>> try:
...     raise NamedConfigNotFoundError("Named config not found: 'fats'. Did you mean 'fast'?")
... except KeyError as e:
...     print(e)
Named config not found: 'fats'. Did you mean 'fast'?
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class SacredError(Exception):
    """Base of our errors, under Sacred's name (``SacredxError`` is the same class).

    The keyword arguments are Sacred's: they steer how :func:`pytest_sacredx.utils.format_sacred_error`
    shows the error (usage first, the traceback or one line, filtered or not). Our command line shows
    every one of our errors as one ``Error: …`` line instead (see ``COMPAT.md``).
    """

    def __init__(
        self,
        message: str = "",
        print_traceback: bool = True,
        filter_traceback: str = "default",
        print_usage: bool = False,
    ) -> None:
        if filter_traceback not in ("always", "default", "never"):
            raise ValueError(
                f"filter_traceback must be 'always', 'default' or 'never', not {filter_traceback!r}"
            )
        super().__init__(message)
        self.message = message
        self.print_traceback = print_traceback
        self.filter_traceback = filter_traceback
        self.print_usage = print_usage

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.message


SacredxError = SacredError


class ConfigError(SacredxError, ValueError):
    """A configuration value or key is wrong.

    As in Sacred, ``str(error)`` lists the ``conflicting_configs`` (dotted keys) with their values in
    ``config`` on lines of their own:

    >>> print(InvalidConfigError("Need to be equal", conflicting_configs=("a", "b.a"),
    ...                          config={"a": 1, "b": {"a": 2}}))
    Need to be equal
    Conflicting configuration values:
      a=1
      b.a=2
    """

    def __init__(
        self,
        message: str = "",
        conflicting_configs: str | Iterable[str] = (),
        config: dict[str, Any] | None = None,
        print_conflicting_configs: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        if isinstance(conflicting_configs, str):
            conflicting_configs = (conflicting_configs,)
        self.conflicting_configs = tuple(conflicting_configs)
        self.config = config
        self.print_conflicting_configs = print_conflicting_configs
        #: said after the conflicting values (a suggestion, how to override the check)
        self.hint = ""

    def __str__(self) -> str:
        text = self.message
        if self.print_conflicting_configs and self.conflicting_configs:
            text += "\nConflicting configuration values:"
            from .redact import shown_value  # a secret-named key's value is not echoed

            for key in self.conflicting_configs:
                text += f"\n  {key}={shown_value(key, _lookup(self.config, key))}"
        return f"{text}\n{self.hint}" if self.hint else text


def _lookup(config: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(config, dict) or part not in config:
            return None
        config = config[part]
    return config


def one_line(error: BaseException) -> str:
    """An error's message as one line, for a command line's single ``Error: …`` line.

    >>> one_line(InvalidConfigError("Bad value", conflicting_configs="lr", config={"lr": -1}))
    'Bad value. Conflicting configuration values: lr=-1'
    """
    parts = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = ""
    listing = False  # after a line ending in ":", "key=value" lines form a comma-separated list
    for part in parts:
        if not text:
            text = part
        elif text.endswith(":"):
            text += " " + part
            listing = True
        elif listing and "=" in part and " " not in part.partition("=")[0]:
            text += ", " + part
        else:
            listing = False
            text += (" " if text.endswith((".", "!", "?", ";")) else ". ") + part
    return text


class InvalidConfigError(ConfigError):
    """A config value that cannot be stored (not JSON-representable, bad key)."""


class InvalidConfigKeyError(InvalidConfigError, KeyError):
    """A config key that breaks a key rule of ``SETTINGS.CONFIG`` (a ``KeyError``, as in Sacred)."""


class ConfigAddedError(ConfigError):
    """An update adds a key that no captured function uses (Sacred's check; ``--force`` skips it)."""


class UpdateSyntaxError(ConfigError):
    """A ``with`` update or sweep item that does not parse (``a=``, ``=1``)."""


class ConfigFileError(ConfigError):
    """A config file that is missing, unreadable, malformed or of an unknown format."""


class ConfigScopeError(ConfigError, SyntaxError):
    """A config scope whose body cannot be one (``return``/``yield``); a SyntaxError, as in Sacred."""


class ReadOnlyConfigError(SacredxError, TypeError):
    """A captured function tried to change its (read-only) config."""


class ConfigKeyError(SacredxError, KeyError):
    """A config path that does not exist or cannot hold the value (``a.b=1`` where ``a`` is a number)."""


class MissingConfigError(SacredxError, TypeError):
    """A captured function lacks an argument that the config does not provide."""


class SignatureError(SacredxError, TypeError):
    """A captured function was called with arguments its signature does not accept."""


class NamedConfigNotFoundError(SacredxError, KeyError):
    """A named config that neither the experiment nor a file provides."""


class CommandNotFoundError(SacredxError, KeyError):
    """A command the experiment does not have."""


class CaptureModeError(SacredxError, KeyError):
    """An output capture mode other than ``no``, ``sys`` or ``fd`` (Sacred raises a plain ``KeyError``)."""


class CommandLineError(SacredxError, ValueError):
    """A command line that does not parse (unknown flag, missing flag value)."""


class CircularDependencyError(SacredxError, RuntimeError):
    """Ingredients that include each other; the message shows the cycle as ``exp->ing->exp``."""


class SettingError(SacredxError, AttributeError):
    """An unknown key in ``SETTINGS`` or a scalar assigned over a group."""


class ArtifactNameError(SacredxError, ValueError):
    """An artifact name with a path separator, ``..``, or a store's reserved file name."""


class ReservedArtifactNameError(ArtifactNameError, FileExistsError):
    """An artifact or saved file named like one of the store's own records (``run.json``, ``cout.txt``…);
    a ``FileExistsError`` too, as in Sacred."""


class ObserverError(SacredxError):
    """An observer could not store an event."""


class RunNotFoundError(SacredxError, KeyError):
    """A run id (or one of its artifacts) that the store does not hold; every reader raises this one.

    >>> RunNotFoundError("No run '7' in file:runs; list the store's runs with `sacredx list`.").run_id is None
    True
    """

    def __init__(self, message: str = "", run_id: Any = None, store: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.run_id = run_id
        self.store = store


def run_not_found(run_id: Any, store: str, what: str = "") -> RunNotFoundError:
    """The one message every store gives for a missing run (or ``what`` of it, e.g. an artifact)."""
    thing = f"{what} of run {run_id!r}" if what else f"run {run_id!r}"
    return RunNotFoundError(f"No {thing} in {store}.", run_id=run_id, store=store)


class RunIdExistsError(SacredxError, FileExistsError):
    """A run id asked for (``_id``) that the store already holds; ask for another or pass none."""


class StoreFormatError(SacredxError, ValueError):
    """A store file that is neither ours nor Sacred's (damaged, cut short, or another program's)."""


class ObserverURIError(SacredxError, ValueError):
    """An observer URI with an unknown scheme or a bad form."""


class MissingExtraError(SacredxError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class HostInfoError(SacredxError, KeyError):
    """A host-info gatherer whose name clashes with a default key (``cpu``, ``ENV``…) or another gatherer."""


class DiscoveryModeError(SacredxError, ValueError):
    """An unknown ``DISCOVER_SOURCES`` / ``DISCOVER_DEPENDENCIES`` mode; the message lists the valid ones."""


class SourceNotFoundError(SacredxError, ValueError):
    """A source file to record (main file, ``add_source_file``) that does not exist (``ValueError`` as in Sacred)."""


class SacredInterrupt(Exception):
    """Raise inside a run to end it with ``STATUS`` instead of FAILED (not a SacredxError, as in Sacred)."""

    STATUS = "INTERRUPTED"


class TimeoutInterrupt(SacredInterrupt):
    """End a run with status TIMEOUT."""

    STATUS = "TIMEOUT"


def did_you_mean(given: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or ``""`` when nothing is close."""
    close = difflib.get_close_matches(given, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def missing_extra(extra: str, module: str) -> MissingExtraError:
    """The error for an optional backend whose package is not installed."""
    return MissingExtraError(
        f"{module} is not installed; install it with: pip install 'pytest-sacredx[{extra}]'"
    )
