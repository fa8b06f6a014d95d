"""The 2-D shape layers' tuple options (issue 23 item 2, with tuple parameters): UpSampling2D's `size`,
ZeroPadding2D's `padding` and Cropping2D's `cropping` as an int or (rows, columns), against Keras 3
(outputs and gradients), with the output sizes the checker folds from the tuples."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

import tfm  # noqa: E402
from support.layers import build_layer, compare, forward_and_grads  # noqa: E402

RNG = np.random.default_rng(2325)


@pytest.mark.parametrize("construct, keras_layer, out", [
    ("UpSampling2D((2, 3))", lambda: keras.layers.UpSampling2D((2, 3)), "8, 15"),
    ("UpSampling2D(size=3)", lambda: keras.layers.UpSampling2D(3), "12, 15"),
    ("ZeroPadding2D((1, 2))", lambda: keras.layers.ZeroPadding2D((1, 2)), "6, 9"),
    ("ZeroPadding2D(padding=[0, 3])", lambda: keras.layers.ZeroPadding2D((0, 3)), "4, 11"),
    ("Cropping2D((1, 2))", lambda: keras.layers.Cropping2D((1, 2)), "2, 1"),
    ("Cropping2D(cropping=1)", lambda: keras.layers.Cropping2D(1), "2, 3"),
])
def test_tuple_options_match_keras(tmp_path, construct, keras_layer, out):
    """The declared output size is the one the checker folds (a wrong one would not compile)."""
    m = build_layer(tmp_path, construct, f"x: f32[N, 4, 5, 2]) -> f32[N, {out}, 2]", "layer(x)")
    x = RNG.normal(size=(3, 4, 5, 2)).astype(np.float32)
    compare(forward_and_grads(m.f, [x], []), forward_and_grads(keras_layer(), [x], []))


def test_a_wrong_declared_size_is_a_check_error(tmp_path):
    source = tmp_path / "t.tfm"
    source.write_text("module M:\n    sub up = UpSampling2D((2, 3))\n\n"
                      "    fn f(x: f32[N, 4, 5, 2]) -> f32[N, 8, 10, 2]:\n        return up(x)\n")
    assert [d.message for d in tfm.check(source)] == [
        "output `output_0` is declared f32[N, 8, 10, 2], got f32[N, 8, 15, 2]"]


def test_named_dims_stay_expressions_of_the_items(tmp_path):
    m = build_layer(tmp_path, "UpSampling2D((2, 3))", "x: f32[N, H, W, 2]) -> f32[N, H * 2, W * 3, 2]", "layer(x)")
    assert m.f(tf.zeros([1, 3, 4, 2])).shape == (1, 6, 12, 2)
