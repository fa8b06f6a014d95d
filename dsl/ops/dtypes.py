"""The dtypes of `.tfm`, what each is in TensorFlow, and the classes the registry names them by."""

from __future__ import annotations

import functools

from ..dtypes import TABLE, of_kind

DTYPES: dict[str, str] = {row.name: f"tf.{row.tensorflow}" for row in TABLE}

# Classes an entry's dtypes are written in: float (f16 bf16 f32 f64), sint (i8..i64), uint (u8..u64),
# int (both), complex, real (float int), numeric (real complex), any; `-NAME` removes a class or dtype.
DTYPE_CLASSES: dict[str, frozenset[str]] = {kind: of_kind(kind) for kind in ("float", "sint", "uint", "complex")}
DTYPE_CLASSES["int"] = DTYPE_CLASSES["sint"] | DTYPE_CLASSES["uint"]
DTYPE_CLASSES["real"] = DTYPE_CLASSES["float"] | DTYPE_CLASSES["int"]
DTYPE_CLASSES["numeric"] = DTYPE_CLASSES["real"] | DTYPE_CLASSES["complex"]
DTYPE_CLASSES["any"] = frozenset(DTYPES)


@functools.cache
def dtype_set(spec: str) -> frozenset[str]:
    """'float sint -i8' -> the dtypes it names."""
    accepted: set[str] = set()
    for token in spec.split():
        name = token.removeprefix("-")
        members = DTYPE_CLASSES.get(name, {name})
        accepted = accepted - members if token.startswith("-") else accepted | members
    unknown = accepted - set(DTYPES)
    assert not unknown, f"unknown dtypes {unknown} in {spec!r}"
    return frozenset(accepted)
