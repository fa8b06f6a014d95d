"""The parser (dsl/lark_parser.py, dsl/node_builder.py): Lark's LALR parser used through its public
API only, each node with the span of the text it was parsed from; the analysed grammar cached in
tfm's private cache, checked before it is loaded, and made again when it is not whole."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import os
import random

import pytest

import lark
from tfm.dsl import TfmError
from tfm.dsl import lark_parser as lark_parsing
from tfm.dsl import nodes as n
from tfm.dsl import parser as parsing
from tfm.dsl.node_builder import ToNodes
from support import DIAGNOSTICS, EXAMPLES, ROOT
from support.fuzzing import ProgramGenerator, WellTypedGenerator

PROGRAM = """import blocks
module M(n: int = 2):
    var w: f32[n] = zeros()
    fn f(x: f32[N], y: f32[N]) -> f32[N]:
        z = (x + y) * w[0:n]
        if x[0] > 0.0:
            z = -z
        elif y[0] < 1.0 and not (y[0] > 2.0):
            z[0] = z[0] ** 2.0
        else:
            z = f(x, y=y)
        return z
    state s: f32[] = 0.0
"""

# Every node of PROGRAM, depth first: (type, line, column, end line, end column), as the parser made
# them before it ran on Lark's public API (the table driver and Lark's own callbacks agreed on them).
PROGRAM_SPANS = [
    ('Program', 1, 1, 14, 1),
    ('ModuleDef', 2, 1, 14, 1),
    ('ModuleParam', 2, 10, 2, 20),
    ('TensorType', 2, 13, 2, 16),
    ('IntLit', 2, 19, 2, 20),
    ('VarDecl', 3, 5, 4, 5),
    ('TensorType', 3, 12, 3, 18),
    ('Dim', 3, 16, 3, 17),
    ('Call', 3, 21, 3, 28),
    ('Name', 3, 21, 3, 26),
    ('Method', 4, 5, 13, 5),
    ('MethodInput', 4, 10, 4, 19),
    ('TensorType', 4, 13, 4, 19),
    ('Dim', 4, 17, 4, 18),
    ('MethodInput', 4, 21, 4, 30),
    ('TensorType', 4, 24, 4, 30),
    ('Dim', 4, 28, 4, 29),
    ('TensorType', 4, 35, 4, 41),
    ('Dim', 4, 39, 4, 40),
    ('Assign', 5, 9, 5, 29),
    ('BinOp', 5, 14, 5, 29),
    ('BinOp', 5, 14, 5, 19),
    ('Name', 5, 14, 5, 15),
    ('Name', 5, 18, 5, 19),
    ('Subscript', 5, 23, 5, 29),
    ('Name', 5, 23, 5, 24),
    ('Slice', 5, 25, 5, 28),
    ('IntLit', 5, 25, 5, 26),
    ('Name', 5, 27, 5, 28),
    ('If', 6, 9, 12, 9),
    ('Compare', 6, 12, 6, 22),
    ('Subscript', 6, 12, 6, 16),
    ('Name', 6, 12, 6, 13),
    ('IntLit', 6, 14, 6, 15),
    ('FloatLit', 6, 19, 6, 22),
    ('Assign', 7, 13, 7, 19),
    ('UnaryOp', 7, 17, 7, 19),
    ('Name', 7, 18, 7, 19),
    ('If', 8, 9, 10, 9),
    ('BoolOp', 8, 14, 8, 45),
    ('Compare', 8, 14, 8, 24),
    ('Subscript', 8, 14, 8, 18),
    ('Name', 8, 14, 8, 15),
    ('IntLit', 8, 16, 8, 17),
    ('FloatLit', 8, 21, 8, 24),
    ('UnaryOp', 8, 29, 8, 45),
    ('Compare', 8, 34, 8, 44),
    ('Subscript', 8, 34, 8, 38),
    ('Name', 8, 34, 8, 35),
    ('IntLit', 8, 36, 8, 37),
    ('FloatLit', 8, 41, 8, 44),
    ('ItemAssign', 9, 13, 9, 31),
    ('Subscript', 9, 13, 9, 17),
    ('Name', 9, 13, 9, 14),
    ('IntLit', 9, 15, 9, 16),
    ('BinOp', 9, 20, 9, 31),
    ('Subscript', 9, 20, 9, 24),
    ('Name', 9, 20, 9, 21),
    ('IntLit', 9, 22, 9, 23),
    ('FloatLit', 9, 28, 9, 31),
    ('Assign', 11, 13, 11, 26),
    ('Call', 11, 17, 11, 26),
    ('Name', 11, 17, 11, 18),
    ('Name', 11, 19, 11, 20),
    ('Keyword', 11, 22, 11, 25),
    ('Name', 11, 24, 11, 25),
    ('Return', 12, 9, 12, 17),
    ('Name', 12, 16, 12, 17),
    ('VarDecl', 13, 5, 14, 1),
    ('TensorType', 13, 14, 13, 19),
    ('FloatLit', 13, 22, 13, 25),
    ('Import', 1, 1, 2, 1),
]


def _walk(node: n.Node):
    yield node
    for child in _children(node):
        yield from _walk(child)


def _children(node: n.Node):
    for value in n.child_values(node):
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, n.Node):
                yield item


def _sources() -> list[str]:
    files = [*EXAMPLES.glob("*.tfm"), *(ROOT / "dsl" / "library").glob("*.tfm"),
             *DIAGNOSTICS.glob("*.tfm")]
    texts = [path.read_text(encoding="utf-8", errors="replace") for path in sorted(files)]
    for seed in range(40):
        rng = random.Random(seed)
        texts.append((ProgramGenerator(rng) if seed % 2 else WellTypedGenerator(rng)).program())
    return texts


def test_spans_are_those_of_the_rules_text():
    """Brackets around an expression belong to the rule that holds them; a block ends where the next
    line starts; a member's span takes in its line's end."""
    spans = [(type(node).__name__, node.span.line, node.span.column, node.span.end_line, node.span.end_column)
             for node in _walk(parsing.parse(PROGRAM, "p.tfm"))]
    assert spans == PROGRAM_SPANS


def test_nodes_are_frozen_slotted_and_equal_only_to_themselves():
    program = parsing.parse(PROGRAM, "p.tfm")
    for node in _walk(program):
        assert not hasattr(node, "__dict__"), type(node).__name__
        with pytest.raises(dataclasses.FrozenInstanceError):
            node.span = None
    first, second = (parsing.parse("module M:\n    var w: f32[] = 0.0\n", "p.tfm") for _ in range(2))
    assert first.modules[0] != second.modules[0] and first.modules[0].span == second.modules[0].span
    assert len({first.modules[0], second.modules[0]}) == 2


def test_declared_names_are_nodes_with_the_span_of_the_name():
    """Module, parameter, variable, submodule, method, input and output names each carry the span of
    the name as written (what a rename rewrites), not of the whole declaration."""
    text = PROGRAM.replace("    state s", "    sub b = Other(1)\n    fn g() -> (out: f32[]):\n        return 1.0\n"
                           "    state s") + "module Other(k: int):\n    var v: f32[] = 0.0\n"
    program = parsing.parse(text, "p.tfm")
    lines = parsing.normalize_text(text).split("\n")
    declared = [node for root in program.modules for node in _walk(root)
                if isinstance(node, (n.ModuleDef, n.ModuleParam, n.VarDecl, n.SubDecl, n.Method, n.MethodInput,
                                     n.NamedOutput))]
    found = []
    for node in declared:
        span = node.identifier.span
        assert span.line == span.end_line and span.file == "p.tfm"
        assert lines[span.line - 1][span.column - 1:span.end_column - 1] == node.name
        found.append((type(node).__name__, node.name, span.line, span.column))
    assert found == [("ModuleDef", "M", 2, 8), ("ModuleParam", "n", 2, 10), ("VarDecl", "w", 3, 9),
                     ("Method", "f", 4, 8), ("MethodInput", "x", 4, 10), ("MethodInput", "y", 4, 21),
                     ("SubDecl", "b", 13, 9), ("Method", "g", 14, 8), ("NamedOutput", "out", 14, 16),
                     ("VarDecl", "s", 16, 11), ("ModuleDef", "Other", 17, 8), ("ModuleParam", "k", 17, 14),
                     ("VarDecl", "v", 18, 9)]


def test_every_span_lies_in_its_source_and_in_its_parent():
    parsed = 0
    for text in _sources():
        try:
            program = parsing.parse(text, "p.tfm")
        except TfmError:
            continue
        parsed += 1
        lines = parsing.normalize_text(text).split("\n")
        end = (len(lines) + 1, 1)
        stack = [(program, ((1, 1), end))]
        while stack:
            node, (low, high) = stack.pop()
            start, stop = (node.span.line, node.span.column), (node.span.end_line, node.span.end_column)
            assert node.span.file == "p.tfm"
            assert low <= start <= stop <= high, f"{type(node).__name__} at {start}-{stop} outside {low}-{high}"
            stack.extend((child, (start, stop)) for child in _children(node))
    assert parsed > 100


@pytest.mark.parametrize("text", [
    "module M:\n    fn f(x: f32[]) -> f32[]:\n        y = -x if x > 0.0 else +x\n        return y - -x\n",
    "module M:\n    fn f(x: f32[]) -> f32[]:\n        return x\n    var w: f32[] = 1.0\n    state s: f32[] = 0.0\n",
    "module M:\n    fn f(var: f32[]) -> f32[]:\n        state = var @ var\n        return state\n",
    "module M:\n  fn f(x: f32[]) -> f32[]:\n\treturn (x +\n   x) \\\n + x  # c\n",
    "module M:\n    fn f(x: f32[]) -> f32[]:\n        return elsewhere(x) if notice else x\n",
])
def test_contextual_keywords_operators_and_layout(text):
    """A keyword only where the grammar takes one, `-` as binary or unary operator, `var`/`state` as
    names inside methods and as keywords after a method (the indenter's VAR_KIND rule), tabs,
    continuations and brackets across lines."""
    program = parsing.parse(text, "p.tfm")
    assert [type(member).__name__ for member in program.modules[0].members][:1] == ["Method"]


def test_var_and_state_after_a_method_are_declarations():
    text = "module M:\n    fn f(x: f32[]) -> f32[]:\n        return x\n    var w: f32[] = 1.0\n    state s: f32[] = 0.0\n"
    members = parsing.parse(text, "p.tfm").modules[0].members
    assert [(type(m).__name__, getattr(m, "trainable", None)) for m in members] == [
        ("Method", None), ("VarDecl", True), ("VarDecl", False)]


def test_a_syntax_error_is_reported_with_what_was_expected():
    with pytest.raises(TfmError) as raised:
        parsing.parse("module M:\n    fn f(x: f32[]) -> f32[]:\n        return x +\n", "bad.tfm")
    problem = raised.value.diagnostics[0]
    assert (problem.code, problem.span.line) == ("E001", 3) and "expected" in problem.message


def test_a_rule_s_check_is_reported_where_the_rule_is_parsed():
    """Nodes are built as their rules are reduced: a list where none is allowed, on line 1, is
    reported before the syntax error on line 2."""
    with pytest.raises(TfmError) as raised:
        parsing.parse("module M(a: list[f32[]]):\n    fn f( -> :\n", "bad.tfm")
    assert [(d.code, d.span.line) for d in raised.value.diagnostics][:1] == [("E017", 1)]


# --- Lark's public API only -------------------------------------------------------------------

_PUBLIC_LARK_MODULES = {"lark", "lark.exceptions", "lark.indenter", "lark.visitors", "lark.tree"}


def _project_files():
    for folder in ("dsl", "compiler", "grammar", "benchmarks", "tests"):
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_no_module_reads_lark_s_private_parts():
    """Lark's private attributes and modules (parse tables, tree builders, `parser._callbacks`) change
    between releases without notice: renaming one made every `tfm check` an internal error."""
    problems = []
    for path in _project_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        uses_lark = False
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "lark":
                        uses_lark = True
                        if alias.name not in _PUBLIC_LARK_MODULES:
                            problems.append(f"{path.name}: import {alias.name}")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "lark":
                uses_lark = True
                if node.module not in _PUBLIC_LARK_MODULES:
                    problems.append(f"{path.name}: from {node.module} import ...")
                problems += [f"{path.name}: {alias.name} from {node.module}" for alias in node.names
                             if alias.name.startswith("_")]
        if uses_lark:
            problems += [f"{path.name}:{node.lineno}: .{node.attr}" for node in ast.walk(tree)
                         if isinstance(node, ast.Attribute) and node.attr.startswith("_")
                         and not node.attr.startswith("__")
                         and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
                         and not (isinstance(node.value, ast.Name) and node.value.id in _OWN_MODULE_NAMES)]
    assert problems == []


_OWN_MODULE_NAMES = {"parsing", "lark_parsing"}  # this file's names for tfm's own modules


def test_tfm_s_lark_subclasses_override_no_private_method():
    for cls in (lark_parsing._TfmIndenter, ToNodes):
        private = [name for name, value in vars(cls).items()
                   if name.startswith("_") and not name.startswith("__") and callable(value)]
        lark_base = [base for base in cls.__mro__[1:] if base.__module__.startswith("lark")]
        assert [name for name in private if any(hasattr(base, name) for base in lark_base)] == [], cls


def test_lark_is_pinned_to_the_tested_range():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"lark>=1.3,<1.4"' in pyproject
    major, minor = (int(part) for part in lark.__version__.split(".")[:2])
    assert (1, 3) <= (major, minor) < (1, 4)  # 1.2 gives the dedents at the end of the text no position


# --- the grammar cache ------------------------------------------------------------------------


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh private cache directory, and a parser made anew from it (and again after the test)."""
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    monkeypatch.setenv("TFM_CACHE_DIR", str(directory))
    lark_parsing.forget_parsers()
    yield directory
    lark_parsing.forget_parsers()


def _cached_file(directory):
    files = list(directory.glob("grammar-*.cache"))
    assert len(files) == 1
    return files[0]


def _parses_the_example() -> bool:
    program = parsing.parse((EXAMPLES / "my_model.tfm").read_text(encoding="utf-8"), "my_model.tfm")
    return program.modules[0].name == "MyModel"


class _NoAnalysis(lark.Lark):
    """`Lark` that cannot analyse a grammar, only load one: proves the cache was used."""

    def __init__(self, *args, **kwargs):
        raise AssertionError("the grammar was analysed again: the cache was not used")


def test_the_cache_is_written_private_and_read_back(cache, monkeypatch):
    assert _parses_the_example()
    path = _cached_file(cache)
    assert path.stat().st_mode & 0o777 == 0o600 and _whole(path.read_bytes())
    lark_parsing.forget_parsers()
    monkeypatch.setattr(lark_parsing, "Lark", _NoAnalysis)
    assert _parses_the_example()


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "empty"])
def test_a_damaged_cache_file_is_made_again_never_loaded(cache, monkeypatch, damage):
    assert _parses_the_example()
    path = _cached_file(cache)
    good = path.read_bytes()
    bad = {"flip a byte": good[:-100] + bytes([good[-100] ^ 1]) + good[-99:],
           "truncate": good[: len(good) // 2], "empty": b""}[damage]
    path.write_bytes(bad)
    lark_parsing.forget_parsers()
    monkeypatch.setattr(lark.Lark, "load", classmethod(lambda cls, f: pytest.fail("a damaged file was loaded")))
    assert _parses_the_example()
    assert _whole(path.read_bytes()) and path.read_bytes() != bad, "the cache is written again, whole"


def _whole(data: bytes) -> bool:
    """The cache file's header: tfm's cache mark with the SHA-256 of the rest (dsl/cache.py)."""
    from tfm.dsl.cache import _unwrap

    return _unwrap(data) is not None


def test_a_cache_others_could_write_is_neither_read_nor_written(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("TFM_CACHE_DIR", str(shared))
    lark_parsing.forget_parsers()
    try:
        assert _parses_the_example()
        assert list(shared.iterdir()) == []
        private = tmp_path / "private"
        private.mkdir(mode=0o700)
        monkeypatch.setenv("TFM_CACHE_DIR", str(private))
        grammar = (ROOT / "grammar" / "tfm.lark").read_text(encoding="utf-8")
        planted = private / lark_parsing.cache_entry_name(grammar)
        planted.write_bytes(b"\x00garbage")  # not written by tfm (no checksummed header): never loaded
        os.chmod(planted, 0o666)
        lark_parsing.forget_parsers()
        monkeypatch.setattr(lark.Lark, "load", classmethod(lambda cls, f: pytest.fail("a foreign file was loaded")))
        assert _parses_the_example()
        assert _whole(planted.read_bytes()), "the entry is made again, whole and checksummed"
    finally:
        lark_parsing.forget_parsers()
