"""What every op's type rule shares: `RuleContext` (one call as a rule sees it), broadcasting, axes,
and the rules many families use (`same`, `binary`, `float_unary`, `reduce`).

A type rule is a function from the call's `RuleContext` to the result's type; it reads its arguments
through the context and reports problems through it. An argument whose type is unknown makes the
result (partly) unknown, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Collection, Mapping

from .. import nodes as n
from ..diagnostics import Report
from ..folding import UNKNOWN_VALUE, evaluate
from ..tensor_types import FLOATS, UNKNOWN, Dim, OtherT, TensorT, Type, broadcast_dims, held_size, unify_dtype

from .dtypes import DTYPES

if TYPE_CHECKING:
    from .registry import Op


@dataclass
class RuleContext:
    """What a rule sees of one call: the call, its op, its arguments (name -> (type, node)), the types
    of expressions, the module's constructor parameter names, the reporter, and a variadic op's
    arguments past its parameters."""

    node: n.Call
    op: Op
    bound: dict
    types: Mapping[n.Node, object]
    params: Collection[str]
    reporter: Report
    variadic: tuple[tuple[Type, n.Node], ...] = ()  # a variadic op's arguments past its parameters

    def tensor(self, name: str) -> TensorT | None:
        value = self.bound.get(name, (None, None))[0]
        return value if isinstance(value, TensorT) else None

    def arg_node(self, name: str) -> n.Node | None:
        return self.bound.get(name, (None, None))[1]

    def static(self, name: str, default: object = None) -> object:
        """The Python value of a literal argument (ints, lists of ints, strings, bools), else `default`."""
        node = self.arg_node(name)
        if node is None:
            param = self.op.param(name)
            return param.default if param is not None and not param.required else default
        value = evaluate(node)
        if value is UNKNOWN_VALUE:  # a parameter whose value this call knows (a body typed for one call)
            known = self.types.get(node)
            value = known.value if isinstance(known, TensorT) and known.weak and known.value is not None else value
            value = list(value) if isinstance(value, tuple) else value  # a tuple parameter's items, as a list literal's
        return default if value is UNKNOWN_VALUE else value

    def dtype(self, name: str) -> str | None:
        value = self.bound.get(name, (None, None))[0]
        return value.name if isinstance(value, OtherT) and value.kind == "dtype" else None

    def report(self, code: str, where: n.Node | None, message: str, hint: str | None = None) -> None:
        """The one reporter's call, at `where` or, when it is None, at the whole call."""
        self.reporter(code, where or self.node, message, hint)

    def first(self) -> TensorT:
        """The op's first argument, which most rules take their dtype and shape from."""
        return self.tensor(self.op.params[0].name) or UNKNOWN


def normalize_axis(axis: object, rank: int) -> int | None:
    if not isinstance(axis, int) or isinstance(axis, bool):
        return None
    return axis + rank if axis < 0 else axis


def check_axis(ctx: RuleContext, axis: object, rank: int, what: str = "axis") -> int | None:
    index = normalize_axis(axis, rank)
    if index is not None and not 0 <= index < rank:
        ctx.report("E023",
                ctx.arg_node("axis"),
                f"`{ctx.op.name}`: {what} {axis} is out of range for rank {rank}",
                f"use an axis from {-rank} to {rank - 1}" if rank else "a scalar has no axes")
        return None
    return index


def same(ctx: RuleContext) -> TensorT:
    return ctx.first()


def float_unary(ctx: RuleContext) -> TensorT:
    x = ctx.first()
    if x.dtype is not None and x.dtype not in FLOATS:  # a Python int alone becomes an int32 tensor
        ctx.report("E051",
                ctx.arg_node(ctx.op.params[0].name),
                f"`{ctx.op.name}` needs a floating-point tensor, got {x}",
                "write a float literal, e.g. 4.0" if x.weak else "cast it: cast(x, f32)")
        return UNKNOWN
    return TensorT(x.dtype, x.shape)


def binary(ctx: RuleContext) -> TensorT:
    a, b = (ctx.tensor(p.name) for p in ctx.op.params[:2])
    if a is None or b is None:
        return UNKNOWN
    dtype, problem = unify_dtype(a, b)
    if problem:
        ctx.report("E040", None, f"`{ctx.op.name}` mixes {problem}", "cast one argument to the other's dtype")
        return UNKNOWN
    return TensorT(dtype, broadcast(ctx, a, b))


def broadcast(ctx: RuleContext, a: TensorT, b: TensorT):
    if a.shape is None or b.shape is None:
        return None
    shape, problem = broadcast_dims(a.shape, b.shape)
    if problem:
        ctx.report("E041",
                None,
                f"`{ctx.op.name}`: shapes {a} and {b} do not broadcast (dims {problem})",
                "dims must be equal or 1")
    return shape


def require_bool(ctx: RuleContext, name: str) -> None:
    value = ctx.tensor(name)
    if value is not None and value.dtype is not None and value.dtype != "bool":
        ctx.report("E043",
                ctx.arg_node(name),
                f"`{ctx.op.name}` needs bool tensors, got {value}",
                "compare first, e.g. `x > 0.0`")


def reduce(ctx: RuleContext) -> Type:
    x = ctx.first()
    return TensorT(x.dtype, reduced_shape(ctx, x))


def reduced_shape(ctx: RuleContext, x: TensorT):
    if x.shape is None:
        return None
    axis = ctx.static("axis", UNKNOWN_VALUE)
    keepdims = ctx.static("keepdims", False)
    if axis is UNKNOWN_VALUE:
        return None
    rank = len(x.shape)
    axes = list(range(rank)) if axis is None else axis if isinstance(axis, list) else [axis]
    indices = set()
    for a in axes:
        index = check_axis(ctx, a, rank)
        if index is None:
            return None
        indices.add(index)
    if len(indices) != len(axes):
        ctx.report("E023", ctx.arg_node("axis"), f"`{ctx.op.name}`: axes {axes} name an axis twice",
                "each axis once (-1 and the last axis are the same)")
        return None
    if keepdims is True:
        return tuple(1 if i in indices else d for i, d in enumerate(x.shape))
    return tuple(d for i, d in enumerate(x.shape) if i not in indices)


def shape_argument(ctx: RuleContext, name: str, inferred: bool = False) -> tuple[Dim, ...] | None:
    """Dims of a shape argument written as a list (`[n, 3]`, `[shape(x)[0], units]`: a size the checker
    knows as a dim is that dim), or None if not a list. A negative size is reported (TensorFlow refuses
    it), except one -1 where `inferred` (reshape works that one out)."""
    node = ctx.arg_node(name)
    if isinstance(node, n.ListLit):
        dims: list[Dim] = []
        for item in node.items:
            value = evaluate(item)
            if isinstance(value, int) and not isinstance(value, bool) and value < (-1 if inferred else 0):
                ctx.report("E023", item, f"`{ctx.op.name}`: a size of {value} in `{name}`",
                        "sizes are 0 or more" + (" (one -1 is worked out from the others)" if inferred else ""))
                return None
            if isinstance(value, int) and not isinstance(value, bool):
                dims.append(value)
            elif isinstance(item, n.Name) and item.id in ctx.params:
                dims.append(item.id)
            else:
                dims.append(held_size(ctx.types.get(item)))
        return tuple(dims)
    return None


def tensor_items(ctx: RuleContext) -> list[TensorT] | None:
    """The types of a list-of-tensors argument (concat's values, string_join's inputs)."""
    node = ctx.arg_node(next(p.name for p in ctx.op.params if p.kind == "tensors"))
    if not isinstance(node, n.ListLit):
        return None
    items = [ctx.types.get(i) for i in node.items]
    return [i if isinstance(i, TensorT) else UNKNOWN for i in items]


def common_dtype(ctx: RuleContext, items: list[TensorT]) -> str | None:
    result = items[0] if items else UNKNOWN
    for item in items[1:]:
        dtype, problem = unify_dtype(result, item)
        if problem:
            ctx.report("E040", None, f"`{ctx.op.name}` mixes {problem}", "cast the values to one dtype")
            return None
        result = TensorT(dtype, None, result.weak and item.weak)
    return result.dtype


def require_float(ctx: RuleContext, name: str, value: TensorT) -> bool:
    if value.dtype is not None and value.dtype not in FLOATS:
        ctx.report("E051", ctx.arg_node(name), f"`{ctx.op.name}` needs a floating-point {name}, got {value}",
                "cast it: cast(x, f32)")
        return False
    return True


def operator_has_kernel(node: n.Node, symbol: str, entry: Op, dtype: str | None, report) -> bool:
    """An operator (`symbol`; "neg" is unary minus) on tensors of `dtype` lowers to `entry`: reported
    unless that op has a kernel for the dtype."""
    allowed = entry.kernel_dtypes.get(entry.params[0].name)
    if dtype is None or allowed is None or dtype in allowed:
        return True
    shown = "unary -" if symbol == "neg" else symbol
    listed = ", ".join(d for d in DTYPES if d in allowed)
    report("E055", node, f"`{shown}` on {dtype} tensors has no TensorFlow kernel (it takes {listed})",
           f"cast it first: cast(x, {'f32' if 'f32' in allowed else 'i32'})")
    return False
