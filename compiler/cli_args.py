"""Kept for `tfm.lsp`, which takes tfm's version from here: the command line is `tfm.cli` and
`tfm.commands`. (Remove once tfm.lsp imports `tfm.cli.version`.)"""

from tfm.cli import version

__all__ = ["version"]
