"""The `tfm` command line: its top-level parser and `main`, which runs one command of
`tfm.commands` (a module per command: its options, help, examples and handler).

Exit codes: 0 success; 1 a problem in the input (diagnostics, bad values, an export that does not
match its declarations, a TensorFlow error while running); 2 a usage error or an internal failure.
`check` and `compile` never import TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import Any

from tfm.commands import COMMANDS, command_module, in_help_order, is_quick
from tfm.commands.common import EXIT_INPUT, EXIT_USAGE, InputError, UsageError, print_diagnostics
from tfm.commands.options import add_examples, add_output_level
from tfm.dsl import InternalError, TfmError
from tfm.version import tfm_version


def entry() -> None:
    """The `tfm` program (and `python -m tfm`): `main`, then exit with its status.

    A quick command ends once its output is flushed, without Python's teardown, which frees every
    object one by one: about 40 ms, a sixth of `tfm check` on a small file. Only where nothing
    registered work for exit: TensorFlow was not imported, nor tfm's private temporary directory made
    (whose removal is an exit handler); otherwise the normal exit runs them."""
    status = main()
    if is_quick(command_in(sys.argv[1:])) and not {"tensorflow", "tfm.loading.tempdir"} & sys.modules.keys():
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
    try:
        if not is_quick(args.command):
            from tfm.loading.tempdir import use_private_tempdir

            try:
                use_private_tempdir()  # before TensorFlow writes (and AutoGraph imports) anything
            except OSError as exc:
                raise UsageError(exc.strerror or str(exc)) from None
        return command_module(args.command).run(args)
    except InternalError as exc:
        print_diagnostics(exc.diagnostics, exc.sources)
        return EXIT_USAGE
    except TfmError as exc:
        print_diagnostics(exc.diagnostics, exc.sources)
        return EXIT_INPUT
    except InputError as exc:
        print(f"tfm: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except UsageError as exc:
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


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`: of its commands only the one named there is imported and gets its
    options, help and examples (the rest are named: importing and setting up every command was a
    few milliseconds of every start). No argv, or no command in it: every command, whole."""
    running = command_in(argv) if argv is not None else None
    parser = argparse.ArgumentParser(
        prog="tfm", description="Compile .tfm files into TensorFlow tf.Module Python, run and export them.",
        epilog="Run `tfm COMMAND --help` for a command's options.")
    parser.add_argument("--version", action=_ShowVersion, help="show tfm's, TensorFlow's and Python's versions")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show TensorFlow's own log lines (absl, oneDNN, CUDA), hidden by default")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only errors and results: no warnings, no progress lines")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=_CommandParser)
    # Every command when none is named, or it is not one (argparse lists them all), or `tfm --help check`.
    options = argv[:argv.index(running)] if argv and running in COMMANDS else []
    every = running not in COMMANDS or "-h" in options or "--help" in options
    for name in in_help_order(COMMANDS) if every else COMMANDS:
        if every or name == running:
            command = command_module(name)
            add_examples(command.add_parser(commands), command.EXAMPLES)
        else:
            commands.add_parser(name, add_help=False)
    return parser


def command_in(argv: list[str]) -> str | None:
    """The command `argv` names (tfm's own options come before it and take no values), if any."""
    return next((word for word in argv if not word.startswith("-")), None)


class _CommandParser(argparse.ArgumentParser):
    """One command's parser: it takes -q and -v too. (A command only named, not run, takes nothing.)"""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.add_help:
            add_output_level(self)


class _ShowVersion(argparse.Action):
    """`--version`, whose line is worked out only when asked for: every other command starts faster."""

    def __init__(self, option_strings, dest, help=None):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_line())
        parser.exit()


def version_line() -> str:
    """`tfm 0.1.0 (TensorFlow 2.21.0, Python 3.11.7)`, without importing TensorFlow."""
    import importlib.metadata
    import platform

    try:
        tensorflow = importlib.metadata.version("tensorflow")
    except importlib.metadata.PackageNotFoundError:
        tensorflow = "not installed"
    return f"tfm {tfm_version()} (TensorFlow {tensorflow}, Python {platform.python_version()})"


if __name__ == "__main__":
    sys.exit(main())
