"""A last check on generated code: parse it back and allow only what the generator may emit.

An allowlist: top-level statements are imports, assignments, functions, classes and docstrings; the
only import is tensorflow; every name read is defined in the module or one of a few builtins.

Names and literals are validated before they reach the generator; this pass is the second lock, so
a slip in the generator (of the kind of CVE-2024-56201 in Jinja2) cannot turn a hostile `.tfm` into
Python that imports, opens files or calls back into arbitrary code.
"""

from __future__ import annotations

import ast

from dsl.diagnostics import InternalError, error
from dsl.nodes import Span

_ALLOWED_IMPORTS = {"tensorflow"}
_FORBIDDEN_NAMES = {"eval", "exec", "compile", "open", "__import__", "getattr", "setattr", "delattr",
                    "globals", "locals", "vars", "input", "breakpoint", "exit", "quit"}
_FORBIDDEN_ATTRS = {"py_function", "numpy_function", "write_file", "gfile", "io", "system", "popen",
                    "__class__", "__subclasses__", "__globals__", "__builtins__", "__code__", "__dict__"}


# The only Python builtins generated code and its runtime helpers read. Anything else must be
# defined in the generated module itself (its classes, helpers, parameters and locals) or is an error.
_ALLOWED_BUILTINS = {"super", "range", "zip", "enumerate", "len", "ValueError"}
_TOP_LEVEL = (ast.Import, ast.Assign, ast.FunctionDef, ast.ClassDef, ast.Expr)


def verify_generated(python: str, file: str) -> None:
    """Raise TfmError (E099, an internal error) if generated code steps outside what tfm emits."""
    try:
        tree = ast.parse(python)
    except SyntaxError as exc:
        _fail(file, f"generated code does not parse: {exc.msg} (generated line {exc.lineno})")
    for statement in tree.body:
        if not isinstance(statement, _TOP_LEVEL):
            _fail(file, f"generated code has a top-level {type(statement).__name__} "
                        f"(generated line {statement.lineno})")
    defined = _defined_names(tree)
    for node in ast.walk(tree):
        problem = _problem(node) or _undefined(node, defined)
        if problem:
            _fail(file, f"generated code {problem} (generated line {getattr(node, 'lineno', '?')})")


def _defined_names(tree: ast.Module) -> set[str]:
    """Every name the module binds anywhere: imports, classes, functions, parameters, assignments."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name)
    return names


def _undefined(node: ast.AST, defined: set[str]) -> str | None:
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        if node.id not in defined and node.id not in _ALLOWED_BUILTINS:
            return f"reads `{node.id}`, which it neither defines nor may use"
    return None


def _problem(node: ast.AST) -> str | None:
    if isinstance(node, ast.Import):
        names = {a.name for a in node.names}
        if not names <= _ALLOWED_IMPORTS:
            return f"imports {', '.join(sorted(names - _ALLOWED_IMPORTS))}"
    if isinstance(node, ast.ImportFrom):
        return f"imports from {node.module}"
    if isinstance(node, ast.Name) and node.id in _FORBIDDEN_NAMES:
        return f"uses `{node.id}`"
    if isinstance(node, ast.Attribute) and node.attr in _FORBIDDEN_ATTRS:
        return f"uses `.{node.attr}`"
    if isinstance(node, (ast.Global, ast.Nonlocal, ast.Lambda, ast.Delete, ast.AsyncFunctionDef, ast.Await)):
        return f"contains `{type(node).__name__}`"
    return None


def _fail(file: str, message: str) -> None:
    span = Span(file=file, line=1, column=1, end_line=1, end_column=1)
    raise InternalError([error("E099", span, message, "this is a bug in tfm; please report it with the source")])
