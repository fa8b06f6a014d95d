"""Lark, the parser of record: it analyses the grammar, makes the tables `table_parser` runs, and
parses (and explains) whatever that driver leaves to it, syntax errors above all. Imported only then:
importing Lark is a tenth of `tfm check`'s start."""

from __future__ import annotations

import functools
import hashlib

import lark
from lark import Lark
from lark.exceptions import UnexpectedInput
from lark.indenter import DedentError, Indenter

from ..grammar import GRAMMAR_PATH

from .cache import cache_dir, is_private
from .diagnostics import Diagnostic
from .node_builder import NODE_BUILDER
from .syntax_errors import dedent_diagnostic, syntax_diagnostic
from .table_parser import MEMBER_KEYWORDS


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
        over VAR_KIND, so a `var` after a method was a syntax error.) table_parser.TableParser.parse
        does the same."""
        line_start = True
        for token in super()._process(stream):
            if (line_start and token.type == "NAME" and token.value in MEMBER_KEYWORDS
                    and len(self.indent_level) == 2 and self.paren_level == 0):
                token = lark.Token.new_borrow_pos("VAR_KIND", token.value, token)
            line_start = token.type in (self.NL_type, self.INDENT_type, self.DEDENT_type)
            yield token


class Located:
    """A value on the parser's stack with the text it was parsed from (its first to last token, the
    tokens Lark filters out included): what `propagate_positions` computes, without a parse tree."""

    __slots__ = ("value", "line", "column", "end_line", "end_column")

    def __init__(self, value, first, last):
        self.value = value
        if first is None:
            self.line = None
        else:
            self.line, self.column = first.line, first.column
            self.end_line, self.end_column = last.end_line, last.end_column


def located_callback(build, passes_single_child: bool):
    """Wrap one rule's callback (child filter, then a `_ToNodes` method): note where the rule's text
    starts and ends for the method's `_s()`, and pass it on located for the rule above.
    A `?rule` reduced from one rule below is that rule's value and place: passed on as it is."""
    builder = NODE_BUILDER

    def callback(children):
        if passes_single_child and len(children) == 1 and type(children[0]) is Located:
            return children[0]
        first = last = None
        for child in children:  # the first and last child with a position (inline: this runs per reduction)
            if type(child) is lark.Token or type(child) is Located and child.line is not None:
                first = child
                break
        if first is not None:
            for child in reversed(children):
                if type(child) is lark.Token or type(child) is Located and child.line is not None:
                    last = child
                    break
        builder.located = first, last
        values = [c.value if type(c) is Located else c for c in children]
        return Located(build(values), first, last)
    return callback


@functools.cache
def lark_parser() -> Lark:
    grammar = GRAMMAR_PATH.read_text(encoding="utf-8")
    parser = Lark(grammar, parser="lalr", postlex=_TfmIndenter(), maybe_placeholders=True,
                  cache=_grammar_cache(grammar))
    _install_node_builders(parser)
    return parser


def _install_node_builders(parser: Lark) -> None:
    """Make `parser.parse` return a Program: each rule's node is built as the rule is reduced (no
    parse tree, no second pass). Lark cannot do this itself: its in-parse transformer gets no
    positions (`v_args(meta=True)` is refused there)."""
    from lark.parse_tree_builder import ParseTreeBuilder

    tree_builder = ParseTreeBuilder(parser.rules, lark.Tree, propagate_positions=False, ambiguous=False,
                                    maybe_placeholders=parser.options.maybe_placeholders)
    callbacks = tree_builder.create_callback(NODE_BUILDER)
    parser._callbacks.update({rule: located_callback(build, rule.options.expand1 and not rule.alias)
                              for rule, build in callbacks.items()})


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
            for t in lark_parser().terminals}


def parse_with_lark(text: str, file: str):
    """Lark's parse of `text`: (None, the Program) or (the syntax error, None). The caller holds the
    node builder's lock and has set its file."""
    try:
        return None, lark_parser().parse(text).value
    except UnexpectedInput as exc:
        problem: Diagnostic = syntax_diagnostic(exc, file, text, _terminal_names())
        return problem, None
    except DedentError as exc:
        return dedent_diagnostic(exc, file, text), None
