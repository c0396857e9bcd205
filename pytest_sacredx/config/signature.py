"""How a captured function's arguments are filled: explicit arguments, then config values, then defaults.

>>> def f(a, b=2, *, c=3): return a, b, c
>>> s = Signature(f)
>>> s.construct_arguments((), {}, {"a": 1, "c": 5})
((), {'a': 1, 'c': 5})
>>> str(s), s.positional_args, s.kwargs
('f(a, b=2, c=3)', ['a'], {'b': 2, 'c': 3})
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import MissingConfigError, SignatureError

__all__ = ["Signature", "SPECIAL_NAMES", "MISSING"]

SPECIAL_NAMES = ("_config", "_run", "_log", "_seed", "_rnd")

_P = inspect.Parameter


class Signature:
    """The parameters of a captured function, analysed once at decoration time."""

    __slots__ = ("name", "arguments", "positional", "defaults", "vararg_name", "kw_wildcard_name",
                 "uses_randomness", "specials")

    def __init__(self, f: Callable[..., Any]) -> None:
        self.name = getattr(f, "__name__", repr(f))
        params = inspect.signature(f).parameters.values()
        self.arguments: list[str] = [
            p.name for p in params if p.kind not in (_P.VAR_POSITIONAL, _P.VAR_KEYWORD)
        ]
        self.positional: tuple[str, ...] = tuple(
            p.name for p in params if p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)
        )
        self.defaults: dict[str, Any] = {
            p.name: p.default for p in params if p.default is not _P.empty
        }
        self.vararg_name = next((p.name for p in params if p.kind is _P.VAR_POSITIONAL), None)
        self.kw_wildcard_name = next((p.name for p in params if p.kind is _P.VAR_KEYWORD), None)
        self.specials = tuple(n for n in self.arguments if n in SPECIAL_NAMES)
        self.uses_randomness = "_seed" in self.arguments or "_rnd" in self.arguments

    @property
    def positional_args(self) -> list[str]:
        """Positional parameters without a default (Sacred's name)."""
        return [n for n in self.positional if n not in self.defaults]

    @property
    def kwargs(self) -> dict[str, Any]:
        """Parameters with a default, mapped to it (Sacred's name)."""
        return dict(self.defaults)

    def get_free_parameters(
        self, args: Sequence[Any], kwargs: Mapping[str, Any], bound: bool = False
    ) -> list[str]:
        """Parameters neither passed positionally nor by keyword (``bound``: ``self`` is passed)."""
        expected = self.arguments[1:] if bound else self.arguments
        return [a for a in expected[len(args):] if a not in kwargs]

    def construct_arguments(
        self,
        args: Sequence[Any],
        kwargs: dict[str, Any],
        options: Mapping[str, Any],
        bound: bool = False,
    ) -> tuple[Any, dict[str, Any]]:
        """Fill free parameters from ``options``, then check the call; ``args`` come back as given.

        ``bound``: called as a method, so the first parameter (``self``) is passed implicitly.
        """
        given = tuple(args)
        if bound:
            given = (MISSING, *given)
        _, kwargs = self.bind(given, kwargs, options.get)
        return args, kwargs

    def bind(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        lookup: Callable[[str, Any], Any],
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Fill free parameters with ``lookup(name, MISSING)`` (config values beat defaults)."""
        nargs = len(args)
        if nargs > len(self.positional) and self.vararg_name is None:
            raise SignatureError(
                f"{self.name} got unexpected positional argument(s): {list(args[len(self.positional):])!r}"
            )
        if kwargs:
            self._check_kwargs(args, kwargs)
            kwargs = dict(kwargs)
        else:
            kwargs = {}
        missing: list[str] | None = None
        for name in self.arguments[min(nargs, len(self.positional)):]:
            if name in kwargs:
                continue
            value = lookup(name, MISSING)
            if value is not MISSING:
                kwargs[name] = value
            elif name not in self.defaults:
                (missing := missing or []).append(name)
        if missing:
            raise MissingConfigError(
                f"{self.name} is missing value(s): {missing!r}; add them to the config or pass them "
                f"when calling {self.name}()"
            )
        return args, kwargs

    def _check_kwargs(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        if self.kw_wildcard_name is None:
            unexpected = [k for k in kwargs if k not in self.arguments]
            if unexpected:
                raise SignatureError(f"{self.name} got unexpected keyword argument(s): {unexpected!r}")
        doubled = [k for k in self.positional[: len(args)] if k in kwargs]
        if doubled:
            raise SignatureError(f"{self.name} got multiple values for argument(s) {doubled!r}")

    def __str__(self) -> str:
        parts = list(self.positional_args)
        if self.vararg_name:
            parts.append("*" + self.vararg_name)
        parts += [f"{name}={value!r}" for name, value in self.defaults.items()]
        if self.kw_wildcard_name:
            parts.append("**" + self.kw_wildcard_name)
        return f"{self.name}({', '.join(parts)})"

    def __repr__(self) -> str:
        return f"<Signature at 0x{id(self):x} for '{self.name}'>"


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
