"""Gradients as values: `tape.gradient` with every kind of source, nested and persistent tapes,
`unconnected_gradients="zero"`, `apply_gradients`, `minimize(..., var_list=...)`, hand-written updates and
members of submodules read and set from the parent, each compared with the same TensorFlow written by
hand. examples/wgan_gp.tfm (a gradient penalty through nested tapes, two optimizers, several critic steps
per generator step) follows a hand-written WGAN-GP step for step, and is exported once trained."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import tfm
from support import EXAMPLES, load_example

RTOL = 1e-5


def _load_file(source: str):
    import tempfile
    from pathlib import Path

    directory = Path(tempfile.mkdtemp())
    path = directory / "gradient_case.tfm"
    path.write_text(source, encoding="utf-8")
    return tfm.load(path, module_name=f"tfm_gradient_case_{abs(hash(source))}")


SOURCES = """
module M:
    var w: f32[3, 2] = [[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]]
    var b: f32[2] = [0.5, -0.5]
    var unused: f32[2] = [1.0, 2.0]

    fn by_variable(x: f32[N, 3]) -> f32[3, 2]:
        with GradientTape() as tape:
            loss = reduce_sum(square(x @ w + b))
        return tape.gradient(loss, w)

    fn by_list(x: f32[N, 3]) -> (dw: f32[3, 2], db: f32[2]):
        with GradientTape() as tape:
            loss = reduce_sum(square(x @ w + b))
        grads = tape.gradient(loss, [w, b])
        return grads[0], grads[1]

    fn by_input(x: f32[N, 3]) -> f32[N, 3]:
        with GradientTape() as tape:
            tape.watch(x)
            loss = reduce_sum(square(x @ w + b))
        return tape.gradient(loss, x)

    fn by_local(x: f32[N, 3]) -> (dh: f32[N, 2], dz: f32[N, 3]):
        z = x * 2.0
        with GradientTape(persistent=True) as tape:
            tape.watch(z)
            h = z @ w
            loss = reduce_sum(square(h + b))
        return tape.gradient(loss, h), tape.gradient(loss, z)

    fn second_order(x: f32[N]) -> (dy: f32[N], d2y: f32[N]):
        with GradientTape() as outer:
            outer.watch(x)
            with GradientTape() as inner:
                inner.watch(x)
                y = x * x * x
            dy = inner.gradient(y, x)
        return dy, outer.gradient(dy, x)

    fn persistent_tape(x: f32[N, 3]) -> (dw: f32[3, 2], db: f32[2]):
        with GradientTape(persistent=True) as tape:
            loss = reduce_sum(square(x @ w + b))
        return tape.gradient(loss, w), tape.gradient(loss, b)

    fn unconnected(x: f32[N, 3]) -> f32[2]:
        with GradientTape() as tape:
            loss = reduce_sum(x @ w)
        return tape.gradient(loss, unused, unconnected_gradients="zero")

    fn sgd_by_hand(x: f32[N, 3], lr: f32[]):
        with GradientTape() as tape:
            loss = reduce_sum(square(x @ w + b))
        grads = tape.gradient(loss, [w, b])
        w.assign_sub(lr * grads[0])
        b.assign_sub(lr * grads[1])
"""

X = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], np.float32)


def _hand_gradients(sources_of):
    w = tf.Variable([[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]])
    b = tf.Variable([0.5, -0.5])
    x = tf.constant(X)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        loss = tf.reduce_sum(tf.square(x @ w + b))
    return [g.numpy() for g in tape.gradient(loss, sources_of(w, b, x))]


@pytest.fixture(scope="module")
def module():
    return _load_file(SOURCES).M()


def test_gradients_of_a_variable_a_list_and_a_watched_input_are_tensorflows(module):
    dw, db, dx = _hand_gradients(lambda w, b, x: [w, b, x])
    np.testing.assert_allclose(module.by_variable(X).numpy(), dw, rtol=RTOL)
    listed = module.by_list(X)
    np.testing.assert_allclose(listed["dw"].numpy(), dw, rtol=RTOL)
    np.testing.assert_allclose(listed["db"].numpy(), db, rtol=RTOL)
    np.testing.assert_allclose(module.by_input(X).numpy(), dx, rtol=RTOL)
    persistent = module.persistent_tape(X)
    np.testing.assert_allclose(persistent["dw"].numpy(), dw, rtol=RTOL)
    np.testing.assert_allclose(persistent["db"].numpy(), db, rtol=RTOL)


def test_a_watched_local_and_one_computed_under_the_tape_are_sources(module):
    w = np.array([[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]], np.float32)
    h = (X * 2.0) @ w
    dh = 2 * (h + np.array([0.5, -0.5], np.float32))
    result = module.by_local(X)
    np.testing.assert_allclose(result["dh"].numpy(), dh, rtol=RTOL)
    np.testing.assert_allclose(result["dz"].numpy(), dh @ w.T, rtol=RTOL)


def test_nested_tapes_give_the_second_derivative(module):
    x = np.array([1.0, -2.0, 0.5], np.float32)
    result = module.second_order(x)
    np.testing.assert_allclose(result["dy"].numpy(), 3 * x * x, rtol=RTOL)
    np.testing.assert_allclose(result["d2y"].numpy(), 6 * x, rtol=RTOL)


def test_an_unconnected_source_gets_zeros_when_asked(module):
    np.testing.assert_array_equal(module.unconnected(X).numpy(), np.zeros(2, np.float32))


def test_a_hand_written_update_is_plain_gradient_descent():
    module = _load_file(SOURCES).M()
    dw, db = _hand_gradients(lambda w, b, x: [w, b])
    w0, b0 = module.w.numpy(), module.b.numpy()
    module.sgd_by_hand(X, np.float32(0.1))
    np.testing.assert_allclose(module.w.numpy(), w0 - 0.1 * dw, rtol=RTOL)
    np.testing.assert_allclose(module.b.numpy(), b0 - 0.1 * db, rtol=RTOL)


MEMBERS = """
module Model:
    sub dense = Dense(3, 2, seed=1)
    sub emb = Embedding(10, 4, seed=2)
    sub optimizer = SGD(learning_rate=0.5)

    fn penalty() -> f32[]:
        return 0.01 * reduce_sum(square(dense.kernel))

    fn lookup(ids: i32[N]) -> f32[N, 4]:
        return gather(emb.embeddings, ids)

    fn train_step(x: f32[N, 3]) -> (loss: f32[], rate: f32[], steps: i64[]):
        with GradientTape() as tape:
            loss = reduce_mean(square(dense(x))) + penalty()
        optimizer.minimize(loss, tape, var_list=[dense.kernel, dense.bias])
        return loss, optimizer.learning_rate, optimizer.iterations

    fn set_rate(rate: f32[]):
        optimizer.learning_rate.assign(rate)

    fn shrink(factor: f32[]):
        dense.kernel.assign(dense.kernel * factor)
"""


def test_members_of_submodules_are_read_and_set_from_the_parent():
    model = _load_file(MEMBERS).Model()
    kernel = model.dense.kernel.numpy()
    np.testing.assert_allclose(model.penalty().numpy(), 0.01 * np.sum(kernel ** 2), rtol=RTOL)
    ids = np.array([3, 0, 3], np.int32)
    np.testing.assert_array_equal(model.lookup(ids).numpy(), model.emb.embeddings.numpy()[ids])
    model.set_rate(np.float32(0.25))
    result = model.train_step(X)
    assert result["rate"].numpy() == pytest.approx(0.25)
    assert result["steps"].numpy() == 1 and result["steps"].dtype == tf.int64
    model.shrink(np.float32(0.5))
    # one SGD step on the loss by hand, then the kernel halved
    k, b = tf.Variable(kernel), tf.Variable(np.zeros(2, np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(X @ k + b)) + 0.01 * tf.reduce_sum(tf.square(k))
    gk, gb = tape.gradient(loss, [k, b])
    np.testing.assert_allclose(result["loss"].numpy(), loss.numpy(), rtol=RTOL)
    np.testing.assert_allclose(model.dense.kernel.numpy(), 0.5 * (kernel - 0.25 * gk.numpy()), rtol=RTOL)
    np.testing.assert_allclose(model.dense.bias.numpy(), -0.25 * gb.numpy(), rtol=RTOL, atol=1e-7)


# WGAN-GP, examples/wgan_gp.tfm, against the same step written by hand ----------------------------------

class _Dense:
    def __init__(self, layer, activation=None):
        self.kernel = tf.Variable(layer.kernel.numpy())
        self.bias = tf.Variable(layer.bias.numpy())
        self.activation = activation

    def __call__(self, x):
        y = x @ self.kernel + self.bias
        return self.activation(y) if self.activation else y


class HandWrittenWganGp(tf.Module):
    """The WGAN-GP step as a TensorFlow user writes it, starting from the tfm model's weights."""

    def __init__(self, model, critic_steps: int, penalty_weight: float):
        super().__init__()
        self.g1 = _Dense(model.generator.hidden_layer, tf.nn.relu)
        self.g2 = _Dense(model.generator.output_layer)
        self.c1 = _Dense(model.critic.hidden_layer, tf.math.tanh)
        self.c2 = _Dense(model.critic.output_layer)
        self.generator_vars = [self.g1.kernel, self.g1.bias, self.g2.kernel, self.g2.bias]
        self.critic_vars = [self.c1.kernel, self.c1.bias, self.c2.kernel, self.c2.bias]
        self.g_opt = tf.keras.optimizers.Adam(learning_rate=0.0002, beta_1=0.5, beta_2=0.9)
        self.c_opt = tf.keras.optimizers.Adam(learning_rate=0.0002, beta_1=0.5, beta_2=0.9)
        self.g_opt.build(self.generator_vars)
        self.c_opt.build(self.critic_vars)
        self.critic_steps, self.penalty_weight = critic_steps, penalty_weight

    def generator(self, z):
        return self.g2(self.g1(z))

    def critic(self, x):
        return self.c2(self.c1(x))

    @tf.function
    def train_step(self, real, noise, mix, generator_noise):
        critic_cost = tf.constant(0.0)
        for step in range(self.critic_steps):
            with tf.GradientTape() as tape:
                fake = self.generator(noise[step])
                between = mix[step] * real + (1.0 - mix[step]) * fake
                with tf.GradientTape() as inner:
                    inner.watch(between)
                    score = self.critic(between)
                slope = inner.gradient(score, between)
                norm = tf.sqrt(tf.reduce_sum(tf.square(slope), axis=1) + 1e-12)
                penalty = tf.reduce_mean(tf.square(norm - 1.0))
                critic_cost = (tf.reduce_mean(self.critic(fake)) - tf.reduce_mean(self.critic(real))
                               + self.penalty_weight * penalty)
            grads = tape.gradient(critic_cost, self.critic_vars)
            self.c_opt.apply_gradients(zip(grads, self.critic_vars))
        with tf.GradientTape() as tape:
            generator_cost = -tf.reduce_mean(self.critic(self.generator(generator_noise)))
        grads = tape.gradient(generator_cost, self.generator_vars)
        self.g_opt.apply_gradients(zip(grads, self.generator_vars))
        return critic_cost, generator_cost


def _batches(steps: int, critic_steps: int, n: int = 16, latent: int = 4):
    """Synthetic data: real points on a ring of radius 2; noise and mixing weights drawn once, up front."""
    rng = np.random.default_rng(0)
    for _ in range(steps):
        angle = rng.uniform(0, 2 * np.pi, n)
        real = np.stack([2 * np.cos(angle), 2 * np.sin(angle)], axis=1).astype(np.float32)
        yield (real, rng.normal(size=(critic_steps, n, latent)).astype(np.float32),
               rng.uniform(size=(critic_steps, n, 1)).astype(np.float32),
               rng.normal(size=(n, latent)).astype(np.float32))


@pytest.fixture(scope="module")
def wgan():
    return load_example("wgan_gp")


def test_wgan_gp_follows_the_hand_written_step_for_step(wgan):
    model = wgan.WganGp(seed=3)
    by_hand = HandWrittenWganGp(model, critic_steps=3, penalty_weight=10.0)
    for batch in _batches(6, critic_steps=3):
        ours = model.train_step(*batch)
        theirs = by_hand.train_step(*(tf.constant(t) for t in batch))
        np.testing.assert_allclose(ours["critic_cost"].numpy(), theirs[0].numpy(), rtol=RTOL)
        np.testing.assert_allclose(ours["generator_cost"].numpy(), theirs[1].numpy(), rtol=RTOL)
        layers = [model.generator.hidden_layer, model.generator.output_layer,
                  model.critic.hidden_layer, model.critic.output_layer]
        for layer, hand in zip(layers, [by_hand.g1, by_hand.g2, by_hand.c1, by_hand.c2]):
            np.testing.assert_allclose(layer.kernel.numpy(), hand.kernel.numpy(), rtol=RTOL, atol=1e-7)
            np.testing.assert_allclose(layer.bias.numpy(), hand.bias.numpy(), rtol=RTOL, atol=1e-7)
    # each optimizer stepped its own variables only: the critic three times per step, the generator once
    assert model.critic_optimizer.iterations.numpy() == 18
    assert model.generator_optimizer.iterations.numpy() == 6


def test_wgan_gp_trains_on_synthetic_data_and_is_exported(wgan, tmp_path):
    model = wgan.WganGp(seed=5)
    before = model.generator.output_layer.kernel.numpy()
    costs = [model.train_step(*batch) for batch in _batches(10, critic_steps=3)]
    assert all(np.isfinite(c["critic_cost"].numpy()) and np.isfinite(c["generator_cost"].numpy()) for c in costs)
    assert not np.array_equal(before, model.generator.output_layer.kernel.numpy())
    report = tfm.export(EXAMPLES / "wgan_gp.tfm", "WganGp", tmp_path / "m", instance=model)
    assert [s.key for s in report.signatures] == ["serving_default"]  # the @serving method alone, by default
    assert "critic_loss" in report.left_out
    assert "train_step" in report.left_out
    z = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    loaded = tf.saved_model.load(str(tmp_path / "m"))
    np.testing.assert_allclose(loaded.signatures["serving_default"](z=z)["output_0"].numpy(),
                               model.generate(z).numpy(), rtol=RTOL)


def test_wgan_gp_train_step_is_autograph_code(wgan):
    """AutoGraph converts the generated step: the critic loop over a construction-time count is a
    converted `for` over a Python range (unrolled when traced), the tapes' gradients and the optimizer
    calls are converted calls."""
    code = tf.autograph.to_code(wgan.WganGp._impl_train_step)
    assert "ag__.for_stmt(ag__.converted_call(ag__.ld(_range)" in code
    assert "ag__.converted_call(ag__.ld(tape).gradient" in code
    assert "ag__.converted_call(ag__.ld(_apply_gradients)" in code and "ag__.converted_call(ag__.ld(_minimize)" in code
    penalty = tf.autograph.to_code(wgan.WganGp._impl_critic_loss)
    assert "ag__.converted_call(ag__.ld(inner).watch" in penalty
    assert "ag__.converted_call(ag__.ld(inner).gradient" in penalty
