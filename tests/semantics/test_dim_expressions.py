"""Dimensions written as expressions of `int` parameters and named dims (issue 22, shapes): typed,
folded where their names are known, equal expressions unified, misuse located; and, run, the sizes
they compute."""

from __future__ import annotations

import numpy as np
import pytest

from support import diagnostics_of
from tfm.dsl import analyze
from tfm.dsl.tensor_types import DimExpr, dim_binary, substitute

BLOCK = """\
module Block(k: int, g: int = 2):
    var w: f32[4 * 4 * g, 3] = zeros()

    fn crop(x: f32[N, T]) -> f32[N, T - k + 1]:
        return x[:, k - 1:]

    fn half(x: f32[N, 2 * D]) -> f32[N, D]:
        return x[:, 0::2]

    fn flat(x: f32[N, 4, 4, g]) -> f32[N, 3]:
        return reshape(x, [-1, 4 * 4 * g]) @ w

"""


def _errors(text: str) -> list[tuple[str, int, str]]:
    return [(d.code, d.span.line, d.message) for d in diagnostics_of(text, analyze_only=True) if d.severity == "error"]


def test_expressions_fold_and_equal_ones_are_equal():
    assert dim_binary("*", dim_binary("*", 4, 4), "g") == DimExpr("*", 16, "g")
    assert dim_binary("*", dim_binary("*", "g", 4), 4) == DimExpr("*", 16, "g")  # g * 4 * 4 is 16 * g
    assert dim_binary("+", dim_binary("-", "T", "k"), 1) == dim_binary("+", dim_binary("-", "T", "k"), 1)
    assert dim_binary("*", "g", 1) == "g" and dim_binary("-", "T", 0) == "T"
    assert dim_binary("//", "H", None) is None
    assert str(dim_binary("+", dim_binary("-", "T", "k"), 1)) == "T - k + 1"
    assert str(dim_binary("*", 2, dim_binary("+", "n", 1))) == "2 * (n + 1)"
    assert substitute(dim_binary("+", dim_binary("-", "T", "k"), 1), {"T": 10, "k": 3}.get) == 8


def test_a_call_folds_the_callees_expressions_at_its_arguments():
    text = BLOCK + """\
module Top:
    sub b = Block(3, g=8)

    fn f(x: f32[5, 10], y: f32[5, 12], z: f32[5, 4, 4, 8]) -> f32[5, 8]:
        c = b.crop(x)
        h = b.half(y)
        return c + b.flat(z)[:, 0:1] + concat([h, h], axis=1)[:, 0:8]
"""
    analysis = analyze(text, "p.tfm")
    calls = {node.span.line: str(analysis.types[node.value]) for method in analysis.modules["Top"].decl.methods
             for node in method.body if hasattr(node, "target")}
    assert calls == {17: "f32[5, 8]", 18: "f32[5, 6]"}
    assert _errors(text) == []


def test_sizes_that_do_not_fit_an_expression_are_check_errors_naming_both():
    errors = _errors(BLOCK + """\
module Top:
    sub b = Block(3)

    fn f(x: f32[5, 7], y: f32[5, 10]) -> f32[5, 9]:
        h = b.half(x)
        return b.crop(y)
""")
    assert [(code, line) for code, line, _ in errors] == [("E050", 17), ("E032", 18)]
    assert "f32[N, 2 * D]" in errors[0][2] and "f32[5, 7]" in errors[0][2]
    assert "f32[5, 9]" in errors[1][2] and "f32[5, 8]" in errors[1][2]


def test_equal_expressions_unify_in_a_body():
    assert _errors("""\
module M(g: int = 2):
    fn f(x: f32[N, 2 * g], y: f32[N, 2 * g]) -> f32[N, 2 * g]:
        return x + y
""") == []
    errors = _errors("""\
module M:
    fn f(x: f32[N, 2 * D], y: f32[N, D + 1]) -> f32[N, 2 * D]:
        z: f32[N, 2 * D] = x
        return z
""")
    assert errors == []


@pytest.mark.parametrize("dims, message", [
    ("n / 2", "`/` does not compute a dimension"),
    ("n - n - 1 + 1 - 1", None),  # n - n is not folded (n is unknown): left to the built module
    ("2 - 3", "dimension `2 - 3` is -1"),
    ("n // 0", "`n // 0` divides by zero"),
    ("M + 1", "dimension `M` is not a constructor parameter"),
    ("s * 2", "dimension `s` is a `str` parameter"),
])
def test_misused_expressions_are_located(dims, message):
    errors = _errors(f'module M(n: int = 2, s: str = "a"):\n    var w: f32[{dims}] = zeros()\n\n'
                     "    fn f() -> f32[]:\n        return reduce_sum(w)\n")
    assert [m for _, _, m in errors] == ([message] if message else [])


def test_the_built_module_has_the_computed_sizes(tmp_path):
    import tfm

    source = tmp_path / "block.tfm"
    source.write_text(BLOCK)
    block = tfm.load(source).Block(3, g=8)
    assert block.w.shape == (128, 3)
    spec = block.flat.input_signature[0]
    assert spec.shape.as_list() == [None, 4, 4, 8]
    x = np.arange(20, dtype=np.float32).reshape(2, 10)
    np.testing.assert_array_equal(block.crop(x).numpy(), x[:, 2:])
    assert block.crop(x).shape == (2, 8)
    with pytest.raises(ValueError, match=r"dimension 4 \* 4 \* g|constructor parameter g"):
        tfm.load(source).Block(3, g=0)


def test_a_computed_size_below_one_is_refused_when_the_module_is_built(tmp_path):
    import tfm

    source = tmp_path / "window.tfm"
    source.write_text("module Window(n: int = 5, k: int = 3):\n    var w: f32[n - k + 1] = ones()\n\n"
                      "    fn f() -> f32[]:\n        return reduce_sum(w)\n")
    module = tfm.load(source)
    assert module.Window().w.shape == (3,)
    with pytest.raises(ValueError, match=r"dimension n - k \+ 1 is 0 for these constructor parameters"):
        module.Window(n=2)


def test_generated_signatures_and_shapes_write_the_expressions_as_python(tmp_path):
    import tfm
    from tfm import compile_text

    text = ("module Window(t: int = 10, k: int = 3):\n    var w: f32[t - (k - 1), 2] = ones()\n\n"
            "    fn f(x: f32[N, t - k + 1]) -> f32[N, 2]:\n        return x @ w[0:t - k + 1, :]\n")
    python = compile_text(text, "window.tfm").python
    assert "shape=[None, t - k + 1]" in python
    assert "_dimension_of('t - (k - 1)', t - (k - 1))" in python
    source = tmp_path / "window.tfm"
    source.write_text(text)
    window = tfm.load(source).Window(t=12, k=5)
    assert window.w.shape == (8, 2) and window.f.input_signature[0].shape.as_list() == [None, 8]
