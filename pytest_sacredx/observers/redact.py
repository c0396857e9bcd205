"""Secret redaction, where observers and earlier code import it from (:mod:`pytest_sacredx.redact`).

>>> redact_url("mongodb://u:pw@h/db")
'mongodb://u:***@h/db'
"""

from __future__ import annotations

from ..redact import REDACTED, is_secret_name, redact_argv, redact_meta, redact_options, redact_url

__all__ = ["REDACTED", "redact_url", "redact_argv", "redact_options", "redact_meta", "is_secret_name"]
