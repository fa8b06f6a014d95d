"""Parse `.tfm` text into the syntax tree (`dsl.nodes`), turning every Lark error into a Diagnostic."""

from __future__ import annotations

import functools
import hashlib
import threading

import lark
from lark import Lark
from lark.exceptions import UnexpectedInput
from lark.indenter import DedentError, Indenter

from ..grammar import GRAMMAR_PATH

from . import nodes as n
from .cache import cache_dir, is_private
from .diagnostics import Diagnostic, TfmError, error, fail
from .node_builder import NODE_BUILDER, install_node_builders
from .recovery import more_syntax_errors
from .syntax_errors import dedent_diagnostic, syntax_diagnostic


class _TfmIndenter(Indenter):
    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB"]
    CLOSE_PAREN_types = ["RPAR", "RSQB"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8

    def _process(self, stream):
        """`var`/`state` opening a line at member level is a declaration keyword. (After a method's
        block the contextual lexer is in a state LALR shares with statement blocks, where a name wins
        over VAR_KIND, so a `var` after a method was a syntax error.)"""
        line_start = True
        for token in super()._process(stream):
            if (line_start and token.type == "NAME" and token.value in ("var", "state")
                    and len(self.indent_level) == 2 and self.paren_level == 0):
                token = lark.Token.new_borrow_pos("VAR_KIND", token.value, token)
            line_start = token.type in (self.NL_type, self.INDENT_type, self.DEDENT_type)
            yield token


@functools.cache
def _lark() -> Lark:
    grammar = GRAMMAR_PATH.read_text(encoding="utf-8")
    parser = Lark(grammar, parser="lalr", postlex=_TfmIndenter(), maybe_placeholders=True,
                  cache=_grammar_cache(grammar))
    install_node_builders(parser)
    return parser


def _grammar_cache(grammar: str) -> str | bool:
    """A cache file for the analysed grammar (5x faster start) in tfm's private cache, or none.

    Never `cache=True`: Lark would unpickle a file at a predictable path in the shared temp directory.
    """
    try:
        directory = cache_dir()
    except OSError:
        return False
    if not is_private(directory):
        return False
    digest = hashlib.sha256(grammar.encode("utf-8")).hexdigest()[:16]
    path = directory / f"grammar-{digest}-lark{lark.__version__}.cache"
    return str(path) if not path.exists() or is_private(path) else False



@functools.cache
def _terminal_names() -> dict[str, str]:
    """Each terminal as a user would write it: the literal for keywords and punctuation."""
    return {t.name: repr(t.pattern.value) if t.pattern.type == "str" else t.name.lower()
            for t in _lark().terminals}


def decode_source(data: bytes, file: str) -> str:
    """Bytes to text: UTF-8 only, a leading BOM dropped, CRLF and CR line ends made LF."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        span = n.Span.build(file=file, line=line, column=column, end_line=line, end_column=column + 1)
        raise TfmError([error("E005", span, f"invalid UTF-8 byte 0x{data[exc.start]:02x}",
                              "save the file as UTF-8")], {file: data.decode("utf-8", "replace")}) from None
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
    problem, program = _parse_once(text, file)
    if problem is None:
        return program
    recovery = more_syntax_errors(text, problem, lambda patched: _parse_once(patched, file)[0])
    error = TfmError([problem, *recovery.errors], {file: text})
    if recovery.text is not None:  # the program with every bad line set aside, for the checker to go on
        error.recovered = (_parse_once(recovery.text, file)[1], recovery.neutralised)
    raise error


def _parse_once(text: str, file: str) -> tuple[Diagnostic | None, n.Program | None]:
    try:
        with _PARSE_LOCK:
            NODE_BUILDER.file = file
            program = _lark().parse(text).value
        _check_depth(program)
        return None, program
    except UnexpectedInput as exc:
        return syntax_diagnostic(exc, file, text, _terminal_names()), None
    except DedentError as exc:
        return dedent_diagnostic(exc, file, text), None
    except TfmError as exc:
        return exc.diagnostics[0], None
    except RecursionError:
        span = n.Span.build(file=file, line=1, column=1, end_line=1, end_column=2)
        return error("E001", span, "the source nests too deeply to parse",
                     "split deeply nested expressions into several assignments"), None


MAX_DEPTH = 100


def _check_depth(program: n.Program) -> None:
    """Later stages recurse over the tree; a tree nested deeper than MAX_DEPTH is refused here."""
    stack: list[tuple[object, int]] = [(program, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH and isinstance(node, n.Node):
            raise fail("E001",
                       node,
                       f"this nests more than {MAX_DEPTH} levels deep",
                       "split it into several assignments")
        if isinstance(node, n.Node):
            stack.extend((child, depth + 1) for child in n.child_values(node))
        elif isinstance(node, tuple):
            stack.extend((item, depth) for item in node)


_PARSE_LOCK = threading.Lock()  # the node builder keeps per-parse state (the file name)
