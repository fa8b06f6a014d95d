"""Every activation name against keras.activations: values and gradients, on ordinary inputs and on the
points where the piecewise ones change (-3, -1, -0.5, 0, 0.5, 1, 3), through the `activate` op and
through a library layer's `activation=`."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

import tfm  # noqa: E402
from tfm.dsl.ops import ACTIVATIONS  # noqa: E402
from tfm.generate import runtime  # noqa: E402

# Names that are tfm's own: gelu with its tanh approximation (Keras takes `approximate=True` as an argument).
_KERAS_FORM = {"gelu_approximate": lambda x: keras.activations.gelu(x, approximate=True)}
_POINTS = [-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0]
INPUTS = np.array([_POINTS, np.linspace(-6.0, 6.0, 7), np.random.default_rng(5).normal(0.0, 2.0, 7)], np.float32)


def _keras_activation(name: str):
    return _KERAS_FORM.get(name) or keras.activations.get(name)


def _value_and_gradient(function, inputs):
    x = tf.constant(inputs)
    cotangent = tf.constant(np.random.default_rng(1).normal(size=inputs.shape).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = function(x)
        total = tf.reduce_sum(y * cotangent)
    return y.numpy(), tape.gradient(total, x).numpy()


def test_every_keras_activation_name_is_known():
    """keras.activations' names, but `threshold` (no defaults: unusable by name in Keras too) and
    `glu` (it halves the last axis, so a layer's output would not have its declared size)."""
    keras_names = {name for name in dir(keras.activations)
                   if not name.startswith("_") and name not in ("get", "serialize", "deserialize")}
    assert keras_names - set(ACTIVATIONS) == {"threshold", "glu"}
    assert set(ACTIVATIONS) - keras_names == set(_KERAS_FORM)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_matches_keras(name):
    ours = _value_and_gradient(lambda x: runtime._activate(x, name), INPUTS)
    theirs = _value_and_gradient(_keras_activation(name), INPUTS)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def dense_module(tmp_path_factory):
    path = tmp_path_factory.mktemp("activations") / "m.tfm"
    path.write_text('module M(activation: str):\n    sub layer = Dense(3, 7, activation=activation)\n\n'
                    '    fn f(x: f32[N, 3]) -> f32[N, 7]:\n        return layer(x)\n')
    return tfm.load(path).M


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_dense_activation_matches_keras(dense_module, name):
    """The name as a layer's `activation=`, compiled: the same outputs and gradients as Keras' Dense
    given the same weights (the input's gradient and the kernel's)."""
    m = dense_module(name)
    layer = keras.layers.Dense(7, activation=_keras_activation(name))
    layer.build((None, 3))
    kernel = np.random.default_rng(2).normal(0.0, 1.5, (3, 7)).astype(np.float32)
    bias = np.array(_POINTS, np.float32)  # the bias puts the kinks under a zero input
    m.layer.kernel.assign(kernel)
    m.layer.bias.assign(bias)
    layer.set_weights([kernel, bias])
    x = np.concatenate([np.zeros((1, 3)), np.random.default_rng(4).normal(size=(3, 3))]).astype(np.float32)
    ours, theirs = (_output_and_kernel_gradient(call, kernel_variable, x)
                    for call, kernel_variable in ((m.f, m.layer.kernel), (layer, layer.kernel)))
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-4, atol=1e-5)


def _output_and_kernel_gradient(call, kernel, x):
    with tf.GradientTape() as tape:
        y = call(tf.constant(x))
        total = tf.reduce_sum(y * np.linspace(-1.0, 1.0, 7, dtype=np.float32))
    return y.numpy(), tape.gradient(total, kernel).numpy()


def test_an_unknown_activation_is_a_check_error():
    from support import diagnostics_of

    source = 'module M:\n    sub layer = Dense(3, 4, activation="swishy")\n'
    source += '\n    fn f(x: f32[N, 3]) -> f32[N, 4]:\n        return activate(x, "swishy")\n'
    codes = [d.code for d in diagnostics_of(source)]
    assert "E023" in codes


# The activations built from several ops (the others are one TensorFlow op each); every one with --run-slow.
_COMPOSITE = ("celu", "gelu_approximate", "hard_silu", "sparse_sigmoid", "sparsemax", "sparse_plus", "squareplus",
              "mish", "soft_shrink")


@pytest.mark.parametrize("names", [_COMPOSITE, pytest.param(ACTIVATIONS, marks=pytest.mark.slow)],
                         ids=["composite", "every"])
def test_activations_and_losses_export_to_saved_model_and_tflite(tmp_path, names):
    """One module, a Dense layer per activation and a method each, and a method of losses, exported:
    the SavedModel and the .tflite (builtin ops only), which tfm.export runs in LiteRT and compares
    with the SavedModel before it writes them."""
    layers = "".join(f'    sub layer_{k} = Dense(3, 4, activation="{name}")\n' for k, name in enumerate(names))
    methods = "".join(f"\n    fn f_{k}(x: f32[2, 3]) -> f32[2, 4]:\n        return layer_{k}(x)\n"
                      for k in range(len(names)))
    methods += ("\n    fn loss(y: f32[2, 4], x: f32[2, 3]) -> f32[]:\n        p = softmax(layer_0(x))\n"
                "        focal = categorical_focal_crossentropy(y, p, reduction='sum_over_batch_size')\n"
                "        return huber(y, layer_0(x), reduction='sum') + focal\n")
    source = tmp_path / "activations.tfm"
    source.write_text("module Activations:\n" + layers + methods)
    # `loss` takes labels, which a default export does not serve: --signatures adds it.
    tfm.export(source, "Activations", tmp_path / "saved", tflite=tmp_path / "activations.tflite", signatures=["loss"])
    assert len(tf.saved_model.load(str(tmp_path / "saved")).signatures) == len(names) + 1
    assert (tmp_path / "activations.tflite").stat().st_size > 0
