"""What an op's static arguments must be, beyond known at trace time: the checks an entry's `static=`
spec names (an axis of the input, one of a set of words, a probability, a regex...).

TensorFlow checks these only when it traces (or runs) the method; tfm checks them first, at the
argument's `.tfm` location.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Callable, TypeGuard

from ..diagnostics import Report
from ..folding import UNKNOWN_VALUE, evaluate
from ..regularizers import parse_regularizer
from ..tensor_types import TensorT

if TYPE_CHECKING:
    from .registry import Op


# What `activate(x, name)` and the layer library's `activation` accept (the runtime helper's table).
ACTIVATIONS = ("linear", "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "gelu_approximate", "sigmoid",
               "hard_sigmoid", "sparse_sigmoid", "log_sigmoid", "tanh", "hard_tanh", "tanh_shrink", "softmax",
               "log_softmax", "sparsemax", "softplus", "sparse_plus", "squareplus", "softsign", "silu", "swish",
               "hard_silu", "hard_swish", "mish", "exponential", "hard_shrink", "soft_shrink")
# The activations over the last axis, which a scalar lacks.
_AXIS_ACTIVATIONS = ("softmax", "log_softmax", "sparsemax")


def check_static_args(op: Op, bound: dict, report: Report) -> None:
    """Report each static argument of `op` (in `bound`: name -> (type, node)) that breaks its rule."""
    for name, (rule, words) in op.static_checks.items():
        if name not in bound:
            continue
        value = evaluate(bound[name][1])
        if value is UNKNOWN_VALUE:
            continue  # a constructor parameter: checked when the module is built
        problem = STATIC_CHECKS[rule](value, words, _first_rank(op, bound), bound)
        if problem:
            report("E023", bound[name][1], f"`{op.name}` argument `{name}`: {problem}", _HINTS.get(rule))


def _first_rank(op: Op, bound: dict) -> int | None:
    first = bound.get(op.params[0].name, (None, None))[0] if op.params else None
    return first.rank if isinstance(first, TensorT) else None


def _first_dtype(bound: dict) -> str | None:
    first = next(iter(bound.values()), (None, None))[0]
    return first.dtype if isinstance(first, TensorT) else None


def is_int(value: object) -> TypeGuard[int]:
    """An int, not a bool (which Python counts as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_int_list(value: object) -> TypeGuard[list[int]]:
    """A list of ints (of no bools)."""
    return isinstance(value, list) and all(is_int(a) for a in value)


def is_number(value: object) -> TypeGuard[int | float]:
    """An int or a float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _axis(value: object, words, rank: int | None, bound) -> str | None:
    if value is None or is_int(value):
        return _axes(value, words, rank, bound)
    return "must be one axis (an int)"


def _axes(value: object, words, rank: int | None, bound) -> str | None:
    if value is None:
        return None
    axes = [value] if is_int(value) else value
    if not is_int_list(axes):
        return "must be an axis or a list of axes (ints)"
    if rank is not None:
        wrong = [a for a in axes if not -rank <= a < rank]
        if wrong:
            return f"axis {wrong[0]} is out of range for rank {rank} (use {-rank} to {rank - 1})" if rank else \
                "a scalar has no axes"
        if len({a % rank for a in axes}) != len(axes):
            return f"{axes} names an axis twice"
    return None


def _one_of(value: object, words, rank, bound) -> str | None:
    return None if value in words else f"{value!r} is not one of {', '.join(map(repr, words))}"


def _norm_order(value: object, words, rank, bound) -> str | None:
    axis = evaluate(bound["axis"][1]) if "axis" in bound else None
    matrix = isinstance(axis, list) and len(axis) == 2  # as TensorFlow: no axis is a vector norm
    allowed = ("euclidean", "fro", 1, 2) if matrix else ("euclidean",)
    if matrix and value == 2 and _first_dtype(bound) in ("f16", "bf16"):
        return "the matrix 2-norm is computed by an SVD, which has no f16 or bf16 kernel: cast to f32 first"
    if value in allowed or not matrix and is_number(value) and value > 0 and math.isfinite(value):
        return None
    kind = "matrix norm (an axis pair)" if matrix else "vector norm"
    return f"{value!r} is not a supported {kind}: use {', '.join(map(repr, allowed))}" + (
        "" if matrix else " or a number above 0")


def _probability(value: object, words, rank, bound) -> str | None:
    return None if is_number(value) and 0 <= value < 1 else f"{value!r} is not a rate from 0 up to (not including) 1"


# Python-only regex syntax that RE2 (TensorFlow's regex engine) refuses.
_NOT_RE2 = re.compile(r"\(\?(?:[=!]|<[=!]|P=)|\\[1-9]|\(\?>|[*+?}]\+")


def _regex(value: object, words, rank, bound) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    try:
        re.compile(value)
    except re.error as exc:
        return f"{value!r} is not a valid regular expression ({exc})"
    if _NOT_RE2.search(value):
        return f"{value!r} uses lookaround, backreferences or possessive repeats, which RE2 does not have"
    return None


def _python_type(expected: type | tuple[type, ...], what: str) -> Callable:
    def check(value: object, words, rank, bound) -> str | None:
        ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
        return None if ok or value is None else f"must be {what}, got {value!r}"
    return check


def _positive(value: object, words, rank, bound) -> str | None:
    return None if is_int(value) and value >= 1 else f"{value!r} must be an int of 1 or more"


def _size(value: object, words, rank, bound) -> str | None:
    return None if is_int(value) and value >= 0 else f"{value!r} must be an int of 0 or more"


def _activation(value: object, words, rank, bound) -> str | None:
    if value in _AXIS_ACTIVATIONS and rank == 0:
        return f"{value} of a scalar: it needs at least one axis"
    return _one_of(value, ACTIVATIONS, rank, bound)


def _regularizer(value: object, words, rank, bound) -> str | None:
    if not isinstance(value, str):
        return "a regularizer is a string, e.g. \"l2(0.01)\""
    try:
        parse_regularizer(value)
    except ValueError as problem:
        return str(problem)
    return None


STATIC_CHECKS: dict[str, Callable] = {
    "axis": _axis, "axes": _axes, "one_of": _one_of, "norm_order": _norm_order, "probability": _probability,
    "regex": _regex, "str": _python_type(str, "a string"), "bool": _python_type(bool, "True or False"),
    "number": _python_type((int, float), "a number"), "int": _python_type(int, "an int"),
    "positive": _positive, "size": _size, "activation": _activation, "regularizer": _regularizer,
}
_HINTS = {
    "axis": "an axis counts from 0, or from -1 for the last", "axes": "each axis once, within the rank",
    "regex": "TensorFlow uses RE2 syntax: no lookaround, no backreferences", "activation": f"one of {', '.join(ACTIVATIONS)}",
    "regularizer": 'Keras\' regularizers: "l1(0.01)", "l2(0.01)", "l1_l2(l1=0.01, l2=0.01)", or "" for none',
}
