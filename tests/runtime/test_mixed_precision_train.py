"""Mixed precision on real TensorFlow: a CNN (Conv2D, pooling, Dense) trained in mixed_bfloat16 follows
Keras 3 under the same policy from the same weights (losses and weights), `tfm train --mixed-precision`
builds the module with the policy, the trained module exports, and mixed_float16 scales the loss as
Keras' LossScaleOptimizer does (a step with inf gradients is skipped and the scale halves)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

import tfm
from tfm.exports.formats import ExportError
from tfm.cli import main

keras = pytest.importorskip("keras")

CNN = """
module CNN:
    sub conv = Conv2D(4, 3, padding="SAME", activation="relu", seed=1)
    sub pool = MaxPool2D(2)
    sub flat = Flatten()
    sub hidden = Dense(16, activation="relu", seed=2)
    sub head = Dense(3, seed=3)
    sub optimizer = Adam(learning_rate=0.01)

    @serving
    fn call(images: f32[N, 8, 8, 1]) -> f32[N, 3]:
        return head(hidden(flat(pool(conv(images)))))

    fn train_step(images: f32[N, 8, 8, 1], labels: i32[N]) -> f32[]:
        with GradientTape() as tape:
            # bf16 logits: the loss casts them and computes in f32, as Keras' losses do
            loss = reduce_mean(sparse_categorical_crossentropy(labels, call(images), from_logits=True))
        optimizer.minimize(loss, tape)
        return loss
"""

STEPS = 6


def _data(rows: int = 32):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 8, 8, 1)).astype(np.float32)
    y = (x[:, :4, :4, 0].mean(axis=(1, 2)) > 0).astype(np.int32) + (x[:, 4:, 4:, 0].mean(axis=(1, 2)) > 0)
    return x, y.astype(np.int32)


@functools.cache
def _compiled():
    return tfm.compile_text(CNN, "cnn.tfm")


def _module(policy: str | None):
    from tfm.loading.loader import import_compiled

    cls = import_compiled(_compiled()).CNN
    return cls() if policy is None else cls(dtype=policy)


def _keras_twin(module, policy: str):
    """The same network as Keras layers under `policy`, with the module's weights."""
    layers = [keras.layers.Conv2D(4, 3, padding="same", activation="relu", dtype=policy),
              keras.layers.MaxPooling2D(2, dtype=policy), keras.layers.Flatten(dtype=policy),
              keras.layers.Dense(16, activation="relu", dtype=policy), keras.layers.Dense(3, dtype=policy)]
    model = keras.Sequential([keras.Input((8, 8, 1)), *layers])
    model.set_weights([v.numpy() for v in (module.conv.kernel, module.conv.bias, module.hidden.kernel,
                                           module.hidden.bias, module.head.kernel, module.head.bias)])
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_bf16_cnn_trains_as_keras_does():
    module = _module("mixed_bfloat16")
    twin = _keras_twin(module, "mixed_bfloat16")
    x, y = _data()
    # under the policy: outputs in bf16, variables in f32, as Keras' layers
    assert module.call(x).dtype == tf.bfloat16 and twin(x).dtype == "bfloat16"
    assert {v.dtype for v in module.trainable_variables} == {tf.float32}
    np.testing.assert_allclose(module.call(x).numpy().astype(np.float32),
                               np.asarray(twin(x)).astype(np.float32), rtol=2e-2, atol=2e-2)
    ours, theirs = [], []
    for _ in range(STEPS):
        ours.append(float(module.train_step(x, y)))
        theirs.append(float(twin.train_on_batch(x, y)))
    np.testing.assert_allclose(ours, theirs, rtol=2e-2)
    assert ours[-1] < ours[0]  # it learns
    weights = [module.conv.kernel, module.conv.bias, module.hidden.kernel, module.hidden.bias,
               module.head.kernel, module.head.bias]
    for got, want in zip(weights, twin.get_weights()):
        np.testing.assert_allclose(got.numpy(), want, rtol=5e-2, atol=5e-3)


def test_float32_is_unchanged_and_differs_from_bf16():
    """The default policy computes in f32 (as before policies); bf16 rounds, so the two differ a little."""
    plain, mixed = _module(None), _module("mixed_bfloat16")
    x, _ = _data()
    assert plain._dtype_policy == "float32" and plain.call(x).dtype == tf.float32
    full, half = plain.call(x).numpy(), mixed.call(x).numpy().astype(np.float32)
    assert not np.array_equal(full, half)
    np.testing.assert_allclose(half, full, rtol=5e-2, atol=5e-2)


def test_tfm_train_mixed_precision_builds_the_policy(tmp_path):
    x, y = _data()
    np.savez(tmp_path / "data.npz", images=x, labels=y)
    source = tmp_path / "cnn.tfm"
    source.write_text(CNN)
    result = tfm.train(source, "CNN.train_step", tmp_path / "data.npz", steps=3, batch_size=32, shuffle=0, seed=0,
                       progress=False, mixed_precision="bf16")
    model: Any = result.model
    assert model._dtype_policy == "mixed_bfloat16" and model.head._dtype_policy == "mixed_bfloat16"
    assert model.call(x).dtype == tf.bfloat16
    # the command line's flag builds it the same way
    assert main(["train", str(source), "CNN.train_step", "--data", str(tmp_path / "data.npz"), "--steps", "1",
                 "--mixed-precision", "bf16", "--quiet"]) == 0
    with pytest.raises(tfm.run.training.TrainingError, match="dtype policy 'float32'"):
        tfm.train(source, "CNN.train_step", tmp_path / "data.npz", steps=1, progress=False,
                  mixed_precision="f16", instance=_module(None))


def test_trained_bf16_module_exports(tmp_path):
    module = _module("mixed_bfloat16")
    x, y = _data()
    for _ in range(2):
        module.train_step(x, y)
    report = tfm.export(_compiled(), "CNN", tmp_path / "saved", instance=module)
    assert report is not None
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    served = loaded.signatures["serving_default"](images=tf.constant(x))
    (output,) = served.values()
    assert output.dtype == tf.bfloat16
    np.testing.assert_array_equal(output.numpy(), module.call(x).numpy())
    # TFLite's builtins compute in f32: a clear refusal, and the way out it names (a float32 build
    # given the trained weights, which are f32) converts and runs in LiteRT
    with pytest.raises(ExportError, match="TFLite's builtin ops compute in float32.*mixed_bfloat16"):
        tfm.export(_compiled(), "CNN", tmp_path / "refused", instance=module, tflite=tmp_path / "refused.tflite")
    plain = _module(None)
    for mine, trained in zip(plain.trainable_variables, module.trainable_variables):
        mine.assign(trained)
    report = tfm.export(_compiled(), "CNN", tmp_path / "plain", instance=plain, tflite=tmp_path / "plain.tflite")
    assert (tmp_path / "plain.tflite").is_file()
    np.testing.assert_allclose(plain.call(x).numpy(), module.call(x).numpy().astype(np.float32), rtol=5e-2, atol=5e-2)


F16 = """
module Scaled:
    sub dense = Dense(4, 2, seed=0)
    sub optimizer = SGD(learning_rate=0.1)

    fn train_step(x: f32[N, 4]) -> f32[]:
        with GradientTape() as tape:
            loss = reduce_mean(cast(dense(x), f32))
        optimizer.minimize(loss, tape)
        return loss
"""


def _f16_module():
    from tfm.loading.loader import import_compiled

    return import_compiled(tfm.compile_text(F16, "scaled.tfm")).Scaled(dtype="mixed_float16")


def test_f16_loss_scaling_skips_steps_with_inf_gradients():
    module = _f16_module()
    optimizer = module.optimizer
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert module.dense.kernel.dtype == tf.float32
    scale = float(optimizer.dynamic_scale.numpy())
    assert scale == 2.0**15
    before = module.dense.kernel.numpy()
    # 70000 overflows f16: the forward pass makes inf, so the gradients are not finite
    module.train_step(np.full((2, 4), 7e4, np.float32))
    np.testing.assert_array_equal(module.dense.kernel.numpy(), before)  # the step is skipped
    assert float(optimizer.dynamic_scale.numpy()) == scale / 2  # and the scale halves
    assert int(optimizer.iterations.numpy()) == 0
    # a finite step: applied with the gradients unscaled, as an f32 SGD step of the same gradient
    x = np.random.default_rng(1).normal(size=(8, 4)).astype(np.float32)
    kernel = module.dense.kernel.numpy()
    module.train_step(x)
    expected = kernel - 0.1 * np.repeat(x.mean(axis=0, keepdims=True).T, 2, axis=1) / 2
    np.testing.assert_allclose(module.dense.kernel.numpy(), expected, rtol=1e-2, atol=1e-3)
    assert float(optimizer.dynamic_scale.numpy()) == scale / 2
    assert int(optimizer.iterations.numpy()) == 1


def test_f16_scaling_keeps_small_gradients_that_f16_would_lose():
    """Without the scale these gradients underflow to 0 in f16; scaled, the step moves the weights."""
    module = _f16_module()
    x = np.full((8, 4), 1e-4, np.float32)
    kernel = module.dense.kernel.numpy()
    module.train_step(x)
    # d loss / d kernel = mean(x) / 2 per output: 5e-5, below f16's smallest normal (6e-5)
    np.testing.assert_allclose(kernel - module.dense.kernel.numpy(), np.full((4, 2), 0.1 * 5e-5), rtol=5e-2)


SCORED = """
module Scored(dtype: str = "mixed_bfloat16"):
    sub head = Dense(4, 3, seed=0)
    sub accuracy = SparseCategoricalAccuracy()

    fn evaluate(x: f32[N, 4], labels: i32[N]) -> f32[]:
        accuracy.update_state(labels, head(x))
        return accuracy.result()
"""


def test_a_module_wide_policy_reaches_layers_but_not_metrics():
    from tfm.loading.loader import import_compiled

    module = import_compiled(tfm.compile_text(SCORED, "scored.tfm")).Scored()
    assert module._dtype_policy == module.head._dtype_policy == "mixed_bfloat16"
    assert module.accuracy._dtype_policy == "float32"  # a Keras metric's dtype is float32
    x = np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32)
    labels = np.asarray(module.head.call(x)).astype(np.float32).argmax(axis=1).astype(np.int32)
    labels[:7] = (labels[:7] + 1) % 3  # 293 of 300 right: a ratio bf16 (3 digits) would not keep
    result = module.evaluate(x, labels)
    assert result.dtype == tf.float32
    assert float(result) == pytest.approx(293 / 300, rel=1e-6)
