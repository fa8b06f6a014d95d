"""The checks of gradient calls, before any type is known: what a gradient may be taken with respect to
(`tape.gradient(target, sources)`), which inputs and locals a tape must watch, a tape that is not
persistent used twice, and the optimizer calls (`minimize(loss, tape, var_list=...)`,
`apply_gradients(grads, vars)`). dsl.body_checker calls these for the calls it resolves to them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import nodes as n
from .analysis import CallInfo, is_call_to, walk
from .members import TRAINABLE_VARIABLES, MemberProblem, resolve_member
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
    return any(isinstance(v, n.BoolLit) and v.value for v in values)


def _check_tape_reuse(checker: BodyChecker, call: n.Call, tape: str) -> None:
    """A tape that is not persistent releases what it recorded at its first gradient: a second one fails
    when run. Reported at every use after the first, in the order they are written."""
    blocks = _tapes(checker, tape)
    if not blocks or any(persistent(b) for b in blocks) or len(blocks) > 1:
        return  # a name opened by several `with`s: each its own tape
    uses = [node for node in walk(checker.method.body) if _uses_tape(node, tape)]
    if uses and uses[0] is not call and call in uses:
        checker.report("E031", call, f"`{tape}` has given a gradient already (line {uses[0].span.line}); a tape "
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
