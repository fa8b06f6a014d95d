"""Rules shared by the module and body checkers: reserved names, suggestions, argument lists."""

from __future__ import annotations

import difflib
import keyword
from typing import Iterable

from . import nodes as n
from .diagnostics import Diagnostic, error

METHOD_ATTRS = {"serving": "make this method the SavedModel's serving_default signature",
                "jit": "compile this method with XLA (tf.function(jit_compile=True))"}

# Names generated code relies on, and tf.Module's own attributes: a declaration may not take them.
RESERVED = frozenset({"self", "tf", "np", "super", "range", "name", "name_scope", "variables",
                      "trainable_variables", "non_trainable_variables", "submodules", "with_name_scope"})


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.7)
    return f"did you mean `{matches[0]}`?" if matches else None


def duplicate(name: str, what: str, span: n.Span, first: n.Span) -> Diagnostic:
    return error("E011", span, f"duplicate {what} `{name}`", f"first declared at line {first.line}")


def check_declared_name(out: list[Diagnostic], name: str, span: n.Span, what: str) -> None:
    if name.startswith("_"):
        out.append(error("E014", span, f"{what} name `{name}` starts with an underscore",
                         "names starting with `_` are reserved for generated code"))
    elif keyword.iskeyword(name) or keyword.issoftkeyword(name):
        out.append(error("E014", span, f"`{name}` is a Python keyword and cannot name a {what}",
                         f"choose another name, e.g. `{name}_value`"))
    elif name in RESERVED:
        out.append(error("E014", span, f"`{name}` is reserved and cannot name a {what}",
                         f"choose another name, e.g. `{name}_value`"))
    elif not name.isascii():
        out.append(error("E014", span, f"{what} name `{name}` is not ASCII", "use ASCII letters, digits and `_`"))


def check_call_shape(err, node: n.Node, what: str, params: list[tuple[str, bool]],
                 args: tuple, keywords: tuple, variadic: bool = False) -> None:
    """Arity and keyword names, for ops, methods and module constructors alike."""
    names = [p for p, _ in params]
    if len(args) > len(params) and not variadic:
        err("E020", node, f"`{what}` takes at most {len(params)} positional argument"
                 f"{'s' if len(params) != 1 else ''}, got {len(args)}",
                 f"parameters: {', '.join(names) or 'none'}")
    given = set(names[: len(args)])
    for kw in keywords:
        if kw.name not in names:
            err("E021", kw, f"`{what}` has no parameter `{kw.name}`",
                     suggest(kw.name, names) or f"parameters: {', '.join(names) or 'none'}")
        elif kw.name in given:
            err("E020", kw, f"`{kw.name}` is given twice", "pass it by position or by name, not both")
        given.add(kw.name)
    missing = [p for p, required in params if required and p not in given]
    if missing:
        err("E020", node, f"`{what}` is missing argument{'s' if len(missing) > 1 else ''} "
                 f"{', '.join(f'`{m}`' for m in missing)}", f"parameters: {', '.join(names)}")
