"""tfm: a declarative language for TensorFlow modules. `.tfm` source -> checked program -> a plain
Python `tf.Module` subclass -> loaded, run, exported.

    >>> import tfm
    >>> tfm.check("examples/demo_module.tfm")                  # [] : no diagnostics (no TensorFlow import)
    >>> model = tfm.load("examples/demo_module.tfm")           # the generated Python module
    >>> demo = model.DemoModule(init_value=1.0)
    >>> tfm.export("examples/demo_module.tfm", "DemoModule", "export/demo", init={"init_value": 1.0})
    >>> tfm.install_import_hook()                              # then `import demo_module` works

The package's parts: `tfm.grammar` (the Lark grammar), `tfm.dsl` (parse, check, infer, diagnostics,
the op registry), `tfm.generate`, `tfm.loading`, `tfm.exports`, `tfm.run`, and `tfm.cli`
(`python -m tfm`). TensorFlow is imported only when a model is loaded, run or exported.
"""

from __future__ import annotations

from pathlib import Path

import contextlib
import importlib
from typing import TYPE_CHECKING

from tfm.dsl import Diagnostic, InternalError, Limits, TfmError

if TYPE_CHECKING:
    from tfm.run.settings import RuntimeSettings

# Loaded when first used: `tfm check` starts without the loader, the generator's templates or the
# settings library (start-up time is a goal, see docs/benchmarks.md).
_LAZY = {
    "install_import_hook": ("tfm.loading.loader", "install_import_hook"),
    "load": ("tfm.loading.loader", "load"),
    "uninstall_import_hook": ("tfm.loading.loader", "uninstall_import_hook"),
    "Compiled": ("tfm.pipeline", "Compiled"),
    "compile_file": ("tfm.pipeline", "compile_file"),
    "compile_text": ("tfm.pipeline", "compile_text"),
    "RuntimeSettings": ("tfm.run.settings", "RuntimeSettings"),
    "locate": ("tfm.run.runtime_errors", "tfm_location"),
}


def __getattr__(name: str):
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tfm' has no attribute {name!r}")

__all__ = ["Compiled", "Diagnostic", "InternalError", "Limits", "RuntimeSettings", "TfmError", "check",
           "compile_file", "compile_text", "configure", "evaluate", "export", "install_import_hook", "load", "locate", "predict",
           "train", "uninstall_import_hook"]


def check(source: str | Path, limits: Limits | None = None) -> list[Diagnostic]:
    """The diagnostics of a `.tfm` file: its errors, or if it compiles its warnings (`severity`
    "warning"; an empty list for a clean file). Never imports TensorFlow."""
    from tfm.pipeline import check_file

    try:
        return list(check_file(source, limits).warnings)
    except TfmError as exc:
        return list(exc.diagnostics)


def export(source: str | Path, module: str, out_dir: str | Path, init: dict | None = None, force: bool = False,
           tflite: str | Path | None = None, *, instance: object = None, checkpoint: str | Path | None = None,
           signatures: list[str] | None = None, version: int | str | None = None, allow_flex: bool = False,
           quantize: str | None = None, representative_data: str | Path | None = None):
    """Compile `source` and write a verified SavedModel of `module` to `out_dir`: built with `init`, or
    a built (trained) `instance` of it, or built with the weights of `checkpoint` (a directory or a
    prefix). `signatures` names the methods to serve (default: those that do not update trainable
    variables, and those marked @signature). `version` (N or "next") writes `out_dir/N`. A `.tflite`
    uses builtin ops only unless `allow_flex`, may be quantized ("dynamic", "float16", or "int8" with
    `representative_data`), and is run in LiteRT and compared with the SavedModel before anything is
    published. Raises tfm.exports.exporter.ExportError on failure."""
    from tfm.exports.exporter import export_saved_model
    from tfm.exports.tflite_export import TFLiteOptions
    from tfm.pipeline import compile_file
    from tfm.loading.loader import import_compiled

    compiled = compile_file(source)
    return export_saved_model(import_compiled(compiled), compiled.analysis, module, init or {}, out_dir,
                              force=force, tflite=tflite, instance=instance, checkpoint=checkpoint,
                              signatures=signatures, version=version,
                              tflite_options=TFLiteOptions(allow_flex, quantize,
                                                           Path(representative_data) if representative_data else None))


def configure(settings: RuntimeSettings | None = None, **values) -> RuntimeSettings:
    """Apply runtime settings (devices, memory, determinism, XLA) before TensorFlow runs anything:
    `settings`, else `RuntimeSettings(**values)` (which also reads TFM_* variables and the config
    file). Raises tfm.run.settings.SettingsError naming a setting that cannot be applied."""
    from tfm.run.devices import apply_settings
    from tfm.run.settings import ResolvedSettings, RuntimeSettings

    settings = settings if settings is not None else RuntimeSettings(**values)
    apply_settings(ResolvedSettings(settings, {name: "RuntimeSettings" for name in settings.model_fields_set}))
    return settings


def train(source: str | Path, target: str, data: str | Path, *, init: dict | None = None,
          settings: RuntimeSettings | None = None, progress: bool = True, **options):
    """Train `target` ("Module.method") of `source` on `data`, as `tfm train` does, and return the
    TrainResult (its `model` is the trained instance). `options` are TrainSettings' fields: epochs,
    steps, batch_size, shuffle, seed, checkpoint_dir, max_to_keep, save_every, restart, logdir,
    validate ("Module.method" or "method"), validation_data. `settings` (devices, strategy) are applied first."""
    import sys

    import tensorflow as tf

    from tfm.loading.loader import import_compiled
    from tfm.pipeline import compile_file
    from tfm.run.devices import make_strategy, settings_device_scope
    from tfm.run.progress import NoProgress, progress_for
    from tfm.run.training import Trainer, TrainSettings, run_identity

    module_name, _, method = target.partition(".")
    compiled = compile_file(source)
    settings = configure(settings)
    from tfm.run.settings import ResolvedSettings

    resolved = ResolvedSettings(settings)
    python_module = import_compiled(compiled)
    strategy = make_strategy(resolved)
    with strategy.scope() if strategy is not None else contextlib.nullcontext(), settings_device_scope(resolved):
        instance = getattr(python_module, module_name)(**(init or {}))
    paths = {k: Path(v) for k, v in options.items() if k in ("checkpoint_dir", "logdir", "validation_data") and v}
    if "." in (options.get("validate") or ""):  # "Module.method", as the CLI takes it
        options["validate"] = options["validate"].partition(".")[2]
    run = TrainSettings(data=Path(data), **{**options, **paths})
    if run.seed is None:
        run.seed = settings.seed
    shown = progress_for(sys.stdout) if progress else NoProgress()
    trainer = Trainer(tf, instance, method, run, run_identity(python_module, module_name, method, data, init or {}),
                      shown, log=lambda message: print(message, file=sys.stderr), strategy=strategy)
    return trainer.run()



def _use(source, target: str, checkpoint, init: dict | None, purpose: str, limits: Limits | None = None):
    """(tf, instance, method name) for evaluate and predict: `target` of `source` built, its weights
    restored from `checkpoint` (if given)."""
    from tfm.pipeline import compile_file
    from tfm.run.using import UseError, refuse_training, restored_instance, split_target

    module_name, method = split_target(target)
    compiled = compile_file(source, limits)
    module = next((m for m in compiled.analysis.program.modules if m.name == module_name), None)
    if module is None or not any(method in (m.name, m.overload) for m in module.methods):
        import difflib

        known = [f"{m.name}.{f.overload or f.name}" for m in compiled.analysis.program.modules for f in m.methods]
        close = difflib.get_close_matches(target, known, n=1)
        raise UseError(f"no method {target} in {source}" + (f" (did you mean {close[0]}?)" if close else ""))
    if purpose == "evaluate":
        refuse_training(compiled.analysis, module, method, purpose)
    import tensorflow as tf  # only now: every check above needs none

    return tf, restored_instance(tf, compiled, module_name, init, checkpoint), method


def evaluate(source: str | Path, target: str, data: str | Path, *, checkpoint: str | Path | None = None,
             init: dict | None = None, batch_size: int | None = None, progress=None, limits: Limits | None = None):
    """Run `target` ("Module.method", a method that does not train) over `data` (.npz, .csv, .tfrecord,
    read as `tfm train` reads it) in batches, with the weights of `checkpoint`; return an EvaluateResult
    whose `scalars` are its rank-0 outputs averaged over the examples. `progress` (None: silent) is a
    tfm.run.progress shower, e.g. `progress_for(sys.stderr)`. Raises tfm.run.using.UseError.

        >>> tfm.evaluate("model.tfm", "MLP.loss", "test.npz", checkpoint="runs/ckpt").scalars
        {'loss': 0.31}
    """
    from tfm.run.using import evaluate as run_evaluate

    tf, instance, method = _use(source, target, checkpoint, init, "evaluate", limits)
    return run_evaluate(tf, instance, method, data, batch_size, progress)


def predict(source: str | Path, target: str, data: str | Path, out: str | Path, *,
            checkpoint: str | Path | None = None, init: dict | None = None, batch_size: int | None = None,
            progress=None, limits: Limits | None = None):
    """Run `target` over `data` in batches, with the weights of `checkpoint`, and stream its outputs (one
    row per example) to the new file `out` (.npz, .npy or .csv), which is never replaced if it exists.
    `progress` as for `evaluate`. Returns a PredictResult. Raises tfm.run.using.UseError.

        >>> tfm.predict("model.tfm", "MLP.call", "test.npz", "preds.npz", checkpoint="runs/ckpt")
    """
    from tfm.run.using import check_prediction_path, predict as run_predict

    check_prediction_path(out)  # before TensorFlow loads
    tf, instance, method = _use(source, target, checkpoint, init, "predict", limits)
    return run_predict(tf, instance, method, data, out, batch_size, progress)
