"""The TFLite export format: convert the verified SavedModel, stamp it as tfm's, verify it loads.

The flatbuffer carries tfm's manifest as TFLite metadata (`tfm_export`), so tfm can tell its own
`.tflite` files from anyone else's and replaces only its own, even with `--force`.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from tfm.exports.formats import ExportError, ExportJob
from tfm.exports.publish import PublishError
from tfm.exports.savedmodel_proto import UnreadableSavedModel, read_regular_file

METADATA_NAME = "tfm_export"
_MAX_TFLITE_BYTES = 2**31 - 1


class TFLiteFormat:
    """A `.tflite` converted from the staged SavedModel, with every signature; verified by loading it
    in TensorFlow's TFLite interpreter and comparing its signatures with the contracts."""

    name = "TFLite flatbuffer"

    def write(self, job: ExportJob, path: Path) -> None:
        model = convert(job.tf, job.saved_model, [c.key for c in job.contracts], job.manifest)
        with open(path, "wb") as handle:
            handle.write(model)
            handle.flush()
            os.fsync(handle.fileno())

    def verify(self, job: ExportJob, path: Path) -> None:
        try:
            found = set(_interpreter(job.tf, path).get_signature_list())
        except Exception as exc:
            raise ExportError(f"the .tflite does not load: {str(exc).strip().splitlines()[0]}") from None
        wanted = {c.key for c in job.contracts}
        if found != wanted:
            raise ExportError(f"the .tflite has signatures {sorted(found)}, expected {sorted(wanted)}")


def _interpreter(tf, path: Path):
    """LiteRT's interpreter where ai-edge-litert is installed, else TensorFlow's (deprecated, quietly)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return tf.lite.Interpreter(model_path=str(path))
    return Interpreter(model_path=str(path))


def convert(tf, saved_model_dir: Path, signature_keys: list[str], manifest: dict) -> bytes:
    """The `.tflite` bytes for `signature_keys` of the SavedModel, stamped with `manifest`."""
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=signature_keys)
    # Variables updated by methods (assign_add, optimizers) need TFLite's resource variables.
    converter.experimental_enable_resource_variables = True
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    try:
        model = converter.convert()
    except Exception as exc:  # the converter raises many types; report the first line
        raise ExportError(f"TFLite conversion failed: {str(exc).strip().splitlines()[0]}") from None
    return stamp(model, manifest)


def stamp(model: bytes, manifest: dict) -> bytes:
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    tree = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    buffer = schema.BufferT()
    buffer.data = list(json.dumps(manifest, sort_keys=True, ensure_ascii=True).encode("ascii"))
    tree.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME.encode()
    entry.buffer = len(tree.buffers) - 1
    tree.metadata = [*(tree.metadata or []), entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(tree))


def written_by_tfm(path: Path) -> bool:
    """True if `path` is a TFLite flatbuffer carrying tfm's manifest."""
    try:
        data = read_regular_file(path, _MAX_TFLITE_BYTES)
    except UnreadableSavedModel:
        return False
    if data[4:8] != b"TFL3":
        return False
    try:
        from tensorflow.lite.python import schema_py_generated as schema

        model = schema.Model.GetRootAsModel(data, 0)
        return any(model.Metadata(i).Name() == METADATA_NAME.encode() for i in range(model.MetadataLength()))
    except Exception:  # a damaged flatbuffer is not one of tfm's
        return False


def check_replaceable_file(path: Path, force: bool) -> None:
    """Raise PublishError unless `path` is absent or (with `force`) a `.tflite` tfm wrote."""
    if not path.exists() and not path.is_symlink():
        return
    if not force:
        raise PublishError(f"{path} exists; pass --force to replace it")
    if path.is_symlink() or not path.is_file() or not written_by_tfm(path):
        raise PublishError(f"{path} exists and is not a .tflite written by tfm; tfm replaces only its own "
                           "files, even with --force")

