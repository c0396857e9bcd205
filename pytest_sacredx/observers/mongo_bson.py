"""Making run documents BSON-safe, only as far as a server needs: the write ladder's conversions.

MongoDB documents are BSON: keys are C strings (no NUL), strings must be UTF-8, integers at most 64 bits,
and some servers refuse NaN and infinities or ``.``/``$`` in keys. :func:`sanitise` converts exactly
those values and says which reasons applied; :func:`stage` gives the document as each stage of the
observer's write ladder writes it; :func:`force_bson_encodeable` is Sacred's last resort.

Text that is not UTF-8 (lone surrogates, as ``os.fsdecode`` gives for undecodable bytes) becomes its
``\\xNN`` backslash escapes (the bytes it came from), since BSON strings must be UTF-8.

>>> sanitise({"a": 2**70}, finite=False, legacy_keys=False)
({'a': '1180591620717411303424'}, {'bson'})
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["force_bson_encodeable", "sanitise", "stage", "utf8", "STAGE_REASON", "INT64"]

INT64 = (-(2**63), 2**63 - 1)




def force_bson_encodeable(obj: Any) -> Any:
    """A copy of ``obj`` that BSON can encode: the last resort after MongoDB refused a document.

    Keys become strings with ``.`` → ``,`` and ``$`` → ``@`` (old servers refuse both) and NUL → U+FFFD
    (BSON keys are C strings); integers beyond 64 bits and any value BSON cannot encode become
    ``str(value)``.

    >>> force_bson_encodeable({"a.b": {"$c": 2**70}, "d": (1, {1, 2})})
    {'a,b': {'@c': '1180591620717411303424'}, 'd': [1, [1, 2]]}
    """
    return sanitise(obj, finite=False, legacy_keys=True)[0]


# What each stage of the write ladder (``MongoObserver._write_doc``) changes, by the reason it exists:
# 0 the document as it is; 1 what BSON itself cannot encode (NUL in keys, integers beyond 64 bits,
# other objects, strings that are not UTF-8); 2 also NaN/inf, for servers that cannot hold them (the
# nx-27017 wire server keeps documents as SQLite JSON, which has neither; MongoDB stores them as BSON
# doubles); 3 also Sacred's key mangling ('.' and '$', which MongoDB before 5.0 refuses).
STAGE_REASON = {1: "bson", 2: "nonfinite", 3: "keys"}


def sanitise(obj: Any, *, finite: bool, legacy_keys: bool) -> tuple[Any, set[str]]:
    """A copy of ``obj`` with the stages' conversions applied, and the reasons that changed something.

    ``finite``: NaN and ±inf become ``str(value)``; ``legacy_keys``: ``.``/``$`` in keys become ``,``/``@``.
    The reasons are the ones that apply to ``obj`` whichever conversions were asked for, so a dry
    run (``sanitise(doc, finite=True, legacy_keys=True)[1]``) tells which stages would change it.
    """
    import bson

    reasons: set[str] = set()

    def key(k: Any) -> str:
        text = k if isinstance(k, str) else str(k)
        if not isinstance(k, str) or "\x00" in text:
            reasons.add("bson")
            text = text.replace("\x00", "\ufffd")
        if "." in text or "$" in text:
            reasons.add("keys")
            if legacy_keys:
                text = text.replace(".", ",").replace("$", "@")
        return utf8(text, reasons)

    def convert(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key(k): convert(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            if isinstance(value, (set, frozenset)):
                reasons.add("bson")
            return [convert(v) for v in value]
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            if INT64[0] <= value <= INT64[1]:
                return value
            reasons.add("bson")
            return str(value)
        if isinstance(value, float):
            if math.isfinite(value):
                return value
            reasons.add("nonfinite")
            return str(value) if finite else value
        if isinstance(value, str):
            return utf8(value, reasons)
        if isinstance(value, _dt.datetime):
            return value
        try:
            bson.encode({"v": value})
        except Exception:
            reasons.add("bson")
            return utf8(str(value), reasons)
        return value

    return convert(obj), reasons


def utf8(text: str, reasons: set[str]) -> str:
    """``text`` if it is valid UTF-8 (BSON's string encoding), else with its undecodable bytes as
    ``\\xNN`` escapes (:func:`~pytest_sacredx.observers.document.utf8_text`)."""
    from .document import utf8_text

    converted = utf8_text(text)
    if converted is not text:
        reasons.add("bson")
    return converted


def stage(doc: Any, stage: int) -> Any:
    """``doc`` as stage ``stage`` of the write ladder writes it (see ``STAGE_REASON``)."""
    if stage == 0:
        return doc
    return sanitise(doc, finite=stage >= 2, legacy_keys=stage >= 3)[0]
