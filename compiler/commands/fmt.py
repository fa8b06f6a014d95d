"""`tfm fmt FILE...`: rewrite files in the canonical layout, comments kept."""

from __future__ import annotations

import sys
from pathlib import Path

from tfm.commands.common import EXIT_INPUT, EXIT_OK, InputError, UsageError, print_diagnostics, read_for_check

QUICK = True
HELP_ORDER = 130  # where `tfm --help` lists it
EXAMPLES = ["tfm fmt examples/*.tfm", "tfm fmt --check --diff model.tfm"]


def add_parser(commands):
    fmt = commands.add_parser("fmt", help="format .tfm files in one canonical layout (comments kept)",
                              description="Rewrite each FILE in tfm's canonical layout, in place and atomically, "
                                          "keeping every comment; a file is only rewritten if it changes. The "
                                          "result always parses to the same program. `-` formats standard input "
                                          "to standard output. Exit 1 if a file does not parse (or, with --check, "
                                          "would change).")
    fmt.add_argument("files", nargs="+", metavar="FILE", help=".tfm files to format")
    fmt.add_argument("--check", action="store_true", help="write nothing; list the files that would change")
    fmt.add_argument("--diff", action="store_true", help="write nothing; print what would change as a unified diff")
    return fmt


def run(args) -> int:
    """Each file formatted; diagnostics for those that do not parse, which are left as they are."""
    import difflib

    from tfm.dsl import TfmError
    from tfm.dsl.formatter import FormatError, format_source
    from tfm.files import rewrite_file

    failed, changed = False, []
    for path in args.files:
        try:
            text = read_for_check(path)
            formatted = format_source(text, "<stdin>" if path == "-" else path)
        except TfmError as exc:
            print_diagnostics(exc.diagnostics, exc.sources)
            failed = True
            continue
        except FormatError as exc:
            raise UsageError(f"{path}: not formatted, a bug in tfm fmt: {exc}") from None
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
                raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
            if not args.quiet:
                print(f"formatted {path}", file=sys.stderr)
        elif args.check and not args.quiet:
            print(f"would format {path}", file=sys.stderr)
    if failed:
        return EXIT_INPUT
    return EXIT_INPUT if args.check and changed else EXIT_OK
