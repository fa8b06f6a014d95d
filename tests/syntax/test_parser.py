"""Parsing: the syntax tree's shape and spans, and robustness to encodings and line endings."""

from __future__ import annotations

import pytest

from tfm import dsl
from tfm.dsl import nodes as n
from tfm import compile_text
from tfm.dsl.parser import MAX_DEPTH, decode_source, parse

DEMO = """\
module DemoModule(init_value: f32 = 0.0):
    var x: f32[] = init_value

    fn addprint(a: f32[]) -> f32[]:
        x.assign_add(a)
        print(x)
        return x
"""


def test_module_structure_and_spans():
    program = parse(DEMO, "demo.tfm")
    [module] = program.modules
    assert module.name == "DemoModule"
    assert [p.name for p in module.params] == ["init_value"]
    [var] = module.variables
    assert (var.name, var.type.dtype, var.type.shape, var.trainable) == ("x", "f32", (), True)
    [method] = module.methods
    assert [i.name for i in method.inputs] == ["a"]
    call = method.body[0].expr
    assert isinstance(call, n.Call) and call.func.attr == "assign_add"
    assert (call.span.line, call.span.column, call.span.end_column) == (5, 9, 24)


def test_nodes_are_immutable():
    program = parse(DEMO, "demo.tfm")
    with pytest.raises(Exception):
        program.modules[0].name = "Other"


@pytest.mark.parametrize("source, expected", [
    ("a + b * c", "BinOp(+, a, BinOp(*, b, c))"),
    ("-a ** 2", "UnaryOp(-, BinOp(**, a, 2))"),
    ("a ** -b", "BinOp(**, a, UnaryOp(-, b))"),
    ("(a + b) @ c", "BinOp(@, BinOp(+, a, b), c)"),
    ("a - b - c", "BinOp(-, BinOp(-, a, b), c)"),
    ("a < b", "Compare(<, a, b)"),
    ("not a and b or c", "BoolOp(or, BoolOp(and, UnaryOp(not, a), b), c)"),
    ("x[:, 0]", "Subscript(x, Slice(_, _, _), 0)"),
    ("x[None, 1:]", "Subscript(x, NewAxis, Slice(1, _, _))"),
    ("x[..., ::2]", "Subscript(x, EllipsisItem, Slice(_, _, 2))"),
    ("f(a, k=1)", "Call(f, a, k=1)"),
])
def test_expression_trees(source, expected):
    program = parse(f"module M:\n    fn f() -> f32[]:\n        return {source}\n", "e.tfm")
    expr = program.modules[0].methods[0].body[0].values[0]
    assert show(expr) == expected


def show(node) -> str:
    if isinstance(node, n.Name):
        return node.id
    if isinstance(node, (n.IntLit, n.FloatLit)):
        return repr(node.value)
    if isinstance(node, n.BinOp):
        return f"BinOp({node.op}, {show(node.left)}, {show(node.right)})"
    if isinstance(node, n.Compare):
        return f"Compare({node.op}, {show(node.left)}, {show(node.right)})"
    if isinstance(node, n.UnaryOp):
        return f"UnaryOp({node.op}, {show(node.operand)})"
    if isinstance(node, n.BoolOp):
        return f"BoolOp({node.op}, {', '.join(show(v) for v in node.values)})"
    if isinstance(node, n.Subscript):
        return f"Subscript({show(node.value)}, {', '.join(show(i) for i in node.items)})"
    if isinstance(node, n.Slice):
        parts = [show(p) if p is not None else "_" for p in (node.lower, node.upper, node.step)]
        return f"Slice({', '.join(parts)})"
    if isinstance(node, n.Call):
        args = [show(a) for a in node.args] + [f"{k.name}={show(k.value)}" for k in node.keywords]
        return f"Call({show(node.func)}, {', '.join(args)})"
    return type(node).__name__


def test_elif_chains_nest():
    source = ("module M:\n    fn f(x: f32[]) -> f32[]:\n        if x > 1.0:\n            y = 1.0\n"
              "        elif x > 0.0:\n            y = 2.0\n        else:\n            y = 3.0\n        return y\n")
    stmt = parse(source, "e.tfm").modules[0].methods[0].body[0]
    assert isinstance(stmt.orelse[0], n.If)
    assert isinstance(stmt.orelse[0].orelse[0], n.Assign)


def test_bom_and_crlf_and_comments_are_accepted():
    data = ("\ufeff# comment\r\n" + DEMO.replace("\n", "  # trailing\r\n")).encode("utf-8")
    program = parse(decode_source(data, "crlf.tfm"), "crlf.tfm")
    assert program.modules[0].name == "DemoModule"


def test_invalid_utf8_is_a_diagnostic():
    with pytest.raises(dsl.TfmError) as info:
        decode_source(b"module M:\n    var x: f32[] = \xff\n", "bad.tfm")
    [diagnostic] = info.value.diagnostics
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.column) == ("E005", 2, 20)


def test_empty_file_parses_to_no_modules():
    assert parse("", "empty.tfm").modules == ()


@pytest.mark.parametrize("source, code, line", [
    ("module M:\n    var x: f32[] = \n", "E001", 2),
    ("module M:\n    fn f(:\n", "E001", 2),
    ("module M:\n        var x: f32[] = 0.0\n      var y: f32[] = 0.0\n", "E003", 3),
    ("module M:\n    var x: f32[] = $\n", "E004", 2),
    ("module M:\n    fn f() -> f32[]:\n        return (1.0\n", "E002", 3),
])
def test_syntax_errors_are_located(source, code, line):
    with pytest.raises(dsl.TfmError) as info:
        parse(source, "s.tfm")
    [diagnostic] = info.value.diagnostics
    assert (diagnostic.code, diagnostic.span.line) == (code, line)


def _returning(expr: str) -> str:
    return f"module M:\n    fn f() -> f32[]:\n        return {expr}\n"


@pytest.mark.parametrize("expr", ["-" * 3000 + "1.0", " + ".join(["1.0"] * 3000)], ids=["unary", "chain"])
def test_deep_nesting_is_a_diagnostic_not_a_crash(expr):
    """A tree deeper than MAX_DEPTH is refused where it is parsed (dsl/parser.py `_check_depth`), with a
    located E001, so no later stage recurses into it: through the whole pipeline, not only the parser."""
    with pytest.raises(dsl.TfmError) as info:
        compile_text(_returning(expr), "deep.tfm")
    [diagnostic] = info.value.diagnostics
    assert diagnostic.code == "E001" and diagnostic.span.line == 3, diagnostic
    assert f"nests more than {MAX_DEPTH} levels deep" in diagnostic.message


def test_nesting_below_the_depth_limit_compiles_and_parentheses_add_no_depth():
    compile_text(_returning("-" * (MAX_DEPTH // 2) + "1.0"), "shallow.tfm")
    [method] = parse(_returning("(" * 3000 + "1.0" + ")" * 3000), "parens.tfm").modules[0].methods
    [value] = method.body[0].values
    assert isinstance(value, n.FloatLit), value


def test_declarations_may_follow_methods_and_state_stays_a_local_name():
    """After a method's block, LALR's merged lookahead let a name win over `var`/`state`; the
    indenter now reads them as keywords only where a member begins (member level, line start)."""
    program = parse("module M:\n    fn f(x: f32[], c: bool[]) -> f32[]:\n        if c:\n            x = x + 1.0\n"
                    "        state = x * 2.0\n        return state\n\n    state count: i32[] = 0\n"
                    "    var w: f32[2] = zeros()\n", "m.tfm")
    [module] = program.modules
    assert [v.name for v in module.variables] == ["count", "w"]
    assert [v.trainable for v in module.variables] == [False, True]
    assert module.methods[0].body[1].target == "state"


def test_each_rule_built_from_its_parts_is_a_grammar_rule_without_a_builder_method():
    """`nodes.built_from(rule)` replaces a node-builder method: the rule must exist (by name or alias)
    and have no method, or the declaration would silently never be used."""
    import re

    from tfm.dsl import nodes
    from tfm.dsl.node_builder import ToNodes
    from tfm.grammar import GRAMMAR_PATH

    grammar = GRAMMAR_PATH.read_text(encoding="utf-8")
    defined = set(re.findall(r"^\??([a-z_]+):", grammar, re.MULTILINE)) | set(re.findall(r"->\s*([a-z_]+)", grammar))
    assert nodes.BUILT_FROM_RULE, "no rule is built generically"
    for rule, node_class in nodes.BUILT_FROM_RULE.items():
        assert rule in defined, f"{node_class.__name__} is built from {rule!r}, which the grammar does not define"
        assert not hasattr(ToNodes, rule), f"{rule!r} has both a builder method and nodes.built_from"
