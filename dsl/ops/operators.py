"""Typing of the operators (`+ - * / // % ** @`, comparisons, unary `-`, `not`, `and`, `or`) through the
registry: each arithmetic or comparison operator lowers to the op whose entry names it (`add` is `+`),
so its kernel dtypes and result dtype rules are that entry's. Two Python values are computed by Python
at trace time, so the checker folds them as Python would.
"""

from __future__ import annotations

from .. import nodes as n
from ..diagnostics import Report
from ..folding import FoldError, fold_binary, fold_compare, fold_unary
from ..tensor_types import NO_VALUE, UNKNOWN, ArrayT, OutputsT, TensorT, Type, broadcast_dims, literal_type, unify_dtype
from .math_ops import OPS as _MATH_OPS, matmul_type, negative_int_power, true_division_dtype
from .result_typing import operator_has_kernel

COMPARISONS = frozenset({"<", "<=", ">", ">=", "==", "!="})
# operator -> its registry entry (unary minus is "neg")
OPERATOR_OPS = {entry.operator: entry for entry in _MATH_OPS if entry.operator}


def type_operator(symbol: str, operands: tuple[Type, ...], node: n.Node, report: Report) -> Type:
    """The type of `symbol` applied to `operands` (their types, in order) at `node` (a BinOp, Compare,
    BoolOp, UnaryOp, or an augmented assignment), each problem reported through `report`."""
    if symbol in ("and", "or"):
        return _logic(symbol, operands, node, report)
    if len(operands) == 1:
        return _unary(symbol, operands[0], node, report)
    left, right = operands
    if symbol == "@":
        if not (isinstance(left, TensorT) and isinstance(right, TensorT)):
            not_a_tensor(node, (left, right), report)
            return UNKNOWN
        return matmul_type(node, left, right, report)
    if symbol in COMPARISONS:
        return _compare(symbol, left, right, node, report)
    return _arith(symbol, left, right, node, report)


def not_a_tensor(node: n.Node, values: tuple[Type, ...], report: Report) -> None:
    """Report the first of `values` that is no tensor (a list or a call without a value)."""
    for value in values:
        if isinstance(value, ArrayT):
            report("E031", node, f"a {value} is not a tensor", "use `.stack()` to make it one")
            return
        if value is NO_VALUE:
            report("E031", node, "this call has no value", "it is a statement of its own")
            return
        if isinstance(value, OutputsT):
            report("E031", node, f"several outputs {value} are not a tensor", "take one: `out.name` or `a, b = ...`")
            return


def _arith(op: str, left: Type, right: Type, node: n.Node, report: Report) -> Type:
    if not (isinstance(left, TensorT) and isinstance(right, TensorT)):
        not_a_tensor(node, (left, right), report)
        return UNKNOWN
    dtype, problem = unify_dtype(left, right)
    if problem:
        report("E040", node, f"`{op}` mixes {problem}",
               f"TensorFlow does not convert between dtypes; cast one side, e.g. cast(x, {left.dtype or 'f32'})")
        return UNKNOWN
    if dtype == "string" and op != "+":
        report("E040", node, f"`{op}` is not defined on strings", "only `+` joins strings")
        return UNKNOWN
    if dtype == "bool" and op in "+-*/%@" and op != "**":
        report("E040", node, f"`{op}` is not defined on bool tensors", "cast to a number first")
        return UNKNOWN
    shape = _broadcast(node, left, right, report)
    if left.weak and right.weak and shape == ():
        return _python_arith(node, op, left, right, dtype, report)
    if not _has_kernel(node, op, dtype, report):
        return UNKNOWN
    if op == "**" and negative_int_power(dtype, right):
        report("E023", node.right if isinstance(node, n.BinOp) else node, f"an integer to the power {right.value}",
               "TensorFlow has no negative integer powers: cast to a float first")
        return UNKNOWN
    if op == "/":
        dtype = true_division_dtype(dtype)
    # A list literal combined with another Python value is a tensor of its own dtype from here on.
    return TensorT(dtype, shape)


def _python_arith(node: n.Node, op: str, left: TensorT, right: TensorT, dtype: str | None, report: Report) -> Type:
    """Two Python scalars: Python computes the result at trace time, so the checker folds it."""
    if left.value is None or right.value is None:  # a static parameter: known at construction
        return TensorT("f32" if op == "/" else dtype, (), weak=True)
    try:
        return literal_type(fold_binary(op, left.value, right.value))
    except FoldError as exc:
        report("E023", node, f"`{op}` of Python values: {exc}", "compute with smaller numbers")
        return UNKNOWN


def _broadcast(node: n.Node, left: TensorT, right: TensorT, report: Report):
    if left.shape is None or right.shape is None:
        return None
    shape, problem = broadcast_dims(left.shape, right.shape)
    if problem:
        from ..declarations import shape_text  # the checker's own type text; imported when a shape is wrong

        report("E041", node, f"shapes {shape_text(left)} and {shape_text(right)} do not broadcast (dims {problem})",
               "dims must be equal or 1; reshape or expand_dims one side")
    return shape


def _compare(op: str, left: Type, right: Type, node: n.Node, report: Report) -> Type:
    if not (isinstance(left, TensorT) and isinstance(right, TensorT)):
        not_a_tensor(node, (left, right), report)
        return UNKNOWN
    dtype, problem = unify_dtype(left, right)
    if problem:
        report("E040", node, f"`{op}` compares {problem}", "cast one side to the other's dtype")
    shape = _broadcast(node, left, right, report)
    if not problem and not (left.weak and right.weak and shape == ()):  # else Python compares them
        _has_kernel(node, op, dtype, report)
    if left.weak and right.weak and shape == ():
        if left.value is None or right.value is None:
            return TensorT("bool", (), weak=True)
        try:
            return literal_type(fold_compare(op, left.value, right.value))
        except FoldError as exc:
            report("E040", node, str(exc), None)
            return UNKNOWN
    return TensorT("bool", shape)


def _logic(op: str, values: tuple[Type, ...], node: n.Node, report: Report) -> Type:
    value_nodes = node.values if isinstance(node, n.BoolOp) else (node,) * len(values)
    for value, value_node in zip(values, value_nodes):
        _require_bool(value, value_node, f"`{op}`", report)
    result = values[0]
    for value in values[1:]:
        if isinstance(result, TensorT) and isinstance(value, TensorT):
            shape = _broadcast(node, result, value, report)
            result = TensorT("bool", shape, weak=result.weak and value.weak and shape == ())
    return result


def _require_bool(value: Type, node: n.Node, what: str, report: Report) -> None:
    if isinstance(value, TensorT) and value.dtype is not None and value.dtype != "bool":
        report("E043", node, f"{what} needs bool tensors, got {value}", "compare first, e.g. `x > 0.0`")


def _unary(op: str, value: Type, node: n.Node, report: Report) -> Type:
    if op == "not":
        _require_bool(value, node.operand if isinstance(node, n.UnaryOp) else node, "`not`", report)
    elif isinstance(value, TensorT) and value.dtype in ("bool", "string"):
        report("E040", node, f"unary `{op}` is not defined on {value.dtype}", "cast to a number first")
        return UNKNOWN
    elif op == "-" and isinstance(value, TensorT) and not value.weak:
        if not _has_kernel(node, "neg", value.dtype, report):
            return UNKNOWN
    if not isinstance(value, TensorT) or not value.weak:
        return value
    if value.shape != ():
        return TensorT(value.dtype, value.shape)  # `-[1, 2]`: a tensor, as a list has no `-`
    if value.value is None:
        return value
    try:
        return literal_type(fold_unary(op, value.value))
    except FoldError as exc:
        report("E023", node, f"unary `{op}` of a Python value: {exc}", None)
        return UNKNOWN


def _has_kernel(node: n.Node, symbol: str, dtype: str | None, report: Report) -> bool:
    """An operator on tensors of `dtype` lowers to a registry op; that op must have a kernel for it."""
    return operator_has_kernel(node, symbol, OPERATOR_OPS[symbol], dtype, report)
