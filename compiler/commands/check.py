"""`tfm check FILE...`: parse and check, print diagnostics (no TensorFlow import)."""

from __future__ import annotations

import dataclasses

from tfm.commands.common import EXIT_INPUT, EXIT_OK, EXIT_USAGE, count, limits, print_diagnostics, read_for_check
from tfm.commands.options import add_source

QUICK = True
HELP_ORDER = 10  # where `tfm --help` lists it
EXAMPLES = ["tfm check examples/*.tfm", "tfm check --format json --werror model.tfm", "cat model.tfm | tfm check -"]


def add_parser(commands):
    check = commands.add_parser("check", help="parse and check .tfm files (no TensorFlow import)",
                                description="Parse and check each file; print diagnostics. Exit 0 if none, 1 if any.")
    check.add_argument("files", nargs="+", metavar="FILE", help=".tfm files to check")
    check.add_argument("--format", choices=["text", "json"], default="text", help="diagnostic output format")
    check.add_argument("--werror", action="store_true", help="report warnings as errors (exit 1 if there are any)")
    add_source(check)
    return check


def run(args) -> int:
    """Every file's diagnostics, a file that cannot be read included (E006), in one report."""
    import tfm
    from tfm.dsl import InternalError, TfmError, render_json

    diagnostics, sources, internal = [], {}, False
    for path in args.files:
        try:
            text = read_for_check(path)
            sources[path] = text
            analysis = tfm.analyze(text, "<stdin>" if path == "-" else path, limits(args), include=args.include)
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
        print_diagnostics(diagnostics, sources)
    elif not args.quiet:  # all is well: say what was checked, on stdout (diagnostics go to stderr)
        print(f"{count(len(args.files), 'file')} checked, no problems")
    if internal:
        return EXIT_USAGE
    return EXIT_INPUT if any(d.severity == "error" for d in diagnostics) else EXIT_OK


def _as_errors(warnings) -> list:
    """--werror: each warning reported, and counted, as an error."""
    return [dataclasses.replace(w, severity="error") for w in warnings]
