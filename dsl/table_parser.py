"""Lark's own LALR tables, run by a small driver of tfm's: `tfm check` parses without importing Lark.

Lark analyses the grammar (once: the tables are cached, `tables_for`), and stays the parser of
record: this driver accepts a source only where Lark would build the very same tree, and gives up
(`Unparsed`) anywhere else, a syntax error included, for Lark to parse and report. Importing Lark
and loading its own cache was a fifth of `tfm check`'s start, and Lark's general driver (a
`Token` object per token, rules hashed as dictionary keys on every reduction) half its parse time.

What must match Lark exactly, and how:
- the contextual lexer: in each parser state, the first terminal (in Lark's order) of those the
  state accepts that matches, keywords retyped from names as Lark does. Lark compiles one regular
  expression per state; states whose terminals are in the same order in a larger set share that
  set's expression here (`_cluster_lexers`), and a match the state does not accept is tried again
  with the state's own expression, so a shared expression never changes a result;
- the indentation post-lexer (lark.indenter.Indenter) and tfm's `var`/`state` rule
  (lark_parser._TfmIndenter);
- the reductions: each rule's children filtered as Lark's ParseTreeBuilder does, then the node
  builder's method, told the rule's first and last token as lark_parser's `Located` wrappers are.
tests/test_table_parser.py parses every example, library file and diagnostic case both ways and
compares the trees, spans included.
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import os
import re

from .cache import is_private, private_cache_dir, write_private
from .node_builder import NODE_BUILDER

FORMAT = 1  # bump when what `tables_for` writes changes

NL, INDENT, DEDENT = "_NL", "_INDENT", "_DEDENT"
OPEN_PARENS, CLOSE_PARENS = frozenset({"LPAR", "LSQB"}), frozenset({"RPAR", "RSQB"})
TAB_LEN = 8
MEMBER_KEYWORDS = ("var", "state")  # see lark_parser._TfmIndenter._process


class Unparsed(Exception):
    """This driver cannot vouch for the result (a syntax error, or a case it leaves to Lark)."""


class Token(str):
    """A token with the fields of lark.Token that the node builder and the spans read."""

    type: str
    line: int
    column: int
    end_line: int
    end_column: int

    def borrow(self, type_: str, value: str) -> Token:
        token = Token(value)
        token.type, token.line, token.column = type_, self.line, self.column
        token.end_line, token.end_column = self.end_line, self.end_column
        return token


class _Tree:
    """What Lark builds for a rule with no node-builder method: an inlined `_rule`'s children."""

    __slots__ = ("data", "children")

    def __init__(self, data, children):
        self.data, self.children = data, children


# --- the tables, from Lark ----------------------------------------------------------------------


def build_tables(parser) -> dict:
    """Everything the driver needs from a Lark LALR parser, as plain data (marshal-able)."""
    from lark.parse_tree_builder import maybe_create_child_filter

    frontend = parser.parser
    table = frontend.parser.parser.parse_table
    lexer = frontend.lexer.lexer if hasattr(frontend.lexer, "lexer") else frontend.lexer
    rule_index = {id(rule): i for i, rule in enumerate(parser.rules)}
    states = [None] * (max(table.states) + 1)
    for state, actions in table.states.items():
        states[state] = {str(name): (arg if action.name == "Shift" else ~rule_index[id(arg)])
                         for name, (action, arg) in actions.items()}
    rules = []
    for rule in parser.rules:
        options = rule.options
        made = maybe_create_child_filter(rule.expansion, options.keep_all_tokens, False,
                                         options.empty_indices if parser.options.maybe_placeholders else None)
        if made is None:
            child_filter = None
        elif made.func.__name__ == "ChildFilterLALR_NoPlaceholders":
            child_filter = (tuple((i, bool(expand), 0) for i, expand in made.args[0]), 0)
        else:
            child_filter = (tuple((i, bool(expand), add) for i, expand, add in made.args[0]), made.args[1])
        rules.append((str(rule.origin.name), len(rule.expansion),
                      str(rule.alias or options.template_source or rule.origin.name),
                      bool(options.expand1 and not rule.alias), child_filter))
    own_lexers = _state_lexers(lexer)
    if own_lexers is None:
        return None
    orders, clusters = _cluster_lexers(parser, [order for order, _ in own_lexers.values()])
    lexer_index = {key: i for i, key in enumerate(own_lexers)}
    return {
        "format": FORMAT,
        "states": states,
        "start": table.start_states["start"],
        "end": table.end_states["start"],
        "rules": rules,
        "regexps": {str(t.name): str(t.pattern.to_regexp()) for t in parser.terminals},
        "flags": int(parser.lexer_conf.g_regex_flags),
        "ignore": sorted(map(str, parser.lexer_conf.ignore)),
        "newline_types": sorted(map(str, lexer.root_lexer.newline_types)),
        "lexers": [(order, unless, cluster) for (order, unless), cluster in zip(own_lexers.values(), clusters)],
        "cluster_orders": orders,
        "state_lexer": [lexer_index.get(id(lexer.lexers.get(s))) for s in range(len(states))],
    }


def _state_lexers(lexer) -> dict | None:
    """Each distinct lexer of Lark's contextual lexer: its terminals in match order, and the keywords
    it retypes from a regular terminal (`unless`). None if a keyword has flags (then its match is not
    plain equality, and Lark alone parses)."""
    from lark.lexer import UnlessCallback

    found = {}
    for state_lexer in lexer.lexers.values():
        if id(state_lexer) in found:
            continue
        scanner = state_lexer.scanner  # built on first use, with its `callback`s
        unless = {}
        for name, callback in state_lexer.callback.items():
            if not isinstance(callback, UnlessCallback):
                return None
            keywords = callback.scanner.terminals
            if any(t.pattern.flags or t.pattern.type != "str" for t in keywords):
                return None
            unless[str(name)] = {str(t.pattern.value): str(t.name) for t in reversed(keywords)}  # first wins
        found[id(state_lexer)] = ([str(t.name) for t in scanner.terminals], unless)
    return found


def _cluster_lexers(parser, orders: list[list[str]]) -> tuple[list[list[str]], list[int]]:
    """Group the states' lexers so that one expression serves a group: a lexer joins a group when its
    terminals come in the order they have in the group's (Lark's order depends on the terminals
    present: a keyword is its own alternative only where no name is accepted). The groups' terminal
    orders, and each lexer's group."""
    from copy import copy

    from lark.lexer import BasicLexer

    def order_of(names: frozenset) -> list[str]:
        conf = copy(parser.lexer_conf)
        conf.terminals = [t for t in parser.terminals if t.name in names]
        conf.skip_validation = True
        return [str(t.name) for t in BasicLexer(conf).scanner.terminals]

    def serves(order: list[str], member: list[str]) -> bool:
        present = frozenset(member)
        return [name for name in order if name in present] == member

    groups: list[tuple[frozenset, list[str], list[int]]] = []
    membership = [0] * len(orders)
    for i in sorted(range(len(orders)), key=lambda i: -len(orders[i])):
        names = frozenset(orders[i])
        for g, (group_names, group_order, members) in enumerate(groups):
            union = group_names | names
            order = group_order if union == group_names else order_of(union)
            if all(serves(order, orders[m]) for m in (*members, i)):
                groups[g] = (union, order, [*members, i])
                membership[i] = g
                break
        else:
            membership[i] = len(groups)
            groups.append((names, orders[i], [i]))
    return [order for _, order, _ in groups], membership


# --- the cache ----------------------------------------------------------------------------------


def tables_for(grammar: str, lark_parser) -> dict | None:
    """The tables for `grammar`: read from tfm's private cache, else taken from the Lark parser
    (`lark_parser()` is called only then) and cached. marshal, not pickle: reading the cache runs no
    code. None where this driver cannot stand in for Lark."""
    path = _cache_path(grammar)
    if path is not None and os.path.lexists(path) and not is_private(path):
        path = None  # not tfm's to read or replace
    if path is not None and os.path.exists(path):
        try:
            with open(path, "rb") as file:
                tables = marshal.loads(file.read())  # one read: marshal.load(file) reads piecemeal
            if isinstance(tables, dict) and tables.get("format") == FORMAT:
                return None if tables.get("unsupported") else tables
        except (OSError, EOFError, ValueError, TypeError):
            pass
    tables = build_tables(lark_parser())
    if path is not None:
        write_private(path, marshal.dumps(tables if tables is not None else {"format": FORMAT, "unsupported": True}))
    return tables


def _cache_path(grammar: str) -> str | None:
    directory = private_cache_dir()
    version = _lark_version()
    if directory is None or version is None:
        return None
    digest = hashlib.sha256(grammar.encode("utf-8")).hexdigest()[:16]
    return str(directory / f"tables-{digest}-lark{version}-{FORMAT}.marshal")


def _lark_version() -> str | None:
    """Lark's version without importing it (the tables are Lark's: a new Lark may make others)."""
    import importlib.util

    spec = importlib.util.find_spec("lark")
    if spec is None or spec.origin is None:
        return None
    try:
        with open(spec.origin, encoding="utf-8") as file:
            found = re.search(r"^__version__\s*(?::[^=]*)?=\s*[\"']([\w.+-]+)[\"']", file.read(), re.M)
    except OSError:
        return None
    return found.group(1) if found else None


# --- the driver ---------------------------------------------------------------------------------


class _StateLexer:
    """One of Lark's per-state lexers: its group's expression is tried first (`shared`, compiled on
    first need), the state's own where the group's match is not one of this state's terminals."""

    __slots__ = ("shared", "accepts", "unless", "_own_source", "_flags", "_own")

    def __init__(self, shared, order, unless, own_source, flags):
        self.shared, self.accepts, self.unless = shared, frozenset(order), unless
        self._own_source, self._flags, self._own = own_source, flags, None

    def own_match(self, text: str, pos: int):
        if self._own is None:
            self._own = re.compile(self._own_source, self._flags)
        return self._own.match(text, pos)


class _LazyPattern:
    """A group's expression, compiled when a state first needs it (a small source uses few groups);
    then its lexers hold the compiled pattern itself."""

    __slots__ = ("_source", "_flags", "lexers")

    def __init__(self, source: str, flags: int):
        self._source, self._flags, self.lexers = source, flags, []

    def match(self, text: str, pos: int):
        compiled = re.compile(self._source, self._flags)
        for lexer in self.lexers:
            lexer.shared = compiled
        return compiled.match(text, pos)


class TableParser:
    """Parses with Lark's tables; `parse` returns the Program (located) or raises Unparsed."""

    def __init__(self, tables: dict):
        flags = tables["flags"]
        regexps = tables["regexps"]

        def alternation(order):
            return "|".join(f"(?P<{name}>{regexps[name]})" for name in order)

        shared = [_LazyPattern(alternation(order), flags) for order in tables["cluster_orders"]]
        lexers = []
        for order, unless, cluster in tables["lexers"]:
            lexers.append(_StateLexer(shared[cluster], order, unless, alternation(order), flags))
            shared[cluster].lexers.append(lexers[-1])
        self._lexers = [None if i is None else lexers[i] for i in tables["state_lexer"]]
        self._states = tables["states"]
        self._start, self._end = tables["start"], tables["end"]
        self._ignore = frozenset(tables["ignore"])
        self._newline_types = frozenset(tables["newline_types"])
        # (goto symbol, size, builder, whether a lone child that is not a token is passed on as it is)
        self._rules = [(origin, size, _builder(name, expand_single, child_filter), expand_single and size == 1)
                       for origin, size, name, expand_single, child_filter in tables["rules"]]

    def parse(self, text: str):
        """The Program of `text`, or Unparsed.

        Beside the values, a stack of places: a token for a token; for a rule's value the first and
        last token of its text, or None if it has none (what lark_parser's `Located` wrappers hold)."""
        states, rules, lexers, builder = self._states, self._rules, self._lexers, NODE_BUILDER
        state_stack, value_stack, place_stack = [self._start], [], []

        def reduce(origin: str, size: int, build) -> None:
            first = last = None
            if size:
                children, places = value_stack[-size:], place_stack[-size:]
                del value_stack[-size:], place_stack[-size:], state_stack[-size:]
                for first in places:
                    if first is not None:
                        break
                if first is not None:
                    for last in reversed(places):
                        if last is not None:
                            break
                    first = first if type(first) is Token else first[0]
                    last = last if type(last) is Token else last[1]
            else:
                children = []
            builder.located = first, last
            value_stack.append(build(children))
            place_stack.append(None if first is None else (first, last))
            state_stack.append(states[state_stack[-1]][origin])

        def feed(token: Token, type_: str) -> None:
            """Lark's ParserState.feed_token: reduce while the table says so, then shift."""
            while True:
                action = states[state_stack[-1]].get(type_)
                if action is None:
                    raise Unparsed
                if action >= 0:
                    state_stack.append(action)
                    value_stack.append(token)
                    place_stack.append(token)
                    return
                origin, size, build, passes_on = rules[~action]
                if passes_on and type(place_stack[-1]) is not Token:  # a `?rule` passing its child on
                    state_stack[-1] = states[state_stack[-2]][origin]
                else:
                    reduce(origin, size, build)

        ignore, newline_types = self._ignore, self._newline_types
        pos, line, line_start, end = 0, 1, 0, len(text)
        paren_level, indent_level, at_line_start = 0, [0], True
        last_raw = last_fed = None
        while pos < end:
            lexer = lexers[state_stack[-1]]
            if lexer is None:
                raise Unparsed
            found = lexer.shared.match(text, pos)
            if found is None or found.lastgroup not in lexer.accepts:
                found = lexer.own_match(text, pos)
                if found is None:
                    raise Unparsed
            value, type_ = found.group(), found.lastgroup
            column, start_line = pos - line_start + 1, line
            if type_ in newline_types and "\n" in value:
                line += value.count("\n")
                line_start = pos + value.rindex("\n") + 1
            pos += len(value)
            if type_ in ignore:
                continue
            if type_ in lexer.unless:
                type_ = lexer.unless[type_].get(value, type_)
            token = Token(value)
            token.type, token.line, token.column = type_, start_line, column
            token.end_line, token.end_column = line, pos - line_start + 1
            last_raw = token
            # the post-lexer: lark.indenter.Indenter, then tfm's `var`/`state` rule
            if type_ == NL:
                if paren_level == 0:
                    feed(token, NL)
                    last_fed, at_line_start = token, True
                    indent_text = value.rsplit("\n", 1)[1]
                    indent = indent_text.count(" ") + indent_text.count("\t") * TAB_LEN
                    if indent > indent_level[-1]:
                        indent_level.append(indent)
                        last_fed = token.borrow(INDENT, indent_text)
                        feed(last_fed, INDENT)
                    else:
                        while indent < indent_level[-1]:
                            indent_level.pop()
                            last_fed = token.borrow(DEDENT, indent_text)
                            feed(last_fed, DEDENT)
                        if indent != indent_level[-1]:
                            raise Unparsed
                continue
            if (at_line_start and type_ == "NAME" and value in MEMBER_KEYWORDS and len(indent_level) == 2
                    and paren_level == 0):
                type_ = token.type = "VAR_KIND"
            feed(token, type_)
            last_fed, at_line_start = token, False
            if type_ in OPEN_PARENS:
                paren_level += 1
            elif type_ in CLOSE_PARENS:
                paren_level -= 1
                if paren_level < 0:
                    raise Unparsed
        while len(indent_level) > 1:
            indent_level.pop()
            if last_raw is None:
                raise Unparsed
            last_fed = last_raw.borrow(DEDENT, "")
            feed(last_fed, DEDENT)
        if last_fed is None:
            raise Unparsed
        while True:  # the end of the text (Lark's `$END`): reduce until the start rule is done
            action = states[state_stack[-1]].get("$END")
            if action is None or action >= 0:
                raise Unparsed
            origin, size, build, passes_on = rules[~action]
            if passes_on and type(place_stack[-1]) is not Token:
                state_stack[-1] = states[state_stack[-2]][origin]
            else:
                reduce(origin, size, build)
            if state_stack[-1] == self._end:
                return value_stack[-1]


def _builder(name: str, expand_single: bool, child_filter):
    """What Lark's ParseTreeBuilder makes for one rule: filter the children, pass a lone child of a
    `?rule` through, else call the node builder's method."""
    build = getattr(NODE_BUILDER, name, None) or functools.partial(_Tree, name)
    if expand_single:
        build = _expand_single(build)
    if child_filter is not None:
        build = _filtered(build, *child_filter)
    return build


def _expand_single(build):
    def expand(children):
        return children[0] if len(children) == 1 else build(children)
    return expand


def _filtered(build, to_include, append_none):
    """lark.parse_tree_builder.ChildFilterLALR: drop filtered tokens, splice inlined rules' children,
    put None where an optional part is absent."""
    def child_filter(children):
        filtered = []
        for i, to_expand, add_none in to_include:
            if add_none:
                filtered += [None] * add_none
            if to_expand:
                filtered += children[i].children
            else:
                filtered.append(children[i])
        if append_none:
            filtered += [None] * append_none
        return build(filtered)
    return child_filter
