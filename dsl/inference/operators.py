"""Operator typing: `+ - * / // % **`, `@`, comparisons, `and`/`or`/`not` and unary `-`, on already
typed operands. Every operator's dtype, shape and kernel rule is here, in plain functions that report
through the `report` they are handed (the op registry's operator entries are read in `_has_kernel`)."""

from __future__ import annotations

from .. import nodes as n
from ..declarations import shape_text
from ..diagnostics import Report
from ..folding import FoldError, fold_binary, fold_compare, fold_unary
from ..ops import DTYPES, KERNEL_DTYPES, OPERATOR_OPS, OPS
from ..shape_rules import negative_int_power
from ..tensor_types import (INTS, UNKNOWN, TensorT, Type, broadcast_dims, dims_conflict, literal_type,
                            unify_dtype)
from .value_checks import not_a_tensor, require_bool


def arith(report: Report, node: n.Node, op: str, left: Type, right: Type) -> Type:
    """`left op right` for an arithmetic operator (`node` is a BinOp, or the AugAssign of `x op= y`)."""
    if not (isinstance(left, TensorT) and isinstance(right, TensorT)):
        not_a_tensor(report, node, left, right)
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
    shape = broadcast(report, node, left, right)
    if left.weak and right.weak and shape == ():
        return _python_arith(report, node, op, left, right, dtype)
    if not _has_kernel(report, node, op, dtype):
        return UNKNOWN
    if op == "**" and negative_int_power(dtype, right):
        report("E023", node.right if isinstance(node, n.BinOp) else node, f"an integer to the power {right.value}",
               "TensorFlow has no negative integer powers: cast to a float first")
        return UNKNOWN
    if op == "/" and dtype in INTS:
        dtype = "f64" if dtype in ("i32", "i64", "u32", "u64") else "f32"
    # A list literal combined with another Python value is a tensor of its own dtype from here on.
    return TensorT(dtype, shape)


def _python_arith(report: Report, node: n.Node, op: str, left: TensorT, right: TensorT, dtype: str | None) -> Type:
    """Two Python scalars: Python computes the result at trace time, so the checker folds it."""
    if left.value is None or right.value is None:  # a static parameter: known at construction
        return TensorT("f32" if op == "/" else dtype, (), weak=True)
    try:
        return literal_type(fold_binary(op, left.value, right.value))
    except FoldError as exc:
        report("E023", node, f"`{op}` of Python values: {exc}", "compute with smaller numbers")
        return UNKNOWN


def broadcast(report: Report, node: n.Node, left: TensorT, right: TensorT):
    """The broadcast shape of two operands (None where a shape is unknown); E041 if they do not broadcast."""
    if left.shape is None or right.shape is None:
        return None
    shape, problem = broadcast_dims(left.shape, right.shape)
    if problem:
        report("E041", node, f"shapes {shape_text(left)} and {shape_text(right)} do not broadcast (dims {problem})",
               "dims must be equal or 1; reshape or expand_dims one side")
    return shape


def matmul(report: Report, node: n.Node, left: Type, right: Type, transpose_a=False, transpose_b=False) -> Type:
    """`left @ right`, and the `matmul` op's rule (which passes its transpose flags)."""
    if not (isinstance(left, TensorT) and isinstance(right, TensorT)):
        not_a_tensor(report, node, left, right)
        return UNKNOWN
    dtype, problem = unify_dtype(left, right)
    if problem:
        report("E040", node, f"matrix product mixes {problem}", "cast one side")
        return UNKNOWN
    if not _has_kernel(report, node, "@", dtype):
        return UNKNOWN
    if left.shape is None or right.shape is None:
        return TensorT(dtype, None)
    for side, value in (("left", left), ("right", right)):
        if len(value.shape) < 2:
            report("E042", node, f"the {side} side of a matrix product has rank {len(value.shape)} ({value})",
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


def compare(report: Report, node: n.Compare, left: Type, right: Type) -> Type:
    if not (isinstance(left, TensorT) and isinstance(right, TensorT)):
        not_a_tensor(report, node, left, right)
        return UNKNOWN
    dtype, problem = unify_dtype(left, right)
    if problem:
        report("E040", node, f"`{node.op}` compares {problem}", "cast one side to the other's dtype")
    shape = broadcast(report, node, left, right)
    if not problem and not (left.weak and right.weak and shape == ()):  # else Python compares them
        _has_kernel(report, node, node.op, dtype)
    if left.weak and right.weak and shape == ():
        if left.value is None or right.value is None:
            return TensorT("bool", (), weak=True)
        try:
            return literal_type(fold_compare(node.op, left.value, right.value))
        except FoldError as exc:
            report("E040", node, str(exc))
            return UNKNOWN
    return TensorT("bool", shape)


def bool_op(report: Report, node: n.BoolOp, values: list[Type]) -> Type:
    """`a and b and ...`, `a or b or ...`: bool operands, broadcast together."""
    result = values[0]
    for value, value_node in zip(values, node.values):
        require_bool(report, value, value_node, f"`{node.op}`")
    for value in values[1:]:
        if isinstance(result, TensorT) and isinstance(value, TensorT):
            shape = broadcast(report, node, result, value)
            result = TensorT("bool", shape, weak=result.weak and value.weak and shape == ())
    return result


def unary(report: Report, node: n.UnaryOp, value: Type) -> Type:
    """`-x`, `+x`, `not x` of a typed operand."""
    if node.op == "not":
        require_bool(report, value, node.operand, "`not`")
    elif isinstance(value, TensorT) and value.dtype in ("bool", "string"):
        report("E040", node, f"unary `{node.op}` is not defined on {value.dtype}", "cast to a number first")
        return UNKNOWN
    elif node.op == "-" and isinstance(value, TensorT) and not value.weak:
        if not _has_kernel(report, node, "neg", value.dtype):
            return UNKNOWN
    if not isinstance(value, TensorT) or not value.weak:
        return value
    if value.shape != ():
        return TensorT(value.dtype, value.shape)  # `-[1, 2]`: a tensor, as a list has no `-`
    if value.value is None:
        return value
    try:
        return literal_type(fold_unary(node.op, value.value))
    except FoldError as exc:
        report("E023", node, f"unary `{node.op}` of a Python value: {exc}")
        return UNKNOWN


def _has_kernel(report: Report, node: n.Node, symbol: str, dtype: str | None) -> bool:
    """An operator on tensors of `dtype` lowers to a registry op; that op must have a kernel for it."""
    op = OPS[OPERATOR_OPS[symbol]]
    allowed = KERNEL_DTYPES.get(op.name, {}).get(op.params[0].name)
    if dtype is None or allowed is None or dtype in allowed:
        return True
    shown = "unary -" if symbol == "neg" else symbol
    listed = ", ".join(d for d in DTYPES if d in allowed)
    report("E055", node, f"`{shown}` on {dtype} tensors has no TensorFlow kernel (it takes {listed})",
           f"cast it first: cast(x, {'f32' if 'f32' in allowed else 'i32'})")
    return False
