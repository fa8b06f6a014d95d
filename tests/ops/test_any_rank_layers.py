"""Dense as one method for any rank (issue 22 item 9) against Keras' Dense: the same weights give the
same outputs and gradients on inputs of rank 2, 3 and 4, and the generated method takes any rank."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

from support.layers import build_layer, compare, forward_and_grads, randomize  # noqa: E402

pytestmark = pytest.mark.kernels

RNG = np.random.default_rng(22)


def _keras_dense(weights, activation: str):
    layer = keras.layers.Dense(5, activation=activation)
    layer.build((None, 3))
    layer.set_weights([weights["kernel"], weights["bias"]])
    return layer


@pytest.mark.parametrize("activation", ["linear", "relu"])
@pytest.mark.parametrize("shape", [(2, 3), (2, 4, 3), (2, 4, 6, 3)])
def test_dense_call_matches_keras_on_every_rank(tmp_path, activation, shape):
    dims = ", ".join(map(str, shape[:-1]))
    m = build_layer(tmp_path, f'Dense(3, 5, activation="{activation}")', f"x: f32[{dims}, 3]) -> f32[{dims}, 5]",
                    "layer(x)")
    keras_layer = _keras_dense(randomize(m.layer, RNG), activation)
    x = RNG.normal(size=shape).astype(np.float32)
    compare(forward_and_grads(m.f, [x], [m.layer.kernel, m.layer.bias]),
            forward_and_grads(keras_layer, [x], [keras_layer.kernel, keras_layer.bias]))


def test_the_generated_call_takes_any_rank(tmp_path):
    m = build_layer(tmp_path, "Dense(3, 5)", "x: f32[N, T, 3]) -> f32[N, T, 5]", "layer(x)")
    keras_layer = _keras_dense(randomize(m.layer, RNG), "linear")
    for shape in [(2, 3), (2, 4, 6, 7, 3)]:  # one traced function, shape=None in its input signature
        x = RNG.normal(size=shape).astype(np.float32)
        np.testing.assert_allclose(m.layer.call(x).numpy(), keras_layer(x).numpy(), rtol=1e-5, atol=1e-5)
    assert m.layer.call.experimental_get_tracing_count() == 1  # one trace, of unknown rank
    x = RNG.normal(size=(2, 4, 3)).astype(np.float32)
    compare(forward_and_grads(m.f, [x], [m.layer.kernel, m.layer.bias]),
            forward_and_grads(keras_layer, [x], [keras_layer.kernel, keras_layer.bias]))
