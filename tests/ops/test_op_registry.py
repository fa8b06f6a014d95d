"""The op registry (`dsl/ops/`): each op declared once, held to TensorFlow's real signatures and to the
runtime helpers it lowers to, and everything that lists ops (the docs' table, the operators) read from it."""

from __future__ import annotations

import ast
import inspect
import json
import re

import pytest

from support import ROOT
from tfm import compile_text
from tfm.dsl import ops as registry
from tfm.dsl.ops import DTYPES, INITIALIZERS, OPS, RuleContext
from tfm.dsl.ops.operators import COMPARISONS, OPERATOR_OPS, type_operator
from tfm.dsl.tensor_types import TensorT
from tfm.generate.helpers import definitions

LANGUAGE_DOC = ROOT / "docs" / "language.md"


def _table(heading: str, first_header: str) -> list[list[str]]:
    """The rows (cells) of the Markdown table in `heading`'s section whose first header cell is `first_header`."""
    section = LANGUAGE_DOC.read_text(encoding="utf-8").split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for line in section.splitlines()]
    start = next(k for k, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _named(cell: str) -> list[str]:
    """The op names a cell lists: the words of its first code span (a call `f(...)` counts as `f`);
    later spans are notes."""
    return cell.split("`")[1].split("(")[0].split()


def test_docs_op_table_is_the_registry():
    """Each row of the docs' op table is one category of the registry and lists exactly its ops: a name
    deleted from (or added to) a row, or a new op not in the table, fails here."""
    rows = {category: _named(ops) for category, ops in _table("Ops", "category")}
    listed = [name for names in rows.values() for name in names]
    assert len(listed) == len(set(listed)), "an op is listed twice"
    by_category: dict[str, set[str]] = {}
    for op in OPS.values():
        by_category.setdefault(op.category, set()).add(op.name)
    assert {category: set(names) for category, names in rows.items()} == by_category, "run: python -m tfm.derived"


def test_docs_initializer_table_is_the_registry():
    """The initializer table names every initializer, with the registry's defaults."""
    shown: dict[str, str] = {}
    for cell, _value in _table("Variables", "initializer"):
        for span in re.findall(r"`([^`]*)`", cell):
            name, _, params = span.partition("(")
            shown[name] = params.rstrip(")")
    assert set(shown) == set(INITIALIZERS)
    for name, params in shown.items():
        declared = ", ".join(p.name if p.required else f"{p.name}={p.default!r}" for p in INITIALIZERS[name].params)
        assert params in ("", declared), (name, params, declared)


def _runtime_parameters(helper: str) -> tuple[list[str], int]:
    """(parameter names, how many have defaults) of a runtime helper, read from runtime.py's text."""
    function = ast.parse(definitions()[helper].text).body[0]
    assert isinstance(function, ast.FunctionDef), helper
    return [arg.arg for arg in function.args.args], len(function.args.defaults)


@pytest.mark.parametrize("entry", [*(op for op in OPS.values() if op.helper), *INITIALIZERS.values()],
                         ids=lambda op: f"{op.category}:{op.name}")
def test_helpers_take_the_entrys_parameters_and_declare_no_defaults(entry):
    """An op or initializer lowered to a runtime helper: the helper takes the entry's parameters in
    order and declares no default, since the generator passes every default from the entry (the one
    place a default is written)."""
    names, defaults = _runtime_parameters(entry.helper)
    if entry.category == "initializer":
        assert names[:2] == ["shape", "dtype"], entry.helper
        names = names[2:]
    if "random" in entry.effects:  # a random op's helper draws from the module's random state, passed first
        assert names[0] == "random", entry.helper
        names = names[1:]
    assert names == [p.name for p in entry.params], entry.name
    assert defaults == 0, entry.helper


def test_generated_calls_pass_each_helper_default_from_the_entry():
    source = ("module M(seed: int = 3):\n    var w: f32[2, 2] = uniform(maxval=0.5, seed=seed)\n\n"
              "    fn f(x: f32[4, 3]) -> f32[4, 2]:\n        return top_k(x, k=2)\n")
    python = compile_text(source, "m.tfm").python
    assert "_init_uniform([2, 2], tf.float32, maxval=0.5, seed=seed, minval=-0.05)" in python
    assert "_top_k_values(x, k=2)" in python


def _tensorflow_callable(lowering: str):
    tf = pytest.importorskip("tensorflow")
    target = tf
    for part in lowering.removeprefix("tf.").split("."):
        target = getattr(target, part)
    return target


def test_every_lowering_exists_in_tensorflow():
    for op in OPS.values():
        if not op.helper:
            assert callable(_tensorflow_callable(op.lowering)), op.name


@pytest.mark.parametrize("entry", [op for op in OPS.values() if not op.helper and not op.variadic],
                         ids=lambda op: op.name)
def test_parameters_and_defaults_are_tensorflows(entry):
    """Every parameter an entry passes exists in TensorFlow's function under that name, at that position
    when passed by position; every default is TensorFlow's own unless marked a tfm default (which the
    generator always passes: TensorFlow requires it)."""
    target = _tensorflow_callable(entry.lowering)
    target = target.__init__ if isinstance(target, type) else target
    signature = inspect.signature(target).parameters
    positions = [name for name in signature if name != "self"]
    by_keyword = False
    for position, param in enumerate(entry.params):
        name = entry.keyword(param.name) or param.name
        assert name in signature, (entry.name, param.name)
        # passed by position until the first parameter declared as passed by keyword
        by_keyword = by_keyword or entry.keyword(param.name) is not None
        assert by_keyword or positions[position] == param.name, (entry.name, param.name, positions)
        if param.required or param.name in entry.tfm_defaults or param.kind == "dtype" and param.default is None:
            continue  # a dtype left out is TensorFlow's default dtype, which the type rules know
        assert signature[name].default == param.default, (entry.name, param.name)


def test_each_op_is_declared_once_beside_its_type_rule():
    """An entry's type rule is a function of its own family file or of the shared result_typing module."""
    families = registry._FAMILIES
    assert sum(len(family.OPS) for family in families) == len(OPS)
    for family in families:
        for entry in family.OPS:
            assert OPS[entry.name] is entry
            if entry.type_rule is not None:
                assert entry.type_rule.__module__ in (family.__name__, "tfm.dsl.ops.result_typing"), entry.name


def _rule_result(entry, operands: tuple[TensorT, ...]) -> tuple[object, list]:
    """The entry's result for tensor arguments, and its problems (a dtype without a kernel is one)."""
    problems: list = []
    bound = {param.name: (value, None) for param, value in zip(entry.params, operands)}
    for name, (value, _) in bound.items():
        allowed = entry.kernel_dtypes.get(name)
        if allowed is not None and value.dtype not in allowed:
            problems.append("E055")
    context = RuleContext(None, entry, bound, types={}, params=(), reporter=lambda *a: problems.append(a[0]))
    return entry.type_rule(context), problems


@pytest.mark.parametrize("symbol", sorted(OPERATOR_OPS))
def test_operators_are_typed_as_the_ops_they_lower_to(symbol):
    """`x + y` is `add(x, y)`: for tensors of every dtype, accepted by both or refused by both, and
    of the same type when accepted (so `/` of integers is f64 both ways)."""
    entry = OPERATOR_OPS[symbol]
    shapes = ((3, 3), (3, 3)) if symbol == "@" else ((2, 3), (2, 3))
    for dtype in DTYPES:
        operands = tuple(TensorT(dtype, shape) for shape in shapes)[:1 if symbol == "neg" else 2]
        problems: list = []
        result = type_operator("-" if symbol == "neg" else symbol, operands, None,
                               lambda *a: problems.append(a[0]))
        expected, refused = _rule_result(entry, operands)
        assert bool(problems) == bool(refused), (symbol, dtype, problems, refused)
        if not problems:
            assert result == expected, (symbol, dtype, result, expected)
            assert result.dtype == "bool" if symbol in COMPARISONS else True


def test_operator_symbols_are_the_grammars():
    grammar = (ROOT / "grammar" / "tfm.lark").read_text(encoding="utf-8")
    for symbol in OPERATOR_OPS:
        assert symbol == "neg" or f'"{symbol}"' in grammar, symbol


def test_highlighters_name_every_op_from_the_registry():
    """The Pygments lexer reads the registry; the committed TextMate grammar is generated from it."""
    from tfm.highlight import builtin_names, textmate_grammar

    assert set(builtin_names()["ops"]) == set(OPS) | set(INITIALIZERS)
    committed = json.loads((ROOT / "editors" / "tfm.tmLanguage.json").read_text(encoding="utf-8"))
    assert committed == textmate_grammar(), \
        "the registry changed: regenerate with `python -m tfm.highlight --textmate editors/tfm.tmLanguage.json`"
