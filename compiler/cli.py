"""The `tfm` command line: check, compile, run, export, inspect.

Exit codes: 0 success; 1 a problem in the input (diagnostics, bad values, an export that does not
match its declarations, a TensorFlow error while running); 2 a usage error or an internal failure.
`check` and `compile` never import TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import sys
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


def _cmd_run(args) -> int:
    module_name, dot, method_name = args.target.partition(".")
    if not dot or not method_name:
        raise _UsageError(f"expected MODULE.METHOD, got {args.target!r}")
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
