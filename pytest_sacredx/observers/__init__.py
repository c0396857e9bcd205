"""Observers: where runs are recorded. Backends load on first use, so importing this is cheap.

>>> from pytest_sacredx.observers import FileStorageObserver  # doctest: +SKIP
>>> ex.observers.append(FileStorageObserver("runs"))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import RunObserver, td_format

__all__ = [
    "RunObserver",
    "td_format",
    "RunRecord",
    "MemoryObserver",
    "FileStorageObserver",
    "TinyDbObserver",
    "TinyDbReader",
    "SqlObserver",
    "MongoObserver",
    "QueuedMongoObserver",
    "S3Observer",
    "QueueObserver",
    "from_uri",
]

_LAZY = {
    "RunRecord": "record",
    "MemoryObserver": "memory",
    "FileStorageObserver": "file_storage",
    "TinyDbObserver": "tinydb_hashfs",
    "TinyDbReader": "tinydb_hashfs",
    "SqlObserver": "sql",
    "MongoObserver": "mongo",
    "QueuedMongoObserver": "mongo",
    "S3Observer": "s3_observer",
    "QueueObserver": "queue",
    "from_uri": "uri",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_sacredx.observers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
