"""Reshape, Permute and Resizing (dsl/library/reshaping.tfm) against Keras 3's layers of the same name, and
`resize` with sizes from parameters and dim expressions against tf.image.resize: the same outputs and
gradients for the input, and the output type the checker computes at each call is the one TensorFlow gives
(declaring Keras' exact output type checks)."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

import tfm  # noqa: E402

from support.layers import compare, forward_and_grads  # noqa: E402

pytestmark = pytest.mark.kernels

RNG = np.random.default_rng(23)

# (tfm construction, Keras layer, input shape)
CASES = [
    ("Reshape((12,))", lambda: keras.layers.Reshape((12,)), (2, 3, 4)),
    ("Reshape((4, 3))", lambda: keras.layers.Reshape((4, 3)), (2, 3, 4)),
    ("Reshape([2, 3, 2])", lambda: keras.layers.Reshape((2, 3, 2)), (2, 3, 4)),
    ("Reshape((-1, 2))", lambda: keras.layers.Reshape((-1, 2)), (2, 3, 4)),
    ("Reshape((3, -1))", lambda: keras.layers.Reshape((3, -1)), (2, 2, 3, 4)),
    ("Permute((2, 1))", lambda: keras.layers.Permute((2, 1)), (2, 3, 4)),
    ("Permute((1, 2))", lambda: keras.layers.Permute((1, 2)), (2, 3, 4)),
    ("Permute((3, 1, 2))", lambda: keras.layers.Permute((3, 1, 2)), (2, 3, 4, 5)),
    ("Permute((2, 3, 1))", lambda: keras.layers.Permute((2, 3, 1)), (2, 3, 4, 5)),
    ("UpSampling2D((2, 3), interpolation=\"bilinear\")",
     lambda: keras.layers.UpSampling2D((2, 3), interpolation="bilinear"), (2, 3, 4, 2)),
    ("UpSampling2D(2, interpolation=\"bicubic\")", lambda: keras.layers.UpSampling2D(2, interpolation="bicubic"),
     (2, 3, 4, 2)),
    ("Resizing(6, 10)", lambda: keras.layers.Resizing(6, 10), (2, 3, 5, 2)),
    ("Resizing(2, 3)", lambda: keras.layers.Resizing(2, 3), (2, 5, 7, 3)),
    ("Resizing(6, 10, interpolation=\"nearest\")", lambda: keras.layers.Resizing(6, 10, interpolation="nearest"),
     (2, 3, 5, 2)),
    ("Resizing(7, 4, interpolation=\"bicubic\")", lambda: keras.layers.Resizing(7, 4, interpolation="bicubic"),
     (2, 3, 5, 2)),
]


def _type(shape) -> str:
    return f"f32[{', '.join(str(d) for d in shape)}]"


@pytest.mark.parametrize("construct, keras_layer, shape", CASES, ids=[f"{c[0]}-{len(c[2])}d" for c in CASES])
def test_layer_matches_keras_and_its_checked_type(tmp_path, construct, keras_layer, shape):
    theirs = keras_layer()
    expected = tuple(theirs.compute_output_shape(shape))
    source = tmp_path / "layer.tfm"
    source.write_text(f"module M:\n    sub layer = {construct}\n\n"
                      f"    fn f(x: {_type(shape)}) -> {_type(expected)}:\n        return layer(x)\n")
    assert tfm.check(source) == []
    model = tfm.load(source).M()
    x = RNG.normal(size=shape).astype(np.float32)
    ours = forward_and_grads(model.f, [x], [])
    assert ours[0].shape == expected
    compare(ours, forward_and_grads(theirs, [x], []), atol=1e-5)


def test_area_resizing_matches_keras_forward(tmp_path):
    """"area" has no gradient in TensorFlow (nor in Keras, which calls the same op): outputs only."""
    source = tmp_path / "area.tfm"
    source.write_text("module M:\n    sub layer = Resizing(2, 3, interpolation=\"area\")\n\n"
                      "    fn f(x: f32[2, 5, 7, 3]) -> f32[2, 2, 3, 3]:\n        return layer(x)\n")
    assert tfm.check(source) == []
    x = RNG.normal(size=(2, 5, 7, 3)).astype(np.float32)
    ours = tfm.load(source).M().f(tf.constant(x)).numpy()
    np.testing.assert_allclose(ours, keras.layers.Resizing(2, 3, interpolation="area")(x).numpy(), rtol=1e-5, atol=1e-6)


def test_the_batch_stays_a_named_dim(tmp_path):
    """A call with a named batch is typed with it: [B, 3, 4] reshaped to (-1, 2) is [B, 6, 2]."""
    source = tmp_path / "named.tfm"
    source.write_text("module M:\n    sub r = Reshape((-1, 2))\n    sub p = Permute((2, 1))\n\n"
                      "    fn f(x: f32[B, 3, 4]) -> f32[B, 2, 6]:\n        return p(r(x))\n")
    assert tfm.check(source) == []
    x = RNG.normal(size=(5, 3, 4)).astype(np.float32)
    out = tfm.load(source).M().f(tf.constant(x)).numpy()
    np.testing.assert_array_equal(out, np.transpose(x.reshape(5, 6, 2), (0, 2, 1)))


RESIZE_MODULE = """
module Up(factor: int = 2):
    fn call(x: f32[N, H, W, C]) -> f32[N, H * factor, W * factor, C]:
        return resize(x, [shape(x)[1] * factor, shape(x)[2] * factor])

module Scaled(size: int[2]):
    fn call(x: f32[N, H, W, C]) -> f32[N, size[0], size[1], C]:
        return resize(x, size, method="nearest")

module M:
    sub up = Up(3)
    sub scaled = Scaled((4, 9))

    fn twice(x: f32[N, 3, 5, 2]) -> f32[N, 6, 10, 2]:
        return resize(x, [shape(x)[1] * 2, shape(x)[2] * 2], method="bicubic")

    fn thrice(x: f32[N, 3, 5, 2]) -> f32[N, 9, 15, 2]:
        return up(x)

    fn to_size(x: f32[N, 3, 5, 2]) -> f32[N, 4, 9, 2]:
        return scaled(x)
"""


def test_resize_sizes_from_dim_expressions_and_parameters(tmp_path):
    """Sizes from `shape(x)[1] * 2`, an int parameter times a dim, and a tuple parameter: typed statically
    (the declared outputs check) and equal to tf.image.resize's."""
    source = tmp_path / "resize.tfm"
    source.write_text(RESIZE_MODULE)
    assert tfm.check(source) == []
    model = tfm.load(source).M()
    x = RNG.normal(size=(2, 3, 5, 2)).astype(np.float32)
    for call, size, method in ((model.twice, (6, 10), "bicubic"), (model.thrice, (9, 15), "bilinear"),
                               (model.to_size, (4, 9), "nearest")):
        ours = forward_and_grads(call, [x], [])
        compare(ours, forward_and_grads(lambda t, s=size, m=method: tf.image.resize(t, s, method=m), [x], []),
                atol=1e-5)


def test_the_generated_constructor_takes_a_tuple_of_any_length_and_refuses_an_int(tmp_path):
    source = tmp_path / "tuple.tfm"
    source.write_text("module M(target_shape: int[...]):\n    fn f(x: f32[N, 6]) -> f32:\n"
                      "        return reshape(x, concat([shape(x)[:1], target_shape], 0))\n")
    assert tfm.check(source) == []
    M = tfm.load(source).M
    assert M(target_shape=[2, 3]).target_shape == (2, 3)
    assert M(target_shape=(3, 1, 2)).f(tf.zeros((4, 6))).shape == (4, 3, 1, 2)
    for wrong in (6, (2, 3.0), "23", (True, 6)):
        with pytest.raises(ValueError, match="must be a tuple of ints"):
            M(target_shape=wrong)


def test_the_layers_export_to_savedmodel_and_run_in_litert(tmp_path, capsys):
    """The calls typed per instance trace to builtin TFLite ops: the export verifies both files, LiteRT's
    run included."""
    from tfm.cli import main

    source = tmp_path / "shapes.tfm"
    source.write_text("module Shapes:\n    sub tokens = Reshape((-1, 4))\n    sub swap = Permute((2, 1))\n"
                      "    sub small = Resizing(4, 6)\n\n"
                      "    fn call(x: f32[N, 8, 8, 2]) -> f32[N, 4, 12]:\n        return swap(tokens(small(x)))\n")
    code = main(["export", str(source), "--module", "Shapes", "--out", str(tmp_path / "m"),
                 "--tflite", str(tmp_path / "m.tflite")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "verified" in out and "ran every signature in LiteRT" in out


def test_a_method_of_any_rank_output_exports(tmp_path, capsys):
    """A served method declared `-> f32` (any rank) has an output contract of any rank: the export
    verifies it against the traced rank-4 output instead of refusing it as rank 0."""
    from tfm.cli import main

    source = tmp_path / "heads.tfm"
    source.write_text("module Heads(split: int[...] = (2, -1)):\n    fn call(x: f32[N, 6, 8]) -> f32:\n"
                      "        return reshape(x, concat([shape(x)[:2], split], 0))\n")
    code = main(["export", str(source), "--module", "Heads", "--out", str(tmp_path / "m")])
    out = capsys.readouterr().out
    assert code == 0, out
    loaded = tf.saved_model.load(str(tmp_path / "m"))
    result = loaded.signatures["serving_default"](x=tf.ones((3, 6, 8)))
    assert next(iter(result.values())).shape == (3, 6, 2, 4)
