"""Ops about the program rather than one tensor: assertions, print, TensorArray, GradientTape."""

from __future__ import annotations

from ..tensor_types import NO_VALUE, Type
from .registry import op
from .result_typing import RuleContext, same


def no_value(ctx: RuleContext) -> Type:
    return NO_VALUE


OPS = (
    op("assert_equal", "tf.debugging.assert_equal", "x, y, message:static=None", "assert", no_value, shared="x y",
       static="message: str", effects="asserts", examples=("x, x",)),
    op("assert_positive", "tf.debugging.assert_positive", "x, message:static=None", "assert", no_value,
       dtypes="x: real", static="message: str", effects="asserts", examples=("x",)),
    op("check_numerics", "tf.debugging.check_numerics", "tensor, message:static", "assert", same,
       dtypes="tensor: float", static="message: str", effects="asserts", examples=("x, 'bad'",), refused=("x, 3",)),
    op("print", "tf.print", "", "io", no_value, effects="prints", variadic=True, result="none",
       examples=("x", "'x is', x")),
    op("TensorArray", "tf.TensorArray", "dtype:dtype, size, dynamic_size:static=None, element_shape:static=None",
       "array", keywords="element_shape", result="array"),
    op("GradientTape", "tf.GradientTape", "persistent:static=False", "autodiff", static="persistent: bool",
       result="tape"),
)
