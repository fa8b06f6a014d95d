"""Masks in attention and pooling against Keras 3 (issue 23 item 3): MultiHeadAttention with Keras'
`query_mask`/`value_mask` (also carried from Embedding(mask_zero=True)), `attention_mask` and
`use_causal_mask`, each alone and combined; GlobalAveragePooling1D with a mask, and GlobalMaxPooling1D's
masked max. The same weights give the same outputs and gradients (for the inputs and every weight).
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

import tfm  # noqa: E402
from support.layers import compare, forward_and_grads, randomize  # noqa: E402

pytestmark = pytest.mark.kernels

RNG = np.random.default_rng(31)
WEIGHTS = ("query_kernel", "query_bias", "key_kernel", "key_bias", "value_kernel", "value_bias", "output_kernel",
           "output_bias")
SOURCE = """module M:
    sub embedding = Embedding(9, 8)
    sub layer = MultiHeadAttention(8, 2, 4)

    fn masks(q: f32[N, S, 8], v: f32[N, T, 8], qm: bool[N, S], vm: bool[N, T]) -> f32[N, S, 8]:
        return layer.call_with_masks(q, v, qm, vm)

    fn causal(q: f32[N, S, 8], v: f32[N, T, 8]) -> f32[N, S, 8]:
        return layer.call_causal(q, v)

    fn every(q: f32[N, S, 8], v: f32[N, T, 8], qm: bool[N, S], vm: bool[N, T], am: bool[N, S, T]) -> f32[N, S, 8]:
        return layer.call_with_all_masks(q, v, qm, vm, am, True)

    fn no_causal(q: f32[N, S, 8], v: f32[N, T, 8], qm: bool[N, S], vm: bool[N, T], am: bool[N, S, T]) \\
            -> f32[N, S, 8]:
        return layer.call_with_all_masks(q, v, qm, vm, am, False)

    fn self_attention(ids: i32[N, T]) -> f32[N, T, 8]:
        e = embedding(ids)
        return layer.call_with_masks(e, e, ids != 0, ids != 0)
"""


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Our module and a Keras MultiHeadAttention holding the same random weights."""
    source = tmp_path_factory.mktemp("masks") / "masks.tfm"
    source.write_text(SOURCE)
    m = tfm.load(source).M()
    w = randomize(m.layer, RNG)
    keras_layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    keras_layer(np.zeros((1, 3, 8), np.float32), np.zeros((1, 5, 8), np.float32))  # builds it
    keras_layer.set_weights([w[name] for name in WEIGHTS])
    return m, keras_layer, [getattr(m.layer, name) for name in WEIGHTS]


def _inputs():
    """Queries, values and their masks; a masked query is zeros, so Keras' Masking layer gives its mask."""
    q = RNG.normal(size=(3, 4, 8)).astype(np.float32)
    v = RNG.normal(size=(3, 5, 8)).astype(np.float32)
    query_mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], bool)
    value_mask = np.array([[1, 1, 1, 1, 0], [1, 0, 1, 0, 0], [0, 0, 1, 1, 1]], bool)
    q[~query_mask] = 0.0
    return q, v, query_mask, value_mask


def _carrying_mask(q):
    """`q` carrying its Keras mask: Keras 3's MultiHeadAttention reads the query's mask only from the value
    (its `query_mask=` argument is overwritten by the carried one)."""
    return keras.layers.Masking(0.0)(q)




def test_query_and_value_masks_match_keras(pair):
    m, keras_layer, ours_vars = pair
    q, v, qm, vm = _inputs()
    ours = forward_and_grads(lambda a, b: m.masks(a, b, qm, vm), [q, v], ours_vars)
    theirs = forward_and_grads(lambda a, b: keras_layer(_carrying_mask(a), b, value_mask=vm), [q, v],
                               keras_layer.trainable_variables)
    compare(ours, theirs)
    # The masks matter.
    assert not np.allclose(ours[0], keras_layer(q, v).numpy(), atol=1e-3)


def test_causal_mask_matches_keras(pair):
    m, keras_layer, ours_vars = pair
    q, v, _, _ = _inputs()
    ours = forward_and_grads(m.causal, [q, v], ours_vars)
    theirs = forward_and_grads(lambda a, b: keras_layer(a, b, use_causal_mask=True), [q, v],
                               keras_layer.trainable_variables)
    compare(ours, theirs)
    assert not np.allclose(ours[0], keras_layer(q, v).numpy(), atol=1e-3)


@pytest.mark.parametrize("causal", [True, False])
def test_every_mask_combined_as_keras(pair, causal):
    m, keras_layer, ours_vars = pair
    q, v, qm, vm = _inputs()
    am = RNG.uniform(size=(3, 4, 5)) > 0.3
    method = m.every if causal else m.no_causal
    ours = forward_and_grads(lambda a, b: method(a, b, qm, vm, am), [q, v], ours_vars)
    theirs = forward_and_grads(
        lambda a, b: keras_layer(_carrying_mask(a), b, value_mask=vm, attention_mask=am, use_causal_mask=causal),
        [q, v], keras_layer.trainable_variables)
    compare(ours, theirs)


def test_embedding_mask_zero_into_self_attention_matches_keras(pair):
    """Keras carries Embedding(mask_zero=True)'s mask into the attention as its query and value masks;
    tfm passes `ids != 0` for both."""
    m, keras_layer, ours_vars = pair
    table = randomize(m.embedding, RNG)["embeddings"]
    keras_embedding = keras.layers.Embedding(9, 8, mask_zero=True)
    keras_embedding.build((None, 5))
    keras_embedding.set_weights([table])
    ids = np.array([[3, 1, 4, 0, 0], [5, 2, 6, 8, 0], [7, 2, 8, 1, 8]], np.int32)

    def keras_call(i):
        e = keras_embedding(i)
        return keras_layer(e, e)  # the mask rides on `e`

    ours = forward_and_grads(m.self_attention, [ids], [m.embedding.embeddings, *ours_vars])
    theirs = forward_and_grads(keras_call, [ids], [keras_embedding.embeddings, *keras_layer.trainable_variables])
    compare(ours, theirs)
    e = keras_embedding(ids).numpy()  # a plain array: no mask
    assert not np.allclose(ours[0], keras_layer(e, e).numpy(), atol=1e-3)


@pytest.fixture(scope="module")
def pooling(tmp_path_factory):
    source = tmp_path_factory.mktemp("pool") / "pool.tfm"
    source.write_text("module M:\n    sub avg = GlobalAveragePooling1D()\n    sub largest = GlobalMaxPooling1D()\n\n"
                      "    fn average(x: f32[N, T, 3], mask: bool[N, T]) -> f32[N, 3]:\n"
                      "        return avg.call_masked(x, mask)\n\n"
                      "    fn maximum(x: f32[N, T, 3], mask: bool[N, T]) -> f32[N, 3]:\n"
                      "        return largest.call_masked(x, mask)\n")
    return tfm.load(source).M()


def test_masked_global_average_pooling_matches_keras(pooling):
    x = RNG.normal(size=(3, 5, 3)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 0, 1], [1, 1, 1, 1, 1]], bool)
    ours = forward_and_grads(lambda a: pooling.average(a, mask), [x], [])
    theirs = forward_and_grads(lambda a: keras.layers.GlobalAveragePooling1D()(a, mask=mask), [x], [])
    compare(ours, theirs)
    np.testing.assert_allclose(ours[0][0], x[0, :3].mean(axis=0), rtol=1e-5)
    assert ours[1][0][0, 3:].max() == 0.0  # no gradient reaches a masked step


def test_embedding_mask_zero_into_average_pooling_matches_keras(tmp_path):
    """Keras carries Embedding(mask_zero=True)'s mask into GlobalAveragePooling1D; tfm passes `ids != 0`."""
    source = tmp_path / "pool.tfm"
    source.write_text("module M:\n    sub embedding = Embedding(9, 3)\n    sub pool = GlobalAveragePooling1D()\n\n"
                      "    fn f(ids: i32[N, T]) -> f32[N, 3]:\n        return pool.call_masked(embedding(ids), ids != 0)\n")
    m = tfm.load(source).M()
    table = randomize(m.embedding, RNG)["embeddings"]
    keras_embedding = keras.layers.Embedding(9, 3, mask_zero=True)
    keras_embedding.build((None, 5))
    keras_embedding.set_weights([table])
    ids = np.array([[3, 1, 4, 0, 0], [5, 0, 6, 8, 0], [7, 2, 8, 1, 8]], np.int32)
    pool = keras.layers.GlobalAveragePooling1D()
    ours = forward_and_grads(m.f, [ids], [m.embedding.embeddings])
    theirs = forward_and_grads(lambda i: pool(keras_embedding(i)), [ids], [keras_embedding.embeddings])
    compare(ours, theirs)
    assert not np.allclose(ours[0], pool(keras_embedding(ids).numpy()).numpy(), atol=1e-3)  # the mask matters


def test_masked_global_max_pooling_leaves_out_masked_steps(pooling):
    """Keras 3's GlobalMaxPooling1D ignores a mask; tfm's `call_masked` is Keras' layer over the unmasked
    steps alone (each row cut to its steps), and 0 for a row with none."""
    x = RNG.normal(size=(3, 5, 3)).astype(np.float32)
    x[0, 4] = 10.0  # a masked step holding the largest value
    mask = np.array([[1, 1, 1, 0, 0], [0, 1, 0, 1, 0], [0, 0, 0, 0, 0]], bool)
    ours = forward_and_grads(lambda a: pooling.maximum(a, mask), [x], [])
    for row in range(2):
        steps = x[row:row + 1, mask[row]]
        theirs = forward_and_grads(lambda a: keras.layers.GlobalMaxPooling1D()(a), [steps], [])
        np.testing.assert_allclose(ours[0][row], theirs[0][0], rtol=1e-6)
    np.testing.assert_array_equal(ours[0][2], np.zeros(3))
    assert ours[1][0][~mask].max() == 0.0 and np.abs(ours[1][0][mask]).sum() > 0.0


def test_masked_attention_exports_to_saved_model(pair, tmp_path):
    m, _, _ = pair
    ids = np.array([[3, 1, 4, 0, 0], [5, 2, 6, 8, 0]], np.int32)
    expected = m.self_attention(ids).numpy()
    tf.saved_model.save(m, str(tmp_path / "saved"))
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    np.testing.assert_allclose(loaded.self_attention(ids).numpy(), expected, rtol=1e-6)
