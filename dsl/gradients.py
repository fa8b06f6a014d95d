"""The checks of gradient calls, before any type is known: what a gradient may be taken with respect to
(`tape.gradient(target, sources)`), which inputs and locals a tape must watch, a tape that is not
persistent used twice, and the optimizer calls (`minimize(loss, tape, var_list=...)`,
`apply_gradients(grads, vars)`). dsl.body_checker calls these for the calls it resolves to them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import nodes as n
from .analysis import Analysis, CallInfo, ModuleInfo, is_call_to, walk
from .members import TRAINABLE_VARIABLES, Member, MemberProblem, resolve_member
from .names import check_call_shape

if TYPE_CHECKING:
    from .body_checker import BodyChecker

# `unconnected_gradients=`: what a source no gradient reaches gets (TensorFlow's tf.UnconnectedGradients).
UNCONNECTED = ("none", "zero")
OPTIMIZER_METHODS = ("minimize", "apply_gradients")
_SOURCES_HINT = ("take it with respect to a variable (`w`, `dense.kernel`), a list of them (`[w, b]`), "
                 f"`sub.{TRAINABLE_VARIABLES}`, or an input or local the tape watches")


def check_gradient(checker: BodyChecker, call: n.Call, tape: str) -> CallInfo:
    """`tape.gradient(target, sources, unconnected_gradients="none")`."""
    check_call_shape(checker.report, call, f"{tape}.gradient",
                     [("target", True), ("sources", True), ("unconnected_gradients", False)],
                     call.args, call.keywords)
    sources = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.name == "sources"), None)
    if sources is not None:
        for source in (sources.items if isinstance(sources, n.ListLit) else (sources,)):
            _check_source(checker, source, tape, in_list=isinstance(sources, n.ListLit))
    unconnected = next((k.value for k in call.keywords if k.name == "unconnected_gradients"), None)
    if unconnected is not None and not (isinstance(unconnected, n.StringLit) and unconnected.value in UNCONNECTED):
        checker.report("E023", unconnected, '`unconnected_gradients` is "none" or "zero"',
                       'write `unconnected_gradients="zero"` for a zero gradient where none flows')
    _check_tape_reuse(checker, call, tape)
    return CallInfo(kind="tape_gradient", method="gradient", receiver=tape)


def _check_source(checker: BodyChecker, source: n.Node, tape: str, in_list: bool) -> None:
    if isinstance(source, n.Attribute):
        try:
            member = resolve_member(checker.analysis, checker.info, source)
        except MemberProblem:
            return  # reported when the argument itself is checked
        if member is not None and (member.kind == "variable" or member.kind == TRAINABLE_VARIABLES and not in_list):
            return
        if member is not None and member.kind == TRAINABLE_VARIABLES:
            checker.report("E023", source, f"`{member.dotted}` is a list: it cannot be an item of a list of sources",
                           f"pass it alone: `{tape}.gradient(loss, {member.dotted})`")
            return
    elif isinstance(source, n.Name):
        ref = checker.resolve(source.id)
        if ref is None:
            return  # an unknown name: reported when the argument is checked
        if ref.kind == "variable":
            return
        if ref.kind in ("input", "local"):
            _check_watched(checker, source, tape)
            return
    checker.report("E023", source, "a gradient is taken with respect to a variable or a watched tensor, not an "
                   "expression" if not isinstance(source, n.Name) else
                   f"no gradient can be taken with respect to `{source.id}`", _SOURCES_HINT)


def _tapes(checker: BodyChecker, tape: str) -> list[n.With]:
    return [s for s in walk(checker.method.body) if isinstance(s, n.With) and s.name == tape
            and is_call_to(s.context, "GradientTape")]


def _check_watched(checker: BodyChecker, source: n.Name, tape: str) -> None:
    """A tape records operations on variables by itself; an input or a local computed before the tape
    opened is recorded only once `tape.watch(x)` is called under it (else its gradient is None)."""
    for block in _tapes(checker, tape):
        inside = walk(block.body)
        if any(isinstance(s, (n.Assign, n.AugAssign, n.For)) and s.target == source.id for s in inside):
            return  # computed under the tape
        if any(_is_watch(s, tape, source.id) for s in inside):
            return
    checker.report("E023", source, f"`{tape}` does not watch `{source.id}`: its gradient would be None",
                   f"call `{tape}.watch({source.id})` under `with GradientTape() as {tape}:` before "
                   f"computing the target from `{source.id}`")


def _is_watch(node: n.Node, tape: str, name: str) -> bool:
    if not (isinstance(node, n.Call) and isinstance(node.func, n.Attribute) and node.func.attr == "watch"):
        return False
    receiver = node.func.value
    return (isinstance(receiver, n.Name) and receiver.id == tape and len(node.args) == 1
            and isinstance(node.args[0], n.Name) and node.args[0].id == name)


def persistent(block: n.With) -> bool:
    """`with GradientTape(persistent=True) as tape:`: the tape gives any number of gradients."""
    call = block.context
    assert isinstance(call, n.Call)
    values = [*call.args[:1], *(k.value for k in call.keywords if k.name == "persistent")]
    # a `bool` parameter may make it persistent: only a literal False (or none) says it is not
    return any(not isinstance(v, n.BoolLit) or v.value for v in values)


def _check_tape_reuse(checker: BodyChecker, call: n.Call, tape: str) -> None:
    """A tape that is not persistent releases what it recorded at its first gradient: a second one fails
    when run. Reported at every use after the first, in the order they are written."""
    blocks = _tapes(checker, tape)
    if not blocks or any(persistent(b) for b in blocks) or len(blocks) > 1:
        return  # a name opened by several `with`s: each its own tape
    uses = [node for node in walk(checker.method.body) if _uses_tape(node, tape)]
    unrolled = next((loop for loop in walk(checker.method.body) if isinstance(loop, n.For) and loop.static
                     and any(node is call for node in walk(loop.body))
                     and not any(node is blocks[0] for node in walk(loop.body))), None)
    if unrolled is not None:
        checker.report("E031", call, f"`{tape}` is opened before this `static for`, which takes a gradient from "
                       "it on every pass; a tape that is not persistent gives one",
                       f"open the tape inside the loop, or as `with GradientTape(persistent=True) as {tape}:`")
    elif uses and uses[0] is not call and any(node is call for node in uses):
        first = uses[0].span
        checker.report("E031", call, f"`{tape}` has given a gradient already (at {first.line}:{first.column}); a tape "
                       "that is not persistent gives one", f"open it as `with GradientTape(persistent=True) as "
                       f"{tape}:` to take several gradients from it")


def _uses_tape(node: n.Node, tape: str) -> bool:
    """A call that takes a gradient from `tape`: `tape.gradient(...)`, or `opt.minimize(loss, tape)`."""
    if not isinstance(node, n.Call) or not isinstance(node.func, n.Attribute):
        return False
    receiver = node.func.value
    if node.func.attr == "gradient":
        return isinstance(receiver, n.Name) and receiver.id == tape
    taken = node.args[1] if node.func.attr == "minimize" and len(node.args) > 1 else None
    return isinstance(taken, n.Name) and taken.id == tape


def check_optimizer_call(checker: BodyChecker, call: n.Call, optimizer: str, method: str) -> CallInfo | None:
    """`opt.minimize(loss, tape, var_list=...)` or `opt.apply_gradients(grads, vars)`."""
    if method not in OPTIMIZER_METHODS:
        checker.report("E030", call, f"optimizer `{optimizer}` has no method `{method}`",
                       f"write `{optimizer}.minimize(loss, tape)` or `{optimizer}.apply_gradients(grads, vars)`")
        return None
    if method == "apply_gradients":
        check_call_shape(checker.report, call, f"{optimizer}.apply_gradients", [("grads", True), ("var_list", True)],
                         call.args, call.keywords)
        variables = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords
                                                                  if k.name == "var_list"), None)
        if variables is not None:
            _check_var_list(checker, variables)
        return CallInfo(kind="optimizer_apply", method=method, receiver=optimizer)
    check_call_shape(checker.report, call, f"{optimizer}.minimize", [("loss", True), ("tape", True), ("var_list", False)],
                     call.args, call.keywords)
    tape = call.args[1] if len(call.args) > 1 else None
    if tape is not None and not (isinstance(tape, n.Name) and checker.locals.get(tape.id) == "tape"):
        checker.report("E023", tape, "the second argument of `minimize` is a gradient tape",
                       "compute the loss under `with GradientTape() as tape:` and pass `tape`")
    elif tape is not None:
        _check_tape_reuse(checker, call, tape.id)
    variables = next((k.value for k in call.keywords if k.name == "var_list"), None)
    if variables is not None:
        _check_var_list(checker, variables)
    return CallInfo(kind="optimizer_minimize", method=method, receiver=optimizer)


def _check_var_list(checker: BodyChecker, node: n.Node) -> None:
    """What an optimizer updates: variables, a list of them, or a submodule's `trainable_variables`."""
    items = node.items if isinstance(node, n.ListLit) else (node,)
    for item in items:
        if isinstance(item, n.Name) and (ref := checker.resolve(item.id)) is not None and ref.kind == "variable":
            continue
        if isinstance(item, n.Attribute):
            try:
                member = resolve_member(checker.analysis, checker.info, item)
            except MemberProblem:
                continue  # reported when the argument itself is checked
            if member is not None and (member.kind == "variable" or member.kind == TRAINABLE_VARIABLES
                                       and item is node):
                continue
        if isinstance(item, n.Name) and checker.resolve(item.id) is None:
            continue  # an unknown name: reported when the argument is checked
        checker.report("E023", item, "an optimizer updates variables: a variable, a list of them, or "
                       f"`sub.{TRAINABLE_VARIABLES}`", f"e.g. `var_list=generator.{TRAINABLE_VARIABLES}`")


# W008: a gradient source the target does not depend on --------------------------------------------

class _Reached:
    """What a gradient's target depends on, flow-insensitively (so never too little): the method's
    names, the module's variables and the submodules it reads or calls."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.variables: set[str] = set()
        self.submodules: set[str] = set()


def unreached_sources(analysis: Analysis, info: ModuleInfo, method: n.Method) -> list[tuple[n.Node, str, str]]:
    """(source, message, hint) for each source of a `tape.gradient` in `method` that its target cannot
    depend on: its gradient is None (or zeros, when the call asks for them, and then nothing is said)."""
    found = []
    for call in analysis.body_nodes(method):
        if not isinstance(call, n.Call) or len(call.args) < 2 or _asks_zeros(call):
            continue
        taken = analysis.calls.get(call)
        if taken is None or taken.kind != "tape_gradient":
            continue
        reached = _Reached()
        _depends(analysis, info, method, call.args[0], reached, set())
        sources = call.args[1]
        for source in (sources.items if isinstance(sources, n.ListLit) else (sources,)):
            if not _is_reached(analysis, source, reached):
                shown = _shown(source)
                found.append((source, f"no gradient reaches `{shown}` from the target: its gradient is None",
                              f'compute the target from `{shown}`, or pass `unconnected_gradients="zero"` '
                              "for a zero gradient"))
    return found


def _asks_zeros(call: n.Call) -> bool:
    return any(k.name == "unconnected_gradients" and isinstance(k.value, n.StringLit) and k.value.value == "zero"
               for k in call.keywords)


def _shown(node: n.Node) -> str:
    if isinstance(node, n.Name):
        return node.id
    if isinstance(node, n.Attribute):
        return f"{_shown(node.value)}.{node.attr}"
    return "this source"


def _depends(analysis: Analysis, info: ModuleInfo, method: n.Method, expr: n.Node, reached: _Reached,
             seen: set[str]) -> None:
    """Add what `expr` reads to `reached`; a local's every binding in `method` counts."""
    for node in walk(expr):
        ref = analysis.refs.get(node)
        if isinstance(node, n.Name) and ref is not None and ref.kind in ("input", "local", "array") and node.id not in seen:
            seen.add(node.id)
            reached.names.add(node.id)
            for stmt in analysis.body_nodes(method):
                if isinstance(stmt, (n.Assign, n.AugAssign)) and stmt.target == node.id:
                    _depends(analysis, info, method, stmt.value, reached, seen)
                elif isinstance(stmt, n.For) and stmt.target == node.id:
                    _depends(analysis, info, method, stmt.iter, reached, seen)
                elif _writes_list(analysis, stmt, node.id):  # `xs[i] = v`, `xs.append(v)`: xs holds v
                    _depends(analysis, info, method, stmt, reached, seen)
        else:
            _members_read(analysis, info, node, reached, seen)


def _writes_list(analysis: Analysis, stmt: n.Node, name: str) -> bool:
    if isinstance(stmt, n.ItemAssign):
        return isinstance(stmt.target.value, n.Name) and stmt.target.value.id == name
    call = analysis.calls.get(stmt) if isinstance(stmt, n.Call) else None
    return call is not None and call.kind == "array_update" and call.receiver == name


def _method_reads(analysis: Analysis, info: ModuleInfo, name: str, reached: _Reached, seen: set[str]) -> None:
    """What a called method of the module reads: its variables, submodules, and the methods it calls."""
    for signature in info.signatures_of(name):
        if f"method {signature}" in seen:
            continue
        seen.add(f"method {signature}")
        for node in analysis.body_nodes(info.methods[signature]):
            _members_read(analysis, info, node, reached, seen)


def _members_read(analysis: Analysis, info: ModuleInfo, node: n.Node, reached: _Reached, seen: set[str]) -> None:
    """What `node` reads of the module: a variable, a submodule (its member or a call of it), or what a
    method of the module it calls reads."""
    ref = analysis.refs.get(node)
    if ref is not None and ref.kind == "variable" and isinstance(ref.decl, n.VarDecl):
        reached.variables.add(ref.decl.name)
    elif ref is not None and ref.kind == "member" and isinstance(ref.decl, Member):
        reached.submodules.add(ref.decl.path[0].name)
    call = analysis.calls.get(node) if isinstance(node, n.Call) else None
    if call is not None and call.kind == "sub_method" and call.receiver is not None:
        reached.submodules.add(call.receiver)
    elif call is not None and call.kind == "self_method" and call.method is not None:
        _method_reads(analysis, info, call.method, reached, seen)


def _is_reached(analysis: Analysis, source: n.Node, reached: _Reached) -> bool:
    ref = analysis.refs.get(source)
    if ref is None:
        return True  # not resolved: reported as an error already
    if ref.kind == "variable" and isinstance(ref.decl, n.VarDecl):
        return ref.decl.name in reached.variables
    if ref.kind in ("input", "local") and isinstance(source, n.Name):
        return source.id in reached.names
    if ref.kind == "member" and isinstance(ref.decl, Member):
        return ref.decl.path[0].name in reached.submodules
    return True
