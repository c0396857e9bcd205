"""Secret redaction: passwords in URLs and secret-looking options never reach a stored run or a log line.

Observer URIs carry credentials (``postgresql+psycopg://user:pw@host/db``, ``mongodb://u:pw@host``,
``s3://bucket?secret=…``) and end up in the stored command line, in ``meta.options`` and in the store name
a reader reports. Everything that stores or prints them goes through these helpers first:

- :func:`redact_url` replaces the password of every ``scheme://user:password@host`` inside a string, and
  the value of every query parameter whose name is a secret word (``password``, ``secret``, ``token``,
  ``key``, ``aws_secret_access_key``…), with ``***``;
- :func:`redact_argv` does that to every argument, and also hides the value of ``--password=…`` /
  ``--token VALUE`` style options;
- :func:`redact_options` does it to every string in a (nested) options dict and hides the values stored
  under secret-looking keys;
- :func:`redact_meta` is what every store applies to a run's ``meta`` (options, argv, config updates,
  comment): one rule for all of them. A ``with`` update ``password=x`` (in ``argv`` and
  ``options["UPDATE"]``) becomes ``password=***``; a secret-named key in ``config_updates`` keeps the key
  and loses its value. The config itself is stored as it is (as Sacred does).

>>> redact_url("postgresql+psycopg://alice:s3cret@db.example:5432/runs?sslmode=require&password=x")
'postgresql+psycopg://alice:***@db.example:5432/runs?sslmode=require&password=***'
>>> redact_argv(["exp.py", "-s", "postgresql://bob:pw@h/db", "--api-token=abc"])
['exp.py', '-s', 'postgresql://bob:***@h/db', '--api-token=***']

A user name alone (``https://token@host``) is kept: it usually names a database role, and telling the
two apart is guesswork. Redaction is idempotent and never raises.

The rule for config keys: a key whose last dotted part is secret-named (:func:`is_secret_key`; the words
above plus ``SETTINGS.SECRET_WORDS``) shows ``***`` for its value everywhere a run's *metadata* or a
report shows it — ``meta`` in every store, the "Conflicting configuration values" of an error, under
pytest the case ids (so node ids, the summary and JUnit XML), the failure's config changes and reproduce
lines. The config itself keeps the value, as Sacred does: the run needs it.

>>> shown_value("db.password", "hunter2"), shown_value("lr", 0.1)
('***', 0.1)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "REDACTED",
    "redact_url",
    "redact_argv",
    "redact_options",
    "redact_meta",
    "is_secret_name",
    "is_secret_key",
    "shown_value",
]

REDACTED = "***"

#: words that make a parameter, option or key name secret when they appear as one of its parts
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "secret",
        "token",
        "key",
        "apikey",
        "credential",
        "credentials",
        "sig",
        "signature",
    }
)

# ``scheme://user:password@`` — the password runs greedily to the last ``@`` before the path, as URL
# parsers read an unencoded ``@`` in a password; it may be empty.
_USERINFO = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s]*:)(?P<pw>[^/?#\s]*)(?P<at>@)"
)
# ``?name=value`` / ``&name=value`` / ``;name=value``
_QUERY_PARAM = re.compile(r"(?P<head>[?&;](?P<name>[^=&;#?\s]+)=)(?P<value>[^&;#\s]*)")
_NAME_PARTS = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z])(?=[A-Z])")


def is_secret_name(name: str) -> bool:
    """True when one part of ``name`` (split at ``-_.`` and camelCase) is a secret word.

    >>> is_secret_name("aws_secret_access_key"), is_secret_name("apiKey"), is_secret_name("keyspace")
    (True, True, False)
    """
    words = _secret_words()
    key = (name, words)
    known = _VERDICTS.get(key)
    if known is None:  # a sweep asks about the same few names for every case
        parts = [p.lower() for p in _NAME_PARTS.split(name.lstrip("-")) if p]
        known = any(p in words for p in parts)
        if len(_VERDICTS) >= 4096:
            _VERDICTS.clear()
        _VERDICTS[key] = known
    return known


_VERDICTS: dict[tuple[str, frozenset[str]], bool] = {}
_WORDS: list[Any] = [(), _SECRET_WORDS]  # [SETTINGS.SECRET_WORDS as last seen, the words then]
_settings: Any = None


def _secret_words() -> frozenset[str]:
    global _settings
    if _settings is None:
        # lazily: errors import this module, and settings import errors
        from .settings import SETTINGS

        _settings = SETTINGS
    extra = _settings.get("SECRET_WORDS") or ()
    if not extra:
        return _SECRET_WORDS
    given = tuple(extra)  # the setting is a list: compared by value, a change in place counts too
    seen, words = _WORDS
    if given != seen:
        words = _SECRET_WORDS | {str(w).lower() for w in given}
        _WORDS[:] = [given, words]
    return words  # type: ignore[no-any-return]


def is_secret_key(key: str) -> bool:
    """A dotted config key (``db.password``) whose last part is secret-named: its value is not shown.

    >>> is_secret_key("db.password"), is_secret_key("password.length"), is_secret_key("lr")
    (True, False, False)
    """
    return isinstance(key, str) and _is_secret_path(key)


def shown_value(key: str, value: Any) -> Any:
    """``value`` as metadata and reports show the config entry ``key``: ``***`` when the key is secret."""
    return REDACTED if is_secret_key(key) and value is not None else value


def redact_url(url: str) -> str:
    """Return ``url`` (or any text holding URLs) with passwords and secret query values replaced by ``***``."""
    if not isinstance(url, str) or not url:
        return url
    out = _USERINFO.sub(lambda m: f"{m['head']}{REDACTED}{m['at']}" if m["pw"] else m[0], url)
    return _QUERY_PARAM.sub(
        lambda m: f"{m['head']}{REDACTED}" if m["value"] and is_secret_name(m["name"]) else m[0],
        out,
    )


def redact_argv(argv: list[str]) -> list[str]:
    """A redacted copy of a command line: URLs in every argument, and values of secret-named options.

    ``--password=x`` and ``--password x`` both lose ``x``; other arguments only lose URL passwords.
    """
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if not isinstance(arg, str):
            out.append(arg)
            hide_next = False
            continue
        if hide_next and not arg.startswith("-"):
            out.append(REDACTED)
            hide_next = False
            continue
        hide_next = False
        if not arg.startswith("-") and "=" in arg:  # a ``with`` update: key=value
            key, _, value = arg.partition("=")
            if value and _is_secret_path(key):
                out.append(f"{key}={REDACTED}")
                continue
        if arg.startswith("-") and len(arg) > 1:
            name, eq, value = arg.partition("=")
            if is_secret_name(name):
                if eq:
                    out.append(f"{name}={REDACTED}" if value else arg)
                else:
                    out.append(arg)
                    hide_next = True
                continue
        out.append(redact_url(arg))
    return out


def redact_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """A redacted deep copy of an options dict (Sacred's ``meta_info["options"]``)."""
    return {key: _redact_value(key, value) for key, value in options.items()}


def _is_secret_path(key: str) -> bool:
    """A dotted config path (``db.password``) whose last part is a secret name."""
    key = key.strip()
    return bool(key) and " " not in key and is_secret_name(key.rsplit(".", 1)[-1])


def redact_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """A run's ``meta`` as every store keeps it: secrets in options, argv, config updates and comment hidden.

    Cheap when there is nothing to hide (a pytest sweep stores thousands of runs): only values that can
    hold a secret are looked into.

    >>> redact_meta({"argv": ["exp.py", "with", "password=x", "lr=1"], "config_updates": {"token": 5}})
    {'argv': ['exp.py', 'with', 'password=***', 'lr=1'], 'config_updates': {'token': '***'}}
    """
    out = dict(meta)
    options = out.get("options")
    if isinstance(options, Mapping) and any(_may_hold_secret(k, v) for k, v in options.items()):
        out["options"] = redact_options(options)
    argv = out.get("argv")
    if isinstance(argv, (list, tuple)):
        out["argv"] = redact_argv(list(argv))
    updates = out.get("config_updates")
    if isinstance(updates, Mapping) and updates:
        out["config_updates"] = _redact_updates(updates)
    comment = out.get("comment")
    if isinstance(comment, str) and comment:
        out["comment"] = redact_url(comment)
    return out


def _may_hold_secret(key: Any, value: Any) -> bool:
    if not value or isinstance(value, (bool, int, float)):
        return False
    if isinstance(value, str):
        return "://" in value or "@" in value or "=" in value or (
            isinstance(key, str) and is_secret_name(key)
        )
    return True  # lists and dicts: let the redactor look inside


def _redact_updates(updates: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in updates.items():
        if isinstance(key, str) and _is_secret_path(key) and value is not None and not isinstance(value, Mapping):
            out[key] = REDACTED
        elif isinstance(value, Mapping):
            out[key] = _redact_updates(value)
        elif isinstance(value, str):
            out[key] = redact_url(value)
        else:
            out[key] = value
    return out


def _redact_value(key: Any, value: Any) -> Any:
    if isinstance(key, str) and is_secret_name(key) and isinstance(value, str) and value:
        return REDACTED
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return (
            redact_argv(value)
            if all(isinstance(v, str) for v in value)
            else [_redact_value(None, v) for v in value]
        )
    if isinstance(value, tuple):
        return tuple(_redact_value(None, v) for v in value)
    return value
