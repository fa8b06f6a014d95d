"""The TFLite export format: convert the verified SavedModel, stamp it as tfm's, verify it loads.

The flatbuffer carries tfm's manifest as TFLite metadata (`tfm_export`), so tfm can tell its own
`.tflite` files from anyone else's and replaces only its own, even with `--force`.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfm.dsl.diagnostics import first_line

from tfm.exports.formats import ExportError, ExportJob
from tfm.exports.tflite_samples import flex_message, run_samples
from tfm.generate.precision import tflite_refusal
from tfm.run.quiet import native_stderr_captured
from tfm.exports.publish import PublishError
from tfm.exports.savedmodel_proto import UnreadableSavedModel, read_regular_file

METADATA_NAME = "tfm_export"
_MAX_TFLITE_BYTES = 2**31 - 1


@dataclass(frozen=True)
class TFLiteOptions:
    """Builtin ops only unless `allow_flex`; `quantize` is None, "dynamic", "float16" or "int8" (int8
    calibrates on `representative_data`, an .npz/.npy of the serving inputs). The metadata is each
    option's help for `tfm export`."""

    allow_flex: bool = field(default=False, metadata={
        "help": "allow Select-TF (Flex) ops in the .tflite where builtins are not enough"})
    quantize: str | None = field(default=None, metadata={
        "help": "quantize the .tflite", "choices": ("dynamic", "float16", "int8")})
    representative_data: Path | None = field(default=None, metadata={
        "help": "int8 calibration inputs: arrays named after the serving inputs (or one .npy)",
        "metavar": "FILE.npz"})

    def __post_init__(self) -> None:
        if self.representative_data is not None:
            object.__setattr__(self, "representative_data", Path(self.representative_data))


@dataclass
class TFLiteReport:
    size: int = 0
    flex_ops: list[str] = field(default_factory=list)
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    random: dict[str, str] = field(default_factory=dict)  # signature -> the random op it runs: values not compared
    runtime: str | None = "LiteRT"  # None: not run (Select-TF ops need the Flex delegate)


class TFLiteFormat:
    """A `.tflite` converted from the staged SavedModel, with every served signature, verified by running
    each signature in LiteRT in a separate process (no TensorFlow there) on sample inputs and comparing
    with the SavedModel's outputs."""

    name = "TFLite flatbuffer"
    suffix = ".tflite"
    options_type = TFLiteOptions
    help = ("also convert to a TFLite flatbuffer (builtin ops only), run it in LiteRT on sample inputs and compare "
            "with the SavedModel")

    def __init__(self, options: TFLiteOptions | None = None):
        self.options = options or TFLiteOptions()
        self.report = TFLiteReport()

    def write(self, job: ExportJob, path: Path) -> None:
        if job.saved_model is None:
            raise ExportError("the .tflite is converted from the staged SavedModel, and there is none")
        _refuse_any_rank(job)
        refusal = tflite_refusal(getattr(job.instance, "_dtype_policy", None), self.options.allow_flex)
        if refusal:
            raise ExportError(refusal)
        try:
            model = convert(job.tf, job.saved_model, [c.key for c in job.contracts], job.manifest, self.options)
        except FlexOpsNeeded as exc:
            raise ExportError(flex_message(exc.ops, job)) from None
        self.report.size = len(model)
        self.report.flex_ops = flex_ops_of(model)
        with open(path, "wb") as handle:
            handle.write(model)
            handle.flush()
            os.fsync(handle.fileno())

    def check_replaceable(self, path: Path, force: bool) -> None:
        check_replaceable_file(path, force)

    def summary(self, path: Path) -> str:
        report = self.report
        if report.runtime is None:
            return (f"wrote {path} ({report.size:,} bytes) with Select-TF (Flex) ops {', '.join(report.flex_ops)}: "
                    "not run here (LiteRT and TensorFlow's Python interpreter lack the Flex delegate); signatures "
                    "checked")
        differences = ", ".join(f"{k} {v:.3g}" for k, v in report.max_abs_diff.items()) or "no outputs"
        random = "".join(f"; {k} not compared (it runs `{op}`: random)" for k, op in report.random.items())
        return (f"wrote {path} ({report.size:,} bytes); ran every signature in {report.runtime} on sample inputs: "
                f"largest difference from the SavedModel: {differences}{random}")

    def verify(self, job: ExportJob, path: Path) -> None:
        try:
            found = set(_interpreter(job.tf, path).get_signature_list())
        except Exception as exc:
            raise ExportError(f"the .tflite does not load: {first_line(exc)}") from None
        wanted = {c.key for c in job.contracts}
        if found != wanted:
            raise ExportError(f"the .tflite has signatures {sorted(found)}, expected {sorted(wanted)}")
        if job.saved_model is None:
            return
        if self.report.flex_ops:  # neither LiteRT nor TensorFlow's Python interpreter has the Flex delegate
            self.report.runtime = None
            return
        result = run_samples(job, path)
        self.report.random = {c.key: c.random_op or "random" for c in job.contracts if c.key in result.get("random", ())}
        # A method that draws random numbers (dropout in training) differs from run to run: it must
        # run, with the declared types and shapes, but its values are not compared.
        self.report.max_abs_diff = {k: v for k, v in result.get("max_abs_diff", {}).items()
                                    if k not in self.report.random}
        if not result.get("ok"):
            raise ExportError("the .tflite does not run like the SavedModel:\n  " + "\n  ".join(result["errors"]))
        if self.options.quantize is None:
            drift = {k: v for k, v in self.report.max_abs_diff.items() if v > _FLOAT_TOLERANCE}
            if drift:
                raise ExportError("the .tflite's outputs differ from the SavedModel's: " +
                                  ", ".join(f"{k} by {v:.3g}" for k, v in drift.items()))


_FLOAT_TOLERANCE = 1e-4


def _refuse_any_rank(job: ExportJob) -> None:
    """TFLite's tensors have a fixed rank: a served input written with `...` (a TensorSpec of unknown
    rank, which the SavedModel keeps) has none to convert to."""
    for contract in job.contracts:
        if contract.any_rank_inputs:
            names = ", ".join(f"`{name}`" for name in contract.any_rank_inputs)
            raise ExportError(
                f"`{contract.method}` (signature {contract.key}) takes {names} of any rank (`...` in its type), and a "
                f".tflite needs a fixed rank: export the SavedModel alone (without --tflite), or serve (`@serving`) a "
                f"method of fixed rank that calls `{contract.method}` (its input written `f32[N, T, D]`, say)")


def _interpreter(tf, path: Path):
    """LiteRT's interpreter where ai-edge-litert is installed, else TensorFlow's (deprecated, quietly)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return tf.lite.Interpreter(model_path=str(path))
    try:
        return Interpreter(model_path=str(path))
    except Exception:  # LiteRT refuses Select-TF ops; TensorFlow's interpreter has them
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return tf.lite.Interpreter(model_path=str(path))


class FlexOpsNeeded(Exception):
    def __init__(self, ops: list[str]):
        super().__init__(", ".join(ops))
        self.ops = ops


def convert(tf, saved_model_dir: Path, signature_keys: list[str], manifest: dict,
            options: TFLiteOptions | None = None) -> bytes:
    """The `.tflite` bytes for `signature_keys` of the SavedModel, stamped with `manifest`."""
    options = options or TFLiteOptions()
    converter = _converter(tf, saved_model_dir, signature_keys, options)
    if options.allow_flex:
        converter._experimental_lower_tensor_list_ops = False  # TensorFlow's own advice for typed lists with Flex
    _quantization(tf, converter, options, saved_model_dir, signature_keys)
    captured = None
    try:
        with native_stderr_captured() as captured:  # the converter's MLIR diagnostics: tfm says what they mean
            model = converter.convert()
    except Exception as exc:  # the converter raises many types
        needed = _needed_flex_ops(f"{exc}\n{captured.text if captured is not None else ''}")
        if needed and not options.allow_flex:
            raise FlexOpsNeeded(needed) from None
        failing = _failing_signatures(tf, saved_model_dir, signature_keys, options)
        methods = manifest.get("signatures", {})
        named = ", ".join(f"{key} (method {methods.get(key, key)})" for key in failing)
        raise ExportError(f"TFLite conversion failed{f' for {named}' if named else ''}: {first_line(exc)}") from None
    return stamp(model, manifest)


def _converter(tf, saved_model_dir: Path, signature_keys: list[str], options: TFLiteOptions):
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=signature_keys)
    # Variables updated by methods (assign_add, optimizers) need TFLite's resource variables.
    converter.experimental_enable_resource_variables = True
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS] + \
        ([tf.lite.OpsSet.SELECT_TF_OPS] if options.allow_flex else [])
    return converter


def _failing_signatures(tf, saved_model_dir: Path, keys: list[str], options: TFLiteOptions) -> list[str]:
    """The signatures whose conversion fails alone (only after the whole conversion failed: each is
    converted again, which takes seconds)."""
    if len(keys) < 2:
        return list(keys)
    failing = []
    for key in keys:
        try:
            with native_stderr_captured():
                _converter(tf, saved_model_dir, [key], options).convert()
        except Exception:  # the converter raises many types
            failing.append(key)
    return failing


def _needed_flex_ops(message: str) -> list[str]:
    if "Lowering tensor list ops is failed" in message:
        return ["TensorList ops"]
    listed = re.search(r"TF Select ops: ([\w, ]+)", message)
    names = set(listed.group(1).replace(" ", "").split(",")) if listed else set()
    names |= set(re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", message))
    return sorted(n for n in names if n)


def _quantization(tf, converter, options: TFLiteOptions, saved_model_dir: Path, keys: list[str]) -> None:
    if options.quantize is None:
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if options.quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif options.quantize == "int8":
        if options.representative_data is None:
            raise ExportError("--quantize int8 needs --representative-data (an .npz or .npy of serving inputs)")
        converter.representative_dataset = representative_dataset(tf, saved_model_dir, keys, options.representative_data)


def representative_dataset(tf, saved_model_dir: Path, keys: list[str], path: Path):
    """Calibration samples for each signature: rows of the arrays named after its inputs (an .npy feeds
    a signature with one input)."""
    import numpy as np

    from tfm.exports.savedmodel_proto import read_signatures

    signatures = {s.key: s for s in read_signatures(saved_model_dir)}
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ExportError(f"--representative-data {path}: not a readable .npz/.npy: {exc}") from None
    arrays = dict(data) if hasattr(data, "files") else None

    def samples():
        for key in keys:
            inputs = [spec.name for spec in signatures[key].inputs]
            if arrays is None and len(inputs) == 1:
                columns = {inputs[0]: data}
            else:
                missing = [name for name in inputs if arrays is None or name not in arrays]
                if missing:
                    raise ExportError(f"--representative-data {path} has no array {missing[0]!r} for signature {key}")
                assert arrays is not None  # else every input is missing
                columns = {name: arrays[name] for name in inputs}
            rows = min(len(v) for v in columns.values())
            for row in range(min(rows, 200)):
                yield key, {name: value[row:row + 1].astype(np.float32) if value.dtype.kind == "f" else value[row:row + 1]
                            for name, value in columns.items()}

    return samples


def flex_ops_of(model: bytes) -> list[str]:
    """The Select-TF ops a flatbuffer uses (custom ops named Flex...)."""
    from tensorflow.lite.python import schema_py_generated as schema

    root: Any = schema.Model.GetRootAsModel(model, 0)  # flatc's accessors are typed Optional throughout
    found = set()
    for i in range(root.OperatorCodesLength()):
        custom = root.OperatorCodes(i).CustomCode()
        if custom and custom.startswith(b"Flex"):
            found.add(custom.decode("ascii", "replace").removeprefix("Flex"))
    return sorted(found)


def stamp(model: bytes, manifest: dict) -> bytes:
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    tree: Any = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    buffer = schema.BufferT()
    buffer.data = list(json.dumps(manifest, sort_keys=True, ensure_ascii=True).encode("ascii"))
    tree.buffers.append(buffer)
    entry: Any = schema.MetadataT()
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

        model: Any = schema.Model.GetRootAsModel(data, 0)
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

