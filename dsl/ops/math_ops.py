"""Elementwise math, comparisons and logic, matrix products: their entries and type rules."""

from __future__ import annotations

from typing import Callable

from .. import nodes as n
from ..tensor_types import INTS, UNKNOWN, Dim, TensorT, Type, broadcast_dims, dims_conflict, unify_dtype
from .registry import Op, op
from .result_typing import (RuleContext, binary, broadcast, common_dtype, float_unary, operator_has_kernel, reduce,
                            require_bool, same)


def negative_int_power(dtype: str | None, exponent: TensorT) -> bool:
    """An integer power whose exponent is a Python value with a negative number in it."""
    values = exponent.value if isinstance(exponent.value, tuple) else (exponent.value,)
    return dtype in INTS and any(_negative(v) for v in values)


def _negative(value: object) -> bool:
    if isinstance(value, tuple):
        return any(_negative(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0


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
            ctx.report("E040", ctx.arg_node(name), f"`clip` mixes {problem}", "cast the bounds to the tensor's dtype")
            return UNKNOWN
        shape = broadcast(ctx, t, bound)
        if shape is not None and t.shape is not None and (
                len(shape) != len(t.shape) or any(dims_conflict(a, b) for a, b in zip(shape, t.shape))):
            ctx.report("E041", ctx.arg_node(name), f"`clip`: the bound {bound} widens {t} to {list(shape)}",
                    "a bound is a scalar or broadcasts to the clipped tensor's shape")
            return UNKNOWN
        result = TensorT(dtype, t.shape, result.weak and bound.weak)
    return TensorT(result.dtype, t.shape)


def pow_(ctx: RuleContext) -> Type:
    """`binary`, and an integer power must not be a known negative number (TensorFlow fails when it runs)."""
    result = binary(ctx)
    exponent = ctx.tensor("y")
    if isinstance(result, TensorT) and exponent is not None and negative_int_power(result.dtype, exponent):
        ctx.report("E023", ctx.arg_node("y"), f"an integer to the power {exponent.value}",
                "TensorFlow has no negative integer powers: cast to a float first")
        return UNKNOWN
    return result


def divide(ctx: RuleContext) -> Type:
    """True division (`/` too): integers become floats, as TensorFlow's tf.math.divide makes them."""
    result = binary(ctx)
    return TensorT(true_division_dtype(result.dtype), result.shape) if isinstance(result, TensorT) else result


def true_division_dtype(dtype: str | None) -> str | None:
    """The dtype of `a / b` of two `dtype` tensors: 32-bit and wider integers give f64, narrower f32."""
    if dtype not in INTS:
        return dtype
    return "f64" if dtype in ("i32", "i64", "u32", "u64") else "f32"


def compare(ctx: RuleContext) -> Type:
    result = binary(ctx)
    return TensorT("bool", result.shape) if isinstance(result, TensorT) else result


def logical(ctx: RuleContext) -> Type:
    for param in ctx.op.params:
        require_bool(ctx, param.name)
    result = binary(ctx)
    return TensorT("bool", result.shape)


def logical_not(ctx: RuleContext) -> Type:
    require_bool(ctx, ctx.op.params[0].name)
    return TensorT("bool", ctx.first().shape)


def is_nan(ctx: RuleContext) -> Type:
    return TensorT("bool", float_unary(ctx).shape if ctx.first().dtype else None)


def matmul(ctx: RuleContext) -> Type:
    a, b = ctx.tensor("a"), ctx.tensor("b")
    if a is None or b is None:
        return UNKNOWN
    return matmul_type(ctx.node, a, b, ctx.reporter, ctx.static("transpose_a", False) is True,
                       ctx.static("transpose_b", False) is True)


def matmul_type(node: n.Node, left: TensorT, right: TensorT, report: Callable, transpose_a: bool = False,
                transpose_b: bool = False) -> Type:
    """`left @ right`, and the matmul op's result (with its transposes)."""
    dtype, problem = unify_dtype(left, right)
    if problem:
        report("E040", node, f"matrix product mixes {problem}", "cast one side")
        return UNKNOWN
    if not operator_has_kernel(node, "@", _matmul_entry(), dtype, report):
        return UNKNOWN
    if left.shape is None or right.shape is None:
        return TensorT(dtype, None)
    for side, value, shape in (("left", left, left.shape), ("right", right, right.shape)):
        if len(shape) < 2:
            report("E042", node, f"the {side} side of a matrix product has rank {len(shape)} ({value})",
                   "matmul needs rank 2 or more; use x[None, :] or expand_dims")
            return TensorT(dtype, None)
    a = list(left.shape)
    b = list(right.shape)
    if transpose_a:
        a[-2:] = a[-1], a[-2]
    if transpose_b:
        b[-2:] = b[-1], b[-2]
    if dims_conflict(a[-1], b[-2]):
        report("E042", node, f"matrix product of {left} and {right}: inner dims {a[-1]} and {b[-2]} differ",
               "the left operand's last dim must equal the right operand's second-to-last")
    batch, problem = broadcast_dims(tuple(a[:-2]), tuple(b[:-2]))
    return TensorT(dtype, None if batch is None else (*batch, a[-2], b[-1]))


def _matmul_entry() -> Op:
    return next(entry for entry in OPS if entry.name == "matmul")


def einsum(ctx: RuleContext) -> Type:
    """The equation's output subscripts, sized from the operands; a malformed equation is an error."""
    equation = ctx.static("equation", None)
    operands = [t if isinstance(t, TensorT) else UNKNOWN for t, _ in ctx.variadic]
    for operand, node in ctx.variadic:
        if isinstance(node, n.ListLit) or isinstance(operand, TensorT) and operand.weak:
            ctx.report("E023", node, "`einsum` operands are tensors, not Python values or lists",
                    "make one a tensor: constant(...) or stack([...])")
            return UNKNOWN
    dtype = common_dtype(ctx, operands) if operands else None
    if not isinstance(equation, str) or "." in equation:
        return TensorT(dtype, None)
    inputs, arrow, output = equation.replace(" ", "").partition("->")
    terms = inputs.split(",")
    letters = "".join(terms)
    problem = _einsum_problem(terms, output if arrow else None, operands)
    if problem:
        ctx.report("E023",
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


_MAGNITUDE: dict[str | None, str] = {"c64": "f32", "c128": "f64"}  # keyed by a dtype that may be unknown


def abs_(ctx: RuleContext) -> Type:
    """abs of a complex tensor is its real magnitude."""
    x = ctx.first()
    return TensorT(_MAGNITUDE.get(x.dtype, x.dtype), x.shape, x.weak)


OPS = (
    op("abs", "tf.math.abs", "x", "math", abs_, dtypes="x: float sint complex"),
    op("exp", "tf.math.exp", "x", "math", float_unary),
    op("log", "tf.math.log", "x", "math", float_unary),
    op("log1p", "tf.math.log1p", "x", "math", float_unary),
    op("sqrt", "tf.math.sqrt", "x", "math", float_unary),
    op("rsqrt", "tf.math.rsqrt", "x", "math", float_unary),
    op("square", "tf.math.square", "x", "math", same, dtypes="x: numeric"),
    op("pow", "tf.math.pow", "x, y", "math", pow_, dtypes="x y: float sint complex", shared="x y", operator="**"),
    op("sin", "tf.math.sin", "x", "math", float_unary),
    op("cos", "tf.math.cos", "x", "math", float_unary),
    op("tan", "tf.math.tan", "x", "math", float_unary),
    op("tanh", "tf.math.tanh", "x", "math", float_unary),
    op("sigmoid", "tf.math.sigmoid", "x", "math", float_unary),
    op("floor", "tf.math.floor", "x", "math", same, dtypes="x: float"),
    op("ceil", "tf.math.ceil", "x", "math", same, dtypes="x: float"),
    op("round", "tf.math.round", "x", "math", same, dtypes="x: real"),
    op("sign", "tf.math.sign", "x", "math", same, dtypes="x: float sint complex"),
    op("add", "tf.math.add", "x, y", "math", binary, dtypes="x y: numeric string", shared="x y", operator="+"),
    # u8 and u16 have no kernel (`x - x` passes: grappler folds it to zeros)
    op("subtract", "tf.math.subtract", "x, y", "math", binary, dtypes="x y: numeric -u8 -u16", shared="x y",
       operator="-"),
    op("multiply", "tf.math.multiply", "x, y", "math", binary, dtypes="x y: numeric", shared="x y", operator="*"),
    op("divide", "tf.math.divide", "x, y", "math", divide, dtypes="x y: numeric", shared="x y", operator="/"),
    op("negative", "tf.math.negative", "x", "math", same, dtypes="x: float sint complex", operator="neg"),
    op("maximum", "tf.math.maximum", "x, y", "math", binary, dtypes="x y: real", shared="x y"),
    op("minimum", "tf.math.minimum", "x, y", "math", binary, dtypes="x y: real", shared="x y"),
    op("floordiv", "tf.math.floordiv", "x, y", "math", binary, dtypes="x y: real", shared="x y", operator="//"),
    op("mod", "tf.math.floormod", "x, y", "math", binary, dtypes="x y: real", shared="x y", operator="%"),
    op("clip", "tf.clip_by_value", "t, clip_value_min, clip_value_max", "math", clip,
       dtypes="t clip_value_min clip_value_max: real", shared="t clip_value_min clip_value_max"),
    op("matmul", "tf.linalg.matmul", "a, b, transpose_a:static=False, transpose_b:static=False", "math", matmul,
       dtypes="a b: float i32 i64 complex", shared="a b", static="transpose_a transpose_b: bool", operator="@",
       examples=("x, x, transpose_b=True", "x, x, transpose_a=True")),
    op("cumsum", "tf.math.cumsum", "x, axis:static=0", "math", same, dtypes="x: numeric", ranks="x: 1+",
       static="axis: axis"),
    op("cumprod", "tf.math.cumprod", "x, axis:static=0", "math", same, dtypes="x: numeric", ranks="x: 1+",
       static="axis: axis"),
    op("batch_matmul", "tf.linalg.matmul", "a, b, transpose_a:static=False, transpose_b:static=False", "math",
       matmul, dtypes="a b: float i32 i64 complex", shared="a b",
       examples=("x, x, transpose_b=True", "reshape(x, [1, 2, 3]), reshape(x, [1, 3, 2])")),
    op("erf", "tf.math.erf", "x", "math", float_unary, dtypes="x: float"),
    op("asin", "tf.math.asin", "x", "math", float_unary, dtypes="x: float"),
    op("acos", "tf.math.acos", "x", "math", float_unary, dtypes="x: float"),
    op("atan", "tf.math.atan", "x", "math", float_unary, dtypes="x: float"),
    op("sinh", "tf.math.sinh", "x", "math", float_unary, dtypes="x: float"),
    op("cosh", "tf.math.cosh", "x", "math", float_unary, dtypes="x: float"),
    op("expm1", "tf.math.expm1", "x", "math", float_unary, dtypes="x: float"),
    op("reciprocal", "tf.math.reciprocal", "x", "math", same, dtypes="x: float complex"),
    op("atan2", "tf.math.atan2", "y, x", "math", binary, dtypes="y x: float", shared="y x"),
    op("squared_difference", "tf.math.squared_difference", "x, y", "math", binary,
       dtypes="x y: float i32 i64 complex", shared="x y"),
    op("logical_xor", "tf.math.logical_xor", "x, y", "compare", logical, dtypes="x y: bool", shared="x y"),
    op("is_finite", "tf.math.is_finite", "x", "compare", is_nan, dtypes="x: float"),
    op("is_inf", "tf.math.is_inf", "x", "compare", is_nan, dtypes="x: float"),
    op("norm", "tf.norm", "tensor, ord:static='euclidean', axis:static=None, keepdims:static=None", "math", reduce,
       dtypes="tensor: float", static="axis: axes, ord: norm_order, keepdims: bool",
       examples=("x",
                 "x, axis=1",
                 "x, ord=1, axis=1",
                 "x, ord='fro', axis=[0, 1]",
                 "x, ord=3",
                 "x, ord=0.5",
                 "x, ord=2, axis=[0, 1]",
                 "x, ord=1, axis=[0, 1]"),
       refused=("x, ord=0", "x, axis=3", "x, ord=-1", "x, ord='fro'", "x, ord='fro', axis=1",
                "x, ord=3, axis=[0, 1]")),
    op("l2_normalize", "tf.math.l2_normalize", "x, axis:static=None, epsilon:static=1e-12", "math", float_unary,
       dtypes="x: float", static="axis: axis, epsilon: number", refused=("x, axis=5",)),
    op("equal", "tf.math.equal", "x, y", "compare", compare, shared="x y", operator="=="),
    op("not_equal", "tf.math.not_equal", "x, y", "compare", compare, shared="x y", operator="!="),
    op("greater", "tf.math.greater", "x, y", "compare", compare, dtypes="x y: real", shared="x y", operator=">"),
    op("greater_equal", "tf.math.greater_equal", "x, y", "compare", compare, dtypes="x y: real", shared="x y",
       operator=">="),
    op("less", "tf.math.less", "x, y", "compare", compare, dtypes="x y: real", shared="x y", operator="<"),
    op("less_equal", "tf.math.less_equal", "x, y", "compare", compare, dtypes="x y: real", shared="x y",
       operator="<="),
    op("logical_and", "tf.math.logical_and", "x, y", "compare", logical, shared="x y"),
    op("logical_or", "tf.math.logical_or", "x, y", "compare", logical, shared="x y"),
    op("logical_not", "tf.math.logical_not", "x", "compare", logical_not),
    op("is_nan", "tf.math.is_nan", "x", "compare", is_nan),
    op("einsum", "tf.einsum", "equation:static", "math", einsum, dtypes="*: float i32 i64 complex", variadic=True,
       examples=("'ij->ji', x", "'ij,kj->ik', x, x"), refused=("'ij->k', x", "'ijk->i', x", "'ij,jk->ik', x")),
)
