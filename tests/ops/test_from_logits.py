"""A cross-entropy given probabilities that are, in the traced graph, a softmax's or a sigmoid's output
computes from the logits, as Keras 3 does: on a confidently wrong prediction the loss is the true one
(60, not the clipped 16.1) and the gradient is not 0. Compared with Keras 3 on saturated predictions,
loss and gradient, for the op form, a name bound to it, and a library layer whose activation is it."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

import tfm  # noqa: E402

SOURCE = """\
module M:
    sub dense = Dense(3, 3, activation="softmax")
    sub gate = Dense(3, 2, activation="sigmoid")

    fn categorical(y: f32[N, 3], z: f32[N, 3]) -> f32[N]:
        return categorical_crossentropy(y, softmax(z))

    fn categorical_named(y: f32[N, 3], z: f32[N, 3]) -> f32[N]:
        p = softmax(z)
        return categorical_crossentropy(y, p)

    fn sparse(y: i32[N], z: f32[N, 3]) -> f32[N]:
        return sparse_categorical_crossentropy(y, softmax(z))

    fn binary(y: f32[N, 2], z: f32[N, 2]) -> f32[N]:
        return binary_crossentropy(y, sigmoid(z))

    fn binary_focal(y: f32[N, 2], z: f32[N, 2]) -> f32[N]:
        return binary_focal_crossentropy(y, sigmoid(z))

    fn categorical_smoothed(y: f32[N, 3], z: f32[N, 3]) -> f32[N]:
        return categorical_crossentropy(y, softmax(z), label_smoothing=0.1)

    fn categorical_layer(y: f32[N, 3], x: f32[N, 3]) -> f32[N]:
        return categorical_crossentropy(y, dense(x))

    fn binary_layer(y: f32[N, 2], x: f32[N, 3]) -> f32[N]:
        return binary_crossentropy(y, gate(x))

    fn probabilities(z: f32[N, 3]) -> f32[N, 3]:
        return identity(softmax(z))

    fn categorical_from_a_method(y: f32[N, 3], z: f32[N, 3]) -> f32[N]:
        return categorical_crossentropy(y, probabilities(z))

    fn categorical_other_axis(y: f32[3, N], z: f32[3, N]) -> f32[N]:
        return categorical_crossentropy(y, softmax(z), axis=0)
"""

# Confidently wrong, confidently right and ordinary examples: logits up to 30 apart saturate a softmax
# in f32 (its probabilities round to 0 and 1).
LOGITS = np.array([[30.0, -30.0, 0.0], [-40.0, 40.0, 1.0], [0.3, -0.2, 0.1]], np.float32)
ONE_HOT = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], np.float32)
BINARY_LOGITS = np.array([[25.0, -30.0], [-20.0, 0.5], [3.0, 40.0]], np.float32)
BINARY_LABELS = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], np.float32)


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    path = tmp_path_factory.mktemp("from_logits") / "m.tfm"
    path.write_text(SOURCE)
    return tfm.load(path).M()


def _loss_and_grad(function, labels, inputs, variables=()):
    x = tf.constant(inputs)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = function(tf.constant(labels), x)
        total = tf.reduce_sum(loss)
    grads = tape.gradient(total, [x, *variables])
    return loss.numpy(), [g.numpy() for g in grads]


def _keras(loss, activation):
    """Keras 3's loss on its activation's output, traced as a model's train step is."""
    return tf.function(lambda labels, x: loss(labels, activation(x)))


def _assert_same(ours, theirs):
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=1e-5)
    for a, b in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("method", ["categorical", "categorical_named", "categorical_from_a_method"])
def test_categorical_on_a_softmax_computes_from_its_logits(module, method):
    ours = _loss_and_grad(getattr(module, method), ONE_HOT, LOGITS)
    theirs = _loss_and_grad(_keras(keras.losses.categorical_crossentropy, keras.activations.softmax), ONE_HOT, LOGITS)
    _assert_same(ours, theirs)
    assert ours[0][0] == pytest.approx(60.0, rel=1e-5)  # clipped probabilities would give -log(1e-7) = 16.1
    assert np.abs(ours[1][0][0]).max() > 0.5  # and a gradient of exactly 0


def test_sparse_categorical_on_a_softmax_computes_from_its_logits(module):
    labels = np.array([1, 1, 0], np.int32)
    ours = _loss_and_grad(module.sparse, labels, LOGITS)
    theirs = _loss_and_grad(_keras(keras.losses.sparse_categorical_crossentropy, keras.activations.softmax),
                            labels, LOGITS)
    _assert_same(ours, theirs)
    assert ours[0][0] == pytest.approx(60.0, rel=1e-5)


def test_binary_on_a_sigmoid_computes_from_its_logits(module):
    ours = _loss_and_grad(module.binary, BINARY_LABELS, BINARY_LOGITS)
    theirs = _loss_and_grad(_keras(keras.losses.binary_crossentropy, keras.activations.sigmoid), BINARY_LABELS,
                            BINARY_LOGITS)
    _assert_same(ours, theirs)
    assert ours[0][0] == pytest.approx((25.0 + 30.0) / 2, rel=1e-5)


def test_binary_focal_on_a_sigmoid_computes_its_cross_entropy_from_the_logits(module):
    ours = _loss_and_grad(module.binary_focal, BINARY_LABELS, BINARY_LOGITS)
    theirs = _loss_and_grad(_keras(keras.losses.binary_focal_crossentropy, keras.activations.sigmoid),
                            BINARY_LABELS, BINARY_LOGITS)
    _assert_same(ours, theirs)


def test_label_smoothing_on_a_softmax_too(module):
    ours = _loss_and_grad(module.categorical_smoothed, ONE_HOT, LOGITS)
    smoothed = tf.function(lambda labels, x: keras.losses.categorical_crossentropy(
        labels, keras.activations.softmax(x), label_smoothing=0.1))
    _assert_same(ours, _loss_and_grad(smoothed, ONE_HOT, LOGITS))


@pytest.mark.parametrize("method, keras_layer, labels, loss", [
    ("categorical_layer", lambda: keras.layers.Dense(3, activation="softmax"), ONE_HOT,
     keras.losses.categorical_crossentropy),
    ("binary_layer", lambda: keras.layers.Dense(2, activation="sigmoid"), BINARY_LABELS,
     keras.losses.binary_crossentropy),
])
def test_a_layer_with_a_softmax_or_sigmoid_activation_too(module, method, keras_layer, labels, loss):
    """Large weights saturate the layer's output; its kernel's gradient matches Keras'."""
    ours_layer = module.dense if method == "categorical_layer" else module.gate
    layer = keras_layer()
    layer.build((None, 3))
    kernel = np.random.default_rng(3).normal(0.0, 20.0, ours_layer.kernel.shape).astype(np.float32)
    ours_layer.kernel.assign(kernel)
    layer.set_weights([kernel, np.zeros(ours_layer.bias.shape, np.float32)])
    x = np.array([[1.0, -1.0, 0.5], [-2.0, 1.0, 1.0], [0.1, 0.2, -0.1]], np.float32)
    ours = _loss_and_grad(getattr(module, method), labels, x, [ours_layer.kernel])
    theirs = _loss_and_grad(tf.function(lambda y, inputs: loss(y, layer(inputs))), labels, x, [layer.kernel])
    _assert_same(ours, theirs)
    assert ours[0].max() > 17.0  # beyond what clipped probabilities can give


def test_a_softmax_over_another_axis_than_the_loss_is_not_rewritten(module):
    """`softmax(z)` normalizes the last axis; a loss over axis 0 of it uses the probabilities."""
    labels, z = ONE_HOT.T.copy(), (LOGITS.T / 100.0).copy()
    loss, _ = _loss_and_grad(module.categorical_other_axis, labels, z)
    p = tf.nn.softmax(z)
    expected = keras.losses.categorical_crossentropy(labels, p, axis=0)
    np.testing.assert_allclose(loss, expected.numpy(), rtol=1e-5)


def test_probabilities_from_elsewhere_are_clipped_as_keras_clips_them(tmp_path):
    """Given probabilities (not a softmax's output in the graph) the loss is Keras' clipped one."""
    path = tmp_path / "p.tfm"
    path.write_text("module P:\n    fn f(y: f32[N, 3], p: f32[N, 3]) -> f32[N]:\n"
                    "        return categorical_crossentropy(y, p)\n")
    m = tfm.load(path).P()
    probabilities = np.array([[1.0, 0.0, 0.0], [0.2, 0.7, 0.1]], np.float32)
    labels = ONE_HOT[:2]
    np.testing.assert_allclose(m.f(labels, probabilities).numpy(),
                               keras.losses.categorical_crossentropy(labels, probabilities).numpy(), rtol=1e-6)
