"""Command-line flags of experiment scripts: Sacred's set, and ``cli_option`` for custom ones.

Each flag is a :class:`CommandLineOption`; its ``apply(value, run)`` runs after the run is created, for
flags whose value is truthy (Sacred's rule). Option dict keys are the long flags exactly as Sacred spells
them (``--beat-interval``, ``--print-config``, ``--file_storage`` …); the other spelling (``--beat_interval``)
is accepted everywhere too.

>>> @cli_option("-o", "--own-flag", is_flag=True)
... def own_flag(args, run):
...     '''Set info["own"].'''
...     run.info["own"] = True
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..errors import CommandLineError

__all__ = ["CommandLineOption", "cli_option", "DEFAULT_OPTIONS", "normalize_options", "BUILTIN_OPTIONS"]


class CommandLineOption:
    """One flag: ``-s/--long`` with or without an argument, and what it does to a run."""

    def __init__(
        self,
        apply_function: Callable[[Any, Any], None] | None,
        short_flag: str | None,
        long_flag: str,
        is_flag: bool,
        arg: str = "VALUE",
        help: str | None = None,
        aliases: tuple[str, ...] = (),
    ) -> None:
        if short_flag is not None and not re.fullmatch(r"-\w", short_flag):
            raise ValueError(f"Invalid short flag {short_flag!r}: it must look like '-x'.")
        if not re.fullmatch(r"--[\w-]+\w", long_flag):
            raise ValueError(f"Invalid long flag {long_flag!r}: it must look like '--name'.")
        self.apply_function = apply_function
        self.short_flag = short_flag
        self.long_flag = long_flag
        self.is_flag = is_flag
        self.arg = None if is_flag else arg
        self.help = help if help is not None else ((apply_function.__doc__ or "").strip().split("\n")[0] if apply_function else "")
        self.aliases = aliases

    @property
    def key(self) -> str:
        return self.long_flag

    @property
    def flag_names(self) -> list[str]:
        names = [self.short_flag] if self.short_flag else []
        return names + [self.long_flag, *self.aliases]

    def apply(self, value: Any, run: Any) -> None:
        if self.apply_function is not None:
            self.apply_function(value, run)

    def __repr__(self) -> str:
        return f"<CommandLineOption {self.long_flag}>"


def cli_option(short_flag: str | None, long_flag: str, is_flag: bool = False) -> Callable[[Callable[[Any, Any], None]], CommandLineOption]:
    """Make ``f(args, run)`` a flag; pass it with ``Experiment(additional_cli_options=[f])``."""

    def wrap(f: Callable[[Any, Any], None]) -> CommandLineOption:
        return CommandLineOption(f, short_flag, long_flag, is_flag)

    return wrap


# --------------------------------------------------------------------------- built-in flags
def _beat_interval(value: Any, run: Any) -> None:
    try:
        run.beat_interval = float(value)
    except (TypeError, ValueError):
        raise CommandLineError(
            f"Invalid beat interval {value!r}: give seconds as a number, e.g. -b 10 (0 disables beats)."
        ) from None


def _capture(value: Any, run: Any) -> None:
    run.capture_mode = value


def _comment(value: Any, run: Any) -> None:
    from ..observers.redact import redact_url

    run.meta_info["comment"] = redact_url(str(value)) if "://" in str(value) else value


def _debug(value: Any, run: Any) -> None:
    run.debug = True


def _pdb(value: Any, run: Any) -> None:
    run.pdb = True


def _enforce_clean(value: Any, run: Any) -> None:
    from ..errors import SacredxError

    repos = run.experiment_info.get("repositories") or []
    if not repos:
        raise SacredxError(
            "No version control detected: --enforce_clean needs the experiment's sources in a git "
            "repository (or drop the flag)."
        )
    dirty = [r["url"] for r in repos if r.get("dirty")]
    if dirty:
        raise SacredxError(
            f"EnforceClean: uncommitted changes in {', '.join(dirty)}; commit them or drop --enforce_clean."
        )


def _add_observer(factory: Callable[[str], Any]) -> Callable[[Any, Any], None]:
    def apply(value: Any, run: Any) -> None:
        run.observers.append(factory(value))

    return apply


def _file_storage(value: str) -> Any:
    from ..observers.file_storage import FileStorageObserver

    return FileStorageObserver(value)


def _tiny_db(value: str) -> Any:
    from ..observers.tinydb_hashfs import TinyDbObserver

    return TinyDbObserver(value)


def _sql(value: str) -> Any:
    from ..observers.sql import SqlObserver

    return SqlObserver(value)


def _mongo(value: str) -> Any:
    from ..observers.mongo import MongoObserver, parse_mongo_db_arg

    return MongoObserver(**parse_mongo_db_arg(value))


def _s3(value: str) -> Any:
    from ..observers.uri import from_uri

    if not str(value).startswith("s3://"):
        raise CommandLineError(f"Invalid --s3 value {value!r}: use s3://bucket/prefix.")
    return from_uri(value)


def _observer_uri(value: Any, run: Any) -> None:
    from ..observers.uri import from_uri

    for uri in value if isinstance(value, (list, tuple)) else [value]:
        observer = from_uri(uri)
        if observer is not None:
            run.observers.append(observer)


def _id(value: Any, run: Any) -> None:
    run._id = value


def _name(value: Any, run: Any) -> None:
    run.experiment_info = {**run.experiment_info, "name": value}  # the cached info is shared
    run.run_logger = run.root_logger.getChild(value)


def _priority(value: Any, run: Any) -> None:
    try:
        run.meta_info["priority"] = float(value)
    except (TypeError, ValueError):
        raise CommandLineError(f"Invalid priority {value!r}: it must be a number, e.g. -P 5.") from None


def _queue(value: Any, run: Any) -> None:
    run.queue_only = True


def _unobserved(value: Any, run: Any) -> None:
    run.unobserved = True


def _noop(value: Any, run: Any) -> None:
    pass


def _print_config_flag(value: Any, run: Any) -> None:
    from .commands import print_config_of

    print_config_of(run)
    print("-" * 79)


BUILTIN_OPTIONS: list[CommandLineOption] = [
    CommandLineOption(_noop, "-h", "--help", True, help="Print this help message and exit."),
    CommandLineOption(_beat_interval, "-b", "--beat-interval", False, "BEAT_INTERVAL",
                      "Seconds between heartbeats (0 disables the periodic beat; a last beat is always sent).",
                      aliases=("--beat_interval",)),
    CommandLineOption(_capture, "-C", "--capture", False, "CAPTURE_MODE",
                      "How output is captured: no, sys or fd."),
    CommandLineOption(_comment, "-c", "--comment", False, "COMMENT", "A comment stored with the run."),
    CommandLineOption(_debug, "-d", "--debug", True, help="Do not filter tracebacks; re-raise exceptions."),
    CommandLineOption(_pdb, "-D", "--pdb", True, help="Start the post-mortem debugger on failure."),
    CommandLineOption(_enforce_clean, "-e", "--enforce_clean", True,
                      help="Fail unless the sources are in a clean git repository.",
                      aliases=("--enforce-clean",)),
    CommandLineOption(_add_observer(_file_storage), "-F", "--file_storage", False, "BASEDIR",
                      "Record the run in a FileStorage folder.", aliases=("--file-storage",)),
    CommandLineOption(_noop, "-f", "--force", True, help="Allow new config keys no function uses."),
    CommandLineOption(_id, "-i", "--id", False, "ID", "Store the run under this id."),
    CommandLineOption(_noop, "-l", "--loglevel", False, "LEVEL",
                      "Log level: a name (DEBUG, INFO, WARNING…) or a number."),
    CommandLineOption(_add_observer(_mongo), "-m", "--mongo_db", False, "DB",
                      "Record the run in MongoDB: [host:port:]db[.collection][!priority] or a URL.",
                      aliases=("--mongo-db",)),
    CommandLineOption(_name, "-n", "--name", False, "NAME", "Name stored with the run."),
    CommandLineOption(_print_config_flag, "-p", "--print-config", True,
                      help="Print the config before running.", aliases=("--print_config",)),
    CommandLineOption(_priority, "-P", "--priority", False, "PRIORITY", "Priority of a queued run."),
    CommandLineOption(_queue, "-q", "--queue", True, help="Only queue the run; do not execute it."),
    CommandLineOption(_add_observer(_s3), "-S", "--s3", False, "S3_URI",
                      "Record the run in S3: s3://bucket/prefix."),
    CommandLineOption(_add_observer(_sql), "-s", "--sql", False, "DB_URL",
                      "Record the run in a SQL database (SQLAlchemy URL)."),
    CommandLineOption(_add_observer(_tiny_db), "-t", "--tiny_db", False, "BASEDIR",
                      "Record the run in a TinyDB folder.", aliases=("--tiny-db",)),
    CommandLineOption(_unobserved, "-u", "--unobserved", True, help="Record nothing (no observers)."),
    CommandLineOption(_observer_uri, "-O", "--observer", False, "URI",
                      "Record the run at an observer URI (file:DIR, tinydb:DIR, sqlite:///F, "
                      "mongodb://…, s3://…, memory:); repeatable."),
]

DEFAULT_OPTIONS: dict[str, Any] = {
    **{opt.long_flag: (False if opt.is_flag else None) for opt in BUILTIN_OPTIONS},
    "--seed": None,
    "COMMAND": None,
    "UPDATE": [],
    "help": False,
    "with": False,
}

_ALIASES = {alias: opt.long_flag for opt in BUILTIN_OPTIONS for alias in opt.aliases}


def normalize_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """Accept both spellings (``--beat_interval`` / ``--beat-interval``) and bare names (``beat_interval``)."""
    result: dict[str, Any] = {}
    for key, value in (options or {}).items():
        if not key.startswith("-") and key not in DEFAULT_OPTIONS:
            key = "--" + key
        result[_ALIASES.get(key, key)] = value
    return result
