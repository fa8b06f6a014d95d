"""`tfm inspect`: an exported SavedModel's signatures, readable."""

from __future__ import annotations

from pathlib import Path


def describe(directory: str | Path) -> str:
    """Each signature with its inputs and outputs (name, dtype, shape; `?` for unknown dims)."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(directory))
    lines = [f"SavedModel {directory}"]
    for key in sorted(loaded.signatures, key=lambda k: (k != "serving_default", k)):
        function = loaded.signatures[key]
        _, inputs = function.structured_input_signature
        outputs = function.structured_outputs
        lines.append(f"  signature {key}")
        for name in sorted(inputs):
            lines.append(f"    input  {name}: {_spec(inputs[name])}")
        for name in sorted(outputs):
            lines.append(f"    output {name}: {_spec(outputs[name])}")
        if not outputs:
            lines.append("    (no outputs)")
    return "\n".join(lines)


def _spec(spec) -> str:
    if spec.shape.rank is None:
        return f"{spec.dtype.name}[...]"
    dims = ", ".join("?" if d is None else str(d) for d in spec.shape.as_list())
    return f"{spec.dtype.name}[{dims}]"
