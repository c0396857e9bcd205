"""Sacred's ``sacred.serializer`` names: ``flatten``, ``restore`` and ``json`` (``encode``/``decode``).

A minimal module so that code written for Sacred imports; values are converted by
:func:`pytest_sacredx.serialize.to_jsonable` and decoded as plain JSON — nothing read back is ever
rebuilt as an arbitrary object (Sacred decodes jsonpickle; see ``COMPAT.md``).

>>> from pytest_sacredx.serializer import json
>>> json.decode(json.encode({"lr": 0.1, "layers": (2, 3)}))
{'lr': 0.1, 'layers': [2, 3]}
"""

from __future__ import annotations

import json as _json
from typing import Any

from .serialize import to_jsonable

__all__ = ["flatten", "restore", "json"]


def flatten(obj: Any) -> Any:
    """``obj`` as JSON-representable values (plain JSON values are returned as they are)."""
    return to_jsonable(obj)


def restore(flat: Any) -> Any:
    """The values :func:`flatten` gave, as plain Python values."""
    return flat


class _JSON:
    """Sacred's ``serializer.json``: ``encode(obj) -> str`` and ``decode(text) -> obj``."""

    @staticmethod
    def encode(obj: Any, **kwargs: Any) -> str:
        return _json.dumps(flatten(obj), **kwargs)

    @staticmethod
    def decode(text: str, **kwargs: Any) -> Any:
        return restore(_json.loads(text, **kwargs))


json = _JSON()
