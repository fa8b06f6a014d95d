"""Which methods a module serves. A deployed model must not serve `train_step`: any client could change
its weights. The rule, read by the generated class, the exporter and `tfm inspect` alike:

- a module with a method marked `@serving` serves that method (its `serving_default`);
- else every method that neither trains (updates trainable variables, directly, through
  `optimizer.minimize`, or through a method it calls) nor takes labels (an input that reaches the labels
  argument of a loss op, like `categorical_crossentropy(y, logits)`): those need a label to run, which
  a deployed model never has;
- and in both cases the methods marked `@signature`, and those named in `--signatures`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from . import nodes as n
from .analysis import Analysis, CallInfo, ModuleInfo, bind_arguments, called_methods, outputs_of, walk
from .ops.names import VARIABLE_UPDATES
from .members import member_variable

SERVING_KEY = "serving_default"


class SignatureChoiceError(ValueError):
    """The signatures asked for cannot be served (an unknown method, or none at all)."""


@dataclass(frozen=True)
class SignaturePlan:
    """Signature key -> method name (`serving_default` first), and each method left out with why."""

    signatures: dict[str, str]
    left_out: dict[str, str] = field(default_factory=dict)

    @property
    def serving(self) -> str | None:
        return self.signatures.get(SERVING_KEY)


def variable_updates(analysis: Analysis, module: n.ModuleDef) -> dict[str, str]:
    """Each method of `module` that updates a trainable variable, with how (for messages)."""
    found: dict[str, str] = {}
    for method in module.methods:
        reason = _update_in(analysis, module, method, set())
        if reason is not None:
            found[method.name] = reason
    return found


def _update_in(analysis: Analysis, module: n.ModuleDef, method: n.Method, seen: set[tuple[str, str]]) -> str | None:
    """How `method` updates a trainable variable, or None."""
    def direct(call: CallInfo, info: ModuleInfo) -> str | None:
        if call.kind in ("optimizer_minimize", "optimizer_apply"):
            return f"it calls `{call.receiver}.{call.method}`"
        if call.kind == "value_method" and call.method in VARIABLE_UPDATES:
            variable = info.variables.get(call.receiver or "") or member_variable(analysis, info, call.receiver or "")
            if variable is not None and variable.trainable:
                return f"it calls `{call.receiver}.{call.method}` on a trainable variable"
        return None

    def through(call: CallInfo, _found: str) -> str:
        label = call.method if call.kind == "self_method" else f"{call.receiver}.{call.method}"
        return f"it calls `{label}`, which updates trainable variables"

    return _first_call(analysis, module, method, direct, through, seen)


def random_op_in(analysis: Analysis, module: n.ModuleDef, method: n.Method) -> str | None:
    """The first random op (`dropout`, `random_normal`, ...) `method` runs, directly or through the
    methods it calls, else None: such a method's outputs differ from call to call, so an export can
    compare only their types and shapes."""
    def direct(call: CallInfo, _info: ModuleInfo) -> str | None:
        op = call.op
        return op.name if call.kind == "op" and op is not None and "random" in op.effects else None

    return _first_call(analysis, module, method, direct, lambda _call, found: found, set())


def _first_call(analysis: Analysis, module: n.ModuleDef, method: n.Method,
                direct: Callable[[CallInfo, ModuleInfo], str | None], through: Callable[[CallInfo, str], str],
                seen: set[tuple[str, str]]) -> str | None:
    """The first answer `direct(call, module info)` gives for a call in `method`, or, for a call of
    another method (its own or a submodule's) where one is found, `through(call, that answer)`.
    `seen` stops at methods already visited (methods do not recurse, but a search must end)."""
    if (module.name, method.name) in seen:
        return None
    seen.add((module.name, method.name))
    info = analysis.modules[module.name]
    for node in analysis.body_nodes(method):
        if not isinstance(node, n.Call):
            continue
        call = analysis.calls.get(node)
        if call is None:
            continue
        found = direct(call, info)
        if found is not None:
            return found
        for target in called_methods(analysis, info, node, call):
            found = _first_call(analysis, *target, direct, through, seen)
            if found is not None:
                return through(call, found)
    return None


def label_inputs(analysis: Analysis, module: n.ModuleDef, method: n.Method) -> dict[str, str]:
    """Each input of `method` that reaches the labels (first) argument of a loss op, directly, through
    the locals it is assigned to, or through a method it is passed to; with how, for messages."""
    return _label_inputs(analysis, module, method, frozenset())


def _label_inputs(analysis: Analysis, module: n.ModuleDef, method: n.Method,
                  seen: frozenset[tuple[str, str]]) -> dict[str, str]:
    if (module.name, method.name) in seen:
        return {}
    seen = seen | {(module.name, method.name)}
    info = analysis.modules[module.name]
    inputs = {i.name for i in method.inputs}
    assigned: dict[str, list[n.Node]] = {}
    for node in analysis.body_nodes(method):
        if isinstance(node, (n.Assign, n.AugAssign)):
            assigned.setdefault(node.target, []).append(node.value)
    found: dict[str, str] = {}
    for node in analysis.body_nodes(method):
        call = analysis.calls.get(node) if isinstance(node, n.Call) else None
        if call is None or not isinstance(node, n.Call):
            continue
        if call.kind == "op" and call.op is not None and call.op.category == "loss" and call.op.params:
            labels = call.op.params[0].name
            argument = bind_arguments([p.name for p in call.op.params], node.args, node.keywords).get(labels)
            for name in _input_sources(argument, assigned, inputs):
                found.setdefault(name, f"its input `{name}` is the {labels} of `{call.op.name}` "
                                       f"(line {node.span.line})")
            continue
        for owner, callee in called_methods(analysis, info, node, call):
            bound = bind_arguments([i.name for i in callee.inputs], node.args, node.keywords)
            for param, how in _label_inputs(analysis, owner, callee, seen).items():
                for name in _input_sources(bound.get(param), assigned, inputs):
                    found.setdefault(name, f"its input `{name}` is passed to `{call.method}`, where {how}")
    return found


def _input_sources(expr: n.Node | None, assigned: dict[str, list[n.Node]], inputs: set[str]) -> list[str]:
    """The method inputs `expr` is computed from, following the locals it reads to their assignments."""
    found: list[str] = []
    pending, visited = [expr] if expr is not None else [], set()
    while pending:
        for node in walk(pending.pop()):
            if not isinstance(node, n.Name) or node.id in visited:
                continue
            visited.add(node.id)
            if node.id in assigned:
                pending.extend(assigned[node.id])
            elif node.id in inputs:
                found.append(node.id)
    return found


def signature_plan(analysis: Analysis, module: n.ModuleDef, chosen: Sequence[str] | None = None) -> SignaturePlan:
    """The signatures `module` is exported with (the rule is this module's docstring), plus the
    `chosen` methods. `serving_default` is the `@serving` method, else the first served method. A
    method of several signatures serves each (`call_1`, `call_2`); choosing it by name (`call`)
    chooses them all."""
    asked = _chosen_methods(module, chosen or ())
    marked = [m for m in module.methods if "serving" in m.attr_names]
    left_out: dict[str, str] = {}
    served = []
    updates = variable_updates(analysis, module)
    for method in module.methods:
        why = _why_not_served(analysis, module, method, marked, updates)
        if why is None or method.name in asked or "signature" in method.attr_names:
            served.append(method)
        else:
            left_out[method.name] = why
    serving = marked[0] if marked else (served[0] if served else None)
    signatures = {SERVING_KEY: serving.name} if serving is not None else {}
    for method in served:
        if method is serving:
            continue
        if method.name == SERVING_KEY:  # the checker reports this; never let it take the serving key
            left_out[method.name] = f"`{SERVING_KEY}` is the key of the serving method's signature"
            continue
        signatures[method.name] = method.name
    return SignaturePlan(signatures=signatures, left_out=left_out)


def _chosen_methods(module: n.ModuleDef, chosen: Sequence[str]) -> set[str]:
    """The methods named in `chosen` (a method of several signatures by its name: all of them)."""
    names = [m.name for m in module.methods]
    groups = {m.overload for m in module.methods if m.overload is not None}
    unknown = [name for name in chosen if name not in names and name not in groups]
    if unknown:
        shown = dict.fromkeys(m.overload or m.name for m in module.methods)
        raise SignatureChoiceError(f"module {module.name} has no method {', '.join(map(repr, unknown))}; "
                                   f"methods: {', '.join(shown) or 'none'}")
    return {*chosen, *(m.name for m in module.methods if m.overload in chosen)}


def _why_not_served(analysis: Analysis, module: n.ModuleDef, method: n.Method, marked: list[n.Method],
                    updates: dict[str, str]) -> str | None:
    """Why the default rule leaves `method` out, or None if it serves it."""
    ask = "mark it @signature or name it in --signatures to serve it"
    serving = (marked[0].overload or marked[0].name) if marked else None
    if serving is not None and (method.overload or method.name) == serving:
        return None  # the @serving method (each signature of it), even if it updates variables
    if method.name in updates:
        return f"it updates trainable variables ({updates[method.name]}); {ask}"
    if serving is not None:
        return f"only the @serving method ({serving}) is served by default; {ask}"
    labels = label_inputs(analysis, module, method)
    if labels:
        return f"it takes labels ({next(iter(labels.values()))}); {ask}"
    return None


def has_outputs(module: n.ModuleDef, method_name: str) -> bool:
    return any(bool(outputs_of(m)) for m in module.methods if m.name == method_name)
