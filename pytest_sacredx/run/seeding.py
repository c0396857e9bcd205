"""Seeds: one root seed reproduces every random draw of a run — the same draws as Sacred 0.8.7.

**The root seed** is the experiment config's ``seed`` entry (from an update, a named config, a config
scope or dict, or a config hook). When nothing sets it, it is drawn in Sacred's range ``[1, 1e9]`` —
from the OS, not from the global ``random`` — or taken from the ``--seed`` option, which is how the
pytest plugin hands a case its seed. Either way it is written into the config, so re-running with
``seed=<that value>`` repeats the run.

**How it fans out** is ``SETTINGS.CONFIG.SEED_DERIVATION``:

``"sacred"`` (the default) — bit-identical to Sacred 0.8.7, so a recorded Sacred run's seed gives its
``_seed``/``_rnd`` back:

- A generator ``create_rnd(root)`` hands each ingredient the experiment lists a seed
  (``get_seed(rnd)``), walking that list backwards; an ingredient with its own ``seed`` entry keeps it
  and takes no draw. Each ingredient hands its sub-ingredients seeds the same way, but only those whose
  path starts with its own (``data`` seeds ``data.aug``, not ``aug``). A sub-ingredient nobody seeds so
  — Sacred draws it from the unseeded global ``random`` — gets ``derive_seed(root, path)`` here.
- Each ingredient then rebuilds a generator from its seed and gives every captured function it
  registered, **in registration order** (the built-in commands ``print_config`` … first), the next
  seed; the function's own generator is built from it. Every call of a function that declares ``_seed``
  or ``_rnd`` draws a fresh ``_seed`` from that generator (also when the caller passes ``_seed``), and
  ``_rnd`` is ``create_rnd(_seed)``. Adding a captured function therefore shifts the draws of the
  functions registered after it in the same ingredient.

``"name"`` (opt-in) — adding or removing a captured function changes no other function's draws:

- An ingredient without its own ``seed`` gets ``derive_seed(root, ingredient.path)``.
- A captured function's draws come from ``random.Random(derive_seed(ingredient_seed, qualname))``,
  ``qualname`` being the function's ``__qualname__`` (not its module, which differs between
  ``python exp.py`` and an import under pytest); each call that declares ``_seed`` or ``_rnd`` draws the
  next ``_seed`` in ``[1, 2**31 - 1]``; a ``_seed`` passed by the caller seeds ``_rnd`` and draws nothing.

``derive_seed(seed, path)`` is ``int.from_bytes(blake2b(f"{seed}/{path}", digest_size=8)) % (2**31 - 2)
+ 1``: stable across processes, Python versions and platforms (it is not ``hash()``). The pytest plugin
uses it for case seeds, ``derive_seed(session_seed, node id)``; a case seed is the run's root seed and
fans out by the setting above, like any other.

**``_rnd``** is NumPy's ``Generator`` (``default_rng``), a ``RandomState`` when
``SETTINGS.CONFIG.NUMPY_RANDOM_LEGACY_API`` is set, or ``random.Random`` without NumPy. A captured function
called outside any run draws its ``_seed`` from its ``rnd`` attribute when one was set, else from the
global ``random`` (as in Sacred).

**Global RNGs**: just before the main function, Python's ``random``, NumPy's legacy global RNG (if NumPy
is installed) and torch / TensorFlow (only if already imported) are seeded with the root seed, as Sacred
does. We also seed them before the config scopes whenever the seed is known by then (an update, the
``--seed`` option, a named config), so random draws in config scopes are reproducible too — Sacred's
are not.

>>> get_seed(create_rnd(42, legacy=True))
534895719
>>> derive_seed(42, "main") == derive_seed(42, "main")
True
"""

from __future__ import annotations

import hashlib
import random
import sys
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import ConfigError
from ..settings import SETTINGS

__all__ = [
    "derive_seed",
    "random_seed",
    "create_rnd",
    "get_seed",
    "set_global_seed",
    "check_seed",
    "ingredient_seeds",
    "RunSeeds",
    "SeedStream",
    "SEED_DOC",
    "SEED_RANGE",
    "DERIVATIONS",
]

SEED_MAX = 2**31 - 1  # derive_seed's range, and the name derivation's draws
SEED_RANGE = (1, int(1e9))  # Sacred's range for drawn seeds
SEED_DOC = "the random seed for this experiment"
DERIVATIONS = ("sacred", "name")

_system_random = random.SystemRandom()


def derive_seed(seed: int, path: str) -> int:
    """A seed in ``[1, 2**31 - 1]`` that depends only on ``seed`` and ``path``."""
    digest = hashlib.blake2b(f"{seed}/{path}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % (SEED_MAX - 1) + 1


def random_seed() -> int:
    """A fresh root seed in Sacred's range, from the OS: independent of any seeded global RNG
    (Sacred's draw repeats when ``random`` was seeded earlier in the process)."""
    return _system_random.randint(*SEED_RANGE)


def _numpy() -> Any:
    # A plain import, not sys.modules.get: while another thread is still importing NumPy, sys.modules
    # holds a half-initialised module (no .random yet); the import statement waits for it to finish.
    try:
        import numpy
    except ImportError:
        return None
    return numpy


def create_rnd(seed: int, legacy: bool | None = None) -> Any:
    """A generator seeded with ``seed``: NumPy's ``default_rng``, a ``RandomState`` when ``legacy``
    (default: ``SETTINGS.CONFIG.NUMPY_RANDOM_LEGACY_API``), or ``random.Random`` without NumPy."""
    np = _numpy()
    if np is None:
        return random.Random(seed)
    if SETTINGS.CONFIG.NUMPY_RANDOM_LEGACY_API if legacy is None else legacy:
        return np.random.RandomState(seed)
    return np.random.default_rng(seed)


def get_seed(rnd: Any = None) -> int:
    """Draw a seed in Sacred's range from ``rnd`` (any generator :func:`create_rnd` returns), or from
    the global ``random`` when ``rnd`` is None — with exactly Sacred's calls, so the draws match."""
    if rnd is None:
        return random.randint(*SEED_RANGE)
    integers = getattr(rnd, "integers", None)
    if integers is not None:
        return int(integers(*SEED_RANGE, dtype=int))
    return int(rnd.randint(*SEED_RANGE))


def check_seed(value: Any, where: str = "seed") -> int:
    """``value`` as a seed, or a :class:`ConfigError` naming the entry and the fix."""
    if isinstance(value, int):
        return value
    raise ConfigError(
        f"{where} must be an integer (it seeds every random draw of the run), got {value!r} "
        f"({type(value).__name__}); set it to a whole number, e.g. {where}=42."
    )


def set_global_seed(seed: int) -> None:
    """Seed the global RNGs users draw from; frameworks only when the user already imported them."""
    random.seed(seed)
    np = _numpy()
    if np is not None:
        np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "manual_seed"):
        torch.manual_seed(seed)
        cuda = getattr(torch, "cuda", None)
        if cuda is not None and cuda.is_available():
            cuda.manual_seed_all(seed)
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        setter = getattr(getattr(tf, "random", None), "set_seed", None) or getattr(
            tf, "set_random_seed", None
        )
        if setter is not None:
            setter(seed)


def derivation() -> str:
    """``SETTINGS.CONFIG.SEED_DERIVATION``, checked."""
    value = SETTINGS.CONFIG.SEED_DERIVATION
    if value not in DERIVATIONS:
        raise ConfigError(
            f"SETTINGS.CONFIG.SEED_DERIVATION = {value!r}: use 'sacred' (Sacred's draws, the default) "
            "or 'name' (a function's draws depend on its name only)."
        )
    return str(value)


def ingredient_seeds(
    root: Any,
    root_seed: int,
    order: Sequence[Any],
    path: Any,
    subs: Any,
    own_seed: Any,
    how: str = "sacred",
) -> dict[Any, int]:
    """The seed of every ingredient of a run, by node.

    ``root`` is the experiment's node, ``order`` every other node in Sacred's order (sorted by their
    greatest depth, deepest first, ties in traversal order); ``path(node)``, ``subs(node)`` (the
    node's direct sub-ingredients in its ``ingredients`` order) and ``own_seed(node)`` (its config's
    ``seed`` entry, or None) describe the tree. Nodes are compared by identity.

    >>> tree = {"": ["a", "b"], "a": ["a.x"], "b": [], "a.x": []}
    >>> seeds = ingredient_seeds("", 42, ["a.x", "a", "b"], lambda n: n, tree.__getitem__,
    ...                          lambda n: None)
    >>> seeds["b"] == get_seed(create_rnd(42))  # the experiment's list is walked backwards
    True
    """
    seeds: dict[int, tuple[Any, int]] = {id(root): (root, root_seed)}
    if how == "name":
        for node in order:
            own = own_seed(node)
            seeds[id(node)] = (node, derive_seed(root_seed, path(node)) if own is None else own)
        return {node: seed for node, seed in seeds.values()}
    legacy = SETTINGS.CONFIG.NUMPY_RANDOM_LEGACY_API

    def hand_out(node: Any, seed: int) -> None:
        rnd = None
        node_path = path(node)
        for sub in reversed(_unique(subs(node))):
            if id(sub) in seeds or (node_path and not path(sub).startswith(node_path + ".")):
                continue
            own = own_seed(sub)
            if own is None:
                rnd = create_rnd(seed, legacy) if rnd is None else rnd
                own = get_seed(rnd)
            seeds[id(sub)] = (sub, own)
            hand_out(sub, own)

    hand_out(root, root_seed)
    for node in reversed(order):  # shallowest first: Sacred's second pass
        if id(node) not in seeds:
            own = own_seed(node)
            seeds[id(node)] = (node, derive_seed(root_seed, path(node)) if own is None else own)
            hand_out(node, seeds[id(node)][1])
    return {node: seed for node, seed in seeds.values()}


def _unique(nodes: Iterable[Any]) -> list[Any]:
    seen: set[int] = set()
    return [n for n in nodes if not (id(n) in seen or seen.add(id(n)))]  # type: ignore[func-returns-value]


class SeedStream:
    """Where one captured function's ``_seed`` draws come from during one run."""

    __slots__ = ("rnd", "_name_mode")

    def __init__(self, rnd: Any, name_mode: bool = False) -> None:
        self.rnd = rnd
        self._name_mode = name_mode

    def next_seed(self) -> int:
        if self._name_mode:
            return int(self.rnd.randint(1, SEED_MAX))
        return get_seed(self.rnd)

    @property
    def draws_for_explicit_seed(self) -> bool:
        """Sacred draws once per call even when the caller passes ``_seed``; the name mode does not."""
        return not self._name_mode


class RunSeeds:
    """How one run's seeds fan out to its captured functions (see the module docstring).

    Built when the run is assembled; the generators are made lazily, on the first call of a function
    that declares ``_seed`` or ``_rnd``, so a run without randomness pays nothing.
    """

    __slots__ = ("root", "ingredients", "how", "legacy", "_handed", "_lock")

    def __init__(self, root: int, ingredients: dict[Any, int], how: str = "sacred") -> None:
        self.root = root
        self.ingredients = ingredients
        self.how = how
        self.legacy = SETTINGS.CONFIG.NUMPY_RANDOM_LEGACY_API  # as Sacred: fixed when the run is made
        self._handed: dict[Any, tuple[Any, list[int]]] = {}  # ingredient -> (rnd, seeds handed out)
        self._lock = threading.Lock()  # captured functions of one run may first be called in threads

    def stream(self, cf: Any) -> SeedStream | None:
        """The stream of ``cf`` in this run, or None when this run does not seed it (Sacred mode: a
        function of an ingredient the experiment does not use, or one no ingredient registered)."""
        ing = getattr(cf, "ingredient", None)
        if self.how == "name":
            name_seed = derive_seed(self.ingredients.get(ing, self.root), cf.__qualname__)
            return SeedStream(random.Random(name_seed), name_mode=True)
        seed = self.ingredients.get(ing) if ing is not None else None
        if seed is None:
            return None
        index = next((i for i, f in enumerate(ing.captured_functions) if f is cf), None)  # type: ignore[union-attr]
        if index is None:
            return None
        with self._lock:
            handed = self._handed.get(ing)
            if handed is None:
                handed = self._handed[ing] = (create_rnd(seed, self.legacy), [])
            rnd, seeds = handed
            while len(seeds) <= index:
                seeds.append(get_seed(rnd))
            return SeedStream(create_rnd(seeds[index], self.legacy))
