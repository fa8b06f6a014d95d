"""The dtype table (`dsl/dtypes.py`), from which every other dtype fact is derived, is TensorFlow's."""

from __future__ import annotations

import pytest
import tensorflow as tf

from tfm.dsl.dtypes import TABLE


@pytest.mark.parametrize("row", TABLE, ids=lambda row: row.name)
def test_dtype_row_is_tensorflows(row):
    dtype = getattr(tf, row.tensorflow)
    assert dtype.is_floating == (row.kind == "float")
    assert dtype.is_complex == (row.kind == "complex")
    assert (dtype.is_integer and not dtype.is_unsigned) == (row.kind == "sint")
    assert (dtype.is_integer and dtype.is_unsigned) == (row.kind == "uint")
    assert dtype.is_bool == (row.kind == "bool")
    if row.kind != "string":
        assert dtype.size == row.size
    if row.low is not None:
        assert (dtype.min, dtype.max) == (row.low, row.high)
    if row.kind == "float":
        assert float(dtype.max) == row.largest
    if row.kind == "complex":
        assert float(dtype.real_dtype.max) == row.largest
