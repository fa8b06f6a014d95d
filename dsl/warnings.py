"""Warnings: what is legal but probably a mistake. They never stop a compile; `tfm check --werror`
makes them errors. Reported for the program's own modules only (not the library or imports).

W001 a local assigned but never read          W004 code after `return`, `break` or `continue`
W002 a method input never read                 W005 a `state` no method updates (a constant would do)
W003 a variable no method uses                 W006 a name that hides an op or a module member
W007 a `var` no gradient reaches, in a module that trains with an optimizer
W008 a gradient source its target does not depend on (its gradient is None)
"""

from __future__ import annotations

from . import nodes as n
from .analysis import Analysis, ModuleInfo, called_methods, walk
from .diagnostics import Diagnostic
from .gradients import unreached_sources
from .ops import OPS
from .ops.names import VARIABLE_UPDATES

CODES = {
    "W001": "local assigned but never read",
    "W002": "method input never read",
    "W003": "variable no method uses",
    "W004": "unreachable code",
    "W005": "state no method updates",
    "W006": "name hides an op or a module member",
    "W007": "variable no gradient reaches",
    "W008": "gradient source the target does not depend on",
}


def find_warnings(analysis: Analysis) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for module in analysis.program.modules:
        info = analysis.modules.get(module.name)
        if info is None or info.decl is not module:
            continue
        used, updated = set(), set()
        bodies = {method.name: analysis.body_nodes(method) for method in module.methods}
        for method in module.methods:
            found += _method_warnings(analysis, info, method, bodies[method.name])
            found += [_warning("W008", *problem) for problem in unreached_sources(analysis, info, method)]
            _variable_uses(analysis, info, bodies[method.name], used, updated)
        for var in module.variables:
            if var.name not in used and var.name not in updated:
                found.append(_warning("W003", var, f"variable `{var.name}` is not used by any method",
                                      "remove it, or read it in a method"))
            elif not var.trainable and var.name not in updated:
                found.append(_warning("W005", var, f"state `{var.name}` is never updated by any method",
                                      "a constant would do: a literal, or an `int`/`float` constructor parameter"))
        found += _untrained(analysis, info, module, used, bodies)
    return found


def _untrained(analysis: Analysis, info: ModuleInfo, module: n.ModuleDef, used: set[str],
               bodies: dict[str, tuple[n.Node, ...]]) -> list[Diagnostic]:
    """W007: the module trains (a method calls `optimizer.minimize`) but a `var` it uses is read
    under no gradient tape, directly or through the methods called there: no step changes it."""
    nodes = [node for body in bodies.values() for node in body]
    trains = any(isinstance(node, n.Call) and (call := analysis.calls.get(node)) is not None
                 and call.kind in ("optimizer_minimize", "optimizer_apply") for node in nodes)
    if not trains:
        return []
    reached: set[str] = set()
    for tape in (node for node in nodes if isinstance(node, n.With) and node.name is not None):
        _reads(analysis, info, tape.body, reached, set())
    return [_warning("W007", var, f"variable `{var.name}` is trained by no gradient: no method reads it under "
                     "a GradientTape", "make it a `state` if it should not be trained, or use it in the loss")
            for var in module.variables if var.trainable and var.name in used and var.name not in reached]


def _reads(analysis: Analysis, info: ModuleInfo, body, reached: set[str], seen: set[str]) -> None:
    for node in walk(body):
        ref = analysis.refs.get(node)
        if ref is not None and ref.kind == "variable" and isinstance(ref.decl, n.VarDecl):
            reached.add(ref.decl.name)
        if not isinstance(node, n.Call):
            continue
        call = analysis.calls.get(node)
        if call is not None and call.kind == "self_method":
            for _, method in called_methods(analysis, info, node, call):
                if method.name not in seen:
                    seen.add(method.name)
                    _reads(analysis, info, method.body, reached, seen)


def _warning(code: str, node: n.Node, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code=code, severity="warning", span=node.span, message=message, hint=hint)


def _method_warnings(analysis: Analysis, info: ModuleInfo, method: n.Method,
                     nodes: tuple[n.Node, ...]) -> list[Diagnostic]:
    """W001, W002 from what each read refers to (`refs`: an input, or a local's first binding), W006
    from the names assigned, W004 from the statements' order."""
    found: list[Diagnostic] = []
    read = {id(ref.decl) for node in nodes if (ref := analysis.refs.get(node)) is not None and ref.decl is not None}
    definitions = analysis.local_definitions.get(method, {})
    reported: set[str] = set()
    for stmt in nodes:
        targets: tuple[tuple[str, n.Node], ...] = ((stmt.target, stmt),) if isinstance(stmt, n.Assign) else \
            tuple((t.text, t) for t in stmt.targets if t.text != "_") if isinstance(stmt, n.Unpack) else ()
        for target, where in targets:
            if target in reported:
                continue
            reported.add(target)
            defined = definitions.get(target)  # this binding, or the input it rebinds
            if (defined is where or isinstance(defined, n.MethodInput)) and id(defined) not in read:
                hint = ("remove the assignment, or use the value" if isinstance(stmt, n.Assign)
                        else "name it `_` to skip it, or use the value")
                found.append(_warning("W001", where, f"`{target}` is assigned but never read", hint))
            if not isinstance(defined, n.MethodInput):
                found += _shadowing(info, where, target, "local")
    for inp in method.inputs:
        if id(inp) not in read:
            found.append(_warning("W002", inp, f"input `{inp.name}` of `{method.name}` is never read",
                                  "remove it from the signature, or use it"))
        found += _shadowing(info, inp, inp.name, "input")
    found += _unreachable(method.body)
    return found


def _shadowing(info: ModuleInfo, node: n.Node, name: str, what: str) -> list[Diagnostic]:
    member = info.member(name)
    if member is not None:
        kind = type(member).__name__.replace("Decl", "").replace("ModuleParam", "constructor parameter").lower()
        return [_warning("W006", node, f"{what} `{name}` hides the module's {kind} `{name}`",
                         "rename it: inside this method the name no longer means the member")]
    if name in OPS:
        return [_warning("W006", node, f"{what} `{name}` hides the op `{name}`",
                         f"rename it: `{name}(...)` cannot be called in this method any more")]
    return []


def _unreachable(body: tuple) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for index, stmt in enumerate(body):
        if isinstance(stmt, (n.Return, n.Break, n.Continue)) and index + 1 < len(body):
            word = {n.Return: "return", n.Break: "break", n.Continue: "continue"}[type(stmt)]
            found.append(_warning("W004", body[index + 1], f"this never runs: it follows `{word}`",
                                  "remove it, or move it before"))
            break
    for stmt in body:
        for child in ("body", "orelse"):
            nested = getattr(stmt, child, None)
            if isinstance(nested, tuple) and nested and not isinstance(stmt, n.IfExp):
                found += _unreachable(nested)
    return found


def _variable_uses(analysis: Analysis, info: ModuleInfo, nodes: tuple[n.Node, ...], used: set,
                   updated: set) -> None:
    for node in nodes:
        ref = analysis.refs.get(node)
        if ref is not None and ref.kind == "variable" and isinstance(ref.decl, n.VarDecl):
            (updated if isinstance(node, n.AugAssign) else used).add(ref.decl.name)
        call = analysis.calls.get(node) if isinstance(node, n.Call) else None
        if call is not None and call.kind == "value_method" and call.receiver in info.variables:
            (updated if call.method in VARIABLE_UPDATES else used).add(call.receiver)
        if call is not None and call.kind in ("optimizer_minimize", "optimizer_apply"):
            updated.update(name for name, var in info.variables.items() if var.trainable)
