"""One call of one method of a built module (`tfm run`, `tfm.call`): its inputs made tensors of the
declared dtypes, the signature they fit chosen for a method declared with several, its outputs
handed back as numpy arrays by name."""

from __future__ import annotations

from typing import Any

from tfm.dsl import nodes as n
from tfm.dsl.analysis import Analysis, method_signature
from tfm.run.values import BadValue, RawValue, method_tensors


def fitting_signature(module: n.ModuleDef, called: str, method: n.Method, values: dict[str, RawValue],
                      analysis: Analysis) -> tuple[n.Method, list]:
    """(method, tensors): `values` made tensors for `method`, or, for a method declared with several
    signatures and `called` by its name, for the first signature whose shapes they fit."""
    if method.overload is None or called != method.overload:
        return method, method_tensors(method, values, analysis)
    signatures = [m for m in module.methods if m.overload == method.overload]
    for signature in signatures:
        try:
            tensors = method_tensors(signature, values, analysis)
        except BadValue:
            continue
        declared = [getattr(analysis.types[i.type], "shape", ()) for i in signature.inputs]
        if all(_shape_fits(tensor.shape, shape) for tensor, shape in zip(tensors, declared)):
            return signature, tensors
    shown = "; ".join(method_signature(m) for m in signatures)
    raise BadValue(f"no signature of {method.overload} takes these inputs; its signatures: {shown}")


def _shape_fits(shape, declared) -> bool:
    """A value's shape against a declared one: the same rank, every fixed size equal."""
    return len(shape) == len(declared) and all(not isinstance(d, int) or d == s for d, s in zip(declared, shape))


def output_arrays(outputs: Any) -> dict[str, Any]:
    """A method's outputs by name as numpy arrays: its named outputs, or `output_0` for a single one."""
    import numpy as np

    items = [] if outputs is None else outputs.items() if isinstance(outputs, dict) else [("output_0", outputs)]
    return {name: np.asarray(value.numpy()) for name, value in items}
