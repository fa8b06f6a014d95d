"""The syntax tree, built as Lark's LALR parser reduces each grammar rule: a Lark `Transformer` given
to the parser (`Lark(transformer=...)`), one method per rule, each building the rule's node with the
span of the text it was parsed from. No parse tree is made and walked again.

Lark does not give an in-parse transformer the rule's position (`v_args(meta=True)` is for a tree
already built), so the parser keeps every token (`keep_all_tokens`) and each method's children are
the rule's whole text: tokens, the values of the rules below it (`Located`: the value with the place
of its text), and None for an absent optional part. A rule's span runs from its first token to its
last, as Lark's `propagate_positions` would make it: keywords, brackets and new lines included.
"""

from __future__ import annotations

import dataclasses

import re
from typing import Any, Protocol, cast

from lark import Token, Transformer

from . import nodes as n
from .diagnostics import TfmError, fail
from .limits import MAX_INT_DIGITS, too_long_int
from .overloads import expand_signatures


_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "r": "\r", "t": "\t", "0": "\0"}


def unescape_string(token: str) -> str:
    """The value of a STRING token: its quotes dropped, its escapes (the grammar admits only
    \\\\ \\" \\' \\n \\r \\t \\0) decoded. Any other character, a raw NUL included, stands for itself."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES[m.group(1)], token[1:-1])


class _Place(Protocol):
    """Where a rule's text starts or ends: a token from the lexer (which always gives its position),
    or a `Located` with a line."""

    @property
    def line(self) -> int: ...
    @property
    def column(self) -> int: ...
    @property
    def end_line(self) -> int: ...
    @property
    def end_column(self) -> int: ...


class Located:
    """A rule's value with the place of its text (its first to last token; no line if it has none).
    A `?rule` that keeps only one of its children passes it on as it is: the same value and place."""

    __slots__ = ("value", "line", "column", "end_line", "end_column")
    line: int | None
    column: int
    end_line: int
    end_column: int

    def __init__(self, value, first, last):
        self.value = value
        if first is None:
            self.line = None
        else:
            self.line, self.column = first.line, first.column
            self.end_line, self.end_column = last.end_line, last.end_column


def _located(build):
    """One rule's method: its children's values unwrapped, its place noted for `_s()`, its node
    returned located for the rule above. Runs on every reduction: kept to plain loops."""
    def method(self, children):
        return _build_located(self, build, children)
    method.__name__ = method.__qualname__ = build.__name__
    method.__doc__ = build.__doc__
    return method


def _build_located(builder, build, children):
    """`build(builder, the children's values)`, located from the children's first to last
    token (noted on the builder for `_s()`)."""
    first = last = None
    for child in children:
        if type(child) is Token or type(child) is Located and child.line is not None:
            first = child
            break
    if first is not None:
        for child in reversed(children):
            if type(child) is Token or type(child) is Located and child.line is not None:
                last = child
                break
    builder.located = first, last
    return Located(build(builder, [c.value if type(c) is Located else c for c in children]), first, last)


def _lone_passed_on(build):
    """A chain rule (`a or b`): a lone operand is passed on as it is, value and place, as Lark passes
    on a `?rule`'s lone child (most expressions are one operand: this skips `_located` for them)."""
    located = _located(build)

    def method(self, children):
        return children[0] if len(children) == 1 else located(self, children)
    method.__name__ = method.__qualname__ = build.__name__
    return method


def _rule_methods(cls):
    """Every public method of `cls` is a grammar rule's: located (`_located`), or passed on."""
    for name, value in list(vars(cls).items()):
        if not name.startswith("_") and callable(value):
            setattr(cls, name, _lone_passed_on(value) if name in _CHAINS else _located(value))
    return cls


_CHAINS = ("or_chain", "and_chain")


def _items(children) -> tuple:
    """The values of a list's items: its punctuation and absent optional parts left out."""
    return tuple(c for c in children if c is not None and type(c) is not Token)


def _rebinds_own_write(target: str, value) -> bool:
    """`arr = arr.write(...)`: a TensorArray write returns the new array, so this is the statement form."""
    func = value.func if isinstance(value, n.Call) else None
    return isinstance(func, n.Attribute) and func.attr == "write" and isinstance(func.value, n.Name) \
        and func.value.id == target


def _dim_value(d: n.Dim) -> n.Expr:
    """A declared dim as the expression of its size (`?` is 0: a local that grows from empty)."""
    if d.kind == "expr":
        assert d.op is not None and d.left is not None and d.right is not None  # dim_binary builds all three
        return n.BinOp(span=d.span, op=d.op, left=_dim_value(d.left), right=_dim_value(d.right))
    if d.kind in ("fixed", "unknown", "rest"):  # `...` outside a signature: E017 (dsl/declarations.py)
        return n.IntLit(span=d.span, value=d.size if d.size is not None else 0)
    assert d.name is not None  # a named dim has its name
    return n.Name(span=d.span, id=d.name)


def _dim_operand(dim: n.Dim, op: str, right: bool) -> str:
    """A side of a dimension expression as text, in parentheses where it binds more loosely."""
    rank = {"+": 1, "-": 1}
    text = str(dim.size) if dim.kind == "fixed" else dim.name or "?"
    if dim.kind == "expr" and (rank.get(dim.op or "", 2) < rank.get(op, 2)
                               or right and rank.get(dim.op or "", 2) == rank.get(op, 2)):
        return f"({text})"
    return text


def _join_spans(a: n.Span, b: n.Span) -> n.Span:
    return n.Span(file=a.file, line=a.line, column=a.column, end_line=b.end_line, end_column=b.end_column)


def _int(text: str, span: n.Span) -> int:
    """An INT token's value. `dsl.analyze` refuses longer literals before parsing; this keeps any
    other caller of `parse` from Python's ValueError on ints of over 4,300 digits."""
    if len(text) > MAX_INT_DIGITS:
        raise TfmError([too_long_int(len(text), span)])
    return int(text)


def _no_list(type_, what: str) -> None:
    if isinstance(type_, n.ListType):
        raise fail("E017",
                   type_,
                   f"{what} cannot be a list",
                   "typed lists are for locals in a method body; stack them into a tensor")


@_rule_methods
class ToNodes(Transformer):
    """One method per grammar rule (named by the rule, or its alias), each building one value from the
    rule's children, in the grammar's order (comments show the rule), or none for a rule whose node
    class is declared `nodes.built_from(rule)`: its node is built from the rule's parts (`__default__`).
    Each parser has its own instance, serving one parse at a time (dsl/lark_parser.py): `file` and
    `located` are per parse. Other rules without a method (the grammar's inlined repetitions) are Lark
    trees, spliced into their parent."""

    def __init__(self):
        super().__init__(visit_tokens=False)
        self.file = "<string>"
        self.located: tuple[_Place, _Place] | tuple[None, None] = (None, None)
        # The terminals whose tokens carry a value (NAME, INT, ...; not keywords or punctuation): set
        # by the parser that owns this builder, from its grammar.
        self.value_terminals: frozenset[str] = frozenset()

    def _s(self) -> n.Span:
        located = self.located
        if located[0] is None:
            return n.Span(file=self.file, line=1, column=1, end_line=1, end_column=1)
        first, last = located
        return n.Span(file=self.file, line=first.line, column=first.column,
                      end_line=last.end_line, end_column=last.end_column)

    def __default__(self, data, children, meta) -> Any:
        """A rule without a method of its own: its node class's (`nodes.built_from`), or a Lark tree
        (the grammar's inlined repetitions), spliced into the rule above."""
        node_class = n.BUILT_FROM_RULE.get(data)
        if node_class is None:
            return super().__default__(data, children, meta)
        return _build_located(self, lambda _, c: self._node_of_rule(node_class, c), children)

    def _node_of_rule(self, node_class, c) -> n.Node:
        """The node of a rule declared with `nodes.built_from`: its value parts, in order, are the
        node's fields after the span (a declared name's token an `Identifier`, other tokens text)."""
        fields = n.rule_fields(node_class)
        parts = [x for x in c if type(x) is not Token or x.type in self.value_terminals]
        if len(parts) != len(fields):
            raise TypeError(f"grammar rule for {node_class.__name__} gives {len(parts)} parts for the fields "
                            f"{', '.join(fields)}: an optional part holding punctuation needs a method of its own")
        values = {name: (self._identifier(cast(_Place, part)) if name == "identifier" else str(part)) if type(part) is Token
                  else part for name, part in zip(fields, parts)}
        return node_class(span=self._s(), **values)

    def _identifier(self, token: _Place) -> n.Identifier:
        """A declared name, with the span of its token (a NAME `Token`)."""
        span = n.Span(file=self.file, line=token.line, column=token.column, end_line=token.end_line,
                      end_column=token.end_column)
        return n.Identifier(span=span, text=str(token))

    # program and declarations
    def start(self, c):  # _NL? import_decl* module_def*
        children = _items(c)
        imports = tuple(x for x in children if isinstance(x, n.Import))
        modules = tuple(x for x in children if not isinstance(x, n.Import))
        return n.Program(span=self._s(), modules=modules, imports=imports)

    def import_decl(self, c):  # "import" (STRING | NAME ("." NAME)*) _NL
        parts = [t for t in c[1:-1] if t.type != "DOT"]
        if len(parts) == 1 and parts[0].type == "STRING":
            target = unescape_string(str(parts[0]))
        else:
            target = "/".join(str(t) for t in parts) + ".tfm"
        return n.Import(span=self._s(), target=target)

    def module_def(self, c):  # "module" NAME [module_params] ":" _NL _INDENT member+ _DEDENT
        members = [m for member in c[6:-1] for m in (member if isinstance(member, list) else [member])]
        return n.ModuleDef(span=self._s(), identifier=self._identifier(c[1]), params=tuple(c[2] or ()),
                           members=expand_signatures(tuple(members)))

    def member_if(self, c):  # "if" NAME ":" _NL _INDENT var_decl+ _DEDENT: its variables, each under the condition
        token = c[1]
        condition = n.Name(span=self._identifier(token).span, id=str(token))
        return [dataclasses.replace(var, condition=condition) for var in c[5:-1]]

    def module_params(self, c):  # "(" [module_param ("," module_param)* [","]] ")"
        return _items(c)

    def module_param(self, c):  # NAME ":" type_expr ["=" param_default]
        name, type_, default = c[0], c[2], c[4]
        _no_list(type_, "a constructor parameter")
        return n.ModuleParam(span=self._s(), identifier=self._identifier(name), type=type_, default=default)

    def inferred_param(self, c):  # NAME ":" type_expr "=" "?"
        _no_list(c[2], "a constructor parameter")
        return n.ModuleParam(span=self._s(), identifier=self._identifier(c[0]), type=c[2], inferred=True)

    def var_decl(self, c):  # VAR_KIND NAME ":" type_expr "=" expr [var_regularizer] _NL
        kind, name, type_, init, regularizer = c[0], c[1], c[3], c[5], c[6]
        _no_list(type_, "a variable")
        return n.VarDecl(span=self._s(), identifier=self._identifier(name), type=type_, init=init,
                         trainable=str(kind) == "var", regularizer=regularizer)

    def var_regularizer(self, c):  # "," NAME "=" expr
        if str(c[1]) != "regularizer":
            raise fail("E001", self._identifier(c[1]), f"a variable takes one option, `regularizer=`, not `{c[1]}=`",
                       'write e.g. `var w: f32[4, 4] = glorot_uniform(), regularizer="l2(0.01)"`')
        return c[3]

    def sub_decl(self, c):  # [FROZEN] "sub" NAME "=" NAME "(" [arguments] ")" _NL
        args, keywords = c[6] or ((), ())
        return n.SubDecl(span=self._s(), identifier=self._identifier(c[2]), module=str(c[4]), args=args,
                         keywords=keywords, frozen=c[0] is not None)

    def method(self, c):  # method_attr* "fn" NAME "(" [method_inputs] ")" ["->" returns] ":" block
        attrs, name, inputs, returns, body = c[:-9], c[-8], c[-6], c[-3], c[-1]
        return n.Method(span=self._s(), identifier=self._identifier(name), inputs=tuple(inputs or ()),
                        returns=returns, attrs=tuple(attrs), body=body)

    def method_attr(self, c):  # "@" NAME _NL
        return n.Name(span=self._s(), id=str(c[1]))

    def method_inputs(self, c):  # method_input ("," method_input)* [","]
        return _items(c)

    def method_input(self, c):  # NAME ":" type_choice
        _no_list(c[2], "a method input")
        return n.MethodInput(span=self._s(), identifier=self._identifier(c[0]), type=c[2])

    def single_return(self, c):  # type_choice
        _no_list(c[0], "a method output")
        return c[0]

    def named_returns(self, c):  # "(" named_output ("," named_output)* [","] ")"
        return _items(c)

    def named_output(self, c):  # NAME ":" type_choice
        _no_list(c[2], "a method output")
        return n.NamedOutput(span=self._s(), identifier=self._identifier(c[0]), type=c[2])

    # types
    def type_expr(self, c):  # NAME [shape]
        return n.TensorType(span=self._s(), dtype=str(c[0]), shape=c[1])

    def type_choice(self, c):  # type_expr ("|" type_expr)*
        options = c[0::2]
        for option in options:
            _no_list(option, "a type with `|`")
        return n.TypeChoice(span=self._s(), options=tuple(options))

    def list_type(self, c):  # "list" "[" type_expr "]"
        element = c[2]
        if isinstance(element, n.ListType):
            raise fail("E017",
                       element,
                       "lists of lists are not supported",
                       "collect tensors and stack them into a higher-rank tensor")
        return n.ListType(span=self._s(), element=element)

    def shape(self, c):  # "[" [dim ("," dim)* [","]] "]"
        dims = _items(c)
        rests = [d for d in dims if d.kind == "rest"]
        if len(rests) > 1:
            raise fail("E017", rests[1], "a shape has at most one `...`",
                       "`...` stands for the dims between those written before and after it")
        return dims

    def fixed_dim(self, c):  # INT
        span = self._s()
        return n.Dim(span=span, kind="fixed", size=_int(c[0], span))

    def named_dim(self, c):  # NAME
        return n.Dim(span=self._s(), kind="named", name=str(c[0]))

    def item_dim(self, c):  # NAME "[" INT "]"
        span = self._s()
        index = _int(c[2], span)
        return n.Dim(span=span, kind="item", name=f"{c[0]}[{index}]", size=index, of=str(c[0]))

    def unknown_dim(self, c):  # "?" | "None"
        return n.Dim(span=self._s(), kind="unknown")

    def rest_dim(self, c):  # "..."
        return n.Dim(span=self._s(), kind="rest")

    # dimension expressions (issue 22, shapes) ------------------------------------------------------
    def dim_binary(self, c):  # dim_sum ADD_OP dim_term | dim_term MUL_OP dim_atom
        left, op, right = c[0], str(c[1]), c[2]
        text = f"{_dim_operand(left, op, False)} {op} {_dim_operand(right, op, True)}"
        return n.Dim(span=self._s(), kind="expr", name=text, op=op, left=left, right=right)

    def dim_atom(self, c):  # "(" dim_sum ")"
        return c[1]
    # ---------------------------------------------------------------------------------------------

    # statements
    def block(self, c):  # _NL _INDENT statement+ _DEDENT
        return tuple(c[2:-1])

    def statement(self, c):  # simple_statement _NL: the statement, its place taking in the new line
        return c[0]

    def assign(self, c):  # NAME "=" expr
        target, value = str(c[0]), c[2]
        if _rebinds_own_write(target, value):  # TensorFlow's `arr = arr.write(i, v)`: the statement `arr.write(i, v)`
            return n.ExprStmt(span=self._s(), expr=value)
        return n.Assign(span=self._s(), target=target, value=value)

    # several values at once (issue 22, composition) -------------------------------------------
    def unpack(self, c):  # NAME ("," NAME)+ "=" expr ("," expr)*
        equals = next(i for i, t in enumerate(c) if type(t) is Token and t == "=")
        targets = tuple(self._identifier(cast(_Place, t)) for t in c[:equals] if type(t) is Token and t.type == "NAME")
        return n.Unpack(span=self._s(), targets=targets, values=_items(c[equals + 1:]))
    # ---------------------------------------------------------------------------------------------

    def declare(self, c):  # NAME ":" type_expr "=" expr
        return n.Assign(span=self._s(), target=str(c[0]), value=c[4], declared=c[2])

    def item_assign(self, c):  # postfix "[" subscripts "]" "=" expr
        value, items, element = c[0], c[2], c[5]
        span = self._s()
        target_span = n.Span(file=span.file, line=value.span.line, column=value.span.column,
                             end_line=items[-1].span.end_line, end_column=items[-1].span.end_column + 1)
        target = n.Subscript(span=target_span, value=value, items=items)
        return n.ItemAssign(span=span, target=target, value=element)

    def bare_declare(self, c):  # NAME ":" type_expr
        """`n: i32[]` with no value: the type's zero (`zeros([...], dtype=i32)`, a `?` size 0) or, for
        `xs: list[f32[]]`, an empty typed list; later values must fit the declared type."""
        name, type_ = c[0], c[2]
        span = self._s()
        if isinstance(type_, n.ListType):
            value = n.ListLit(span=span, items=())
        else:
            dims = tuple(_dim_value(d) for d in type_.shape or ())
            dtype = n.Keyword(span=span, name="dtype", value=n.Name(span=type_.span, id=type_.dtype))
            value = n.Call(span=span, func=n.Name(span=span, id="zeros"),
                           args=(n.ListLit(span=span, items=dims),), keywords=(dtype,))
        return n.Assign(span=span, target=str(name), value=value, declared=type_)

    def aug_assign(self, c):  # NAME AUG_OP expr
        return n.AugAssign(span=self._s(), target=str(c[0]), op=str(c[1])[0], value=c[2])

    def return_stmt(self, c):  # "return" [expr ("," expr)*]
        return n.Return(span=self._s(), values=_items(c))

    def if_stmt(self, c):  # "if" expr ":" block elif_clause* [else_clause]
        test, body, clauses, else_body = c[1], c[3], c[4:-1], c[-1]
        orelse = else_body or ()
        for clause_test, clause_body, clause_span in reversed(clauses):
            orelse = (n.If(span=clause_span, test=clause_test, body=clause_body, orelse=orelse),)
        return n.If(span=self._s(), test=test, body=body, orelse=orelse)

    def elif_clause(self, c):  # "elif" expr ":" block
        return (c[1], c[3], self._s())

    def else_clause(self, c):  # "else" ":" block
        return c[2]

    def for_stmt(self, c):  # [STATIC] "for" NAME "in" expr ":" block
        return n.For(span=self._s(), target=str(c[2]), iter=c[4], body=c[6], static=c[0] is not None)

    def with_stmt(self, c):  # "with" with_item ("," with_item)* ":" block
        """Several items nest, the first outermost: each inner `with` spans its item to the block's end."""
        items, body, span = [x for x in c[1:-2] if isinstance(x, tuple)], c[-1], self._s()
        for item_span, context, name in reversed(items[1:]):
            body = (n.With(span=_join_spans(item_span, span), context=context, name=name, body=body),)
        _, context, name = items[0]
        return n.With(span=span, context=context, name=name, body=body)

    def with_item(self, c):  # expr ["as" NAME]
        return self._s(), c[0], None if c[2] is None else str(c[2])

    def local_fn(self, c):  # "fn" NAME "(" [method_inputs] ")" ["->" returns] ":" block
        name, inputs, returns, body = c[1], c[3], c[6], c[8]
        for type_ in (*(i.type for i in inputs or ()), *([] if returns is None else [returns])):
            if isinstance(type_, n.TypeChoice):
                raise fail("E060",
                           type_,
                           "a local function has one signature",
                           "write one type here, or make it a method of the module with several signatures")
        span = self._s()
        method = n.Method(span=span, identifier=self._identifier(name), inputs=tuple(inputs or ()), returns=returns,
                          body=body)
        return n.LocalFunction(span=span, function=method)

    def assert_stmt(self, c):  # "assert" expr ["," expr]
        return n.Assert(span=self._s(), test=c[1], message=c[3])

    # expressions
    def or_chain(self, c):  # and_expr ("or" and_expr)+ (a lone and_expr is passed on)
        return n.BoolOp(span=self._s(), op="or", values=tuple(c[0::2]))

    def and_chain(self, c):  # not_expr ("and" not_expr)+ (a lone not_expr is passed on)
        return n.BoolOp(span=self._s(), op="and", values=tuple(c[0::2]))

    def not_op(self, c):  # "not" not_expr
        return n.UnaryOp(span=self._s(), op="not", operand=c[1])

    def comparison(self, c):  # sum (COMP_OP sum)*
        """`a < b` is one Compare; a chain `a < b <= c` means `a < b and b <= c`, as in Python."""
        links = [n.Compare(span=_join_spans(left.span, right.span), op=str(op), left=left, right=right)
                 for left, op, right in zip(c[0::2], c[1::2], c[2::2])]
        if len(links) == 1:
            return links[0]
        return n.BoolOp(span=self._s(), op="and", values=tuple(links))

    def if_exp(self, c):  # or_expr "if" or_expr "else" expr
        return n.IfExp(span=self._s(), test=c[2], body=c[0], orelse=c[4])

    def sum(self, c):  # term (ADD_OP term)*
        return _fold(c)

    def term(self, c):  # factor (MUL_OP factor)*
        return _fold(c)

    def unary_op(self, c):  # NEG_OP factor
        return n.UnaryOp(span=self._s(), op=cast(n.UnaryOperator, str(c[0])), operand=c[1])

    def power(self, c):  # postfix POW factor
        return n.BinOp(span=self._s(), op="**", left=c[0], right=c[2])

    def atom(self, c):  # "(" expr ")": the expression, its place taking in the brackets
        return c[1]

    def call(self, c):  # postfix "(" [arguments] ")"
        args, keywords = c[2] or ((), ())
        return n.Call(span=self._s(), func=c[0], args=args, keywords=keywords)

    def arguments(self, c):  # argument ("," argument)* [","]
        args, keywords = [], []
        for child in _items(c):
            if isinstance(child, n.Keyword):
                keywords.append(child)
            elif keywords:
                raise fail("E001",
                           child,
                           "positional argument after a keyword argument",
                           "put positional arguments first")
            else:
                args.append(child)
        return tuple(args), tuple(keywords)

    def keyword_arg(self, c):  # NAME "=" expr
        return n.Keyword(span=self._s(), name=str(c[0]), value=c[2])

    def subscript(self, c):  # postfix "[" subscripts "]"
        return n.Subscript(span=self._s(), value=c[0], items=c[2])

    def subscripts(self, c):  # subscript_item ("," subscript_item)* [","]
        return _items(c)

    def slice(self, c):  # [expr] ":" [expr] [":" [expr]]
        return n.Slice(span=self._s(), lower=c[0], upper=c[2], step=c[4])

    def new_axis(self, c):  # "None"
        return n.NewAxis(span=self._s())

    def ellipsis(self, c):  # "..."
        return n.EllipsisItem(span=self._s())

    def attribute(self, c):  # postfix "." NAME
        return n.Attribute(span=self._s(), value=c[0], attr=str(c[2]))

    def name(self, c):  # NAME
        return n.Name(span=self._s(), id=str(c[0]))

    def int_lit(self, c):  # INT
        span = self._s()
        return n.IntLit(span=span, value=_int(c[0], span))

    def float_lit(self, c):  # FLOAT
        return n.FloatLit(span=self._s(), value=float(c[0]))

    def string_lit(self, c):  # STRING
        return n.StringLit(span=self._s(), value=unescape_string(str(c[0])))

    def true_lit(self, c):  # "True"
        return n.BoolLit(span=self._s(), value=True)

    def false_lit(self, c):  # "False"
        return n.BoolLit(span=self._s(), value=False)

    def list_lit(self, c):  # "[" [expr ("," expr)* [","]] "]"
        return n.ListLit(span=self._s(), items=_items(c))

    tuple_lit = list_lit  # "(" expr "," [expr ("," expr)* [","]] ")": an argument's tuple is its list


def _fold(c) -> n.Node:
    """`a + b - c` as ((a + b) - c): each BinOp spans its operands."""
    left = c[0]
    for op, right in zip(c[1::2], c[2::2]):
        left = n.BinOp(span=_join_spans(left.span, right.span), op=str(op), left=left, right=right)
    return left
