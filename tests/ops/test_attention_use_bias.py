"""`use_bias=False` on MultiHeadAttention (issue 23 item 1) against Keras 3: no bias variables (the layer's
weights are the four projection kernels, as Keras'), and the same kernels give the same outputs and
gradients, unmasked and with every mask; with the default the biases are there and still match Keras."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

from support.layers import build_layer, compare, forward_and_grads, randomize  # noqa: E402

pytestmark = pytest.mark.kernels

RNG = np.random.default_rng(2301)
PARTS = ("query", "key", "value", "output")


@pytest.mark.parametrize("use_bias", [False, True])
@pytest.mark.parametrize("masks", [False, True])
def test_attention_use_bias_matches_keras(tmp_path, use_bias, masks):
    signature = "q: f32[N, S, 8], v: f32[N, T, 8]" + (", qm: bool[N, S], vm: bool[N, T]" if masks else "")
    body = "layer.call_with_masks(q, v, qm, vm)" if masks else "layer(q, v)"
    m = build_layer(tmp_path, f"MultiHeadAttention(8, 2, 4, use_bias={use_bias})",
                    f"{signature}) -> f32[N, S, 8]", body)
    values = randomize(m.layer, RNG)
    names = [f"{part}_{kind}" for part in PARTS for kind in (("kernel", "bias") if use_bias else ("kernel",))]
    assert sorted(values) == sorted(names)  # without use_bias: no bias variable at all
    if not use_bias:
        assert all(getattr(m.layer, f"{part}_bias") is None for part in PARTS)
    keras_layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, use_bias=use_bias)
    q = RNG.normal(size=(2, 3, 8)).astype(np.float32)
    v = RNG.normal(size=(2, 5, 8)).astype(np.float32)
    keras_layer(q, v)  # builds it
    assert len(keras_layer.get_weights()) == len(names)
    keras_layer.set_weights([values[name] for name in names])
    ours_vars = [getattr(m.layer, name) for name in names]
    if masks:
        qm = np.array([[1, 1, 0], [1, 0, 0]], bool)
        vm = np.array([[1, 1, 1, 0, 0], [0, 1, 0, 1, 1]], bool)
        q[~qm] = 0.0  # Keras 3 reads the query's mask only as carried (Masking), not from query_mask=
        ours = forward_and_grads(lambda a, b: m.f(a, b, qm, vm), [q, v], ours_vars)
        theirs = forward_and_grads(lambda a, b: keras_layer(keras.layers.Masking(0.0)(a), b, value_mask=vm),
                                   [q, v], keras_layer.trainable_variables)
    else:
        ours = forward_and_grads(m.f, [q, v], ours_vars)
        theirs = forward_and_grads(keras_layer, [q, v], keras_layer.trainable_variables)
    compare(ours, theirs)


def test_attention_without_bias_has_only_kernel_regularization(tmp_path):
    m = build_layer(tmp_path, 'MultiHeadAttention(8, 2, 4, use_bias=False, kernel_regularizer="l2(0.01)", '
                    'bias_regularizer="l1(0.5)")', "q: f32[N, S, 8]) -> f32[]", "layer.regularization_losses()")
    values = randomize(m.layer, RNG)
    keras_layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, use_bias=False,
                                                  kernel_regularizer=keras.regularizers.L2(0.01),
                                                  bias_regularizer=keras.regularizers.L1(0.5))
    x = RNG.normal(size=(2, 3, 8)).astype(np.float32)
    keras_layer(x, x)
    keras_layer.set_weights([values[f"{part}_kernel"] for part in PARTS])
    np.testing.assert_allclose(m.f(x).numpy(), sum(float(loss) for loss in keras_layer.losses), rtol=1e-5)
