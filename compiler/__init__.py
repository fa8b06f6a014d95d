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

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from tfm.dsl import Diagnostic, InternalError, Limits, TfmError

if TYPE_CHECKING:  # the names loaded when first used (_LAZY), for type checkers
    from tfm.dsl.analysis import Analysis
    from tfm.loading.loader import install_import_hook, load, uninstall_import_hook
    from tfm.run.runtime_errors import tfm_location as locate
    from tfm.exports.exporter import ExportReport
    from tfm.pipeline import Compiled
    from tfm.run.settings import ResolvedSettings, RuntimeSettings
    from tfm.run.training import TrainResult
    from tfm.run.using import EvaluateResult, PredictResult
    from tfm.model_summary import Summary

# Loaded when first used: `tfm check` starts without the loader, the generator's templates or the
# settings library (start-up time is a goal, see docs/benchmarks.md).
_LAZY = {
    "install_import_hook": ("tfm.loading.loader", "install_import_hook"),
    "load": ("tfm.loading.loader", "load"),
    "uninstall_import_hook": ("tfm.loading.loader", "uninstall_import_hook"),
    "Compiled": ("tfm.pipeline", "Compiled"),
    "RuntimeSettings": ("tfm.run.settings", "RuntimeSettings"),
    "locate": ("tfm.run.runtime_errors", "tfm_location"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    if name == "__version__":  # pyproject.toml's, read once for every reader (tfm.version)
        from tfm.version import tfm_version

        return tfm_version()
    raise AttributeError(f"module 'tfm' has no attribute {name!r}")


__all__ = ["Compiled", "Diagnostic", "InternalError", "Limits", "RuntimeSettings", "TfmError", "analyze", "check",
           "call", "compile_file", "compile_text", "configure", "evaluate", "export", "install_import_hook", "load",
           "locate", "predict", "summary", "trace", "train", "uninstall_import_hook"]

# Every function that compiles a source takes the same source options, as every `tfm` command does:
# `limits` (tfm.Limits, `--limit`) and `include`, directories where imported `.tfm` files are looked
# for after the importing file's own (`-I`; the TFM_PATH directories come after these). A `source`
# is a path, or a source already compiled (tfm.Compiled), which is used as it is.


def _search_path(include: Sequence[str | Path]) -> tuple[Path, ...]:
    from tfm.dsl.imports import search_path_from_env

    return (*(Path(d) for d in include), *search_path_from_env())


def analyze(text: str, file: str, limits: Limits | None = None, *, include: Sequence[str | Path] = ()) -> Analysis:
    """The checked program of one source text (`file` names it in diagnostics), generating no code.
    Raises TfmError with every diagnostic found. Never imports TensorFlow."""
    from tfm.pipeline import check_text

    return check_text(text, file, limits, _search_path(include))


def check(source: str | Path, limits: Limits | None = None, *, include: Sequence[str | Path] = ()) -> list[Diagnostic]:
    """The diagnostics of a `.tfm` file: its errors, or if it compiles its warnings (`severity`
    "warning"; an empty list for a clean file). Never imports TensorFlow."""
    from tfm.pipeline import read_source

    try:
        return list(analyze(read_source(source), str(source), limits, include=include).warnings)
    except TfmError as exc:
        return list(exc.diagnostics)


def compile_text(text: str, file: str, limits: Limits | None = None, *,
                 include: Sequence[str | Path] = ()) -> Compiled:
    """Compile one source text to Python (`.python`) with its checked program (`.analysis`). Raises
    TfmError with every diagnostic found. Never imports TensorFlow."""
    from tfm.pipeline import compile_text as compile_source

    return compile_source(text, file, limits, _search_path(include))


def compile_file(path: str | Path, limits: Limits | None = None, *, include: Sequence[str | Path] = ()) -> Compiled:
    """`compile_text` of a `.tfm` file."""
    from tfm.pipeline import read_source

    return compile_text(read_source(path), str(path), limits, include=include)


def _compiled(source: str | Path | Compiled, limits: Limits | None, include: Sequence[str | Path]) -> Compiled:
    from tfm.pipeline import Compiled

    return source if isinstance(source, Compiled) else compile_file(source, limits, include=include)


def export(source: str | Path | Compiled, module: str, out_dir: str | Path, init: dict | None = None,
           force: bool = False, *, instance: object = None, checkpoint: str | Path | None = None,
           signatures: list[str] | None = None, version: int | str | None = None,
           formats: Mapping[str, Any] | None = None, limits: Limits | None = None,
           include: Sequence[str | Path] = (), progress: Callable[[str], None] | None = None,
           **format_options: Any) -> ExportReport:
    """Compile `source` and write a verified SavedModel of `module` to `out_dir`: built with `init`, or
    a built (trained) `instance` of it, or built with the weights of `checkpoint` (a directory or a
    prefix). Served: the @serving method, or with none marked every method that neither trains nor
    takes labels; methods marked @signature; and the methods `signatures` names. The SavedModel holds
    only what is served (no training step, no unused optimizer) and TensorFlow's reusable SavedModel
    attributes (`variables`, `trainable_variables`, `regularization_losses`, `__call__`), so
    `tf.saved_model.load(out_dir)(x)` runs the serving method. `version` (N or "next") writes `out_dir/N`.

    Other formats are files written beside it, by name (`tfm.exports.formats.FORMATS`): `formats=
    {"tflite": "m.tflite"}`, or a keyword argument named after the format, with the format's options as
    keyword arguments too: `tflite="m.tflite", quantize="dynamic"`. A `.tflite` uses builtin ops only
    unless `allow_flex`, may be quantized ("dynamic", "float16", or "int8" with `representative_data`),
    and is run in LiteRT and compared with the SavedModel before anything is published. `progress` is
    called with a line for each stage. Raises tfm.exports.exporter.ExportError on failure."""
    from tfm.exports.exporter import export_saved_model
    from tfm.exports.formats import file_requests
    from tfm.loading.loader import import_compiled

    files = file_requests(formats, **format_options)
    compiled = _compiled(source, limits, include)
    return export_saved_model(import_compiled(compiled), compiled.analysis, module, init or {}, out_dir, force,
                              progress or (lambda message: None), instance=instance, checkpoint=checkpoint,
                              signatures=signatures, version=version, files=files)


def summary(source: str | Path | Compiled | Analysis, module: str, init: dict | None = None, *,
            svg: str | Path | None = None, force: bool = False, trace: bool = False, limits: Limits | None = None,
            include: Sequence[str | Path] = ()) -> Summary:
    """What `module` is made of, as Keras's `model.summary()` shows a model: its submodules with their
    parameter counts (trainable and not) and variables, and the shapes flowing through each method's
    calls, from the static analysis with the constructor values `init` (no TensorFlow import).
    `trace`: also build the module and trace its methods, so TensorFlow fills in the sizes the
    analysis leaves `?` (a convolution's output). `print(result)` prints the table; `result.svg()` is a
    picture of the data flow, also written to `svg` (a new file; `force` replaces one). `source` is a
    path, a compiled source, or (without `trace`) an analysis (`tfm.analyze`)."""
    from tfm.dsl.analysis import Analysis as CheckedProgram
    from tfm.model_summary import summarize, trace_calls
    from tfm.pipeline import Compiled

    traced = None
    if isinstance(source, CheckedProgram):
        if trace:
            raise TypeError("summary(trace=True) builds the module: give a path or a compiled source")
        analysis = source
    elif trace:
        from tfm.loading.loader import import_compiled

        compiled = _compiled(source, limits, include)
        analysis = compiled.analysis
        info = analysis.modules.get(module)
        if info is not None and info.decl is not None:
            instance = getattr(import_compiled(compiled), module)(**(init or {}))
            traced = trace_calls(instance, info.decl)
    else:
        from tfm.pipeline import read_source

        analysis = (source.analysis if isinstance(source, Compiled) else
                    analyze(read_source(source), str(source), limits, include=include))
    result = summarize(analysis, module, init, traced)
    if svg is not None:
        from tfm.files import write_atomic, write_new_bytes

        text = result.svg()
        if force:
            write_atomic(Path(svg), text)
        else:
            write_new_bytes(Path(svg), text.encode())
    return result


def configure(settings: RuntimeSettings | None = None, **values: Any) -> RuntimeSettings:
    """Apply runtime settings (devices, memory, determinism, XLA) before TensorFlow runs anything:
    `settings`, else `RuntimeSettings(**values)` (which also reads TFM_* variables and the config
    file). Raises tfm.run.settings.SettingsError naming a setting that cannot be applied."""
    from tfm.run.devices import apply_settings
    from tfm.run.settings import ResolvedSettings, RuntimeSettings

    settings = settings if settings is not None else RuntimeSettings(**values)
    apply_settings(ResolvedSettings(settings, {name: "RuntimeSettings" for name in settings.model_fields_set}))
    return settings


def train(source: str | Path | Compiled, target: str, data: Any, *, init: dict | None = None,
          settings: RuntimeSettings | ResolvedSettings | None = None, progress: bool = True,
          limits: Limits | None = None, include: Sequence[str | Path] = (), instance: Any = None,
          strategy: Any = None, log: Callable[[str], None] | None = None, callbacks: Sequence[Any] = (),
          **options: Any) -> TrainResult:
    """Train `target` ("Module.method") of `source` on `data`, as `tfm train` does, and return the
    TrainResult (its `model` is the trained instance). `data` (and `validation_data`) is a path (.npz,
    .csv, .tfrecord), a mapping of arrays by input name (one example per row), a tf.data.Dataset of
    dicts (of examples, or of batches), or an iterable of such dicts. `options` are the fields of
    tfm.run.training.TrainSettings (each documented there, and the flags of `tfm train`): epochs,
    steps, batch_size, ... `settings` (devices, strategy) are applied first; settings already resolved
    and applied (a tfm.run.settings.ResolvedSettings, as `tfm train` has them) are taken as they are.
    `instance`: the module already built (under `strategy`, if it is distributed), else it is built
    here. `log` takes the lines about the run (its header, resuming, warnings); default: stderr.
    `callbacks`: Keras callback objects (`keras.callbacks.Callback`, or anything with some of its
    methods: on_train_begin, on_epoch_begin, on_train_batch_end, on_epoch_end(epoch, logs), ...)."""
    import os
    import sys

    from tfm.dsl.precision import with_policy
    from tfm.run.fine_tuning import check_fine_tuning, declared_frozen

    module_name, _, method = target.partition(".")
    compiled = _compiled(source, limits, include)
    for name in ("freeze", "init_map"):  # one path (or pair) alone, as a string, is a list of one
        if isinstance(options.get(name), str):
            options[name] = [options[name]]
    check_fine_tuning(compiled.analysis, module_name, options.get("freeze"), options.get("init_from"),
                      options.get("init_map"))
    declared = declared_frozen(compiled.analysis, module_name)  # `frozen sub`: skipped as --freeze's are
    if declared:
        options["freeze"] = [*declared, *(path for path in options.get("freeze") or () if path not in declared)]

    import tensorflow as tf  # only now: the checks above need none

    from tfm.run.jit_choice import default_jit
    from tfm.run.progress import NoProgress, progress_for
    from tfm.run.settings import ResolvedSettings
    from tfm.run.training import Trainer, TrainingError, TrainSettings, run_identity

    resolved = settings if isinstance(settings, ResolvedSettings) else ResolvedSettings(configure(settings))
    if instance is None:
        instance, strategy = _built(compiled, module_name, with_policy(init or {}, options.get("mixed_precision")),
                                    resolved)
    wanted = with_policy({}, options.get("mixed_precision")).get("dtype")
    if wanted is not None and getattr(instance, "_dtype_policy", None) != wanted:
        raise TrainingError(f"mixed_precision={options['mixed_precision']!r}: the instance given was built with "
                            f"the dtype policy {getattr(instance, '_dtype_policy', None)!r}; build it with "
                            f"dtype={wanted!r}, or pass no instance")
    if "." in (options.get("validate") or ""):  # "Module.method", as the CLI takes it
        options["validate"] = options["validate"].partition(".")[2]
    sources = {"data": data, "validation_data": options.pop("validation_data", None)}
    paths = {name: Path(value) if isinstance(value, (str, os.PathLike)) else None if value is None
             else Path(f"<{type(value).__name__} in memory>") for name, value in sources.items()}
    run = TrainSettings(data=paths["data"] or Path(), validation_data=paths["validation_data"], **options)
    if run.seed is None:
        run.seed = resolved.settings.seed
    shown = progress_for(sys.stdout) if progress else NoProgress()
    identity = run_identity(sys.modules[type(instance).__module__], module_name, method, run.data, init or {})
    trainer = Trainer(tf, instance, method, run, identity, shown, strategy=strategy,
                      log=log or (lambda message: print(message, file=sys.stderr, flush=True)),
                      sources=sources, callbacks=callbacks, jit=default_jit(resolved.settings))
    return trainer.run()


def _built(compiled: Compiled, module_name: str, init: dict, resolved: ResolvedSettings) -> tuple[Any, Any]:
    """(instance, strategy): `module_name` of `compiled` built under the strategy and device `resolved` names."""
    from tfm.loading.loader import import_compiled
    from tfm.run.devices import make_strategy, placement

    python_module = import_compiled(compiled)
    strategy = make_strategy(resolved)
    with placement(resolved, strategy):
        return getattr(python_module, module_name)(**init), strategy


def _use(source: str | Path | Compiled, target: str, checkpoint: str | Path | None, init: dict | None,
         purpose: str, limits: Limits | None, include: Sequence[str | Path]) -> tuple[Any, Any, str]:
    """(tf, instance, method name) for evaluate and predict: `target` of `source` built, its weights
    restored from `checkpoint` (if given)."""
    from tfm.run.using import refuse_training, restored_instance, split_target

    module_name, method = split_target(target)
    compiled = _compiled(source, limits, include)
    module, _ = _target_method(compiled, target, source)
    if purpose == "evaluate":
        refuse_training(compiled.analysis, module, method, purpose)
    import tensorflow as tf  # only now: every check above needs none

    return tf, restored_instance(tf, compiled, module_name, init, checkpoint), method


def evaluate(source: str | Path | Compiled, target: str, data: str | Path, *, checkpoint: str | Path | None = None,
             init: dict | None = None, batch_size: int | None = None, progress: Any = None,
             limits: Limits | None = None, include: Sequence[str | Path] = ()) -> EvaluateResult:
    """Run `target` ("Module.method", a method that does not train) over `data` (.npz, .csv, .tfrecord,
    read as `tfm train` reads it) in batches, with the weights of `checkpoint`; return an EvaluateResult
    whose `scalars` are its rank-0 outputs averaged over the examples. `progress` (None: silent) is a
    tfm.run.progress shower, e.g. `progress_for(sys.stderr)`. Raises tfm.run.using.UseError.

        >>> tfm.evaluate("model.tfm", "MLP.loss", "test.npz", checkpoint="runs/ckpt").scalars
        {'loss': 0.31}
    """
    from tfm.run.using import evaluate as run_evaluate

    tf, instance, method = _use(source, target, checkpoint, init, "evaluate", limits, include)
    return run_evaluate(tf, instance, method, data, batch_size, progress)


def predict(source: str | Path | Compiled, target: str, data: str | Path, out: str | Path, *,
            checkpoint: str | Path | None = None, init: dict | None = None, batch_size: int | None = None,
            progress: Any = None, limits: Limits | None = None, include: Sequence[str | Path] = ()) -> PredictResult:
    """Run `target` over `data` in batches, with the weights of `checkpoint`, and stream its outputs (one
    row per example) to the new file `out` (.npz, .npy or .csv), which is never replaced if it exists.
    `progress` as for `evaluate`. Returns a PredictResult. Raises tfm.run.using.UseError.

        >>> tfm.predict("model.tfm", "MLP.call", "test.npz", "preds.npz", checkpoint="runs/ckpt")
    """
    from tfm.run.using import check_prediction_path, predict as run_predict

    check_prediction_path(out)  # before TensorFlow loads
    tf, instance, method = _use(source, target, checkpoint, init, "predict", limits, include)
    return run_predict(tf, instance, method, data, out, batch_size, progress)


def _method_of(source: str | Path | Compiled, target: str, init: Mapping[str, Any] | None, limits: Limits | None,
               include: Sequence[str | Path]) -> tuple[Compiled, Any, Any, dict]:
    """(compiled, module, method, constructor values) for `target` ("Module.method"), every name and
    constructor value checked before TensorFlow loads. Raises tfm.run.using.UseError."""
    from tfm.run.using import UseError
    from tfm.run.values import BadValue, RawValue, constructor_kwargs

    compiled = _compiled(source, limits, include)
    module, method = _target_method(compiled, target, source)
    try:
        values = constructor_kwargs(module, {k: RawValue(k, v) for k, v in (init or {}).items()})
    except BadValue as exc:
        raise UseError(str(exc)) from None
    return compiled, module, method, values


def _target_method(compiled: Compiled, target: str, source: object) -> tuple[Any, Any]:
    """(module, method) that `target` ("Module.method", a method by its name or its overloaded name)
    names in `compiled`, or a UseError with the closest name there is."""
    from tfm.run.using import UseError, split_target

    module_name, method_name = split_target(target)
    module = next((m for m in compiled.analysis.program.modules if m.name == module_name), None)
    method = None if module is None else next((m for m in module.methods if method_name in (m.name, m.overload)), None)
    if module is None or method is None:
        import difflib

        known = [f"{m.name}.{f.overload or f.name}" for m in compiled.analysis.program.modules for f in m.methods]
        close = difflib.get_close_matches(target, known, n=1)
        raise UseError(f"no method {target} in {source}" + (f" (did you mean {close[0]}?)" if close else ""))
    return module, method


def _placed(settings: RuntimeSettings | ResolvedSettings | None):
    """Where to build and run: the device `settings` name (applied first unless already resolved), or
    TensorFlow's choice when None."""
    import contextlib

    from tfm.run.devices import placement
    from tfm.run.settings import ResolvedSettings

    if settings is None:
        return contextlib.nullcontext()
    return placement(settings if isinstance(settings, ResolvedSettings) else ResolvedSettings(configure(settings)))


def call(source: str | Path | Compiled, target: str, inputs: Mapping[str, Any] | None = None, *,
         init: Mapping[str, Any] | None = None, checkpoint: str | Path | None = None,
         settings: RuntimeSettings | ResolvedSettings | None = None, limits: Limits | None = None,
         include: Sequence[str | Path] = ()) -> dict[str, Any]:
    """Build the module of `target` ("Module.method") with constructor values `init`, restore the
    weights of `checkpoint` (a directory, its latest, or a prefix) if given, call the method once with
    `inputs` (input name -> a number, nested list, string or numpy array, made a tensor of the declared
    dtype) and return its outputs by name as numpy arrays (a single output is `output_0`), as `tfm run`
    does. For a method declared with several signatures, the first the inputs fit is called. Names,
    constructor values and inputs are checked before TensorFlow loads where they can be. Raises
    tfm.run.using.UseError, naming the `.tfm` line when building or running fails.

        >>> tfm.call("examples/demo_module.tfm", "DemoModule.addprint", {"a": 5.0}, init={"init_value": 1.0})
        {'output_0': array(6., dtype=float32)}
    """
    from tfm.run.values import BadValue, RawValue

    compiled, module, method, values = _method_of(source, target, init, limits, include)
    raw = {name: RawValue(name, value) for name, value in (inputs or {}).items()}
    import tensorflow as tf  # only now: every check above needs none

    from tfm.run.calling import fitting_signature, output_arrays
    from tfm.run.runtime_errors import describe_failure
    from tfm.run.using import UseError, restored_instance

    try:
        chosen, tensors = fitting_signature(module, target.partition(".")[2], method, raw, compiled.analysis)
    except BadValue as exc:
        raise UseError(str(exc)) from None
    try:
        with _placed(settings):
            instance = restored_instance(tf, compiled, module.name, values, checkpoint)
            return output_arrays(getattr(instance, chosen.name)(*tensors))
    except UseError:
        raise
    except Exception as exc:  # building, tracing or running the model: the .tfm line and TF's reason
        raise UseError(describe_failure(exc)) from None


def trace(source: str | Path | Compiled, target: str, logdir: str | Path, inputs: Mapping[str, Any] | None = None, *,
          init: Mapping[str, Any] | None = None, profile: bool = False,
          settings: RuntimeSettings | ResolvedSettings | None = None, limits: Limits | None = None,
          include: Sequence[str | Path] = ()) -> Path:
    """Build the module of `target` ("Module.method"), trace the method once and write its graph (and
    with `profile`, the profiler's timings) under `logdir` for TensorBoard's Graphs tab, as `tfm trace`
    does; returns `logdir`. Inputs not in `inputs` are zeros, with 1 for each unknown dimension. A
    method declared with several signatures cannot be traced by its shared name. Raises
    tfm.run.using.UseError."""
    from tfm.run.using import UseError
    from tfm.run.values import BadValue, RawValue

    compiled, module, method, values = _method_of(source, target, init, limits, include)
    if method.overload is not None and target.partition(".")[2] == method.overload:
        names = ", ".join(m.name for m in module.methods if m.overload == method.overload)
        raise UseError(f"{target} is declared with several signatures; trace one of them: {names}")
    raw = {name: RawValue(name, value) for name, value in (inputs or {}).items()}
    from tfm.loading.loader import import_compiled
    from tfm.run.runtime_errors import describe_failure
    from tfm.run.tracing import write_trace

    try:
        with _placed(settings):
            instance = getattr(import_compiled(compiled), module.name)(**values)
            return write_trace(instance, method, compiled.analysis, raw, Path(logdir), profile)
    except BadValue as exc:
        raise UseError(str(exc)) from None
    except Exception as exc:
        raise UseError(describe_failure(exc)) from None
