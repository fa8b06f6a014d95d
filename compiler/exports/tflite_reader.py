"""A `.tflite` read as data for `tfm inspect`: its signatures, Select-TF ops and tfm's manifest, with
LiteRT's flatbuffer schema (no TensorFlow, nothing run). The file may come from anyone: a damaged
flatbuffer is an UnreadableSavedModel error, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tfm.exports.savedmodel_proto import SignatureInfo, TensorSpecInfo, UnreadableSavedModel, read_regular_file

MAX_TFLITE_BYTES = 2**31 - 1
METADATA_NAME = b"tfm_export"
# TFLite's TensorType enum, as TensorFlow names the dtypes.
_DTYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool", 7: "int16",
           8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64", 13: "resource", 14: "variant",
           15: "uint32", 16: "uint16", 17: "int4", 18: "bfloat16"}


def is_tflite(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(8)[4:8] == b"TFL3"
    except OSError:
        return False


def read_tflite(path: Path) -> tuple[list[SignatureInfo], list[str], dict | None, int]:
    """(signatures, Select-TF ops, tfm's manifest or None, size in bytes)."""
    data = read_regular_file(Path(path), MAX_TFLITE_BYTES)
    if data[4:8] != b"TFL3":
        raise UnreadableSavedModel("not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        from ai_edge_litert import schema_py_generated as schema

        model: Any = schema.Model.GetRootAsModel(data, 0)  # flatc's accessors are typed Optional throughout
        if model.SubgraphsLength() < 1 or model.Version() < 1:
            raise UnreadableSavedModel("a damaged TFLite flatbuffer (no subgraph)")
        signatures = [_signature(model, model.SignatureDefs(i)) for i in range(model.SignatureDefsLength())]
        flex = sorted({code.decode("ascii", "replace").removeprefix("Flex")
                       for code in (model.OperatorCodes(i).CustomCode() for i in range(model.OperatorCodesLength()))
                       if code and code.startswith(b"Flex")})
        manifest = _manifest(model)
    except UnreadableSavedModel:
        raise
    except Exception as exc:  # out-of-range offsets in a damaged or hostile file
        raise UnreadableSavedModel(f"a damaged TFLite flatbuffer ({type(exc).__name__})") from None
    return signatures, flex, manifest, len(data)


def _signature(model, signature) -> SignatureInfo:
    subgraph = model.Subgraphs(signature.SubgraphIndex())

    def specs(count, entry):
        found = []
        for j in range(count):
            item = entry(j)
            tensor = subgraph.Tensors(item.TensorIndex())
            dims = [tensor.ShapeSignature(k) for k in range(tensor.ShapeSignatureLength())] or \
                [tensor.Shape(k) for k in range(tensor.ShapeLength())]
            found.append(TensorSpecInfo(item.Name().decode("utf-8", "replace"), _DTYPES.get(tensor.Type(), "?"),
                                        tuple(None if d < 0 else d for d in dims)))
        return tuple(found)

    return SignatureInfo(signature.SignatureKey().decode("utf-8", "replace"),
                         specs(signature.InputsLength(), signature.Inputs),
                         specs(signature.OutputsLength(), signature.Outputs), "")


def _manifest(model) -> dict | None:
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() == METADATA_NAME:
            buffer = model.Buffers(entry.Buffer())
            raw = bytes(buffer.DataAsNumpy()) if buffer.DataLength() else b""
            try:
                data = json.loads(raw.decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                return None
            except RecursionError:  # json's own guard against deep nesting
                raise UnreadableSavedModel("its tfm manifest nests deeper than tfm's manifest ever does") from None
            return data if isinstance(data, dict) else None
    return None
