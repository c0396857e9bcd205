"""Artifact names: which names a run may give the files it stores (one check for the run and every store).

>>> check_artifact_name("model.pt")
'model.pt'
"""

from __future__ import annotations

import os
from typing import Any

from .errors import ArtifactNameError, ReservedArtifactNameError

__all__ = ["MAX_ARTIFACT_NAME_BYTES", "RESERVED_ARTIFACT_NAMES", "check_artifact_name"]

#: the longest artifact name (UTF-8 bytes): a file name may have 255 bytes on common file systems, and
#: a store writes through a temporary name that adds up to ~40 (``.<name>.<pid>.<thread>.<n>.tmp``)
MAX_ARTIFACT_NAME_BYTES = 200


#: files the stores keep in a run's folder (FileStorage, S3); an artifact may not take these names
RESERVED_ARTIFACT_NAMES = frozenset(
    {"run.json", "config.json", "cout.txt", "metrics.json", "metrics.jsonl", "info.json"}
)


def check_artifact_name(name: Any, reserved: frozenset[str] = RESERVED_ARTIFACT_NAMES) -> str:
    """Return ``name`` if it is a plain file name a store may keep; raise ArtifactNameError if not.

    Artifacts are stored flat in the run's folder: a separator or ``..`` would escape it, a reserved
    name would overwrite the store's own records (Sacred issue #596).

    >>> check_artifact_name("model.pt")
    'model.pt'
    >>> check_artifact_name("x" * 201)
    Traceback (most recent call last):
    ...
    pytest_sacredx.errors.ArtifactNameError: Artifact name 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…' is 201 bytes long; a store keeps names of at most 200 bytes (a file name's limit, less its temporary name), so give a shorter one (add_artifact(..., name='...')).
    """
    if not isinstance(name, str) or not name or name in (".", ".."):
        raise ArtifactNameError(
            f"Artifact name {name!r} is empty or not a file name; give a plain file name such as "
            "'model.pt' (add_artifact(..., name='...'))."
        )
    separators = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    if any(sep in name for sep in separators) or "\0" in name:
        raise ArtifactNameError(
            f"Artifact name {name!r} contains a path separator; artifacts are stored flat in the run's "
            f"folder, so give a plain file name such as {name.replace('/', '_').replace(chr(92), '_')!r}."
        )
    size = len(name.encode("utf-8", "surrogateescape" if _escaped_only(name) else "surrogatepass"))
    if size > MAX_ARTIFACT_NAME_BYTES:
        shown = name[:40] + "…" if len(name) > 40 else name
        raise ArtifactNameError(
            f"Artifact name {shown!r} is {size} bytes long; a store keeps names of at most "
            f"{MAX_ARTIFACT_NAME_BYTES} bytes (a file name's limit, less its temporary name), so give a "
            f"shorter one (add_artifact(..., name='...'))."
        )
    if name in reserved:
        raise ReservedArtifactNameError(
            f"Artifact name {name!r} is reserved for the run's own records "
            f"({', '.join(sorted(reserved))}); pick another name, e.g. 'my_{name}'."
        )
    return name


def _escaped_only(name: str) -> bool:
    """Lone surrogates only from ``os.fsdecode`` (U+DC80..U+DCFF), which stand for one byte each."""
    return all(not ("\ud800" <= c <= "\udfff") or "\udc80" <= c <= "\udcff" for c in name)
