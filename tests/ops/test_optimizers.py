"""The optimizers a .tfm module holds are TensorFlow's own: the same loss and weight trajectories as the
same model written by hand with the same tf.keras optimizer, a learning rate that can change after
the first trace, and their keyword arguments checked by `tfm check`."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import tfm
from tfm import dsl
from tfm.loading.loader import import_compiled

SETTINGS = {
    "SGD": "learning_rate=0.05",
    "SGD momentum": "learning_rate=0.05, momentum=0.9",
    "SGD nesterov": "learning_rate=0.05, momentum=0.9, nesterov=True",
    "Adam": "learning_rate=0.05",
    "Adam amsgrad clipnorm": "learning_rate=0.05, amsgrad=True, clipnorm=0.5",
    "AdamW": "learning_rate=0.05, weight_decay=0.01",
    "RMSprop": "learning_rate=0.01, rho=0.8, momentum=0.5, centered=True",
    "Adagrad": "learning_rate=0.1, initial_accumulator_value=0.2, global_clipnorm=1.0",
}
W0 = np.array([[0.5], [-0.3], [0.2]], np.float32)


def _source(kind: str, settings: str) -> str:
    return (f"module Regression:\n    var w: f32[3, 1] = {W0.tolist()}\n    var b: f32[1] = [0.1]\n"
            f"    sub optimizer = {kind}({settings})\n\n"
            "    fn train_step(x: f32[N, 3], y: f32[N, 1]) -> f32[]:\n"
            "        with GradientTape() as tape:\n"
            "            loss = reduce_mean(square(x @ w + b - y))\n"
            "        optimizer.minimize(loss, tape)\n"
            "        return loss\n")


class HandWritten(tf.Module):
    """The same model as the seeds write it: tf.Module, tf.GradientTape, a tf.keras optimizer."""

    def __init__(self, optimizer):
        super().__init__()
        self.w = tf.Variable(W0)
        self.b = tf.Variable([0.1])
        self.optimizer = optimizer
        self.optimizer.build([self.w, self.b])

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32), tf.TensorSpec([None, 1], tf.float32)])
    def train_step(self, x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(x @ self.w + self.b - y))
        grads = tape.gradient(loss, [self.w, self.b])
        self.optimizer.apply_gradients(zip(grads, [self.w, self.b]))
        return loss


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [2.0], [-1.0]]) + 0.5).astype(np.float32)


def _build(kind: str, settings: str):
    compiled = tfm.compile_text(_source(kind, settings), f"{kind.lower()}.tfm")
    return import_compiled(compiled).Regression()


@pytest.mark.parametrize("label", SETTINGS)
def test_trajectory_equals_the_same_keras_optimizer_by_hand(label):
    kind = label.split()[0]
    model = _build(kind, SETTINGS[label])
    keyword_args = eval(f"dict({SETTINGS[label]})")  # noqa: S307 - the test's own literal settings
    reference = HandWritten(getattr(tf.keras.optimizers, kind)(**keyword_args))
    x, y = _data()
    for _ in range(20):
        np.testing.assert_allclose(float(model.train_step(x, y)), float(reference.train_step(x, y)), rtol=1e-6)
        np.testing.assert_allclose(model.w.numpy(), reference.w.numpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(model.b.numpy(), reference.b.numpy(), rtol=1e-6, atol=1e-7)
    assert int(model.optimizer.iterations) == 20


@pytest.mark.parametrize("kind", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_a_learning_rate_set_to_zero_after_the_first_step_stops_the_weights(kind):
    model = _build(kind, "learning_rate=0.1, weight_decay=0.01")
    x, y = _data()
    model.train_step(x, y)
    model.optimizer.learning_rate = 0.0  # after the first trace: no retrace needed
    before = model.w.numpy().copy()
    for _ in range(3):
        model.train_step(x, y)
    np.testing.assert_array_equal(model.w.numpy(), before)
    assert model.train_step.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("settings, message", [
    ("learning_rate=0.1, clipnorm=1.0, global_clipnorm=1.0", "takes one of clipnorm"),
    ("learning_rate=0.1, beta_9=0.5", "has no parameter `beta_9`"),
    ("learning_rate=0.1, nesterov=1", "is bool"),
    ("learning_rate=\"fast\"", "is float"),
])
def test_optimizer_arguments_are_checked(settings, message):
    with pytest.raises(dsl.TfmError, match=message):
        dsl.analyze(_source("SGD", settings), "opt.tfm")


SCHEDULES = {
    "ExponentialDecay(0.1, 5, 0.5)": tf.keras.optimizers.schedules.ExponentialDecay(0.1, 5, 0.5),
    "ExponentialDecay(initial_learning_rate=0.1, decay_steps=5, decay_rate=0.5, staircase=True)":
        tf.keras.optimizers.schedules.ExponentialDecay(0.1, 5, 0.5, staircase=True),
    "CosineDecay(0.1, 20, alpha=0.1)": tf.keras.optimizers.schedules.CosineDecay(0.1, 20, alpha=0.1),
    "PiecewiseConstantDecay([5, 10], [0.1, 0.05, 0.01])":
        tf.keras.optimizers.schedules.PiecewiseConstantDecay([5, 10], [0.1, 0.05, 0.01]),
    "InverseTimeDecay(0.1, 5, 0.5)": tf.keras.optimizers.schedules.InverseTimeDecay(0.1, 5, 0.5),
    "PolynomialDecay(0.1, 20, end_learning_rate=0.01)":
        tf.keras.optimizers.schedules.PolynomialDecay(0.1, 20, end_learning_rate=0.01),
}


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_learning_rate_schedules_follow_tensorflows(schedule):
    model = _build("Adam", f"learning_rate={schedule}")
    reference = HandWritten(tf.keras.optimizers.Adam(learning_rate=SCHEDULES[schedule]))
    x, y = _data()
    for _ in range(20):
        np.testing.assert_allclose(float(model.train_step(x, y)), float(reference.train_step(x, y)), rtol=1e-6)
    np.testing.assert_allclose(model.w.numpy(), reference.w.numpy(), rtol=1e-6, atol=1e-7)
    assert float(model.optimizer.learning_rate) < 0.1  # the rate the schedule gives at step 20


@pytest.mark.parametrize("settings, message", [
    ("learning_rate=ExponentialDecay(0.1, 5)", "missing argument `decay_rate`"),
    ("learning_rate=ExponentialDecay(0.1, 5.5, 0.5)", "`decay_steps` is int"),
    ("learning_rate=ExponentialDecoy(0.1, 5, 0.5)", "did you mean `ExponentialDecay`"),
    ("learning_rate=PiecewiseConstantDecay([5], \"fast\")", "`values` is list"),
    ("learning_rate=0.1, momentum=ExponentialDecay(0.1, 5, 0.5)", "only literals and constructor parameters"),
])
def test_schedule_arguments_are_checked(settings, message):
    with pytest.raises(dsl.TfmError, match=message):
        dsl.analyze(_source("SGD", settings), "schedule.tfm")


@pytest.mark.parametrize("kind", ["SGD", "Adam", "RMSprop"])
def test_optimizer_state_is_restored_from_a_checkpoint(kind, tmp_path):
    """5 steps, a checkpoint, a fresh module restored from it, 5 more steps: the same weights and step
    count as 10 uninterrupted steps (the slots and the step count came back with the checkpoint)."""
    settings = "learning_rate=0.05, momentum=0.9" if kind != "Adam" else "learning_rate=0.05"
    x, y = _data()
    straight = _build(kind, settings)
    for _ in range(10):
        straight.train_step(x, y)
    first = _build(kind, settings)
    for _ in range(5):
        first.train_step(x, y)
    path = tf.train.Checkpoint(model=first).write(str(tmp_path / "ckpt"))
    resumed = _build(kind, settings)
    tf.train.Checkpoint(model=resumed).read(path).assert_consumed()
    for _ in range(5):
        resumed.train_step(x, y)
    np.testing.assert_allclose(resumed.w.numpy(), straight.w.numpy(), rtol=1e-6)
    assert int(resumed.optimizer.iterations) == 10
