"""One function per result rule named in `dsl.ops.TYPE_RULES`: an op's result type from its arguments.

Each rule reads its arguments through `RuleContext` and reports problems through it; an argument
whose type is unknown makes the result (partly) unknown, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Collection, Mapping

from . import nodes as n
from .ops import Op
from .folding import UNKNOWN_VALUE, evaluate, fits, python_dtype
from .tensor_types import (FLOATS, INTS, NO_VALUE, UNKNOWN, Dim, OtherT, TensorT, Type, broadcast_dims,
                           dims_conflict, unify_dtype)


@dataclass
class RuleContext:
    """What a rule sees of one call: the call, its op, its arguments (name -> (type, node)), the types
    of expressions, the module's constructor parameter names, the reporter and the matmul rule."""

    node: n.Call
    op: Op
    bound: dict
    types: Mapping[n.Node, object]
    params: Collection[str]
    report: Callable[[str, n.Node, str, str | None], None]
    matmul: Callable[..., Type]

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
        return default if value is UNKNOWN_VALUE else value

    def dtype(self, name: str) -> str | None:
        value = self.bound.get(name, (None, None))[0]
        return value.name if isinstance(value, OtherT) and value.kind == "dtype" else None

    def err(self, code: str, node: n.Node | None, message: str, hint: str | None = None) -> None:
        """Report at `node`, or at the whole call when it is None."""
        self.report(code, node or self.node, message, hint)

    def first(self) -> TensorT:
        """The op's first argument, which most rules take their dtype and shape from."""
        return self.tensor(self.op.params[0].name) or UNKNOWN




def _normalize_axis(axis: object, rank: int) -> int | None:
    if not isinstance(axis, int) or isinstance(axis, bool):
        return None
    return axis + rank if axis < 0 else axis


def _check_axis(ctx: RuleContext, axis: object, rank: int, what: str = "axis") -> int | None:
    index = _normalize_axis(axis, rank)
    if index is not None and not 0 <= index < rank:
        ctx.err("E023",
                ctx.arg_node("axis"),
                f"`{ctx.op.name}`: {what} {axis} is out of range for rank {rank}",
                f"use an axis from {-rank} to {rank - 1}" if rank else "a scalar has no axes")
        return None
    return index


def same(ctx: RuleContext) -> Type:
    return ctx.first()


def float_unary(ctx: RuleContext) -> Type:
    x = ctx.first()
    if x.dtype is not None and x.dtype not in FLOATS:  # a Python int alone becomes an int32 tensor
        ctx.err("E051",
                ctx.arg_node(ctx.op.params[0].name),
                f"`{ctx.op.name}` needs a floating-point tensor, got {x}",
                "write a float literal, e.g. 4.0" if x.weak else "cast it: cast(x, f32)")
        return UNKNOWN
    return TensorT(x.dtype, x.shape)


def binary(ctx: RuleContext) -> Type:
    a, b = (ctx.tensor(p.name) for p in ctx.op.params[:2])
    if a is None or b is None:
        return UNKNOWN
    dtype, problem = unify_dtype(a, b)
    if problem:
        ctx.err("E040", None, f"`{ctx.op.name}` mixes {problem}", "cast one argument to the other's dtype")
        return UNKNOWN
    return TensorT(dtype, _broadcast(ctx, a, b))


def clip(ctx: RuleContext) -> Type:
    """tf.clip_by_value: `t` bounded by the minimum and maximum, one dtype (unified with the maximum
    first, as TensorFlow does); the bounds broadcast to `t`'s shape, which is the result's."""
    t = ctx.first()
    result = t
    for name in ("clip_value_max", "clip_value_min"):
        bound = ctx.tensor(name)
        if bound is None:
            continue
        dtype, problem = unify_dtype(result, bound)
        if problem:
            ctx.err("E040", ctx.arg_node(name), f"`clip` mixes {problem}", "cast the bounds to the tensor's dtype")
            return UNKNOWN
        shape = _broadcast(ctx, t, bound)
        if shape is not None and t.shape is not None and (
                len(shape) != len(t.shape) or any(dims_conflict(a, b) for a, b in zip(shape, t.shape))):
            ctx.err("E041", ctx.arg_node(name), f"`clip`: the bound {bound} widens {t} to {list(shape)}",
                    "a bound is a scalar or broadcasts to the clipped tensor's shape")
            return UNKNOWN
        result = TensorT(dtype, t.shape, result.weak and bound.weak)
    return TensorT(result.dtype, t.shape)


def broadcast_all(ctx: RuleContext) -> Type:
    """Every tensor argument of one dtype, broadcast together (batch_normalization's five)."""
    result: TensorT | None = None
    for param in ctx.op.params:
        value = ctx.tensor(param.name)
        if param.kind != "tensor" or value is None:
            continue
        if result is None:
            result = value
            continue
        dtype, problem = unify_dtype(result, value)
        if problem:
            ctx.err("E040", ctx.arg_node(param.name), f"`{ctx.op.name}` mixes {problem}", "cast to one dtype")
            return UNKNOWN
        result = TensorT(dtype, _broadcast(ctx, result, value), result.weak and value.weak)
    return UNKNOWN if result is None else TensorT(result.dtype, result.shape)


def pow_(ctx: RuleContext) -> Type:
    """`binary`, and an integer power must not be a known negative number (TensorFlow fails when it runs)."""
    result = binary(ctx)
    exponent = ctx.tensor("y")
    if isinstance(result, TensorT) and exponent is not None and negative_int_power(result.dtype, exponent):
        ctx.err("E023", ctx.arg_node("y"), f"an integer to the power {exponent.value}",
                "TensorFlow has no negative integer powers: cast to a float first")
        return UNKNOWN
    return result


def negative_int_power(dtype: str | None, exponent: TensorT) -> bool:
    """An integer power whose exponent is a Python value with a negative number in it."""
    values = exponent.value if isinstance(exponent.value, tuple) else (exponent.value,)
    return dtype in INTS and any(_negative(v) for v in values)


def _negative(value: object) -> bool:
    if isinstance(value, tuple):
        return any(_negative(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0


def _broadcast(ctx: RuleContext, a: TensorT, b: TensorT):
    if a.shape is None or b.shape is None:
        return None
    shape, problem = broadcast_dims(a.shape, b.shape)
    if problem:
        ctx.err("E041",
                None,
                f"`{ctx.op.name}`: shapes {a} and {b} do not broadcast (dims {problem})",
                "dims must be equal or 1")
    return shape


def divide(ctx: RuleContext) -> Type:
    """True division: integers become floats, as TensorFlow's `/` (and tf.math.divide) makes them."""
    result = binary(ctx)
    if isinstance(result, TensorT) and result.dtype in INTS:
        return TensorT("f64" if result.dtype in ("i32", "i64", "u32", "u64") else "f32", result.shape)
    return result


def compare(ctx: RuleContext) -> Type:
    result = binary(ctx)
    return TensorT("bool", result.shape) if isinstance(result, TensorT) else result


def logical(ctx: RuleContext) -> Type:
    for param in ctx.op.params:
        _require_bool(ctx, param.name)
    result = binary(ctx)
    return TensorT("bool", result.shape)


def logical_not(ctx: RuleContext) -> Type:
    _require_bool(ctx, ctx.op.params[0].name)
    return TensorT("bool", ctx.first().shape)


def _require_bool(ctx: RuleContext, name: str) -> None:
    value = ctx.tensor(name)
    if value is not None and value.dtype is not None and value.dtype != "bool":
        ctx.err("E043",
                ctx.arg_node(name),
                f"`{ctx.op.name}` needs bool tensors, got {value}",
                "compare first, e.g. `x > 0.0`")


def is_nan(ctx: RuleContext) -> Type:
    return TensorT("bool", float_unary(ctx).shape if ctx.first().dtype else None)


def reduce(ctx: RuleContext) -> Type:
    x = ctx.first()
    return TensorT(x.dtype, _reduced_shape(ctx, x))


def reduce_bool(ctx: RuleContext) -> Type:
    _require_bool(ctx, ctx.op.params[0].name)
    return TensorT("bool", _reduced_shape(ctx, ctx.first()))


def _reduced_shape(ctx: RuleContext, x: TensorT):
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
        index = _check_axis(ctx, a, rank)
        if index is None:
            return None
        indices.add(index)
    if len(indices) != len(axes):
        ctx.err("E023", ctx.arg_node("axis"), f"`{ctx.op.name}`: axes {axes} name an axis twice",
                "each axis once (-1 and the last axis are the same)")
        return None
    if keepdims is True:
        return tuple(1 if i in indices else d for i, d in enumerate(x.shape))
    return tuple(d for i, d in enumerate(x.shape) if i not in indices)


def argreduce(ctx: RuleContext) -> Type:
    x = ctx.first()
    dtype = ctx.dtype("output_type") or "i64"
    if dtype not in ("i32", "i64", "i16", "u8", "u16"):
        ctx.err("E023", None, f"`{ctx.op.name}` output_type must be an integer dtype, got {dtype}", "use i32 or i64")
    if x.shape is None:
        return TensorT(dtype, None)
    axis = ctx.static("axis", UNKNOWN_VALUE)
    if axis is UNKNOWN_VALUE:
        return TensorT(dtype, None)
    index = _check_axis(ctx, 0 if axis is None else axis, len(x.shape)) if x.shape else None
    if index is None:
        return TensorT(dtype, None)
    if x.shape[index] == 0:
        ctx.err("E023", ctx.arg_node("axis"), f"`{ctx.op.name}` along an axis of size 0 ({x}) has no answer",
                "TensorFlow fails on an empty axis")
        return UNKNOWN
    return TensorT(dtype, tuple(d for i, d in enumerate(x.shape) if i != index))


def cast(ctx: RuleContext) -> Type:
    return TensorT(ctx.dtype("dtype"), ctx.first().shape)


def matmul(ctx: RuleContext) -> Type:
    a, b = ctx.tensor("a"), ctx.tensor("b")
    if a is None or b is None:
        return UNKNOWN
    return ctx.matmul(ctx.node, a, b, ctx.static("transpose_a", False) is True,
                                 ctx.static("transpose_b", False) is True)


def shape_of(ctx: RuleContext) -> Type:
    x = ctx.first()
    return TensorT(ctx.dtype("out_type") or "i32", None if x.shape is None else (len(x.shape),))


def scalar_int(ctx: RuleContext) -> Type:
    return TensorT(ctx.dtype("out_type") or "i32", ())


def _shape_argument(ctx: RuleContext, name: str, inferred: bool = False) -> tuple[Dim, ...] | None:
    """Dims of a shape argument written as a list (`[n, 3]`), or None if not a list. A negative size is
    reported (TensorFlow refuses it), except one -1 where `inferred` (reshape works that one out)."""
    node = ctx.arg_node(name)
    if isinstance(node, n.ListLit):
        dims: list[Dim] = []
        for item in node.items:
            value = evaluate(item)
            if isinstance(value, int) and not isinstance(value, bool) and value < (-1 if inferred else 0):
                ctx.err("E023", item, f"`{ctx.op.name}`: a size of {value} in `{name}`",
                        "sizes are 0 or more" + (" (one -1 is worked out from the others)" if inferred else ""))
                return None
            if isinstance(value, int) and not isinstance(value, bool):
                dims.append(value)
            elif isinstance(item, n.Name) and item.id in ctx.params:
                dims.append(item.id)
            else:
                dims.append(None)
        return tuple(dims)
    return None


def filled(ctx: RuleContext) -> Type:
    return TensorT(ctx.dtype("dtype") or "f32", _shape_argument(ctx, "shape"))


def fill(ctx: RuleContext) -> Type:
    value = ctx.tensor("value") or UNKNOWN
    return TensorT(value.dtype, _shape_argument(ctx, "dims"))


def like(ctx: RuleContext) -> Type:
    x = ctx.first()
    return TensorT(ctx.dtype("dtype") or x.dtype, x.shape)


def range_(ctx: RuleContext) -> Type:
    dtype = ctx.dtype("dtype")
    if dtype is None:
        values = [ctx.tensor(p) for p in ("start", "limit", "delta")]
        known = [v for v in values if v is not None and v.dtype is not None]
        strong = [v.dtype for v in known if not v.weak]
        dtype = strong[0] if strong else ("f32" if any(v.dtype == "f32" for v in known) else "i32")
    _check_range_bounds(ctx)
    return TensorT(dtype, (None,))


def _check_range_bounds(ctx: RuleContext) -> None:
    """Known bounds must step towards the limit: TensorFlow's range refuses `range(-1)` (an empty
    range in Python) and a step of 0."""
    given = [ctx.static(name, None) for name in ("start", "limit", "delta")]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in given[:1] + given[2:]):
        return
    start, limit, delta = (0, given[0], given[2]) if given[1] is None else given
    if not isinstance(limit, (int, float)) or isinstance(limit, bool):
        return
    if delta == 0 or delta > 0 and start > limit or delta < 0 and start < limit:
        ctx.err("E023", None, f"`range` from {start} to {limit} in steps of {delta}",
                "TensorFlow's range needs a step towards the limit: start <= limit for a positive step")


def concat(ctx: RuleContext) -> Type:
    items = _tensor_items(ctx)
    if items is None:
        return UNKNOWN
    dtype = _common_dtype(ctx, items)
    ranks = {len(t.shape) for t in items if t.shape is not None}
    if len(ranks) > 1:
        ctx.err("E052", None, f"`concat` of tensors with ranks {sorted(ranks)}", "all values need the same rank")
        return TensorT(dtype, None)
    if not ranks or len(ranks) == 1 and None in ranks or any(t.shape is None for t in items):
        return TensorT(dtype, None)
    rank = ranks.pop()
    axis = _check_axis(ctx, ctx.static("axis", 0), rank) if rank else None
    if axis is None:
        return TensorT(dtype, None)
    result: list[Dim] = []
    for index in range(rank):
        dims = [t.shape[index] for t in items]
        if index == axis:
            result.append(sum(dims) if all(isinstance(d, int) for d in dims) else None)
            continue
        known = {d for d in dims if isinstance(d, int)}
        if len(known) > 1:
            ctx.err("E052",
                    None,
                    f"`concat` along axis {axis}: dim {index} differs ({', '.join(map(str, dims))})",
                    "every other dimension must be equal")
        result.append(dims[0] if len(set(dims)) == 1 else (known.pop() if known else None))
    return TensorT(dtype, tuple(result))


def stack(ctx: RuleContext) -> Type:
    items = _tensor_items(ctx)
    if items is None:
        return UNKNOWN
    dtype = _common_dtype(ctx, items)
    shapes = [t.shape for t in items]
    if any(s is None for s in shapes):
        return TensorT(dtype, None)
    if len({len(s) for s in shapes}) > 1 or any(
            dims_conflict(a, b) for s in shapes[1:] for a, b in zip(shapes[0], s)):
        ctx.err("E052",
                None,
                f"`stack` of tensors with different shapes ({', '.join(str(t) for t in items)})",
                "stacked tensors must have one shape")
        return TensorT(dtype, None)
    base = shapes[0]
    axis = _check_axis(ctx, ctx.static("axis", 0), len(base) + 1)
    if axis is None:
        return TensorT(dtype, None)
    return TensorT(dtype, (*base[:axis], len(items), *base[axis:]))


def _tensor_items(ctx: RuleContext) -> list[TensorT] | None:
    """The types of a list-of-tensors argument (concat's values, string_join's inputs)."""
    node = ctx.arg_node(next(p.name for p in ctx.op.params if p.kind == "tensors"))
    if not isinstance(node, n.ListLit):
        return None
    items = [ctx.types.get(i) for i in node.items]
    return [i if isinstance(i, TensorT) else UNKNOWN for i in items]


def _common_dtype(ctx: RuleContext, items: list[TensorT]) -> str | None:
    result = items[0] if items else UNKNOWN
    for item in items[1:]:
        dtype, problem = unify_dtype(result, item)
        if problem:
            ctx.err("E040", None, f"`{ctx.op.name}` mixes {problem}", "cast the values to one dtype")
            return None
        result = TensorT(dtype, None, result.weak and item.weak)
    return result.dtype


def expand_dims(ctx: RuleContext) -> Type:
    x = ctx.first()
    if x.shape is None:
        return TensorT(x.dtype, None)
    axis = _check_axis(ctx, ctx.static("axis", UNKNOWN_VALUE), len(x.shape) + 1)
    if axis is None:
        return TensorT(x.dtype, None)
    return TensorT(x.dtype, (*x.shape[:axis], 1, *x.shape[axis:]))


def squeeze(ctx: RuleContext) -> Type:
    x = ctx.first()
    if x.shape is None:
        return TensorT(x.dtype, None)
    axis = ctx.static("axis", UNKNOWN_VALUE)
    if axis is None:
        if any(d is None or isinstance(d, str) for d in x.shape):
            return TensorT(x.dtype, None)
        return TensorT(x.dtype, tuple(d for d in x.shape if d != 1))
    axes = axis if isinstance(axis, list) else [axis]
    indices = {_check_axis(ctx, a, len(x.shape)) for a in axes}
    if None in indices:
        return TensorT(x.dtype, None)
    for index in indices:
        if isinstance(x.shape[index], int) and x.shape[index] != 1:
            ctx.err("E023",
                    None,
                    f"`squeeze`: dim {index} of {x} is {x.shape[index]}, not 1",
                    "only size-1 dims squeeze")
    return TensorT(x.dtype, tuple(d for i, d in enumerate(x.shape) if i not in indices))


def reshape(ctx: RuleContext) -> Type:
    x = ctx.first()
    target = _shape_argument(ctx, "shape", inferred=True)
    if target is None:
        return TensorT(x.dtype, None)
    if sum(1 for d in target if d == -1) > 1:
        ctx.err("E053", None, "`reshape` has more than one -1", "at most one dimension can be inferred")
        return TensorT(x.dtype, None)
    size = _size(x.shape)
    known = [d for d in target if d != -1]
    if size is not None and all(isinstance(d, int) for d in known):
        product = 1
        for d in known:
            product *= d
        if -1 not in target and product != size:
            ctx.err("E053",
                    None,
                    f"`reshape` of {x} ({size} elements) to {list(target)} ({product} elements)",
                    "the number of elements must stay the same")
        elif -1 in target and (product == 0 or size % product):
            ctx.err("E053",
                    None,
                    f"`reshape` of {x} ({size} elements) to {list(target)}: {size} is not divisible "
                            f"by {product}",
                    "the number of elements must stay the same")
        elif -1 in target:
            target = tuple(size // product if d == -1 else d for d in target)
    return TensorT(x.dtype, tuple(None if d == -1 else d for d in target))


def _size(shape) -> int | None:
    if shape is None or not all(isinstance(d, int) for d in shape):
        return None
    size = 1
    for d in shape:
        size *= d
    return size


def transpose(ctx: RuleContext) -> Type:
    x = ctx.first()
    if x.shape is None:
        return TensorT(x.dtype, None)
    perm = ctx.static("perm", UNKNOWN_VALUE)
    if perm is None:
        return TensorT(x.dtype, tuple(reversed(x.shape)))
    if not isinstance(perm, list):
        return TensorT(x.dtype, None)
    if sorted(perm) != list(range(len(x.shape))):
        ctx.err("E023",
                ctx.arg_node("perm"),
                f"`transpose` perm {perm} is not a permutation of the {len(x.shape)} axes of {x}",
                f"list each axis 0..{len(x.shape) - 1} once")
        return TensorT(x.dtype, None)
    return TensorT(x.dtype, tuple(x.shape[i] for i in perm))


def one_hot(ctx: RuleContext) -> Type:
    indices = ctx.tensor("indices") or UNKNOWN
    depth = ctx.static("depth", None)
    node = ctx.arg_node("depth")
    if depth is None and isinstance(node, n.Name) and node.id in ctx.params:
        depth = node.id
    known = isinstance(depth, str) or isinstance(depth, int) and not isinstance(depth, bool) and depth >= 1
    shape = None if indices.shape is None else (*indices.shape, depth if known else None)
    values = {name: v for name in ("on_value", "off_value") if (v := ctx.tensor(name)) is not None}
    strong = [v.dtype for v in values.values() if not v.weak]
    dtype = ctx.dtype("dtype") or (strong[0] if strong else "f32")
    for name, value in values.items():  # TensorFlow converts both to the one dtype
        _, problem = unify_dtype(TensorT(dtype, ()), value)
        if problem:
            ctx.err("E040", ctx.arg_node(name), f"`one_hot` mixes {problem}", "give on_value and off_value one dtype")
            return UNKNOWN
    return TensorT(dtype, shape)


def gather(ctx: RuleContext) -> Type:
    params, indices = ctx.tensor("params") or UNKNOWN, ctx.tensor("indices") or UNKNOWN
    if indices.dtype is not None and indices.dtype not in INTS:
        ctx.err("E044",
                ctx.arg_node("indices"),
                f"`gather` indices must be integers, got {indices}",
                "cast them: cast(i, i32)")
    if params.shape is None or indices.shape is None:
        return TensorT(params.dtype, None)
    axis = _check_axis(ctx, ctx.static("axis", 0) or 0, len(params.shape)) if params.shape else None
    batch_dims = ctx.static("batch_dims", 0)
    if axis is None or not isinstance(batch_dims, int) or isinstance(batch_dims, bool):
        return TensorT(params.dtype, None)
    if not 0 <= batch_dims <= min(axis, len(indices.shape)):
        ctx.err("E023",
                ctx.arg_node("batch_dims"),
                f"`gather`: batch_dims {batch_dims} must be from 0 to the axis ({axis}) and at most "
                        f"the rank of the indices ({len(indices.shape)})")
        return TensorT(params.dtype, None)
    if params.shape[axis] == 0 and _size(indices.shape) != 0:
        ctx.err("E044", ctx.arg_node("indices"), f"`gather` from an axis of size 0 ({params}): every index is out of range")
        return UNKNOWN
    return TensorT(params.dtype, (*params.shape[:axis], *indices.shape[batch_dims:], *params.shape[axis + 1:]))


def gather_nd(ctx: RuleContext) -> Type:
    params, indices = ctx.tensor("params") or UNKNOWN, ctx.tensor("indices") or UNKNOWN
    if indices.dtype is not None and indices.dtype not in ("i32", "i64") and not indices.weak:
        ctx.err("E044",
                ctx.arg_node("indices"),
                f"`gather_nd` indices must be i32 or i64, got {indices}",
                "cast them: cast(i, i32)")
    if params.shape is None or not indices.shape or not isinstance(indices.shape[-1], int):
        return TensorT(params.dtype, None)
    depth = indices.shape[-1]
    if depth > len(params.shape):
        ctx.err("E044",
                ctx.arg_node("indices"),
                f"`gather_nd`: index tuples of {depth} into {params}, which has rank {len(params.shape)}",
                "each index has at most one entry per dimension")
        return TensorT(params.dtype, None)
    wrong = _index_out_of_range(ctx.static("indices", None), params.shape)
    if wrong:
        ctx.err("E044", ctx.arg_node("indices"), f"`gather_nd`: index {wrong[0]} is out of range for dim {wrong[1]} "
                f"of {params}", "gather_nd takes indices from 0 to the size less one (no negative indices)")
        return TensorT(params.dtype, None)
    return TensorT(params.dtype, (*indices.shape[:-1], *params.shape[depth:]))


def _index_out_of_range(indices: object, dims: tuple[Dim, ...]) -> tuple[int, int] | None:
    """(index, dim) of the first known index of a literal list of index tuples that misses its dim."""
    if not isinstance(indices, list):
        return None
    if indices and not isinstance(indices[0], list):
        for position, (index, dim) in enumerate(zip(indices, dims)):
            if isinstance(index, int) and isinstance(dim, int) and not 0 <= index < dim:
                return index, position
        return None
    return next((found for row in indices if (found := _index_out_of_range(row, dims))), None)


def einsum(ctx: RuleContext) -> Type:
    """The equation's output subscripts, sized from the operands; a malformed equation is an error."""
    equation = ctx.static("equation", None)
    operands = [t if isinstance(t, TensorT) else UNKNOWN for t in ctx.bound.get("*", ([], []))[0]]
    for operand, node in zip(*ctx.bound.get("*", ([], []))):
        if isinstance(node, n.ListLit) or isinstance(operand, TensorT) and operand.weak:
            ctx.err("E023", node, "`einsum` operands are tensors, not Python values or lists",
                    "make one a tensor: constant(...) or stack([...])")
            return UNKNOWN
    dtype = _common_dtype(ctx, operands) if operands else None
    if not isinstance(equation, str) or "." in equation:
        return TensorT(dtype, None)
    inputs, arrow, output = equation.replace(" ", "").partition("->")
    terms = inputs.split(",")
    letters = "".join(terms)
    problem = _einsum_problem(terms, output if arrow else None, operands)
    if problem:
        ctx.err("E023",
                ctx.arg_node("equation"),
                f"`einsum` equation {equation!r}: {problem}",
                "one subscript letter per dimension of each operand, e.g. 'ij,jk->ik'")
        return TensorT(dtype, None)
    if not arrow:
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    sizes: dict[str, Dim] = {}
    for term, operand in zip(terms, operands):
        for letter, dim in zip(term, operand.shape or (None,) * len(term)):
            if sizes.get(letter) is None or sizes.get(letter) == 1:
                sizes[letter] = dim
    return TensorT(dtype, tuple(sizes.get(c) for c in output))


def _einsum_problem(terms: list[str], output: str | None, operands: list[TensorT]) -> str | None:
    if len(terms) != len(operands):
        return (f"{len(terms)} operand subscript{'s' if len(terms) != 1 else ''} for {len(operands)} "
                f"operand{'s' if len(operands) != 1 else ''}")
    if not all(term.isalpha() and term.isascii() for term in terms if term) or output and not (
            output.isalpha() and output.isascii()):
        return "subscripts are letters"
    for term, operand in zip(terms, operands):
        if operand.shape is not None and len(term) != len(operand.shape):
            return f"{term!r} has {len(term)} subscripts for an operand of rank {len(operand.shape)}"
    if output is not None:
        if len(set(output)) != len(output):
            return f"the output {output!r} repeats a subscript"
        missing = set(output) - set("".join(terms))
        if missing:
            return f"the output names {''.join(sorted(missing))!r}, which no operand has"
    return None


def linspace(ctx: RuleContext) -> Type:
    start = ctx.tensor("start") or UNKNOWN
    num = ctx.static("num", None)
    dtype = "f32" if start.weak else start.dtype
    _, problem = unify_dtype(start, ctx.tensor("stop") or UNKNOWN)
    if problem:
        ctx.err("E040", ctx.arg_node("stop"), f"`linspace` mixes {problem}", "stop converts to start's dtype: cast it")
        return UNKNOWN
    if start.shape != ():
        return TensorT(dtype, None)
    return TensorT(dtype, (num if isinstance(num, int) and not isinstance(num, bool) else None,))


def categorical_sample(ctx: RuleContext) -> Type:
    logits = ctx.tensor("logits") or UNKNOWN
    num = ctx.static("num_samples", None)
    rows = logits.shape[0] if logits.shape and len(logits.shape) == 2 else None
    return TensorT(ctx.dtype("dtype") or "i64", (rows, num if isinstance(num, int) else None))


def where(ctx: RuleContext) -> Type:
    _require_bool(ctx, "condition")
    condition = ctx.tensor("condition") or UNKNOWN
    x, y = ctx.tensor("x"), ctx.tensor("y")
    if x is None and y is None:
        return TensorT("i64", (None, condition.rank))
    if x is None or y is None:
        ctx.err("E020", None, "`where` takes a condition alone, or a condition with both x and y")
        return UNKNOWN
    dtype, problem = unify_dtype(x, y)
    if problem:
        ctx.err("E040", None, f"`where` mixes {problem}", "cast x or y to the other's dtype")
        return UNKNOWN
    shape = _broadcast(ctx, x, y)
    if shape is not None and condition.shape is not None:
        shape, problem = broadcast_dims(condition.shape, shape)
        if problem:
            ctx.err("E041", None, f"`where`: condition {condition} does not broadcast with {x} and {y}")
    return TensorT(dtype, shape)


def segment(ctx: RuleContext) -> Type:
    data = ctx.tensor("data") or UNKNOWN
    _check_segment_ids(ctx, data)
    return TensorT(data.dtype, None if not data.shape else (None, *data.shape[1:]))


def unsorted_segment(ctx: RuleContext) -> Type:
    data, ids = ctx.tensor("data") or UNKNOWN, ctx.tensor("segment_ids") or UNKNOWN
    count = ctx.static("num_segments", None)
    node = ctx.arg_node("num_segments")
    if count is None and isinstance(node, n.Name) and node.id in ctx.params:
        count = node.id
    if data.shape is None or ids.shape is None:
        return TensorT(data.dtype, None)
    _check_segment_ids(ctx, data)
    known = isinstance(count, str) or isinstance(count, int) and not isinstance(count, bool) and count >= 1
    return TensorT(data.dtype, (count if known else None, *data.shape[len(ids.shape):]))


def _check_segment_ids(ctx: RuleContext, data: TensorT) -> None:
    """One segment id per row: the ids' shape is the start of the data's (TensorFlow fails at run time)."""
    ids = ctx.tensor("segment_ids") or UNKNOWN
    if data.shape is None or ids.shape is None:
        return
    if len(ids.shape) > len(data.shape) or any(map(dims_conflict, ids.shape, data.shape)):
        ctx.err("E041", ctx.arg_node("segment_ids"), f"`{ctx.op.name}`: segment ids {ids} for data {data}",
                "one id per row: the ids' shape is the first dims of the data's")


def per_example_loss(ctx: RuleContext) -> Type:
    """A loss per example, over the last axis: labels and predictions of one shape (TensorFlow's
    cross-entropies do not broadcast them), the predictions' shape without its last axis."""
    labels, predictions = _same_shape_pair(ctx)
    base = predictions or UNKNOWN
    return TensorT(base.dtype, None if not base.shape else base.shape[:-1])


def elementwise_loss(ctx: RuleContext) -> Type:
    labels, predictions = _same_shape_pair(ctx)
    return TensorT((predictions or UNKNOWN).dtype, None if predictions is None else predictions.shape)


def _same_shape_pair(ctx: RuleContext) -> tuple[TensorT | None, TensorT | None]:
    names = [p.name for p in ctx.op.params[:2]]
    labels, predictions = ctx.tensor(names[0]), ctx.tensor(names[1])
    if labels is None or predictions is None:
        return labels, predictions
    _, problem = unify_dtype(labels, predictions)
    if problem:
        ctx.err("E040", None, f"`{ctx.op.name}` mixes {problem}", "cast the labels to the predictions' dtype")
    if labels.shape is not None and predictions.shape is not None and (len(labels.shape) != len(predictions.shape)
                                                                       or any(map(dims_conflict, labels.shape, predictions.shape))):
        ctx.err("E041", None, f"`{ctx.op.name}`: labels {labels} and predictions {predictions} differ in shape",
                "labels and predictions have one shape")
    return labels, predictions


def sparse_loss(ctx: RuleContext) -> Type:
    """Integer labels, one per example: the predictions' shape without its last axis."""
    names = [p.name for p in ctx.op.params[:2]]
    labels, predictions = ctx.tensor(names[0]) or UNKNOWN, ctx.tensor(names[1]) or UNKNOWN
    if labels.dtype is not None and labels.dtype not in INTS:
        ctx.err("E023",
                ctx.arg_node(names[0]),
                f"`{ctx.op.name}` labels must be integer class ids, got {labels}",
                "use categorical_crossentropy for one-hot or soft labels")
    expected = None if not predictions.shape else predictions.shape[:-1]
    if labels.shape is not None and expected is not None and (
            len(labels.shape) != len(expected) or any(map(dims_conflict, labels.shape, expected))):
        ctx.err("E041", ctx.arg_node(names[0]), f"`{ctx.op.name}`: labels {labels} for predictions {predictions}",
                "one label per example: the labels' shape is the predictions' without the last axis")
    return TensorT(predictions.dtype, expected)


def scalar_loss(ctx: RuleContext) -> Type:
    result = binary(ctx)
    return TensorT(result.dtype if isinstance(result, TensorT) else None, ())


def constant(ctx: RuleContext) -> Type:
    """tf.constant of a literal: the dtype asked for (the value must convert to it) or TensorFlow's
    default for the value; the shape is the literal's nesting."""
    value = ctx.static("value", UNKNOWN_VALUE)
    if value is UNKNOWN_VALUE:
        return TensorT(ctx.dtype("dtype"), None)
    shape = _literal_shape(value)
    dtype = ctx.dtype("dtype") or _default_dtype(value)
    if shape is None:
        ctx.err("E034",
                ctx.arg_node("value"),
                f"`constant` of a ragged list {value!r}",
                "every row needs the same length")
    elif dtype is not None and not fits(value, dtype):
        ctx.err("E023",
                ctx.arg_node("value"),
                f"`constant`: {value!r} does not convert to {dtype}",
                "write a value of that dtype (1.0 for floats, True for bool, \"text\" for strings)")
    return TensorT(dtype, shape)


def _literal_shape(value: object) -> tuple[int, ...] | None:
    if not isinstance(value, list):
        return ()
    shapes = {_literal_shape(v) for v in value}
    if len(shapes) > 1 or None in shapes:
        return None
    return (len(value), *(shapes.pop() if shapes else ()))


def _default_dtype(value: object) -> str | None:
    """The dtype tf.constant gives a (nested) Python literal: floats win over ints."""
    items = list(_leaves(value))
    kinds = {python_dtype(v) for v in items}
    if not items:
        return "f32"
    if len(kinds) == 1:
        return kinds.pop()
    if kinds <= {"i32", "i64", "f32"}:
        return "f32" if "f32" in kinds else "i64"
    return None


def _leaves(value: object):
    if isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def abs_(ctx: RuleContext) -> Type:
    """abs of a complex tensor is its real magnitude."""
    x = ctx.first()
    return TensorT({"c64": "f32", "c128": "f64"}.get(x.dtype, x.dtype), x.shape, x.weak)


def random(ctx: RuleContext) -> Type:
    dtype = ctx.dtype("dtype") or "f32"
    if dtype in INTS and ctx.op.param("maxval") and ctx.arg_node("maxval") is None:
        ctx.err("E020", None, f"`{ctx.op.name}` of {dtype} needs maxval", "give the range: maxval=10")
    low, high = ctx.static("minval", None), ctx.static("maxval", None)
    if dtype in INTS and all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) and low >= high:
        ctx.err("E023", ctx.arg_node("maxval"), f"`{ctx.op.name}` of integers from {low} up to {high} is empty",
                "maxval must be above minval")
    return TensorT(dtype, _shape_argument(ctx, "shape"))


def _string_input(ctx: RuleContext) -> TensorT:
    x = ctx.first()
    if x.dtype is not None and x.dtype != "string":
        ctx.err("E023",
                ctx.arg_node(ctx.op.params[0].name),
                f"`{ctx.op.name}` works on strings, got {x}",
                "convert with as_string(x)")
    return x


def string_unary(ctx: RuleContext) -> Type:
    return TensorT("string", _string_input(ctx).shape)


def string_length(ctx: RuleContext) -> Type:
    return TensorT("i32", _string_input(ctx).shape)


def as_string(ctx: RuleContext) -> Type:
    return TensorT("string", ctx.first().shape)


def string_to_number(ctx: RuleContext) -> Type:
    return TensorT(ctx.dtype("out_type") or "f32", _string_input(ctx).shape)


def string_join(ctx: RuleContext) -> Type:
    """Inputs of one shape, or scalars (TensorFlow's StringJoin does not broadcast further)."""
    items = _tensor_items(ctx)
    shape: tuple[Dim, ...] | None = ()
    for item in items or [UNKNOWN]:
        if shape is None or item.shape is None:
            return TensorT("string", None)
        if shape and item.shape and (len(shape) != len(item.shape) or any(map(dims_conflict, shape, item.shape))):
            ctx.err("E041", None, f"`string_join`: inputs of shapes {list(shape)} and {list(item.shape)}",
                    "the inputs have one shape, or are scalars")
            return UNKNOWN
        shape = shape or item.shape
    return TensorT("string", shape)


def reduce_join(ctx: RuleContext) -> Type:
    x = _string_input(ctx)
    return TensorT("string", _reduced_shape(ctx, x))


def no_value(ctx: RuleContext) -> Type:
    return NO_VALUE


def tile(ctx: RuleContext) -> Type:
    x = ctx.first()
    multiples = _shape_argument(ctx, "multiples")
    if x.shape is not None and multiples is not None and len(multiples) != len(x.shape):
        ctx.err("E023",
                ctx.arg_node("multiples"),
                f"`tile` of {x} needs {len(x.shape)} multiples, got {len(multiples)}",
                "give one multiple per dimension")
        return TensorT(x.dtype, None)
    if x.shape is None or multiples is None:
        return TensorT(x.dtype, None if x.shape is None else tuple(None for _ in x.shape))
    return TensorT(x.dtype, tuple(d * m if isinstance(d, int) and isinstance(m, int) else None
                                  for d, m in zip(x.shape, multiples)))


def broadcast_to(ctx: RuleContext) -> Type:
    x = ctx.first()
    target = _shape_argument(ctx, "shape")
    if x.shape is not None and target is not None:
        _, problem = broadcast_dims(x.shape, target)
        if problem or len(x.shape) > len(target):
            ctx.err("E041",
                    None,
                    f"`broadcast_to`: {x} does not broadcast to {list(target)}",
                    "dims must be equal or 1, and the target rank at least the input's")
    return TensorT(x.dtype, target)


def argsort(ctx: RuleContext) -> Type:
    return TensorT("i32", ctx.first().shape)


RULES: dict[str, Callable[[RuleContext], Type]] = {
    "float_unary": float_unary, "unary": same, "binary": binary, "divide": divide, "compare": compare, "logical": logical,
    "logical_not": logical_not, "is_nan": is_nan, "reduce": reduce, "reduce_bool": reduce_bool,
    "argreduce": argreduce, "cast": cast, "matmul": matmul, "shape_of": shape_of, "scalar_int": scalar_int,
    "filled": filled, "fill": fill, "like": like, "range": range_, "concat": concat, "stack": stack,
    "expand_dims": expand_dims, "squeeze": squeeze, "reshape": reshape, "transpose": transpose,
    "one_hot": one_hot, "gather": gather, "where": where, "segment": segment,
    "unsorted_segment": unsorted_segment, "per_example_loss": per_example_loss, "sparse_loss": sparse_loss,
    "scalar_loss": scalar_loss, "random": random, "string_unary": string_unary,
    "string_length": string_length, "as_string": as_string, "string_to_number": string_to_number,
    "string_join": string_join, "reduce_join": reduce_join, "no_value": no_value, "tile": tile,
    "broadcast_to": broadcast_to, "argsort": argsort, "clip": clip, "pow": pow_,
    "broadcast_all": broadcast_all,
    "elementwise_loss": elementwise_loss, "constant": constant, "abs": abs_, "gather_nd": gather_nd, "einsum": einsum,
    "linspace": linspace, "categorical_sample": categorical_sample,
}
