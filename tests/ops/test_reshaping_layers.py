"""The library's weightless layers (dsl/library/reshaping.tfm) against Keras 3's of the same name: the
same outputs and the same gradients with respect to the input, and the output sizes the checker
computes (dimension expressions of the input's and the constructor's) are the ones TensorFlow gives."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

import tfm  # noqa: E402

pytestmark = pytest.mark.kernels

RNG = np.random.default_rng(11)

# (tfm construction, Keras layer, input shape)
CASES = [
    ("Flatten()", lambda: keras.layers.Flatten(), (2, 7)),
    ("Flatten()", lambda: keras.layers.Flatten(), (2, 3, 4)),
    ("Flatten()", lambda: keras.layers.Flatten(), (2, 3, 4, 5)),
    ("Flatten()", lambda: keras.layers.Flatten(), (2, 2, 3, 2, 2)),
    ("RepeatVector(4)", lambda: keras.layers.RepeatVector(4), (2, 5)),
    ("UpSampling1D()", lambda: keras.layers.UpSampling1D(), (2, 5, 3)),
    ("UpSampling1D(3)", lambda: keras.layers.UpSampling1D(3), (2, 5, 3)),
    ("UpSampling2D()", lambda: keras.layers.UpSampling2D(), (2, 4, 5, 3)),
    ("UpSampling2D(3)", lambda: keras.layers.UpSampling2D(3), (2, 4, 5, 3)),
    ("ZeroPadding1D()", lambda: keras.layers.ZeroPadding1D(), (2, 5, 3)),
    ("ZeroPadding1D(3)", lambda: keras.layers.ZeroPadding1D(3), (2, 5, 3)),
    ("ZeroPadding2D()", lambda: keras.layers.ZeroPadding2D(), (2, 4, 5, 3)),
    ("ZeroPadding2D(2)", lambda: keras.layers.ZeroPadding2D(2), (2, 4, 5, 3)),
    ("Cropping1D()", lambda: keras.layers.Cropping1D(), (2, 6, 3)),
    ("Cropping1D(2)", lambda: keras.layers.Cropping1D(2), (2, 6, 3)),
    ("Cropping2D()", lambda: keras.layers.Cropping2D(), (2, 6, 7, 3)),
    ("Cropping2D(2)", lambda: keras.layers.Cropping2D(2), (2, 6, 7, 3)),
    ("GlobalMaxPooling1D()", lambda: keras.layers.GlobalMaxPooling1D(), (2, 6, 3)),
    ("GlobalMaxPooling2D()", lambda: keras.layers.GlobalMaxPooling2D(), (2, 6, 7, 3)),
    ("AveragePooling1D(2)", lambda: keras.layers.AveragePooling1D(2), (2, 7, 3)),
    ("AveragePooling1D(3, strides=1, padding=\"SAME\")",
     lambda: keras.layers.AveragePooling1D(3, strides=1, padding="same"), (2, 7, 3)),
]


def _type(shape) -> str:
    return f"f32[{', '.join(str(d) for d in shape)}]"


@pytest.mark.parametrize("construct, keras_layer, shape", CASES, ids=[f"{c[0]}-{len(c[2])}d" for c in CASES])
def test_layer_matches_keras_and_its_checked_size(tmp_path, construct, keras_layer, shape):
    theirs_layer = keras_layer()
    x = RNG.normal(size=shape).astype(np.float32)
    expected_shape = tuple(theirs_layer.compute_output_shape(shape))
    # The checker computes the output size: declaring Keras' exact output type must check.
    source = tmp_path / "layer.tfm"
    source.write_text(f"module M:\n    sub layer = {construct}\n\n"
                      f"    fn f(x: {_type(shape)}) -> {_type(expected_shape)}:\n        return layer(x)\n")
    assert tfm.check(source) == []
    model = tfm.load(source).M()
    results = []
    for call in (model.f, theirs_layer):
        tensor = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(tensor)
            out = call(tensor)
            cotangent = tf.constant(np.random.default_rng(3).normal(size=out.shape).astype(np.float32))
            loss = tf.reduce_sum(out * cotangent)
        results.append((out.numpy(), tape.gradient(loss, tensor).numpy()))
    (ours, our_grad), (keras_out, keras_grad) = results
    assert ours.shape == expected_shape
    np.testing.assert_allclose(ours, keras_out, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(our_grad, keras_grad, rtol=1e-6, atol=1e-6)


def test_a_wrong_size_after_a_weightless_layer_is_a_check_error(tmp_path):
    """Shapes survive the layer: flattening 6x8x3 gives 144 features, and 145 is refused before TensorFlow."""
    source = tmp_path / "wrong.tfm"
    source.write_text("module M:\n    sub flat = Flatten()\n    sub up = UpSampling2D(2)\n\n"
                      "    fn f(x: f32[2, 3, 4, 3]) -> f32[2, 145]:\n        return flat(up(x))\n")
    problems = tfm.check(source)
    assert [p.code for p in problems] == ["E032"]
    assert "f32[2, 145], got f32[2, 144]" in problems[0].message
