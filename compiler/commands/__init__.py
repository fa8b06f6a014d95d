"""The `tfm` commands, one module each: `tfm.commands.<name>` holds the command's parser (its
arguments, help and `EXAMPLES`) and its handler.

A command module defines:
    add_parser(commands) -> argparse.ArgumentParser   its parser, added to `tfm`'s subparsers
    HELP_ORDER: int                                     where `tfm --help` lists it
    EXAMPLES: list[str]                                 lines a user can copy, shown by `--help`
    run(args) -> int                                    the handler: the exit status
    QUICK = True                                        (optional) it never imports TensorFlow: its
                                                        process may end without Python's teardown

To add a command: a new module here (every module of this package but `options` and `common`, the
options and helpers that several commands share, is a command). Only the command run is imported."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

_SHARED = frozenset({"common", "options"})
# The commands, by module name: read from the package's files, not imported.
COMMANDS: tuple[str, ...] = tuple(sorted(module.name for module in pkgutil.iter_modules(__path__)
                                         if module.name not in _SHARED and not module.name.startswith("_")))


def command_module(name: str) -> ModuleType:
    """The module of the command `name` (one of COMMANDS), imported when first asked for."""
    return importlib.import_module(f"tfm.commands.{name}")


def in_help_order(names) -> list[str]:
    """`names` in the order `tfm --help` lists commands (each module's HELP_ORDER; imports them)."""
    return sorted(names, key=lambda name: (command_module(name).HELP_ORDER, name))


def is_quick(name: str | None) -> bool:
    """Whether the command `name` never imports TensorFlow."""
    return name in COMMANDS and getattr(command_module(name), "QUICK", False)
