"""Shapes and construction (cast, reshape, concat, zeros, range, gather, where, pad...): entries and type rules."""

from __future__ import annotations

from typing import TypeGuard

from .. import nodes as n
from ..folding import UNKNOWN_VALUE, evaluate, fits, python_dtype
from ..tensor_types import INTS, UNKNOWN, Dim, DimExpr, TensorT, Type, broadcast_dims, dim_binary, dims_conflict, unify_dtype
from .registry import op
from .result_typing import (RuleContext, broadcast, check_axis, common_dtype, require_bool, same, shape_argument,
                            tensor_items)
from .static_checks import is_int, is_number


def cast(ctx: RuleContext) -> Type:
    return TensorT(ctx.dtype("dtype"), ctx.first().shape)


def shape_of(ctx: RuleContext) -> Type:
    x = ctx.first()
    if x.shape is None:
        return TensorT(ctx.dtype("out_type") or "i32", None)
    return TensorT(ctx.dtype("out_type") or "i32", (len(x.shape),), sizes=x.shape)


def scalar_int(ctx: RuleContext) -> Type:
    return TensorT(ctx.dtype("out_type") or "i32", ())


def filled(ctx: RuleContext) -> Type:
    return TensorT(ctx.dtype("dtype") or "f32", shape_argument(ctx, "shape"))


def fill(ctx: RuleContext) -> Type:
    value = ctx.tensor("value") or UNKNOWN
    return TensorT(value.dtype, shape_argument(ctx, "dims"))


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
    first, second, delta = (ctx.static(name, None) for name in ("start", "limit", "delta"))
    if not (is_number(first) and is_number(delta)):
        return
    start, limit = (0, first) if second is None else (first, second)
    if not is_number(limit):
        return
    if delta == 0 or delta > 0 and start > limit or delta < 0 and start < limit:
        ctx.report("E023", None, f"`range` from {start} to {limit} in steps of {delta}",
                "TensorFlow's range needs a step towards the limit: start <= limit for a positive step")


def concat(ctx: RuleContext) -> Type:
    items = tensor_items(ctx)
    if items is None:
        return UNKNOWN
    dtype = common_dtype(ctx, items)
    ranks = {len(t.shape) for t in items if t.shape is not None}
    if len(ranks) > 1:
        ctx.report("E052", None, f"`concat` of tensors with ranks {sorted(ranks)}", "all values need the same rank")
        return TensorT(dtype, None)
    shapes = [t.shape for t in items if t.shape is not None]
    if not ranks or len(ranks) == 1 and None in ranks or len(shapes) < len(items):
        return TensorT(dtype, None)
    rank = ranks.pop()
    axis = check_axis(ctx, ctx.static("axis", 0), rank) if rank else None
    if axis is None:
        return TensorT(dtype, None)
    result: list[Dim] = []
    for index in range(rank):
        dims = [shape[index] for shape in shapes]
        if index == axis:
            sizes = [d for d in dims if isinstance(d, int)]
            result.append(sum(sizes) if len(sizes) == len(dims) else None)
            continue
        known = {d for d in dims if isinstance(d, int)}
        if len(known) > 1:
            ctx.report("E052",
                    None,
                    f"`concat` along axis {axis}: dim {index} differs ({', '.join(map(str, dims))})",
                    "every other dimension must be equal")
        result.append(dims[0] if len(set(dims)) == 1 else (known.pop() if known else None))
    if rank == 1 and dtype in INTS:
        return _joined_sizes(dtype, tuple(result), items)
    return TensorT(dtype, tuple(result))


def _joined_sizes(dtype: str, shape: tuple[Dim, ...], items: list[TensorT]) -> TensorT:
    """A concat of integer vectors keeps the values the checker knows of them, as sizes: a size vector's
    (`shape(x)[:1]` holds `(N,)`) and a Python value's ints (`[0]`, a tuple parameter `dims: int[...]`
    in a body typed for one call), so `concat([shape(x)[:1], target_shape], 0)` holds `(N, *target_shape)`:
    a reshape to it has that shape, and `concat([[0], dims], 0)` is a perm a transpose knows."""
    held = [vector_sizes(t) for t in items]
    sizes = tuple(d for part in held if part is not None for d in part) if all(h is not None for h in held) else None
    return TensorT(dtype, shape, sizes=sizes)


def vector_sizes(value: TensorT) -> tuple[Dim, ...] | None:
    """The sizes an integer vector holds as dims: what `sizes` says (`shape(x)[:1]` holds `(N,)`), or a
    Python value's ints (`[4, -1]`, a tuple parameter's items in a body typed for one call)."""
    if value.sizes is not None and value.shape is not None and len(value.shape) == 1:
        return value.sizes
    if value.weak and isinstance(value.value, tuple) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value.value):
        return value.value
    return None


def stack(ctx: RuleContext) -> Type:
    items = tensor_items(ctx)
    if items is None:
        return UNKNOWN
    dtype = common_dtype(ctx, items)
    shapes = [t.shape for t in items if t.shape is not None]
    if len(shapes) < len(items):
        return TensorT(dtype, None)
    if len({len(s) for s in shapes}) > 1 or any(
            dims_conflict(a, b) for s in shapes[1:] for a, b in zip(shapes[0], s)):
        ctx.report("E052",
                None,
                f"`stack` of tensors with different shapes ({', '.join(str(t) for t in items)})",
                "stacked tensors must have one shape")
        return TensorT(dtype, None)
    base = shapes[0]
    axis = check_axis(ctx, ctx.static("axis", 0), len(base) + 1)
    if axis is None:
        return TensorT(dtype, None)
    return TensorT(dtype, (*base[:axis], len(items), *base[axis:]))


def expand_dims(ctx: RuleContext) -> Type:
    x = ctx.first()
    if x.shape is None:
        return TensorT(x.dtype, None)
    axis = check_axis(ctx, ctx.static("axis", UNKNOWN_VALUE), len(x.shape) + 1)
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
    checked = {check_axis(ctx, a, len(x.shape)) for a in axes}
    indices = {i for i in checked if i is not None}
    if len(indices) < len(checked):
        return TensorT(x.dtype, None)
    for index in indices:
        if isinstance(x.shape[index], int) and x.shape[index] != 1:
            ctx.report("E023",
                    None,
                    f"`squeeze`: dim {index} of {x} is {x.shape[index]}, not 1",
                    "only size-1 dims squeeze")
    return TensorT(x.dtype, tuple(d for i, d in enumerate(x.shape) if i not in indices))


def reshape(ctx: RuleContext) -> Type:
    x = ctx.first()
    target = shape_argument(ctx, "shape", inferred=True)
    if target is None:
        target = _held_target(ctx)
    if target is None:
        return TensorT(x.dtype, None)
    if sum(1 for d in target if d == -1) > 1:
        ctx.report("E053", None, "`reshape` has more than one -1", "at most one dimension can be inferred")
        return TensorT(x.dtype, None)
    counted, wanted = _elements(x.shape), _elements(tuple(d for d in target if d != -1))
    if counted is None or wanted is None:
        return TensorT(x.dtype, tuple(None if d == -1 else d for d in target))
    if -1 not in target:
        if counted[1] == wanted[1] and counted[0] != wanted[0]:
            ctx.report("E053", None, f"`reshape` of {x} ({_count_text(counted)} elements) to {_dims_list(target)} "
                       f"({_count_text(wanted)} elements)", "the number of elements must stay the same")
        return TensorT(x.dtype, target)
    return TensorT(x.dtype, tuple(_inferred(ctx, x, target, counted, wanted) if d == -1 else d for d in target))


def _held_target(ctx: RuleContext) -> tuple[Dim, ...] | None:
    """A reshape's target that is not a list written out but a vector whose sizes the checker knows
    (`concat([shape(x)[:1], target_shape], 0)`), its sizes checked as a list's are."""
    shape = ctx.tensor("shape")
    held = vector_sizes(shape) if shape is not None else None
    if held is None:
        return None
    negative = [d for d in held if isinstance(d, int) and d < -1]
    if negative:
        ctx.report("E023", ctx.arg_node("shape"), f"`reshape`: a size of {negative[0]} in `shape` ({_dims_list(held)})",
                   "sizes are 0 or more (one -1 is worked out from the others)")
        return None
    return held


# An element count as (the product of its known sizes, the other factors as a sorted tuple): f32[N, 14, 14, 8]
# has (1568, (N,)), f32[N, 2 * dim] (2, (N, dim)); None where a dim is unknown.
Count = tuple[int, tuple[Dim, ...]]


def _elements(shape: tuple[Dim, ...] | None) -> Count | None:
    if shape is None or any(d is None for d in shape):
        return None
    factors = [f for d in shape for f in _factors(d)]
    number = 1
    for f in factors:
        number *= f if isinstance(f, int) else 1
    return number, tuple(sorted((f for f in factors if not isinstance(f, int)), key=str))


def _factors(dim: Dim) -> list[Dim]:
    """A product's factors (`2 * dim` is 2 and dim); any other dim is one factor."""
    if isinstance(dim, DimExpr) and dim.op == "*":
        return [*_factors(dim.left), *_factors(dim.right)]
    return [dim]


def _inferred(ctx: RuleContext, x: TensorT, target: tuple[Dim, ...], counted: Count, wanted: Count) -> Dim:
    """The size a -1 stands for: what is left of the input's elements once the other sizes are taken,
    as a dim (`N`, `2 * N`, `N * T`). Where the input has a named dim the target does not, the -1 must
    hold it whole (a batch of N stays N times a size): a known part that does not divide is an error."""
    rest = list(counted[1])
    for d in wanted[1]:
        if d not in rest:
            return None  # the target names a size the input's count does not show: nothing to check
        rest.remove(d)
    number, per = counted[0], wanted[0]
    if per == 0 or number % per:
        left = " * ".join(map(str, rest))
        reason = (f"{number} is not a multiple of {per}, so the -1 cannot be {left} times a size" if rest
                  else f"{number} is not divisible by {per}")
        ctx.report("E053", None, f"`reshape` of {x} ({_count_text(counted)} elements) to {_dims_list(target)}: {reason}",
                   "the number of elements must stay the same: the other sizes must divide the input's")
        return None
    size: Dim = number // per
    for d in rest:
        size = dim_binary("*", size, d)
    return size


def _count_text(count: Count) -> str:
    return " * ".join([*([str(count[0])] if count[0] != 1 or not count[1] else []), *map(str, count[1])])


def _dims_list(dims: tuple[Dim, ...]) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"


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
    given = ctx.tensor("perm")
    held = vector_sizes(given) if perm is UNKNOWN_VALUE and given is not None else None
    if held is not None and all(isinstance(d, int) for d in held):
        perm = [d for d in held if isinstance(d, int)]  # values the checker knows (`concat([[0], dims], 0)`)
    if perm is None:
        return TensorT(x.dtype, tuple(reversed(x.shape)))
    if not isinstance(perm, list):
        return TensorT(x.dtype, None)
    if sorted(perm) != list(range(len(x.shape))):
        ctx.report("E023",
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
    known = depth if isinstance(depth, str) or is_int(depth) and depth >= 1 else None
    shape = None if indices.shape is None else (*indices.shape, known)
    values = {name: v for name in ("on_value", "off_value") if (v := ctx.tensor(name)) is not None}
    strong = [v.dtype for v in values.values() if not v.weak]
    dtype = ctx.dtype("dtype") or (strong[0] if strong else "f32")
    for name, value in values.items():  # TensorFlow converts both to the one dtype
        _, problem = unify_dtype(TensorT(dtype, ()), value)
        if problem:
            ctx.report("E040", ctx.arg_node(name), f"`one_hot` mixes {problem}", "give on_value and off_value one dtype")
            return UNKNOWN
    return TensorT(dtype, shape)


def gather(ctx: RuleContext) -> Type:
    params, indices = ctx.tensor("params") or UNKNOWN, ctx.tensor("indices") or UNKNOWN
    if indices.dtype is not None and indices.dtype not in INTS:
        ctx.report("E044",
                ctx.arg_node("indices"),
                f"`gather` indices must be integers, got {indices}",
                "cast them: cast(i, i32)")
    if params.shape is None or indices.shape is None:
        return TensorT(params.dtype, None)
    axis = check_axis(ctx, ctx.static("axis", 0) or 0, len(params.shape)) if params.shape else None
    batch_dims = ctx.static("batch_dims", 0)
    if axis is None or not isinstance(batch_dims, int) or isinstance(batch_dims, bool):
        return TensorT(params.dtype, None)
    if not 0 <= batch_dims <= min(axis, len(indices.shape)):
        ctx.report("E023",
                ctx.arg_node("batch_dims"),
                f"`gather`: batch_dims {batch_dims} must be from 0 to the axis ({axis}) and at most "
                        f"the rank of the indices ({len(indices.shape)})")
        return TensorT(params.dtype, None)
    if params.shape[axis] == 0 and _size(indices.shape) != 0:
        ctx.report("E044", ctx.arg_node("indices"), f"`gather` from an axis of size 0 ({params}): every index is out of range")
        return UNKNOWN
    return TensorT(params.dtype, (*params.shape[:axis], *indices.shape[batch_dims:], *params.shape[axis + 1:]))


def gather_nd(ctx: RuleContext) -> Type:
    params, indices = ctx.tensor("params") or UNKNOWN, ctx.tensor("indices") or UNKNOWN
    if indices.dtype is not None and indices.dtype not in ("i32", "i64") and not indices.weak:
        ctx.report("E044",
                ctx.arg_node("indices"),
                f"`gather_nd` indices must be i32 or i64, got {indices}",
                "cast them: cast(i, i32)")
    if params.shape is None or not indices.shape or not isinstance(indices.shape[-1], int):
        return TensorT(params.dtype, None)
    depth = indices.shape[-1]
    if depth > len(params.shape):
        ctx.report("E044",
                ctx.arg_node("indices"),
                f"`gather_nd`: index tuples of {depth} into {params}, which has rank {len(params.shape)}",
                "each index has at most one entry per dimension")
        return TensorT(params.dtype, None)
    wrong = _index_out_of_range(ctx.static("indices", None), params.shape)
    if wrong:
        ctx.report("E044", ctx.arg_node("indices"), f"`gather_nd`: index {wrong[0]} is out of range for dim {wrong[1]} "
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


def linspace(ctx: RuleContext) -> Type:
    start = ctx.tensor("start") or UNKNOWN
    num = ctx.static("num", None)
    dtype = "f32" if start.weak else start.dtype
    _, problem = unify_dtype(start, ctx.tensor("stop") or UNKNOWN)
    if problem:
        ctx.report("E040", ctx.arg_node("stop"), f"`linspace` mixes {problem}", "stop converts to start's dtype: cast it")
        return UNKNOWN
    if start.shape != ():
        return TensorT(dtype, None)
    return TensorT(dtype, (num if isinstance(num, int) and not isinstance(num, bool) else None,))


def where(ctx: RuleContext) -> Type:
    require_bool(ctx, "condition")
    condition = ctx.tensor("condition") or UNKNOWN
    x, y = ctx.tensor("x"), ctx.tensor("y")
    if x is None and y is None:
        return TensorT("i64", (None, condition.rank))
    if x is None or y is None:
        ctx.report("E020", None, "`where` takes a condition alone, or a condition with both x and y")
        return UNKNOWN
    dtype, problem = unify_dtype(x, y)
    if problem:
        ctx.report("E040", None, f"`where` mixes {problem}", "cast x or y to the other's dtype")
        return UNKNOWN
    shape = broadcast(ctx, x, y)
    if shape is not None and condition.shape is not None:
        shape, problem = broadcast_dims(condition.shape, shape)
        if problem:
            ctx.report("E041", None, f"`where`: condition {condition} does not broadcast with {x} and {y}")
    return TensorT(dtype, shape)


def constant(ctx: RuleContext) -> Type:
    """tf.constant of a literal: the dtype asked for (the value must convert to it) or TensorFlow's
    default for the value; the shape is the literal's nesting."""
    value = ctx.static("value", UNKNOWN_VALUE)
    if value is UNKNOWN_VALUE:
        return TensorT(ctx.dtype("dtype"), None)
    shape = _literal_shape(value)
    dtype = ctx.dtype("dtype") or _default_dtype(value)
    if shape is None:
        ctx.report("E034",
                ctx.arg_node("value"),
                f"`constant` of a ragged list {value!r}",
                "every row needs the same length")
    elif dtype is not None and not fits(value, dtype):
        ctx.report("E023",
                ctx.arg_node("value"),
                f"`constant`: {value!r} does not convert to {dtype}",
                "write a value of that dtype (1.0 for floats, True for bool, \"text\" for strings)")
    return TensorT(dtype, shape)


def _literal_shape(value: object) -> tuple[int, ...] | None:
    if not isinstance(value, list):
        return ()
    shapes = {_literal_shape(v) for v in value}
    if len(shapes) > 1:
        return None
    inner = shapes.pop() if shapes else ()
    return None if inner is None else (len(value), *inner)


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


def tile(ctx: RuleContext) -> Type:
    x = ctx.first()
    multiples = shape_argument(ctx, "multiples")
    if x.shape is not None and multiples is not None and len(multiples) != len(x.shape):
        ctx.report("E023",
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
    target = shape_argument(ctx, "shape")
    if x.shape is not None and target is not None:
        _, problem = broadcast_dims(x.shape, target)
        if problem or len(x.shape) > len(target):
            ctx.report("E041",
                    None,
                    f"`broadcast_to`: {x} does not broadcast to {list(target)}",
                    "dims must be equal or 1, and the target rank at least the input's")
    return TensorT(x.dtype, target)


def argsort(ctx: RuleContext) -> Type:
    return TensorT("i32", ctx.first().shape)


def pad(ctx: RuleContext) -> Type:
    """`pad(x, [[before, after], ...])`: one pair of non-negative ints per axis."""
    x = ctx.first()
    paddings = ctx.static("paddings")
    mode = ctx.static("mode", "CONSTANT")
    if not isinstance(mode, str) or mode.upper() not in ("CONSTANT", "REFLECT", "SYMMETRIC"):
        ctx.report("E023", ctx.arg_node("mode"), f"`pad`: mode must be 'CONSTANT', 'REFLECT' or 'SYMMETRIC', got {mode!r}")
        return UNKNOWN
    if paddings is None:  # pairs of constructor parameters: sizes known when the module is built
        paddings = _parameter_pairs(ctx.arg_node("paddings"))
    if not _is_padding_pairs(paddings):
        ctx.report("E023", ctx.arg_node("paddings"), f"`pad`: paddings must be a literal list of [before, after] "
                f"pairs of non-negative ints, got {paddings!r}", "e.g. [[0, 0], [1, 1]] for a matrix")
        return UNKNOWN
    if x.shape is None:
        return TensorT(x.dtype, None)
    if len(paddings) != len(x.shape):
        ctx.report("E023", ctx.arg_node("paddings"), f"`pad`: {len(paddings)} [before, after] pairs for {x}, "
                f"which has rank {len(x.shape)}", "give one pair per axis")
        return UNKNOWN
    mirrored = {"REFLECT": 1, "SYMMETRIC": 0}.get(mode.upper())  # a mirror pads from within the axis
    for axis, (d, pair) in enumerate(zip(x.shape, paddings)):
        widest = max((v for v in pair if v is not None), default=0)
        if mirrored is not None and isinstance(d, int) and widest > d - mirrored:
            ctx.report("E023", ctx.arg_node("paddings"), f"`pad`: {mode} padding of {widest} on axis {axis} of {x}",
                    f"{mode} pads at most {d - mirrored} there (the axis size{' less one' if mirrored else ''})")
            return UNKNOWN
    return TensorT(x.dtype, tuple(d + a + b if isinstance(d, int) and a is not None and b is not None else None
                                  for d, (a, b) in zip(x.shape, paddings)))


def _parameter_pairs(node: n.Node | None) -> object:
    """`[[0, 0], [p, p]]` with `p` a constructor parameter: the pairs, None for each size known only when
    the module is built (the argument is static: the op entry's marker has it checked), else None."""
    if not isinstance(node, n.ListLit) or not all(isinstance(p, n.ListLit) and len(p.items) == 2 for p in node.items):
        return None
    values = [[evaluate(v) for v in p.items] for p in node.items if isinstance(p, n.ListLit)]
    return [[None if v is UNKNOWN_VALUE else v for v in pair] for pair in values]


def _is_padding_pairs(value: object) -> TypeGuard[list[list[int | None]]]:
    """`[[before, after], ...]`: pairs of non-negative ints (None: a parameter's, known when built)."""
    return isinstance(value, list) and all(
        isinstance(p, list) and len(p) == 2 and all(v is None or is_int(v) and v >= 0 for v in p) for p in value)


OPS = (
    op("cast", "tf.cast", "x, dtype:dtype", "shape", cast, dtypes="x dtype: any -string",
       examples=("x, f32", "x, i32", "x, {dt}")),
    op("reshape", "tf.reshape", "tensor, shape", "shape", reshape, examples=("x, [3, 2]", "x, [-1]"),
       refused=("x, [4, 2]",)),
    op("transpose", "tf.transpose", "a, perm=None", "shape", transpose, examples=("x", "x, perm=[1, 0]"),
       refused=("x, perm=[0, 0]",)),
    op("concat", "tf.concat", "values:tensors, axis:static=0", "shape", concat, ranks="values: 1+",
       tfm_defaults="axis", examples=("[x, x]", "[x, x], axis=1"), refused=("[x, x], axis=2",)),
    op("stack", "tf.stack", "values:tensors, axis:static=0", "shape", stack, dtypes="values: any -u16",
       examples=("[x, x]", "[x, x], axis=2"), refused=("[x, x], axis=4",)),
    op("expand_dims", "tf.expand_dims", "input, axis:static", "shape", expand_dims, examples=("x, 0", "x, -1"),
       refused=("x, 3",)),
    op("squeeze", "tf.squeeze", "input, axis:static=None", "shape", squeeze,
       examples=("x", "expand_dims(x, 0), axis=0"), refused=("x, axis=0",)),
    op("tile", "tf.tile", "input, multiples", "shape", tile, dtypes="input: any -u16", examples=("x, [2, 1]",),
       refused=("x, [2]",)),
    op("broadcast_to", "tf.broadcast_to", "input, shape", "shape", broadcast_to, examples=("x, [4, 2, 3]",)),
    op("shape", "tf.shape", "input, out_type:dtype=None", "shape", shape_of, examples=("x", "x, out_type=i64")),
    op("size", "tf.size", "input, out_type:dtype=None", "shape", scalar_int, examples=("x", "x, out_type=i64")),
    op("rank", "tf.rank", "input", "shape", scalar_int),
    op("fill", "tf.fill", "dims, value", "shape", fill, ranks="dims: 1, value: 0", examples=("[2, 3], x[0, 0]",)),
    op("zeros", "tf.zeros", "shape, dtype:dtype=None", "shape", filled, examples=("[2, 3], dtype={dt}",)),
    op("ones", "tf.ones", "shape, dtype:dtype=None", "shape", filled, dtypes="dtype: any -string",
       examples=("[2, 3], dtype={dt}",)),
    op("zeros_like", "tf.zeros_like", "input, dtype:dtype=None", "shape", like, examples=("x", "x, dtype=f32")),
    op("ones_like", "tf.ones_like", "input, dtype:dtype=None", "shape", like, dtypes="dtype input: any -string",
       examples=("x", "x, dtype={dt}")),
    op("constant", "tf.constant", "value:static, dtype:dtype=None", "shape", constant,
       examples=("[1, 2], dtype={dt}", "1.5, dtype={dt}", "[[1, 2, 3]]")),
    op("range", "tf.range", "start, limit=None, delta=1, dtype:dtype=None", "shape", range_,
       dtypes="start limit delta dtype: f32 f64 bf16 i32 i64", ranks="start limit delta: 0",
       examples=("5, dtype={dt}", "1, 7, 2, dtype={dt}", "x[0, 0]")),
    op("linspace", "tf.linspace", "start, stop, num", "shape", linspace, dtypes="start stop: float, num: i32 i64",
       shared="start stop", ranks="start stop: 0", static="num: size", examples=("x[0, 0], x[1, 1], 5",)),
    op("one_hot", "tf.one_hot", "indices, depth, on_value=None, off_value=None, axis:static=None, dtype:dtype=None",
       "shape", one_hot, dtypes="indices: u8 i8 i32 i64, dtype on_value off_value: numeric",
       ranks="on_value off_value: 0", static="depth: positive",
       examples=("i, 3", "i, 3, dtype={dt}", "v, 4, on_value=x[0, 0], off_value=x[0, 1]"), refused=("i, -1",)),
    op("gather", "tf.gather", "params, indices, axis:static=None, batch_dims:static=0", "shape", gather,
       dtypes="indices: i32 i64", ranks="params: 1+", static="batch_dims: int", keywords="axis batch_dims",
       examples=("x, v", "x, v, axis=1", "x, i, axis=1, batch_dims=1"), refused=("x, v, axis=2",)),
    op("gather_nd", "tf.gather_nd", "params, indices", "shape", gather_nd, examples=("x, [[0, 1]]",)),
    op("where", "tf.where", "condition, x=None, y=None", "shape", where, shared="x y", examples=("b, x, x", "b")),
    op("sort", "tf.sort", "values, axis:static=-1, direction:static='ASCENDING'", "shape", same,
       dtypes="values: real", ranks="values: 1+", static="axis: axis, direction: one_of ASCENDING DESCENDING",
       examples=("x", "x, direction='DESCENDING'", "x, axis=0"), refused=("x, direction='UP'",)),
    op("argsort", "tf.argsort", "values, axis:static=-1, direction:static='ASCENDING'", "shape", argsort,
       dtypes="values: real", ranks="values: 1+", static="axis: axis, direction: one_of ASCENDING DESCENDING", refused=("x, direction='up'",)),
    op("reverse", "tf.reverse", "tensor, axis:static", "shape", same, static="axis: axes",
       examples=("x, [0]", "x, [-1]"), refused=("x, [2]",)),
    op("pad", "tf.pad", "tensor, paddings:static, mode:static='CONSTANT', constant_values=0", "shape", pad,
       dtypes="tensor: any",
       examples=("x, [[1, 0], [0, 2]]",
                 "x, [[1, 1], [1, 1]], mode='REFLECT'",
                 "x, [[0, 1], [2, 2]], mode='SYMMETRIC'"),
       refused=("x, [[1, 0]]", "x, [[-1, 0], [0, 0]]")),
    op("identity", "tf.identity", "input", "shape", same),
    op("stop_gradient", "tf.stop_gradient", "input", "shape", same),
)
