"""Colour on a terminal only: never when NO_COLOR is set (https://no-color.org), when the stream is
not a terminal, or when TERM is `dumb`; FORCE_COLOR asks for it anyway (CI logs that render ANSI)."""

from __future__ import annotations

import os
import re

_RED, _YELLOW, _CYAN, _BOLD, _RESET = "\x1b[31m", "\x1b[33m", "\x1b[36m", "\x1b[1m", "\x1b[0m"


def use_colour(stream) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty() and os.environ.get("TERM") != "dumb"


def colourize(text: str) -> str:
    """`error[E012]` red, `warning[W001]` yellow, carets and `hint:` cyan, in rendered diagnostics."""
    text = re.sub(r"\b(error)(\[E\d+\])", rf"{_BOLD}{_RED}\1\2{_RESET}", text)
    text = re.sub(r"\b(warning)(\[W\d+\])", rf"{_BOLD}{_YELLOW}\1\2{_RESET}", text)
    text = re.sub(r"^(\s+)(\^+)$", rf"\1{_CYAN}\2{_RESET}", text, flags=re.M)
    return re.sub(r"^(\s+)(hint:)", rf"\1{_CYAN}\2{_RESET}", text, flags=re.M)
