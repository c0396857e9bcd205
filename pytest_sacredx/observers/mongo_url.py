"""MongoDB locations: the ``-m``/``--mongo_db`` grammar, the database named in a URL, URL checks.

Pure text work (pymongo's own URI parser is imported only to check a URL), shared by the observer, the
observer URIs (:mod:`.uri`) and the command line.

>>> parse_mongo_db_arg("localhost:27017:mydb.runs!40")
{'url': 'localhost:27017', 'db_name': 'mydb', 'collection': 'runs', 'priority': 40}
>>> db_from_url("mongodb://u:pw@h:1/exps?authSource=admin")
'exps'
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import ObserverURIError
from ..redact import redact_url

__all__ = ["parse_mongo_db_arg", "db_from_url", "validate_url"]


_DB_SPEC = re.compile(
    r"(?P<db_name>[A-Za-z_][\w\-]*)"
    r"(?:\.(?P<collection>[A-Za-z_][\w\-]*)(?::(?P<overwrite>\d+))?)?"
    r"(?:!(?P<priority>-?\d+))?"
)
_HOST_PORT = re.compile(r"(?P<host>[^\s:/!@]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5})")


def parse_mongo_db_arg(spec: str) -> dict[str, Any]:
    """Parse the ``-m``/``--mongo_db`` value into :class:`MongoObserver` keyword arguments.

    Grammar: ``[host:port:]db_name[.collection[:overwrite_id]][!priority]``, or ``host:port``, or a full
    ``mongodb://`` / ``mongodb+srv://`` URL (its path names the database).

    >>> parse_mongo_db_arg("localhost:27017:mydb.runs:5!40")
    {'url': 'localhost:27017', 'db_name': 'mydb', 'collection': 'runs', 'overwrite': 5, 'priority': 40}
    >>> parse_mongo_db_arg("mydb")
    {'db_name': 'mydb'}
    >>> parse_mongo_db_arg("mongodb://u:pw@h:1/exps?authSource=admin")
    {'url': 'mongodb://u:pw@h:1/exps?authSource=admin', 'db_name': 'exps'}

    ``db.coll:5`` reads as database ``db``, collection ``coll``, overwrite run 5 (Sacred's reading); write
    ``host:port:db_name`` or a URL when you mean a host.
    """
    spec = spec.strip()
    if spec.startswith(("mongodb://", "mongodb+srv://")):
        out: dict[str, Any] = {"url": spec}
        db_name = db_from_url(spec)
        if db_name:
            out["db_name"] = db_name
        return out
    match = _DB_SPEC.fullmatch(spec)
    if match is None:
        host = _HOST_PORT.fullmatch(spec)
        if host is not None:
            return {"url": spec}
        prefix = _HOST_PORT.match(spec)
        if prefix is not None and spec[prefix.end() : prefix.end() + 1] == ":":
            match = _DB_SPEC.fullmatch(spec[prefix.end() + 1 :])
            if match is not None:
                return {"url": prefix.group(0), **_db_spec_kwargs(match)}
        raise ObserverURIError(
            f"Invalid MongoDB spec {spec!r}: expected [host:port:]db_name[.collection[:overwrite_id]]"
            "[!priority], host:port, or a mongodb:// URL."
        )
    return _db_spec_kwargs(match)


def _db_spec_kwargs(match: re.Match[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"db_name": match["db_name"]}
    if match["collection"]:
        out["collection"] = match["collection"]
    if match["overwrite"]:
        out["overwrite"] = int(match["overwrite"])
    if match["priority"]:
        out["priority"] = int(match["priority"])
    return out


def db_from_url(url: str) -> str | None:
    """The database named in a ``mongodb://host/DB?…`` URL path, or None."""
    rest = url.split("://", 1)[1]
    rest = rest.split("?", 1)[0]
    rest = rest.rsplit("@", 1)[-1]  # after userinfo
    if "/" not in rest:
        return None
    db = rest.split("/", 1)[1]
    return db or None


def validate_url(url: str) -> None:
    """Reject malformed URLs at construction (no network: SRV records are looked up later)."""
    if "://" not in url:
        url = f"mongodb://{url}"
    if url.startswith("mongodb+srv://"):
        host = url[len("mongodb+srv://"):].rsplit("@", 1)[-1].split("/", 1)[0].split("?", 1)[0]
        if not host or "," in host or ":" in host:
            raise ObserverURIError(
                f"Invalid MongoDB URL {redact_url(url)!r}: mongodb+srv:// needs exactly one host name "
                "without a port."
            )
        return
    from pymongo.errors import PyMongoError
    from pymongo.uri_parser import parse_uri

    try:
        parse_uri(url, warn=False)
    except (PyMongoError, ValueError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ObserverURIError(
            f"Invalid MongoDB URL {redact_url(url)!r}: {message}"
        ) from None
