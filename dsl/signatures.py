"""Which methods a module serves. A deployed model must not serve `train_step`: any client could change
its weights. So a method that updates trainable variables (directly, through `optimizer.minimize`, or
through a method it calls) is left out of the SavedModel's signatures unless it is marked `@signature`
or named in `--signatures`. The generated class, the exporter and `tfm inspect` all read this one plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from . import nodes as n
from .analysis import Analysis, CallInfo, ModuleInfo, called_methods, outputs_of
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


def signature_plan(analysis: Analysis, module: n.ModuleDef, chosen: Sequence[str] | None = None) -> SignaturePlan:
    """The signatures `module` is exported with: `chosen` methods if given, else every method that does
    not update trainable variables and those marked `@signature`. `serving_default` is the `@serving`
    method if served, else the first served method. A method of several signatures serves each
    (`call_1`, `call_2`); choosing it by name (`call`) chooses them all."""
    updates = variable_updates(analysis, module)
    names = [m.name for m in module.methods]
    if chosen is not None:
        groups = {m.overload for m in module.methods if m.overload is not None}
        unknown = [name for name in chosen if name not in names and name not in groups]
        if unknown:
            shown = dict.fromkeys(m.overload or m.name for m in module.methods)
            raise SignatureChoiceError(f"module {module.name} has no method {', '.join(map(repr, unknown))}; "
                                       f"methods: {', '.join(shown) or 'none'}")
        chosen = [*chosen, *(m.name for m in module.methods if m.overload in chosen)]
        served = [m for m in module.methods if m.name in chosen]
        left_out = {m.name: "not in --signatures" for m in module.methods if m.name not in chosen}
    else:
        served = [m for m in module.methods if m.name not in updates or {"signature", "serving"} & m.attr_names]
        left_out = {name: f"it updates trainable variables ({reason}); mark it @signature or name it in "
                          "--signatures to serve it" for name, reason in updates.items()
                    if name not in {m.name for m in served}}
    marked = [m for m in served if "serving" in m.attr_names]
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


def has_outputs(module: n.ModuleDef, method_name: str) -> bool:
    return any(bool(outputs_of(m)) for m in module.methods if m.name == method_name)
