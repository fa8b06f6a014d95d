"""Conditional variables (issue 23, `use_bias=False`): `if use_bias:` around `var` declarations makes
variables that exist only when a `bool` constructor parameter is true. A body reads them only under the
same condition; built without it, the module has no such variable (its `variables` are Keras' weights)."""

from __future__ import annotations

import numpy as np
import pytest

from support import diagnostics_of

LAYER = """\
module D(in_dim: int = ?, out_dim: int, use_bias: bool = True):
    var kernel: f32[in_dim, out_dim] = glorot_uniform(seed=1)
    if use_bias:
        var bias: f32[out_dim] = zeros()
        state seen: f32[] = 0.0

    fn call(x: f32[N, in_dim]) -> f32[N, out_dim]:
        y = x @ kernel
        if use_bias:
            y = y + bias
        return y

    fn call_expr(x: f32[N, in_dim]) -> f32[N, out_dim]:
        return x @ kernel + bias if use_bias else x @ kernel

    fn call_not(x: f32[N, in_dim]) -> f32[N, out_dim]:
        if not use_bias:
            return x @ kernel
        else:
            seen.assign_add(1.0)
            return x @ kernel + bias
"""


def _errors(text: str) -> list[tuple[str, int, str]]:
    return [(d.code, d.span.line, d.message) for d in diagnostics_of(text, analyze_only=True) if d.severity == "error"]


def test_reads_under_the_condition_are_accepted():
    assert _errors(LAYER) == []


@pytest.mark.parametrize("body", ["return x @ kernel + bias",
                                  "if use_bias and True:\n            return x @ kernel + bias\n        return x @ kernel",
                                  "if not use_bias:\n            return x @ kernel + bias\n        return x @ kernel"])
def test_a_read_outside_the_condition_is_refused(body):
    text = LAYER + f"\n    fn bad(x: f32[N, in_dim]) -> f32[N, out_dim]:\n        {body}\n"
    errors = _errors(text)
    assert [(code, message) for code, _, message in errors] == [
        ("E047", "`bias` exists only when `use_bias` is true (it is declared under `if use_bias:`)")]
    assert errors[0][1] == 24 + ("\n" in body)  # the line that reads it


@pytest.mark.parametrize("header, message", [
    ("flag: int = 1", "`if flag:` around variables: `flag` is a parameter of another type"),
    ("other: bool = True", "`if flag:` around variables: `flag` is not a constructor parameter"),
])
def test_the_condition_is_a_bool_parameter(header, message):
    text = f"module A({header}):\n    if flag:\n        var w: f32[2] = zeros()\n"
    assert _errors(text) == [("E022", 2, message)]


@pytest.mark.parametrize("use_bias", [True, False])
def test_built_without_the_condition_the_variable_does_not_exist(tmp_path, use_bias):
    tf = pytest.importorskip("tensorflow")
    import tfm

    source = tmp_path / "d.tfm"
    source.write_text(LAYER)
    layer = tfm.load(source).D(in_dim=2, out_dim=3, use_bias=use_bias)
    names = sorted(v.name for v in layer.variables)
    assert names == (["d/bias:0", "d/kernel:0", "d/seen:0"] if use_bias else ["d/kernel:0"])
    assert [v.name for v in layer.trainable_variables] == (["d/bias:0", "d/kernel:0"] if use_bias else ["d/kernel:0"])
    if use_bias:
        layer.bias.assign([1.0, 2.0, 3.0])
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 2)).astype(np.float32))
    expected = x @ layer.kernel + (layer.bias if use_bias else 0.0)
    for method in (layer.call, layer.call_expr, layer.call_not):
        np.testing.assert_allclose(method(x).numpy(), expected.numpy(), rtol=1e-6)
    assert (layer.bias is not None) == use_bias


def test_a_holder_reads_a_submodule_variable_only_where_it_is_built():
    text = LAYER + ("\nmodule M:\n    sub plain = D(2, 3, use_bias=False)\n    sub biased = D(2, 3)\n\n"
                    "    fn f(x: f32[N, 2]) -> f32[N, 3]:\n        return plain(x) + plain.bias + biased.bias\n")
    assert [(code, message) for code, _, message in _errors(text)] == [
        ("E047", "`plain.bias` does not exist: `plain` is built with `use_bias` false")]
