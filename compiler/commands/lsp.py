"""`tfm lsp`: the language server over stdio (no TensorFlow import)."""

from __future__ import annotations

HELP_ORDER = 140  # where `tfm --help` lists it
EXAMPLES = ["tfm lsp    # started by the editor: see docs/editors.md for VS Code and Neovim"]


def add_parser(commands):
    return commands.add_parser("lsp", help="run the language server over stdio (for editors; see docs/editors.md)",
                               description="Speak the Language Server Protocol on stdin/stdout: diagnostics as you "
                                           "type, hover with inferred types, definitions, completion, signature "
                                           "help, inlay hints, quick fixes, formatting, outline, rename; all of "
                                           "them while the file has errors. No TensorFlow import.")


def run(args) -> int:
    from tfm.lsp import main as serve

    return serve()
