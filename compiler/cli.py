"""The `tfm` command line: check, compile, run, export, inspect.

Exit codes: 0 success; 1 a problem in the input (diagnostics, bad values, an export that does not
match its declarations, a TensorFlow error while running); 2 a usage error or an internal failure.
`check` and `compile` never import TensorFlow.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

from tfm.cli_args import build_parser, command_in
from tfm.dsl import InternalError, TfmError, render_json, render_text
from tfm.terminal import colourize, use_colour

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2


class _UsageError(Exception):
    pass


class _InputError(Exception):
    pass


def _limits(args):
    from tfm.dsl.limits import Limits

    try:
        return Limits().with_overrides(args.limit)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None


def _compiled(args, text: str | None = None):
    """FILE compiled through the public API (`tfm.compile_text`) with the source options (-I, --limit)."""
    import tfm

    return tfm.compile_text(_read(args.file) if text is None else text, args.file, _limits(args), include=args.include)


# Commands that never import TensorFlow, whose process can end without the interpreter's teardown.
QUICK_COMMANDS = frozenset({"check", "compile", "fmt", "config", "inspect"})


def entry() -> None:
    """The `tfm` program (and `python -m tfm`): `main`, then exit with its status.

    A quick command ends once its output is flushed and exit handlers have run, without Python's
    teardown, which frees every object one by one: about 40 ms, a sixth of `tfm check` on a small file.
    Where TensorFlow was imported after all, it gets the normal exit."""
    status = main()
    if command_in(sys.argv[1:]) in QUICK_COMMANDS and "tensorflow" not in sys.modules:
        import atexit

        atexit._run_exitfuncs()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BrokenPipeError:
            status = status or 141
        except OSError:
            status = status or EXIT_USAGE
        os._exit(status)
    sys.exit(status)


def main(argv: list[str] | None = None) -> int:
    args = build_parser(sys.argv[1:] if argv is None else argv).parse_args(argv)
    handlers = {"check": _cmd_check, "compile": _cmd_compile, "run": _cmd_run, "train": _cmd_train,
                "trace": _cmd_trace, "evaluate": _cmd_evaluate, "predict": _cmd_predict, "export": _cmd_export, "inspect": _cmd_inspect, "devices": _cmd_devices,
                "config": _cmd_config, "lsp": _cmd_lsp, "fmt": _cmd_fmt}
    try:
        if args.command not in QUICK_COMMANDS:
            from tfm.loading.tempdir import use_private_tempdir

            try:
                use_private_tempdir()  # before TensorFlow writes (and AutoGraph imports) anything
            except OSError as exc:
                raise _UsageError(exc.strerror or str(exc)) from None
        return handlers[args.command](args)
    except InternalError as exc:
        _print_diagnostics(exc.diagnostics, exc.sources)
        return EXIT_USAGE
    except TfmError as exc:
        _print_diagnostics(exc.diagnostics, exc.sources)
        return EXIT_INPUT
    except _InputError as exc:
        print(f"tfm: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except _UsageError as exc:
        print(f"tfm: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tfm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tfm inspect ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # the last line of defence: never a raw traceback for the user
        print(f"tfm: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if os.environ.get("TFM_DEBUG"):
            traceback.print_exc()
        else:
            print("  (set TFM_DEBUG=1 for the traceback; please report this)", file=sys.stderr)
        return EXIT_USAGE


def _read(path: str) -> str:
    from tfm.pipeline import read_source

    if not Path(path).is_file():
        raise _UsageError(f"no such file: {path}")
    return read_source(path)


# --- commands --------------------------------------------------------------------------------


def _cmd_fmt(args) -> int:
    """Each file formatted; diagnostics for those that do not parse, which are left as they are."""
    import difflib

    from tfm.dsl.formatter import FormatError, format_source
    from tfm.files import rewrite_file

    failed, changed = False, []
    for path in args.files:
        try:
            text = _read_for_check(path)
            formatted = format_source(text, "<stdin>" if path == "-" else path)
        except TfmError as exc:
            _print_diagnostics(exc.diagnostics, exc.sources)
            failed = True
            continue
        except FormatError as exc:
            raise _UsageError(f"{path}: not formatted, a bug in tfm fmt: {exc}") from None
        if path == "-":
            sys.stdout.write(formatted)
            continue
        if formatted == text:
            continue
        changed.append(path)
        if args.diff:
            sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), formatted.splitlines(True),
                                                       path, f"{path} (formatted)"))
        if not (args.check or args.diff):
            try:
                rewrite_file(Path(path), formatted.encode("utf-8"))
            except OSError as exc:
                raise _InputError(f"cannot write {path}: {exc.strerror or exc}") from None
            if not args.quiet:
                print(f"formatted {path}", file=sys.stderr)
        elif args.check and not args.quiet:
            print(f"would format {path}", file=sys.stderr)
    if failed:
        return EXIT_INPUT
    return EXIT_INPUT if args.check and changed else EXIT_OK


def _cmd_lsp(args) -> int:
    from tfm.lsp import main as serve

    return serve()


def _cmd_check(args) -> int:
    """Every file's diagnostics, a file that cannot be read included (E006), in one report."""
    import tfm

    diagnostics, sources, internal = [], {}, False
    for path in args.files:
        try:
            text = _read_for_check(path)
            sources[path] = text
            analysis = tfm.analyze(text, "<stdin>" if path == "-" else path, _limits(args), include=args.include)
            diagnostics.extend(_as_errors(analysis.warnings) if args.werror else analysis.warnings)
        except TfmError as exc:
            internal = internal or isinstance(exc, InternalError)
            diagnostics.extend(exc.diagnostics)
            sources.update(exc.sources)
    if args.quiet:
        diagnostics = [d for d in diagnostics if d.severity == "error"]
    if args.format == "json":
        print(render_json(diagnostics))
    elif diagnostics:
        _print_diagnostics(diagnostics, sources)
    elif not args.quiet:  # all is well: say what was checked, on stdout (diagnostics go to stderr)
        print(f"{_count(len(args.files), 'file')} checked, no problems")
    if internal:
        return EXIT_USAGE
    return EXIT_INPUT if any(d.severity == "error" for d in diagnostics) else EXIT_OK


def _as_errors(warnings) -> list:
    """--werror: each warning reported, and counted, as an error."""
    return [w.model_copy(update={"severity": "error"}) for w in warnings]


def _print_diagnostics(diagnostics, sources) -> None:
    """Diagnostics on stderr: coloured on a terminal (never when NO_COLOR is set or output is piped)."""
    text = render_text(diagnostics, sources)
    print(colourize(text) if use_colour(sys.stderr) else text, file=sys.stderr)


def _read_for_check(path: str) -> str:
    """The text of `path` (`-`: standard input); a file that cannot be read is a diagnostic, E006."""
    from tfm.dsl import decode_source
    from tfm.dsl.diagnostics import error
    from tfm.dsl.nodes import Span
    from tfm.pipeline import read_source

    if path == "-":
        return decode_source(sys.stdin.buffer.read(), "<stdin>")
    try:
        if not Path(path).is_file():
            raise FileNotFoundError("no such file" if not Path(path).exists() else "not a regular file")
        return read_source(path)
    except OSError as exc:
        span = Span(file=path, line=1, column=1, end_line=1, end_column=1)
        why = exc.strerror or str(exc)
        raise TfmError([error("E006", span, f"cannot read {path}: {why.lower()}", "check the path")], {path: ""}) from None


def _cmd_compile(args) -> int:
    from tfm.files import write_atomic

    compiled = _compiled(args)
    if compiled.analysis.warnings and not args.quiet:  # warnings never stop a compile
        _print_diagnostics(compiled.analysis.warnings, {args.file: compiled.source_text})
    if args.output == "-":
        sys.stdout.write(compiled.python)
        return EXIT_OK
    target = Path(args.output) if args.output else Path(args.file).with_suffix(".py")
    _check_compile_target(Path(args.file), target)
    try:
        write_atomic(target, compiled.python)
    except OSError as exc:
        raise _InputError(f"cannot write {target}: {exc.strerror or exc}") from None
    print(f"wrote {target}", file=sys.stderr)
    return EXIT_OK


def _check_compile_target(source: Path, target: Path) -> None:
    """Never overwrite the source, nor a file tfm did not write (a hand-written `model.py`)."""
    from tfm.files import read_head, same_file
    from tfm.loading.loader import GENERATED_HEADER

    if same_file(source, target) or Path(os.path.realpath(source)) == Path(os.path.realpath(target)):
        raise _InputError(f"{target} is the source file itself; choose another output with -o")
    if target.suffix == ".tfm":
        raise _InputError(f"{target}: the output is Python; give it a .py name")
    head = read_head(target, len(GENERATED_HEADER))
    if head is not None and head != GENERATED_HEADER.encode():
        raise _InputError(f"{target} exists and was not written by tfm; remove it or choose another output")


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _split_target(target: str) -> tuple[str, str]:
    module_name, dot, method_name = target.partition(".")
    if not dot or not method_name:
        raise _UsageError(f"expected MODULE.METHOD, got {target!r}")
    return module_name, method_name


def _cmd_run(args) -> int:
    module_name, method_name = _split_target(args.target)
    _check_checkpoint_path(args.checkpoint)
    if args.save and os.path.lexists(args.save):  # never replace a file tfm did not write; say so before running
        raise _InputError(f"{args.save} exists; choose another path for --save")
    from tfm.run.values import BadValue, parse_assignments

    try:
        values = parse_assignments(args.arg, "--arg")  # @files read before TensorFlow loads
    except BadValue as exc:
        raise _InputError(str(exc)) from None
    compiled, module, method, init, python_module = _prepared(args, module_name, method_name)
    from tfm.run.runtime_errors import describe_failure

    try:
        method, tensors = _fitting_signature(module, method_name, method, values, compiled.analysis)
    except BadValue as exc:
        raise _InputError(str(exc)) from None
    try:
        with _placement(args.runtime):
            instance = getattr(python_module, module_name)(**init)
            if args.checkpoint is not None:
                _restore(instance, args.checkpoint)
            outputs = getattr(instance, method.name)(*tensors)
    except _InputError:
        raise
    except Exception as exc:  # building, tracing or running the model: the .tfm line and TF's reason
        raise _InputError(describe_failure(exc)) from None
    _print_outputs(outputs, args.format, args.save)
    return EXIT_OK


def _check_checkpoint_path(path: str | None) -> None:
    """--checkpoint names a checkpoint directory whose index is sound, or a prefix: checked before
    TensorFlow loads (the restore checks it again, with the variables)."""
    from tfm.run.checkpoints import CheckpointError, resolve_checkpoint

    if path is not None:
        try:
            resolve_checkpoint(None, path)
        except CheckpointError as exc:
            raise _InputError(str(exc)) from None


def _restore(instance, checkpoint: str) -> None:
    import tensorflow as tf

    from tfm.run.checkpoints import CheckpointError, resolve_checkpoint, restore_model

    try:
        restore_model(tf, instance, resolve_checkpoint(tf, checkpoint))
    except CheckpointError as exc:
        raise _InputError(str(exc)) from None


def _checked_use(args, purpose: str):
    """Everything about `evaluate`/`predict` that needs no TensorFlow: the file compiles, MODULE.METHOD
    and --init fit it, --data is a regular file, --checkpoint is sound, --out is new."""
    from tfm.run.datasets import DataError, check_regular_file
    from tfm.run.using import UseError, check_prediction_path, refuse_training
    from tfm.run.values import BadValue, constructor_kwargs, parse_assignments

    module_name, method_name = _split_target(args.target)
    compiled = _compiled(args)
    module = _module_decl(compiled.analysis, module_name)
    _method_decl(module, method_name)
    try:
        args.init_values = constructor_kwargs(module, parse_assignments(args.init, "--init"))
        if purpose == "evaluate":
            refuse_training(compiled.analysis, module, method_name, purpose)
        else:
            check_prediction_path(args.out)
        check_regular_file(Path(args.data), "data file")
    except (BadValue, DataError, UseError) as exc:
        raise _InputError(str(exc)) from None
    _check_checkpoint_path(args.checkpoint)
    return compiled


def _cmd_evaluate(args) -> int:
    import tfm

    compiled = _checked_use(args, "evaluate")
    result = _using(args, lambda progress: tfm.evaluate(
        compiled, args.target, args.data, checkpoint=args.checkpoint, init=args.init_values,
        batch_size=args.batch_size, progress=progress))
    if args.format == "json":
        import json

        print(json.dumps({"examples": result.examples, "scalars": result.scalars}))
    else:
        print(f"evaluated {args.target} on {result.examples} examples: " +
              "  ".join(f"{name}={value:.6g}" for name, value in result.scalars.items()))
    return EXIT_OK


def _cmd_predict(args) -> int:
    import tfm

    compiled = _checked_use(args, "predict")
    result = _using(args, lambda progress: tfm.predict(
        compiled, args.target, args.data, args.out, checkpoint=args.checkpoint, init=args.init_values,
        batch_size=args.batch_size, progress=progress))
    outputs = ", ".join(f"{name} {shape}" for name, shape in result.outputs.items())
    print(f"wrote predictions of {args.target} for {result.examples} examples to {result.path}: {outputs}")
    return EXIT_OK


def _using(args, call):
    """Apply the runtime settings, then `call(progress)` under their device; its failures are input errors."""
    from tfm.run.progress import progress_for
    from tfm.run.runtime_errors import describe_failure
    from tfm.run.using import UseError

    _quiet_tensorflow()
    _apply_runtime(args)
    progress = None if args.quiet else progress_for(sys.stderr)
    try:
        with _placement(args.runtime):
            return call(progress)
    except UseError as exc:
        raise _InputError(str(exc)) from None
    except (TfmError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise _InputError(describe_failure(exc)) from None
    finally:
        if progress is not None:
            progress.close()


def _resolved(args):
    """The runtime settings: flags over TFM_* variables over the config file over the defaults."""
    from tfm.run.settings import RuntimeSettings, SettingsError, resolve

    flags = {name: getattr(args, name) for name in RuntimeSettings.model_fields if hasattr(args, name)}
    try:
        resolved = resolve(flags)
    except SettingsError as exc:
        raise _InputError(str(exc)) from None
    for note in resolved.notes:  # a settings file or setting passed over: say which and why
        print(note, file=sys.stderr)
    return resolved


def _apply_runtime(args):
    """Resolve the runtime settings and apply them, before TensorFlow makes any tensor."""
    from tfm.run.devices import apply_settings
    from tfm.run.settings import SettingsError

    from tfm.run.quiet import native_stderr_captured, quiet_python_logs

    resolved = _resolved(args)
    if resolved.settings.strategy == "multiworker" and args.command in ("train", "trace"):
        from tfm.run.supervise import supervise_cluster_run

        supervise_cluster_run(_cluster_addresses(resolved))  # so SIGINT and SIGTERM stop a waiting worker
    verbose = getattr(args, "verbose", False)
    if not verbose:
        quiet_python_logs()
    notes: list[str] = []
    with native_stderr_captured(enabled=not verbose) as captured:  # TensorFlow's start-up noise
        try:
            importlib.import_module("tensorflow")  # here, so its start-up lines are captured
            apply_settings(resolved, log=notes.append)
        except SettingsError as exc:
            failure: Exception | None = _InputError(str(exc))
        except Exception as exc:
            failure = exc
        else:
            failure = None
    if failure is not None and not isinstance(failure, _InputError) and captured.text.strip():
        print(captured.text.rstrip(), file=sys.stderr)  # TensorFlow failed to start: its own words help
    for note in notes:
        print(note, file=sys.stderr)
    if failure is not None:
        raise failure
    args.runtime = resolved
    return resolved


def _cluster_addresses(resolved) -> list[str]:
    """The workers' addresses, for messages: the `workers` setting, else TF_CONFIG's."""
    import json

    if resolved.settings.workers:
        return list(resolved.settings.workers)
    try:
        workers = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {}).get("worker", [])
    except (ValueError, AttributeError):
        return []
    return [str(w) for w in workers] if isinstance(workers, list) else []


@contextlib.contextmanager
def _placement(resolved, strategy=None):
    """Build and run under the strategy's scope (if any) and the `device` setting's device."""
    from tfm.run.devices import settings_device_scope

    with strategy.scope() if strategy is not None else contextlib.nullcontext(), settings_device_scope(resolved):
        yield


def _prepared(args, module_name: str, method_name: str, checks=None):
    """Compile FILE; check MODULE, METHOD and --init, and `checks(compiled, module)` if given, all before
    TensorFlow loads: (compiled, module, method, init, Python module)."""
    from tfm.run.values import BadValue, constructor_kwargs, parse_assignments

    text = _read(args.file)
    _quiet_tensorflow()
    from tfm.loading.loader import import_compiled

    compiled = _compiled(args, text)
    module = _module_decl(compiled.analysis, module_name)
    method = _method_decl(module, method_name)
    try:
        init = constructor_kwargs(module, parse_assignments(args.init, "--init"))
    except BadValue as exc:
        raise _InputError(str(exc)) from None
    if checks is not None:
        checks(compiled, module)
    _apply_runtime(args)
    return compiled, module, method, init, import_compiled(compiled)


def _built(args, module_name: str, method_name: str, checks=None):
    """`_prepared`, then MODULE built under the strategy and device the settings name:
    (compiled, module, init, Python module, instance, strategy)."""
    from tfm.run.devices import make_strategy
    from tfm.run.runtime_errors import describe_failure
    from tfm.run.settings import SettingsError

    compiled, module, _, init, python_module = _prepared(args, module_name, method_name, checks)
    try:
        strategy = make_strategy(args.runtime)
    except SettingsError as exc:
        raise _InputError(str(exc)) from None
    try:
        with _placement(args.runtime, strategy):
            instance = getattr(python_module, module_name)(**init)
    except Exception as exc:
        raise _InputError(describe_failure(exc)) from None
    if strategy is not None:
        from tfm.run.supervise import cluster_formed

        cluster_formed()
    return compiled, module, init, python_module, instance, strategy


def _method_decl(module, name: str):
    """The method `name` names: a method, or the first signature of a method declared with several."""
    method = next((m for m in module.methods if m.name == name), None)
    method = method or next((m for m in module.methods if m.overload == name), None)
    if method is None:
        names = list(dict.fromkeys(m.overload or m.name for m in module.methods))
        raise _InputError(f"module {module.name} has no method {name!r}{_did_you_mean(name, names)}; "
                          f"methods: {', '.join(names)}")
    return method


def _did_you_mean(name: str, choices) -> str:
    """` (did you mean 'train_step'?)` for a near miss (difflib), else nothing."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _fitting_signature(module, called: str, method, values, analysis):
    """(method, tensors): `--arg` values made tensors for `method`, or, for a method declared with
    several signatures and `called` by its name, for the first signature whose shapes they fit."""
    from tfm.dsl.analysis import method_signature
    from tfm.run.values import BadValue, method_tensors

    if method.overload is None or called != method.overload:
        return method, method_tensors(method, values, analysis)
    signatures = [m for m in module.methods if m.overload == method.overload]
    for signature in signatures:
        try:
            tensors = method_tensors(signature, values, analysis)
        except BadValue:
            continue
        declared = [analysis.types[i.type].shape for i in signature.inputs]
        if all(_shape_fits(tensor.shape, shape) for tensor, shape in zip(tensors, declared)):
            return signature, tensors
    shown = "; ".join(method_signature(m) for m in signatures)
    raise BadValue(f"no signature of {method.overload} takes these --arg values; its signatures: {shown}")


def _shape_fits(shape, declared) -> bool:
    """A value's shape against a declared one: the same rank, every fixed size equal."""
    return len(shape) == len(declared) and all(not isinstance(d, int) or d == s for d, s in zip(declared, shape))


def _refuse_several_signatures(module, name: str, purpose: str) -> None:
    """`train` and `trace` work on one tf.function: a method of several signatures is named by one of them."""
    signatures = [m.name for m in module.methods if m.overload == name]
    if signatures:
        raise _InputError(f"{module.name}.{name} has {len(signatures)} signatures ({', '.join(signatures)}); "
                          f"name the one to {purpose}")


def _cmd_train(args) -> int:
    module_name, method_name = _split_target(args.target)
    args.validate = _validate_method(args.validate, module_name)
    _check_data_file(args.data, "data file")
    if args.validation_data is not None:
        _check_data_file(args.validation_data, "validation data file")

    def checks(compiled, module):
        from tfm.dsl.signatures import variable_updates

        _refuse_several_signatures(module, method_name, "train")
        updates = variable_updates(compiled.analysis, module)
        if method_name not in updates and not args.quiet:
            print(f"tfm: warning: {module_name}.{method_name} updates no trainable variable: training will not "
                  "change the weights", file=sys.stderr)
        if args.validate is not None:
            _method_decl(module, args.validate)
            _refuse_several_signatures(module, args.validate, "validate with")
            if args.validate in updates:
                raise _InputError(f"--validate {module_name}.{args.validate}: it updates trainable variables "
                                  f"({updates[args.validate]}); validation must not train")

    compiled, module, init, python_module, instance, strategy = _built(args, module_name, method_name, checks)
    import tensorflow as tf

    from tfm.run.progress import NoProgress, progress_for
    from tfm.run.runtime_errors import describe_failure
    from tfm.cli_args import model_fields
    from tfm.run.training import Trainer, TrainingError, TrainSettings, elapsed, run_identity

    given = {name: getattr(args, name) for name in model_fields(TrainSettings) if getattr(args, name, None) is not None}
    settings = TrainSettings(**{"seed": args.runtime.settings.seed, **given})  # --seed, else the runtime setting
    identity = run_identity(python_module, module_name, method_name, args.data, init)
    started = time.perf_counter()
    try:
        trainer = Trainer(tf, instance, method_name, settings, identity,
                          NoProgress() if args.quiet else progress_for(sys.stdout),
                          log=_quiet_log if args.quiet else _log, strategy=strategy)
        result = trainer.run()
    except TrainingError as exc:
        raise _InputError(str(exc)) from None
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a TensorFlow error in the step: the .tfm line and TF's reason
        raise _InputError(describe_failure(exc)) from None
    scalars = "  ".join(f"{k}={v:.6g}" for k, v in result.scalars.items())
    print(f"trained {module_name}.{method_name}: {result.steps} steps, {result.epochs} epochs done in "
          f"{elapsed(started)}" + (f"; last step: {scalars}" if scalars else ""))
    if result.checkpoint:
        print(f"checkpoint: {result.checkpoint}")
    return EXIT_OK


def _validate_method(name: str | None, module_name: str) -> str | None:
    """--validate names a method of the trained module, as MODULE.METHOD (or METHOD alone)."""
    if name is None or "." not in name:
        return name
    module, method = _split_target(name)
    if module != module_name:
        raise _UsageError(f"--validate {name}: the method must be one of {module_name}, the module trained")
    return method


def _check_data_file(path: str, what: str) -> None:
    from tfm.run.datasets import DataError, check_regular_file

    try:
        check_regular_file(Path(path), what)
    except DataError as exc:
        raise _InputError(str(exc)) from None


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _quiet_log(message: str) -> None:
    """-q: the header, resuming and warning lines are not shown (errors are raised, results printed)."""


def _cmd_trace(args) -> int:
    module_name, method_name = _split_target(args.target)
    compiled, module, _, _, instance, _ = _built(
        args, module_name, method_name, lambda compiled, module: _refuse_several_signatures(module, method_name, "trace"))
    method = _method_decl(module, method_name)
    from tfm.run.runtime_errors import describe_failure
    from tfm.run.tracing import write_trace
    from tfm.run.values import BadValue, parse_assignments

    try:
        path = write_trace(instance, method, compiled.analysis, parse_assignments(args.arg, "--arg"),
                           Path(args.logdir), args.profile)
    except BadValue as exc:
        raise _InputError(str(exc)) from None
    except Exception as exc:
        raise _InputError(describe_failure(exc)) from None
    print(f"wrote the graph of {module_name}.{method_name} to {path}; view it with: tensorboard --logdir {args.logdir}")
    return EXIT_OK


def _module_decl(analysis, name: str):
    for module in analysis.program.modules:
        if module.name == name:
            return module
    names = [m.name for m in analysis.program.modules]
    raise _InputError(f"no module {name!r} in this file{_did_you_mean(name, names)}; modules: {', '.join(names)}")


def _print_outputs(outputs, output_format: str = "text", save: str | None = None) -> None:
    """Each output whole (no truncation), as text or one JSON object; `save` writes them to an .npz."""
    import numpy as np

    items = [] if outputs is None else outputs.items() if isinstance(outputs, dict) else [("output_0", outputs)]
    arrays = {name: np.asarray(value.numpy()) for name, value in items}
    if save:
        from tfm.files import write_new_bytes
        import io

        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=True, **arrays)  # numpy's default, named: no output is taken for it
        try:
            write_new_bytes(Path(save), buffer.getvalue())  # never replaces what appeared since the check
        except FileExistsError:
            raise _InputError(f"{save} exists; choose another path for --save") from None
        except OSError as exc:
            raise _InputError(f"cannot write {save}: {exc.strerror or exc}") from None
    if output_format == "json":
        import json

        print(json.dumps({name: _jsonable(array) for name, array in arrays.items()}))
        return
    for name, array in arrays.items():
        text = array.item().decode("utf-8", "replace") if array.dtype.kind in "OS" and array.ndim == 0 \
            else np.array2string(array, threshold=sys.maxsize)
        print(f"{name}: {text}")


def _jsonable(array) -> object:
    import numpy as np

    if array.dtype.kind in "OS":
        return np.vectorize(lambda b: b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b),
                            otypes=[object])(array).tolist()
    if array.dtype.kind == "c":
        return {"real": array.real.tolist(), "imag": array.imag.tolist()}
    return array.tolist()


def _cmd_export(args) -> int:
    args.module = _export_module(args)
    from tfm.run.values import BadValue, constructor_kwargs, parse_assignments

    files = _export_files(args)
    text = _read(args.file)
    _quiet_tensorflow()
    import tfm
    from tfm.exports.exporter import ExportError

    compiled = _compiled(args, text)
    module = _module_decl(compiled.analysis, args.module)
    try:
        init = constructor_kwargs(module, parse_assignments(args.init, "--init"))
    except BadValue as exc:
        raise _InputError(str(exc)) from None
    _apply_runtime(args)
    chosen = _method_list(args.signatures, "--signatures") if args.signatures is not None else None
    try:
        with _placement(args.runtime):
            report = tfm.export(compiled, args.module, args.out, init, args.force, checkpoint=args.checkpoint,
                                signatures=chosen, version=args.version, formats=files,
                                progress=(lambda message: None) if args.quiet else
                                (lambda message: print(f"tfm: {message}", file=sys.stderr)))
    except ExportError as exc:
        raise _InputError(str(exc)) from None
    print(f"exported {args.module} to {report.directory} ({_count(len(report.signatures), 'signature')}, "
          f"{_count(len(report.variables), 'variable')}, verified)")
    if report.checkpoint:
        print(f"  weights from {report.checkpoint}")
    for contract in report.signatures:
        print(f"  {contract.key}: {contract.method}")
    for method, why in report.left_out.items():
        print(f"  not served: {method}: {why}")
    for path, written in report.files.values():
        print(written.summary(path))
    return EXIT_OK


def _export_module(args) -> str:
    """MODULE, given as `tfm export FILE MODULE` or `--module MODULE` (once)."""
    if args.target and args.module and args.target != args.module:
        raise _UsageError(f"two modules named: {args.target} and --module {args.module}")
    module = args.target or args.module
    if not module:
        raise _UsageError("name the module to export: tfm export FILE MODULE (or --module MODULE)")
    return module


def _export_files(args) -> dict[str, dict]:
    """The file formats asked for (`--tflite FILE` ...) with their options (`--quantize` ...), by the
    export format registry; an option without its format is a usage error."""
    import dataclasses

    from tfm.exports.formats import FORMATS, format_class

    files = {}
    for name in FORMATS:
        options = {f.name: getattr(args, f.name) for f in dataclasses.fields(format_class(name).options_type)}
        given = [f"--{option.replace('_', '-')}" for option, value in options.items() if value not in (None, False)]
        if getattr(args, name) is not None:
            files[name] = {"path": getattr(args, name), **{k: v for k, v in options.items() if v is not None}}
        elif given:
            raise _UsageError(f"{', '.join(given)}: {'needs' if len(given) == 1 else 'need'} --{name} FILE")
    return files


def _method_list(text: str, option: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise _UsageError(f"{option} needs at least one method name")
    return names


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _cmd_devices(args) -> int:
    _quiet_tensorflow()
    resolved = _apply_runtime(args)
    from tfm.run.devices import device_report

    print("\n".join(device_report(resolved)))
    print("settings:")
    print("\n".join(_settings_lines(resolved)))
    return EXIT_OK


def _cmd_config(args) -> int:
    import json

    resolved = _resolved(args)
    if args.format == "json":
        print(json.dumps({name: {"value": value, "source": source} for name, value, source in resolved.describe()},
                         indent=2))
    else:
        print("\n".join(_settings_lines(resolved)))
    return EXIT_OK


def _settings_lines(resolved) -> list[str]:
    import json

    rows = [(name, json.dumps(value), source) for name, value, source in resolved.describe()]
    width = max(len(name) for name, _, _ in rows)
    value_width = max(len(value) for _, value, _ in rows)
    return [f"  {name:<{width}}  {value:<{value_width}}  ({source})" for name, value, source in rows]


def _cmd_inspect(args) -> int:
    import json

    from tfm.exports.describe import describe, inspect_export
    from tfm.exports.savedmodel_proto import UnreadableSavedModel

    path = Path(args.directory)
    if not path.exists():
        raise _InputError(f"{path}: no such file or directory")
    try:
        print(json.dumps(inspect_export(path), indent=2) if args.format == "json" else describe(path))
    except UnreadableSavedModel as exc:
        raise _InputError(f"{path}: {exc}") from None
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
