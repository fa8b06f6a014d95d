"""Lark's parse errors, translated into diagnostics that say what was expected and how to fix it."""

from __future__ import annotations

import re

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.indenter import DedentError

from . import nodes as n
from .diagnostics import Diagnostic, error


_TOKEN_NAMES = {
    "_NL": "a new line", "_INDENT": "an indented block", "_DEDENT": "the end of the block",
    "NAME": "a name", "INT": "an integer", "FLOAT": "a number", "STRING": "a string",
    "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'", "COLON": "':'", "COMMA": "','",
    "EQUAL": "'='", "DOT": "'.'", "$END": "the end of the file", "VAR_KIND": "'var' or 'state'",
}


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type == "_NL":
        return "end of line"
    if token.type == "_INDENT":
        return "indentation"
    if token.type == "_DEDENT":
        return "end of block"
    return repr(str(token))


_EXPRESSION_STARTS = {"NAME", "INT", "FLOAT", "STRING", "LPAR", "LSQB", "NEG_OP"}
_EXPRESSION_WORDS = {"'True'", "'False'", "'not'"}


def _expected(names: set[str], terminals: dict[str, str]) -> str:
    shown = {_TOKEN_NAMES.get(t, terminals.get(t, t.lower())) for t in names}
    if {"NAME", "INT", "FLOAT", "STRING"} <= names:
        # Everything that can start an expression, said once.
        starts = {_TOKEN_NAMES.get(t, terminals.get(t, t.lower())) for t in names & _EXPRESSION_STARTS}
        shown = (shown - starts - _EXPRESSION_WORDS) | {"an expression"}
    described = sorted(shown)
    if len(described) > 8:
        described = described[:8] + ["..."]
    return ", ".join(described)


def syntax_diagnostic(exc: UnexpectedInput, file: str, text: str, terminals: dict[str, str]) -> Diagnostic:
    """`terminals` maps terminal names to how a user would write them (`'('` for LPAR)."""
    line, column = max(exc.line, 1), max(exc.column, 1)
    if isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        span = n.Span(file=file, line=line, column=column, end_line=line, end_column=column + 1)
        return error("E004", span, f"unexpected character {char!r}", _char_hint(char))
    if isinstance(exc, UnexpectedEOF) or isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        return _eof_diagnostic(file, text)
    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    unclosed = _unclosed_bracket(text)
    if token.type in ("_DEDENT", "$END") and unclosed is not None:
        line, column, char = unclosed
        span = n.Span(file=file, line=line, column=column, end_line=line, end_column=column + 1)
        return error("E002", span, f"{char!r} is never closed", f"add the matching {_CLOSER[char]!r}")
    end_column = column + max(len(str(token)), 1) if token.type not in ("_NL", "_INDENT", "_DEDENT") else column + 1
    span = n.Span(file=file, line=line, column=column, end_line=line, end_column=end_column)
    inside_brackets = _unclosed_bracket(text[:exc.pos_in_stream]) is not None
    python = _python_construct(text, line, file, str(token) == "for" and inside_brackets)
    if python is not None:
        return python
    expected = set(exc.expected) - ({"_NL"} if inside_brackets else set())  # new lines are ignored there
    message = f"unexpected {_describe_token(token)}; expected {_expected(expected, terminals)}"
    if token.type in ("RPAR", "RSQB") and not inside_brackets:
        closer = str(token)
        opener = {")": "(", "]": "["}[closer]
        return error("E001", span, f"unexpected {closer!r}: it closes no {opener!r}", "remove it, or add the "
                     f"{opener!r} it should close")
    if "SUB" in exc.expected and set(exc.expected) <= {"SUB", "_NL"}:  # only `sub` may follow `frozen`
        return error("E001", span, f"unexpected {_describe_token(token)} after `frozen`; expected 'sub'",
                     "`frozen` marks a submodule whose variables do not train: `frozen sub encoder = Encoder()`")
    if "_NL" in exc.expected and token.type in ("NAME", "INT", "FLOAT", "STRING"):
        message = f"unexpected {_describe_token(token)} after a complete expression; expected the end of the line"
    if token.type == "_INDENT":
        span = n.Span(file=file, line=line + 1, column=1, end_line=line + 1, end_column=2)
        return error("E003", span, "unexpected indentation", "indent only the body of a module, method or block")
    return error("E001", span, message, _token_hint(token, set(exc.expected)))


_CLOSER = {"(": ")", "[": "]"}

# Python constructs that are not in tfm: what each is, and the tfm way to say it.
_PYTHON_ONLY_SYNTAX = {
    "try": "a tf.function cannot catch TensorFlow's errors; check values with `assert cond, \"message\"`, or "
           "keep them valid with `where(cond, x, y)`",
    "except": "tfm has no exceptions; check values with `assert cond, \"message\"`",
    "finally": "tfm has no exceptions; check values with `assert cond, \"message\"`",
    "raise": "stop with an error at run time with `assert cond, \"message\"`",
    "lambda": "write a method (`fn name(x: f32[]) -> f32[]:`) and call it by name",
    "def": "declare methods with `fn name(inputs) -> outputs:` inside a module",
    "class": "declare a module: `module Name:` with `var`, `sub` and `fn` members",
    "import": "an `import` goes at the top of a file, before its modules, and names a .tfm file (`import blocks`)",
    "from": "tfm imports whole .tfm files: `import blocks` at the top of the file",
    "del": "locals need no deleting",
    "global": "keep state in a module variable (`state count: i32[] = 0`) and update it with `.assign`",
    "nonlocal": "keep state in a module variable (`state count: i32[] = 0`) and update it with `.assign`",
    "yield": "a method returns its outputs with `return`; collect a sequence in a typed list",
    "async": "methods run as TensorFlow graphs; there is nothing to await",
    "await": "methods run as TensorFlow graphs; there is nothing to await",
}
_COMPREHENSION = ("tfm has no comprehensions: use a vectorised op, or a graph loop that appends to a typed list "
                  "(`xs: list[f32[]] = []`)")


def _python_construct(text: str, line: int, file: str, comprehension: bool) -> Diagnostic | None:
    """A syntax error on a line that uses a Python construct tfm leaves out: name it and the tfm way,
    instead of a list of expected tokens."""
    lines = text.split("\n")
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    word = re.match(r"\s*([A-Za-z_]+)", source)
    found = next((m for m in re.finditer(r"\blambda\b", source)), None)
    if found is not None and not _in_string(source, found.start()):
        keyword, column = "lambda", found.start() + 1
    elif word and word.group(1) in _PYTHON_ONLY_SYNTAX:
        keyword, column = word.group(1), word.start(1) + 1
    elif comprehension:
        column = source.find(" for ") + 2 if " for " in source else 1
        span = n.Span(file=file, line=line, column=column, end_line=line, end_column=column + 3)
        return error("E001", span, "a comprehension is Python, not tfm", _COMPREHENSION)
    else:
        return None
    span = n.Span(file=file, line=line, column=column, end_line=line, end_column=column + len(keyword))
    return error("E001", span, f"`{keyword}` is Python, not tfm", _PYTHON_ONLY_SYNTAX[keyword])


def _in_string(source: str, index: int) -> bool:
    quote = None
    for char in source[:index]:
        if quote is None and char in "'\"":
            quote = char
        elif char == quote:
            quote = None
    return quote is not None


def _unclosed_bracket(text: str) -> tuple[int, int, str] | None:
    """Line, column and character of the first bracket never closed (strings and comments skipped)."""
    stack: list[tuple[int, int, str]] = []
    line, column, quote, index = 1, 0, None, 0
    while index < len(text):
        char = text[index]
        column += 1
        if quote:
            if char == "\\":
                index += 1
                column += 1
            elif char == quote or char == "\n":
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#":
            while index + 1 < len(text) and text[index + 1] != "\n":
                index += 1
        elif char in "([":
            stack.append((line, column, char))
        elif char in ")]" and stack:
            stack.pop()
        if char == "\n":
            line, column = line + 1, 0
        index += 1
    return stack[0] if stack else None


def _eof_diagnostic(file: str, text: str) -> Diagnostic:
    lines = text.rstrip("\n").split("\n")
    last = len(lines)
    span = n.Span(file=file, line=last, column=1, end_line=last, end_column=len(lines[-1]) + 1)
    if lines[-1].rstrip().endswith(":"):
        return error("E002", span, "the file ends before this block has a body",
                     "indent at least one line under it (`pass` makes an empty method body)")
    return error("E002", span, "unexpected end of file", "a block or bracket is not finished")


def _char_hint(char: str) -> str | None:
    if char == "\t":
        return "use spaces for indentation"
    if char in "'\"":
        return ("strings end on the line they start; the escapes are \\\\ \\\" \\' \\n \\r \\t \\0")
    if char == "\x00":
        return "the file contains a NUL byte; is it a text file?"
    if char == "{" or char == "}":
        return "tfm has no dicts or sets; methods return named outputs with `-> (name: type, ...)`"
    if char == ";":
        return "write one statement per line"
    return None


def _token_hint(token: Token, expected: set[str]) -> str | None:
    if "_NL" in expected and token.type in ("NAME", "INT", "FLOAT", "STRING"):
        return "write one statement per line, or join the parts with an operator"
    if token.type == "_NL" and "COLON" in expected:
        return "a block header ends with ':'"
    if token.type == "_NL" and "RPAR" in expected:
        return "a '(' is not closed"
    return None


def dedent_diagnostic(exc: DedentError, file: str, text: str) -> Diagnostic:
    line = 1
    for number, source_line in enumerate(text.splitlines(), start=1):
        if source_line.strip():
            line = number
    match = re.search(r"dedent to column (\d+)\. Expected dedent to (\d+)", str(exc))
    found, expected = (int(match.group(1)) + 1, int(match.group(2)) + 1) if match else (None, None)
    span = n.Span(file=file, line=line, column=1, end_line=line, end_column=(found or 1) + 1)
    message = "indentation does not match any enclosing block"
    if found is not None:
        message += f": this line starts at column {found}"
    return error("E003", span, message, f"line it up with an enclosing block (column {expected})"
                 if expected else "dedent to the column of an enclosing block")
