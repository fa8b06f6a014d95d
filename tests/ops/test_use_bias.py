"""`use_bias=False` on the recurrent layers (issue 23 item 2) against Keras 3: no bias variable (the layer's
variables are Keras' weights, kernels only), and the same kernels give the same outputs and gradients."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

from support.layers import build_layer, compare, forward_and_grads, randomize  # noqa: E402

pytestmark = pytest.mark.kernels

RNG = np.random.default_rng(2324)


def _fused(values: dict[str, np.ndarray], prefix: str, gates: str) -> np.ndarray:
    return np.concatenate([values[f"{prefix}_{g}"] for g in gates], axis=-1)


@pytest.mark.parametrize("layer, gates", [("LSTM", "ifco"), ("GRU", "zrh")])
@pytest.mark.parametrize("sequences", [False, True])
def test_gated_layers_without_bias_match_keras(tmp_path, layer, gates, sequences):
    out = "f32[N, 5, 4]" if sequences else "f32[N, 4]"
    m = build_layer(tmp_path, f"{layer}(3, 4, use_bias=False)", f"x: f32[N, 5, 3]) -> {out}",
                    f"layer.{'call_sequence' if sequences else 'call'}(x)")
    values = randomize(m.layer.cell, RNG)
    assert sorted(values) == sorted(f"{p}_{g}" for p in "wu" for g in gates)  # no bias variable
    keras_layer = getattr(keras.layers, layer)(4, use_bias=False, return_sequences=sequences)
    keras_layer.build((None, 5, 3))
    keras_layer.set_weights([_fused(values, "w", gates), _fused(values, "u", gates)])
    x = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    ours_vars = [getattr(m.layer.cell, f"{p}_{g}") for p in "wu" for g in gates]
    ours = forward_and_grads(m.f, [x], ours_vars)
    theirs = forward_and_grads(keras_layer, [x], keras_layer.trainable_variables)
    # Keras' fused kernel gradients, split per gate as ours are
    theirs = (theirs[0], [theirs[1][0], *(part for g in theirs[1][1:] for part in np.split(g, len(gates), axis=-1))])
    compare(ours, theirs)


def test_simple_rnn_without_bias_matches_keras(tmp_path):
    m = build_layer(tmp_path, "SimpleRNN(3, 4, use_bias=False)", "x: f32[N, 5, 3]) -> f32[N, 5, 4]",
                    "layer.call_sequence(x)")
    values = randomize(m.layer, RNG)
    assert sorted(values) == ["kernel", "recurrent_kernel"]
    keras_layer = keras.layers.SimpleRNN(4, use_bias=False, return_sequences=True)
    keras_layer.build((None, 5, 3))
    keras_layer.set_weights([values["kernel"], values["recurrent_kernel"]])
    x = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    compare(forward_and_grads(m.f, [x], [m.layer.kernel, m.layer.recurrent_kernel]),
            forward_and_grads(keras_layer, [x], keras_layer.trainable_variables))


def test_bidirectional_passes_use_bias_on(tmp_path):
    m = build_layer(tmp_path, "BidirectionalGRU(3, 4, use_bias=False)", "x: f32[N, 5, 3]) -> f32[N, 8]",
                    "layer(x)")
    assert sorted(v.name.split("/", 2)[2] for v in m.variables) == sorted(
        f"{side}/cell/{p}_{g}:0" for side in ("backward", "forward") for p in "wu" for g in "zrh")
