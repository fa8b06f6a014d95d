"""`tfm inspect PATH`: the signatures of an exported SavedModel or .tflite, read as data."""

from __future__ import annotations

from pathlib import Path

from tfm.commands.common import EXIT_OK, InputError

QUICK = True
HELP_ORDER = 110  # where `tfm --help` lists it
EXAMPLES = ["tfm inspect serving/my_model/1", "tfm inspect out/mlp.tflite --format json"]


def add_parser(commands):
    inspect = commands.add_parser("inspect", help="show the signatures of an exported SavedModel or .tflite",
                                  description="Print each signature's inputs and outputs with dtype and shape (and "
                                              "the .tfm's declared types and output order), where the export came "
                                              "from, and which methods it does not serve. Reads the files as data: "
                                              "nothing in the export is run, and TensorFlow is not imported.")
    inspect.add_argument("directory", metavar="PATH", help="a SavedModel directory or a .tflite file")
    inspect.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    return inspect


def run(args) -> int:
    import json

    from tfm.exports.describe import describe, inspect_export
    from tfm.exports.savedmodel_proto import UnreadableSavedModel

    path = Path(args.directory)
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    try:
        print(json.dumps(inspect_export(path), indent=2) if args.format == "json" else describe(path))
    except UnreadableSavedModel as exc:
        raise InputError(f"{path}: {exc}") from None
    return EXIT_OK
