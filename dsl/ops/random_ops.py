"""Random ops: a fresh value on every call (unlike numpy inside a tf.function), drawn by a stateless op
keyed by the calling module's random state (runtime helper `_RandomState`: variables, so checkpoints
hold it and a resumed run draws what an uninterrupted one would)."""

from __future__ import annotations

from ..tensor_types import INTS, UNKNOWN, TensorT, Type
from .registry import op
from .result_typing import RuleContext, same, shape_argument
from .static_checks import is_int


def categorical_sample(ctx: RuleContext) -> Type:
    logits = ctx.tensor("logits") or UNKNOWN
    num = ctx.static("num_samples", None)
    rows = logits.shape[0] if logits.shape and len(logits.shape) == 2 else None
    return TensorT(ctx.dtype("dtype") or "i64", (rows, num if isinstance(num, int) else None))


def random(ctx: RuleContext) -> Type:
    dtype = ctx.dtype("dtype") or "f32"
    if dtype in INTS and ctx.op.param("maxval") and ctx.arg_node("maxval") is None:
        ctx.report("E020", None, f"`{ctx.op.name}` of {dtype} needs maxval", "give the range: maxval=10")
    low, high = ctx.static("minval", None), ctx.static("maxval", None)
    if dtype in INTS and is_int(low) and is_int(high) and low >= high:
        ctx.report("E023", ctx.arg_node("maxval"), f"`{ctx.op.name}` of integers from {low} up to {high} is empty",
                "maxval must be above minval")
    return TensorT(dtype, shape_argument(ctx, "shape"))


OPS = (
    op("random_normal", "_random_normal", "shape, mean=0.0, stddev=1.0, dtype:dtype=None, seed:static=None",
       "random", random, dtypes="dtype: float", static="seed: int", effects="random",
       examples=("[2, 3], dtype={dt}",)),
    op("random_uniform", "_random_uniform", "shape, minval=0, maxval=None, dtype:dtype=None, seed:static=None",
       "random", random, dtypes="dtype: float i32 i64", static="seed: int", effects="random",
       examples=("[2, 3], dtype={dt}", "[2, 3], maxval=10, dtype={dt}")),
    op("truncated_normal", "_truncated_normal",
       "shape, mean=0.0, stddev=1.0, dtype:dtype=None, seed:static=None", "random", random, dtypes="dtype: float",
       static="seed: int", effects="random", examples=("[2, 3], dtype={dt}",)),
    op("random_shuffle", "_random_shuffle", "value, seed:static=None", "random", same, static="seed: int",
       effects="random", examples=("x", "x, seed=3")),
    op("categorical_sample", "_categorical_sample", "logits, num_samples, dtype:dtype=None, seed:static=None",
       "random", categorical_sample, dtypes="logits: float", ranks="logits: 2",
       static="seed: int, num_samples: size", effects="random", examples=("x, 2",)),
)
