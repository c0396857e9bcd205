"""``ConfigScope``: a function whose body's local variables are the config (``@ex.config``).

The body is compiled once, at decoration time, as module code with the real file name and line numbers,
and run on every call. Every local variable it leaves is a config entry — numbers and strings, but also
functions, classes and imported modules, as in Sacred. Its parameters name entries of earlier configs
(*presets*) or of ingredients (read-only *fallbacks*); a preset or fallback it does not declare is a
``NameError``. *Fixed* values (command-line updates) win over assignments, so entries computed from
them follow, and the summary records what the assignments tried (``modified``, ``typechanged``) and
which fixed entries no assignment met (``added``).

>>> scope = ConfigScope(cfg)                      # doctest: +SKIP
>>> scope(fixed={"recipient": "you"})["message"]  # doctest: +SKIP
'Hello you!'

The body's text is Sacred's: the source after the ``def`` line's colon, dedented line by line by the
first statement's indentation (:func:`get_function_body`, :func:`dedent_function_body`), so a
multi-line string in a scope holds exactly the text it holds under Sacred.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import io
import linecache
import re
import textwrap
import tokenize
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, cast

from ..errors import ConfigKeyError, ConfigScopeError, InvalidConfigError
from ..settings import SETTINGS
from .config_summary import ConfigSummary
from .custom_containers import DogmaticDict, make_read_only
from .paths import iterate_flattened
from .utils import (
    SCALAR_TYPES,
    KeyRules,
    check_key,
    copy_config,
    normalize_value,
    recursive_fill_in,
    undogmatize,
)

__all__ = [
    "ConfigScope",
    "chain_evaluate_config_scopes",
    "dedent_function_body",
    "dedent_line",
    "evaluate_config_chain",
    "get_function_body",
    "is_empty_or_comment",
]

SEED_DOC = "the random seed for this experiment"


class _Locals(dict[str, Any]):
    """The scope's locals; a name it lacks comes from fixed values, fallbacks, closure cells, then the
    module's globals.

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


# Names the guarded body uses to keep fixed values; removed from the locals afterwards.
_FIXED_NAME = "__sacredx_fixed__"
_FIX_NAME = "__sacredx_fix__"
_HELPERS = (_FIXED_NAME, _FIX_NAME)


class ConfigScope:
    """Wrap a config function; call it with ``(fixed, preset, fallback)`` to get a :class:`ConfigSummary`.

    Parameters of the function name entries that a preset, a fixed value or a fallback (an
    ingredient's config) must provide when the scope is called.
    """

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = self._func = func
        self.__doc__ = self.doc = func.__doc__
        # No __name__: a scope is not a function (pytest, for one, would name a parametrized case
        # after it, where Sacred's scopes get the parameter's name).
        self.__qualname__ = getattr(func, "__qualname__", getattr(func, "__name__", "config"))
        self.parameters = _check_signature(func)
        self.args = list(self.parameters)
        self.arg_spec = inspect.getfullargspec(func)
        body = _compile_body(cast(types.FunctionType, func))
        self._code, self._guarded_code = body.code, body.guarded_code
        self._assigned = body.assigned
        self._var_docs = body.docs

    def __call__(
        self,
        fixed: Mapping[str, Any] | None = None,
        preset: Mapping[str, Any] | None = None,
        fallback: Mapping[str, Any] | None = None,
    ) -> ConfigSummary:
        rules = KeyRules.current()
        fixed = dict(fixed) if fixed else {}
        for key in fixed:  # the scope's own names are identifiers; updates' names are checked here
            check_key(key, "", rules)
        preset = preset or {}
        fallback = fallback or {}
        self._check_parameters(fixed, preset, fallback)

        tracker = DogmaticDict(fixed)  # what the fixed values make of assignments to them
        ns = _Locals()
        fallback_view: dict[str, Any] = {}
        for name in self.parameters:
            if name in preset:
                if name in fixed:
                    tracker[name] = copy_config(preset[name])
                    ns[name] = dict.__getitem__(tracker, name)
                else:
                    value = preset[name]
                    ns[name] = value if type(value) in SCALAR_TYPES else copy_config(value)
            elif name not in fixed:
                fallback_view[name] = make_read_only(fallback[name], name)
        # Names the locals lack: fixed values (readable before the scope assigns them), declared
        # fallbacks, the enclosing function's variables, then the module's globals.
        extra = _closure_values(cast(types.FunctionType, self.func))
        extra.update(fallback_view)
        extra.update((k, v if type(v) in SCALAR_TYPES else copy_config(v)) for k, v in fixed.items())
        ns._extra, ns._module = extra, self.func.__globals__
        nested_globals = _Globals(__builtins__=self.func.__globals__.get("__builtins__", builtins))
        nested_globals._locals = ns

        code = self._code
        if fixed and not self._assigned.isdisjoint(fixed):
            code = self._guarded_code
            ns[_FIXED_NAME] = fixed
            ns[_FIX_NAME] = _fixer(tracker)
        exec(code, nested_globals, ns)
        for helper in _HELPERS:
            ns.pop(helper, None)

        entries: dict[str, Any] = {}
        for key, value in ns.items():
            entries[key] = dict.__getitem__(tracker, key) if key in tracker.fixed else value
        added = tracker.revelation()
        for key in tracker.fixed:
            if key not in entries:
                entries[key] = dict.__getitem__(tracker, key)
        recursive_fill_in(entries, preset)  # presets the scope did not declare stay in the config

        summary = ConfigSummary(
            added=added,
            modified=tracker.modified,
            typechanged=tracker.typechanges,
            ignored_fallbacks=(ns.keys() & fallback_view.keys()) - fixed.keys(),
            docs=self._var_docs,
        )
        for key, value in entries.items():
            summary[key] = value if type(value) in SCALAR_TYPES else normalize_value(value, key, rules)
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
    docs: dict[str, str]


def _compile_body(func: types.FunctionType) -> _Body:
    """Compile the function's body as module code with its real file name and line numbers."""
    filename = func.__code__.co_filename
    body_source, offset = _body_source(func)
    try:
        tree = ast.parse(body_source, filename)
        body_lines = body_source.split("\n")
    except SyntaxError:
        # The dedented text does not parse (tabs and spaces mixed, say): compile the body as written.
        tree, body_lines, offset = _plain_body(func)
    if any(word in body_source for word in ("return", "yield", "await")):
        _reject_return_and_yield(tree.body, func, filename)
    docs = _find_docs(tree.body, body_lines)
    if offset:
        ast.increment_lineno(tree, offset)
    code = compile(tree, filename, "exec", dont_inherit=True)
    declared: set[str] = set()
    if "global" in body_source or "nonlocal" in body_source:
        declared = {
            n for g in ast.walk(tree) if isinstance(g, (ast.Global, ast.Nonlocal)) for n in g.names
        }
    guarder = _Guarder(frozenset(declared), walrus=":=" in body_source)
    guarded = guarder.body(tree.body)  # in place: the plain code is compiled already
    guarded_code = compile(
        ast.Module(body=guarded, type_ignores=[]), filename, "exec", dont_inherit=True
    )
    return _Body(code, guarded_code, frozenset(guarder.watched), docs)


def _body_source(func: types.FunctionType) -> tuple[str, int]:
    body, offset = get_function_body(func)
    return dedent_function_body(body), offset


def _plain_body(func: types.FunctionType) -> tuple[ast.Module, list[str], int]:
    lines, first = _def_lines(func)
    source = "".join(lines)
    if lines[0][:1] in (" ", "\t"):
        source = "if 1:\n" + source  # an indented def parses inside a dummy block
        first -= 1
    node = ast.parse(source, func.__code__.co_filename).body[0]
    if isinstance(node, ast.If):
        node = node.body[0]
    if not isinstance(node, ast.FunctionDef):
        raise _not_a_def(func)
    return ast.Module(body=node.body, type_ignores=[]), source.split("\n"), first - 1


def _not_a_def(func: Any) -> InvalidConfigError:
    return InvalidConfigError(
        f"Config scope '{func.__qualname__}' must be a function defined with 'def' "
        f"(not a lambda or async def)"
    )


def _def_lines(func: types.FunctionType) -> tuple[list[str], int]:
    """The source lines of the ``def`` (decorators included) and the file's line number of the first."""
    first = func.__code__.co_firstlineno
    lines = linecache.getlines(func.__code__.co_filename, func.__globals__)
    end = _end_line(func.__code__.co_filename, lines, first, func.__name__) if lines else None
    if end is not None:
        return lines[first - 1 : end], first
    # not found in the file (edited since import, say): inspect knows more ways to find it
    try:
        found, first = inspect.getsourcelines(func)
    except (OSError, TypeError) as e:
        raise InvalidConfigError(
            f"Cannot read the source of config scope '{func.__qualname__}' ({e}); define it in a .py file "
            f"or use a dict config instead (ex.add_config({{...}}))"
        ) from None
    return found, first


def get_function_body(func: Callable[..., Any]) -> tuple[str, int]:
    r"""The text of ``func``'s body and a line offset: body line ``n`` is line ``n + offset`` of the file.

    The body starts right after the colon that ends the ``def`` line (comments and a docstring
    included) and runs to the function's last line; the def is dedented first, as a whole.

    >>> def f(a,
    ...       b):  # note
    ...     x = 1
    >>> get_function_body(f)[0]
    '  # note\n    x = 1\n'
    """
    f = cast(types.FunctionType, func)
    lines, first = _def_lines(f)
    source = textwrap.dedent("".join(lines))
    row, col = _header_end(source, f)
    source_lines = source.splitlines(True)
    body = source_lines[row - 1][col:] + "".join(source_lines[row:])
    return body, first + row - 2


def _header_end(source: str, func: Any) -> tuple[int, int]:
    """Row (1-based) and column just after the colon that ends the def line of ``source``."""
    depth = 0
    seen_def = False
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if not seen_def:
                seen_def = tok.type == tokenize.NAME and tok.string == "def"
                continue
            if tok.type != tokenize.OP:
                continue
            if tok.string in "([{":
                depth += 1
            elif tok.string in ")]}":
                depth -= 1
            elif tok.string == ":" and depth == 0:
                return tok.end
    except (tokenize.TokenError, SyntaxError):
        pass
    raise _not_a_def(func)


def is_empty_or_comment(line: str) -> bool:
    """Whether ``line`` holds nothing but whitespace or a comment.

    >>> is_empty_or_comment("   # note"), is_empty_or_comment("a = 1  # note")
    (True, False)
    """
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def dedent_line(line: str, indent: str) -> str:
    r"""``line`` without the part of its start that it shares with ``indent``.

    >>> dedent_line("        a = 1", "    "), dedent_line("  a = 1", "    "), dedent_line("\ta", "  ")
    ('    a = 1', 'a = 1', '\ta')
    """
    shared = 0
    for got, want in zip(line, indent, strict=False):
        if got != want:
            break
        shared += 1
    return line[shared:]


def dedent_function_body(body: str) -> str:
    """Dedent every line of ``body`` by the indentation of its first line of code (see :func:`dedent_line`).

    Comment lines and the continuation lines of strings lose at most that much, so the text of a
    multi-line string changes with it, as under Sacred.
    """
    lines = body.split("\n")
    indent = ""
    for line in lines:
        if not is_empty_or_comment(line):
            indent = line[: len(line) - len(line.lstrip())]
            break
    return "\n".join(dedent_line(line, indent) for line in lines)


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




def _fixer(tracker: DogmaticDict) -> Callable[[str, Any], Any]:
    """The function the guarded body calls after assigning a fixed name: the fixed value wins.

    The assignment goes through the tracker, which records it and merges a fixed dict with the
    assigned one; the scope goes on with the tracker's value.
    """

    def fix(name: str, value: Any) -> Any:
        tracker[name] = value
        return dict.__getitem__(tracker, name)

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
    body: list[ast.stmt], func: types.FunctionType, filename: str
) -> None:
    finder = _ReturnFinder()
    for stmt in body:
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



def _find_docs(body: list[ast.stmt], lines: list[str]) -> dict[str, str]:
    """Each assigned name's doc: the comment on its line, else the nearest comment line above it.

    Assignments at the top of the body and one level into its blocks count; blank lines above are
    skipped, and a code line or an ignored comment (``SETTINGS.CONFIG.IGNORED_COMMENTS``) above ends
    the search. ``seed`` is always documented.
    """
    docs = {"seed": SEED_DOC}
    ignored = [re.compile(p) for p in SETTINGS.CONFIG.IGNORED_COMMENTS]

    def is_ignored(text: str) -> bool:
        return any(p.match(text) for p in ignored)

    def inline(text: str) -> str | None:
        if "#" not in text:
            return None
        try:
            found = [
                t.string
                for t in tokenize.generate_tokens(io.StringIO(text).readline)
                if t.type == tokenize.COMMENT
            ]
        except (tokenize.TokenError, SyntaxError):
            return None
        usable = [c for c in (c[1:].strip() for c in found) if not is_ignored(c)]
        return usable[0] if usable else None

    def doc_for(lineno: int) -> str | None:
        index = lineno - 1
        found = inline(lines[index]) if index < len(lines) else None
        if found is not None:
            return found
        index -= 1
        while index >= 0:
            text = lines[index]
            if text.strip().startswith("#"):
                comment = text.strip("# \t")
                return None if is_ignored(comment) else comment
            if text.strip():
                return None
            index -= 1
        return None

    def add(target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            if target.id not in docs:
                doc = doc_for(target.lineno)
                if doc is not None:
                    docs[target.id] = doc
        elif isinstance(target, ast.Tuple):
            for element in target.elts:
                add(element)

    for root in body:
        for node in [root, *ast.iter_child_nodes(root)]:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    add(target)
    return docs


def evaluate_config_chain(
    config_scopes: Iterable[Any],
    fixed: Mapping[str, Any] | None = None,
    preset: Mapping[str, Any] | None = None,
    fallback: Mapping[str, Any] | None = None,
) -> ConfigSummary:
    """One ingredient's config scopes and dicts evaluated in order, as a single summary.

    The summary holds the final config; its markers are the scopes' merged with
    :meth:`ConfigSummary.update_from`, starting with every fixed leaf as added, so a key stays added
    only while no scope defines it.
    """
    config, summaries = chain_evaluate_config_scopes(config_scopes, fixed, preset, fallback)
    result = ConfigSummary(config, added={key for key, _ in iterate_flattened(fixed or {})})
    for summary in summaries:
        result.update_from(summary)
    return result


def chain_evaluate_config_scopes(
    config_scopes: Iterable[Any],
    fixed: Mapping[str, Any] | None = None,
    preset: Mapping[str, Any] | None = None,
    fallback: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[ConfigSummary]]:
    """Evaluate scopes (and config dicts) in order, each seeing the previous ones' result as presets.

    Returns the final config and the summary of each scope. Without scopes the config is the presets
    with the fixed values over them.

    >>> config, summaries = chain_evaluate_config_scopes([], fixed={"a": 0}, preset={"a": 1, "b": 2})
    >>> config, summaries
    ({'a': 0, 'b': 2}, [])
    """
    fixed = fixed or {}
    final: dict[str, Any] = dict(preset or {})
    summaries: list[ConfigSummary] = []
    for scope in config_scopes:
        summary = scope(fixed=fixed, preset=final, fallback=fallback)
        summaries.append(summary)
        final.update(summary)
    if not summaries:
        final.update(fixed)
    return undogmatize(final), summaries
