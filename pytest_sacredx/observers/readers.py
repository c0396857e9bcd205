"""Open any store by URI for reading: the same URIs as ``from_uri``, giving a :class:`RunReader`.

>>> reader = open_reader("tinydb:.sacredx")  # doctest: +SKIP
>>> [r.status for r in reader.list_runs()]    # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from ..errors import ObserverURIError
from .record import RunReader

__all__ = ["open_reader"]


def open_reader(uri: str) -> RunReader:
    """A reader for the store at ``uri`` (``tinydb:DIR``, ``file:DIR``, ``sqlite:///F``, ``mongodb://…``,
    ``s3://…``, ``memory:``)."""
    text = uri.strip()
    scheme, _, rest = text.partition(":")
    if scheme == "tinydb":
        from .tinydb_hashfs import TinyDbReader

        return TinyDbReader(rest)
    if scheme == "file":
        from .file_storage import FileStorageReader

        return FileStorageReader(rest[2:] if rest.startswith("//") else rest)
    from .uri import from_uri

    store: Any = from_uri(text)
    if store is None or not isinstance(store, RunReader):
        raise ObserverURIError(f"{uri!r} names no store that can be read back; give a store URI.")
    return store
