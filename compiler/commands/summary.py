"""`tfm summary FILE MODULE`: submodules, parameter counts and shapes, and a picture (no TensorFlow
import unless --trace)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tfm.commands.common import EXIT_OK, InputError, UsageError, compiled, limits, module_decl, read
from tfm.commands.options import add_init, add_source

QUICK = True  # unless --trace, which sets up what TensorFlow needs itself
HELP_ORDER = 120  # where `tfm --help` lists it
EXAMPLES = ["tfm summary examples/cnn_classifier.tfm CNNClassifier --trace",
            "tfm summary examples/my_model.tfm MyModel --init num_classes=3 --svg my_model.svg"]


def add_parser(commands):
    summary = commands.add_parser("summary", help="a module's submodules, parameters and shapes (and an SVG picture)",
                                  description="Print MODULE's submodules with their parameter counts (trainable "
                                              "and not) and variables, and each method's calls of submodules with "
                                              "the shapes flowing in and out, as Keras's model.summary() does; "
                                              "--svg draws the data flow of every method with the shapes on its "
                                              "arrows. Computed from the static analysis with the --init values: "
                                              "TensorFlow is not imported, and a size known only once the module "
                                              "is built shows as `?` (--trace builds it and fills those in).")
    summary.add_argument("file", metavar="FILE", help="the .tfm source")
    summary.add_argument("module", metavar="MODULE", help="the module to summarize")
    add_init(summary)
    summary.add_argument("--svg", metavar="FILE.svg", help="also draw the submodules and data flow to this new file")
    summary.add_argument("--force", action="store_true", help="replace FILE.svg if it exists")
    summary.add_argument("--trace", action="store_true",
                         help="build the module and trace its methods in TensorFlow, to fill in the sizes the "
                              "static analysis leaves `?` (a convolution's output)")
    summary.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    add_source(summary)
    return summary


def run(args) -> int:
    import tfm
    from tfm.run.values import BadValue, constructor_kwargs, parse_assignments

    if args.svg is not None and Path(args.svg).suffix.lower() != ".svg":
        raise UsageError(f"--svg {args.svg}: the picture is SVG; give it a .svg name")
    if args.trace:
        from tfm.loading.tempdir import use_private_tempdir

        try:
            use_private_tempdir()  # before TensorFlow writes (and AutoGraph imports) anything
        except OSError as exc:
            raise UsageError(exc.strerror or str(exc)) from None
        _import_tensorflow_quietly(getattr(args, "verbose", False))
        source = compiled(args)
        analysis = source.analysis
    else:
        analysis = source = tfm.analyze(read(args.file), args.file, limits(args), include=args.include)
    module = module_decl(analysis, args.module)
    try:
        init = constructor_kwargs(module, parse_assignments(args.init, "--init"))
    except BadValue as exc:
        raise InputError(str(exc)) from None
    try:
        result = tfm.summary(source, args.module, init, svg=args.svg, force=args.force, trace=args.trace)
    except FileExistsError:
        raise InputError(f"{args.svg} exists; pass --force to replace it") from None
    except OSError as exc:
        raise InputError(f"cannot write {args.svg}: {exc.strerror or exc}") from None
    if args.format == "json":
        print(json.dumps(result.as_dict(), indent=2, default=str))
    else:
        sys.stdout.write(str(result))
    if args.svg is not None and not args.quiet:
        print(f"wrote {args.svg}", file=sys.stderr)
    return EXIT_OK


def _import_tensorflow_quietly(verbose: bool) -> None:
    """TensorFlow's start-up lines hidden, as every command that runs a model hides them (`-v` shows them)."""
    import importlib

    from tfm.run.quiet import native_stderr_captured, quiet_python_logs

    if not verbose:
        quiet_python_logs()
    with native_stderr_captured(enabled=not verbose):
        importlib.import_module("tensorflow")
