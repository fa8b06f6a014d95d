"""`tfm inspect`: an exported SavedModel's signatures, readable, without loading or running it.

The signatures come from `saved_model.pb` read as data (`tfm.exports.savedmodel_proto`), and tfm's own
manifest from `tfm-export.json`; both may come from anyone, so every shown string is escaped.
"""

from __future__ import annotations

import json
from pathlib import Path

from tfm.dsl.diagnostics import printable

from tfm.exports.publish import read_manifest
from tfm.exports.savedmodel_proto import SignatureInfo, TensorSpecInfo, read_signatures



def describe(directory: str | Path) -> str:
    """Each signature with its inputs and outputs (name, dtype, shape; `?` for unknown dims), and what
    tfm's manifest says: where the export came from and which methods it does not serve."""
    directory = Path(directory)
    signatures = read_signatures(directory)
    lines = [f"SavedModel {printable(str(directory))}"]
    manifest = read_manifest(directory)
    if manifest is not None:
        lines.extend(_manifest_lines(manifest))
    for signature in sorted(signatures, key=lambda s: (s.key != "serving_default", s.key)):
        lines.extend(_signature_lines(signature))
    left_out = manifest.get("left_out") if manifest is not None else None
    if isinstance(left_out, dict) and left_out:
        lines.append("  not served:")
        lines.extend(f"    {_text(name)}: {_text(why)}" for name, why in sorted(left_out.items()))
    return "\n".join(lines)


def _manifest_lines(manifest: dict) -> list[str]:
    lines = [f"  written by tfm {_text(manifest.get('tfm_version'))} with TensorFlow "
             f"{_text(manifest.get('tensorflow_version'))}",
             f"  source {_text(manifest.get('source'))} (sha256 {_text(manifest.get('source_sha256'))})",
             f"  module {_text(manifest.get('module'))}"]
    init = manifest.get("init")
    if isinstance(init, dict) and init:
        lines.append("  constructed with " + ", ".join(f"{_text(k)}={_text(json.dumps(v))}" for k, v in init.items()))
    checkpoint = manifest.get("checkpoint")
    lines.append(f"  weights from checkpoint {_text(checkpoint)}" if checkpoint else "  weights as built or given")
    return lines


def _signature_lines(signature: SignatureInfo) -> list[str]:
    lines = [f"  signature {printable(signature.key)}"]
    lines += [f"    input  {printable(spec.name)}: {_spec(spec)}" for spec in signature.inputs]
    lines += [f"    output {printable(spec.name)}: {_spec(spec)}" for spec in signature.outputs]
    if not signature.outputs:
        lines.append("    (no outputs)")
    return lines


def _spec(spec: TensorSpecInfo) -> str:
    if spec.shape is None:
        return f"{spec.dtype}[...]"
    return f"{spec.dtype}[{', '.join('?' if d is None else str(d) for d in spec.shape)}]"


def _text(value: object) -> str:
    return printable(str(value)) if value is not None else "?"
