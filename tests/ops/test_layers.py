"""The layer library against Keras 3: the same weights give the same outputs and the same gradients
(with respect to the input and to every weight), forward and backward, on real TensorFlow.

Each case compiles a `.tfm` that holds one library layer as `sub layer = ...`, copies random weights
into it and into the Keras layer (mapped by name), and compares both under a GradientTape.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

from support.layers import build_layer, compare, forward_and_grads, keras_built as _keras_built, randomize  # noqa: E402

# .ci/run runs these again with oneDNN off: a kernel one processor lacks fails CI, not a user.
pytestmark = pytest.mark.kernels

RNG = np.random.default_rng(7)


def _randomize(module) -> dict[str, np.ndarray]:
    return randomize(module, RNG)


@pytest.mark.parametrize("strides, padding, dilation", [(1, "VALID", 1), (2, "SAME", 1), (1, "SAME", 2),
                                                       (1, "VALID", 3)])
def test_conv2d_matches_keras(tmp_path, strides, padding, dilation):
    m = build_layer(tmp_path, f'Conv2D(3, 4, 3, strides={strides}, padding="{padding}", dilation_rate={dilation}, '
                         'activation="relu")', "x: f32[N, 9, 9, 3]) -> f32[N, ?, ?, 4]", "layer(x)")
    w = _randomize(m.layer)
    keras_layer = _keras_built(keras.layers.Conv2D(4, 3, strides=strides, padding=padding.lower(),
                                                   dilation_rate=dilation, activation="relu"), (None, 9, 9, 3))
    keras_layer.set_weights([w["kernel"], w["bias"]])
    x = RNG.normal(size=(2, 9, 9, 3)).astype(np.float32)
    ours = forward_and_grads(m.f, [x], [m.layer.kernel, m.layer.bias])
    theirs = forward_and_grads(keras_layer, [x], [keras_layer.kernel, keras_layer.bias])
    compare(ours, theirs)


@pytest.mark.parametrize("strides, padding, dilation", [(2, "SAME", 1), (1, "VALID", 2), (1, "SAME", 3)])
def test_conv1d_matches_keras(tmp_path, strides, padding, dilation):
    """Dilated too: the gradient of tf.nn.conv1d with dilations has no CPU kernel without oneDNN (issue 28);
    .ci/run runs this file again with TF_ENABLE_ONEDNN_OPTS=0."""
    m = build_layer(tmp_path, f'Conv1D(2, 5, 3, strides={strides}, padding="{padding}", dilation_rate={dilation}, '
                         'activation="tanh")', "x: f32[N, 10, 2]) -> f32[N, ?, 5]", "layer(x)")
    w = _randomize(m.layer)
    keras_layer = _keras_built(keras.layers.Conv1D(5, 3, strides=strides, padding=padding.lower(),
                                                   dilation_rate=dilation, activation="tanh"), (None, 10, 2))
    keras_layer.set_weights([w["kernel"], w["bias"]])
    x = RNG.normal(size=(3, 10, 2)).astype(np.float32)
    compare(forward_and_grads(m.f, [x], [m.layer.kernel, m.layer.bias]),
             forward_and_grads(keras_layer, [x], [keras_layer.kernel, keras_layer.bias]))


@pytest.mark.parametrize("construct, keras_layer", [
    ("MaxPool2D(2)", lambda: keras.layers.MaxPooling2D(2)),
    ('MaxPool2D(3, strides=1, padding="SAME")', lambda: keras.layers.MaxPooling2D(3, strides=1, padding="same")),
    ("AvgPool2D(2)", lambda: keras.layers.AveragePooling2D(2)),
    ("GlobalAveragePooling2D()", lambda: keras.layers.GlobalAveragePooling2D()),
])
def test_pooling_matches_keras(tmp_path, construct, keras_layer):
    rank_out = "f32[N, C]" if "Global" in construct else "f32[N, ?, ?, C]"
    m = build_layer(tmp_path, construct, f"x: f32[N, H, W, C]) -> {rank_out}", "layer(x)")
    x = RNG.normal(size=(2, 6, 8, 3)).astype(np.float32)
    compare(forward_and_grads(m.f, [x], []), forward_and_grads(keras_layer(), [x], []))


def test_max_pool1d_and_global_average_1d_match_keras(tmp_path):
    x = RNG.normal(size=(2, 9, 3)).astype(np.float32)
    m = build_layer(tmp_path, "MaxPool1D(3, strides=2)", "x: f32[N, W, C]) -> f32[N, ?, C]", "layer(x)")
    compare(forward_and_grads(m.f, [x], []), forward_and_grads(keras.layers.MaxPooling1D(3, strides=2), [x], []))
    m = build_layer(tmp_path, "GlobalAveragePooling1D()", "x: f32[N, W, C]) -> f32[N, C]", "layer(x)")
    compare(forward_and_grads(m.f, [x], []), forward_and_grads(keras.layers.GlobalAveragePooling1D(), [x], []))


def test_embedding_matches_keras(tmp_path):
    m = build_layer(tmp_path, "Embedding(11, 4)", "ids: i32[N, T]) -> f32[N, T, 4]", "layer(ids)")
    w = _randomize(m.layer)
    keras_layer = _keras_built(keras.layers.Embedding(11, 4), (None, 5))
    keras_layer.set_weights([w["embeddings"]])
    ids = RNG.integers(0, 11, size=(3, 5)).astype(np.int32)
    compare(forward_and_grads(m.f, [ids], [m.layer.embeddings]),
             forward_and_grads(keras_layer, [ids], [keras_layer.embeddings]))


@pytest.mark.parametrize("activation", ["linear", "relu"])
@pytest.mark.parametrize("sequence", [False, True])
def test_dense_matches_keras_on_batches_and_sequences(tmp_path, activation, sequence):
    signature, body = (("x: f32[N, T, 3]) -> f32[N, T, 5]", "layer(x)") if sequence
                       else ("x: f32[N, 3]) -> f32[N, 5]", "layer(x)"))
    m = build_layer(tmp_path, f'Dense(3, 5, activation="{activation}")', signature, body)
    w = _randomize(m.layer)
    keras_layer = _keras_built(keras.layers.Dense(5, activation=activation), (None, 3))
    keras_layer.set_weights([w["kernel"], w["bias"]])
    x = RNG.normal(size=(2, 4, 3) if sequence else (2, 3)).astype(np.float32)
    compare(forward_and_grads(m.f, [x], [m.layer.kernel, m.layer.bias]),
             forward_and_grads(keras_layer, [x], [keras_layer.kernel, keras_layer.bias]))


def test_layer_normalization_matches_keras(tmp_path):
    m = build_layer(tmp_path, "LayerNormalization(6)", "x: f32[N, T, 6]) -> f32[N, T, 6]", "layer(x)")
    w = _randomize(m.layer)
    keras_layer = _keras_built(keras.layers.LayerNormalization(), (None, 4, 6))
    keras_layer.set_weights([w["gamma"], w["beta"]])
    x = RNG.normal(2.0, 3.0, size=(2, 4, 6)).astype(np.float32)
    compare(forward_and_grads(m.f, [x], [m.layer.gamma, m.layer.beta]),
             forward_and_grads(keras_layer, [x], [keras_layer.gamma, keras_layer.beta]))


@pytest.mark.parametrize("training", [True, False])
def test_batch_normalization_matches_keras_and_moves_its_statistics(tmp_path, training):
    m = build_layer(tmp_path, "BatchNormalization(3, momentum=0.9)",
               "x: f32[N, H, W, 3], training: bool[]) -> f32[N, H, W, 3]", "layer(x, training)")
    gamma, beta = RNG.normal(size=3).astype(np.float32), RNG.normal(size=3).astype(np.float32)
    mean, variance = RNG.normal(size=3).astype(np.float32), RNG.uniform(0.5, 2.0, 3).astype(np.float32)
    for variable, value in zip([m.layer.gamma, m.layer.beta, m.layer.moving_mean, m.layer.moving_variance],
                               [gamma, beta, mean, variance]):
        variable.assign(value)
    keras_layer = _keras_built(keras.layers.BatchNormalization(momentum=0.9), (None, 4, 5, 3))
    keras_layer.set_weights([gamma, beta, mean, variance])
    x = RNG.normal(1.0, 2.0, size=(2, 4, 5, 3)).astype(np.float32)
    ours = forward_and_grads(lambda t: m.f(t, tf.constant(training)), [x], [m.layer.gamma, m.layer.beta])
    theirs = forward_and_grads(lambda t: keras_layer(t, training=training), [x], [keras_layer.gamma, keras_layer.beta])
    compare(ours, theirs, atol=1e-3)
    np.testing.assert_allclose(m.layer.moving_mean.numpy(), keras_layer.moving_mean.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(m.layer.moving_variance.numpy(), keras_layer.moving_variance.numpy(), rtol=1e-4)
    assert (np.abs(m.layer.moving_mean.numpy() - mean).max() > 1e-3) == training  # moved only in training
    assert {v.name.split("/")[-1] for v in m.trainable_variables} == {"gamma:0", "beta:0"}


def test_dropout_drops_in_training_and_passes_through_otherwise(tmp_path):
    m = build_layer(tmp_path, "Dropout(0.25)", "x: f32[N, D], training: bool[]) -> f32[N, D]", "layer(x, training)")
    x = np.ones((200, 50), np.float32)
    np.testing.assert_array_equal(m.f(x, tf.constant(False)).numpy(), x)
    y = m.f(x, tf.constant(True)).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert 0.2 < (y == 0).mean() < 0.3  # 10,000 draws: about a quarter dropped
    assert not np.array_equal(y, m.f(x, tf.constant(True)).numpy())  # a fresh mask per call


def _lstm_weights(cell):
    w = _randomize(cell)
    kernel = np.concatenate([w[f"w_{g}"] for g in "ifco"], axis=1)
    recurrent = np.concatenate([w[f"u_{g}"] for g in "ifco"], axis=1)
    bias = np.concatenate([w[f"b_{g}"] for g in "ifco"])
    return [kernel, recurrent, bias]


@pytest.mark.parametrize("sequences", [False, True])
def test_lstm_matches_keras(tmp_path, sequences):
    out = "f32[N, 7, 5]" if sequences else "f32[N, 5]"
    m = build_layer(tmp_path, "LSTM(3, 5)", f"x: f32[N, 7, 3]) -> {out}",
               "layer.call_sequence(x)" if sequences else "layer(x)")
    weights = _lstm_weights(m.layer.cell)
    keras_layer = _keras_built(keras.layers.LSTM(5, return_sequences=sequences), (None, 7, 3))
    keras_layer.set_weights(weights)
    x = RNG.normal(size=(2, 7, 3)).astype(np.float32)
    cell = m.layer.cell
    ours_vars = [getattr(cell, f"{p}_{g}") for p in "wub" for g in "ifco"]
    ours = forward_and_grads(m.f, [x], ours_vars)
    theirs = forward_and_grads(keras_layer, [x], keras_layer.trainable_variables)
    # Keras' gradients are for the fused kernel, recurrent kernel and bias: split them per gate.
    split = [part for g in theirs[1][1:] for part in np.split(g, 4, axis=-1)]
    compare((ours[0], ours[1]), (theirs[0], [theirs[1][0], *split]))


def test_gru_matches_keras(tmp_path):
    m = build_layer(tmp_path, "GRU(3, 4)", "x: f32[N, 6, 3]) -> f32[N, 6, 4]", "layer.call_sequence(x)")
    cell = m.layer.cell
    w = _randomize(cell)
    kernel = np.concatenate([w[f"w_{g}"] for g in "zrh"], axis=1)
    recurrent = np.concatenate([w[f"u_{g}"] for g in "zrh"], axis=1)
    bias = np.stack([np.concatenate([w[f"b_{g}"] for g in "zrh"]), np.concatenate([w[f"rb_{g}"] for g in "zrh"])])
    keras_layer = _keras_built(keras.layers.GRU(4, return_sequences=True), (None, 6, 3))
    keras_layer.set_weights([kernel, recurrent, bias])
    x = RNG.normal(size=(2, 6, 3)).astype(np.float32)
    ours = forward_and_grads(m.f, [x], [getattr(cell, f"{p}_{g}") for p in ("w", "u") for g in "zrh"]
                              + [getattr(cell, f"{p}_{g}") for p in ("b", "rb") for g in "zrh"])
    theirs = forward_and_grads(keras_layer, [x], keras_layer.trainable_variables)
    kernel_g, recurrent_g, bias_g = theirs[1][1:]
    split = [*np.split(kernel_g, 3, axis=-1), *np.split(recurrent_g, 3, axis=-1),
             *np.split(bias_g[0], 3), *np.split(bias_g[1], 3)]
    compare(ours, (theirs[0], [theirs[1][0], *split]))


@pytest.mark.parametrize("masked", [False, True])
def test_multi_head_attention_matches_keras(tmp_path, masked):
    signature = "q: f32[N, S, 8], v: f32[N, T, 8]" + (", mask: f32[N, S, T]" if masked else "")
    m = build_layer(tmp_path, "MultiHeadAttention(8, 2, 4)", f"{signature}) -> f32[N, S, 8]",
               "layer.call_masked(q, v, mask)" if masked else "layer(q, v)")
    w = _randomize(m.layer)
    keras_layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    q = RNG.normal(size=(2, 3, 8)).astype(np.float32)
    v = RNG.normal(size=(2, 5, 8)).astype(np.float32)
    keras_layer(q, v)  # builds it
    keras_layer.set_weights([w["query_kernel"], w["query_bias"], w["key_kernel"], w["key_bias"],
                             w["value_kernel"], w["value_bias"], w["output_kernel"], w["output_bias"]])
    ours_vars = [getattr(m.layer, name) for name in ("query_kernel", "query_bias", "key_kernel", "key_bias",
                                                     "value_kernel", "value_bias", "output_kernel", "output_bias")]
    if masked:
        mask = (RNG.uniform(size=(2, 3, 5)) > 0.3).astype(np.float32)
        mask[:, :, 0] = 1.0  # every query attends to something
        ours = forward_and_grads(m.f, [q, v, mask], ours_vars)
        theirs = forward_and_grads(lambda a, b, c: keras_layer(a, b, attention_mask=tf.cast(c, tf.bool)),
                                    [q, v, mask], keras_layer.trainable_variables)
        ours = (ours[0], ours[1][:2] + ours[1][3:])  # the mask's gradient is not Keras'
        theirs = (theirs[0], theirs[1][:2] + theirs[1][3:])
    else:
        ours = forward_and_grads(m.f, [q, v], ours_vars)
        theirs = forward_and_grads(keras_layer, [q, v], keras_layer.trainable_variables)
    compare(ours, theirs)


def test_recurrent_layers_loop_in_the_graph(tmp_path):
    """A sequence layer is one graph loop (a While op), not unrolled per step."""
    m = build_layer(tmp_path, "LSTM(3, 5)", "x: f32[N, T, 3]) -> f32[N, 5]", "layer(x)")
    graph = m.f.get_concrete_function().graph
    ops = {op.type for op in graph.get_operations()}
    assert "While" in ops or "StatelessWhile" in ops
    assert m.f(np.zeros((2, 11, 3), np.float32)).shape == (2, 5)  # any length, one trace
    assert m.f.experimental_get_tracing_count() == 1
