"""The dtypes of `.tfm`, what each is in TensorFlow, and the classes the registry names them by."""

from __future__ import annotations

import functools

from ..tensor_types import FLOATS, INTS

DTYPES: dict[str, str] = {
    "f16": "tf.float16", "bf16": "tf.bfloat16", "f32": "tf.float32", "f64": "tf.float64",
    "i8": "tf.int8", "i16": "tf.int16", "i32": "tf.int32", "i64": "tf.int64",
    "u8": "tf.uint8", "u16": "tf.uint16", "u32": "tf.uint32", "u64": "tf.uint64",
    "bool": "tf.bool", "string": "tf.string", "c64": "tf.complex64", "c128": "tf.complex128",
}

# Classes an entry's dtypes are written in: float (f16 bf16 f32 f64), sint (i8..i64), uint (u8..u64),
# int (both), complex, real (float int), numeric (real complex), any; `-NAME` removes a class or dtype.
DTYPE_CLASSES: dict[str, frozenset[str]] = {
    "float": FLOATS,
    "sint": frozenset(d for d in INTS if d.startswith("i")),
    "uint": frozenset(d for d in INTS if d.startswith("u")),
    "complex": frozenset({"c64", "c128"}),
}
DTYPE_CLASSES["int"] = INTS
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
