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
import builtins
import functools
import inspect
import io
import linecache
import re
import tokenize
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, cast

from ..errors import ConfigKeyError, ConfigScopeError, InvalidConfigError
from ..settings import SETTINGS
from .custom_containers import make_read_only
from .paths import iterate_flattened
from .summary import ConfigSummary
from .utils import (
    SCALAR_TYPES,
    KeyRules,
    apply_fixed,
    copy_config,
    fill_in,
    mark_fixed,
    normalize_value,
)

__all__ = ["ConfigScope"]

# Imports, helpers and classes in a scope are code, not config.
_NOT_CONFIG = (
    types.ModuleType,
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.MethodWrapperType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.ClassMethodDescriptorType,
    functools.partial,
)
_CONTAINERS = frozenset({list, dict, tuple})


class _Locals(dict[str, Any]):
    """The scope's locals; a name it lacks comes from closure cells, fallbacks, then module globals.

    Only ``__missing__`` is Python code: stores and hits stay on the C fast path.
    """

    __slots__ = ("_extra", "_module")
    _extra: dict[str, Any]
    _module: dict[str, Any]

    def __missing__(self, key: str) -> Any:
        try:
            return self._extra[key]
        except KeyError:
            return self._module[key]  # a KeyError here leaves the name to the builtins


class _Globals(dict[str, Any]):
    """The globals of code nested in a scope (comprehensions, lambdas): they see the scope's locals.

    Plain ``exec(body, module_globals, locals)`` makes ``[x * i for i in r]`` fail with NameError on 3.11,
    because the comprehension looks ``x`` up in the globals only.
    """

    __slots__ = ("_locals",)
    _locals: _Locals

    def __missing__(self, key: str) -> Any:
        return self._locals[key]


# Names the guarded body uses to keep fixed values (they start with "_", so they are not config).
_FIXED_NAME = "__sacredx_fixed__"
_FIX_NAME = "__sacredx_fix__"


class ConfigScope:
    """Wrap a config function; call it with ``(fixed, preset, fallback)`` to get a :class:`ConfigSummary`.

    Parameters of the function name entries that a preset, a fixed value or a fallback (an
    ingredient's config) must provide when the scope is called.
    """

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.__doc__ = self.doc = func.__doc__
        # No __name__: a scope is not a function (pytest, for one, would name a parametrized case
        # after it, where Sacred's scopes get the parameter's name).
        self.__qualname__ = getattr(func, "__qualname__", getattr(func, "__name__", "config"))
        self.parameters = _check_signature(func)
        self.arg_spec = inspect.getfullargspec(func)
        body = _compile_body(cast(types.FunctionType, func))
        self._code, self._guarded_code = body.code, body.guarded_code
        self._assigned, self._private, self._docs = body.assigned, body.private, body.docs

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

        extra = _closure_values(cast(types.FunctionType, self.func))
        if fallback:
            extra.update((k, make_read_only(v, k)) for k, v in fallback.items() if k not in extra)
        ns = _Locals()
        ns._extra, ns._module = extra, self.func.__globals__
        nested_globals = _Globals(__builtins__=self.func.__globals__.get("__builtins__", builtins))
        nested_globals._locals = ns
        for source in (preset, fixed):  # fixed last: it wins over presets
            for k, v in source.items():
                ns[k] = v if type(v) in SCALAR_TYPES else copy_config(v)

        own: dict[str, Any] = {}  # what the scope itself assigned to fixed names
        code = self._code
        if fixed and not self._assigned.isdisjoint(fixed):
            code = self._guarded_code
            ns[_FIXED_NAME] = fixed
            ns[_FIX_NAME] = _fixer(fixed, own)
        exec(code, nested_globals, ns)

        summary = self._collect(ns, rules)
        for key, pv in preset.items():  # nested preset entries the scope's dicts lack
            current = summary.get(key)
            if isinstance(pv, Mapping) and isinstance(current, dict):
                fill_in(current, pv)
        if fixed:
            # Markers compare with what this scope assigned; presets are earlier scopes' business, and
            # ConfigSummary.update_from combines the markers of a chain.
            mark_fixed(own, fixed, summary)
            apply_fixed(summary, fixed)
        if fallback:
            # Assignments to fallback names (an ingredient's config) are not this scope's to make.
            ignored = (ns.keys() & fallback.keys()) - fixed.keys() - preset.keys()
            for key in ignored:
                dict.pop(summary, key, None)
            summary.ignored_fallbacks = ignored
        docs = self._docs
        summary.docs = (
            dict(docs)
            if docs.keys() <= summary.keys()
            else {k: d for k, d in docs.items() if k in summary}
        )
        summary.ensure_coherence()
        return summary

    def _collect(self, ns: dict[str, Any], rules: KeyRules) -> ConfigSummary:
        """The config entries among the scope's locals, normalized; the hot path of a call."""
        summary = ConfigSummary(ns)
        for key in ns.keys() & self._private:
            del summary[key]
        for key in ns.keys() - self._assigned:  # dynamic names, presets, fixed values, helpers
            if key[:1] == "_" and key != "__doc__":
                summary.pop(key, None)
        for key in [k for k, v in summary.items() if type(v) not in SCALAR_TYPES]:
            value = summary[key]
            if type(value) in _CONTAINERS or not isinstance(value, _NOT_CONFIG):
                summary[key] = normalize_value(value, key, rules, hint_private=True)
            else:
                del summary[key]
        return summary

    def _check_parameters(
        self, fixed: Mapping[str, Any], preset: Mapping[str, Any], fallback: Mapping[str, Any]
    ) -> None:
        for name in self.parameters:
            if name not in preset and name not in fixed and name not in fallback:
                available = sorted({*preset, *fixed, *fallback})
                raise ConfigKeyError(
                    f"'{name}' not in preset for ConfigScope '{self.__qualname__}': no earlier config, "
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
    for name, cell in zip(func.__code__.co_freevars, func.__closure__, strict=True):
        try:
            values[name] = cell.cell_contents
        except ValueError:  # cell not yet assigned
            pass
    return values


class _Body(NamedTuple):
    code: types.CodeType  # the body as written
    guarded_code: types.CodeType  # the same, re-imposing fixed values after each assignment to them
    assigned: frozenset[str]  # names the body assigns (and the guarded code watches)
    private: frozenset[str]  # names in the body that start with "_" (never config)
    docs: dict[str, str]


def _compile_body(func: types.FunctionType) -> _Body:
    """Compile the function's body as module code with its real file name and line numbers."""
    filename = func.__code__.co_filename
    source, node = _function_source(func)
    if any(word in source for word in ("return", "yield", "await")):  # the walk is only needed then
        _reject_return_and_yield(node, func, filename)
    docs = _find_docs(node, source) if "#" in source else {}
    code = compile(ast.Module(body=node.body, type_ignores=[]), filename, "exec", dont_inherit=True)
    declared: set[str] = set()
    if "global" in source or "nonlocal" in source:
        declared = {
            n for g in ast.walk(node) if isinstance(g, (ast.Global, ast.Nonlocal)) for n in g.names
        }
    guarder = _Guarder(frozenset(declared), walrus=":=" in source)
    guarded = guarder.body(node.body)  # in place: the plain code is compiled already
    guarded_code = compile(
        ast.Module(body=guarded, type_ignores=[]), filename, "exec", dont_inherit=True
    )
    private = frozenset(n for n in code.co_names if n.startswith("_") and n != "__doc__")
    return _Body(code, guarded_code, frozenset(guarder.watched), private, docs)


def _function_source(func: types.FunctionType) -> tuple[str, ast.FunctionDef]:
    """The function's source, padded so line numbers are the file's, and its parsed ``def`` node."""
    first = func.__code__.co_firstlineno
    lines = linecache.getlines(func.__code__.co_filename, func.__globals__)
    end = _end_line(func.__code__.co_filename, lines, first, func.__name__) if lines else None
    if end is not None:
        lines = lines[first - 1 : end]
    else:  # not found in the file (edited since import, say): inspect knows more ways to find it
        try:
            lines, first = inspect.getsourcelines(func)
        except (OSError, TypeError) as e:
            raise InvalidConfigError(
                f"Cannot read the source of config scope '{func.__qualname__}' ({e}); define it in a .py file "
                f"or use a dict config instead (ex.add_config({{...}}))"
            ) from None
    source = "".join(lines)
    if lines[0][:1] in (" ", "\t"):
        # An indented def (in a class or function) parses inside a dummy block; the blank lines in front
        # make every node's line number the file's.
        source = "\n" * (first - 2) + "if 1:\n" + source
    else:
        source = "\n" * (first - 1) + source
    tree = ast.parse(source, func.__code__.co_filename)
    node = tree.body[0]
    if isinstance(node, ast.If):
        node = node.body[0]
    if not isinstance(node, ast.FunctionDef):
        raise InvalidConfigError(
            f"Config scope '{func.__qualname__}' must be a function defined with 'def' "
            f"(not a lambda or async def)"
        )
    return source, node


# filename -> (the linecache lines it was parsed from, {first line of a def: its last line})
_FILE_DEFS: dict[str, tuple[list[str], dict[tuple[int, str], int]]] = {}


def _end_line(filename: str, lines: list[str], first: int, name: str) -> int | None:
    """The last line of the ``def name`` starting (with its decorators) at ``first``; None if not found.

    The whole file is parsed once per version (C speed), instead of ``inspect`` tokenizing each function.
    """
    cached = _FILE_DEFS.get(filename)
    if cached is None or cached[0] is not lines:
        try:
            tree = ast.parse("".join(lines), filename)
        except (SyntaxError, ValueError):
            return None
        defs = {}
        for n in ast.walk(tree):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([n.lineno] + [d.lineno for d in n.decorator_list])
                defs[(start, n.name)] = n.end_lineno or n.lineno
        cached = _FILE_DEFS[filename] = (lines, defs)
    return cached[1].get((first, name))


def _fixer(fixed: dict[str, Any], own: dict[str, Any]) -> Callable[[str, Any], Any]:
    """The function the guarded body calls after assigning a fixed name: it records and overrides."""

    def fix(name: str, value: Any) -> Any:
        own[name] = value
        fv = fixed[name]
        if isinstance(fv, dict) and isinstance(value, dict):
            return apply_fixed(dict(value), fv)
        return copy_config(fv)

    return fix


def _target_names(target: ast.AST) -> list[str]:
    return [
        n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    ]


def _stmt_targets(stmt: ast.stmt, walrus: bool) -> list[str]:
    """Names a simple statement binds in the scope: its targets and walrus targets, not comprehension loops."""
    if isinstance(stmt, ast.Assign):
        names = [n for t in stmt.targets for n in _target_names(t)]
    elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
        names = [stmt.target.id]
    elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
        names = [stmt.target.id]
    else:
        names = []
    todo: list[ast.AST] = [stmt] if walrus else []
    while todo:
        node = todo.pop()
        if isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
        if not isinstance(node, ast.Lambda):
            todo.extend(ast.iter_child_nodes(node))
    return names


class _Guarder:
    """Insert ``if 'x' in __sacredx_fixed__: x = __sacredx_fix__('x', x)`` after each assignment to ``x``.

    Only the assignments pay for the check, instead of every store paying for a Python ``__setitem__``.
    """

    def __init__(self, global_names: frozenset[str], walrus: bool) -> None:
        self.global_names = global_names
        self.walrus = walrus
        self.watched: set[str] = set()

    def guards(self, names: list[str], line: int) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for name in dict.fromkeys(names):
            if name in self.global_names:
                continue
            self.watched.add(name)
            loc: dict[str, Any] = {"lineno": line, "end_lineno": line, "col_offset": 0, "end_col_offset": 0}
            # Locations given directly: ast.fix_missing_locations walked each guard again and was
            # most of the cost of building a large scope.
            call = ast.Call(
                func=ast.Name(_FIX_NAME, ast.Load(), **loc),
                args=[ast.Constant(name, **loc), ast.Name(name, ast.Load(), **loc)],
                keywords=[],
                **loc,
            )
            test = ast.Compare(
                left=ast.Constant(name, **loc),
                ops=[ast.In()],
                comparators=[ast.Name(_FIXED_NAME, ast.Load(), **loc)],
                **loc,
            )
            assign = ast.Assign(targets=[ast.Name(name, ast.Store(), **loc)], value=call, **loc)
            out.append(ast.If(test=test, body=[assign], orelse=[], **loc))
        return out

    def body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.append(stmt)
                continue
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    setattr(stmt, field, self.body(inner))
            for handler in getattr(stmt, "handlers", ()):
                handler.body = self.body(handler.body)
            for case in getattr(stmt, "cases", ()):
                case.body = self.body(case.body)
            line = stmt.end_lineno or stmt.lineno
            if isinstance(stmt, (ast.For, ast.AsyncFor)):
                stmt.body[:0] = self.guards(_target_names(stmt.target), stmt.lineno)
            elif isinstance(stmt, (ast.With, ast.AsyncWith)):
                names = [
                    n
                    for item in stmt.items
                    if item.optional_vars
                    for n in _target_names(item.optional_vars)
                ]
                stmt.body[:0] = self.guards(names, stmt.lineno)
            if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)):
                out.append(stmt)
                names = _stmt_targets(stmt, self.walrus)
                out.extend(self.guards(names, line))
            else:
                out.append(stmt)
        return out


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


def _reject_return_and_yield(
    node: ast.FunctionDef, func: types.FunctionType, filename: str
) -> None:
    finder = _ReturnFinder()
    for stmt in node.body:
        finder.visit(stmt)
    bad = finder.found
    if bad is None:
        return
    what = {
        ast.Return: "return",
        ast.Yield: "yield",
        ast.YieldFrom: "yield from",
        ast.Await: "await",
    }[type(bad)]
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
    lines = source.splitlines()
    # Only lines with a '#' can hold a comment; tokenizing them one by one (as Sacred does) is far
    # cheaper than tokenizing a large scope whole. A '#' inside a string is a STRING token, not a comment.
    for lineno, text in enumerate(lines, 1):
        if "#" not in text:
            continue
        try:
            for tok in tokenize.generate_tokens(io.StringIO(text).readline):
                if tok.type == tokenize.COMMENT:
                    comments[lineno] = (tok.start[1], tok.string.lstrip("#").strip())
        except (tokenize.TokenError, SyntaxError, IndentationError):
            continue  # a line inside a multi-line string or bracket: no comment we can attribute
    if not comments:
        return {}
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


def _assignments(body: list[Any]) -> list[ast.Assign | ast.AnnAssign]:
    """The assignments of a body, also inside if/for/with/try blocks (not inside defs or classes)."""
    found: list[ast.Assign | ast.AnnAssign] = []
    for stmt in body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            found.append(stmt)
        elif not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list):
                    found.extend(_assignments(inner))
    return found


def chain_evaluate_config_scopes(
    config_scopes: Iterable[Any],
    fixed: Mapping[str, Any] | None = None,
    preset: Mapping[str, Any] | None = None,
    fallback: Mapping[str, Any] | None = None,
) -> ConfigSummary:
    """Evaluate scopes (and config dicts) in order, each seeing the previous ones' result as presets.

    A key counts as *added* only while no scope defined it (markers merge with ``update_from``).
    """
    result: ConfigSummary | None = None
    current: dict[str, Any] = dict(preset or {})
    for scope in config_scopes:
        summary = scope(fixed=fixed, preset=current, fallback=fallback)
        if result is None:
            result = ConfigSummary()
        result.update_from(summary)
        current = dict(summary)
    if result is None:  # no scopes: every fixed entry is an addition
        return ConfigSummary(dict(fixed or {}), added={k for k, _ in iterate_flattened(fixed or {})})
    result.update(current)
    return result
