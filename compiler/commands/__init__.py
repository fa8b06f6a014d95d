"""The `tfm` commands, one module each: `tfm.commands.<name>` holds the command's parser (its
arguments, help and `EXAMPLES`) and its handler.

A command module defines:
    add_parser(commands) -> argparse.ArgumentParser   its parser, added to `tfm`'s subparsers
    EXAMPLES: list[str]                                 lines a user can copy, shown by `--help`
    run(args) -> int                                    the handler: the exit status
    QUICK = True                                        (optional) it never imports TensorFlow: its
                                                        process may end without Python's teardown

To add a command: a new module here and its name in COMMANDS (the order of `tfm --help`). The options
and helpers that several commands share are in `options` and `common`."""

from __future__ import annotations

import importlib
from types import ModuleType

COMMANDS = ("check", "compile", "run", "train", "evaluate", "predict", "trace", "devices", "config", "export",
            "inspect", "summary", "fmt", "lsp")


def command_module(name: str) -> ModuleType:
    """The module of the command `name` (one of COMMANDS), imported when first asked for."""
    return importlib.import_module(f"tfm.commands.{name}")


def is_quick(name: str | None) -> bool:
    """Whether the command `name` never imports TensorFlow."""
    return name in COMMANDS and getattr(command_module(name), "QUICK", False)
