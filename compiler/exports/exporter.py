"""Export a compiled module: build it once, write each format asked for to a staging place and
verify it (`tfm.exports.formats`), then publish them all (`tfm.exports.publish`), or nothing.

A failed or killed export leaves the targets as they were, and only what tfm wrote is ever replaced
(with `force`). The contracts every format is held to come from the `.tfm` declarations.
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

from tfm.exports.formats import ExportError, ExportFormat, ExportJob, SignatureContract
from tfm.exports.publish import ExportDirectory, PublishError, TargetLock, write_manifest
from tfm.exports.saved_model import SavedModelFormat
from tfm.exports.tflite_export import TFLiteFormat, check_replaceable_file
from tfm.files import move_into_place, staging_path
from tfm.generate.codegen import GENERATOR_VERSION, dtype_expr
from tfm.run.runtime_errors import describe_failure

__all__ = ["ExportError", "ExportReport", "SignatureContract", "contracts", "export_saved_model", "serving_method"]


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
        inputs = tuple((i.name, _tf_dtype(analysis, i.type), _dims(analysis, i.type, params)) for i in method.inputs)
        outputs = tuple((o.name, _tf_dtype(analysis, o.type), len(_dims(analysis, o.type, params)))
                        for o in outputs_of(method))
        result.append(SignatureContract(key=key, method=method.name, inputs=inputs, outputs=outputs))
    return result


def _param_value(param: n.ModuleParam, init: dict[str, object]) -> object:
    if param.name in init:
        return init[param.name]
    default = param.default
    return getattr(default, "value", None)


def _dims(analysis: Analysis, type_: n.TensorType, params: dict[str, object]) -> tuple[int | None, ...]:
    """The declared dims of `type_` (read from the analysis) with constructor parameters' values."""
    return tuple(d if isinstance(d, int) else params.get(d) if isinstance(params.get(d), int) else None
                 for d in analysis.types[type_].shape or ())


def _tf_dtype(analysis: Analysis, type_: n.TensorType) -> str:
    return dtype_expr(analysis.types[type_].dtype).removeprefix("tf.")


def export_saved_model(python_module, analysis: Analysis, module_name: str, init: dict[str, object],
                       out_dir: str | Path, force: bool = False, tflite: str | Path | None = None,
                       progress: Callable[[str], None] = lambda message: None) -> ExportReport:
    """Build `module_name` with `init` and export it as a SavedModel at `out_dir` (and a `.tflite`):
    every format is written to a staging place and verified, then all are published, or none."""
    import tensorflow as tf

    module = _find_module(analysis, module_name)
    out_dir = Path(os.path.abspath(out_dir))
    tflite_path = Path(os.path.abspath(tflite)) if tflite else None
    outside = tflite_path is not None and not tflite_path.is_relative_to(out_dir)
    try:
        if outside:
            check_replaceable_file(tflite_path, force)
        with ExportDirectory(out_dir, force) as target, TargetLock(tflite_path) if outside else \
                contextlib.nullcontext(), _staged_file(tflite_path if outside else None) as tflite_staging:
            expected = contracts(analysis, module, init)
            job = ExportJob(tf=tf, instance=_build(python_module, module_name, init, progress), contracts=expected,
                            declared_variables=_declared_variables(analysis, module, init),
                            manifest=_manifest(python_module, module_name, init, expected, tf.__version__))
            _stage(SavedModelFormat(), job, target.staging, progress)
            write_manifest(target.staging, job.manifest)
            if tflite_path is not None:
                staged = tflite_staging or target.staging / tflite_path.relative_to(out_dir)
                _stage(TFLiteFormat(), job, staged, progress)
            target.publish()
            if outside:
                check_replaceable_file(tflite_path, force)
                move_into_place(tflite_staging, tflite_path)
            return ExportReport(directory=out_dir, signatures=expected, variables=job.variables, tflite=tflite_path)
    except PublishError as exc:
        raise ExportError(str(exc)) from None


def _stage(export_format: ExportFormat, job: ExportJob, path: Path, progress: Callable[[str], None]) -> None:
    progress(f"writing the {export_format.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    _traced(lambda: export_format.write(job, path))
    progress(f"verifying the {export_format.name} against the .tfm declarations")
    export_format.verify(job, path)


@contextlib.contextmanager
def _staged_file(target: Path | None):
    """A staging path beside `target` for a file export (None for none); removed unless moved in."""
    staged = staging_path(target) if target is not None else None
    try:
        yield staged
    finally:
        if staged is not None:
            staged.unlink(missing_ok=True)


def _build(python_module, module_name: str, init: dict[str, object], progress) -> object:
    progress(f"building {module_name}")
    instance = _traced(lambda: getattr(python_module, module_name)(**init))
    progress("tracing signatures")
    return instance


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


def _find_module(analysis: Analysis, name: str) -> n.ModuleDef:
    for module in analysis.program.modules:
        if module.name == name:
            return module
    known = ", ".join(m.name for m in analysis.program.modules)
    raise ExportError(f"no module {name!r} in this file; modules: {known}")


def _declared_variables(analysis: Analysis, module: n.ModuleDef, init: dict[str, object],
                        prefix: str = "") -> dict[str, tuple[str, tuple[int, ...]]]:
    """The variables the `.tfm` declares, by the object path the SavedModel will use."""
    params = {p.name: _param_value(p, init) for p in module.params}
    declared = {}
    for var in module.variables:
        declared[prefix + var.name] = (_tf_dtype(analysis, var.type), _dims(analysis, var.type, params))
    for sub in module.submodules:
        info = analysis.modules[sub.module]
        if info.decl is None:
            declared[prefix + sub.name + "/*"] = ("optimizer", ())
            continue
        sub_init = {name: _static(arg, params) for name, arg in analysis.sub_arguments[sub].items()}
        declared.update(_declared_variables(analysis, info.decl, sub_init, prefix + sub.name + "/"))
    return declared


def _static(expr: n.Node, params: dict[str, object]) -> object:
    value = evaluate(expr, params)
    return None if value is UNKNOWN_VALUE else value
