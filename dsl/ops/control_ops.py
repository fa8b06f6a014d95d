"""Ops about the program rather than one tensor: assertions, print, TensorArray, GradientTape."""

from __future__ import annotations

from ..folding import evaluate
from ..tensor_types import NO_VALUE, ArrayT, OtherT, TensorT, Type
from .registry import op
from .result_typing import RuleContext, same
from .static_checks import is_int_list


def no_value(ctx: RuleContext) -> Type:
    return NO_VALUE


def tensor_array(ctx: RuleContext) -> Type:
    """A typed list of the given dtype, its elements of `element_shape` when that is a literal list of ints."""
    dtype = ctx.bound.get("dtype", (None, None))[0]
    shape = evaluate(ctx.arg_node("element_shape")) if "element_shape" in ctx.bound else None
    element_shape = tuple(shape) if is_int_list(shape) else None
    return ArrayT(TensorT(dtype.name if isinstance(dtype, OtherT) else None, element_shape))


def gradient_tape(ctx: RuleContext) -> Type:
    return OtherT("tape")


OPS = (
    op("assert_equal", "tf.debugging.assert_equal", "x, y, message:static=None", "assert", no_value, shared="x y",
       static="message: str", effects="asserts"),
    op("assert_positive", "tf.debugging.assert_positive", "x, message:static=None", "assert", no_value,
       dtypes="x: real", static="message: str", effects="asserts"),
    op("check_numerics", "tf.debugging.check_numerics", "tensor, message:static", "assert", same,
       dtypes="tensor: float", static="message: str", effects="asserts", examples=("x, 'bad'",)),
    op("print", "tf.print", "", "io", no_value, effects="prints", variadic=True, result="none",
       examples=("x", "'x is', x")),
    op("TensorArray", "tf.TensorArray", "dtype:dtype, size, dynamic_size:static=None, element_shape:static=None",
       "array", tensor_array, keywords="element_shape", result="array"),
    op("GradientTape", "tf.GradientTape", "persistent:static=False", "autodiff", gradient_tape,
       static="persistent: bool", result="tape"),
)
