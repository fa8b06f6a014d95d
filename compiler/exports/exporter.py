"""Export a compiled module as a SavedModel (and optionally TFLite), then verify the contract.

The export is written into a staging directory beside the target (`tfm.exports.publish`), reloaded, and
compared with the `.tfm` declarations (signature names, input names, dtypes, ranks, fixed and unknown
dims; output names and dtypes; the variable inventory). Only if everything matches is it moved into
place, atomically, so a failed or killed export leaves the target as it was, and only an export tfm
wrote is ever replaced (with `force`).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tfm.dsl import nodes as n
from tfm.dsl.analysis import Analysis, outputs_of
from tfm.dsl.constants import UNKNOWN_VALUE, evaluate

from tfm.generate.codegen import GENERATOR_VERSION, dtype_expr
from tfm.exports.publish import ExportDirectory, PublishError, TargetLock, write_manifest
from tfm.run.runtime_errors import describe_failure


class ExportError(Exception):
    """The export could not be made or did not match its declarations; nothing was written."""


@dataclass(frozen=True)
class SignatureContract:
    """What one signature must look like, derived from the `.tfm` method."""

    key: str
    method: str
    inputs: tuple[tuple[str, str, tuple[int | None, ...]], ...]  # (name, tf dtype name, dims)
    outputs: tuple[tuple[str, str, int], ...]  # (name, tf dtype name, rank)


@dataclass
class ExportReport:
    directory: Path
    signatures: list[SignatureContract]
    variables: dict[str, tuple[str, tuple[int, ...]]]
    tflite: Path | None = None
    notes: list[str] = field(default_factory=list)


def serving_method(module: n.ModuleDef) -> n.Method:
    """The method marked `@serving`, else the first method."""
    marked = [m for m in module.methods if "serving" in m.attr_names]
    if len(marked) > 1:
        raise ExportError(f"module {module.name} marks {len(marked)} methods @serving; mark one")
    if marked:
        return marked[0]
    if not module.methods:
        raise ExportError(f"module {module.name} has no methods to export")
    return module.methods[0]


def contracts(analysis: Analysis, module: n.ModuleDef, init: dict[str, object]) -> list[SignatureContract]:
    """One contract per method: `serving_default` for the serving method, the method's name otherwise."""
    serving = serving_method(module)
    params = {p.name: _param_value(p, init) for p in module.params}
    result = []
    for method in module.methods:
        key = "serving_default" if method is serving else method.name
        inputs = tuple((i.name, _tf_dtype(i.type), tuple(_dim(d, params) for d in i.type.shape or ()))
                       for i in method.inputs)
        outputs = tuple((o.name, _tf_dtype(o.type), len(o.type.shape or ())) for o in outputs_of(method))
        result.append(SignatureContract(key=key, method=method.name, inputs=inputs, outputs=outputs))
    return result


def _param_value(param: n.ModuleParam, init: dict[str, object]) -> object:
    if param.name in init:
        return init[param.name]
    default = param.default
    return getattr(default, "value", None)


def _dim(dim: n.Dim, params: dict[str, object]) -> int | None:
    if dim.kind == "fixed":
        return dim.size
    if dim.kind == "named" and isinstance(params.get(dim.name), int):
        return params[dim.name]
    return None


def _tf_dtype(type_: n.TensorType) -> str:
    return dtype_expr(type_.dtype).removeprefix("tf.")


def export_saved_model(python_module, analysis: Analysis, module_name: str, init: dict[str, object],
                       out_dir: str | Path, force: bool = False, tflite: str | Path | None = None,
                       progress: Callable[[str], None] = lambda message: None) -> ExportReport:
    """Build `module_name` with `init`, save it to `out_dir`, reload and verify; atomically."""
    import tensorflow as tf

    from tfm.exports import tflite_export

    module = _find_module(analysis, module_name)
    out_dir = Path(os.path.abspath(out_dir))
    tflite_path = Path(os.path.abspath(tflite)) if tflite else None
    inside = tflite_path is not None and tflite_path.is_relative_to(out_dir)
    try:
        if tflite_path is not None and not inside:
            tflite_export.check_replaceable(tflite_path, force)
        tflite_lock = TargetLock(tflite_path) if tflite_path is not None and not inside else contextlib.nullcontext()
        with ExportDirectory(out_dir, force) as target, tflite_lock:
            expected = contracts(analysis, module, init)
            instance = _build(python_module, module_name, init, progress)
            progress("tracing signatures")
            signatures = _traced(lambda: {c.key: _signature_function(tf, instance, c) for c in expected})
            progress("saving")
            tf.saved_model.save(instance, str(target.staging), signatures=signatures)
            progress("verifying the export against the .tfm declarations")
            variables = verify_export(target.staging, expected, _declared_variables(analysis, module, init))
            manifest = _manifest(python_module, module_name, init, expected, tf.__version__)
            write_manifest(target.staging, manifest)
            report = ExportReport(directory=out_dir, signatures=expected, variables=variables)
            model = None
            if tflite_path is not None:
                progress("converting to TFLite")
                model = tflite_export.convert(tf, target.staging, [c.key for c in expected], manifest)
                if inside:
                    _write_inside(target.staging / tflite_path.relative_to(out_dir), model)
            target.publish()
            if model is not None and not inside:
                tflite_export.check_replaceable(tflite_path, force)
                tflite_export.write(tflite_path, model)
            report.tflite = tflite_path
            return report
    except PublishError as exc:
        raise ExportError(str(exc)) from None


def _build(python_module, module_name: str, init: dict[str, object], progress) -> object:
    progress(f"building {module_name}")
    return _traced(lambda: getattr(python_module, module_name)(**init))


def _traced(work: Callable[[], object]) -> object:
    """Run `work`; a TensorFlow error from generated code becomes an ExportError at the .tfm line."""
    try:
        return work()
    except (ExportError, PublishError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise ExportError(describe_failure(exc)) from None


def _manifest(python_module, module_name: str, init: dict[str, object], expected: list[SignatureContract],
              tensorflow_version: str) -> dict:
    return {
        "tfm_version": GENERATOR_VERSION,
        "tensorflow_version": tensorflow_version,
        "source": getattr(python_module, "_TFM_SOURCE", None),
        "source_sha256": getattr(python_module, "_TFM_SOURCE_SHA256", None),
        "module": module_name,
        "init": {k: v for k, v in init.items() if isinstance(v, (int, float, str, bool, list))},
        "signatures": {c.key: c.method for c in expected},
    }


def _write_inside(path: Path, data: bytes) -> None:
    """A .tflite asked for inside the export directory is written with it, so it lands with it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)


def _find_module(analysis: Analysis, name: str) -> n.ModuleDef:
    for module in analysis.program.modules:
        if module.name == name:
            return module
    known = ", ".join(m.name for m in analysis.program.modules)
    raise ExportError(f"no module {name!r} in this file; modules: {known}")


def _signature_function(tf, instance, contract: SignatureContract):
    function = getattr(instance, contract.method)
    if contract.outputs:
        return function.get_concrete_function()
    # A signature must return tensors; a method with no outputs returns an empty dict instead.
    wrapper = tf.function(lambda *args: (function(*args), {})[1], input_signature=function.input_signature)
    return wrapper.get_concrete_function()


# --- verification ----------------------------------------------------------------------------


def verify_export(directory: Path, expected: list[SignatureContract],
                  declared: dict[str, tuple[str, tuple[int, ...]]]) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Reload `directory` and compare it with the contracts; raise ExportError listing every drift."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(directory))
    problems: list[str] = []
    found = set(loaded.signatures.keys())
    wanted = {c.key for c in expected}
    if found != wanted:
        problems.append(f"signatures are {sorted(found)}, expected {sorted(wanted)}")
    for contract in expected:
        if contract.key in found:
            problems.extend(_signature_drift(loaded.signatures[contract.key], contract))
    inventory = variable_inventory(directory)
    problems.extend(_variable_drift(inventory, declared))
    if problems:
        raise ExportError("the export does not match its .tfm declarations:\n  " + "\n  ".join(problems))
    return inventory


def _signature_drift(function, contract: SignatureContract) -> list[str]:
    problems = []
    _, specs = function.structured_input_signature
    if sorted(specs) != sorted(name for name, _, _ in contract.inputs):
        problems.append(f"{contract.key}: inputs {sorted(specs)}, expected {[i[0] for i in contract.inputs]}")
        return problems
    for name, dtype, dims in contract.inputs:
        spec = specs[name]
        actual = tuple(spec.shape.as_list()) if spec.shape.rank is not None else None
        if spec.dtype.name != dtype or actual != dims:
            problems.append(f"{contract.key}: input {name} is {spec.dtype.name}{list(actual or [])}, "
                            f"expected {dtype}{list(dims)}")
    outputs = function.structured_outputs
    if not isinstance(outputs, dict):
        outputs = {"output_0": outputs}
    if sorted(outputs) != sorted(name for name, _, _ in contract.outputs):
        problems.append(f"{contract.key}: outputs {sorted(outputs)}, expected {[o[0] for o in contract.outputs]}")
        return problems
    for name, dtype, rank in contract.outputs:
        spec = outputs[name]
        if spec.dtype.name != dtype or (spec.shape.rank is not None and spec.shape.rank != rank):
            problems.append(f"{contract.key}: output {name} is {spec.dtype.name} of rank {spec.shape.rank}, "
                            f"expected {dtype} of rank {rank}")
    return problems


def variable_inventory(directory: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Every saved variable by object path (`dense_1/kernel`): its dtype name and shape."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(Path(directory) / "variables" / "variables"))
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    suffix = "/.ATTRIBUTES/VARIABLE_VALUE"
    return {key.removesuffix(suffix): (dtypes[key].name, tuple(shapes[key]))
            for key in shapes if key.endswith(suffix)}


def _declared_variables(analysis: Analysis, module: n.ModuleDef, init: dict[str, object],
                        prefix: str = "") -> dict[str, tuple[str, tuple[int, ...]]]:
    """The variables the `.tfm` declares, by the object path the SavedModel will use."""
    params = {p.name: _param_value(p, init) for p in module.params}
    declared = {}
    for var in module.variables:
        shape = tuple(_dim(d, params) for d in var.type.shape)
        declared[prefix + var.name] = (_tf_dtype(var.type), shape)
    for sub in module.submodules:
        info = analysis.modules[sub.module]
        if info.decl is None:
            declared[prefix + sub.name + "/*"] = ("optimizer", ())
            continue
        sub_init = _sub_init(sub, info.decl, params)
        declared.update(_declared_variables(analysis, info.decl, sub_init, prefix + sub.name + "/"))
    return declared


def _sub_init(sub: n.SubDecl, target: n.ModuleDef, params: dict[str, object]) -> dict[str, object]:
    values: dict[str, object] = {}
    names = [p.name for p in target.params]
    for name, arg in zip(names, sub.args):
        values[name] = _static(arg, params)
    for kw in sub.keywords:
        values[kw.name] = _static(kw.value, params)
    return values


def _static(expr: n.Node, params: dict[str, object]) -> object:
    value = evaluate(expr, params)
    return None if value is UNKNOWN_VALUE else value


def _variable_drift(inventory: dict[str, tuple[str, tuple[int, ...]]],
                    declared: dict[str, tuple[str, tuple[int, ...]]]) -> list[str]:
    problems = []
    optimizer_prefixes = tuple(key[:-1] for key in declared if key.endswith("/*"))
    for path, (dtype, shape) in declared.items():
        if path.endswith("/*"):
            continue
        if path not in inventory:
            problems.append(f"variable {path} is declared but not saved")
            continue
        saved_dtype, saved_shape = inventory[path]
        if saved_dtype != dtype or any(d is not None and d != s for d, s in zip(shape, saved_shape)) \
                or len(shape) != len(saved_shape):
            problems.append(f"variable {path} is saved as {saved_dtype}{list(saved_shape)}, "
                            f"declared {dtype}{[d if d is not None else '?' for d in shape]}")
    for path in inventory:
        if path not in declared and not path.startswith(optimizer_prefixes):
            problems.append(f"variable {path} is saved but not declared")
    return problems
