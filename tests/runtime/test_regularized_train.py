"""Regularized training against Keras' `fit` (issue 23 item 4): a Conv2D + Dense model with kernel, bias
and activity regularizers, trained by `tfm train` with the documented train-step idiom (the loss plus
`regularization_losses()` plus each layer's `activity_loss`), ends with the weights Keras 3 reaches
from the same weights, regularizers, batches and optimizer."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import tfm
from tfm.cli import main

keras = tf.keras

SOURCE = """module Regularized:
    sub conv = Conv2D(1, 4, 3, activation="relu", kernel_regularizer="l2(0.01)", bias_regularizer="l1(0.001)",
        activity_regularizer="l2(0.001)")
    sub gap = GlobalAveragePooling2D()
    sub head = Dense(4, 3, kernel_regularizer="l1_l2(l1=0.001, l2=0.01)", bias_regularizer="l2",
        activity_regularizer="l1(0.01)")
    sub optimizer = SGD(learning_rate=0.1)

    fn train_step(images: f32[N, 6, 6, 1], labels: i32[N]) -> f32[]:
        with GradientTape() as tape:
            features = conv(images)
            logits = head(gap(features))
            loss = reduce_mean(sparse_categorical_crossentropy(labels, logits, from_logits=True))
            loss = loss + regularization_losses() + conv.activity_loss(features) + head.activity_loss(logits)
        optimizer.minimize(loss, tape)
        return loss
"""


def _keras_model():
    return keras.Sequential([
        keras.Input((6, 6, 1)),
        keras.layers.Conv2D(4, 3, activation="relu", kernel_regularizer=keras.regularizers.L2(0.01),
                            bias_regularizer=keras.regularizers.L1(0.001),
                            activity_regularizer=keras.regularizers.L2(0.001)),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, kernel_regularizer=keras.regularizers.L1L2(l1=0.001, l2=0.01), bias_regularizer="l2",
                           activity_regularizer=keras.regularizers.L1(0.01)),
    ])


def _data():
    rng = np.random.default_rng(3)
    return rng.normal(size=(32, 6, 6, 1)).astype(np.float32), rng.integers(0, 3, size=32).astype(np.int32)


def test_tfm_train_with_regularizers_equals_keras_fit(tmp_path):
    source = tmp_path / "regularized.tfm"
    source.write_text(SOURCE)
    images, labels = _data()
    np.savez(tmp_path / "data.npz", images=images, labels=labels)

    # The starting weights: tfm's fresh ones (random biases too, so their regularizers matter), given to both.
    start = tfm.load(source).Regularized()
    rng = np.random.default_rng(4)
    for layer in (start.conv, start.head):
        layer.bias.assign(rng.normal(0.0, 0.3, layer.bias.shape).astype(np.float32))
    tf.train.Checkpoint(model=start).write(str(tmp_path / "start" / "ckpt"))
    weights = [v.numpy() for v in (start.conv.kernel, start.conv.bias, start.head.kernel, start.head.bias)]

    code = main(["train", str(source), "Regularized.train_step", "--data", str(tmp_path / "data.npz"),
                 "--epochs", "2", "--batch-size", "8", "--shuffle", "0", "--seed", "1",
                 "--init-from", str(tmp_path / "start" / "ckpt"), "--checkpoint-dir", str(tmp_path / "ckpt")])
    assert code == 0

    model = _keras_model()
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(images, labels, batch_size=8, epochs=2, shuffle=False, verbose=0)

    reader = tf.train.load_checkpoint(str(tmp_path / "ckpt"))
    ours = [reader.get_tensor(f"model/{layer}/{name}/.ATTRIBUTES/VARIABLE_VALUE")
            for layer in ("conv", "head") for name in ("kernel", "bias")]
    for a, b, w in zip(ours, model.get_weights(), weights, strict=True):
        assert not np.allclose(a, w)  # trained
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_the_regularizers_change_the_trajectory(tmp_path):
    """Without the penalties the same steps end elsewhere: the test above compares what the regularizers add."""
    images, labels = _data()
    source = tmp_path / "plain.tfm"
    source.write_text(SOURCE.replace(
        " + regularization_losses() + conv.activity_loss(features) + head.activity_loss(logits)", ""))
    regularized_source = tmp_path / "regularized.tfm"
    regularized_source.write_text(SOURCE)
    plain, regularized = tfm.load(source).Regularized(), tfm.load(regularized_source).Regularized()
    for a, b in zip(plain.variables, regularized.variables, strict=True):
        b.assign(a)
    for start in range(0, 32, 8):
        plain.train_step(images[start:start + 8], labels[start:start + 8])
        regularized.train_step(images[start:start + 8], labels[start:start + 8])
    assert regularized.regularization_losses().numpy() > 0.0
    assert not np.allclose(plain.head.kernel.numpy(), regularized.head.kernel.numpy(), atol=1e-5)
