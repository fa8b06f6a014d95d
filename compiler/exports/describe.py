"""`tfm inspect`: an exported SavedModel or `.tflite`, readable, without loading or running it.

SavedModel signatures come from `saved_model.pb` read as data (`tfm.exports.savedmodel_proto`), a
`.tflite`'s from its flatbuffer (`tfm.exports.tflite_reader`), and tfm's manifest from
`tfm-export.json` or the flatbuffer's metadata. All of it may come from anyone: shown strings are
escaped, nothing is imported from or run for the export, a manifest nested deeper than
MAX_MANIFEST_DEPTH is one error, and the listing takes time linear in what it lists (tens of
thousands of inputs are listed, not compared with each other).
"""

from __future__ import annotations

import json
from pathlib import Path

from tfm.dsl.diagnostics import printable

from tfm.exports.publish import MANIFEST_NAME, read_manifest
from tfm.exports.savedmodel_proto import SignatureInfo, TensorSpecInfo, UnreadableSavedModel, read_signatures
from tfm.exports.tflite_reader import is_tflite, read_tflite

MAX_MANIFEST_DEPTH = 16  # tfm writes 4 levels


def inspect_export(path: str | Path) -> dict:
    """What `tfm inspect` shows, as data (the JSON format prints it as it is)."""
    path = Path(path)
    if path.is_file() and is_tflite(path):
        signatures, flex, manifest, size = read_tflite(path)
        found: dict[str, object] = {"kind": "TFLite", "path": str(path), "size_bytes": size, "flex_ops": flex}
    else:
        signatures, manifest = read_signatures(path), _read_manifest(path)
        found = {"kind": "SavedModel", "path": str(path)}
    _check_depth(manifest)
    given = manifest.get("declared") if manifest else None
    declared = given if isinstance(given, dict) else {}
    found["signatures"] = [_signature(s, declared.get(s.key)) for s in
                           sorted(signatures, key=lambda s: (s.key != "serving_default", s.key))]
    found["manifest"] = _plain(manifest) if manifest else None
    left_out = manifest.get("left_out") if manifest else None
    found["not_served"] = {str(k): str(v) for k, v in left_out.items()} if isinstance(left_out, dict) else {}
    return found


def _read_manifest(directory: Path) -> dict | None:
    try:
        return read_manifest(directory)
    except RecursionError:  # json's own guard against deep nesting
        raise UnreadableSavedModel(f"{MANIFEST_NAME} nests deeper than tfm's manifest ever does") from None


def _check_depth(manifest: object) -> None:
    """UnreadableSavedModel if the manifest nests deeper than MAX_MANIFEST_DEPTH (what is shown of it is
    copied and printed by recursive code); counted without recursion."""
    pending = [(manifest, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_MANIFEST_DEPTH:
            raise UnreadableSavedModel(f"the tfm manifest nests deeper than {MAX_MANIFEST_DEPTH} levels")
        items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        pending.extend((item, depth + 1) for item in items if isinstance(item, (dict, list)))


def _signature(signature: SignatureInfo, declared: object) -> dict:
    declared = declared if isinstance(declared, dict) else {}
    return {"key": signature.key,
            "inputs": _tensors(signature.inputs, declared.get("inputs")),
            "outputs": _tensors(signature.outputs, declared.get("outputs"))}


def _tensors(specs: tuple[TensorSpecInfo, ...], declared: object) -> list[dict]:
    """Specs as dicts, in the `.tfm`'s declared order where the manifest gives it, with its types."""
    types = {}
    if isinstance(declared, list):
        types = {str(item[0]): str(item[1]) for item in declared if isinstance(item, list) and len(item) == 2}
    rank = {name: i for i, name in enumerate(types)}
    ranked = sorted(specs, key=lambda s: (rank.get(s.name, len(rank)), s.name))
    return [{"name": s.name, "dtype": s.dtype, "shape": None if s.shape is None else list(s.shape),
             "declared": types.get(s.name)} for s in ranked]


def _plain(value: object) -> object:
    """JSON-safe, bounded copy of manifest data (it may come from anyone)."""
    return json.loads(json.dumps(value, default=str))


def describe(path: str | Path) -> str:
    """The text format: each signature's inputs and outputs (dtype, shape with `?` for unknown dims,
    and the `.tfm` type with its named dims), where the export came from, and what it does not serve."""
    found = inspect_export(path)
    lines = [f"{found['kind']} {printable(found['path'])}"]
    if found["kind"] == "TFLite":
        lines.append(f"  {found['size_bytes']:,} bytes; Select-TF (Flex) ops: "
                     f"{', '.join(map(printable, found['flex_ops'])) or 'none (builtin ops only)'}")
    if found["manifest"] is not None:
        lines.extend(_manifest_lines(found["manifest"]))
    for signature in found["signatures"]:
        lines.append(f"  signature {printable(signature['key'])}")
        lines += [f"    input  {_tensor_text(t)}" for t in signature["inputs"]]
        lines += [f"    output {_tensor_text(t)}" for t in signature["outputs"]]
        if not signature["outputs"]:
            lines.append("    (no outputs)")
    if found["not_served"]:
        lines.append("  not served:")
        lines.extend(f"    {printable(name)}: {printable(why)}" for name, why in sorted(found["not_served"].items()))
    return "\n".join(lines)


def _tensor_text(tensor: dict) -> str:
    shape = tensor["shape"]
    dims = "..." if shape is None else ", ".join("?" if d is None else str(d) for d in shape)
    text = f"{printable(tensor['name'])}: {printable(tensor['dtype'])}[{dims}]"
    return text + (f"  (declared {printable(tensor['declared'])})" if tensor["declared"] else "")


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


def _text(value: object) -> str:
    return printable(str(value)) if value is not None else "?"
