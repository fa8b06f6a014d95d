"""Members of submodules read from the parent: `dense.kernel`, `encoder.emb.embeddings`,
`generator.trainable_variables`, `optimizer.learning_rate`, `optimizer.iterations`.

The checker resolves an attribute chain on a submodule to a `Member` (recorded as `Ref("member", ...)`
on the attribute node); inference types it with the submodule's own declared type, its dims seen from
the parent (`dense.kernel` of `Dense(8, 4)` is f32[8, 4]); the generator writes `self.dense.kernel`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from . import nodes as n
from .analysis import Analysis, CallInfo, ModuleInfo, Ref
from .declarations import declared_type
from .ops import VALUE_METHODS
from .ops.names import VARIABLE_UPDATES
from .tensor_types import Dim, TensorT, Type

if TYPE_CHECKING:
    from .body_checker import BodyChecker

MemberKind = Literal["variable", "trainable_variables", "optimizer"]

# What a parent reads of a built-in optimizer: name -> (its dtype, whether `.assign(...)` may set it).
OPTIMIZER_MEMBERS: dict[str, tuple[str, bool]] = {"learning_rate": ("f32", True), "iterations": ("i64", False)}
# The list of a submodule's trainable variables, in tf.Module's order (gradient sources, optimizer var lists).
TRAINABLE_VARIABLES = "trainable_variables"


@dataclass(frozen=True)
class Member:
    """`path[0].path[1]....name`: the submodules from the parent down, then the member read."""

    path: tuple[n.SubDecl, ...]
    name: str
    kind: MemberKind
    var: n.VarDecl | None = None  # the submodule's variable, for kind "variable"

    @property
    def dotted(self) -> str:
        return ".".join([*(s.name for s in self.path), self.name])

    @property
    def assignable(self) -> bool:
        """`.assign(...)` may set it: a submodule's variable, or a learning rate that is no schedule
        (the checker refuses the schedule case with its own message)."""
        if self.kind == "variable":
            return True
        return self.kind == "optimizer" and OPTIMIZER_MEMBERS[self.name][1]


class MemberProblem(Exception):
    """Why an attribute chain names no member: (node, message, hint), reported by the checker as E030."""

    def __init__(self, node: n.Node, message: str, hint: str | None):
        super().__init__(message)
        self.node, self.message, self.hint = node, message, hint


def resolve_member(analysis: Analysis, info: ModuleInfo, node: n.Attribute) -> Member | None:
    """The member `node` reads, None when its root is not a submodule (not a member read at all);
    raises MemberProblem for a submodule that has no such member."""
    path = _path(analysis, info, node.value)
    if path is None:
        return None
    owner = analysis.modules.get(path[-1].module)
    if owner is None:
        return None  # an unknown module: reported where it is declared
    if owner.is_optimizer:
        if node.attr in OPTIMIZER_MEMBERS:
            return Member(path, node.attr, "optimizer")
        raise MemberProblem(node, f"optimizer `{path[-1].name}` has no member `{node.attr}`",
                            f"an optimizer's members: {', '.join(OPTIMIZER_MEMBERS)}")
    if node.attr == TRAINABLE_VARIABLES:
        return Member(path, node.attr, "trainable_variables")
    var = owner.variables.get(node.attr)
    if var is not None:
        return Member(path, node.attr, "variable", var)
    dotted = ".".join(s.name for s in path)
    if node.attr in owner.methods or node.attr in owner.overloads:
        raise MemberProblem(node, f"method `{dotted}.{node.attr}` is not a value",
                            f"call it: `{dotted}.{node.attr}(...)`")
    if node.attr in owner.submodules:
        raise MemberProblem(node, f"submodule `{dotted}.{node.attr}` is not a value",
                            f"read one of its variables, e.g. `{dotted}.{node.attr}.{TRAINABLE_VARIABLES}`")
    from .names import suggest  # only when a name is wrong

    readable = [*owner.variables, TRAINABLE_VARIABLES]
    raise MemberProblem(node, f"module `{owner.name}` (`{dotted}`) has no variable `{node.attr}`",
                        suggest(node.attr, readable) or f"its readable members: {', '.join(readable)}")


def _path(analysis: Analysis, info: ModuleInfo, node: n.Node) -> tuple[n.SubDecl, ...] | None:
    """The submodule chain `node` names: `dense`, or `encoder.dense` (a submodule of a submodule)."""
    if isinstance(node, n.Name):
        sub = info.submodules.get(node.id)
        return (sub,) if sub is not None else None
    if not isinstance(node, n.Attribute):
        return None
    outer = _path(analysis, info, node.value)
    if outer is None:
        return None
    owner = analysis.modules.get(outer[-1].module)
    inner = owner.submodules.get(node.attr) if owner is not None else None
    return (*outer, inner) if inner is not None else None


def record_member(checker: BodyChecker, node: n.Attribute) -> bool:
    """Record the member `node` reads (`dense.kernel`) as its ref, or report why it names none (E030);
    False when the attribute's root is no submodule (not a member read at all)."""
    try:
        member = resolve_member(checker.analysis, checker.info, node)
    except MemberProblem as problem:
        checker.report("E030", problem.node, problem.message, problem.hint)
        return True
    if member is None:
        return False
    checker.analysis.refs[node] = Ref("member", member)
    return True


def check_member_call(checker: BodyChecker, call: n.Call, receiver: n.Attribute, attr: str) -> None:
    """`dense.kernel.assign(v)`, `opt.learning_rate.assign(lr)`: a variable's methods on a member that is
    one, recorded as a value method of the dotted receiver."""
    ref = checker.analysis.refs.get(receiver)
    if ref is None or not isinstance(ref.decl, Member):
        return  # reported by record_member
    member = ref.decl
    methods = VALUE_METHODS["variable"]
    if member.kind == TRAINABLE_VARIABLES:
        checker.report("E030", call.func, f"`{member.dotted}` is a list of variables and has no method `{attr}`",
                       "pass it to `tape.gradient` or as an optimizer's `var_list`")
        return
    if attr not in methods:
        from .names import suggest  # only when a name is wrong

        checker.report("E030", call.func, f"a variable has no method `{attr}`",
                       suggest(attr, methods) or f"methods: {', '.join(methods)}")
        return
    if attr in VARIABLE_UPDATES and not _check_assignable(checker, member, call):
        return
    low, high = methods[attr]
    if not low <= len(call.args) <= high or call.keywords:
        checker.report("E020", call, f"`{member.dotted}.{attr}` takes {low if low == high else f'{low}-{high}'}"
                       f" positional argument{'s' if high != 1 else ''}", None)
    checker.analysis.calls[call] = CallInfo(kind="value_method", method=attr, receiver=member.dotted)


def _check_assignable(checker: BodyChecker, member: Member, call: n.Call) -> bool:
    if member.kind == "optimizer" and member.name == "learning_rate":
        rate = checker.analysis.sub_arguments.get(member.path[-1], {}).get("learning_rate")
        if isinstance(rate, n.Call):  # the one call an optimizer argument may be: a schedule
            checker.report("E015", call, f"`{member.dotted}` follows a learning-rate schedule and cannot be set",
                           "give the optimizer a number as its learning rate to set it, or change the schedule")
            return False
    if not member.assignable:
        checker.report("E015", call, f"`{member.dotted}` is read-only", "the optimizer counts its own steps")
        return False
    return True


def member_type(analysis: Analysis, info: ModuleInfo, member: Member) -> Type:
    """The member's type seen from `info`: a variable's declared type with its dims in the parent's
    terms (a size, or a parameter of the parent), an optimizer's scalar, or the opaque list of a
    submodule's trainable variables."""
    if member.kind == "optimizer":
        return TensorT(OPTIMIZER_MEMBERS[member.name][0], ())
    if member.kind == "trainable_variables":
        from .inference.gradients import tensor_list  # the list type lives with the gradients

        return tensor_list(None)
    assert member.var is not None
    declared = declared_type(member.var.type)
    if declared.shape is None:
        return declared
    dims = _dims_seen_from(analysis, info, member.path)
    return TensorT(declared.dtype, tuple(dims.get(d) if isinstance(d, str) else d for d in declared.shape))


def _dims_seen_from(analysis: Analysis, info: ModuleInfo, path: tuple[n.SubDecl, ...]) -> dict[str, Dim]:
    """The `int` parameters of the last module on `path`, as `info` sees them: a number, a parameter
    name of `info`, or None where neither is known."""
    from .inference.method_calls import sub_params

    seen: dict[str, Dim] | None = None
    owner = info
    for sub in path:
        target = analysis.modules[sub.module]
        params = sub_params(analysis, owner, sub, target)
        if seen is not None:
            params = {name: (seen.get(d) if isinstance(d, str) else d) for name, d in params.items()}
        seen, owner = params, target
    return seen or {}


def member_variable(analysis: Analysis, info: ModuleInfo, dotted: str) -> n.VarDecl | None:
    """The variable `dense.kernel` (a dotted path from `info` down) names, else None."""
    *path, name = dotted.split(".")
    owner: ModuleInfo | None = info
    for sub_name in path:
        sub = owner.submodules.get(sub_name) if owner is not None else None
        owner = analysis.modules.get(sub.module) if sub is not None else None
    return owner.variables.get(name) if owner is not None and path else None
