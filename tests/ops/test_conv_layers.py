"""The convolution layers of dsl/library/convolution.tfm against Keras 3: the same weights give the
same outputs and the same gradients (for the input and every weight), and the transposed-convolution
ops' static output sizes against what TensorFlow computes."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

import tfm  # noqa: E402
from tfm.dsl import nodes  # noqa: E402

from support.layers import build_layer as _build, compare as _compare, forward_and_grads as _forward_and_grads  # noqa: E402
from support.layers import keras_built as _keras_built, randomize  # noqa: E402

# .ci/run runs these again with oneDNN off: a kernel one processor lacks fails CI, not a user.
pytestmark = pytest.mark.kernels

RNG = np.random.default_rng(23)


def _randomize(module) -> dict[str, np.ndarray]:
    return randomize(module, RNG)


@pytest.mark.parametrize("kernel, strides, padding", [(3, 1, "VALID"), (3, 2, "SAME"), (3, 2, "VALID"),
                                                      (2, 3, "VALID"), (4, 2, "SAME")])
def test_conv2d_transpose_matches_keras(tmp_path, kernel, strides, padding):
    m = _build(tmp_path, f'Conv2DTranspose(3, 4, {kernel}, strides={strides}, padding="{padding}", activation="relu")',
               "x: f32[N, 5, 6, 3]) -> f32[N, ?, ?, 4]", "layer(x)")
    w = _randomize(m.layer)
    keras_layer = _keras_built(keras.layers.Conv2DTranspose(4, kernel, strides=strides, padding=padding.lower(),
                                                            activation="relu"), (None, 5, 6, 3))
    keras_layer.set_weights([w["kernel"], w["bias"]])
    x = RNG.normal(size=(2, 5, 6, 3)).astype(np.float32)
    ours = _forward_and_grads(m.f, [x], [m.layer.kernel, m.layer.bias])
    theirs = _forward_and_grads(keras_layer, [x], [keras_layer.kernel, keras_layer.bias])
    assert ours[0].shape == theirs[0].shape
    _compare(ours, theirs)


@pytest.mark.parametrize("kernel, strides, padding", [(3, 1, "VALID"), (3, 2, "SAME"), (5, 2, "VALID"),
                                                      (1, 2, "VALID")])
def test_conv1d_transpose_matches_keras(tmp_path, kernel, strides, padding):
    m = _build(tmp_path, f'Conv1DTranspose(2, 5, {kernel}, strides={strides}, padding="{padding}", '
                         'activation="tanh")', "x: f32[N, 7, 2]) -> f32[N, ?, 5]", "layer(x)")
    w = _randomize(m.layer)
    keras_layer = _keras_built(keras.layers.Conv1DTranspose(5, kernel, strides=strides, padding=padding.lower(),
                                                            activation="tanh"), (None, 7, 2))
    keras_layer.set_weights([w["kernel"], w["bias"]])
    x = RNG.normal(size=(3, 7, 2)).astype(np.float32)
    ours = _forward_and_grads(m.f, [x], [m.layer.kernel, m.layer.bias])
    theirs = _forward_and_grads(keras_layer, [x], [keras_layer.kernel, keras_layer.bias])
    assert ours[0].shape == theirs[0].shape
    _compare(ours, theirs)


@pytest.mark.parametrize("call, size", [
    ("conv2d_transpose(x, k)", [2, 7, 8, 4]),                                  # (5 - 1) * 1 + 3
    ("conv2d_transpose(x, k, strides=2, padding='SAME')", [2, 10, 12, 4]),     # 5 * 2
    ("conv2d_transpose(x, k, strides=[2, 3])", [2, 11, 18, 4]),                # (5 - 1) * 2 + 3, 6 * 3 + 0
    ("conv2d_transpose(x, k, strides=4)", [2, 20, 24, 4]),                     # kernel < stride: 5 * 4
])
def test_conv2d_transpose_static_size_is_what_runs(tmp_path, call, size):
    """The checker folds the output size (a wrong declared size would be E050); TensorFlow agrees."""
    source = tmp_path / "t.tfm"
    dims = ", ".join(map(str, size))
    source.write_text(f"module M:\n    var k: f32[3, 3, 4, 3] = glorot_uniform(seed=0)\n\n"
                      f"    fn f(x: f32[2, 5, 6, 3]) -> f32[{dims}]:\n        return {call}\n")
    assert [d.code for d in tfm.check(source) if d.severity == "error"] == []
    out = tfm.load(source).M().f(tf.constant(RNG.normal(size=(2, 5, 6, 3)).astype(np.float32)))
    assert list(out.shape) == size


def test_conv1d_transpose_refuses_mismatched_channels(tmp_path):
    source = tmp_path / "t.tfm"
    source.write_text("module M:\n    var k: f32[3, 4, 2] = glorot_uniform(seed=0)\n\n"
                      "    fn f(x: f32[2, 5, 3]) -> f32[2, ?, 4]:\n        return conv1d_transpose(x, k)\n")
    assert "E042" in [d.code for d in tfm.check(source)]


@pytest.mark.parametrize("strides, padding, multiplier, dilation", [(1, "VALID", 1, 1), (2, "SAME", 2, 1),
                                                                    (1, "SAME", 3, 2), (2, "VALID", 1, 1)])
def test_depthwise_conv2d_matches_keras(tmp_path, strides, padding, multiplier, dilation):
    m = _build(tmp_path, f'DepthwiseConv2D(3, 3, strides={strides}, padding="{padding}", '
                         f'depth_multiplier={multiplier}, dilation_rate={dilation}, activation="relu")',
               f"x: f32[N, 8, 7, 3]) -> f32[N, ?, ?, {3 * multiplier}]", "layer(x)")
    w = _randomize(m.layer)
    keras_layer = _keras_built(keras.layers.DepthwiseConv2D(3, strides=strides, padding=padding.lower(),
                                                            depth_multiplier=multiplier, dilation_rate=dilation,
                                                            activation="relu"), (None, 8, 7, 3))
    keras_layer.set_weights([w["kernel"], w["bias"]])
    x = RNG.normal(size=(2, 8, 7, 3)).astype(np.float32)
    ours = _forward_and_grads(m.f, [x], [m.layer.kernel, m.layer.bias])
    theirs = _forward_and_grads(keras_layer, [x], [keras_layer.kernel, keras_layer.bias])
    assert ours[0].shape == theirs[0].shape
    _compare(ours, theirs)


@pytest.mark.parametrize("strides, padding, multiplier, dilation", [(1, "VALID", 1, 1), (2, "SAME", 2, 1),
                                                                    (1, "SAME", 1, 2)])
def test_separable_conv2d_matches_keras(tmp_path, strides, padding, multiplier, dilation):
    m = _build(tmp_path, f'SeparableConv2D(3, 5, 3, strides={strides}, padding="{padding}", '
                         f'depth_multiplier={multiplier}, dilation_rate={dilation}, activation="tanh")',
               "x: f32[N, 8, 7, 3]) -> f32[N, ?, ?, 5]", "layer(x)")
    w = _randomize(m.layer)
    keras_layer = _keras_built(keras.layers.SeparableConv2D(5, 3, strides=strides, padding=padding.lower(),
                                                            depth_multiplier=multiplier, dilation_rate=dilation,
                                                            activation="tanh"), (None, 8, 7, 3))
    keras_layer.set_weights([w["depthwise_kernel"], w["pointwise_kernel"], w["bias"]])
    x = RNG.normal(size=(2, 8, 7, 3)).astype(np.float32)
    ours = _forward_and_grads(m.f, [x], [m.layer.depthwise_kernel, m.layer.pointwise_kernel, m.layer.bias])
    theirs = _forward_and_grads(keras_layer, [x], [keras_layer.depthwise_kernel, keras_layer.pointwise_kernel,
                                                   keras_layer.bias])
    assert ours[0].shape == theirs[0].shape
    _compare(ours, theirs)


@pytest.mark.parametrize("call, size", [
    ("depthwise_conv2d(x, k)", [2, 3, 4, 6]),
    ("depthwise_conv2d(x, k, strides=2, padding='SAME')", [2, 3, 3, 6]),
    ("depthwise_conv2d(x, k, padding='SAME', dilations=[2, 1])", [2, 5, 6, 6]),
])
def test_depthwise_conv2d_static_size_is_what_runs(tmp_path, call, size):
    source = tmp_path / "t.tfm"
    dims = ", ".join(map(str, size))
    source.write_text(f"module M:\n    var k: f32[3, 3, 3, 2] = glorot_uniform(seed=0)\n\n"
                      f"    fn f(x: f32[2, 5, 6, 3]) -> f32[{dims}]:\n        return {call}\n")
    assert [d.code for d in tfm.check(source) if d.severity == "error"] == []
    out = tfm.load(source).M().f(tf.constant(RNG.normal(size=(2, 5, 6, 3)).astype(np.float32)))
    assert list(out.shape) == size


def test_transposed_size_folds_a_named_dimension(tmp_path):
    """An input size known only by name gives an expression of it: [N, T, 2] -> [N, T * 2 + 1, 4]."""
    text = ("module M:\n    var k: f32[3, 4, 2] = glorot_uniform(seed=0)\n\n"
            "    fn f(x: f32[N, T, 2]) -> f32[N, ?, 4]:\n"
            "        y = conv1d_transpose(x, k, stride=2)\n"
            "        z = conv1d_transpose(x, k, stride=2, padding='SAME')\n"
            "        return y\n")
    analysis = tfm.analyze(text, "t.tfm")
    decl = analysis.modules["M"].decl
    assert decl is not None
    assert [str(analysis.types[node.value]) for node in decl.methods[0].body if isinstance(node, nodes.Assign)] == \
        ["f32[N, 2 * T + 1, 4]", "f32[N, 2 * T, 4]"]
    source = tmp_path / "t.tfm"
    source.write_text(text)
    out = tfm.load(source).M().f(tf.constant(RNG.normal(size=(3, 5, 2)).astype(np.float32)))
    assert list(out.shape) == [3, 11, 4]


def test_convolution_layers_export_to_saved_model_and_tflite(tmp_path):
    """The four layers in one module, exported: tfm.export runs the .tflite (builtin ops only) in LiteRT
    and compares it with the SavedModel before writing them; the SavedModel gives the module's values."""
    source = tmp_path / "decoder.tfm"
    source.write_text(
        "module Decoder:\n"
        '    sub up = Conv2DTranspose(3, 4, 3, strides=2, padding="SAME", activation="relu", seed=1)\n'
        '    sub up1 = Conv1DTranspose(3, 2, 4, strides=2, seed=2)\n'
        '    sub depthwise = DepthwiseConv2D(4, 3, depth_multiplier=2, seed=3)\n'
        '    sub separable = SeparableConv2D(8, 2, 3, padding="SAME", seed=4)\n\n'
        "    fn images(x: f32[1, 5, 5, 3]) -> f32[1, 8, 8, 2]:\n"
        "        return separable(depthwise(up(x)))\n\n"
        "    fn sequences(x: f32[1, 6, 3]) -> f32[1, 14, 2]:\n"
        "        return up1(x)\n")
    model = tfm.load(source).Decoder()
    tfm.export(source, "Decoder", tmp_path / "saved", instance=model, tflite=tmp_path / "decoder.tflite")
    x = RNG.normal(size=(1, 5, 5, 3)).astype(np.float32)
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    np.testing.assert_allclose(loaded.images(tf.constant(x)).numpy(), model.images(tf.constant(x)).numpy(),
                               rtol=1e-5, atol=1e-5)
    assert (tmp_path / "decoder.tflite").stat().st_size > 0
