"""``json.loads`` with exactly its answers, three times faster where orjson is installed.

Reading a store of 10,000 runs decodes 17,000 JSON lines, and the standard library spends most of a
``sacredx runs --where`` doing it. orjson (an optional extra) decodes the same text faster, but it
differs from :func:`json.loads` on a few inputs: an integer of more than 64 bits becomes a float,
``NaN``/``Infinity`` (which Sacred's stores hold), a lone surrogate escape (how a store keeps bytes that
are not UTF-8) and ``1e400`` are refused. So orjson gets only the text it decodes exactly like ``json``:
text with a run of 19 or more digits that does not follow a ``.`` (the only place an integer that big
can be; a long fraction such as ``0.0011428193144282783``, common in metrics, is a float to both) goes
to ``json``, and whatever orjson refuses goes to ``json`` too, which then gives its own answer or its
own error.

>>> loads(b'{"gamma": 0.5, "steps": [1, 2], "big": 123456789012345678901234567890}')
{'gamma': 0.5, 'steps': [1, 2], 'big': 123456789012345678901234567890}
>>> loads(b'[0.0011428193144282783, 12345678901234567890.5]')
[0.0011428193144282783, 1.2345678901234567e+19]
>>> loads(b'[NaN, "\\\\udcff"]'), loads('{"text": "é"}')
([nan, '\\udcff'], {'text': 'é'})
>>> loads(b'{"torn": ')
Traceback (most recent call last):
...
json.decoder.JSONDecodeError: Expecting value: line 1 column 10 (char 9)
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["loads"]

# every digit as "0", so that one substring search finds a run of 19 digits (ten times faster than a
# regular expression over text full of 16-digit floats)
_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19
_DOT = ord(".")
_ZERO = ord("0")
_TEXT = (bytes, str)
_orjson: Any = None  # the module, False when it is not installed, None before the first call


def _load_orjson() -> Any:
    global _orjson
    try:
        import orjson
    except ImportError:
        _orjson = False
    else:
        _orjson = orjson
    return _orjson


def loads(data: bytes | str) -> Any:
    """:func:`json.loads` of ``data`` (JSON text, or its UTF-8 bytes); raises what it raises."""
    fast = _orjson if _orjson is not None else _load_orjson()
    if fast is False:
        return json.loads(data)
    if data.__class__ in _TEXT and len(data) < len(_LONG_RUN):  # too short for a long integer: orjson
        try:
            return fast.loads(data)
        except fast.JSONDecodeError:
            return json.loads(data)
    raw = data
    if raw.__class__ is not bytes:
        try:
            raw = data.encode("utf-8")  # type: ignore[union-attr]
        except (UnicodeEncodeError, AttributeError):  # a lone surrogate (or not text): json's answer
            return json.loads(data)
    if _may_hold_a_long_integer(raw.translate(_ZEROS)):  # type: ignore[arg-type]
        return json.loads(data)
    try:
        return fast.loads(raw)
    except fast.JSONDecodeError:
        return json.loads(data)


def _may_hold_a_long_integer(zeros: bytes) -> bool:
    """Whether ``zeros`` (the text with every digit as ``0``) has a run of 19 digits not right after a
    ``.``: an integer orjson would turn into a float may be there. (``find`` returns where a run begins:
    a match one byte earlier would have been found first.)"""
    pos = zeros.find(_LONG_RUN)
    while pos >= 0:
        if pos == 0 or zeros[pos - 1] != _DOT:
            return True
        end = pos + len(_LONG_RUN)
        while end < len(zeros) and zeros[end] == _ZERO:
            end += 1
        pos = zeros.find(_LONG_RUN, end)
    return False
