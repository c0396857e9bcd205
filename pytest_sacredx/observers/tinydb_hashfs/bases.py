"""Sacred's import path for the pieces of its TinyDB format (``sacred.observers.tinydb_hashfs.bases``).

They live in :mod:`pytest_sacredx.observers.tinydb_sacred`; this module only names them where Sacred's
users import them from.

>>> from pytest_sacredx.observers.tinydb_hashfs.bases import BufferedReaderWrapper, get_db_file_manager
>>> BufferedReaderWrapper.__module__
'pytest_sacredx.observers.tinydb_sacred'
"""

from __future__ import annotations

from ..tinydb_sacred import (
    BufferedReaderWrapper,
    DataFrameSerializer,
    DateTimeSerializer,
    FileSerializer,
    NdArraySerializer,
    SeriesSerializer,
    get_db_file_manager,
)

__all__ = [
    "BufferedReaderWrapper",
    "DataFrameSerializer",
    "DateTimeSerializer",
    "FileSerializer",
    "NdArraySerializer",
    "SeriesSerializer",
    "get_db_file_manager",
]
