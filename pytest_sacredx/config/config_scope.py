"""``ConfigScope``: a function whose body's local variables are the config (``@ex.config``).

The body is compiled once, at decoration time, with the real file name and line numbers, and run on
every call in a namespace where *fixed* values (command-line updates) win over assignments, so entries
computed from them follow. Modules, functions, classes and ``_private`` names are not config.

>>> def cfg():
...     recipient = "world"  # whom to greet
...     message = "Hello %s!" % recipient
>>> scope = ConfigScope(cfg)                      # doctest: +SKIP
>>> scope(fixed={"recipient": "you"})["message"]  # doctest: +SKIP
'Hello you!'
"""

from __future__ import annotations

import ast
import inspect
import io
import re
import tokenize
import types
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ConfigKeyError, ConfigScopeError, InvalidConfigError
from ..settings import SETTINGS
from .custom_containers import make_read_only
from .summary import ConfigSummary
from .utils import SCALAR_TYPES, KeyRules, apply_fixed, copy_config, fill_in, mark_fixed, normalize_value

__all__ = ["ConfigScope"]

_NOT_CONFIG = (types.ModuleType, type)


class _Lookup(dict):  # type: ignore[type-arg]
    """Scope locals that resolve unknown names from fallbacks and closure cells (before globals)."""

    __slots__ = ("_extra",)

    def __missing__(self, key: str) -> Any:
        return self._extra[key]  # KeyError sends the lookup on to globals and builtins


class _Guarded(_Lookup):
    """Scope locals where assignments to fixed names keep the fixed value (merged, for dicts)."""

    __slots__ = ("_fixed", "_fallback", "_own", "_ignored")

    def __setitem__(self, key: str, value: Any) -> None:
        fixed = self._fixed
        if key in fixed:
            self._own[key] = value
            fv = fixed[key]
            if isinstance(fv, dict) and isinstance(value, dict):
                value = apply_fixed(dict(value), fv)
            else:
                value = copy_config(fv)
        elif key in self._fallback:
            self._ignored.add(key)
            return
        dict.__setitem__(self, key, value)


class ConfigScope:
    """Wrap a config function; call it with ``(fixed, preset, fallback)`` to get a :class:`ConfigSummary`.

    Parameters of the function name entries that a preset, a fixed value or a fallback (an
    ingredient's config) must provide when the scope is called.
    """

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.__doc__ = self.doc = func.__doc__
        self.__name__ = getattr(func, "__name__", "config")
        self.__qualname__ = getattr(func, "__qualname__", self.__name__)
        self.parameters = _check_signature(func)
        self.arg_spec = inspect.getfullargspec(func)
        self._code, self._docs = _compile_body(func)

    def __call__(
        self,
        fixed: Mapping[str, Any] | None = None,
        preset: Mapping[str, Any] | None = None,
        fallback: Mapping[str, Any] | None = None,
    ) -> ConfigSummary:
        rules = KeyRules.current()
        fixed = normalize_value(dict(fixed), "", rules) if fixed else {}
        preset = preset or {}
        fallback = fallback or {}
        self._check_parameters(fixed, preset, fallback)

        extra = _closure_values(self.func)
        if fallback:
            extra.update((k, make_read_only(v, k)) for k, v in fallback.items() if k not in extra)
        if fixed or fallback:
            ns: dict[str, Any] = _Guarded()
            ns._fixed, ns._fallback, ns._own, ns._ignored = fixed, fallback, {}, set()  # type: ignore[attr-defined]
        elif extra:
            ns = _Lookup()
        else:
            ns = {}
        if type(ns) is not dict:
            ns._extra = extra  # type: ignore[attr-defined]
        for source in (preset, fixed):  # fixed last: it wins over presets
            for k, v in source.items():
                dict.__setitem__(ns, k, v if type(v) in SCALAR_TYPES else copy_config(v))

        exec(self._code, self.func.__globals__, ns)

        summary = ConfigSummary(docs={})
        for key, value in ns.items():
            if key[0] == "_" and key != "__doc__":
                continue
            if type(value) not in SCALAR_TYPES:
                if isinstance(value, _NOT_CONFIG) or inspect.isroutine(value):
                    continue
                value = normalize_value(value, key, rules, hint_private=True)
            dict.__setitem__(summary, key, value)
        for key, pv in preset.items():  # nested preset entries the scope's dicts lack
            current = summary.get(key)
            if isinstance(pv, Mapping) and isinstance(current, dict):
                fill_in(current, pv)
        if fixed:
            own = ns._own  # type: ignore[attr-defined]
            defined = {k: v for k, v in preset.items() if k in fixed}
            for k, v in own.items():
                pv = defined.get(k)
                defined[k] = fill_in(copy_config(v), pv) if isinstance(v, dict) and isinstance(pv, Mapping) else v
            mark_fixed(defined, fixed, summary)
            apply_fixed(summary, fixed)
        if fallback:
            summary.ignored_fallbacks = set(ns._ignored)  # type: ignore[attr-defined]
        summary.docs = {k: d for k, d in self._docs.items() if k in summary}
        summary.ensure_coherence()
        return summary

    def _check_parameters(self, fixed: Mapping[str, Any], preset: Mapping[str, Any], fallback: Mapping[str, Any]) -> None:
        for name in self.parameters:
            if name not in preset and name not in fixed and name not in fallback:
                available = sorted({*preset, *fixed, *fallback})
                raise ConfigKeyError(
                    f"Config scope '{self.__qualname__}' takes parameter {name!r}, but no earlier config, "
                    f"update or ingredient provides it (available: {', '.join(available) or 'nothing'}); "
                    f"define {name!r} in an earlier config or remove the parameter"
                )

    def __repr__(self) -> str:
        return f"<ConfigScope {self.__qualname__}>"


def _check_signature(func: Callable[..., Any]) -> tuple[str, ...]:
    if not isinstance(func, types.FunctionType):
        raise InvalidConfigError(
            f"ConfigScope needs a plain function defined with 'def', not {type(func).__name__} {func!r}"
        )
    names = []
    for p in inspect.signature(func).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is not p.empty:
            raise InvalidConfigError(
                f"Config scope '{func.__qualname__}' has parameter {str(p)!r}; config scopes take only plain "
                f"names that an earlier config, update or ingredient provides; remove the default, *args or **kwargs"
            )
        names.append(p.name)
    return tuple(names)


def _closure_values(func: types.FunctionType) -> dict[str, Any]:
    # Names of an enclosing function (a scope defined inside a test, say) resolve like in the source.
    if not func.__closure__:
        return {}
    values = {}
    for name, cell in zip(func.__code__.co_freevars, func.__closure__):
        try:
            values[name] = cell.cell_contents
        except ValueError:  # cell not yet assigned
            pass
    return values


def _compile_body(func: types.FunctionType) -> tuple[types.CodeType, dict[str, str]]:
    """Compile the function's body as module code with its real file name and line numbers."""
    try:
        lines, first = inspect.getsourcelines(func)
    except (OSError, TypeError) as e:
        raise InvalidConfigError(
            f"Cannot read the source of config scope '{func.__qualname__}' ({e}); define it in a .py file "
            f"or use a dict config instead (ex.add_config({{...}}))"
        ) from None
    filename = func.__code__.co_filename
    source = "".join(lines)
    if lines[0][:1] in (" ", "\t"):
        # An indented def (in a class or function) parses inside a dummy block; the blank lines in front
        # make every node's line number the file's.
        source = "\n" * (first - 2) + "if 1:\n" + source
    else:
        source = "\n" * (first - 1) + source
    tree = ast.parse(source, filename)
    node = tree.body[0]
    if isinstance(node, ast.If):
        node = node.body[0]
    if not isinstance(node, ast.FunctionDef):
        raise InvalidConfigError(
            f"Config scope '{func.__qualname__}' must be a function defined with 'def' "
            f"(not a lambda or async def)"
        )
    _reject_return_and_yield(node, func, filename)
    module = ast.Module(body=node.body, type_ignores=[])
    code = compile(module, filename, "exec", dont_inherit=True)
    return code, _find_docs(node, source)


class _ReturnFinder(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: ast.AST | None = None

    def generic_visit(self, node: ast.AST) -> None:
        if self.found is None:
            super().generic_visit(node)

    def visit_Return(self, node: ast.AST) -> None:
        self.found = node

    visit_Yield = visit_YieldFrom = visit_Await = visit_Return

    def _skip(self, node: ast.AST) -> None:
        pass  # nested functions and classes may return and yield

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = _skip


def _reject_return_and_yield(node: ast.FunctionDef, func: types.FunctionType, filename: str) -> None:
    finder = _ReturnFinder()
    for stmt in node.body:
        finder.visit(stmt)
    bad = finder.found
    if bad is None:
        return
    what = {ast.Return: "return", ast.Yield: "yield", ast.YieldFrom: "yield from", ast.Await: "await"}[type(bad)]
    lineno = getattr(bad, "lineno", None)
    err = ConfigScopeError(
        f"Config scope '{func.__qualname__}' uses '{what}' (File \"{filename}\", line {lineno}); a config "
        f"scope's body runs like a module and its local variables are the config, so remove the '{what}'"
    )
    err.filename, err.lineno = filename, lineno
    raise err


def _find_docs(node: ast.FunctionDef, source: str) -> dict[str, str]:
    """Map each assigned name to its comment: on the assignment's line, or the comment lines right above."""
    comments: dict[int, tuple[int, str]] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                comments[tok.start[0]] = (tok.start[1], tok.string.lstrip("#").strip())
    except (tokenize.TokenError, SyntaxError):
        return {}
    if not comments:
        return {}
    lines = source.splitlines()
    ignored = [re.compile(p) for p in SETTINGS.CONFIG.IGNORED_COMMENTS]

    def usable(text: str) -> bool:
        return bool(text) and not any(p.search(text) for p in ignored)

    def comment_only(lineno: int) -> str | None:
        entry = comments.get(lineno)
        if entry is None or lines[lineno - 1][: entry[0]].strip():
            return None
        return entry[1]

    def doc_for(stmt: ast.stmt) -> str | None:
        inline = comments.get(stmt.lineno)
        if inline is not None and usable(inline[1]):
            return inline[1]
        block: list[str] = []
        lineno = stmt.lineno - 1
        while lineno > 0 and (text := comment_only(lineno)) is not None:
            if usable(text):
                block.append(text)
            lineno -= 1
        return " ".join(reversed(block)) or None

    docs: dict[str, str] = {}
    for stmt in _assignments(node.body):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        if not names or all(name in docs for name in names):
            continue
        doc = doc_for(stmt)
        if doc:
            for name in names:
                docs.setdefault(name, doc)
    return docs


def _assignments(body: list[ast.stmt]) -> list[ast.stmt]:
    found: list[ast.stmt] = []
    for stmt in body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            found.append(stmt)
        elif not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list):
                    found.extend(_assignments([s for s in inner if isinstance(s, ast.AST)]))  # type: ignore[misc]
    return found
