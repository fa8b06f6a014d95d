"""`tfm inspect`: an exported SavedModel's signatures, readable, without loading or running it.

The signatures come from `saved_model.pb` read as data (`tfm.exports.savedmodel_proto`), and tfm's own
manifest from `tfm-export.json`; both may come from anyone, so every shown string is escaped.
"""

from __future__ import annotations

import json
from pathlib import Path

from tfm.dsl.diagnostics import printable

from tfm.exports.savedmodel_proto import SignatureInfo, TensorSpecInfo, UnreadableSavedModel, read_regular_file, read_signatures

MANIFEST_NAME = "tfm-export.json"
_MAX_MANIFEST_BYTES = 1 << 20


def describe(directory: str | Path) -> str:
    """Each signature with its inputs and outputs (name, dtype, shape; `?` for unknown dims)."""
    directory = Path(directory)
    signatures = read_signatures(directory)
    lines = [f"SavedModel {printable(str(directory))}"]
    manifest = read_manifest(directory)
    if manifest is not None:
        lines.append(f"  written by tfm {_text(manifest.get('tfm_version'))} from {_text(manifest.get('source'))}"
                     f" (module {_text(manifest.get('module'))})")
    for signature in sorted(signatures, key=lambda s: (s.key != "serving_default", s.key)):
        lines.extend(_signature_lines(signature))
    return "\n".join(lines)


def read_manifest(directory: Path) -> dict | None:
    """tfm's manifest in an export directory, or None if there is none or it is not tfm's."""
    path = Path(directory) / MANIFEST_NAME
    try:
        data = json.loads(read_regular_file(path, _MAX_MANIFEST_BYTES))
    except (UnreadableSavedModel, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == "tfm-export/1" else None


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
