"""Where captured functions find :class:`Signature`; it lives in ``pytest_sacredx.config.signature``
(Sacred's ``sacred.config.signature``), since analysing a signature needs nothing of a run."""

from __future__ import annotations

from ..config.signature import MISSING, SPECIAL_NAMES, Signature

__all__ = ["MISSING", "SPECIAL_NAMES", "Signature"]
