"""The parser: Lark's LALR parser for grammar/tfm.lark, used through Lark's public API only.

`Lark.parse` builds the syntax tree as it goes: each grammar rule's node is made by
dsl/node_builder.py's transformer as the rule is reduced (no parse tree is made). Lark's own
exceptions (syntax errors) are translated into diagnostics by dsl/syntax_errors.py.

The analysed grammar (Lark's `save`/`load`: start-up five times faster than analysing the grammar
again) is a checksummed entry of tfm's private cache (`dsl/cache.py`: `read_entry`/`write_entry`): a
damaged or truncated file is made again, never unpickled.
"""

from __future__ import annotations

import functools
import hashlib
import io

import lark
from lark import Lark
from lark.exceptions import UnexpectedInput
from lark.indenter import DedentError, PythonIndenter

from ..grammar import GRAMMAR_PATH

from . import nodes as n
from .cache import read_entry, write_entry
from .diagnostics import Diagnostic
from .node_builder import Located, ToNodes
from .syntax_errors import dedent_diagnostic, syntax_diagnostic

MEMBER_KEYWORDS = ("var", "state")
# keep_all_tokens: a rule's span runs from its first token to its last, punctuation included (node_builder)
_OPTIONS = {"parser": "lalr", "maybe_placeholders": True, "keep_all_tokens": True}
_CACHE_FORMAT = 1  # bump when what the cache holds changes (it names _TfmIndenter and ToNodes by module path)


class _TfmIndenter(PythonIndenter):
    """Python's indentation rules over tfm's terminals. (Lark's `Indenter` declares these settings as
    abstract properties; `PythonIndenter` sets them as class attributes, as ours are: read for every
    token, an attribute is quicker than a property.)"""

    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB"]
    CLOSE_PAREN_types = ["RPAR", "RSQB"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8

    def process(self, stream):
        """`var`/`state` opening a line at member level is a declaration keyword. (After a method's
        block the contextual lexer is in a state LALR shares with statement blocks, where a name wins
        over VAR_KIND, so a `var` after a method was a syntax error.)"""
        line_start = True
        line_breaks = (self.NL_type, self.INDENT_type, self.DEDENT_type)
        for token in super().process(stream):
            if (line_start and token.type == "NAME" and token.value in MEMBER_KEYWORDS
                    and len(self.indent_level) == 2 and self.paren_level == 0):
                token = lark.Token.new_borrow_pos("VAR_KIND", token.value, token)
            line_start = token.type in line_breaks
            yield token


def parse_with_lark(text: str, file: str) -> tuple[Diagnostic | None, n.Program | None]:
    """(None, the Program of `text`) or (the syntax error, None). Not reentrant: the caller holds the
    parse lock (the indenter and the node builder keep per-parse state on the shared parser). A rule's own
    check (a list where a list is not allowed, ...) raises TfmError."""
    parser = lark_parser()
    builder = parser.options.transformer
    assert isinstance(builder, ToNodes)
    builder.file = file
    try:
        located = parser.parse(text)  # the in-parse transformer's value for `start`, not a tree
        assert isinstance(located, Located)
        return None, located.value
    except UnexpectedInput as exc:
        return syntax_diagnostic(exc, file, text, _terminal_names()), None
    except DedentError as exc:
        return dedent_diagnostic(exc, file, text), None


@functools.cache
def lark_parser() -> Lark:
    """The parser, from tfm's cache when a good copy is there, else from the grammar (then cached)."""
    grammar = GRAMMAR_PATH.read_text(encoding="utf-8")
    name = cache_entry_name(grammar)
    parser = _load(read_entry(name))
    if parser is None:
        parser = Lark(grammar, postlex=_TfmIndenter(), transformer=ToNodes(), **_OPTIONS)
        buffer = io.BytesIO()
        parser.save(buffer)
        write_entry(name, buffer.getvalue())  # whole or not at all, behind a checksum (dsl/cache.py)
    return parser


def cache_entry_name(grammar: str) -> str:
    """The analysed grammar's entry in tfm's private cache, named by everything it depends on (the
    grammar, the options, Lark's version, the format).

    Never Lark's `cache=True`: Lark would unpickle a file at a predictable path in the shared temp
    directory."""
    key = f"{grammar}\0{sorted(_OPTIONS.items())}\0{lark.__version__}\0{_CACHE_FORMAT}"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return f"grammar-{digest}-lark{lark.__version__}.cache"


def _load(payload: bytes | None) -> Lark | None:
    """The cached parser, or None. `read_entry` hands back only the bytes written (a truncated or
    damaged entry is None, never unpickled)."""
    if payload is None:
        return None
    try:
        return Lark.load(io.BytesIO(payload))
    except Exception:  # written whole by a tfm whose classes the pickle no longer matches: make it again
        return None


@functools.cache
def _terminal_names() -> dict[str, str]:
    """Each terminal as a user would write it: the literal for keywords and punctuation."""
    return {t.name: repr(t.pattern.value) if t.pattern.type == "str" else t.name.lower()
            for t in lark_parser().terminals}
