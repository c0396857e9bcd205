"""Observer URIs: one string names a store, for ``--exp-observer``, ini files and the command line.

>>> from pytest_sacredx.observers.uri import from_uri
>>> from_uri("memory:")
MemoryObserver(runs=0)
>>> from_uri("none") is None
True
>>> from_uri("queue:memory:")
QueueObserver(MemoryObserver(runs=0))

=====================================================  ================================================
URI                                                    observer
=====================================================  ================================================
``file:DIR`` (or ``file:///abs/dir``)                  ``FileStorageObserver(DIR)``
``tinydb:PATH``                                        ``TinyDbObserver(PATH)``
``sqlite:///PATH``, ``postgresql+psycopg://…``,        ``SqlObserver(url)``
``mysql://…`` (any ``dialect+driver``)
``mongodb://…/DB``, ``mongodb+srv://…/DB``             ``MongoObserver(url=…, db_name=DB or "sacred")``
``s3://BUCKET/PREFIX?endpoint_url=…&region=…``         ``S3Observer(bucket=…, basedir=PREFIX, …)``
``memory:``                                            ``MemoryObserver()``
``none``                                               ``None`` (no observer)
=====================================================  ================================================

Add ``?queue=1`` (optionally with ``interval=``, ``retry_interval=``, ``max_retries=``) or prefix
``queue:`` to wrap the observer in a :class:`~pytest_sacredx.observers.queue.QueueObserver`. A backend
module, and its optional dependency, is imported only when its scheme is used; a missing dependency is a
:class:`~pytest_sacredx.errors.MissingExtraError` naming the extra to install, and every other mistake is
one :class:`~pytest_sacredx.errors.ObserverURIError` line (did-you-mean included). Passwords in URIs never
appear in error messages.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from ..errors import MissingExtraError, ObserverURIError, SacredxError, did_you_mean, missing_extra
from ..redact import redact_url
from .base import RunObserver

__all__ = ["from_uri", "from_flag", "parse_observer_uris", "KNOWN_SCHEMES", "OBSERVER_FLAGS"]

#: the schemes ``from_uri`` understands, in the order the error message lists them
KNOWN_SCHEMES = (
    "file", "tinydb", "sqlite", "postgresql", "postgresql+psycopg", "mysql", "mongodb",
    "mongodb+srv", "s3", "memory", "none", "queue",
)
_FORMS = (
    "file:DIR, tinydb:PATH, sqlite:///PATH, postgresql+psycopg://USER@HOST/DB, mysql://…, "
    "mongodb://HOST/DB, mongodb+srv://…, s3://BUCKET/PREFIX, memory:, none "
    "(append ?queue=1 or prefix queue: to queue events)"
)
_SQL_DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_QUEUE_KEYS = ("interval", "retry_interval", "max_retries")


def from_uri(uri: str) -> RunObserver | None:
    """Build the observer a URI names (see the module docstring), or None for ``none``.

    >>> from_uri("file:runs")  # doctest: +SKIP
    FileStorageObserver('runs')
    >>> from_uri("mongo://localhost")
    Traceback (most recent call last):
    ...
    pytest_sacredx.errors.ObserverURIError: Unknown observer URI scheme 'mongo' in 'mongo://localhost'; known: file:DIR, tinydb:PATH, sqlite:///PATH, postgresql+psycopg://USER@HOST/DB, mysql://…, mongodb://HOST/DB, mongodb+srv://…, s3://BUCKET/PREFIX, memory:, none (append ?queue=1 or prefix queue: to queue events). Did you mean 'mongodb'?
    """
    if not isinstance(uri, str):
        raise ObserverURIError(f"An observer URI must be a string, got {type(uri).__name__}; known: {_FORMS}.")
    text = uri.strip()
    shown = redact_url(text)
    if not text:
        raise ObserverURIError(f"Empty observer URI; known: {_FORMS}.")
    if text.lower() == "none":
        return None
    if text.lower() == "memory":
        text = "memory:"
    if text[:6].lower() == "queue:":
        inner = from_uri(text[6:])
        return None if inner is None else _wrap_queue(inner, {})
    scheme, sep, rest = text.partition(":")
    scheme_l = scheme.lower()
    if not sep or not scheme or any(c in scheme for c in "/\\ ?#"):
        raise ObserverURIError(
            f"Observer URI {shown!r} has no scheme; for a directory write {'file:' + shown!r}. "
            f"Known: {_FORMS}."
        )
    dialect = scheme_l.split("+", 1)[0]
    if scheme_l == "memory":
        return _simple(text, rest, shown, lambda: _build("memory", "MemoryObserver", shown))
    if scheme_l == "file":
        return _simple(text, rest, shown, lambda path: _build(
            "file_storage", "FileStorageObserver", shown, _file_path(path, shown)), needs_path=True)
    if scheme_l == "tinydb":
        return _simple(text, rest, shown, lambda path: _build(
            "tinydb_hashfs", "TinyDbObserver", shown, _plain_path(path, shown, "tinydb")),
            needs_path=True)
    if scheme_l in ("mongodb", "mongodb+srv"):
        return _mongo(text, shown)
    if dialect in _SQL_DIALECTS:
        return _sql(text, scheme_l, shown)
    if scheme_l == "s3":
        return _s3(text, shown)
    raise ObserverURIError(
        f"Unknown observer URI scheme {scheme!r} in {shown!r}; known: {_FORMS}."
        + did_you_mean(scheme_l, KNOWN_SCHEMES)
    )


#: the command-line flags that add an observer, and the URI scheme their value is read as
OBSERVER_FLAGS = {
    "--file_storage": "file",
    "--tiny_db": "tinydb",
    "--sql": "sql",
    "--mongo_db": "mongo",
    "--s3": "s3",
    "--observer": "uri",
}


def from_flag(flag: str, value: Any) -> list[RunObserver]:
    """The observers an experiment script's observer flag adds (``-F DIR``, ``-t DIR``, ``-s URL``,
    ``-m SPEC``, ``--s3 s3://…``, ``-O URI`` — the last one repeatable).

    >>> from_flag("--observer", ["memory:", "none"])
    [MemoryObserver(runs=0)]
    """
    kind = OBSERVER_FLAGS.get(flag)
    if kind is None:
        raise ObserverURIError(f"{flag} adds no observer; observer flags: {', '.join(OBSERVER_FLAGS)}.")
    if kind == "uri":
        values = value if isinstance(value, (list, tuple)) else [value]
        return [o for o in (from_uri(str(v)) for v in values) if o is not None]
    text = str(value)
    if kind == "file":
        return [_build("file_storage", "FileStorageObserver", redact_url(text), text)]
    if kind == "tinydb":
        return [_build("tinydb_hashfs", "TinyDbObserver", redact_url(text), text)]
    if kind == "sql":
        return [_build("sql", "SqlObserver", redact_url(text), text)]
    if kind == "mongo":
        from .mongo_url import parse_mongo_db_arg

        return [_build("mongo", "MongoObserver", redact_url(text), **parse_mongo_db_arg(text))]
    if not text.startswith("s3://"):
        from ..errors import CommandLineError

        raise CommandLineError(f"Invalid --s3 value {redact_url(text)!r}: use s3://bucket/prefix.")
    observer = from_uri(text)
    return [] if observer is None else [observer]


def parse_observer_uris(values: Iterable[str]) -> list[RunObserver]:
    """Observers for several URIs, in order; ``none`` adds nothing and exact repeats are built once.

    >>> parse_observer_uris(["memory:", "none"])
    [MemoryObserver(runs=0)]
    """
    observers: list[RunObserver] = []
    seen: set[str] = set()
    for value in values:
        key = value.strip() if isinstance(value, str) else value
        if key in seen:
            continue
        seen.add(key)
        observer = from_uri(value)
        if observer is not None:
            observers.append(observer)
    return observers


# -- the pieces -------------------------------------------------------------------------------------------


def _split_query(text: str, shown: str) -> tuple[str, list[tuple[str, str]], dict[str, str]]:
    """Split ``text`` into (body, other query params, queue params)."""
    body, sep, query = text.partition("?")
    if not sep:
        return body, [], {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise ObserverURIError(
            f"Observer URI {shown!r} has a malformed query {redact_url('?' + query)!r}; "
            "expected ?name=value&name=value."
        ) from None
    queue: dict[str, str] = {}
    rest: list[tuple[str, str]] = []
    for name, value in pairs:
        if name == "queue" or name in _QUEUE_KEYS:
            queue[name] = value
        else:
            rest.append((name, value))
    return body, rest, queue


def _simple(
    text: str, rest: str, shown: str, build: Callable[..., RunObserver], needs_path: bool = False
) -> RunObserver:
    """``file:``/``tinydb:``/``memory:``: a path (or nothing) plus only the queue parameters."""
    body, params, queue = _split_query(rest, shown)
    if params:
        raise ObserverURIError(
            f"Observer URI {shown!r} has unknown parameters {sorted(n for n, _ in params)}; "
            f"only queue=1, {', '.join(_QUEUE_KEYS)} are allowed here."
        )
    if needs_path:
        if not body.strip():
            scheme = text.split(":", 1)[0]
            raise ObserverURIError(
                f"Observer URI {shown!r} names no path; write {scheme}:PATH (e.g. {scheme}:runs)."
            )
        observer = build(body)
    else:
        if body.strip():
            raise ObserverURIError(f"Observer URI {shown!r}: memory: takes no path; write memory:.")
        observer = build()
    return _queued(observer, queue, shown)


def _file_path(body: str, shown: str) -> str:
    if body.startswith("//"):  # file:///abs/path or file://localhost/abs/path
        host, _, path = body[2:].partition("/")
        if host not in ("", "localhost"):
            raise ObserverURIError(
                f"Observer URI {shown!r} names host {host!r}; file: URIs are local "
                "(write file:DIR or file:///abs/dir)."
            )
        return _plain_path(unquote("/" + path), shown, "file")
    return _plain_path(body, shown, "file")


def _plain_path(path: str, shown: str, scheme: str) -> str:
    if "\x00" in path or not path.strip():
        raise ObserverURIError(f"Observer URI {shown!r} has an invalid {scheme}: path.")
    return path


def _mongo(text: str, shown: str) -> RunObserver:
    body, params, queue = _split_query(text, shown)
    url = body + ("?" + urlencode(params) if params else "")
    from .mongo_url import db_from_url

    db_name = unquote(db_from_url(url) or "") or "sacred"
    if any(c in db_name for c in '/\\. "$\x00') or len(db_name) > 63:
        raise ObserverURIError(
            f"Observer URI {shown!r} names an invalid MongoDB database {db_name!r} "
            "(no / \\ . space \" $, at most 63 characters)."
        )
    observer = _build("mongo", "MongoObserver", shown, url=url, db_name=db_name)
    return _queued(observer, queue, shown)


def _sql(text: str, scheme: str, shown: str) -> RunObserver:
    body, params, queue = _split_query(text, shown)
    url = body + ("?" + urlencode(params) if params else "")
    if scheme in ("postgresql", "postgresql+psycopg2") and not _installed("psycopg2"):
        if not _installed("psycopg"):
            raise MissingExtraError(
                f"{scheme}:// needs psycopg2, which is not installed; write postgresql+psycopg://… "
                "and install psycopg 3 with: pip install 'pytest-sacredx[sql]'"
            )
        if scheme == "postgresql+psycopg2":
            raise ObserverURIError(
                f"Observer URI {shown!r} asks for psycopg2, which is not installed; write "
                "postgresql+psycopg://… to use the installed psycopg 3."
            )
    observer = _build("sql", "SqlObserver", shown, url)
    return _queued(observer, queue, shown)


def _s3(text: str, shown: str) -> RunObserver:
    body, params, queue = _split_query(text, shown)
    location = body.split(":", 1)[1]
    bucket, _, prefix = location[2:].partition("/") if location.startswith("//") else ("", "", "")
    if not bucket:
        raise ObserverURIError(
            f"Observer URI {shown!r} names no S3 bucket; write s3://BUCKET/PREFIX."
        )
    kwargs: dict[str, Any] = {"bucket": bucket, "basedir": unquote(prefix).strip("/")}
    allowed = {"endpoint_url", "region"}
    unknown = sorted(n for n, _ in params if n not in allowed)
    if unknown:
        raise ObserverURIError(
            f"Observer URI {shown!r} has unknown parameters {unknown}; s3:// takes endpoint_url, "
            f"region, queue=1, {', '.join(_QUEUE_KEYS)}."
        )
    for name, value in params:
        if value:
            kwargs[name] = value
    observer = _build("s3_observer", "S3Observer", shown, **kwargs)
    return _queued(observer, queue, shown)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


_EXTRAS = {"sql": "sql", "mongo": "mongo", "s3_observer": "s3"}


def _missing(module: str, exc: ImportError) -> MissingExtraError:
    extra = _EXTRAS.get(module)
    name = exc.name or str(exc)
    if extra is None:  # a core dependency (tinydb): the installation is broken
        return MissingExtraError(
            f"{name} is not installed, but pytest-sacredx needs it; reinstall with: "
            "pip install --force-reinstall pytest-sacredx"
        )
    return missing_extra(extra, name)


def _build(module: str, cls_name: str, shown: str, *args: Any, **kwargs: Any) -> RunObserver:
    """Import the backend module (only now) and build its observer; errors become one line."""
    qualified = f"{__package__}.{module}"
    try:
        backend = importlib.import_module(qualified)
    except MissingExtraError:
        raise
    except ImportError as exc:
        if exc.name == qualified:
            raise ObserverURIError(
                f"Observer URI {shown!r}: the {module} backend is not part of this installation."
            ) from exc
        raise _missing(module, exc) from exc
    cls = getattr(backend, cls_name)
    try:
        return cls(*args, **kwargs)  # type: ignore[no-any-return]
    except (MissingExtraError, ObserverURIError):
        raise
    except ImportError as exc:
        raise _missing(module, exc) from exc
    except Exception as exc:
        # a bad path, host or option: one line that names the URI, never a password
        reason = redact_url(str(exc).splitlines()[0] if str(exc) else "")
        kind = type(exc).__name__ if not isinstance(exc, SacredxError) else "error"
        raise ObserverURIError(
            f"Cannot build {cls_name} from observer URI {shown!r}: {kind}: {reason}"
        ) from exc


def _queued(observer: RunObserver, params: dict[str, str], shown: str) -> RunObserver:
    """Wrap ``observer`` in a QueueObserver when the URI's query asks for it."""
    flag = params.get("queue")
    extra = {k: v for k, v in params.items() if k != "queue"}
    if flag is None or flag.lower() in _FALSE:
        if extra:
            raise ObserverURIError(
                f"Observer URI {shown!r} sets {sorted(extra)} without queue=1; add queue=1."
            )
        return observer
    if flag.lower() not in _TRUE:
        raise ObserverURIError(
            f"Observer URI {shown!r} has queue={flag!r}; expected queue=1 or queue=0."
        )
    kwargs: dict[str, Any] = {}
    for name, value in extra.items():
        try:
            number = int(value) if name == "max_retries" else float(value)
            if not 0 <= number < float("inf"):
                raise ValueError(value)
        except ValueError:
            raise ObserverURIError(
                f"Observer URI {shown!r} has {name}={value!r}; expected a non-negative number."
            ) from None
        kwargs[name] = number
    return _wrap_queue(observer, kwargs)


def _wrap_queue(observer: RunObserver, kwargs: dict[str, Any]) -> RunObserver:
    from .queue import QueueObserver

    if isinstance(observer, QueueObserver):  # queue:…?queue=1 queues once
        return observer
    return QueueObserver(observer, **kwargs)
