"""Reductions and segment reductions: their entries and type rules."""

from __future__ import annotations

from .. import nodes as n
from ..folding import UNKNOWN_VALUE
from ..tensor_types import UNKNOWN, TensorT, Type, dims_conflict
from .registry import op
from .result_typing import RuleContext, check_axis, reduce, reduced_shape, require_bool, require_float
from .static_checks import is_int


def reduce_bool(ctx: RuleContext) -> Type:
    require_bool(ctx, ctx.op.params[0].name)
    return TensorT("bool", reduced_shape(ctx, ctx.first()))


def argreduce(ctx: RuleContext) -> Type:
    x = ctx.first()
    dtype = ctx.dtype("output_type") or "i64"
    if dtype not in ("i32", "i64", "i16", "u8", "u16"):
        ctx.report("E023", None, f"`{ctx.op.name}` output_type must be an integer dtype, got {dtype}", "use i32 or i64")
    axis = ctx.static("axis", UNKNOWN_VALUE)
    if axis not in (UNKNOWN_VALUE, None) and (not isinstance(axis, int) or isinstance(axis, bool)):
        ctx.report("E023", ctx.arg_node("axis"), f"`{ctx.op.name}` reduces one axis, got {axis!r}",
                "give one int axis (TensorFlow refuses a list)")
        return UNKNOWN
    if x.shape is None or axis is UNKNOWN_VALUE:
        return TensorT(dtype, None)
    index = check_axis(ctx, 0 if axis is None else axis, len(x.shape)) if x.shape else None
    if index is None:
        return TensorT(dtype, None)
    if x.shape[index] == 0:
        ctx.report("E023", ctx.arg_node("axis"), f"`{ctx.op.name}` along an axis of size 0 ({x}) has no answer",
                "TensorFlow fails on an empty axis")
        return UNKNOWN
    return TensorT(dtype, tuple(d for i, d in enumerate(x.shape) if i != index))


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
    known = count if isinstance(count, str) or is_int(count) and count >= 1 else None
    return TensorT(data.dtype, (known, *data.shape[len(ids.shape):]))


def _check_segment_ids(ctx: RuleContext, data: TensorT) -> None:
    """One segment id per row: the ids' shape is the start of the data's (TensorFlow fails at run time)."""
    ids = ctx.tensor("segment_ids") or UNKNOWN
    if data.shape is None or ids.shape is None:
        return
    if len(ids.shape) > len(data.shape) or any(map(dims_conflict, ids.shape, data.shape)):
        ctx.report("E041", ctx.arg_node("segment_ids"), f"`{ctx.op.name}`: segment ids {ids} for data {data}",
                "one id per row: the ids' shape is the first dims of the data's")


def moments_like(ctx: RuleContext) -> Type:
    """reduce_variance / reduce_std: a float reduction."""
    x = ctx.first()
    if not require_float(ctx, ctx.op.params[0].name, x):
        return UNKNOWN
    return reduce(ctx)


OPS = (
    op("reduce_variance", "tf.math.reduce_variance", "input_tensor, axis:static=None, keepdims:static=False",
       "reduce", moments_like, dtypes="input_tensor: float", static="keepdims: bool"),
    op("reduce_std", "tf.math.reduce_std", "input_tensor, axis:static=None, keepdims:static=False", "reduce",
       moments_like, dtypes="input_tensor: float", static="keepdims: bool"),
    op("reduce_sum", "tf.math.reduce_sum", "input_tensor, axis:static=None, keepdims:static=False", "reduce",
       reduce, dtypes="input_tensor: numeric", static="keepdims: bool"),
    op("reduce_mean", "tf.math.reduce_mean", "input_tensor, axis:static=None, keepdims:static=False", "reduce",
       reduce, dtypes="input_tensor: numeric", static="keepdims: bool"),
    op("reduce_max", "tf.math.reduce_max", "input_tensor, axis:static=None, keepdims:static=False", "reduce",
       reduce, dtypes="input_tensor: real", static="keepdims: bool"),
    op("reduce_min", "tf.math.reduce_min", "input_tensor, axis:static=None, keepdims:static=False", "reduce",
       reduce, dtypes="input_tensor: real", static="keepdims: bool"),
    op("reduce_prod", "tf.math.reduce_prod", "input_tensor, axis:static=None, keepdims:static=False", "reduce",
       reduce, dtypes="input_tensor: numeric", static="keepdims: bool"),
    op("reduce_any", "tf.math.reduce_any", "input_tensor, axis:static=None, keepdims:static=False", "reduce",
       reduce_bool, static="keepdims: bool"),
    op("reduce_all", "tf.math.reduce_all", "input_tensor, axis:static=None, keepdims:static=False", "reduce",
       reduce_bool, static="keepdims: bool"),
    op("reduce_logsumexp", "tf.math.reduce_logsumexp", "input_tensor, axis:static=None, keepdims:static=False",
       "reduce", reduce, dtypes="input_tensor: float", static="keepdims: bool"),
    op("argmax", "tf.math.argmax", "input, axis:static=None, output_type:dtype=None", "reduce", argreduce,
       dtypes="input: real bool", ranks="input: 1+", examples=("x", "x, axis=1, output_type=i32"),
       refused=("x, axis=2",)),
    op("argmin", "tf.math.argmin", "input, axis:static=None, output_type:dtype=None", "reduce", argreduce,
       dtypes="input: real bool", ranks="input: 1+"),
    op("segment_sum", "tf.math.segment_sum", "data, segment_ids", "segment", segment,
       dtypes="data: numeric, segment_ids: i32 i64", ranks="data segment_ids: 1+, segment_ids: 1",
       examples=("x, v",)),
    op("segment_mean", "tf.math.segment_mean", "data, segment_ids", "segment", segment,
       dtypes="data: numeric, segment_ids: i32 i64", ranks="data segment_ids: 1+, segment_ids: 1",
       examples=("x, v",)),
    op("segment_max", "tf.math.segment_max", "data, segment_ids", "segment", segment,
       dtypes="data: real, segment_ids: i32 i64", ranks="data segment_ids: 1+, segment_ids: 1", examples=("x, v",)),
    op("unsorted_segment_sum", "tf.math.unsorted_segment_sum", "data, segment_ids, num_segments", "segment",
       unsorted_segment, dtypes="data: numeric, segment_ids num_segments: i32 i64", ranks="data segment_ids: 1+",
       static="num_segments: positive", examples=("x, v, 2",), refused=("x, v, 0",)),
    op("unsorted_segment_mean", "tf.math.unsorted_segment_mean", "data, segment_ids, num_segments", "segment",
       unsorted_segment, dtypes="data: float, segment_ids num_segments: i32 i64", ranks="data segment_ids: 1+",
       static="num_segments: positive", examples=("x, v, 2",)),
    op("unsorted_segment_max", "tf.math.unsorted_segment_max", "data, segment_ids, num_segments", "segment",
       unsorted_segment, dtypes="data: real, segment_ids num_segments: i32 i64", ranks="data segment_ids: 1+",
       static="num_segments: positive", examples=("x, v, 2",)),
)
