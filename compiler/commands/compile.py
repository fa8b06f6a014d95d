"""`tfm compile FILE`: write the generated Python (no TensorFlow import)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tfm.commands.common import EXIT_OK, InputError, compiled, print_diagnostics
from tfm.commands.options import add_source

QUICK = True
HELP_ORDER = 20  # where `tfm --help` lists it
EXAMPLES = ["tfm compile examples/my_model.tfm -o my_model.py", "tfm compile model.tfm -o - | less"]


def add_parser(commands):
    comp = commands.add_parser("compile", help="write the generated Python for a .tfm file",
                               description="Compile FILE to Python (no TensorFlow import). "
                                           "Writes FILE with a .py suffix unless -o is given; `-o -` prints it.")
    comp.add_argument("file", metavar="FILE", help="the .tfm source")
    comp.add_argument("-o", "--output", metavar="OUT.py", help="where to write the generated module")
    add_source(comp)
    return comp


def run(args) -> int:
    from tfm.files import write_atomic

    result = compiled(args)
    if result.analysis.warnings and not args.quiet:  # warnings never stop a compile
        print_diagnostics(result.analysis.warnings, {args.file: result.source_text})
    if args.output == "-":
        sys.stdout.write(result.python)
        return EXIT_OK
    target = Path(args.output) if args.output else Path(args.file).with_suffix(".py")
    _check_target(Path(args.file), target)
    try:
        write_atomic(target, result.python)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}") from None
    print(f"wrote {target}", file=sys.stderr)
    return EXIT_OK


def _check_target(source: Path, target: Path) -> None:
    """Never overwrite the source, nor a file tfm did not write (a hand-written `model.py`)."""
    from tfm.files import read_head, same_file
    from tfm.loading.loader import GENERATED_HEADER

    if same_file(source, target) or Path(os.path.realpath(source)) == Path(os.path.realpath(target)):
        raise InputError(f"{target} is the source file itself; choose another output with -o")
    if target.suffix == ".tfm":
        raise InputError(f"{target}: the output is Python; give it a .py name")
    head = read_head(target, len(GENERATED_HEADER))
    if head is not None and head != GENERATED_HEADER.encode():
        raise InputError(f"{target} exists and was not written by tfm; remove it or choose another output")
