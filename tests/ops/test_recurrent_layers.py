"""The recurrent layers of `dsl/library/recurrent.tfm` against Keras 3: SimpleRNN (from zeros and from an
initial state), the Bidirectional wrappers over LSTM, GRU and SimpleRNN in every merge mode, and masked
LSTM/GRU. The same weights give the same outputs and the same gradients (for the input and every weight).
Sizes are tiny: each case traces one short graph loop.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

import tfm  # noqa: E402
from support.layers import build_layer, compare, forward_and_grads, randomize  # noqa: E402

pytestmark = pytest.mark.kernels

RNG = np.random.default_rng(23)


def _randomize(module) -> dict[str, np.ndarray]:
    return randomize(module, RNG)


# Per-layer weight mapping: ours (separate gate kernels) -> Keras' fused weights, and Keras' fused
# gradients -> ours, split per gate.
def _lstm(cell):
    w = _randomize(cell)
    ours = [getattr(cell, f"{p}_{g}") for p in "wub" for g in "ifco"]
    keras_weights = [np.concatenate([w[f"{p}_{g}"] for g in "ifco"], axis=-1) for p in "wub"]
    return ours, keras_weights, lambda grads: [part for g in grads for part in np.split(g, 4, axis=-1)]


def _gru(cell):
    w = _randomize(cell)
    ours = [getattr(cell, f"{p}_{g}") for p in ("w", "u", "b", "rb") for g in "zrh"]
    keras_weights = [np.concatenate([w[f"w_{g}"] for g in "zrh"], axis=1),
                     np.concatenate([w[f"u_{g}"] for g in "zrh"], axis=1),
                     np.stack([np.concatenate([w[f"{p}_{g}"] for g in "zrh"]) for p in ("b", "rb")])]

    def split(grads):
        kernel, recurrent, bias = grads
        return [*np.split(kernel, 3, axis=-1), *np.split(recurrent, 3, axis=-1),
                *np.split(bias[0], 3), *np.split(bias[1], 3)]
    return ours, keras_weights, split


def _simple_rnn(layer):
    w = _randomize(layer)
    return ([layer.kernel, layer.recurrent_kernel, layer.bias], [w["kernel"], w["recurrent_kernel"], w["bias"]],
            list)


@pytest.mark.parametrize("sequences", [False, True])
@pytest.mark.parametrize("initial", [False, True])
def test_simple_rnn_matches_keras(tmp_path, sequences, initial):
    out = "f32[N, 5, 4]" if sequences else "f32[N, 4]"
    method = ("call_sequence" if sequences else "call") + ("_from" if initial else "")
    m = build_layer(tmp_path, 'SimpleRNN(3, 4, activation="tanh")',
               f"x: f32[N, 5, 3]{', h0: f32[N, 4]' if initial else ''}) -> {out}",
               f"layer.{method}(x{', h0' if initial else ''})")
    ours_vars, weights, _ = _simple_rnn(m.layer)
    keras_layer = keras.layers.SimpleRNN(4, return_sequences=sequences)
    keras_layer.build((None, 5, 3))
    keras_layer.set_weights(weights)
    inputs = [RNG.normal(size=(2, 5, 3)).astype(np.float32)]
    if initial:
        inputs.append(RNG.normal(size=(2, 4)).astype(np.float32))
        theirs = forward_and_grads(lambda x, h: keras_layer(x, initial_state=[h]), inputs,
                                    keras_layer.trainable_variables)
    else:
        theirs = forward_and_grads(keras_layer, inputs, keras_layer.trainable_variables)
    compare(forward_and_grads(m.f, inputs, ours_vars), theirs)


def test_simple_rnn_activation_is_the_parameter(tmp_path):
    m = build_layer(tmp_path, 'SimpleRNN(3, 4, activation="relu")', "x: f32[N, 5, 3]) -> f32[N, 5, 4]",
               "layer.call_sequence(x)")
    ours_vars, weights, _ = _simple_rnn(m.layer)
    keras_layer = keras.layers.SimpleRNN(4, activation="relu", return_sequences=True)
    keras_layer.build((None, 5, 3))
    keras_layer.set_weights(weights)
    x = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    compare(forward_and_grads(m.f, [x], ours_vars),
             forward_and_grads(keras_layer, [x], keras_layer.trainable_variables))


_KERAS = {"LSTM": keras.layers.LSTM, "GRU": keras.layers.GRU, "SimpleRNN": keras.layers.SimpleRNN}
_WEIGHTS = {"LSTM": lambda layer: _lstm(layer.cell), "GRU": lambda layer: _gru(layer.cell), "SimpleRNN": _simple_rnn}


@pytest.mark.parametrize("kind, merge_mode, sequences", [
    ("LSTM", "concat", False), ("LSTM", "concat", True), ("LSTM", "sum", True), ("LSTM", "mul", False),
    ("LSTM", "ave", True), ("GRU", "concat", True), ("GRU", "ave", False), ("SimpleRNN", "concat", False),
    ("SimpleRNN", "mul", True)])
def test_bidirectional_matches_keras(tmp_path, kind, merge_mode, sequences):
    units = 3
    features = 2 * units if merge_mode == "concat" else units
    out = f"f32[N, 5, {features}]" if sequences else f"f32[N, {features}]"
    m = build_layer(tmp_path, f'Bidirectional{kind}(2, {units}, merge_mode="{merge_mode}")', f"x: f32[N, 5, 2]) -> {out}",
               "layer.call_sequence(x)" if sequences else "layer(x)")
    forward_vars, forward_weights, forward_split = _WEIGHTS[kind](m.layer.forward)
    backward_vars, backward_weights, backward_split = _WEIGHTS[kind](m.layer.backward)
    keras_layer = keras.layers.Bidirectional(_KERAS[kind](units, return_sequences=sequences), merge_mode=merge_mode)
    keras_layer.build((None, 5, 2))
    keras_layer.set_weights([*forward_weights, *backward_weights])
    x = RNG.normal(size=(2, 5, 2)).astype(np.float32)
    ours = forward_and_grads(m.f, [x], [*forward_vars, *backward_vars])
    keras_vars = [*keras_layer.forward_layer.trainable_variables, *keras_layer.backward_layer.trainable_variables]
    out_k, grads_k = forward_and_grads(keras_layer, [x], keras_vars)
    half = len(grads_k[1:]) // 2
    theirs = (out_k, [grads_k[0], *forward_split(grads_k[1:1 + half]), *backward_split(grads_k[1 + half:])])
    assert ours[0].shape == ((2, 5, features) if sequences else (2, features))
    compare(ours, theirs)


def test_bidirectional_refuses_an_unknown_merge_mode(tmp_path):
    m = build_layer(tmp_path, 'BidirectionalGRU(2, 3, merge_mode="max")', "x: f32[N, 5, 2]) -> f32[N, ?]", "layer(x)")
    with pytest.raises(Exception, match="merge_mode is one of"):
        m.f(np.zeros((1, 5, 2), np.float32))


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("sequences", [False, True])
def test_masked_recurrent_layers_match_keras(tmp_path, kind, sequences):
    """Keras' mask from Embedding(mask_zero=True) against tfm's `ids != 0` passed explicitly: a masked step
    (padding at the end, and one in the middle) carries the previous state over."""
    out = "f32[N, 6, 4]" if sequences else "f32[N, 4]"
    source = tmp_path / "masked.tfm"
    source.write_text(f"module M:\n    sub embedding = Embedding(9, 3)\n    sub layer = {kind}(3, 4)\n\n"
                      f"    fn f(ids: i32[N, T]) -> {out}:\n"
                      f"        return layer.call{'_sequence' if sequences else ''}_masked(embedding(ids), ids != 0)\n")
    m = tfm.load(source).M()
    table = _randomize(m.embedding)["embeddings"]
    ours_vars, weights, split = _WEIGHTS[kind](m.layer)
    keras_embedding = keras.layers.Embedding(9, 3, mask_zero=True)
    keras_embedding.build((None, 6))
    keras_embedding.set_weights([table])
    keras_layer = _KERAS[kind](4, return_sequences=sequences)
    keras_layer.build((None, 6, 3))
    keras_layer.set_weights(weights)
    ids = np.array([[3, 1, 4, 1, 0, 0], [5, 0, 2, 6, 8, 0], [7, 2, 8, 1, 8, 2]], np.int32)
    ours = forward_and_grads(m.f, [ids], [m.embedding.embeddings, *ours_vars])
    out_k, grads_k = forward_and_grads(lambda i: keras_layer(keras_embedding(i)), [ids],
                                        [keras_embedding.embeddings, *keras_layer.trainable_variables])
    compare(ours, (out_k, [grads_k[0], *split(grads_k[1:])]))
    # The mask matters: without it the padded rows differ.
    assert not np.allclose(ours[0], forward_and_grads(
        lambda i: keras_layer(keras_embedding(i), mask=tf.ones_like(i, tf.bool)), [ids], [])[0], atol=1e-3)


def test_bidirectional_and_masked_layers_export_to_saved_model(tmp_path):
    """A model holding the new layers saves with its signatures and reloads to the same outputs."""
    source = tmp_path / "model.tfm"
    source.write_text("module M:\n    sub embedding = Embedding(9, 3, seed=1)\n"
                      "    sub encoder = BidirectionalGRU(3, 4, merge_mode=\"sum\", seed=2)\n"
                      "    sub decoder = LSTM(4, 2, seed=3)\n\n"
                      "    fn call(ids: i32[N, T]) -> f32[N, 2]:\n"
                      "        return decoder.call_masked(encoder.call_sequence(embedding(ids)), ids != 0)\n")
    m = tfm.load(source).M()
    ids = np.array([[3, 1, 4, 0], [5, 8, 0, 0]], np.int32)
    expected = m.call(ids).numpy()
    tf.saved_model.save(m, str(tmp_path / "saved"), signatures=m.signatures)
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    np.testing.assert_allclose(loaded.call(ids).numpy(), expected, rtol=1e-6)
    (out,) = loaded.signatures["serving_default"](ids=tf.constant(ids)).values()
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)


def _flat(*outputs):
    """Several outputs as one [N, ...] tensor, so one cotangent covers them all."""
    return tf.concat([tf.reshape(o, [tf.shape(o)[0], -1]) for o in outputs], axis=1)


@pytest.mark.parametrize("sequences", [False, True])
def test_lstm_from_an_initial_state_returns_its_state_as_keras(tmp_path, sequences):
    if sequences:
        signature = "x: f32[N, 5, 3], h0: f32[N, 4], c0: f32[N, 4]) -> (s: f32[N, 5, 4], h: f32[N, 4], c: f32[N, 4])"
        body, names = "layer.call_sequence_from(x, h0, c0)", ("s", "h", "c")
    else:
        signature = "x: f32[N, 5, 3], h0: f32[N, 4], c0: f32[N, 4]) -> (h: f32[N, 4], c: f32[N, 4])"
        body, names = "layer.call_from(x, h0, c0)", ("h", "c")
    m = build_layer(tmp_path, "LSTM(3, 4)", signature, body)
    ours_vars, weights, split = _lstm(m.layer.cell)
    keras_layer = keras.layers.LSTM(4, return_sequences=sequences, return_state=True)
    keras_layer.build((None, 5, 3))
    keras_layer.set_weights(weights)
    inputs = [RNG.normal(size=s).astype(np.float32) for s in ((2, 5, 3), (2, 4), (2, 4))]
    ours = forward_and_grads(lambda x, h, c: _flat(*(m.f(x, h, c)[n] for n in names)), inputs, ours_vars)
    # Keras returns (output, h, c); without sequences its output is h itself.
    out_k, grads_k = forward_and_grads(
        lambda x, h, c: _flat(*keras_layer(x, initial_state=[h, c])[0 if sequences else 1:]), inputs,
        keras_layer.trainable_variables)
    compare(ours, (out_k, [*grads_k[:3], *split(grads_k[3:])]))


@pytest.mark.parametrize("sequences", [False, True])
def test_gru_from_an_initial_state_matches_keras(tmp_path, sequences):
    out = "f32[N, 5, 4]" if sequences else "f32[N, 4]"
    m = build_layer(tmp_path, "GRU(3, 4)", f"x: f32[N, 5, 3], h0: f32[N, 4]) -> {out}",
               f"layer.call{'_sequence' if sequences else ''}_from(x, h0)")
    ours_vars, weights, split = _gru(m.layer.cell)
    keras_layer = keras.layers.GRU(4, return_sequences=sequences)
    keras_layer.build((None, 5, 3))
    keras_layer.set_weights(weights)
    inputs = [RNG.normal(size=(2, 5, 3)).astype(np.float32), RNG.normal(size=(2, 4)).astype(np.float32)]
    out_k, grads_k = forward_and_grads(lambda x, h: keras_layer(x, initial_state=[h]), inputs,
                                        keras_layer.trainable_variables)
    compare(forward_and_grads(m.f, inputs, ours_vars), (out_k, [*grads_k[:2], *split(grads_k[2:])]))


@pytest.mark.parametrize("kind, merge_mode, sequences", [("GRU", "concat", True), ("GRU", "sum", False),
                                                         ("LSTM", "ave", True), ("SimpleRNN", "concat", False)])
def test_masked_bidirectional_matches_keras(tmp_path, kind, merge_mode, sequences):
    """Keras' Bidirectional reverses the mask for its backward layer and zeroes masked steps of the sequence."""
    features = 6 if merge_mode == "concat" else 3
    out = f"f32[N, 5, {features}]" if sequences else f"f32[N, {features}]"
    m = build_layer(tmp_path, f'Bidirectional{kind}(2, 3, merge_mode="{merge_mode}")',
               f"x: f32[N, 5, 2], mask: bool[N, 5]) -> {out}",
               f"layer.call{'_sequence' if sequences else ''}_masked(x, mask)")
    forward_vars, forward_weights, forward_split = _WEIGHTS[kind](m.layer.forward)
    backward_vars, backward_weights, backward_split = _WEIGHTS[kind](m.layer.backward)
    keras_layer = keras.layers.Bidirectional(_KERAS[kind](3, return_sequences=sequences), merge_mode=merge_mode)
    keras_layer.build((None, 5, 2))
    keras_layer.set_weights([*forward_weights, *backward_weights])
    x = RNG.normal(size=(3, 5, 2)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 0], [1, 1, 1, 1, 1]], bool)
    ours = forward_and_grads(m.f, [x, mask], [*forward_vars, *backward_vars])
    keras_vars = [*keras_layer.forward_layer.trainable_variables, *keras_layer.backward_layer.trainable_variables]
    out_k, grads_k = forward_and_grads(lambda a, b: keras_layer(a, mask=b), [x, mask], keras_vars)
    half = len(grads_k[1:]) // 2
    compare(ours, (out_k, [grads_k[0], *forward_split(grads_k[1:1 + half]), *backward_split(grads_k[1 + half:])]))


def test_last_state_methods_export_to_tflite_builtins(tmp_path):
    """The last-state methods (a graph loop carrying states) convert to TFLite's builtin ops, verified in
    LiteRT. The sequence methods stack their states in a TensorList, which needs Flex ops (as LSTM's)."""
    source = tmp_path / "model.tfm"
    source.write_text("module M:\n    sub embedding = Embedding(9, 3, seed=1)\n"
                      "    sub encoder = BidirectionalGRU(3, 4, merge_mode=\"sum\", seed=2)\n"
                      "    sub other = SimpleRNN(3, 4, seed=3)\n\n"
                      "    fn call(ids: i32[N, T]) -> f32[N, 4]:\n"
                      "        x = embedding(ids)\n"
                      "        return encoder.call_masked(x, ids != 0) + other(x)\n")
    m = tfm.load(source).M()
    report = tfm.export(source, "M", tmp_path / "saved", tflite=tmp_path / "m.tflite", instance=m)
    lite = report.tflite_report
    assert lite is not None and lite.runtime == "LiteRT" and not lite.flex_ops
    assert lite.max_abs_diff["serving_default"] < 1e-5
