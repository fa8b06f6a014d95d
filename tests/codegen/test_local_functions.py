"""Local functions (`fn` inside a method): checked and typed as methods are, generated as nested Python
functions that AutoGraph converts with their method (a tensor `if` inside one becomes a tf.cond), and
giving what the same functions written by hand in TensorFlow give, forward and gradients."""

from __future__ import annotations

import numpy as np
import pytest

import tfm

tf = pytest.importorskip("tensorflow")

SOURCE = """\
module P(scale: float = 2.0):
    var w: f32[3] = ones()

    fn f(x: f32[N, 3]) -> f32[N, 3]:
        fn sq(v: f32[N, 3]) -> f32[N, 3]:
            return v * v * scale

        fn twice(v: f32[N, 3]) -> f32[N, 3]:
            if reduce_sum(v) > 0.0:
                return sq(v) + w
            return sq(v) - w

        y = twice(x)
        return twice(y) + sq(x)

    fn g(x: f32[N, 3]) -> (total: f32[N], top: f32[N]):
        fn stats(v: f32[N, 3]) -> (s: f32[N], m: f32[N]):
            return reduce_sum(v, axis=1), reduce_max(v, axis=1)
        s, m = stats(x * w)
        return s, m
"""


def _by_hand(x, w, scale=2.0):
    def sq(v):
        return v * v * scale

    def twice(v):
        return tf.cond(tf.reduce_sum(v) > 0.0, lambda: sq(v) + w, lambda: sq(v) - w)

    return twice(twice(x)) + sq(x)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    path = tmp_path_factory.mktemp("local") / "local.tfm"
    path.write_text(SOURCE)
    return path


def test_generated_as_nested_functions_autograph_converts(compiled):
    python = tfm.compile_file(compiled).python
    assert "            def sq(v):  # local.tfm:5:9" in python
    assert "            def twice(v):  # local.tfm:8:9" in python
    model = tfm.load(compiled).P()
    converted = tf.autograph.to_code(model.f.python_function)
    assert "def twice(v):" in converted and "ag__.if_stmt" in converted  # the tensor `if` is a tf.cond


@pytest.mark.parametrize("rows", [[[1.0, 2.0, 3.0], [-4.0, -5.0, -6.0]], [[0.5, -0.25, 2.0]], [[-1.0, -1.0, -1.0]]])
def test_forward_and_gradients_match_tensorflow_by_hand(compiled, rows):
    model = tfm.load(compiled).P()
    x = tf.constant(np.array(rows, np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = model.f(x)
        theirs = _by_hand(x, model.w)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    for a, b in zip(tape.gradient(ours, [x, model.w]), tape.gradient(theirs, [x, model.w])):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_several_results_of_a_local_function_unpack(compiled):
    model = tfm.load(compiled).P()
    x = np.array([[1.0, 5.0, 3.0], [-4.0, -5.0, -6.0]], np.float32)
    out = model.g(x)
    np.testing.assert_allclose(out["total"].numpy(), x.sum(axis=1))
    np.testing.assert_allclose(out["top"].numpy(), x.max(axis=1))


def test_a_module_with_local_functions_exports(compiled, tmp_path):
    tfm.export(compiled, "P", tmp_path / "saved", signatures=["f"])
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    x = np.array([[1.0, 2.0, 3.0]], np.float32)
    np.testing.assert_allclose(loaded.signatures["serving_default"](x=tf.constant(x))["output_0"].numpy(),
                               tfm.load(compiled).P().f(x).numpy(), rtol=1e-6)
