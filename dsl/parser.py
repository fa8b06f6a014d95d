"""Parse `.tfm` text into the syntax tree (`dsl.nodes`), turning every Lark error into a Diagnostic."""

from __future__ import annotations

from . import nodes as n
from .diagnostics import Diagnostic, TfmError, error, fail
from .recovery import more_syntax_errors


def decode_source(data: bytes, file: str) -> str:
    """Bytes to text: UTF-8 only, a leading BOM dropped, CRLF and CR line ends made LF."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        span = n.Span(file=file, line=line, column=column, end_line=line, end_column=column + 1)
        raise fail("E005", span, f"invalid UTF-8 byte 0x{data[exc.start]:02x}", "save the file as UTF-8",
                   {file: data.decode("utf-8", "replace")}) from None
    return normalize_text(text)


def normalize_text(text: str) -> str:
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse(text: str, file: str = "<string>") -> n.Program:
    """Parse one source. Raises TfmError with located diagnostics on bad input.

    After a syntax error the parse goes on (dsl/recovery.py) to report later, independent errors
    in the same run.
    """
    text = normalize_text(text)
    if not text.endswith("\n"):
        text += "\n"
    problem, program = parse_once(text, file)
    if problem is None:
        assert program is not None  # a parse gives a problem or a program
        return program
    recovery = more_syntax_errors(text, problem, lambda patched: parse_once(patched, file)[0])
    error = TfmError([problem, *recovery.errors], {file: text})
    if recovery.text is not None:  # the program with every bad line set aside, for the checker to go on
        error.recovered = (parse_once(recovery.text, file)[1], recovery.neutralised)
    raise error


def parse_once(text: str, file: str) -> tuple[Diagnostic | None, n.Program | None]:
    """One parse, no recovery: (None, the program) or (its first syntax error, None). For the parse
    above and for the language server's own recovery (dsl/tolerant.py, dsl/incremental.py)."""
    try:
        problem, program = _lark_parse(text, file)
        if program is not None:
            _check_depth(program)
        return problem, program
    except TfmError as exc:
        return exc.diagnostics[0], None
    except RecursionError:
        span = n.Span(file=file, line=1, column=1, end_line=1, end_column=2)
        return error("E001", span, "the source nests too deeply to parse",
                     "split deeply nested expressions into several assignments"), None


def _lark_parse(text: str, file: str) -> tuple[Diagnostic | None, n.Program | None]:
    from .lark_parser import parse_with_lark  # Lark is imported when a source is first parsed

    return parse_with_lark(text, file)


MAX_DEPTH = 100


def _check_depth(program: n.Program) -> None:
    """Later stages recurse over the tree; a tree nested deeper than MAX_DEPTH is refused here."""
    node_type, child_values = n.Node, n.child_values
    stack: list[tuple[n.Node, int]] = [(program, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise fail("E001",
                       node,
                       f"this nests more than {MAX_DEPTH} levels deep",
                       "split it into several assignments")
        depth += 1
        pending = list(child_values(node))
        while pending:
            child = pending.pop()
            if isinstance(child, node_type):
                stack.append((child, depth))
            elif type(child) is tuple:
                pending.extend(child)

