"""`tfm summary FILE MODULE`: submodules, parameter counts and shapes, and a picture (no TensorFlow import)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tfm.commands.common import EXIT_OK, InputError, UsageError, limits, module_decl, read
from tfm.commands.options import add_init, add_source

QUICK = True
EXAMPLES = ["tfm summary examples/cnn_classifier.tfm CNNClassifier",
            "tfm summary examples/my_model.tfm MyModel --init num_classes=3 --svg my_model.svg"]


def add_parser(commands):
    summary = commands.add_parser("summary", help="a module's submodules, parameters and shapes (and an SVG picture)",
                                  description="Print MODULE's submodules with their parameter counts (trainable "
                                              "and not) and variables, and each method's calls of submodules with "
                                              "the shapes flowing in and out, as Keras's model.summary() does; "
                                              "--svg draws the data flow of every method with the shapes on its "
                                              "arrows. Computed from the static analysis with the --init values: "
                                              "TensorFlow is not imported, and a size known only once the module "
                                              "is built shows as `?`.")
    summary.add_argument("file", metavar="FILE", help="the .tfm source")
    summary.add_argument("module", metavar="MODULE", help="the module to summarize")
    add_init(summary)
    summary.add_argument("--svg", metavar="FILE.svg", help="also draw the submodules and data flow to this new file")
    summary.add_argument("--force", action="store_true", help="replace FILE.svg if it exists")
    summary.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    add_source(summary)
    return summary


def run(args) -> int:
    import tfm
    from tfm.run.values import BadValue, constructor_kwargs, parse_assignments

    if args.svg is not None and Path(args.svg).suffix.lower() != ".svg":
        raise UsageError(f"--svg {args.svg}: the picture is SVG; give it a .svg name")
    analysis = tfm.analyze(read(args.file), args.file, limits(args), include=args.include)
    module = module_decl(analysis, args.module)
    try:
        init = constructor_kwargs(module, parse_assignments(args.init, "--init"))
    except BadValue as exc:
        raise InputError(str(exc)) from None
    try:
        result = tfm.summary(analysis, args.module, init, svg=args.svg, force=args.force)
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
