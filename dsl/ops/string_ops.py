"""String ops: entries and type rules."""

from __future__ import annotations

from ..tensor_types import UNKNOWN, Dim, TensorT, Type, dims_conflict
from .registry import op
from .result_typing import RuleContext, reduced_shape, tensor_items


def _string_input(ctx: RuleContext) -> TensorT:
    x = ctx.first()
    if x.dtype is not None and x.dtype != "string":
        ctx.report("E023",
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
    items = tensor_items(ctx)
    shape: tuple[Dim, ...] | None = ()
    for item in items or [UNKNOWN]:
        if shape is None or item.shape is None:
            return TensorT("string", None)
        if shape and item.shape and (len(shape) != len(item.shape) or any(map(dims_conflict, shape, item.shape))):
            ctx.report("E041", None, f"`string_join`: inputs of shapes {list(shape)} and {list(item.shape)}",
                    "the inputs have one shape, or are scalars")
            return UNKNOWN
        shape = shape or item.shape
    return TensorT("string", shape)


def reduce_join(ctx: RuleContext) -> Type:
    x = _string_input(ctx)
    return TensorT("string", reduced_shape(ctx, x))


OPS = (
    op("string_join", "tf.strings.join", "inputs:tensors, separator:static=''", "string", string_join,
       dtypes="inputs: string", static="separator: str", examples=("[x, x]", "[x, x], separator='-'")),
    op("string_length", "tf.strings.length", "input", "string", string_length),
    op("upper", "tf.strings.upper", "input", "string", string_unary),
    op("lower", "tf.strings.lower", "input", "string", string_unary),
    op("substr", "tf.strings.substr", "input, pos, len", "string", string_unary, examples=("x, 0, 1",)),
    op("as_string", "tf.strings.as_string", "input", "string", as_string),
    op("string_to_number", "tf.strings.to_number", "input, out_type:dtype=None", "string", string_to_number,
       examples=("x", "x, out_type=i64")),
    op("regex_replace", "tf.strings.regex_replace", "input, pattern:static, rewrite:static", "string", string_unary,
       static="pattern: regex, rewrite: str", examples=("x, 'a', 'b'", "x, '[a-z]+', 'b'"),
       refused=("x, '(', 'b'", "x, '[a-', 'b'")),
    op("reduce_join", "tf.strings.reduce_join", "inputs, axis:static=None, separator:static=''", "string",
       reduce_join, static="separator: str", keywords="separator", examples=("x", "x, axis=1, separator=','"),
       refused=("x, axis=2",)),
    op("strip", "tf.strings.strip", "input", "string", string_unary),
)
