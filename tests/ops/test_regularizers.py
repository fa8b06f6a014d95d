"""Regularizers (issue 23 item 4): the `regularizer=` clause on `var`, the generated
`regularization_losses()` (a module's own penalties and its submodules'), `regularize` and the layers'
`activity_loss`, against Keras 3's regularizers and `layer.losses` given the same weights."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

import tfm  # noqa: E402
from tfm.dsl.regularizers import parse_regularizer  # noqa: E402
from tfm.generate import runtime  # noqa: E402

RNG = np.random.default_rng(5)
SPECS = {"l1": keras.regularizers.get("l1"), "l2": keras.regularizers.get("l2"), "l1_l2": keras.regularizers.L1L2(0.01, 0.01),  # its docstring's meaning of "l1_l2"
         "l2(0.03)": keras.regularizers.L2(0.03), "l1(0.002)": keras.regularizers.L1(0.002),
         "l1_l2(l1=0.001, l2=0.02)": keras.regularizers.L1L2(l1=0.001, l2=0.02),
         "l1_l2(0.5, 0.25)": keras.regularizers.L1L2(0.5, 0.25), "l1_l2(l2=0.1)": keras.regularizers.L1L2(l2=0.1),
         "l1_l2()": keras.regularizers.L1L2()}
BAD = ["l3", "l2(-1)", "l2(l1=1)", "l2(1, 2)", "l2(x)", "l1_l2(l1=1, l1=2)", "l2(0.1"]


@pytest.mark.parametrize("spec", list(SPECS))
def test_penalty_matches_keras_and_both_parsers_agree(spec):
    x = tf.constant(RNG.normal(size=(4, 3)).astype(np.float32))
    np.testing.assert_allclose(runtime._penalty(x, spec).numpy(), SPECS[spec](x).numpy(), rtol=1e-6)
    l1, l2 = runtime._regularizer(spec)
    assert (float(l1 or 0), float(l2 or 0)) == parse_regularizer(spec)


@pytest.mark.parametrize("spec", BAD)
def test_bad_regularizers_are_refused_by_both_parsers(spec):
    with pytest.raises(ValueError):
        parse_regularizer(spec)
    with pytest.raises(ValueError):
        runtime._regularizer(spec)


SOURCE = """module Block:
    sub conv = Conv2D(2, 3, 3, kernel_regularizer="l2(0.01)", bias_regularizer="l1(0.02)")
    sub dense = Dense(12, 4, kernel_regularizer="l1_l2(l1=0.001, l2=0.01)", activity_regularizer="l1_l2(l1=0.01, l2=0.001)")

    fn activity(x: f32[N, 12]) -> f32[]:
        return dense.activity_loss(dense(x))

module M:
    sub block = Block()
    sub emb = Embedding(9, 4, embeddings_regularizer="l2")
    var scale: f32[4] = ones(), regularizer="l1(0.5)"

    fn total() -> f32[]:
        return regularization_losses()

    fn block_only() -> f32[]:
        return block.regularization_losses()

    fn activity(x: f32[N, 12]) -> f32[]:
        return block.activity(x)
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    source = tmp_path_factory.mktemp("reg") / "reg.tfm"
    source.write_text(SOURCE)
    m = tfm.load(source).M()
    for variable in m.variables:
        variable.assign(RNG.normal(0.0, 0.5, variable.shape).astype(np.float32))
    return m


def test_regularization_losses_sum_every_layer_as_keras(model):
    conv = keras.layers.Conv2D(3, 3, kernel_regularizer=keras.regularizers.L2(0.01),
                               bias_regularizer=keras.regularizers.L1(0.02))
    conv.build((None, 5, 5, 2))
    conv.set_weights([model.block.conv.kernel.numpy(), model.block.conv.bias.numpy()])
    dense = keras.layers.Dense(4, kernel_regularizer=keras.regularizers.L1L2(l1=0.001, l2=0.01))
    dense.build((None, 12))
    dense.set_weights([model.block.dense.kernel.numpy(), model.block.dense.bias.numpy()])
    emb = keras.layers.Embedding(9, 4, embeddings_regularizer="l2")
    emb.build((None, 3))
    emb.set_weights([model.emb.embeddings.numpy()])
    keras_block = float(sum(conv.losses) + sum(dense.losses))
    np.testing.assert_allclose(model.block_only().numpy(), keras_block, rtol=1e-5)
    expected = keras_block + float(sum(emb.losses)) + 0.5 * np.abs(model.scale.numpy()).sum()
    np.testing.assert_allclose(model.total().numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(model.regularization_losses().numpy(), expected, rtol=1e-5)  # from Python too


def test_regularization_gradient_matches_keras(model):
    dense = keras.layers.Dense(4, kernel_regularizer=keras.regularizers.L1L2(l1=0.001, l2=0.01))
    dense.build((None, 12))
    dense.set_weights([model.block.dense.kernel.numpy(), model.block.dense.bias.numpy()])
    with tf.GradientTape() as tape:
        ours = model.block.dense.regularization_losses()
    with tf.GradientTape() as keras_tape:
        dense(np.zeros((1, 12), np.float32))
        theirs = tf.add_n(dense.losses)
    np.testing.assert_allclose(tape.gradient(ours, model.block.dense.kernel).numpy(),
                               keras_tape.gradient(theirs, dense.kernel).numpy(), rtol=1e-5)


def test_activity_loss_matches_keras_over_the_batch(model):
    """Keras 3 adds the activity regularizer's penalty of each call's output divided by the batch size."""
    dense = keras.layers.Dense(4, activity_regularizer=keras.regularizers.L1L2(l1=0.01, l2=0.001))
    dense.build((None, 12))
    dense.set_weights([model.block.dense.kernel.numpy(), model.block.dense.bias.numpy()])
    x = RNG.normal(size=(6, 12)).astype(np.float32)
    with tf.GradientTape() as keras_tape:
        dense(x)
        theirs = tf.add_n(dense.losses)
    with tf.GradientTape() as tape:
        ours = model.activity(x)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5)
    np.testing.assert_allclose(tape.gradient(ours, model.block.dense.kernel).numpy(),
                               keras_tape.gradient(theirs, dense.kernel).numpy(), rtol=1e-5)


def test_a_bad_regularizer_fails_when_the_module_is_built(tmp_path):
    source = tmp_path / "bad.tfm"
    source.write_text("module M(r: str = \"l2(0.01)\"):\n    var w: f32[2] = ones(), regularizer=r\n\n"
                      "    fn f() -> f32[]:\n        return regularization_losses()\n")
    module = tfm.load(source)
    assert module.M().f().numpy() == pytest.approx(0.02)
    with pytest.raises(ValueError, match="unknown regularizer 'l4'"):
        module.M(r="l4")


@pytest.mark.parametrize("text, message", [
    ('var w: f32[2] = ones(), regularizer="l3"', "unknown regularizer 'l3'"),
    ('var w: i32[2] = ones(), regularizer="l2"', "floating-point variable"),
    ('var w: f32[2] = ones(), constraint="l2"', "one option, `regularizer=`"),
])
def test_the_checker_refuses_bad_clauses(tmp_path, text, message):
    source = tmp_path / "bad.tfm"
    source.write_text(f"module M:\n    {text}\n\n    fn f() -> f32[]:\n        return regularization_losses()\n")
    assert any(message in d.message for d in tfm.check(source))


K, R, B = "l2(0.01)", "l1(0.02)", "l1_l2(l1=0.03, l2=0.04)"
KERAS_K, KERAS_R, KERAS_B = (keras.regularizers.L2(0.01), keras.regularizers.L1(0.02),
                             keras.regularizers.L1L2(l1=0.03, l2=0.04))


def _fused(layer, parts, gates):
    return [np.concatenate([getattr(layer, f"{p}_{g}").numpy() for g in gates], axis=-1) for p in parts]


# tfm's construct, Keras' layer, the shape it is built for, Keras' weights from ours.
LAYERS = {
    "Conv1DTranspose": (f'Conv1DTranspose(3, 4, 3, kernel_regularizer="{K}", bias_regularizer="{B}")',
                        lambda: keras.layers.Conv1DTranspose(4, 3, kernel_regularizer=KERAS_K, bias_regularizer=KERAS_B),
                        (None, 5, 3), lambda m: [m.kernel.numpy(), m.bias.numpy()]),
    "Conv2DTranspose": (f'Conv2DTranspose(3, 4, 3, kernel_regularizer="{K}", bias_regularizer="{B}")',
                        lambda: keras.layers.Conv2DTranspose(4, 3, kernel_regularizer=KERAS_K, bias_regularizer=KERAS_B),
                        (None, 5, 5, 3), lambda m: [m.kernel.numpy(), m.bias.numpy()]),
    "Conv1D": (f'Conv1D(3, 4, 3, kernel_regularizer="{K}", bias_regularizer="{B}")',
               lambda: keras.layers.Conv1D(4, 3, kernel_regularizer=KERAS_K, bias_regularizer=KERAS_B),
               (None, 5, 3), lambda m: [m.kernel.numpy(), m.bias.numpy()]),
    "DepthwiseConv2D": (f'DepthwiseConv2D(3, 3, depth_multiplier=2, depthwise_regularizer="{K}", bias_regularizer="{B}")',
                        lambda: keras.layers.DepthwiseConv2D(3, depth_multiplier=2, depthwise_regularizer=KERAS_K,
                                                             bias_regularizer=KERAS_B),
                        (None, 5, 5, 3), lambda m: [m.kernel.numpy(), m.bias.numpy()]),
    "SeparableConv2D": (f'SeparableConv2D(3, 4, 3, depthwise_regularizer="{K}", pointwise_regularizer="{R}", '
                        f'bias_regularizer="{B}")',
                        lambda: keras.layers.SeparableConv2D(4, 3, depthwise_regularizer=KERAS_K,
                                                             pointwise_regularizer=KERAS_R, bias_regularizer=KERAS_B),
                        (None, 5, 5, 3), lambda m: [m.depthwise_kernel.numpy(), m.pointwise_kernel.numpy(), m.bias.numpy()]),
    "SimpleRNN": (f'SimpleRNN(3, 4, kernel_regularizer="{K}", recurrent_regularizer="{R}", bias_regularizer="{B}")',
                  lambda: keras.layers.SimpleRNN(4, kernel_regularizer=KERAS_K, recurrent_regularizer=KERAS_R,
                                                 bias_regularizer=KERAS_B),
                  (None, 5, 3), lambda m: [m.kernel.numpy(), m.recurrent_kernel.numpy(), m.bias.numpy()]),
    "LSTM": (f'LSTM(3, 4, kernel_regularizer="{K}", recurrent_regularizer="{R}", bias_regularizer="{B}")',
             lambda: keras.layers.LSTM(4, kernel_regularizer=KERAS_K, recurrent_regularizer=KERAS_R,
                                       bias_regularizer=KERAS_B),
             (None, 5, 3), lambda m: _fused(m.cell, "wub", "ifco")),
    "GRU": (f'GRU(3, 4, kernel_regularizer="{K}", recurrent_regularizer="{R}", bias_regularizer="{B}")',
            lambda: keras.layers.GRU(4, kernel_regularizer=KERAS_K, recurrent_regularizer=KERAS_R,
                                     bias_regularizer=KERAS_B),
            (None, 5, 3), lambda m: [*_fused(m.cell, "wu", "zrh"), np.stack(_fused(m.cell, ("b", "rb"), "zrh"))]),
    "MultiHeadAttention": (f'MultiHeadAttention(6, 2, 4, kernel_regularizer="{K}", bias_regularizer="{B}")',
                           lambda: keras.layers.MultiHeadAttention(2, 4, kernel_regularizer=KERAS_K,
                                                                   bias_regularizer=KERAS_B),
                           None, lambda m: [getattr(m, f"{p}_{w}").numpy() for p in ("query", "key", "value", "output")
                                            for w in ("kernel", "bias")]),
    "BatchNormalization": (f'BatchNormalization(3, gamma_regularizer="{K}", beta_regularizer="{B}")',
                           lambda: keras.layers.BatchNormalization(gamma_regularizer=KERAS_K, beta_regularizer=KERAS_B),
                           (None, 3), lambda m: [m.gamma.numpy(), m.beta.numpy(), m.moving_mean.numpy(),
                                                 m.moving_variance.numpy()]),
    "LayerNormalization": (f'LayerNormalization(3, gamma_regularizer="{K}", beta_regularizer="{B}")',
                           lambda: keras.layers.LayerNormalization(gamma_regularizer=KERAS_K, beta_regularizer=KERAS_B),
                           (None, 3), lambda m: [m.gamma.numpy(), m.beta.numpy()]),
    "GroupNormalization": (f'GroupNormalization(1, 3, gamma_regularizer="{K}", beta_regularizer="{B}")',
                           lambda: keras.layers.GroupNormalization(1, gamma_regularizer=KERAS_K, beta_regularizer=KERAS_B),
                           (None, 3), lambda m: [m.gamma.numpy(), m.beta.numpy()]),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_each_layers_regularizers_match_keras_layer_losses(tmp_path, name):
    construct, make_keras, shape, weights = LAYERS[name]
    source = tmp_path / "layer.tfm"
    source.write_text(f"module M:\n    sub layer = {construct}\n\n    fn f() -> f32[]:\n"
                      f"        return layer.regularization_losses()\n")
    m = tfm.load(source).M()
    for variable in m.layer.variables:
        variable.assign(RNG.normal(0.0, 0.5, variable.shape).astype(np.float32))
    keras_layer = make_keras()
    if shape is None:  # attention: built by a call
        keras_layer(np.zeros((1, 2, 6), np.float32), np.zeros((1, 3, 6), np.float32))
    else:
        keras_layer.build(shape)
    keras_layer.set_weights(weights(m.layer))
    with tf.GradientTape() as tape:
        ours = m.f()
    expected = float(sum(keras_layer.losses))
    assert expected > 0.0
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-5)
    # Every trainable weight has a regularizer here, so each gets a gradient from the penalty.
    grads = tape.gradient(ours, m.layer.trainable_variables)
    assert all(g is not None for g in grads)


def test_the_formatter_writes_the_clause_as_a_keyword_argument():
    from tfm.dsl.formatter import format_source

    text = ("module M:\n    var w: f32[2] = ones(),   regularizer = \"l2\"\n\n    fn f() -> f32[]:\n"
            "        regularizer=w\n        return reduce_sum(regularizer) + regularization_losses()\n")
    formatted = format_source(text)
    assert 'var w: f32[2] = ones(), regularizer="l2"\n' in formatted
    assert "        regularizer = w\n" in formatted  # a local of that name is an ordinary assignment


def test_a_module_of_its_own_regularization_losses_takes_no_inputs(tmp_path):
    """A module may write its own `regularization_losses()` (a holder's sum calls it), with no inputs."""
    source = tmp_path / "own.tfm"
    source.write_text("module Inner:\n    var w: f32[2] = ones(), regularizer=\"l2(0.5)\"\n\n"
                      "    fn regularization_losses() -> f32[]:\n        return 10.0 * reduce_sum(w)\n\n"
                      "module Outer:\n    sub inner = Inner()\n    var v: f32[3] = ones(), regularizer=\"l1(0.5)\"\n\n"
                      "    fn f() -> f32[]:\n        return regularization_losses()\n")
    assert tfm.load(source).Outer().f().numpy() == pytest.approx(20.0 + 1.5)
    source.write_text(source.read_text().replace("fn regularization_losses() ->", "fn regularization_losses(x: f32[]) ->"))
    assert any("takes no inputs" in d.message for d in tfm.check(source))


def test_a_literal_regularizer_argument_is_checked_where_it_is_written(tmp_path):
    """A layer's regularizer parameter given a literal is checked at that argument, through the layers it is
    passed on to (LSTM to its cell, a Bidirectional wrapper to both layers)."""
    source = tmp_path / "args.tfm"
    source.write_text('module M:\n    sub a = Dense(3, 2, kernel_regularizer="l3")\n'
                      '    sub b = BidirectionalLSTM(3, 2, recurrent_regularizer="l2(x)")\n'
                      '    sub c = Dense(3, 2, kernel_regularizer="l2(0.1)")\n\n'
                      '    fn f() -> f32[]:\n        return regularization_losses()\n')
    problems = [(d.span.line, d.code) for d in tfm.check(source)]
    assert problems == [(2, "E023"), (3, "E023")]
