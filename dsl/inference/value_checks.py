"""What a value must be where it is used: a fit for a declared type, a condition, an integer index, a
bool. Shared by every part of inference; each check reports through the `report` it is handed."""

from __future__ import annotations

from typing import TypeGuard

from .. import nodes as n
from ..diagnostics import Report
from ..tensor_types import INTS, NO_VALUE, ArrayT, OtherT, OutputsT, TensorT, Type, dims_conflict, unify_dtype


def is_python_value(value: Type) -> TypeGuard[TensorT]:
    return isinstance(value, TensorT) and value.weak


def is_python_condition(value: Type) -> TypeGuard[TensorT]:
    """A condition Python decides at trace time: a Python scalar. A list literal is a tensor, as everywhere."""
    return is_python_value(value) and value.shape == ()


def check_fits(report: Report, value: Type, target: TensorT, node: n.Node, what: str, code: str = "E049") -> None:
    """`value` can be stored where `target` is declared (a local, an output, an input, a list element)."""
    if not isinstance(value, TensorT):
        if isinstance(value, (ArrayT, OtherT, OutputsT)) and value is not NO_VALUE:
            hint = "stack the list with `.stack()`" if isinstance(value, ArrayT) else None
            report(code, node, f"{what}, got a {value}", hint)
        elif value is NO_VALUE:
            report(code, node, f"{what}, but this has no value")
        return
    if value.dtype and target.dtype:
        _, problem = unify_dtype(TensorT(target.dtype, target.shape), value)
        if problem:
            report(code, node, f"{what}, got {value}", f"cast it: cast(..., {target.dtype})")
            return
    if value.shape is None or target.shape is None:
        return
    if len(value.shape) != len(target.shape):
        report(code, node, f"{what}, got rank {len(value.shape)} ({value})",
               "reshape, squeeze or expand_dims to the declared rank")
    elif any(dims_conflict(a, b) for a, b in zip(value.shape, target.shape)):
        report(code, node, f"{what}, got {value}", "the fixed dimensions must match")


def check_condition(report: Report, test: Type, node: n.Node, keyword: str) -> None:
    if not isinstance(test, TensorT) or test.dtype is None:
        return
    if test.dtype != "bool":
        report("E045", node, f"`{keyword}` condition is {test}, not a bool",
               "compare it, e.g. `x > 0.0`, or use reduce_any/reduce_all")
    elif test.rank not in (None, 0):
        report("E045", node, f"`{keyword}` condition is {test}, not a scalar",
               "reduce it to one value with reduce_any(...) or reduce_all(...)")


def require_int(report: Report, value: Type, node: n.Node) -> None:
    if isinstance(value, TensorT) and value.dtype is not None and value.dtype not in INTS:
        report("E044", node, f"an index must be an integer, got {value}", "cast it: cast(i, i32)")
    elif isinstance(value, TensorT) and value.rank not in (None, 0):
        report("E044", node, f"an index must be a scalar, got {value}", "use gather(x, indices) for many")
