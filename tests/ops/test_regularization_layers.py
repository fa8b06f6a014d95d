"""The regularization layers of dsl/library/regularization.tfm against Keras 3's of the same name, on real
TensorFlow. Deterministic behaviour is compared exactly (every layer is the identity outside training;
UnitNormalization and GroupNormalization forward and gradients for the input and the weights); random
behaviour by its statistics (the noise's mean and variance, the dropped fraction, whole channels dropped),
since tfm's random streams are not Keras'.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

import tfm  # noqa: E402

pytestmark = pytest.mark.kernels

RNG = np.random.default_rng(11)
NOISY = ["GaussianNoise(0.5)", "GaussianDropout(0.3)", "AlphaDropout(0.3)"]


def _build(tmp_path, construct: str, signature: str, body: str = "layer(x, training)"):
    source = tmp_path / "layer.tfm"
    source.write_text(f"module M:\n    sub layer = {construct}\n\n    fn f({signature}:\n        return {body}\n")
    return tfm.load(source).M()


def _keras(construct: str):
    name, _, args = construct.partition("(")
    return eval(f"keras.layers.{name}({args}")  # noqa: S307 (a literal from this file)


def _forward_and_grads(call, x: np.ndarray, variables):
    t = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(t)
        out = call(t)
        cotangent = tf.constant(np.random.default_rng(0).normal(size=out.shape).astype(np.float32))
        loss = tf.reduce_sum(out * cotangent)
    grads = tape.gradient(loss, [t, *variables])
    return out.numpy(), [g.numpy() for g in grads]


def _compare(ours, theirs):
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-4, atol=1e-4)
    for a, b in zip(ours[1], theirs[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("construct", [*NOISY, "SpatialDropout1D(0.3)"])
def test_sequences_pass_unchanged_outside_training_as_in_keras(tmp_path, construct):
    m = _build(tmp_path, construct, "x: f32[N, T, 5], training: bool[]) -> f32[N, T, 5]")
    x = RNG.normal(size=(3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(m.f(x, tf.constant(False)).numpy(), x)
    np.testing.assert_array_equal(_keras(construct)(x, training=False).numpy(), x)
    assert not np.array_equal(m.f(x, tf.constant(True)).numpy(), x)


@pytest.mark.parametrize("construct", [*NOISY, "SpatialDropout2D(0.3)"])
def test_images_pass_unchanged_outside_training(tmp_path, construct):
    m = _build(tmp_path, construct, "x: f32[N, H, W, 3], training: bool[]) -> f32[N, H, W, 3]")
    x = RNG.normal(size=(2, 4, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(m.f(x, tf.constant(False)).numpy(), x)
    assert not np.array_equal(m.f(x, tf.constant(True)).numpy(), x)


def _noise_stats(y: np.ndarray) -> tuple[float, float]:
    return float(y.mean()), float(y.var())


@pytest.mark.parametrize("construct, x_value", [("GaussianNoise(0.5)", 0.0), ("GaussianDropout(0.3)", 1.0),
                                                ("AlphaDropout(0.3)", None)])
def test_noise_has_keras_statistics(tmp_path, construct, x_value):
    """200,000 draws each: the output's mean and variance agree with Keras' to within sampling error.
    AlphaDropout is fed standard normal inputs, whose mean 0 and variance 1 it must keep."""
    m = _build(tmp_path, construct, "x: f32[N, D], training: bool[]) -> f32[N, D]")
    if x_value is None:
        x = RNG.normal(size=(400, 500)).astype(np.float32)
    else:
        x = np.full((400, 500), x_value, np.float32)
    ours = _noise_stats(m.f(x, tf.constant(True)).numpy())
    theirs = _noise_stats(_keras(construct)(x, training=True).numpy())
    np.testing.assert_allclose(ours, theirs, atol=0.01)
    if x_value is None:
        np.testing.assert_allclose(ours, (0.0, 1.0), atol=0.02)
    assert not np.array_equal(m.f(x, tf.constant(True)).numpy(), m.f(x, tf.constant(True)).numpy())


def test_gaussian_noise_and_dropout_have_their_stated_moments(tmp_path):
    noise = _build(tmp_path, "GaussianNoise(0.5)", "x: f32[N, D], training: bool[]) -> f32[N, D]")
    y = noise.f(np.zeros((400, 500), np.float32), tf.constant(True)).numpy()
    np.testing.assert_allclose(_noise_stats(y), (0.0, 0.25), atol=0.01)
    drop = _build(tmp_path, "GaussianDropout(0.2)", "x: f32[N, D], training: bool[]) -> f32[N, D]")
    y = drop.f(np.full((400, 500), 2.0, np.float32), tf.constant(True)).numpy()
    np.testing.assert_allclose(_noise_stats(y), (2.0, 4.0 * 0.2 / 0.8), atol=0.02)


def test_alpha_dropout_sets_the_dropped_fraction_to_one_value(tmp_path):
    m = _build(tmp_path, "AlphaDropout(0.25)", "x: f32[N, D], training: bool[]) -> f32[N, D]")
    x = RNG.normal(size=(200, 500)).astype(np.float32)
    y = m.f(x, tf.constant(True)).numpy()
    values, counts = np.unique(y, return_counts=True)
    dropped = values[counts.argmax()]  # every dropped element maps to the same a * alpha_p + b
    assert 0.23 < counts.max() / y.size < 0.27
    keras_y = keras.layers.AlphaDropout(0.25)(x, training=True).numpy()
    keras_values, keras_counts = np.unique(keras_y, return_counts=True)
    np.testing.assert_allclose(dropped, keras_values[keras_counts.argmax()], rtol=1e-6)


@pytest.mark.parametrize("construct, shape, channel_axes", [("SpatialDropout1D(0.4)", (100, 6, 50), (1,)),
                                                            ("SpatialDropout2D(0.4)", (100, 3, 4, 50), (1, 2))])
def test_spatial_dropout_drops_whole_channels(tmp_path, construct, shape, channel_axes):
    dims = ", ".join(["N", "T", "C"] if len(shape) == 3 else ["N", "H", "W", "C"])
    m = _build(tmp_path, construct, f"x: f32[{dims}], training: bool[]) -> f32[{dims}]")
    x = np.ones(shape, np.float32)
    for y in (m.f(x, tf.constant(True)).numpy(), _keras(construct)(x, training=True).numpy()):
        assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.6)}
        per_channel = y.max(axis=channel_axes)
        np.testing.assert_array_equal(y.min(axis=channel_axes), per_channel)  # a channel is all kept or all dropped
        assert 0.35 < (per_channel == 0).mean() < 0.45  # 5,000 channels: about 40% dropped


@pytest.mark.parametrize("shape", [(3, 7), (2, 4, 7), (2, 3, 4, 7)])
def test_unit_normalization_matches_keras(tmp_path, shape):
    dims = ", ".join(["N", "T", "H"][: len(shape) - 1] + ["7"])
    m = _build(tmp_path, "UnitNormalization()", f"x: f32[{dims}]) -> f32[{dims}]", "layer(x)")
    x = RNG.normal(size=shape).astype(np.float32)
    x[0, ..., :] = 0.0  # a zero vector: Keras' 1e12 cap keeps it 0
    _compare(_forward_and_grads(m.f, x, []), _forward_and_grads(keras.layers.UnitNormalization(), x, []))
    norms = np.linalg.norm(m.f(x).numpy(), axis=-1)
    np.testing.assert_allclose(norms[1:], 1.0, rtol=1e-5)


@pytest.mark.parametrize("groups, shape", [(2, (3, 6)), (3, (2, 5, 6)), (1, (2, 3, 4, 6)), (6, (2, 3, 4, 6))])
def test_group_normalization_matches_keras(tmp_path, groups, shape):
    dims = ", ".join(["N", "T", "W"][: len(shape) - 1] + ["6"])
    m = _build(tmp_path, f"GroupNormalization({groups}, 6, epsilon=0.01)", f"x: f32[{dims}]) -> f32[{dims}]",
               "layer(x)")
    gamma, beta = RNG.normal(size=6).astype(np.float32), RNG.normal(size=6).astype(np.float32)
    m.layer.gamma.assign(gamma)
    m.layer.beta.assign(beta)
    keras_layer = keras.layers.GroupNormalization(groups, epsilon=0.01)
    keras_layer.build((None, *shape[1:]))
    keras_layer.set_weights([gamma, beta])
    x = RNG.normal(1.0, 2.0, size=shape).astype(np.float32)
    _compare(_forward_and_grads(m.f, x, [m.layer.gamma, m.layer.beta]),
             _forward_and_grads(keras_layer, x, [keras_layer.gamma, keras_layer.beta]))
    assert {v.name.split("/")[-1] for v in m.trainable_variables} == {"gamma:0", "beta:0"}


def test_group_normalization_refuses_groups_that_do_not_divide_the_channels(tmp_path):
    m = _build(tmp_path, "GroupNormalization(4, 6)", "x: f32[N, T, 6]) -> f32[N, T, 6]", "layer(x)")
    with pytest.raises(ValueError, match="reshape"):
        m.f(np.ones((2, 4, 6), np.float32))  # 24 values would fit [N, -1, 4, 1]: only gamma's reshape refuses it


_EXPORTED = """module Regularized:
    sub noise = GaussianNoise(0.1)
    sub gaussian = GaussianDropout(0.2)
    sub alpha = AlphaDropout(0.2)
    sub spatial = SpatialDropout2D(0.2)
    sub unit = UnitNormalization()
    sub group = GroupNormalization(2, 4)

    fn call(x: f32[2, 3, 3, 4], training: bool[]) -> f32[2, 3, 3, 4]:
        y = spatial(alpha(gaussian(noise(x, training), training), training), training)
        return unit(group(y))

    @serving
    fn infer(x: f32[2, 3, 3, 4]) -> f32[2, 3, 3, 4]:
        return call(x, False)
"""


def test_regularization_layers_export_to_saved_model_and_tflite(tmp_path):
    """Both modes in a SavedModel; inference (deterministic) also to a .tflite of builtin ops, which
    tfm.export runs in LiteRT and compares with the SavedModel before it writes them."""
    source = tmp_path / "regularized.tfm"
    source.write_text(_EXPORTED)
    tfm.export(source, "Regularized", tmp_path / "saved", signatures=["call", "infer"])
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    x = RNG.normal(size=(2, 3, 3, 4)).astype(np.float32)
    model = tfm.load(source).Regularized()
    np.testing.assert_allclose(loaded.infer(tf.constant(x)).numpy(), model.infer(x).numpy(), rtol=1e-5, atol=1e-6)
    trained = loaded.call(tf.constant(x), tf.constant(True)).numpy()
    assert trained.shape == x.shape and not np.allclose(trained, model.infer(x).numpy())
    # Served by default: `infer` alone (@serving); `call`'s training branch would need Flex's stateless random ops.
    tfm.export(source, "Regularized", tmp_path / "lite", tflite=tmp_path / "r.tflite")
    assert (tmp_path / "r.tflite").stat().st_size > 0


@pytest.mark.parametrize("kernel, bias", [((0.01, 0.0), (0.0, 0.0)), ((0.0, 0.02), (0.0, 0.0)),
                                          ((0.01, 0.02), (0.03, 0.04)), ((0.0, 0.0), (0.0, 0.0))])
def test_dense_regularization_losses_match_keras_layer_losses(tmp_path, kernel, bias):
    """Dense's L1/L2 factors against Keras' L1L2 kernel and bias regularizers: the penalty (the sum of
    `layer.losses`) and its gradients for the kernel and the bias."""
    construct = (f'Dense(3, 4, kernel_regularizer="l1_l2(l1={kernel[0]}, l2={kernel[1]})", '
                 f'bias_regularizer="l1_l2(l1={bias[0]}, l2={bias[1]})")')
    m = _build(tmp_path, construct, ") -> f32[]", "layer.regularization_losses()")
    keras_layer = keras.layers.Dense(4, kernel_regularizer=keras.regularizers.L1L2(*kernel),
                                     bias_regularizer=keras.regularizers.L1L2(*bias))
    keras_layer.build((None, 3))
    weights = [RNG.normal(size=(3, 4)).astype(np.float32), RNG.normal(size=4).astype(np.float32)]
    m.layer.kernel.assign(weights[0])
    m.layer.bias.assign(weights[1])
    keras_layer.set_weights(weights)
    with tf.GradientTape(persistent=True) as tape:
        ours = m.f()
        theirs = tf.add_n([tf.constant(0.0), *keras_layer.losses])
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-7)
    ours_grads = tape.gradient(ours, [m.layer.kernel, m.layer.bias])
    theirs_grads = tape.gradient(theirs, [keras_layer.kernel, keras_layer.bias])  # None: no regularizer
    for a, b, w in zip(ours_grads, theirs_grads, weights, strict=True):
        np.testing.assert_allclose(a, np.zeros(w.shape) if b is None else b, rtol=1e-5, atol=1e-7)
    assert (ours.numpy() > 0) == (sum(kernel) + sum(bias) > 0)
