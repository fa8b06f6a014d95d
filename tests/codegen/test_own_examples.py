"""The examples beyond the seeds, each against hand-written TF or numpy."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from support import load_example


def test_linear_regression_adam_matches_keras_adam_and_fits():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    true_w = np.array([[1.5], [-2.0], [0.5]], np.float32)
    y = x @ true_w + 0.3
    ours = load_example("linear_regression").LinearRegression(learning_rate=0.05)
    w = tf.Variable(ours.w.numpy())
    b = tf.Variable(ours.b.numpy())
    adam = tf.keras.optimizers.Adam(learning_rate=0.05)
    for _ in range(5):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(x @ w + b - y))
        grads = tape.gradient(loss, [b, w])
        adam.apply_gradients(zip(grads, [b, w]))
        result = ours.train_step(x, y)
        np.testing.assert_allclose(result["loss"].numpy(), loss.numpy(), rtol=1e-5)
        np.testing.assert_allclose(ours.w.numpy(), w.numpy(), rtol=1e-5, atol=1e-6)
    for _ in range(300):
        result = ours.train_step(x, y)
    assert float(result["loss"]) < 1e-3
    np.testing.assert_allclose(ours.w.numpy(), true_w, atol=0.05)
    assert int(ours.optimizer.iterations.numpy()) == 305


def test_rnn_cell_matches_handwritten_loop():
    rnn = load_example("rnn_cell").SimpleRNN(input_dim=4, units=8)
    xs = np.random.default_rng(1).normal(size=(3, 6, 4)).astype(np.float32)
    h = np.zeros((3, 8), np.float32)
    states = []
    for t in range(6):
        h = np.tanh(xs[:, t, :] @ rnn.w_x.numpy() + h @ rnn.w_h.numpy() + rnn.b.numpy())
        states.append(h)
    out = rnn.run(xs)
    np.testing.assert_allclose(out["states"].numpy(), np.stack(states), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["last"].numpy(), h, rtol=1e-5, atol=1e-6)
    # Different sequence lengths use the same graph: the loop is not unrolled per length.
    rnn.run(xs[:, :2])
    assert rnn.run.experimental_get_tracing_count() == 1


def test_kmeans_step_matches_numpy_lloyd():
    rng = np.random.default_rng(2)
    points = np.concatenate([rng.normal(size=(30, 2)) + [4, 4], rng.normal(size=(30, 2)) - [4, 4]]).astype(
        np.float32)
    kmeans = load_example("kmeans").KMeans(k=2)
    kmeans.centroids.assign([[1.0, 1.0], [-1.0, -1.0]])
    centroids = np.array([[1.0, 1.0], [-1.0, -1.0]], np.float32)
    for _ in range(3):
        labels = np.argmin(((points[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
        centroids = np.stack([points[labels == j].mean(0) for j in range(2)])
        out = kmeans.step(points)
        np.testing.assert_array_equal(out["assignments"].numpy(), labels)
        np.testing.assert_allclose(kmeans.centroids.numpy(), centroids, rtol=1e-5)
    inertia = ((points - centroids[labels]) ** 2).sum()
    np.testing.assert_allclose(float(out["inertia"]), inertia, rtol=1e-4)


def test_dense_layer_weights_are_tracked_and_seeded(tmp_path):
    model = load_example("my_model").MyModel(num_classes=3)
    names = sorted(v.name for v in model.trainable_variables)
    assert names == ["my_model/dense_1/bias:0", "my_model/dense_1/kernel:0",
                     "my_model/dense_2/bias:0", "my_model/dense_2/kernel:0"]
    # TensorFlow's optimizer keeps its state out of the module's variable lists (so a training step over
    # trainable_variables never touches it) but in every checkpoint and SavedModel of the module.
    assert model.non_trainable_variables == ()
    saved = {name for name, _ in tf.train.list_variables(tf.train.Checkpoint(model=model).write(
        str(tmp_path / "ckpt")))}
    assert "model/optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE" in saved
    rnn_module = load_example("rnn_cell")
    a, b = rnn_module.SimpleRNN(seed=5), rnn_module.SimpleRNN(seed=5)
    np.testing.assert_array_equal(a.w_x.numpy(), b.w_x.numpy())
    assert not np.array_equal(a.w_x.numpy(), rnn_module.SimpleRNN(seed=6).w_x.numpy())
