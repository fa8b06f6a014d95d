"""The .tfm grammar, as data: `tfm.lark` beside this file. Nothing here runs."""

from pathlib import Path

GRAMMAR_PATH = Path(__file__).with_name("tfm.lark")

__all__ = ["GRAMMAR_PATH"]
