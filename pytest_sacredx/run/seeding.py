"""Seeds: one root seed reproduces every random draw of a run.

Derivation (stable across processes, Python versions and platforms — it uses BLAKE2b, not ``hash()``)::

    derive_seed(seed, path) = int.from_bytes(blake2b(f"{seed}/{path}", digest_size=8)) % (2**31 - 1) + 1

- The root seed is the config's ``seed`` entry; when no scope, named config or update sets it, it is drawn
  at random (or taken from the ``--seed`` option, which the pytest plugin uses for case seeds).
- An ingredient that declares no ``seed`` of its own gets ``derive_seed(root, ingredient.path)``.
- Each captured function has its own generator, seeded with ``derive_seed(ingredient_seed, qualname)``,
  where ``qualname`` is the function's ``__qualname__`` (not its module, which differs between
  ``python exp.py`` and an import under pytest). Every call that declares ``_seed`` or ``_rnd`` draws
  the next ``_seed`` from that generator, and ``_rnd`` is built from ``_seed``. Unlike Sacred, which
  hands out seeds in registration order, adding or removing a captured function changes no other
  function's draws.
- Before the config is evaluated and again just before the main function, Python's ``random``, NumPy's
  legacy global RNG (if NumPy is installed) and torch / tensorflow (only if already imported) are seeded
  with the root seed, so random draws in config scopes are reproducible too.

>>> derive_seed(42, "main") == derive_seed(42, "main")
True
"""

from __future__ import annotations

import hashlib
import random
import sys
from typing import Any

from ..settings import SETTINGS

__all__ = ["derive_seed", "random_seed", "create_rnd", "get_seed", "set_global_seed", "SEED_DOC"]

SEED_MAX = 2**31 - 1
SEED_DOC = "the random seed for this experiment"

_system_random = random.SystemRandom()


def derive_seed(seed: int, path: str) -> int:
    """A seed in ``[1, 2**31 - 1]`` that depends only on ``seed`` and ``path``."""
    digest = hashlib.blake2b(f"{seed}/{path}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % (SEED_MAX - 1) + 1


def random_seed() -> int:
    """A fresh seed from the OS, independent of any seeded global RNG (Sacred's draws repeat when
    ``random`` was seeded earlier in the process)."""
    return _system_random.randint(1, SEED_MAX)


def create_rnd(seed: int) -> Any:
    """A generator for ``_rnd``: NumPy's ``default_rng`` (``RandomState`` with the legacy setting),
    or ``random.Random`` without NumPy."""
    try:
        import numpy as np
    except ImportError:
        return random.Random(seed)
    if SETTINGS.CONFIG.NUMPY_RANDOM_LEGACY_API:
        return np.random.RandomState(seed)
    return np.random.default_rng(seed)


def get_seed(rnd: Any) -> int:
    """Draw a seed from any generator :func:`create_rnd` returns."""
    if isinstance(rnd, random.Random):
        return rnd.randint(1, SEED_MAX)
    if hasattr(rnd, "integers"):
        return int(rnd.integers(1, SEED_MAX))
    return int(rnd.randint(1, SEED_MAX))


def set_global_seed(seed: int) -> None:
    """Seed the global RNGs users draw from; frameworks only when the user already imported them."""
    random.seed(seed)
    # A plain import, not sys.modules.get: while another thread is still importing NumPy, sys.modules
    # holds a half-initialised module (no .random yet); the import statement waits for it to finish.
    try:
        import numpy
    except ImportError:
        pass
    else:
        numpy.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "manual_seed"):
        torch.manual_seed(seed)
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        setter = getattr(getattr(tf, "random", None), "set_seed", None) or getattr(
            tf, "set_random_seed", None
        )
        if setter is not None:
            setter(seed)
