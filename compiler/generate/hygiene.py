"""The one way a value becomes Python text in generated code.

Every name, literal, comment and docstring the generator writes goes through a function here, as
Jinja2's code generator formats every value through `repr` and checks every identifier. Generated
code is printable ASCII only: no input (a file name, a string literal, a comment) can end a comment
or a string early, smuggle a newline, or hide code behind bidi or line-separator characters.
"""

from __future__ import annotations

import keyword
import math


class UnsafeText(ValueError):
    """A value that cannot be written into generated code; a bug in the stage that let it through."""


def identifier(name: str) -> str:
    """`name` as a Python identifier, if it is one the checker could have accepted; else UnsafeText."""
    if not (isinstance(name, str) and name.isidentifier() and name.isascii() and not keyword.iskeyword(name)):
        raise UnsafeText(f"not a safe identifier: {display(str(name))}")
    if "__" in name:
        raise UnsafeText(f"identifier with a double underscore: {name}")
    return name


def literal(value: object) -> str:
    """A Python literal for a str, int, float, bool, None, or a list/tuple of them; ASCII only."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnsafeText(f"non-finite number {value!r}")
        return repr(float(value))
    if isinstance(value, str):
        return ascii(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        items = [literal(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    raise UnsafeText(f"no literal for a {type(value).__name__}")


def display(text: str) -> str:
    """`text` for a comment or docstring: printable ASCII, everything else as a backslash escape."""
    out = []
    for char in text:
        if " " <= char <= "~" and char != "\\":
            out.append(char)
        elif char == "\\":
            out.append("\\\\")
        else:
            out.append(ascii(char)[1:-1])  # '\n', '\x00', '\u202e', '\udcc3', ...
    return "".join(out)


def comment(text: str) -> str:
    """A `#` comment holding `text`, on one line whatever `text` contains."""
    return "# " + display(text)


def docstring(text: str) -> str:
    """A docstring literal showing `text` as `display` does (so it holds no surrogate or control
    character at run time): triple-quoted when that is plain, else a fully escaped literal."""
    shown = display(text)
    if '"' not in shown and "\\" not in shown:
        return f'"""{shown}"""'
    return literal(shown)
