"""What a MongoDB-compatible server can hold, learnt by trying, never by its name.

A real MongoDB stores NaN and ±infinity as BSON doubles. Wire-protocol servers that keep documents as JSON
(SQLite's JSON in the nx-27017 server CI uses, for one) have neither: they refuse them on insert, and
some store them on a replace as text that breaks every later query on the collection. So before the
observer writes a run it stores ``[NaN, inf, -inf]`` in a probe document and reads it back: a refusal or
a different answer means "convert non-finite floats to text before writing". The probe lives in the
metrics collection under a fresh ObjectId and without a ``run_id`` (readers look metric documents up by
``run_id`` only, so none ever sees it), and is deleted at once.

>>> keeps_nonfinite(db.metrics)  # doctest: +SKIP
True
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["keeps_nonfinite"]

_PROBE = [float("nan"), float("inf"), float("-inf")]


def keeps_nonfinite(collection: Any) -> bool:
    """Whether ``collection``'s server stores NaN and ±inf and gives them back (True when unsure: a
    server that cannot be asked is taken for a MongoDB, and a later refusal still teaches the observer)."""
    from bson import ObjectId
    from pymongo.errors import ConnectionFailure, PyMongoError

    key = ObjectId()
    try:
        collection.insert_one({"_id": key, "sacredx_probe": list(_PROBE)})
    except ConnectionFailure:
        return True  # not an answer about NaN; the write path handles the outage
    except PyMongoError:
        return False  # refused the document: no NaN/inf here (or no write right, then nothing is lost)
    try:
        found = collection.find_one({"_id": key})
    except PyMongoError:
        found = None
    finally:
        try:
            collection.delete_one({"_id": key})
        except PyMongoError:
            pass
    values = (found or {}).get("sacredx_probe")
    return (
        isinstance(values, list)
        and len(values) == 3
        and all(isinstance(v, float) for v in values)
        and math.isnan(values[0])
        and values[1] == math.inf
        and values[2] == -math.inf
    )
