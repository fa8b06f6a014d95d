"""Python values in `.tfm` code: how TensorFlow types them, whether they fit a dtype, and folding.

A literal in a method body is a Python value, as in a hand-written `tf.function`: arithmetic between
literals happens in Python (`3 / 2` is the float 1.5, so float32), and the result is converted when it
meets a tensor, where TensorFlow silently wraps what does not fit (`uint8 + -1` is 0, `int8 + 300` is
44). The checker folds literal arithmetic here, with Python's rules but bounded work, and rejects a
value that does not fit the dtype it is converted to.
"""

from __future__ import annotations

import math
from typing import TypeVar

from .dtypes import TABLE

INT_RANGES: dict[str, tuple[int, int]] = {
    row.name: (row.low, row.high) for row in TABLE if row.low is not None and row.high is not None}
FLOAT_MAX: dict[str, float] = {row.name: row.largest for row in TABLE if row.largest is not None}
_MAX_BITS = 64
_MAX_STRING = 1 << 16


class FoldError(ValueError):
    """Folding literal arithmetic failed (too large, division by zero); the message says which."""


def python_dtype(value: object) -> str | None:
    """The dtype `tf.constant(value)` gives a Python scalar (an int beyond int32 becomes int64)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        low, high = INT_RANGES["i32"]
        if low <= value <= high:
            return "i32"
        low, high = INT_RANGES["i64"]
        return "i64" if low <= value <= high else None
    if isinstance(value, float):
        return "f32"
    if isinstance(value, str):
        return "string"
    return None


def fits(value: object, dtype: str) -> bool:
    """True if the Python value (or every item of a tuple of them) converts to `dtype` without loss
    of range. Ints may meet float dtypes; floats may not meet int dtypes (TensorFlow refuses those)."""
    if isinstance(value, (tuple, list)):
        return all(fits(v, dtype) for v in value)
    if value is None:
        return True
    if isinstance(value, bool) or dtype == "bool":  # TensorFlow converts neither way between bool and numbers
        return isinstance(value, bool) and dtype == "bool"
    if isinstance(value, str) or dtype == "string":
        return isinstance(value, str) and dtype == "string"
    if dtype in INT_RANGES:
        low, high = INT_RANGES[dtype]
        return isinstance(value, int) and low <= value <= high
    if dtype in FLOAT_MAX:
        assert isinstance(value, (int, float))  # a literal's leaves left after bools and strings: numbers
        return math.isfinite(value) and abs(value) <= FLOAT_MAX[dtype]
    return True


def fold_binary(op: str, a: object, b: object) -> object:
    """`a op b` as Python computes it, refusing results too large to be a 64-bit number."""
    if isinstance(a, str) or isinstance(b, str):
        if op == "+" and isinstance(a, str) and isinstance(b, str) and len(a) + len(b) <= _MAX_STRING:
            return a + b
        raise FoldError(f"`{op}` is not defined on these Python values")
    assert isinstance(a, (int, float)) and isinstance(b, (int, float))  # folded values are Python scalars
    if op == "**":
        _check_power(a, b)
    try:
        result = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
                  "//": lambda: a // b, "%": lambda: a % b, "**": lambda: a ** b}[op]()
    except ZeroDivisionError:
        raise FoldError("division by zero") from None
    except OverflowError:
        raise FoldError("the result is too large for a float") from None
    return _bounded(result)


def fold_compare(op: str, a: object, b: object) -> bool:
    """`a op b` as Python computes it. Values Python cannot order (a string and a number) are refused
    whatever the operator, `==` too."""
    if isinstance(a, str) and isinstance(b, str):
        return _compare(op, a, b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return _compare(op, a, b)
    raise FoldError(f"`{op}` cannot compare these Python values")


_Ordered = TypeVar("_Ordered", str, float)


def _compare(op: str, a: _Ordered, b: _Ordered) -> bool:
    return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def fold_unary(op: str, a: object) -> object:
    if op == "not":
        return not a
    if isinstance(a, str):
        raise FoldError(f"unary `{op}` is not defined on a string")
    assert isinstance(a, (int, float))  # folded values are Python scalars
    return _bounded(-a if op == "-" else +a)


def _check_power(base: int | float | complex, exponent: int | float | complex) -> None:
    """Refuse `9 ** 9 ** 9` before computing it: estimate the size of the result from logarithms."""
    if isinstance(exponent, complex) or isinstance(base, complex):
        return
    if abs(base) in (0, 1) or exponent <= 0:
        return
    if exponent * math.log2(abs(base)) > (_MAX_BITS if isinstance(base, int) and isinstance(exponent, int)
                                          else 1024):
        raise FoldError(f"{base} ** {exponent} is too large to compute")


def _bounded(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value.bit_length() > _MAX_BITS:
        raise FoldError("the result does not fit in 64 bits")
    if isinstance(value, float) and not math.isfinite(value):
        raise FoldError("the result is too large for a float")
    if isinstance(value, complex):
        raise FoldError("the result is a complex number")
    return value


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN_VALUE"


UNKNOWN_VALUE = _Unknown()
"""What `evaluate` returns for an expression whose value is not known (a tensor, an unknown name)."""


def evaluate(node, env: dict | None = None) -> object:
    """The one evaluator of construction-time values: literals (lists of them too), names bound in
    `env` (constructor parameters), unary minus and literal arithmetic folded with Python's rules
    (bounded, as fold_binary). Anything else is UNKNOWN_VALUE."""
    from . import nodes as n  # folding is imported by the node-free modules too

    if isinstance(node, (n.IntLit, n.FloatLit, n.StringLit, n.BoolLit)):
        return node.value
    if isinstance(node, n.Name):
        return (env or {}).get(node.id, UNKNOWN_VALUE)
    if isinstance(node, n.ListLit):
        items = [evaluate(i, env) for i in node.items]
        return UNKNOWN_VALUE if any(i is UNKNOWN_VALUE for i in items) else items
    if isinstance(node, n.UnaryOp) and node.op in ("-", "+"):
        operand = evaluate(node.operand, env)
        if isinstance(operand, (int, float)) and not isinstance(operand, bool):
            try:
                return fold_unary(node.op, operand)
            except FoldError:  # out of range: the literal checks report it, this value stays unknown
                return UNKNOWN_VALUE
    elif isinstance(node, n.BinOp):
        left, right = evaluate(node.left, env), evaluate(node.right, env)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right)):
            try:
                return fold_binary(node.op, left, right)
            except (FoldError, KeyError):
                return UNKNOWN_VALUE
    return UNKNOWN_VALUE


def fold_failure(node) -> tuple[object, str] | None:
    """The first sub-expression of literals whose folding fails (`2 ** 64`, `1 / 0`) and why: what
    `evaluate` quietly calls unknown, for the checker to report where a construction-time value is
    written. Bottom-up over one walk, so a long chain of `+` costs no recursion."""
    from . import nodes as n
    from .analysis import walk

    values: dict[int, object] = {}
    for item in reversed(walk(node)):
        if isinstance(item, (n.IntLit, n.FloatLit)):
            if _bounded_or_none(item.value) is not None:  # a literal out of range is reported as such
                values[id(item)] = item.value
        elif isinstance(item, (n.BinOp, n.UnaryOp)):
            operands = [values.get(id(o), UNKNOWN_VALUE) for o in
                        ((item.left, item.right) if isinstance(item, n.BinOp) else (item.operand,))]
            if item.op == "not" or not all(_is_number(v) for v in operands):
                continue
            try:
                values[id(item)] = (fold_binary(item.op, *operands) if isinstance(item, n.BinOp)
                                    else fold_unary(item.op, *operands))
            except FoldError as exc:
                return item, f"`{item.op}` of Python values: {exc}"
            except KeyError:  # an operator Python values do not fold (`@`): not a literal computation
                continue
    return None


def _bounded_or_none(value: object) -> object:
    try:
        return _bounded(value)
    except FoldError:
        return None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
