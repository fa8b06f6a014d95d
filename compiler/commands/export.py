"""`tfm export FILE MODULE --out DIR`: a verified SavedModel (and the other formats asked for)."""

from __future__ import annotations

import sys

from tfm.commands.common import (EXIT_OK, InputError, UsageError, apply_runtime, compiled, count, module_decl,
                                 quiet_tensorflow, read)
from tfm.commands.options import add_init, add_runtime, add_source, flag_of, positive_int

HELP_ORDER = 100  # where `tfm --help` lists it
EXAMPLES = ["tfm export examples/my_model.tfm MyModel --out serving/my_model --version",
            "tfm export model.tfm MLP --out out/mlp --tflite out/mlp.tflite --quantize dynamic"]


def add_parser(commands):
    export = commands.add_parser("export", help="export a module as a verified SavedModel (and TFLite)",
                                 description="Build MODULE (with the weights of --checkpoint, if given) and save it "
                                             "with one signature per served method. Served by default: the method "
                                             "marked @serving (its signature is serving_default); with none marked, "
                                             "every method that neither trains (updates trainable variables, e.g. "
                                             "train_step) nor takes labels (an input reaching a loss op's labels, "
                                             "e.g. evaluate); and in both cases methods marked @signature. "
                                             "--signatures adds more. Methods not served and optimizers no served "
                                             "method uses are left out of the SavedModel; it follows TensorFlow's "
                                             "reusable SavedModel convention (variables, trainable_variables, "
                                             "regularization_losses, __call__: the serving method). The export is "
                                             "reloaded and checked against the .tfm, variable values included, "
                                             "before it is moved into place; a failed export leaves nothing behind.")
    export.add_argument("file", metavar="FILE", help="the .tfm source")
    export.add_argument("target", nargs="?", metavar="MODULE",
                        help="the module to export (as in `tfm run FILE MODULE.METHOD`; --module also works)")
    export.add_argument("--module", metavar="MODULE", help="the module to export (the same as MODULE)")
    add_init(export)
    export.add_argument("--checkpoint", metavar="PATH",
                        help="export these weights: a checkpoint directory (its latest) or prefix (DIR/ckpt-3)")
    export.add_argument("--signatures", metavar="METHOD,...",
                        help="serve these methods too (comma-separated), training methods included")
    export.add_argument("--out", required=True, metavar="DIR", help="the SavedModel directory to write")
    export.add_argument("--version", nargs="?", const="next", type=_version_number, metavar="N",
                        help="write the SavedModel to DIR/N, as TensorFlow Serving expects (no N: the next free)")
    _add_formats(export)
    export.add_argument("--force", action="store_true", help="replace an existing export")
    add_runtime(export)
    add_source(export)
    return export


def _version_number(text: str):
    return text if text == "next" else positive_int(text)


def _add_formats(parser) -> None:
    """`--NAME FILE` for each export format of the registry (tfm.exports.formats), and its options."""
    import dataclasses

    from tfm.exports.formats import FORMATS, format_class

    for name in FORMATS:
        kind = format_class(name)
        parser.add_argument(flag_of(name), metavar=f"FILE{kind.suffix}", help=kind.help)
        for option in dataclasses.fields(kind.options_type):
            choices = option.metadata.get("choices")
            described = {"help": option.metadata.get("help"), **({"choices": list(choices)} if choices else {}),
                         **({"metavar": option.metadata["metavar"]} if "metavar" in option.metadata else {})}
            if option.type in (bool, "bool"):
                parser.add_argument(flag_of(option.name), action="store_true", **described)
            else:
                parser.add_argument(flag_of(option.name), **described)


def run(args) -> int:
    args.module = _export_module(args)
    from tfm.run.values import BadValue, constructor_kwargs, parse_assignments

    files = export_files(args)
    text = read(args.file)
    quiet_tensorflow()
    import tfm
    from tfm.exports.exporter import ExportError
    from tfm.run.devices import placement

    source = compiled(args, text)
    module = module_decl(source.analysis, args.module)
    try:
        init = constructor_kwargs(module, parse_assignments(args.init, "--init"))
    except BadValue as exc:
        raise InputError(str(exc)) from None
    apply_runtime(args)
    chosen = _method_list(args.signatures, "--signatures") if args.signatures is not None else None
    try:
        with placement(args.runtime):
            report = tfm.export(source, args.module, args.out, init, args.force, checkpoint=args.checkpoint,
                                signatures=chosen, version=args.version, formats=files,
                                progress=(lambda message: None) if args.quiet else
                                (lambda message: print(f"tfm: {message}", file=sys.stderr)))
    except ExportError as exc:
        raise InputError(str(exc)) from None
    print(f"exported {args.module} to {report.directory} ({count(len(report.signatures), 'signature')}, "
          f"{count(len(report.variables), 'variable')}, verified)")
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
        raise UsageError(f"two modules named: {args.target} and --module {args.module}")
    module = args.target or args.module
    if not module:
        raise UsageError("name the module to export: tfm export FILE MODULE (or --module MODULE)")
    return module


def export_files(args) -> dict[str, dict]:
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
            raise UsageError(f"{', '.join(given)}: {'needs' if len(given) == 1 else 'need'} --{name} FILE")
    return files


def _method_list(text: str, option: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UsageError(f"{option} needs at least one method name")
    return names
