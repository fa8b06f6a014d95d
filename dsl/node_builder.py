"""The syntax tree built as the parser goes: one method per grammar rule, called by Lark's LALR
parser as it reduces that rule, building the rule's node with the span of the text it was parsed
from. No parse tree is made and walked again (the 10,000-line benchmark parses 1.4x faster)."""

from __future__ import annotations

import re

from . import nodes as n
from .diagnostics import fail
from .overloads import expand_signatures


_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "r": "\r", "t": "\t", "0": "\0"}


def unescape_string(token: str) -> str:
    """The value of a STRING token: its quotes dropped, its escapes (the grammar admits only
    \\ \" \' \n \r \t \0) decoded. Any other character, a raw NUL included, stands for itself."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES[m.group(1)], token[1:-1])


def _join_spans(a: n.Span, b: n.Span) -> n.Span:
    return n.Span.build(file=a.file, line=a.line, column=a.column, end_line=b.end_line, end_column=b.end_column)


def _no_list(type_, what: str) -> None:
    if isinstance(type_, n.ListType):
        raise fail("E017",
                   type_,
                   f"{what} cannot be a list",
                   "typed lists are for locals in a method body; stack them into a tensor")


class _ToNodes:
    """One method per grammar rule, each building one node from the rule's children (tokens, nodes,
    None for an absent optional part), called by the parser as it reduces the rule. One instance
    serves every parse, one parse at a time (the parser's lock): `file` and `located` are per parse."""

    def __init__(self):
        self.file = "<string>"
        self.located = (None, None)

    def _s(self) -> n.Span:
        first, last = self.located
        if first is None:
            return n.Span.build(file=self.file, line=1, column=1, end_line=1, end_column=1)
        return n.Span.build(file=self.file, line=first.line, column=first.column,
                            end_line=last.end_line, end_column=last.end_column)

    # program and declarations
    def start(self, children):
        imports = tuple(c for c in children if isinstance(c, n.Import))
        modules = tuple(c for c in children if not isinstance(c, n.Import))
        return n.Program.build(span=self._s(), modules=modules, imports=imports)

    def import_decl(self, children):
        if len(children) == 1 and children[0].type == "STRING":
            target = unescape_string(str(children[0]))
        else:
            target = "/".join(str(c) for c in children) + ".tfm"
        return n.Import.build(span=self._s(), target=target)

    def module_def(self, children):
        name, params, *members = children
        return n.ModuleDef.build(span=self._s(), name=str(name), params=tuple(params or ()),
                                 members=expand_signatures(tuple(members)))

    def module_params(self, children):
        return tuple(c for c in children if c is not None)

    def module_param(self, children):
        name, type_, default = children
        _no_list(type_, "a constructor parameter")
        return n.ModuleParam.build(span=self._s(), name=str(name), type=type_, default=default)

    def var_decl(self, children):
        kind, name, type_, init = children
        _no_list(type_, "a variable")
        return n.VarDecl.build(span=self._s(), name=str(name), type=type_, init=init, trainable=str(kind) == "var")

    def sub_decl(self, children):
        name, module, arguments = children
        args, keywords = arguments or ((), ())
        return n.SubDecl.build(span=self._s(), name=str(name), module=str(module), args=args, keywords=keywords)

    def method(self, children):
        *attrs, name, inputs, returns, body = children
        return n.Method.build(span=self._s(), name=str(name), inputs=tuple(inputs or ()), returns=returns,
                        attrs=tuple(attrs), body=body)

    def method_attr(self, children):
        return n.Name.build(span=self._s(), id=str(children[0]))

    def method_inputs(self, children):
        return tuple(c for c in children if c is not None)

    def method_input(self, children):
        _no_list(children[1], "a method input")
        return n.MethodInput.build(span=self._s(), name=str(children[0]), type=children[1])

    def single_return(self, children):
        _no_list(children[0], "a method output")
        return children[0]

    def named_returns(self, children):
        return tuple(c for c in children if c is not None)

    def named_output(self, children):
        _no_list(children[1], "a method output")
        return n.NamedOutput.build(span=self._s(), name=str(children[0]), type=children[1])

    # types
    def type_expr(self, children):
        name, shape = children
        return n.TensorType.build(span=self._s(), dtype=str(name), shape=shape)

    def type_choice(self, children):
        for option in children:
            _no_list(option, "a type with `|`")
        return n.TypeChoice.build(span=self._s(), options=tuple(children))

    def list_type(self, children):
        element = children[0]
        if isinstance(element, n.ListType):
            raise fail("E017",
                       element,
                       "lists of lists are not supported",
                       "collect tensors and stack them into a higher-rank tensor")
        return n.ListType.build(span=self._s(), element=element)

    def shape(self, children):
        return tuple(c for c in children if c is not None)

    def fixed_dim(self, children):
        return n.Dim.build(span=self._s(), kind="fixed", size=int(children[0]))

    def named_dim(self, children):
        return n.Dim.build(span=self._s(), kind="named", name=str(children[0]))

    def unknown_dim(self, children):
        return n.Dim.build(span=self._s(), kind="unknown")

    # statements
    def block(self, children):
        return tuple(children)

    def assign(self, children):
        return n.Assign.build(span=self._s(), target=str(children[0]), value=children[1])

    def declare(self, children):
        name, type_, value = children
        return n.Assign.build(span=self._s(), target=str(name), value=value, declared=type_)

    def item_assign(self, children):
        value, items, element = children
        span = self._s()
        target_span = n.Span.build(file=span.file, line=value.span.line, column=value.span.column,
                                   end_line=items[-1].span.end_line, end_column=items[-1].span.end_column + 1)
        target = n.Subscript.build(span=target_span, value=value, items=items)
        return n.ItemAssign.build(span=span, target=target, value=element)

    def bare_declare(self, children):
        """`n: i32[]` with no value: the type's zero (`zeros([...], dtype=i32)`, a `?` size 0) or, for
        `xs: list[f32[]]`, an empty typed list; later values must fit the declared type."""
        name, type_ = children
        span = self._s()
        if isinstance(type_, n.ListType):
            value = n.ListLit.build(span=span, items=())
        else:
            dims = tuple(n.IntLit.build(span=d.span, value=d.size) if d.kind == "fixed" else
                         n.IntLit.build(span=d.span, value=0) if d.kind == "unknown" else
                         n.Name.build(span=d.span, id=d.name) for d in type_.shape or ())
            dtype = n.Keyword.build(span=span, name="dtype", value=n.Name.build(span=type_.span, id=type_.dtype))
            value = n.Call.build(span=span, func=n.Name.build(span=span, id="zeros"),
                                 args=(n.ListLit.build(span=span, items=dims),), keywords=(dtype,))
        return n.Assign.build(span=span, target=str(name), value=value, declared=type_)

    def aug_assign(self, children):
        name, op, value = children
        return n.AugAssign.build(span=self._s(), target=str(name), op=str(op)[0], value=value)

    def return_stmt(self, children):
        return n.Return.build(span=self._s(), values=tuple(c for c in children if c is not None))

    def expr_stmt(self, children):
        return n.ExprStmt.build(span=self._s(), expr=children[0])

    def pass_stmt(self, children):
        return n.Pass.build(span=self._s())

    def break_stmt(self, children):
        return n.Break.build(span=self._s())

    def continue_stmt(self, children):
        return n.Continue.build(span=self._s())

    def if_stmt(self, children):
        test, body, *rest = children
        else_body = rest.pop() if rest else None
        orelse = else_body or ()
        for clause_test, clause_body, clause_span in reversed(rest):
            orelse = (n.If.build(span=clause_span, test=clause_test, body=clause_body, orelse=orelse),)
        return n.If.build(span=self._s(), test=test, body=body, orelse=orelse)

    def elif_clause(self, children):
        return (children[0], children[1], self._s())

    def else_clause(self, children):
        return children[0]

    def for_stmt(self, children):
        static, target, iterable, body = children
        return n.For.build(span=self._s(), target=str(target), iter=iterable, body=body, static=static is not None)

    def while_stmt(self, children):
        return n.While.build(span=self._s(), test=children[0], body=children[1])

    def with_stmt(self, children):
        context, name, body = children
        return n.With.build(span=self._s(), context=context, name=None if name is None else str(name), body=body)

    def assert_stmt(self, children):
        return n.Assert.build(span=self._s(), test=children[0], message=children[1])

    # expressions
    def or_chain(self, children):
        if len(children) == 1:
            return children[0]
        return n.BoolOp.build(span=self._s(), op="or", values=tuple(children))

    def and_chain(self, children):
        if len(children) == 1:
            return children[0]
        return n.BoolOp.build(span=self._s(), op="and", values=tuple(children))

    def not_op(self, children):
        return n.UnaryOp.build(span=self._s(), op="not", operand=children[0])

    def comparison(self, children):
        """`a < b` is one Compare; a chain `a < b <= c` means `a < b and b <= c`, as in Python."""
        links = [n.Compare.build(span=_join_spans(left.span, right.span), op=str(op), left=left, right=right)
                 for left, op, right in zip(children[0::2], children[1::2], children[2::2])]
        if len(links) == 1:
            return links[0]
        return n.BoolOp.build(span=self._s(), op="and", values=tuple(links))

    def if_exp(self, children):
        body, test, orelse = children
        return n.IfExp.build(span=self._s(), test=test, body=body, orelse=orelse)

    def sum(self, children):
        return self._fold(children)

    def term(self, children):
        return self._fold(children)

    def _fold(self, children):
        left = children[0]
        for op, right in zip(children[1::2], children[2::2]):
            left = n.BinOp.build(span=_join_spans(left.span, right.span), op=str(op), left=left, right=right)
        return left

    def unary_op(self, children):
        return n.UnaryOp.build(span=self._s(), op=str(children[0]), operand=children[1])

    def power(self, children):
        return n.BinOp.build(span=self._s(), op="**", left=children[0], right=children[2])

    def call(self, children):
        func, arguments = children
        args, keywords = arguments or ((), ())
        return n.Call.build(span=self._s(), func=func, args=args, keywords=keywords)

    def arguments(self, children):
        args, keywords = [], []
        for child in children:
            if child is None:
                continue
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

    def keyword_arg(self, children):
        return n.Keyword.build(span=self._s(), name=str(children[0]), value=children[1])

    def subscript(self, children):
        return n.Subscript.build(span=self._s(), value=children[0], items=children[1])

    def subscripts(self, children):
        return tuple(c for c in children if c is not None)

    def slice(self, children):
        lower, upper, step = (list(children) + [None, None, None])[:3]
        return n.Slice.build(span=self._s(), lower=lower, upper=upper, step=step)

    def new_axis(self, children):
        return n.NewAxis.build(span=self._s())

    def ellipsis(self, children):
        return n.EllipsisItem.build(span=self._s())

    def attribute(self, children):
        return n.Attribute.build(span=self._s(), value=children[0], attr=str(children[1]))

    def name(self, children):
        return n.Name.build(span=self._s(), id=str(children[0]))

    def int_lit(self, children):
        return n.IntLit.build(span=self._s(), value=int(children[0]))

    def float_lit(self, children):
        return n.FloatLit.build(span=self._s(), value=float(children[0]))

    def string_lit(self, children):
        return n.StringLit.build(span=self._s(), value=unescape_string(str(children[0])))

    def true_lit(self, children):
        return n.BoolLit.build(span=self._s(), value=True)

    def false_lit(self, children):
        return n.BoolLit.build(span=self._s(), value=False)

    def list_lit(self, children):
        return n.ListLit.build(span=self._s(), items=tuple(c for c in children if c is not None))


NODE_BUILDER = _ToNodes()
