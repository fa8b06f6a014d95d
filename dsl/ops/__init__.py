"""The op registry: every operation a `.tfm` body may call, one entry per op.

Each op is declared once, by `op(...)` in the file of its family (`math_ops.py`, `reduce_ops.py`,
`shape_ops.py`, `nn_ops.py`, `loss_ops.py`, `random_ops.py`, `string_ops.py`, `control_ops.py`), beside
the function that types its result: its TensorFlow lowering or runtime helper, parameters and defaults,
dtypes per argument, ranks, static-argument checks, effects. `registry.py` holds the entry type,
`result_typing.py` what type rules share, `operators.py` the typing of `+ - * / @ < ...` through the
same entries. The docs' op table, the highlighter and the differential fuzzer read this registry.

A new op is one `op(...)` entry in its family file (with its type rule beside it when no existing rule
fits, and a helper in `compiler/generate/runtime.py` if it lowers to one). `python -m tfm.derived` then
rewrites what is derived from the registry (the docs' op table, the TextMate grammar);
tests/ops/test_op_registry.py holds the entry to TensorFlow's signature and those files to the registry;
tests/support/differential.py runs it with every dtype and with arguments derived from the entry.

Ops that need a few lines of TF code lower to a helper function that the generator copies into the
generated file (`compiler/generate/runtime.py`), so generated code still imports only TF.

Nothing here reaches files, the network or Python callbacks: `tf.io.write_file`, `tf.py_function`,
`tf.numpy_function` and their kind are deliberately absent, so a model compiled from an untrusted
`.tfm` can only compute on tensors.
"""

from __future__ import annotations

from . import control_ops, loss_ops, math_ops, nn_ops, random_ops, reduce_ops, shape_ops, string_ops
from .dtypes import DTYPES
from .initializers import INITIALIZERS
from .names import ARRAY_POP, ARRAY_UPDATES, PYTHON_ONLY, STATIC_TYPES, VALUE_METHODS, static_python_type, \
    any_length_tuple, static_tuple_length, static_tuple_value
from .registry import REQUIRED, Op, OpParam
from .result_typing import RuleContext
from .static_checks import ACTIVATIONS, check_static_args

_FAMILIES = (math_ops, reduce_ops, shape_ops, nn_ops, loss_ops, random_ops, string_ops, control_ops)
OPS: dict[str, Op] = {entry.name: entry for family in _FAMILIES for entry in family.OPS}
assert len(OPS) == sum(len(family.OPS) for family in _FAMILIES), "an op is declared twice"

__all__ = ["ACTIVATIONS", "any_length_tuple", "ARRAY_POP", "ARRAY_UPDATES", "DTYPES", "INITIALIZERS", "OPS", "PYTHON_ONLY", "REQUIRED",
           "STATIC_TYPES", "VALUE_METHODS", "Op", "OpParam", "RuleContext", "check_static_args", "static_python_type",
           "static_tuple_length", "static_tuple_value"]
