"""The dtypes of `.tfm`: one row each, and every other dtype fact derived from these rows.

A row says what the dtype is called in `.tfm` and in TensorFlow, its class (the words the op
registry's dtype specs use), its size in bytes (for the memory budget) and the values it holds
(for constant folding: an integer's range, a float's largest finite magnitude)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DTypeClass = Literal["float", "sint", "uint", "complex", "bool", "string"]


@dataclass(frozen=True, slots=True)
class DType:
    name: str
    tensorflow: str  # the attribute of `tf`
    kind: DTypeClass
    size: int  # bytes per element (a string counts its handle)
    low: int | None = None  # an integer's range
    high: int | None = None
    largest: float | None = None  # a float's (or a complex part's) largest finite magnitude


def _sint(bits: int) -> DType:
    return DType(f"i{bits}", f"int{bits}", "sint", bits // 8, -2 ** (bits - 1), 2 ** (bits - 1) - 1)


def _uint(bits: int) -> DType:
    return DType(f"u{bits}", f"uint{bits}", "uint", bits // 8, 0, 2 ** bits - 1)


_F32_MAX, _F64_MAX = 3.4028234663852886e38, 1.7976931348623157e308
TABLE: tuple[DType, ...] = (
    DType("f16", "float16", "float", 2, largest=65504.0),
    DType("bf16", "bfloat16", "float", 2, largest=3.3895313892515355e38),
    DType("f32", "float32", "float", 4, largest=_F32_MAX),
    DType("f64", "float64", "float", 8, largest=_F64_MAX),
    *(_sint(bits) for bits in (8, 16, 32, 64)),
    *(_uint(bits) for bits in (8, 16, 32, 64)),
    DType("bool", "bool", "bool", 1),
    DType("string", "string", "string", 8),
    DType("c64", "complex64", "complex", 8, largest=_F32_MAX),
    DType("c128", "complex128", "complex", 16, largest=_F64_MAX),
)
BY_NAME: dict[str, DType] = {row.name: row for row in TABLE}


def of_kind(*kinds: DTypeClass) -> frozenset[str]:
    """The names of the dtypes of these classes."""
    return frozenset(row.name for row in TABLE if row.kind in kinds)
