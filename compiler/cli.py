"""The `tfm` command line: check, compile, run, export, inspect.

Exit codes: 0 success; 1 a problem in the input (diagnostics, bad values, an export that does not
match its declarations, a TensorFlow error while running); 2 a usage error or an internal failure.
`check` and `compile` never import TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

from tfm.dsl import InternalError, TfmError, render_json, render_text

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2


class _UsageError(Exception):
    pass


class _InputError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfm", description="Compile .tfm files into TensorFlow tf.Module Python, run and export them.",
        epilog="Run `tfm COMMAND --help` for a command's options.")
    parser.add_argument("--version", action="version", version=f"tfm {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = commands.add_parser("check", help="parse and check .tfm files (no TensorFlow import)",
                                description="Parse and check each file; print diagnostics. Exit 0 if none, 1 if any.")
    check.add_argument("files", nargs="+", metavar="FILE", help=".tfm files to check")
    check.add_argument("--format", choices=["text", "json"], default="text", help="diagnostic output format")
    _add_limits(check)
    check.set_defaults(handler=_cmd_check)

    comp = commands.add_parser("compile", help="write the generated Python for a .tfm file",
                               description="Compile FILE to Python (no TensorFlow import). "
                                           "Writes FILE with a .py suffix unless -o is given; `-o -` prints it.")
    comp.add_argument("file", metavar="FILE", help="the .tfm source")
    comp.add_argument("-o", "--output", metavar="OUT.py", help="where to write the generated module")
    _add_limits(comp)
    comp.set_defaults(handler=_cmd_compile)

    run = commands.add_parser("run", help="build a module and call one of its methods",
                              description="Build MODULE with its constructor values, call METHOD, print outputs. "
                                          "VALUE is a JSON literal (3, 2.5, [1, 2], \"text\") or @file.npy.")
    run.add_argument("file", metavar="FILE", help="the .tfm source")
    run.add_argument("target", metavar="MODULE.METHOD", help="the module to build and the method to call")
    _add_init(run)
    run.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE", help="a method input")
    run.add_argument("--device", metavar="DEVICE", help="run on this device, e.g. CPU:0 or GPU:0")
    _add_limits(run)
    run.set_defaults(handler=_cmd_run)

    _add_train(commands)
    _add_trace(commands)

    export = commands.add_parser("export", help="export a module as a verified SavedModel (and TFLite)",
                                 description="Build MODULE (with the weights of --checkpoint, if given) and save it "
                                             "with one signature per served method: serving_default is the @serving "
                                             "method, else the first served one. Methods that update trainable "
                                             "variables (train_step) are not served unless marked @signature or "
                                             "named in --signatures. The export is reloaded and checked against the "
                                             ".tfm, variable values included, before it is moved into place.")
    export.add_argument("file", metavar="FILE", help="the .tfm source")
    export.add_argument("--module", required=True, metavar="MODULE", help="the module to export")
    _add_init(export)
    export.add_argument("--checkpoint", metavar="PATH",
                        help="export these weights: a checkpoint directory (its latest) or prefix (DIR/ckpt-3)")
    export.add_argument("--signatures", metavar="METHOD,...",
                        help="serve exactly these methods (comma-separated), training methods included")
    export.add_argument("--out", required=True, metavar="DIR", help="the SavedModel directory to write")
    export.add_argument("--tflite", metavar="FILE.tflite", help="also convert to a TFLite flatbuffer")
    export.add_argument("--force", action="store_true", help="replace an existing export")
    _add_limits(export)
    export.set_defaults(handler=_cmd_export)

    inspect = commands.add_parser("inspect", help="show the signatures of an exported SavedModel",
                                  description="Print each signature's inputs and outputs with dtype and shape. "
                                              "Reads saved_model.pb as data: nothing in the export is run, "
                                              "and TensorFlow is not imported.")
    inspect.add_argument("directory", metavar="DIR", help="a SavedModel directory (from tfm export)")
    inspect.set_defaults(handler=_cmd_inspect)
    return parser


def _add_train(commands) -> None:
    train = commands.add_parser(
        "train", help="train a module with one of its methods over a dataset",
        description="Build MODULE and call METHOD on batches of --data, epoch after epoch, showing its scalar "
                    "outputs. With --checkpoint-dir a run saves checkpoints and a second run resumes from the "
                    "latest (same batches, same result as an uninterrupted run); with --logdir every scalar "
                    "output is written for TensorBoard. Data is matched to METHOD's inputs by name: .npz arrays, "
                    "CSV columns (x, or x_0, x_1, ... for a vector input), or TFRecord features.")
    train.add_argument("file", metavar="FILE", help="the .tfm source")
    train.add_argument("target", metavar="MODULE.METHOD", help="the module to build and its training method")
    train.add_argument("--data", required=True, metavar="PATH", help="training data: .npz, .csv or .tfrecord")
    _add_init(train)
    length = train.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=_positive_int, metavar="N", help="passes over the data (default 1)")
    length.add_argument("--steps", type=_positive_int, metavar="N", help="train until this many steps in all")
    train.add_argument("--batch-size", type=_positive_int, metavar="B", help="examples per step (default 32)")
    train.add_argument("--shuffle", type=_natural_int, metavar="N",
                       help="shuffle buffer size in examples; 0 keeps the file's order (default 1024)")
    train.add_argument("--seed", type=_natural_int, metavar="S",
                       help="seed of the data order (default: drawn at random and saved with the checkpoints)")
    train.add_argument("--checkpoint-dir", metavar="DIR", help="save checkpoints here and resume from them")
    train.add_argument("--max-to-keep", type=_positive_int, default=5, metavar="N",
                       help="checkpoints kept (default 5)")
    train.add_argument("--save-every", type=_positive_int, metavar="N",
                       help="also save every N steps (a checkpoint is always saved after each epoch and at the end)")
    train.add_argument("--restart", action="store_true",
                       help="begin anew: remove the checkpoints tfm wrote in --checkpoint-dir instead of resuming")
    train.add_argument("--logdir", metavar="DIR", help="write TensorBoard summaries of the scalar outputs here")
    train.add_argument("--validate", metavar="METHOD", help="a method returning scalars, run at each epoch's end")
    train.add_argument("--validation-data", metavar="PATH", help="data for --validate")
    _add_limits(train)
    train.set_defaults(handler=_cmd_train)


def _add_trace(commands) -> None:
    trace = commands.add_parser(
        "trace", help="write a method's traced graph for TensorBoard",
        description="Build MODULE, trace METHOD once with tf.summary.trace_on, and write the graph to --logdir "
                    "(`tensorboard --logdir DIR`, Graphs tab). Ops are grouped by the modules' name scopes. "
                    "Inputs not given with --arg are zeros, with 1 for each unknown dimension.")
    trace.add_argument("file", metavar="FILE", help="the .tfm source")
    trace.add_argument("target", metavar="MODULE.METHOD", help="the module to build and the method to trace")
    trace.add_argument("--logdir", required=True, metavar="DIR", help="where to write the trace")
    _add_init(trace)
    trace.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE", help="a method input")
    trace.add_argument("--profile", action="store_true", help="also record the profiler's timings")
    _add_limits(trace)
    trace.set_defaults(handler=_cmd_trace)


def _positive_int(text: str) -> int:
    value = _natural_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _natural_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0 or value >= 2**31:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to {2**31 - 1}, got {text!r}")
    return value


def _add_init(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--init", action="append", default=[], metavar="NAME=VALUE",
                        help="a constructor parameter (repeatable)")


def _add_limits(parser: argparse.ArgumentParser) -> None:
    from tfm.dsl.limits import Limits

    known = ", ".join(f"{name} ({default:,})" for name, default, _ in Limits.describe())
    parser.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                        help=f"raise a limit on what the source may build (repeatable): {known}; "
                             "VALUE may end in k, M, G, KiB, MiB or GiB")


def _limits(args):
    from tfm.dsl.limits import Limits

    try:
        return Limits().with_overrides(args.limit)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None


def _version() -> str:
    from tfm.generate.codegen import GENERATOR_VERSION

    return GENERATOR_VERSION


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except InternalError as exc:
        print(render_text(exc.diagnostics, exc.sources), file=sys.stderr)
        return EXIT_USAGE
    except TfmError as exc:
        print(render_text(exc.diagnostics, exc.sources), file=sys.stderr)
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


def _cmd_check(args) -> int:
    from tfm.pipeline import compile_text

    diagnostics, sources, internal = [], {}, False
    for path in args.files:
        try:
            text = _read(path)
            sources[path] = text
            compile_text(text, path, _limits(args))  # through generation: a check that passes means it compiles
        except TfmError as exc:
            internal = internal or isinstance(exc, InternalError)
            diagnostics.extend(exc.diagnostics)
            sources.update(exc.sources)
    if args.format == "json":
        print(render_json(diagnostics))
    elif diagnostics:
        print(render_text(diagnostics, sources), file=sys.stderr)
    if internal:
        return EXIT_USAGE
    return EXIT_INPUT if diagnostics else EXIT_OK


def _cmd_compile(args) -> int:
    from tfm.files import write_atomic
    from tfm.pipeline import compile_text

    compiled = compile_text(_read(args.file), args.file, _limits(args))
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
    from tfm.files import same_file
    from tfm.loading.loader import GENERATED_HEADER

    if same_file(source, target) or Path(os.path.realpath(source)) == Path(os.path.realpath(target)):
        raise _InputError(f"{target} is the source file itself; choose another output with -o")
    if target.suffix == ".tfm":
        raise _InputError(f"{target}: the output is Python; give it a .py name")
    if target.is_file() and not _starts_with(target, GENERATED_HEADER):
        raise _InputError(f"{target} exists and was not written by tfm; remove it or choose another output")


def _starts_with(path: Path, prefix: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(prefix)) == prefix.encode()
    except OSError:
        return False


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _split_target(target: str) -> tuple[str, str]:
    module_name, dot, method_name = target.partition(".")
    if not dot or not method_name:
        raise _UsageError(f"expected MODULE.METHOD, got {target!r}")
    return module_name, method_name


def _cmd_run(args) -> int:
    module_name, method_name = _split_target(args.target)
    from tfm.run.values import BadValue, constructor_kwargs, method_tensors, parse_assignments

    text = _read(args.file)
    _quiet_tensorflow()
    from tfm.loading.loader import import_compiled
    from tfm.pipeline import compile_text
    from tfm.run.runtime_errors import describe_failure

    compiled = compile_text(text, args.file, _limits(args))
    module = _module_decl(compiled.analysis, module_name)
    method = next((m for m in module.methods if m.name == method_name), None)
    if method is None:
        raise _InputError(f"module {module_name} has no method {method_name!r}; "
                          f"methods: {', '.join(m.name for m in module.methods)}")
    try:
        init = constructor_kwargs(module, parse_assignments(args.init, "--init"))
        python_module = import_compiled(compiled)
        tensors = method_tensors(method, parse_assignments(args.arg, "--arg"), compiled.analysis)
    except BadValue as exc:
        raise _InputError(str(exc)) from None
    from tfm.run.devices import device_scope

    try:
        scope = device_scope(args.device)
    except ValueError as exc:
        raise _InputError(str(exc)) from None
    try:
        with scope:
            instance = getattr(python_module, module_name)(**init)
            outputs = getattr(instance, method_name)(*tensors)
    except Exception as exc:  # building, tracing or running the model: the .tfm line and TF's reason
        raise _InputError(describe_failure(exc)) from None
    _print_outputs(outputs)
    return EXIT_OK


def _method_decl(module, name: str):
    method = next((m for m in module.methods if m.name == name), None)
    if method is None:
        raise _InputError(f"module {module.name} has no method {name!r}; "
                          f"methods: {', '.join(m.name for m in module.methods)}")
    return method


def _built(args, module_name: str):
    """Compile FILE, build MODULE with --init: (compiled, module declaration, instance)."""
    from tfm.run.values import BadValue, constructor_kwargs, parse_assignments

    text = _read(args.file)
    _quiet_tensorflow()
    from tfm.loading.loader import import_compiled
    from tfm.pipeline import compile_text
    from tfm.run.runtime_errors import describe_failure

    compiled = compile_text(text, args.file, _limits(args))
    module = _module_decl(compiled.analysis, module_name)
    try:
        init = constructor_kwargs(module, parse_assignments(args.init, "--init"))
    except BadValue as exc:
        raise _InputError(str(exc)) from None
    python_module = import_compiled(compiled)
    try:
        instance = getattr(python_module, module_name)(**init)
    except Exception as exc:
        raise _InputError(describe_failure(exc)) from None
    return compiled, module, init, python_module, instance


def _cmd_train(args) -> int:
    module_name, method_name = _split_target(args.target)
    compiled, module, init, python_module, instance = _built(args, module_name)
    _method_decl(module, method_name)
    from tfm.dsl.signatures import variable_updates

    updates = variable_updates(compiled.analysis, module)
    if method_name not in updates:
        print(f"tfm: warning: {module_name}.{method_name} updates no trainable variable: training will not change "
              "the weights", file=sys.stderr)
    if args.validate is not None:
        _method_decl(module, args.validate)
        if args.validate in updates:
            raise _InputError(f"--validate {args.validate}: it updates trainable variables ({updates[args.validate]});"
                              " validation must not train")
    import tensorflow as tf

    from tfm.run.progress import progress_for
    from tfm.run.runtime_errors import describe_failure
    from tfm.run.training import Trainer, TrainingError, TrainSettings, elapsed

    settings = TrainSettings(
        data=Path(args.data), epochs=args.epochs, steps=args.steps, batch_size=args.batch_size, shuffle=args.shuffle,
        seed=args.seed, checkpoint_dir=Path(args.checkpoint_dir) if args.checkpoint_dir else None,
        max_to_keep=args.max_to_keep, save_every=args.save_every, restart=args.restart,
        logdir=Path(args.logdir) if args.logdir else None, validate=args.validate,
        validation_data=Path(args.validation_data) if args.validation_data else None)
    identity = {"module": module_name, "method": method_name, "source": python_module._TFM_SOURCE,
                "source_sha256": python_module._TFM_SOURCE_SHA256, "data": os.path.abspath(args.data),
                "init": {k: v for k, v in init.items() if isinstance(v, (int, float, str, bool, list))}}
    started = time.perf_counter()
    try:
        trainer = Trainer(tf, instance, method_name, settings, identity, progress_for(sys.stdout),
                          log=lambda message: print(message, file=sys.stderr, flush=True))
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


def _cmd_trace(args) -> int:
    module_name, method_name = _split_target(args.target)
    compiled, module, _, _, instance = _built(args, module_name)
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
    raise _InputError(f"no module {name!r} in this file; modules: "
                      f"{', '.join(m.name for m in analysis.program.modules)}")


def _print_outputs(outputs) -> None:
    import numpy as np

    if outputs is None:
        return
    items = outputs.items() if isinstance(outputs, dict) else [("output_0", outputs)]
    for name, value in items:
        array = value.numpy()
        text = array.decode("utf-8", "replace") if isinstance(array, bytes) else np.array2string(
            np.asarray(array), threshold=200)
        print(f"{name}: {text}")


def _cmd_export(args) -> int:
    from tfm.run.values import BadValue, constructor_kwargs, parse_assignments

    text = _read(args.file)
    _quiet_tensorflow()
    from tfm.exports.exporter import ExportError, export_saved_model
    from tfm.loading.loader import import_compiled
    from tfm.pipeline import compile_text

    compiled = compile_text(text, args.file, _limits(args))
    module = _module_decl(compiled.analysis, args.module)
    try:
        init = constructor_kwargs(module, parse_assignments(args.init, "--init"))
    except BadValue as exc:
        raise _InputError(str(exc)) from None
    python_module = import_compiled(compiled)
    chosen = _method_list(args.signatures, "--signatures") if args.signatures is not None else None
    try:
        report = export_saved_model(python_module, compiled.analysis, args.module, init, args.out,
                                    force=args.force, tflite=args.tflite, checkpoint=args.checkpoint,
                                    signatures=chosen, progress=lambda message: print(f"tfm: {message}", file=sys.stderr))
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
    if report.tflite:
        print(f"wrote {report.tflite}")
    return EXIT_OK


def _method_list(text: str, option: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise _UsageError(f"{option} needs at least one method name")
    return names


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _cmd_inspect(args) -> int:
    from tfm.exports.describe import describe
    from tfm.exports.savedmodel_proto import UnreadableSavedModel

    directory = Path(args.directory)
    if not directory.is_dir():
        raise _InputError(f"{directory} is not a directory")
    try:
        print(describe(directory))
    except UnreadableSavedModel as exc:
        raise _InputError(f"{directory}: {exc}") from None
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
