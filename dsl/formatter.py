"""`tfm fmt`: one canonical layout for `.tfm` source, keeping every comment where it was.

The layout: four spaces per block level; continuation lines inside brackets eight spaces past their
statement; one space around binary operators, `=`, `->` and after commas and type colons; none inside
brackets, around `.`, in slices, after a unary minus, or around `=` in a keyword argument (but
`units: int = 4` when the parameter has a type); two spaces before an inline comment; at most one
blank line in a row; one newline at the end. Comment text is never touched.

It works on tokens, not on the syntax tree, so comments and the user's line breaks inside brackets
survive. The result must parse to the same syntax tree as the input (spans aside); if it did not,
`format_source` raises FormatError and nothing is written. It is idempotent.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from . import nodes as n
from .diagnostics import TfmError
from .limits import Limits, scan_source
from .parser import normalize_text, parse
from .tokens import FLOAT, NAME

_TOKEN = re.compile(r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>"([^"\\\n]|\\.)*"|'([^'\\\n]|\\.)*')
  | (?P<number>""" + FLOAT + r"""|[0-9]+)
  | (?P<name>""" + NAME + r""")
  | (?P<op>\.\.\.|\*\*|//|->|==|!=|<=|>=|\+=|-=|\*=|/=|[-+*/%@<>=(),:.\[\]{};?])
  | (?P<continuation>\\[ \t]*\n)
  | (?P<newline>\n)
  | (?P<space>[ \t\f]+)
  | (?P<other>.)
""", re.VERBOSE)

_BINARY = frozenset({"+", "-", "*", "/", "//", "%", "**", "@", "==", "!=", "<", "<=", ">", ">=", "->", "+=", "-=",
                     "*=", "/=", "="})
# After these a `-` or `+` is unary: `return -x`, `f(-1)`, `a * -b`.
_UNARY_CONTEXT = _BINARY | {"(", "[", ",", ":", "return", "if", "elif", "while", "and", "or", "not", "in", "else",
                            "assert", None}


class FormatError(Exception):
    """The formatter would change what the program means (a bug in tfm): nothing is written."""


@dataclass
class _Token:
    kind: str
    text: str
    unary: bool = False  # a `-`/`+` that negates: no space after it
    decorator: bool = False  # the `@` of a method attribute line: no space after it
    option: bool = False  # `regularizer` and its `=` in a `var`'s `, regularizer=...`: tight, as a keyword argument


def format_source(text: str, file: str = "<string>") -> str:
    """The canonical layout of `text`. Raises TfmError if `text` does not parse (nothing to format),
    FormatError if the layout would change the syntax tree."""
    text = normalize_text(text)
    # What the parser must not meet (huge integers, surrogates); a long list literal is fine to lay out.
    refused = scan_source(text, file, Limits(literal_elements=2**62))
    if refused:
        raise TfmError(refused, {file: text})
    before = parse(text, file)
    formatted = _layout(text)
    try:
        after = parse(formatted, file)
    except TfmError as exc:
        raise FormatError(f"the formatted text does not parse: {exc.diagnostics[0].message}") from None
    if _shape(before) != _shape(after):
        raise FormatError("the formatted text parses to a different program")
    return formatted


def _shape(node: object) -> object:
    """A node's content without its spans (declared names included): what two layouts of one
    program share."""
    if isinstance(node, n.Node):
        return (type(node).__name__, tuple((field.name, _shape(getattr(node, field.name)))
                                           for field in dataclasses.fields(node) if field.name != "span"))
    if isinstance(node, tuple):
        return tuple(_shape(item) for item in node)
    return node


def _physical_lines(text: str) -> list[tuple[str, list[_Token]]]:
    """Each physical line's leading whitespace and its tokens (no spaces), continuations kept."""
    lines, indent, tokens, at_start = [], "", [], True
    for match in _TOKEN.finditer(text):
        kind, value = match.lastgroup, match.group()
        assert kind is not None  # every alternative of _TOKEN is a named group
        if kind == "newline":
            lines.append((indent, tokens))
            indent, tokens, at_start = "", [], True
        elif kind == "space":
            if at_start:
                indent += value
        else:
            at_start = False
            tokens.append(_Token(kind, value))
            if kind == "continuation":
                lines.append((indent, tokens))
                indent, tokens, at_start = "", [], True
    if tokens:
        lines.append((indent, tokens))
    return lines


def _width(indent: str) -> int:
    return len(indent.expandtabs(8))


def _layout(text: str) -> str:
    out: list[str] = []
    levels = [0]  # original indent widths of the open blocks
    stack: list[str] = []  # brackets open across lines (their `=` and `:` rules hold on the next line too)
    annotated = [False]  # per open paren: its current argument has a `name: type` colon
    continued = False  # the previous physical line ended with `\`
    blank = 0
    lines = _physical_lines(text)
    for index, (indent, tokens) in enumerate(lines):
        if not tokens:
            blank += 1
            continue
        comment_only = len(tokens) == 1 and tokens[0].kind == "comment"
        if stack or continued:
            prefix = " " * (4 * (len(levels) - 1) + 8)
        elif comment_only:
            prefix = " " * (4 * _comment_level(levels, _width(indent), lines, index))
        else:
            width = _width(indent)
            while width < levels[-1] and len(levels) > 1:
                levels.pop()
            if width > levels[-1]:
                levels.append(width)
            prefix = " " * (4 * (len(levels) - 1))
        if out and blank:
            out.append("")
        blank = 0
        body = _join(tokens, stack, annotated)
        out.append(prefix + body)
        continued = tokens[-1].kind == "continuation"
    return "\n".join(out).strip("\n") + "\n"


def _comment_level(levels: list[int], width: int, lines, index: int) -> int:
    """A comment line sits at its own block's level if its indent names one, else at the next code line's."""
    if width in levels:
        return levels.index(width)
    for indent, tokens in lines[index + 1:]:
        if tokens and tokens[0].kind != "comment":
            following = _width(indent)
            return sum(1 for level in levels if level < following) if following not in levels else levels.index(following)
    return 0


def _join(tokens: list[_Token], stack: list[str], annotated: list[bool]) -> str:
    """One physical line's tokens with canonical spacing. `stack` holds the brackets open before it and
    `annotated` their arguments' colons; both are updated to what is open after it."""
    parts: list[str] = []
    previous: _Token | None = None
    for token in tokens:
        text = token.text
        if token.kind == "continuation":
            parts.append(" \\")
            break
        if token.kind == "comment":
            parts.append(("  " if parts else "") + text.rstrip())
            break
        token.decorator = previous is None and text == "@"
        space = _space_before(previous, token, stack, annotated)
        parts.append((" " if space and parts else "") + text)
        if text in "([{":
            stack.append(text)
            annotated.append(False)
        elif text in ")]}":
            if stack:
                stack.pop()
                annotated.pop()
        elif text == ",":
            annotated[-1] = False
        elif text == ":" and stack and stack[-1] == "(":
            annotated[-1] = True
        previous = token
    return "".join(parts)


# Keywords a bracket after is not a call or subscript of: `return (a)`, `in [1, 2]`.
_SPACED_KEYWORDS = frozenset({"return", "if", "elif", "while", "in", "and", "or", "not", "assert", "for", "with",
                              "import", "else", "as"})


def _space_before(previous: _Token | None, token: _Token, stack: list[str], annotated: list[bool]) -> bool:
    token.unary = token.text in ("-", "+") and (previous.text if previous is not None else None) in _UNARY_CONTEXT
    if previous is None:
        return False
    prev, text = previous.text, token.text
    token.option = not stack and (text == "regularizer" and prev == "," or text == "=" and previous.option)
    in_square = bool(stack) and stack[-1] == "["
    if text in ",)]}" or prev in "([{" or text == "." or prev == ".":
        return False
    if previous.unary or previous.decorator:
        return False  # `-x`, `@serving`
    if text in "([" and (prev in ")]" or previous.kind in ("name", "string") and prev not in _SPACED_KEYWORDS):
        return False  # a call or a subscript
    if text == ":":
        return prev == ","  # `x[:, 0]`; never before a type or block colon
    if prev == ":":
        return not in_square
    if text == "=" or prev == "=":
        if token.option or (prev == "=" and previous.option):
            return False
        in_paren = bool(stack) and stack[-1] == "("
        return not in_paren or annotated[-1]
    return True
