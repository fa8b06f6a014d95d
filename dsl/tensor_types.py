"""Static tensor types: a dtype and a shape whose dims are known sizes, names, or unknown.

A dim is an `int` (known), a `str` (a named dim such as `N`, or an `int` constructor parameter such as
`num_classes`: the same name means the same size), or None (unknown). `weak` marks Python values
(literals, static parameters) that take the dtype of the tensor they meet, as TensorFlow converts them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from .dtypes import of_kind
from .folding import fits, python_dtype



@dataclass(frozen=True)
class DimExpr:
    """A dimension computed from `int` parameters and named dims: `4 * 4 * g`, `H // 2`, `T - k + 1`.
    Built by `dim_binary`, which folds what is known, so two equal expressions are equal values and
    unify as one named dim does."""

    op: str
    left: Dim
    right: Dim

    @property
    def names(self) -> frozenset[str]:
        return frozenset(d for side in (self.left, self.right)
                         for d in ((side,) if isinstance(side, str) else side.names if isinstance(side, DimExpr) else ()))

    def __str__(self) -> str:
        return f"{_operand(self.left, self.op, False)} {self.op} {_operand(self.right, self.op, True)}"


Dim = int | str | DimExpr | None

DIM_OPERATORS = ("+", "-", "*", "//", "%")
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "//": 2, "%": 2}


def _operand(dim: Dim, op: str, right: bool) -> str:
    """A side of `op` as written: in parentheses where it binds more loosely (or equally, on the right)."""
    text = "?" if dim is None else str(dim)
    if isinstance(dim, DimExpr) and (_PRECEDENCE[dim.op] < _PRECEDENCE[op]
                                     or right and _PRECEDENCE[dim.op] == _PRECEDENCE[op]):
        return f"({text})"
    return text


def dim_binary(op: str, left: Dim, right: Dim) -> Dim:
    """`left op right` as a dim: folded to a size when both are sizes, unknown when either is, else a
    DimExpr with its identities applied (`x * 1`, `x + 0`), a number first in a product and last in a sum."""
    if left is None or right is None:
        return None
    if isinstance(left, int) and isinstance(right, int):
        if op in ("//", "%") and right == 0:
            return None  # reported where the dimension is written, when it is known there
        return {"+": left + right, "-": left - right, "*": left * right, "//": left // right if right else 0,
                "%": left % right if right else 0}[op]
    if (op == "*" and isinstance(right, int)) or (op == "+" and isinstance(left, int)):
        left, right = right, left  # a number first in a product (16 * g), last in a sum (T + 1)
    if (op == "*" and left == 1) or (op == "+" and left == 0):
        return right
    if (op in ("-", "+") and right == 0) or (op in ("*", "//") and right == 1):
        return left
    if op == "*" and isinstance(left, int) and isinstance(right, DimExpr) and right.op == op \
            and isinstance(right.left, int):
        return dim_binary(op, left * right.left, right.right)  # 4 * (4 * g) is 16 * g
    if op in ("+", "-") and isinstance(right, int) and isinstance(left, DimExpr) and left.op in ("+", "-") \
            and isinstance(left.right, int):  # (T + 1) + 2 is T + 3, (T - 1) - 1 is T - 2
        offset = (left.right if left.op == "+" else -left.right) + (right if op == "+" else -right)
        return dim_binary("+" if offset >= 0 else "-", left.left, abs(offset))
    return DimExpr(op, left, right)


def held_size(value: object) -> Dim:
    """The size an integer scalar holds as a dim: what `sizes` says (`shape(x)[1]` is `T`), or a Python
    int's value (`2`); None where it is not known as a size."""
    if not isinstance(value, TensorT) or value.shape != ():
        return None
    if value.sizes is not None and len(value.sizes) == 1:
        return value.sizes[0]
    if value.weak and isinstance(value.value, int) and not isinstance(value.value, bool):
        return value.value
    return None


def dim_parameter(name: str) -> str:
    """The constructor parameter a named dim reads: `kernel_size` for `kernel_size[0]` (an item of a
    tuple parameter, named as written), else the name itself."""
    return name.partition("[")[0]


def substitute(dim: Dim, values: Callable[[str], Dim]) -> Dim:
    """`dim` with each name replaced by `values(name)`, folded: `T - k + 1` at T=10, k=3 is 8."""
    if isinstance(dim, str):
        return values(dim)
    if isinstance(dim, DimExpr):
        return dim_binary(dim.op, substitute(dim.left, values), substitute(dim.right, values))
    return dim

FLOATS = of_kind("float")
INTS = of_kind("sint", "uint")
COMPLEX = of_kind("complex")
NUMERIC = FLOATS | INTS | COMPLEX


@dataclass(frozen=True)
class TensorT:
    """`weak`: a Python value (literal or static parameter) that takes the dtype of the tensor it meets;
    `value`: its folded value when known (a scalar, or a tuple for a list literal); `sizes`: an integer
    tensor's values as dims where they are sizes the checker knows (`shape(x)` of an `f32[N, T, 8]`
    holds `(N, T, 8)`, `shape(x)[1]` holds `(T,)`, `shape(x)[1] // 2` holds `(T // 2,)`), so a slice
    or a reshape bounded by them has that size. Kept only through the expressions that compute them:
    a value joined from two paths or carried by a loop loses them."""

    dtype: str | None
    shape: tuple[Dim, ...] | None
    weak: bool = False
    value: object = None
    sizes: tuple[Dim, ...] | None = None

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    def with_dtype(self, dtype: str | None) -> TensorT:
        return TensorT(dtype, self.shape)

    def with_shape(self, shape: tuple[Dim, ...] | None) -> TensorT:
        return TensorT(self.dtype, shape, self.weak and shape == ())

    def __str__(self) -> str:
        dtype = self.dtype or "?"
        if self.shape is None:
            return f"{dtype}[...]"
        return f"{dtype}[{', '.join('?' if d is None else str(d) for d in self.shape)}]"


@dataclass(frozen=True)
class ArrayT:
    """A typed list / TensorArray of `element` tensors."""

    element: TensorT

    def __str__(self) -> str:
        return f"list[{self.element}]"


@dataclass(frozen=True)
class OtherT:
    """Values that are not tensors: a gradient tape, a dtype name, method outputs, or nothing."""

    kind: str
    name: str | None = None

    def __str__(self) -> str:
        return self.kind


@dataclass(frozen=True)
class OutputsT:
    """The several named outputs of a method declared `-> (mean: f32[N, D], log_var: f32[N, D])`, in
    order: unpacked (`a, b = enc(x)`), read by name (`out.mean`) or position (`out[0]`), or returned."""

    outputs: tuple[tuple[str, TensorT], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.outputs)

    def get(self, name: str) -> TensorT | None:
        return next((t for output, t in self.outputs if output == name), None)

    def __str__(self) -> str:
        return "(" + ", ".join(f"{name}: {t}" for name, t in self.outputs) + ")"


Type = TensorT | ArrayT | OtherT | OutputsT
UNKNOWN = TensorT(None, None)
NO_VALUE = OtherT("nothing")


def literal_type(value: object) -> TensorT:
    """The weak type of a Python value: TF's defaults (int -> i32, or i64 beyond it; float -> f32).
    A value that is None is a static parameter whose value is known only at construction."""
    dtype = python_dtype(value)
    if dtype is None or isinstance(value, float) and not math.isfinite(value):
        return UNKNOWN  # reported where the literal is written
    return TensorT(dtype, (), weak=True, value=value)


def unify_dtype(a: TensorT, b: TensorT) -> tuple[str | None, str | None]:
    """(result dtype, problem): TF's rule that both sides of an op share one dtype, Python values adapt."""
    if a.dtype is None or b.dtype is None:
        return None, None  # unknown: nothing to report, nothing to pass on
    if a.dtype == b.dtype:
        return a.dtype, None
    if a.weak and b.weak:
        return _weak_pair(a.dtype, b.dtype)
    if not (a.weak or b.weak):
        return None, f"{a.dtype} and {b.dtype}"
    weak = b if b.weak else a
    strong_dtype, weak_dtype = (a.dtype, b.dtype) if b.weak else (b.dtype, a.dtype)
    if not _weak_fits(weak_dtype, strong_dtype):
        return None, f"{strong_dtype} and a Python {_python_name(weak_dtype)}"
    if weak.value is not None and not fits(weak.value, strong_dtype):
        return None, f"{strong_dtype} and the Python value {_shown(weak.value, strong_dtype)}, which does not fit in {strong_dtype}"
    return strong_dtype, None


_WEAK_INTS = frozenset({"i32", "i64"})


def _weak_pair(a: str, b: str) -> tuple[str | None, str | None]:
    """Two Python values, as Python combines them: ints widen, an int and a float make a float."""
    if a in _WEAK_INTS and b in _WEAK_INTS:
        return ("i64" if "i64" in (a, b) else "i32"), None
    if {a, b} <= _WEAK_INTS | {"f32"}:
        return "f32", None
    if a == b:
        return a, None
    return None, f"a Python {_python_name(a)} and a Python {_python_name(b)}"


def _weak_fits(weak: str, strong: str) -> bool:
    if weak in _WEAK_INTS:
        return strong in NUMERIC
    if weak == "f32":
        return strong in FLOATS | COMPLEX
    if weak == "bool":
        return strong == "bool"
    return weak == strong


def _python_name(dtype: str) -> str:
    return {"i32": "int", "i64": "int", "f32": "float", "bool": "bool", "string": "str"}.get(dtype, dtype)


def _shown(value: object, dtype: str) -> str:
    """The first item of a (nested) literal that does not fit `dtype`."""
    if isinstance(value, tuple):
        return next((_shown(v, dtype) for v in value if not fits(v, dtype)), repr(value))
    return repr(value)


def broadcast_dims(a: tuple[Dim, ...], b: tuple[Dim, ...]) -> tuple[tuple[Dim, ...] | None, str | None]:
    """NumPy broadcasting over known, named and unknown dims; a problem only where sizes surely differ."""
    result: list[Dim] = []
    for index in range(1, max(len(a), len(b)) + 1):
        x = a[-index] if index <= len(a) else 1
        y = b[-index] if index <= len(b) else 1
        dim, problem = _broadcast_dim(x, y)
        if problem:
            return None, problem
        result.append(dim)
    return tuple(reversed(result)), None


def _broadcast_dim(x: Dim, y: Dim) -> tuple[Dim, str | None]:
    if x == y:
        return x, None
    if x == 1:
        return y, None
    if y == 1:
        return x, None
    if isinstance(x, int) and isinstance(y, int):
        return None, f"{x} and {y}"
    if isinstance(x, int):
        return x, None
    if isinstance(y, int):
        return y, None
    return None, None


def dims_conflict(x: Dim, y: Dim) -> bool:
    """True only when two dims are surely different sizes."""
    return isinstance(x, int) and isinstance(y, int) and x != y


def same_type(a: Type, b: Type) -> bool:
    """Dtype and rank agree (what AutoGraph needs of a value across branches and iterations)."""
    if isinstance(a, TensorT) and isinstance(b, TensorT):
        if a.dtype and b.dtype and a.dtype != b.dtype and not (a.weak or b.weak):
            return False
        if a.weak != b.weak and a.dtype and b.dtype and a.dtype != b.dtype:
            return False
        if a.shape is not None and b.shape is not None:
            if len(a.shape) != len(b.shape):
                return False
            return not any(dims_conflict(x, y) for x, y in zip(a.shape, b.shape))
        return True
    if isinstance(a, OutputsT) and isinstance(b, OutputsT):  # a dict of tensors: the same names, each alike
        return a.names == b.names and all(same_type(x, y) for (_, x), (_, y) in zip(a.outputs, b.outputs))
    return type(a) is type(b)


def join(a: Type, b: Type) -> Type:
    """The type a name has after two paths that agree on dtype and rank: dims kept where equal."""
    if isinstance(a, OutputsT) and isinstance(b, OutputsT) and a.names == b.names:
        joined = [(name, join(x, y)) for (name, x), (_, y) in zip(a.outputs, b.outputs)]
        return OutputsT(tuple((name, t) for name, t in joined if isinstance(t, TensorT))) \
            if all(isinstance(t, TensorT) for _, t in joined) else a
    if isinstance(a, TensorT) and isinstance(b, TensorT):
        dtype = a.dtype if a.dtype == b.dtype else (a.dtype if b.weak else b.dtype if a.weak else None)
        if a.shape is None or b.shape is None or len(a.shape) != len(b.shape):
            return TensorT(dtype, None)
        return TensorT(dtype, tuple(x if x == y else None for x, y in zip(a.shape, b.shape)))
    return a
