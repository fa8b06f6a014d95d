"""The convolution and pooling layers' Keras options (issue 23 item 1) against Keras 3: non-square kernels,
strides and dilations given as tuples (`kernel_size=(3, 5)`), `use_bias=False` (then Keras' weights are the
kernels alone, and so are the module's variables), Conv3D; the same weights give the same outputs and the
same gradients, for the input and every weight. Keras runs inside a tf.function too (TF's Conv3D gradient
once failed eagerly here)."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

from support.layers import build_layer, compare, forward_and_grads, keras_built, randomize  # noqa: E402

# .ci/run runs these again with oneDNN off: a kernel one processor lacks fails CI, not a user.
pytestmark = pytest.mark.kernels

RNG = np.random.default_rng(2323)


def _check(tmp_path, construct: str, signature: str, keras_layer, input_shape: tuple[int, ...],
           weight_names: list[str], subsample: tuple[int, int] = (1, 1)):
    """Build `construct` in .tfm and `keras_layer` for `input_shape`, give both the same random weights
    (the .tfm variables named `weight_names`, in Keras' weight order), compare outputs and gradients.
    `subsample`: Keras' output is strided afterwards (see _unequal_strides)."""
    m = build_layer(tmp_path, construct, signature, "layer(x)")
    values = randomize(m.layer, RNG)
    assert sorted(values) == sorted(weight_names)  # no other variable: `use_bias=False` makes none
    if not keras_layer.built:
        keras_built(keras_layer, (None, *input_shape[1:]))
    assert len(keras_layer.weights) == len(weight_names)
    keras_layer.set_weights([values[name] for name in weight_names])
    x = RNG.normal(size=input_shape).astype(np.float32)
    ours = forward_and_grads(m.f, [x], [getattr(m.layer, name) for name in weight_names])
    rows, columns = subsample
    strided = (lambda t: keras_layer(t)[:, ::rows, ::columns]) if subsample != (1, 1) else keras_layer
    theirs = forward_and_grads(tf.function(lambda t: strided(t)), [x], keras_layer.weights)
    assert ours[0].shape == theirs[0].shape
    compare(ours, theirs)


@pytest.mark.parametrize("kernel, strides, padding, dilation, use_bias", [
    ((3, 5), (1, 1), "VALID", (1, 1), True), ((3, 5), (2, 1), "SAME", (1, 1), False),
    ((2, 3), (1, 3), "VALID", (1, 1), True), ((3, 2), (1, 1), "SAME", (2, 1), False), (3, 2, "VALID", 1, False),
])
def test_conv2d_options_match_keras(tmp_path, kernel, strides, padding, dilation, use_bias):
    _check(tmp_path, f'Conv2D(filters=4, kernel_size={kernel}, strides={strides}, padding="{padding}", '
                     f'dilation_rate={dilation}, activation="relu", use_bias={use_bias})',
           "x: f32[N, 9, 10, 3]) -> f32[N, ?, ?, 4]",
           keras.layers.Conv2D(4, kernel, strides=strides, padding=padding.lower(), dilation_rate=dilation,
                               activation="relu", use_bias=use_bias),
           (2, 9, 10, 3), ["kernel", "bias"] if use_bias else ["kernel"])


@pytest.mark.parametrize("use_bias, strides, padding", [(False, 1, "VALID"), (False, 2, "SAME"), (True, 2, "VALID")])
def test_conv1d_use_bias_matches_keras(tmp_path, use_bias, strides, padding):
    _check(tmp_path, f'Conv1D(filters=5, kernel_size=3, strides={strides}, padding="{padding}", use_bias={use_bias})',
           "x: f32[N, 11, 2]) -> f32[N, ?, 5]",
           keras.layers.Conv1D(5, 3, strides=strides, padding=padding.lower(), use_bias=use_bias),
           (2, 11, 2), ["kernel", "bias"] if use_bias else ["kernel"])


@pytest.mark.parametrize("kernel, strides, padding, use_bias", [
    ((3, 2), (2, 1), "VALID", True), ((2, 3), (1, 2), "SAME", False), ((3, 1), (3, 2), "VALID", False),
])
def test_conv2d_transpose_options_match_keras(tmp_path, kernel, strides, padding, use_bias):
    _check(tmp_path, f'Conv2DTranspose(filters=4, kernel_size={kernel}, strides={strides}, padding="{padding}", '
                     f'use_bias={use_bias})',
           "x: f32[N, 5, 6, 3]) -> f32[N, ?, ?, 4]",
           keras.layers.Conv2DTranspose(4, kernel, strides=strides, padding=padding.lower(), use_bias=use_bias),
           (2, 5, 6, 3), ["kernel", "bias"] if use_bias else ["kernel"])


def test_conv1d_transpose_without_bias_matches_keras(tmp_path):
    _check(tmp_path, 'Conv1DTranspose(filters=3, kernel_size=4, strides=2, padding="SAME", use_bias=False)',
           "x: f32[N, 7, 2]) -> f32[N, ?, 3]",
           keras.layers.Conv1DTranspose(3, 4, strides=2, padding="same", use_bias=False), (2, 7, 2), ["kernel"])


def _unequal_strides(strides, padding: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """(Keras' strides, the subsampling after it). TensorFlow's depthwise kernel without oneDNN refuses
    unequal row and column strides, in Keras too; tfm's helper computes them (stride 1, then every
    stride-th output). Keras' reference for them is then that very definition: a 'VALID' convolution at
    stride 1, subsampled."""
    if not isinstance(strides, tuple) or strides[0] == strides[1]:
        return strides, (1, 1)
    assert padding == "VALID"  # a strided 'SAME' pads otherwise than the stride-1 one
    return (1, 1), strides


@pytest.mark.parametrize("kernel, strides, padding, dilation, use_bias", [
    ((3, 1), (1, 1), "SAME", (1, 1), True), ((1, 3), (2, 2), "SAME", (1, 1), False),
    ((3, 2), (1, 1), "SAME", (1, 2), False), ((2, 3), (2, 1), "VALID", (1, 1), True),
])
def test_depthwise_conv2d_options_match_keras(tmp_path, kernel, strides, padding, dilation, use_bias):
    keras_strides, subsample = _unequal_strides(strides, padding)
    _check(tmp_path, f'DepthwiseConv2D(kernel_size={kernel}, strides={strides}, padding="{padding}", '
                     f'depth_multiplier=2, dilation_rate={dilation}, use_bias={use_bias})',
           "x: f32[N, 7, 8, 3]) -> f32[N, ?, ?, 6]",
           keras.layers.DepthwiseConv2D(kernel, strides=keras_strides, padding=padding.lower(), depth_multiplier=2,
                                        dilation_rate=dilation, use_bias=use_bias),
           (2, 7, 8, 3), ["kernel", "bias"] if use_bias else ["kernel"], subsample)


@pytest.mark.parametrize("kernel, strides, padding, use_bias", [((3, 1), (2, 1), "VALID", False),
                                                                ((2, 3), (1, 2), "VALID", True),
                                                                ((2, 3), (2, 2), "SAME", False)])
def test_separable_conv2d_options_match_keras(tmp_path, kernel, strides, padding, use_bias):
    weights = ["depthwise_kernel", "pointwise_kernel"] + (["bias"] if use_bias else [])
    keras_strides, subsample = _unequal_strides(strides, padding)
    _check(tmp_path, f'SeparableConv2D(filters=5, kernel_size={kernel}, strides={strides}, padding="{padding}", '
                     f'use_bias={use_bias})',
           "x: f32[N, 7, 8, 3]) -> f32[N, ?, ?, 5]",
           keras.layers.SeparableConv2D(5, kernel, strides=keras_strides, padding=padding.lower(), use_bias=use_bias),
           (2, 7, 8, 3), weights, subsample)


@pytest.mark.parametrize("strides", [(2, 1), (1, 3)])
def test_unequal_depthwise_strides_with_same_padding_match_keras_with_onednn(tmp_path, strides):
    """'SAME' with unequal strides: Keras runs it only where TensorFlow's oneDNN kernel does."""
    try:
        keras.layers.DepthwiseConv2D(3, strides=strides, padding="same")(tf.zeros([1, 7, 8, 3]))
    except tf.errors.InvalidArgumentError:
        pytest.skip("TensorFlow's depthwise kernel here takes equal strides only (oneDNN off)")
    _check(tmp_path, f'DepthwiseConv2D(kernel_size=(3, 2), strides={strides}, padding="SAME")',
           "x: f32[N, 7, 8, 3]) -> f32[N, ?, ?, 3]",
           keras.layers.DepthwiseConv2D((3, 2), strides=strides, padding="same"), (2, 7, 8, 3), ["kernel", "bias"])


@pytest.mark.parametrize("kernel, strides, padding, dilation, use_bias", [
    ((3, 2, 1), (1, 1, 1), "VALID", (1, 1, 1), True), ((2, 3, 2), (2, 1, 2), "SAME", (1, 1, 1), False),
    (2, 1, "VALID", (2, 1, 1), True),
])
def test_conv3d_matches_keras(tmp_path, kernel, strides, padding, dilation, use_bias):
    _check(tmp_path, f'Conv3D(filters=4, kernel_size={kernel}, strides={strides}, padding="{padding}", '
                     f'dilation_rate={dilation}, activation="tanh", use_bias={use_bias})',
           "x: f32[N, 6, 5, 7, 2]) -> f32[N, ?, ?, ?, 4]",
           keras.layers.Conv3D(4, kernel, strides=strides, padding=padding.lower(), dilation_rate=dilation,
                               activation="tanh", use_bias=use_bias),
           (2, 6, 5, 7, 2), ["kernel", "bias"] if use_bias else ["kernel"])


@pytest.mark.parametrize("module, keras_class", [("MaxPool2D", "MaxPooling2D"), ("AvgPool2D", "AveragePooling2D")])
@pytest.mark.parametrize("pool, strides, padding", [((2, 3), None, "VALID"), ((3, 2), (1, 2), "SAME"),
                                                    (2, (2, 1), "VALID")])
def test_pooling_windows_and_strides_match_keras(tmp_path, module, keras_class, pool, strides, padding):
    given = "" if strides is None else f", strides={strides}"
    _check(tmp_path, f'{module}(pool_size={pool}{given}, padding="{padding}")', "x: f32[N, 7, 8, 3]) -> f32[N, ?, ?, 3]",
           getattr(keras.layers, keras_class)(pool, strides=strides, padding=padding.lower()), (2, 7, 8, 3), [])


def test_dense_without_bias_matches_keras(tmp_path):
    _check(tmp_path, 'Dense(out_dim=4, activation="relu", use_bias=False)', "x: f32[N, 3]) -> f32[N, 4]",
           keras.layers.Dense(4, activation="relu", use_bias=False), (5, 3), ["kernel"])


def test_the_output_size_folds_from_the_tuples(tmp_path):
    """A declared output size is checked against the tuples' items (E032 when it differs)."""
    import tfm

    source = tmp_path / "t.tfm"
    source.write_text("module M:\n    sub c = Conv2D(filters=4, kernel_size=(3, 5), strides=(2, 1))\n\n"
                      "    fn f(x: f32[N, 9, 10, 3]) -> f32[N, 4, 4, 4]:\n        return c(x)\n")
    assert [d.message for d in tfm.check(source)] == [
        "output `output_0` is declared f32[N, 4, 4, 4], got f32[N, 4, 6, 4]"]


def _keras_or_skip(keras_layer, input_shape):
    """Keras' grouped convolution runs backward on CPU only with TensorFlow's oneDNN kernels."""
    try:
        keras_built(keras_layer, (None, *input_shape[1:]))
        forward_and_grads(tf.function(lambda t: keras_layer(t)), [np.zeros(input_shape, np.float32)],
                          keras_layer.weights)
    except tf.errors.InvalidArgumentError:
        pytest.skip("TensorFlow's grouped convolution has no CPU gradient here (oneDNN off)")


@pytest.mark.parametrize("groups, kernel, strides, use_bias", [(2, (3, 2), (1, 2), True), (3, 1, 1, False),
                                                               (6, (2, 2), (2, 1), True)])
def test_conv2d_groups_match_keras(tmp_path, groups, kernel, strides, use_bias):
    layer = keras.layers.Conv2D(6, kernel, strides=strides, groups=groups, use_bias=use_bias)
    _keras_or_skip(layer, (2, 7, 8, 6))
    _check(tmp_path, f"Conv2D(filters=6, kernel_size={kernel}, strides={strides}, groups={groups}, use_bias={use_bias})",
           "x: f32[N, 7, 8, 6]) -> f32[N, ?, ?, 6]", layer, (2, 7, 8, 6), ["kernel", "bias"] if use_bias else ["kernel"])


@pytest.mark.parametrize("groups", [2, 4])
def test_conv1d_groups_match_keras(tmp_path, groups):
    layer = keras.layers.Conv1D(8, 3, groups=groups, padding="same")
    _keras_or_skip(layer, (2, 9, 4))
    _check(tmp_path, f'Conv1D(filters=8, kernel_size=3, padding="SAME", groups={groups})',
           "x: f32[N, 9, 4]) -> f32[N, ?, 8]", layer, (2, 9, 4), ["kernel", "bias"])


@pytest.mark.parametrize("groups", [2, 3])
def test_conv2d_groups_are_one_convolution_per_slice_of_channels(tmp_path, groups):
    """On every processor (oneDNN or not): the output and gradients of convolving each group's channels
    with its own filters and concatenating, which is what Keras' `groups` means."""
    m = build_layer(tmp_path, f"Conv2D(filters=6, kernel_size=(2, 3), groups={groups})",
                    "x: f32[N, 5, 6, 6]) -> f32[N, 4, 4, 6]", "layer(x)")
    values = randomize(m.layer, RNG)
    kernel, bias = tf.Variable(values["kernel"]), tf.Variable(values["bias"])
    size = 6 // groups

    @tf.function
    def by_group(x):
        parts = [tf.nn.convolution(x[..., g * size:(g + 1) * size], kernel[..., g * size:(g + 1) * size])
                 for g in range(groups)]
        return tf.concat(parts, axis=-1) + bias

    x = RNG.normal(size=(2, 5, 6, 6)).astype(np.float32)
    compare(forward_and_grads(m.f, [x], [m.layer.kernel, m.layer.bias]), forward_and_grads(by_group, [x], [kernel, bias]))


def test_the_options_export_to_saved_model_and_tflite(tmp_path):
    """Tuple kernels and strides, groups, no bias, Conv3D and unequal depthwise strides in one module:
    tfm.export runs the .tflite (builtin ops only) in LiteRT against the SavedModel before writing them."""
    import tfm

    source = tmp_path / "stem.tfm"
    source.write_text(
        "module Stem:\n"
        '    sub wide = Conv2D(filters=4, kernel_size=(1, 3), strides=(1, 2), padding="SAME", groups=2, use_bias=False, '
        'seed=1)\n'
        "    sub depthwise = DepthwiseConv2D(kernel_size=(2, 1), strides=(2, 1), seed=2)\n"
        "    sub pool = MaxPool2D(pool_size=(1, 2))\n"
        "    sub volume = Conv3D(filters=2, kernel_size=(2, 1, 2), use_bias=False, seed=3)\n\n"
        "    fn images(x: f32[1, 6, 8, 2]) -> f32[1, 3, 2, 4]:\n"
        "        return pool(depthwise(wide(x)))\n\n"
        "    fn volumes(x: f32[1, 3, 4, 5, 2]) -> f32[1, 2, 4, 4, 2]:\n"
        "        return volume(x)\n")
    model = tfm.load(source).Stem()
    assert sorted(v.name for v in model.variables) == ["stem/depthwise/bias:0", "stem/depthwise/kernel:0",
                                                       "stem/volume/kernel:0", "stem/wide/kernel:0"]
    tfm.export(source, "Stem", tmp_path / "saved", instance=model, tflite=tmp_path / "stem.tflite")
    x = RNG.normal(size=(1, 6, 8, 2)).astype(np.float32)
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    np.testing.assert_allclose(loaded.images(tf.constant(x)).numpy(), model.images(tf.constant(x)).numpy(),
                               rtol=1e-5, atol=1e-5)
    assert (tmp_path / "stem.tflite").stat().st_size > 0
