"""BatchNormalization, LayerNormalization and Dropout as one method each for any rank (issue 22 item 9)
against Keras 3's layers: the same weights give the same outputs and gradients on inputs of rank 2, 3
and 4, in training and in inference, and the batch statistics move as Keras' do."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

from support.layers import build_layer, compare, forward_and_grads, keras_built, randomize  # noqa: E402

pytestmark = pytest.mark.kernels

RNG = np.random.default_rng(9)
SHAPES = [(6, 3), (2, 4, 3), (2, 4, 5, 3)]


def _layer(tmp_path, construct: str, shape: tuple[int, ...], takes_training: bool):
    """The layer called on an `f32[N, ..., 3]` of `shape` (N left unknown), and on `training` if it takes it."""
    dims = ", ".join(["N", *map(str, shape[1:])])
    extra, arg = (", training: bool[]", ", training") if takes_training else ("", "")
    return build_layer(tmp_path, construct, f"x: f32[{dims}]{extra}) -> f32[{dims}]", f"layer(x{arg})")


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_normalization_matches_keras_on_every_rank(tmp_path, shape, training):
    m = _layer(tmp_path, "BatchNormalization(3, momentum=0.9)", shape, True)
    gamma, beta = RNG.normal(size=3).astype(np.float32), RNG.normal(size=3).astype(np.float32)
    mean, variance = RNG.normal(size=3).astype(np.float32), RNG.uniform(0.5, 2.0, 3).astype(np.float32)
    for variable, value in zip([m.layer.gamma, m.layer.beta, m.layer.moving_mean, m.layer.moving_variance],
                               [gamma, beta, mean, variance]):
        variable.assign(value)
    keras_layer = keras_built(keras.layers.BatchNormalization(momentum=0.9), (None, *shape[1:]))
    keras_layer.set_weights([gamma, beta, mean, variance])
    x = RNG.normal(1.0, 2.0, size=shape).astype(np.float32)
    ours = forward_and_grads(lambda t: m.f(t, tf.constant(training)), [x], [m.layer.gamma, m.layer.beta])
    theirs = forward_and_grads(lambda t: keras_layer(t, training=training), [x], [keras_layer.gamma, keras_layer.beta])
    compare(ours, theirs, atol=1e-3)
    np.testing.assert_allclose(m.layer.moving_mean.numpy(), keras_layer.moving_mean.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(m.layer.moving_variance.numpy(), keras_layer.moving_variance.numpy(), rtol=1e-4)
    assert (np.abs(m.layer.moving_mean.numpy() - mean).max() > 1e-3) == training  # moved only in training


@pytest.mark.parametrize("shape", SHAPES)
def test_layer_normalization_matches_keras_on_every_rank(tmp_path, shape):
    m = _layer(tmp_path, "LayerNormalization(3)", shape, False)
    weights = randomize(m.layer, RNG)
    keras_layer = keras_built(keras.layers.LayerNormalization(), (None, *shape[1:]))
    keras_layer.set_weights([weights["gamma"], weights["beta"]])
    x = RNG.normal(2.0, 3.0, size=shape).astype(np.float32)
    compare(forward_and_grads(m.f, [x], [m.layer.gamma, m.layer.beta]),
            forward_and_grads(keras_layer, [x], [keras_layer.gamma, keras_layer.beta]))


@pytest.mark.parametrize("shape", SHAPES)
def test_dropout_matches_keras_on_every_rank(tmp_path, shape):
    """Inference: the input, as Keras'. Training: the masks are random (Keras draws them from its own
    generator), so what is compared is the rule both follow: every element is 0 or x / (1 - rate), the
    gradient is the kept elements' 1 / (1 - rate), and about `rate` of a large input is dropped."""
    m = _layer(tmp_path, "Dropout(0.25)", (400, *shape[1:]), True)
    keras_layer = keras.layers.Dropout(0.25)
    x = RNG.uniform(1.0, 2.0, size=(400, *shape[1:])).astype(np.float32)
    compare(forward_and_grads(lambda t: m.f(t, tf.constant(False)), [x], []),
            forward_and_grads(lambda t: keras_layer(t, training=False), [x], []))
    for call in (lambda t: m.f(t, tf.constant(True)), lambda t: keras_layer(t, training=True)):
        out, (grad,) = forward_and_grads(call, [x], [], cotangent_seed=1)
        kept = out != 0
        np.testing.assert_allclose(out[kept], x[kept] / 0.75, rtol=1e-6)
        cotangent = np.random.default_rng(1).normal(size=out.shape).astype(np.float32)
        np.testing.assert_allclose(grad, np.where(kept, cotangent / 0.75, 0.0), rtol=1e-6, atol=1e-7)
        assert 0.2 < 1 - kept.mean() < 0.3


def test_one_traced_function_serves_every_rank(tmp_path):
    m = _layer(tmp_path, "LayerNormalization(3)", (2, 4, 3), False)
    for shape in SHAPES:
        x = RNG.normal(size=shape).astype(np.float32)
        centred = x - x.mean(-1, keepdims=True)
        expected = centred / np.sqrt((centred ** 2).mean(-1, keepdims=True) + 0.001)
        np.testing.assert_allclose(m.layer.call(x).numpy(), expected, rtol=1e-4, atol=1e-5)
    assert m.layer.call.experimental_get_tracing_count() == 1
