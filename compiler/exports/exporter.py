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
from typing import TYPE_CHECKING, Callable, Sequence

from tfm.dsl import nodes as n
from tfm.dsl.analysis import Analysis, outputs_of, type_text
from tfm.dsl.declarations import dims_pattern
from tfm.dsl.signatures import SignatureChoiceError, SignaturePlan, random_op_in, signature_plan
from tfm.dsl.tensor_types import TensorT

from tfm.exports.formats import ExportError, ExportFormat, ExportJob, FileFormat, FileRequest, SignatureContract, \
    format_class
from tfm.exports.publish import ExportDirectory, PublishError, TargetLock, write_manifest
from tfm.exports.saved_model import SavedModelFormat
from tfm.files import UnsafeTarget, staged_file
from tfm.generate.codegen import dtype_expr
from tfm.generate.precision import served_contracts
from tfm.run.checkpoints import CheckpointError, instance_values, model_values, resolve_checkpoint, restore_model
from tfm.run.runtime_errors import describe_failure
from tfm.version import tfm_version

if TYPE_CHECKING:
    from tfm.exports.tflite_export import TFLiteReport

__all__ = ["ExportError", "ExportReport", "SignatureContract", "contracts", "export_saved_model", "plan_for"]


@dataclass
class ExportReport:
    directory: Path
    signatures: list[SignatureContract]
    variables: dict[str, tuple[str, tuple[int, ...]]]
    files: dict[str, tuple[Path, FileFormat]] = field(default_factory=dict)  # format name -> (path, format)
    left_out: dict[str, str] = field(default_factory=dict)  # method -> why it is not served
    checkpoint: str | None = None

    @property
    def tflite(self) -> Path | None:
        return self.files["tflite"][0] if "tflite" in self.files else None

    @property
    def tflite_report(self) -> TFLiteReport | None:
        return getattr(self.files["tflite"][1], "report", None) if "tflite" in self.files else None


def plan_for(module: n.ModuleDef, analysis: Analysis, chosen: list[str] | None) -> SignaturePlan:
    """The signatures to export (see `tfm.dsl.signatures`); an ExportError if there are none."""
    try:
        plan = signature_plan(analysis, module, chosen)
    except SignatureChoiceError as exc:
        raise ExportError(str(exc)) from None
    if not plan.signatures:
        why = "; ".join(f"{name}: {reason}" for name, reason in plan.left_out.items())
        raise ExportError(f"module {module.name} has no method to serve ({why or 'it has no methods'})")
    return plan


def contracts(analysis: Analysis, module: n.ModuleDef, init: dict[str, object],
              plan: SignaturePlan | None = None) -> list[SignatureContract]:
    """One contract per served method, keyed as the plan says (`serving_default` first)."""
    plan = plan or plan_for(module, analysis, None)
    params = analysis.parameter_values(module.name, init)
    methods = {m.name: m for m in module.methods}
    result = []
    for key, name in plan.signatures.items():
        method = methods[name]
        inputs = tuple((i.name, _tf_dtype(analysis, i.type), _signature_dims(analysis, i.type, params))
                       for i in method.inputs)
        outputs = tuple((o.name, _tf_dtype(analysis, o.type), _rank(_signature_dims(analysis, o.type, params)))
                        for o in outputs_of(method))
        result.append(SignatureContract(key=key, method=method.name, inputs=inputs, outputs=outputs,
                                        random_op=random_op_in(analysis, module, method)))
    return result


# A served method's inputs and outputs: dsl.overloads gave each signature of a method of several its
# own method, of tensor types (no TypeChoice), and the analysis recorded each as a TensorT. A type
# written with `...` has no rank: its signature is `tf.TensorSpec(shape=None)`.
def _dims(analysis: Analysis, type_: n.TensorType | n.TypeChoice,
          params: dict[str, object]) -> tuple[int | None, ...]:
    assert isinstance(type_, n.TensorType)
    return analysis.declared_shape(type_, params)


def _signature_dims(analysis: Analysis, type_: n.TensorType | n.TypeChoice,
                    params: dict[str, object]) -> tuple[int | None, ...] | None:
    assert isinstance(type_, n.TensorType)
    # `x: f32[N, ..., 3]` and an output `-> f32` (typed per call): any rank
    return None if type_.shape is None or dims_pattern(type_) is not None else _dims(analysis, type_, params)


def _rank(dims: tuple[int | None, ...] | None) -> int | None:
    return None if dims is None else len(dims)


def _tf_dtype(analysis: Analysis, type_: n.TensorType | n.TypeChoice) -> str:
    declared = analysis.types[type_]
    assert isinstance(declared, TensorT)
    return dtype_expr(declared.dtype).removeprefix("tf.")


def export_saved_model(python_module, analysis: Analysis, module_name: str, init: dict[str, object],
                       out_dir: str | Path, force: bool = False, progress: Callable[[str], None] = lambda message: None,
                       *, instance: object = None, checkpoint: str | Path | None = None,
                       signatures: list[str] | None = None, version: int | str | None = None,
                       files: Sequence[FileRequest] = ()) -> ExportReport:
    """Export `module_name` as a SavedModel at `out_dir` (and the file formats of `files`): a fresh
    build with `init`, a built (trained) `instance`, or a fresh build with the weights of `checkpoint`.
    Every format is written to a staging place and verified, variable values included; then all are
    published, or none. With `version` (a number, or "next"), the SavedModel goes to `out_dir/VERSION`,
    as TensorFlow Serving expects."""
    import tensorflow as tf

    module = _find_module(analysis, module_name)
    plan = plan_for(module, analysis, signatures)

    def job_for() -> ExportJob:
        return _job(tf, python_module, analysis, module, init, plan, instance, checkpoint, progress)

    out_dir = versioned_directory(Path(os.path.abspath(out_dir)), version)
    requested = [(format_class(r.name)(r.options), Path(os.path.abspath(r.path))) for r in files]
    outside = [(fmt, path) for fmt, path in requested if not path.is_relative_to(out_dir)]
    created = _missing_directories(out_dir.parent)
    try:
        return _export(job_for, out_dir, force, files, requested, outside, plan, progress)
    except BaseException:
        _remove_empty(created)
        raise


def _missing_directories(path: Path) -> list[Path]:
    """The directories on the way to `path` (itself included) that do not exist yet, deepest first:
    the export makes them, and removes them again if it fails."""
    missing = []
    for directory in (path, *path.parents):
        if os.path.lexists(directory):
            break
        missing.append(directory)
    return missing


def _remove_empty(directories: list[Path]) -> None:
    """Remove each directory the export made, deepest first, while it is empty (rmdir refuses
    otherwise: what anyone else put there meanwhile stays)."""
    for directory in directories:
        try:
            os.rmdir(directory)
        except OSError:
            return


def _export(job_for: Callable[[], ExportJob], out_dir: Path, force: bool, files: Sequence[FileRequest],
            requested: list, outside: list, plan: SignaturePlan, progress: Callable[[str], None]) -> ExportReport:
    """Stage every format, verify it, then publish them all (see export_saved_model)."""
    try:
        for fmt, path in outside:
            fmt.check_replaceable(path, force)
        with ExportDirectory(out_dir, force) as target, contextlib.ExitStack() as stack:
            for _, path in outside:
                stack.enter_context(TargetLock(path))
            staged = {path: stack.enter_context(staged_file(path)) for _, path in outside}
            job = job_for()
            _stage(SavedModelFormat(), job, target.staging, progress)
            write_manifest(target.staging, job.manifest)
            for fmt, path in requested:
                _stage(fmt, job, staged[path].path if path in staged else target.staging / path.relative_to(out_dir),
                       progress)
            target.publish()
            for fmt, path in outside:
                fmt.check_replaceable(path, force)
                staged[path].move_into_place()
            return ExportReport(directory=out_dir, signatures=job.contracts, variables=job.variables,
                                files={r.name: (path, fmt) for r, (fmt, path) in zip(files, requested)},
                                left_out=plan.left_out, checkpoint=job.manifest["checkpoint"])
    except PublishError as exc:
        raise ExportError(str(exc)) from None
    except UnsafeTarget as exc:
        raise ExportError(f"cannot write {exc.filename}: {exc.strerror}") from None


def versioned_directory(base: Path, version: int | str | None) -> Path:
    """`base/N` for a version N; "next" is one more than the highest numbered version there (or 1)."""
    if version is None:
        return base
    if version == "next":
        numbers = [int(p.name) for p in base.iterdir() if p.name.isdigit() and p.is_dir()] if base.is_dir() else []
        version = max(numbers, default=0) + 1
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ExportError(f"a version is a whole number from 1, got {version!r}")
    return base / str(version)


def _job(tf, python_module, analysis: Analysis, module: n.ModuleDef, init: dict[str, object], plan: SignaturePlan,
         instance: object, checkpoint: str | Path | None, progress: Callable[[str], None]) -> ExportJob:
    """The module to export with the weights it must carry: built here, given, or restored."""
    if instance is not None and checkpoint is not None:
        raise ExportError("export an instance or a checkpoint, not both")
    prefix = None
    if instance is not None:
        _check_instance(instance, python_module, module.name)
        init = {p.name: getattr(instance, p.name) for p in module.params if hasattr(instance, p.name)}
    else:
        instance = _build(python_module, module.name, init, progress)
    declared = _declared_variables(analysis, module, init)
    paths = [path for path in declared if not path.endswith("/*")]
    if checkpoint is not None:
        try:
            prefix = resolve_checkpoint(tf, checkpoint)
            progress(f"restoring {prefix}")
            restore_model(tf, instance, prefix)
        except CheckpointError as exc:
            raise ExportError(str(exc)) from None
        expected_values = model_values(tf, prefix, paths)
    else:
        expected_values = instance_values(instance, paths)
    expected = served_contracts(contracts(analysis, module, init, plan), getattr(instance, "_dtype_policy", None))
    manifest = _manifest(python_module, module.name, init, expected, tf.__version__)
    manifest.update(checkpoint=prefix, left_out=dict(plan.left_out), declared=_declared_types(analysis, module, plan))
    return ExportJob(tf=tf, instance=instance, contracts=expected, declared_variables=declared,
                     manifest=manifest, expected_values=expected_values, analysis=analysis, module=module)


def _declared_types(analysis: Analysis, module: n.ModuleDef, plan: SignaturePlan) -> dict:
    """Each signature's inputs and outputs as the `.tfm` declares them, in order, with named dims."""
    methods = {m.name: m for m in module.methods}
    return {key: {"inputs": [[i.name, _declared_text(analysis, i.type)] for i in methods[name].inputs],
                  "outputs": [[o.name, _declared_text(analysis, o.type)] for o in outputs_of(methods[name])]}
            for key, name in plan.signatures.items()}


def _declared_text(analysis: Analysis, type_: n.TensorType | n.TypeChoice) -> str:
    """The type with its named dims; one of any rank as written (`f32[N, ..., 3]`, not `f32[...]`)."""
    if isinstance(type_, n.TensorType) and dims_pattern(type_) is not None:
        return type_text(type_)
    return str(analysis.types[type_])


def _check_instance(instance: object, python_module, module_name: str) -> None:
    """A given instance must be of this module, compiled from this very source."""
    import sys

    cls = type(instance)
    origin = sys.modules.get(cls.__module__)
    if cls.__name__ != module_name or getattr(origin, "_TFM_SOURCE_SHA256", None) != \
            getattr(python_module, "_TFM_SOURCE_SHA256", object()):
        raise ExportError(f"the instance is a {cls.__module__}.{cls.__name__}, not a {module_name} compiled from "
                          f"{getattr(python_module, '_TFM_SOURCE', 'this source')} as it is now")


def _stage(export_format: ExportFormat, job: ExportJob, path: Path, progress: Callable[[str], None]) -> None:
    progress(f"writing the {export_format.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    _traced(lambda: export_format.write(job, path))
    progress(f"verifying the {export_format.name} against the .tfm declarations")
    export_format.verify(job, path)


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
        "tfm_version": tfm_version(),
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
                        prefix: str = "") -> dict[str, tuple[str, tuple[int | None, ...]]]:
    """The variables the `.tfm` declares, by the object path the SavedModel will use."""
    params = analysis.parameter_values(module.name, init)
    # The random state of a module that calls random ops (the generator's `_random`), if it has one.
    declared: dict[str, tuple[str, tuple[int | None, ...]]] = {prefix + "_random/*": ("random state", ())}
    for var in module.variables:
        if var.condition is not None and params.get(var.condition.id) is False:
            continue  # declared under `if use_bias:`, and this instance is built without it
        declared[prefix + var.name] = (_tf_dtype(analysis, var.type), _dims(analysis, var.type, params))
    for sub in module.submodules:
        info = analysis.modules[sub.module]
        if info.decl is None:
            declared[prefix + sub.name + "/*"] = ("optimizer", ())
            continue
        sub_init = analysis.sub_argument_values(sub, params)
        declared.update(_declared_variables(analysis, info.decl, sub_init, prefix + sub.name + "/"))
    return declared
