"""Names: which names a declaration may take (reserved, generated, members), `did you mean` suggestions,
and argument lists checked by name (arity, unknown and repeated keywords). Shared by the module and body checkers."""

from __future__ import annotations

import keyword
from typing import Iterable

from . import nodes as n
from .diagnostics import Report

METHOD_ATTRS = {"serving": "make this method the SavedModel's serving_default signature",
                "jit": "compile this method with XLA (tf.function(jit_compile=True))",
                "signature": "export this method as a SavedModel signature even though it updates trainable variables"}

# The two names generated Python uses that a .tfm name could otherwise take; every other generated
# name starts with `_`, which no .tfm name may.
GENERATED_NAMES = frozenset({"self", "tf"})

# Attributes a module's members (parameters, variables, submodules, methods) would overwrite: tf.Module's
# public API, and the attribute SavedModel reserves. tests/codegen/test_names.py checks this against TensorFlow.
MODULE_ATTRIBUTES = frozenset({"name", "name_scope", "non_trainable_variables", "submodules",
                               "trainable_variables", "variables", "with_name_scope", "signatures"})
MEMBER_KINDS = frozenset({"parameter", "variable", "submodule", "method"})

# Builtins AutoGraph's converted code reads inside a method (`dict(...)` carries keyword arguments of
# every converted call), so a method's own names must not hide them. tests/codegen/test_names.py finds these.
AUTOGRAPH_BUILTINS = frozenset({"dict", "tuple"})
METHOD_SCOPE_KINDS = frozenset({"input", "local"})


_SUGGESTION_POOL = 500


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """`did you mean ...?` for the closest candidate. Only candidates of about the same length are
    compared, at most _SUGGESTION_POOL of them (sharing the first letter first): a scope of 20,000
    names must not make each unknown name cost a second."""
    slack = max(2, len(name) // 3)
    near = [c for c in dict.fromkeys(candidates) if abs(len(c) - len(name)) <= slack]
    pool = ([c for c in near if c[:1] == name[:1]] + [c for c in near if c[:1] != name[:1]])[:_SUGGESTION_POOL]
    import difflib  # only when a name is wrong: importing it is 2 ms of every start

    matches = difflib.get_close_matches(name, pool, n=1, cutoff=0.7)
    return f"did you mean `{matches[0]}`?" if matches else None


def report_duplicate(report: Report, name: str, what: str, where: n.Node, first: n.Node) -> None:
    """E011 for a second declaration of `name` (a module, member, input, output), at `where`."""
    report("E011", where, f"duplicate {what} `{name}`", f"first declared at line {first.span.line}")


def check_declared_name(report: Report, name: str, where: n.Node | n.Span, what: str) -> None:
    problem = name_problem(name, what)
    if problem:
        report("E014", where, *problem)


def name_problem(name: str, what: str) -> tuple[str, str] | None:
    """(message, hint) if `name` cannot name a `what` (module, parameter, variable, local, ...)."""
    if not name.isascii():
        return f"{what} name `{name}` is not ASCII", "use ASCII letters, digits and `_`"
    if name.startswith("_"):
        return f"{what} name `{name}` starts with an underscore", "names starting with `_` belong to generated code"
    if "__" in name:
        return (f"{what} name `{name}` contains a double underscore",
                "names with `__` belong to Python and AutoGraph; use a single `_`")
    if keyword.iskeyword(name):
        return f"`{name}` is a Python keyword and cannot name a {what}", f"choose another name, e.g. `{name}_value`"
    if name in GENERATED_NAMES:
        return (f"`{name}` names the generated Python's own {'module' if name == 'tf' else 'instance'} and cannot "
                f"name a {what}", f"choose another name, e.g. `{name}_value`")
    if what in METHOD_SCOPE_KINDS and name in AUTOGRAPH_BUILTINS:
        return (f"`{name}` cannot name a {what}: AutoGraph's converted method code calls `{name}(...)`",
                f"choose another name, e.g. `{name}_value`")
    if what in MEMBER_KINDS and name in MODULE_ATTRIBUTES:
        return (f"`{name}` is an attribute every tf.Module has and cannot name a {what}",
                f"choose another name, e.g. `{name}_value`")
    return None


def check_call_shape(report: Report, node: n.Node, what: str, params: list[tuple[str, bool]],
                     args: tuple, keywords: tuple, variadic: bool = False) -> None:
    """Arity and keyword names, for ops, methods and module constructors alike."""
    names = [p for p, _ in params]
    if len(args) > len(params) and not variadic:
        report("E020", node, f"`{what}` takes at most {len(params)} positional argument"
               f"{'s' if len(params) != 1 else ''}, got {len(args)}",
               f"parameters: {', '.join(names) or 'none'}")
    given = set(names[: len(args)])
    for kw in keywords:
        if kw.name not in names:
            report("E021", kw, f"`{what}` has no parameter `{kw.name}`",
                   suggest(kw.name, names) or f"parameters: {', '.join(names) or 'none'}")
        elif kw.name in given:
            report("E020", kw, f"`{kw.name}` is given twice", "pass it by position or by name, not both")
        given.add(kw.name)
    missing = [p for p, required in params if required and p not in given]
    if missing:
        report("E020", node, f"`{what}` is missing argument{'s' if len(missing) > 1 else ''} "
               f"{', '.join(f'`{m}`' for m in missing)}", f"parameters: {', '.join(names)}")
