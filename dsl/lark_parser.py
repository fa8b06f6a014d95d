"""The parser: Lark's LALR parser for grammar/tfm.lark, used through Lark's public API only.

`Lark.parse` builds the syntax tree as it goes: each grammar rule's node is made by
dsl/node_builder.py's transformer as the rule is reduced (no parse tree is made). Lark's own
exceptions (syntax errors) are translated into diagnostics by dsl/syntax_errors.py.

The analysed grammar (Lark's `save`/`load`: start-up five times faster than analysing the grammar
again) is a checksummed entry of tfm's private cache (`dsl/cache.py`: `read_entry`/`write_entry`): a
damaged or truncated file is made again, never unpickled. Each parse in flight has a parser of its
own, loaded from it (the node builder and the indenter keep per-parse state); idle ones are reused.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re

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

MEMBER_KEYWORDS = ("var", "state", "frozen")
# keep_all_tokens: a rule's span runs from its first token to its last, punctuation included (node_builder)
_OPTIONS = {"parser": "lalr", "maybe_placeholders": True, "keep_all_tokens": True}
_CACHE_FORMAT = 2  # bump when what the cache holds changes (it names _TfmIndenter and ToNodes by module path)


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
        """`var`/`state` (and `frozen`, before `sub`) opening a line at member level is a declaration keyword. (After a method's
        block the contextual lexer is in a state LALR shares with statement blocks, where a name wins
        over VAR_KIND, so a `var` after a method was a syntax error.)"""
        line_start = True
        line_breaks = (self.NL_type, self.INDENT_type, self.DEDENT_type)
        for token in super().process(stream):
            if (line_start and token.type == "NAME" and token.value in MEMBER_KEYWORDS
                    and len(self.indent_level) == 2 and self.paren_level == 0):
                kind = "FROZEN" if token.value == "frozen" else "VAR_KIND"
                token = lark.Token.new_borrow_pos(kind, token.value, token)
            line_start = token.type in line_breaks
            yield token


def parse_with_lark(text: str, file: str) -> tuple[Diagnostic | None, n.Program | None]:
    """(None, the Program of `text`) or (the syntax error, None). A rule's own check (a list where a
    list is not allowed, ...) raises TfmError.

    The indenter and the node builder keep per-parse state, so a parser serves one parse at a time:
    each parse takes an idle one (or loads a new one) and gives it back, and parses in several
    threads never share one. No lock is held."""
    analysed_grammar()  # the first call leaves the parser it loaded (or made) idle
    try:
        parser = _IDLE_PARSERS.pop()
    except IndexError:
        parser = lark_parser()
    try:
        builder = parser.options.transformer
        assert isinstance(builder, ToNodes)
        builder.file = file
        located = parser.parse(text)  # the in-parse transformer's value for `start`, not a tree
        assert isinstance(located, Located)
        return None, located.value
    except UnexpectedInput as exc:
        return syntax_diagnostic(exc, file, text, _terminal_names(parser)), None
    except DedentError as exc:
        return dedent_diagnostic(exc, file, text), None
    finally:
        _IDLE_PARSERS.append(parser)  # list.pop and list.append are atomic: no two parses get one parser


_IDLE_PARSERS: list[Lark] = []


def forget_parsers() -> None:
    """Drop the analysed grammar and the idle parsers: the next parse reads tfm's cache again (tests)."""
    analysed_grammar.cache_clear()
    _IDLE_PARSERS.clear()


def lark_parser() -> Lark:
    """A new parser of its own (its own node builder and indenter), loaded from the analysed grammar."""
    parser = _load(analysed_grammar())
    assert parser is not None  # analysed_grammar hands back only a payload that loads
    return parser


def _ready(parser: Lark) -> Lark:
    """Tell the parser's node builder which terminals carry a value (NAME, INT, COMP_OP, ...): those
    the grammar declares by name. The others are keywords and punctuation (the grammar's quoted
    strings) and the indenter's `_`-terminals, which Lark would leave out but for `keep_all_tokens`."""
    builder = parser.options.transformer
    assert isinstance(builder, ToNodes)
    builder.value_terminals = _declared_terminals()
    return parser


@functools.cache
def _declared_terminals() -> frozenset[str]:
    grammar = GRAMMAR_PATH.read_text(encoding="utf-8")
    return frozenset(re.findall(r"^([A-Z][A-Z0-9_]*)(?:\.\d+)?\s*:", grammar, re.MULTILINE))


@functools.cache
def analysed_grammar() -> bytes:
    """The analysed grammar (Lark's `save`), from tfm's cache when a good copy is there, else analysed
    from the grammar file (then cached)."""
    grammar = GRAMMAR_PATH.read_text(encoding="utf-8")
    name = cache_entry_name(grammar)
    payload = read_entry(name)
    parser = _load(payload)
    if parser is None or payload is None:
        parser = _ready(Lark(grammar, postlex=_TfmIndenter(), transformer=ToNodes(), **_OPTIONS))
        buffer = io.BytesIO()
        parser.save(buffer)
        payload = buffer.getvalue()
        write_entry(name, payload)  # whole or not at all, behind a checksum (dsl/cache.py)
    _IDLE_PARSERS.append(parser)
    return payload


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
        parser = Lark.load(io.BytesIO(payload))
    except Exception:  # written whole by a tfm whose classes the pickle no longer matches: make it again
        return None
    return _ready(parser) if isinstance(parser.options.transformer, ToNodes) else None


def _terminal_names(parser: Lark) -> dict[str, str]:
    """Each terminal as a user would write it: the literal for keywords and punctuation."""
    return {t.name: repr(t.pattern.value) if t.pattern.type == "str" else t.name.lower()
            for t in parser.terminals}
