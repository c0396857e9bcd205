"""A context manager that swaps one method of a class for a wrapper while it is active.

>>> class Greeter:
...     def greet(self, name):
...         return "hi " + name
>>> def shout(instance, method, args, kwargs):
...     return method(instance, *args, **kwargs).upper()
>>> with ContextMethodDecorator(Greeter, "greet", shout):
...     Greeter().greet("ann")
'HI ANN'
>>> Greeter().greet("ann")
'hi ann'
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = ["ContextMethodDecorator"]

Decorator = Callable[[Any, Callable[..., Any], tuple[Any, ...], dict[str, Any]], Any]


class ContextMethodDecorator:
    """Within ``with``, ``classx.method_name`` calls ``decorator_func(instance, original, args, kwargs)``.

    Nested managers of the same kind on the same method do not wrap twice: the outermost one's wrapper
    stays, so a call is seen once. Leaving the outermost one (also by an exception) restores the
    original method.
    """

    def __init__(self, classx: type, method_name: str, decorator_func: Decorator) -> None:
        self.classx = classx
        self.method_name = method_name
        self.decorator_func = decorator_func
        # One entry per active `with` of this object (a decorated function may recurse): the method
        # it replaced, or None when an outer manager was intercepting already.
        self._restore: list[Any] = []

    def _marker(self) -> str:
        return f"_sacredx_patched_by_{type(self).__name__}"

    def __enter__(self) -> ContextMethodDecorator:
        original = getattr(self.classx, self.method_name)
        if getattr(original, self._marker(), False):
            self._restore.append(None)  # an outer manager already intercepts this method
            return self
        decorator_func = self.decorator_func

        @functools.wraps(original)
        def intercepted(instance: Any, *args: Any, **kwargs: Any) -> Any:
            return decorator_func(instance, original, args, kwargs)

        setattr(intercepted, self._marker(), True)
        self._restore.append(original)
        setattr(self.classx, self.method_name, intercepted)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        original = self._restore.pop()
        if original is not None:
            setattr(self.classx, self.method_name, original)
