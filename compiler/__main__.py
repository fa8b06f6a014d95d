"""`python -m tfm` is the `tfm` command."""

from tfm.cli import entry

entry()
