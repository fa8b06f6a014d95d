"""`activity_regularizer` on the library layers that lacked it (issue 23 item 4): the transposed, depthwise
and separable convolutions, Conv3D (with its kernel and bias regularizers), Embedding, BatchNormalization,
LayerNormalization, GroupNormalization and UnitNormalization. Each layer's `activity_loss(call(x))` is
compared with Keras 3's `layer.losses` after one call of the same layer holding the same weights (the
penalty of the output over the batch size), value and gradients for the input and the weights."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

import tfm  # noqa: E402

RNG = np.random.default_rng(2304)
SPEC = "l1_l2(l1=0.01, l2=0.02)"


def _regularizer():
    return keras.regularizers.L1L2(l1=0.01, l2=0.02)


# name: (our construct, the call on x, x's shape and dtype, Keras' layer, our weights in Keras' order)
CASES = {
    "conv1d_transpose": ("Conv1DTranspose(3, 4, 3, strides=2)", "layer(x)", (2, 5, 3), "f32",
                         lambda: keras.layers.Conv1DTranspose(4, 3, strides=2), ["kernel", "bias"]),
    "conv2d_transpose": ("Conv2DTranspose(2, 3, (3, 2), strides=2, padding=\"SAME\")", "layer(x)", (2, 4, 5, 2), "f32",
                         lambda: keras.layers.Conv2DTranspose(3, (3, 2), strides=2, padding="same"),
                         ["kernel", "bias"]),
    "depthwise": ("DepthwiseConv2D(3, 3, depth_multiplier=2)", "layer(x)", (2, 5, 6, 3), "f32",
                  lambda: keras.layers.DepthwiseConv2D(3, depth_multiplier=2), ["kernel", "bias"]),
    "separable": ("SeparableConv2D(2, 4, 3, depth_multiplier=2)", "layer(x)", (2, 5, 5, 2), "f32",
                  lambda: keras.layers.SeparableConv2D(4, 3, depth_multiplier=2),
                  ["depthwise_kernel", "pointwise_kernel", "bias"]),
    "conv3d": ("Conv3D(2, 3, 2, activation=\"relu\")", "layer(x)", (2, 3, 4, 4, 2), "f32",
               lambda: keras.layers.Conv3D(3, 2, activation="relu"), ["kernel", "bias"]),
    "embedding": ("Embedding(9, 4)", "layer(x)", (3, 5), "i32", lambda: keras.layers.Embedding(9, 4), ["embeddings"]),
    "batch_norm": ("BatchNormalization(4)", "layer(x, True)", (3, 2, 4), "f32",
                   lambda: keras.layers.BatchNormalization(), ["gamma", "beta", "moving_mean", "moving_variance"]),
    "layer_norm": ("LayerNormalization(4)", "layer(x)", (3, 4), "f32", lambda: keras.layers.LayerNormalization(),
                   ["gamma", "beta"]),
    "group_norm": ("GroupNormalization(2, 4)", "layer(x)", (3, 5, 4), "f32",
                   lambda: keras.layers.GroupNormalization(2), ["gamma", "beta"]),
    "unit_norm": ("UnitNormalization()", "layer(x)", (3, 2, 5), "f32", lambda: keras.layers.UnitNormalization(), []),
}


def _with_regularizer(construct: str) -> str:
    return construct[:-1] + ("" if construct.endswith("()") else ", ") + f'activity_regularizer="{SPEC}")'


def _build(tmp_path, name):
    construct, call, shape, dtype, _, _ = CASES[name]
    dims = ", ".join(["N", *(str(d) for d in shape[1:])])
    source = tmp_path / "activity.tfm"
    source.write_text(f"module M:\n    sub layer = {_with_regularizer(construct)}\n\n"
                      f"    fn f(x: {dtype}[{dims}]) -> f32[]:\n        return layer.activity_loss({call})\n")
    return tfm.load(source).M()


@pytest.mark.parametrize("name", list(CASES))
def test_activity_loss_matches_keras_layer_losses(tmp_path, name):
    _, call, shape, dtype, make_keras, weights = CASES[name]
    m = _build(tmp_path, name)
    values = {}
    for variable in m.layer.variables:
        short = variable.name.split("/")[-1].split(":")[0]
        values[short] = (RNG.uniform(0.2, 1.0, variable.shape) if "variance" in short
                         else RNG.normal(0.0, 0.5, variable.shape)).astype(np.float32)
        variable.assign(values[short])
    assert sorted(values) == sorted(weights)
    x = RNG.integers(0, 9, shape).astype(np.int32) if dtype == "i32" else RNG.normal(size=shape).astype(np.float32)
    keras_layer = make_keras()
    keras_layer.activity_regularizer = _regularizer()
    keras_layer.build(shape)
    keras_layer.set_weights([values[w] for w in weights])
    tx = tf.constant(x)
    training = {"training": True} if "True" in call else {}
    ours_vars = [getattr(m.layer, w) for w in weights if getattr(m.layer, w).trainable]
    with tf.GradientTape(persistent=True) as tape:
        if dtype == "f32":
            tape.watch(tx)
        ours = m.f(tx)
    with tf.GradientTape(persistent=True) as keras_tape:
        if dtype == "f32":
            keras_tape.watch(tx)
        keras_layer(tx, **training)
        assert len(keras_layer.losses) == 1
        theirs = keras_layer.losses[0]
    assert float(theirs) > 0.0
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4)
    sources = ([tx] if dtype == "f32" else [])
    for a, b in zip(tape.gradient(ours, sources + ours_vars),
                    keras_tape.gradient(theirs, sources + list(keras_layer.trainable_variables))):
        np.testing.assert_allclose(tf.convert_to_tensor(a).numpy(), tf.convert_to_tensor(b).numpy(),
                                   rtol=1e-3, atol=1e-5)


def test_without_a_regularizer_the_activity_loss_is_zero(tmp_path):
    source = tmp_path / "none.tfm"
    source.write_text("module M:\n    sub layer = Conv3D(2, 3, 2)\n\n"
                      "    fn f(x: f32[N, 3, 3, 3, 2]) -> f32[]:\n        return layer.activity_loss(layer(x))\n")
    assert float(tfm.load(source).M().f(np.ones((2, 3, 3, 3, 2), np.float32))) == 0.0


def test_conv3d_kernel_and_bias_regularizers_match_keras(tmp_path):
    source = tmp_path / "conv3d.tfm"
    source.write_text("module M:\n    sub layer = Conv3D(2, 3, 2, kernel_regularizer=\"l2(0.01)\", "
                      "bias_regularizer=\"l1(0.02)\")\n\n    fn f() -> f32[]:\n        return regularization_losses()\n")
    m = tfm.load(source).M()
    kernel = RNG.normal(size=m.layer.kernel.shape).astype(np.float32)
    bias = RNG.normal(size=m.layer.bias.shape).astype(np.float32)
    m.layer.kernel.assign(kernel)
    m.layer.bias.assign(bias)
    keras_layer = keras.layers.Conv3D(3, 2, kernel_regularizer=keras.regularizers.L2(0.01),
                                      bias_regularizer=keras.regularizers.L1(0.02))
    keras_layer.build((None, 3, 3, 3, 2))
    keras_layer.set_weights([kernel, bias])
    np.testing.assert_allclose(m.f().numpy(), float(sum(keras_layer.losses)), rtol=1e-5)


MIXED = """module M(dtype: str = "mixed_bfloat16"):
    sub up = Conv2DTranspose(2, 3, 3, strides=2, activity_regularizer="l2(0.01)")
    sub norm = LayerNormalization(3, activity_regularizer="l1(0.01)")

    fn f(x: f32[N, 4, 4, 2]) -> f32[]:
        y = up(x)
        z = norm(y)
        return cast(up.activity_loss(y) + norm.activity_loss(z), f32)  # the checker types them bf16 (see below)
"""


def test_activity_losses_in_mixed_bfloat16_are_f32_and_match_keras(tmp_path):
    source = tmp_path / "mixed.tfm"
    source.write_text(MIXED)
    m = tfm.load(source).M()
    up = keras.layers.Conv2DTranspose(3, 3, strides=2, activity_regularizer=keras.regularizers.L2(0.01),
                                      dtype="mixed_bfloat16")
    norm = keras.layers.LayerNormalization(activity_regularizer=keras.regularizers.L1(0.01), dtype="mixed_bfloat16")
    up.build((None, 4, 4, 2))
    norm.build((None, 9, 9, 3))
    kernel = RNG.normal(0.0, 0.5, m.up.kernel.shape).astype(np.float32)
    bias = RNG.normal(0.0, 0.5, m.up.bias.shape).astype(np.float32)
    m.up.kernel.assign(kernel)
    m.up.bias.assign(bias)
    up.set_weights([kernel, bias])
    x = RNG.normal(size=(2, 4, 4, 2)).astype(np.float32)
    norm(up(x))
    ours = m.f(x)
    # At run time each activity loss is f32 whatever the policy, as a Keras loss (the checker's type for
    # them under a mixed policy is the compute dtype, hence the cast in MIXED).
    y = m.up.call(x)
    assert y.dtype == tf.bfloat16
    assert m.up.activity_loss(tf.cast(y, tf.float32)).dtype == tf.float32
    assert m.norm.activity_loss(tf.cast(m.norm.call(tf.cast(y, tf.float32)), tf.float32)).dtype == tf.float32
    theirs = sum(float(tf.cast(loss, tf.float32)) for loss in up.losses + norm.losses)
    assert theirs > 0.0
    np.testing.assert_allclose(float(ours), theirs, rtol=2e-2)  # bf16 outputs: about 3 digits
