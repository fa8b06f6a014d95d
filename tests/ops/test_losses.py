"""The losses against keras.losses: each loss op, compiled in a `.tfm` method, gives the values and the
gradients (for the labels and the predictions) of the Keras 3 Loss object with the same options
(reduction, label_smoothing, from_logits, delta, axis...), on ordinary inputs and on extreme ones (exact
zeros and ones among probabilities, errors of 1000, zero labels, saturating logits)."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

import tfm  # noqa: E402

RNG = np.random.default_rng(11)
SHAPE = (3, 4)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _one_hot(classes: list[int]) -> np.ndarray:
    return np.eye(SHAPE[1], dtype=np.float32)[classes]


# Each kind of input: (ordinary, extreme) pairs of (y_true, y_pred), f32 of SHAPE.
INPUTS = {
    "regression": (
        (RNG.normal(size=SHAPE), RNG.normal(size=SHAPE)),
        ([[0.0, 0.0, 0.0, 0.0], [1e3, -1e3, 2.0, 0.5], [3.0, 3.0, -3.0, 0.0]],
         [[0.0, 1e-9, -2e3, 5.0], [-1e3, 1e3, 2.0, 0.5], [3.0, 3.0, -3.0, 1e-3]]),
    ),
    "positive": (
        (RNG.uniform(0.0, 3.0, SHAPE), RNG.uniform(0.1, 3.0, SHAPE)),
        ([[0.0, 0.0, 5.0, 1e3], [2.0, 0.0, 0.0, 1.0], [0.0, 1.0, 2.0, 3.0]],
         [[0.0, 1e3, 1e-9, 1e3], [2.0, 1e-3, 0.0, 1.0], [4.0, 1.0, 2.0, 1e-7]]),
    ),
    "probabilities": (
        (_softmax(RNG.normal(size=SHAPE)), _softmax(RNG.normal(size=SHAPE))),
        (_one_hot([0, 2, 3]), [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.25, 0.25, 0.5, 0.0]]),
    ),
    "one_hot": (
        (_one_hot([1, 0, 3]), _softmax(RNG.normal(size=SHAPE))),
        (_one_hot([0, 2, 3]), [[0.0, 1.0, 0.0, 0.0], [1e-9, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]),
    ),
    "one_hot_logits": (
        (_one_hot([1, 0, 3]), RNG.normal(size=SHAPE)),
        (_one_hot([0, 2, 3]), [[-50.0, 50.0, 0.0, 0.0], [0.0, 0.0, 80.0, -80.0], [1.0, 1.0, 1.0, 40.0]]),
    ),
    "binary": (
        (RNG.integers(0, 2, SHAPE), RNG.uniform(0.01, 0.99, SHAPE)),
        ([[0.0, 1.0, 0.0, 1.0], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]],
         [[1.0, 0.0, 0.0, 1.0], [1.0, 1e-9, 1.0, 0.0], [0.5, 1e-3, 0.999, 1.0]]),
    ),
    "binary_logits": (
        (RNG.integers(0, 2, SHAPE), RNG.normal(size=SHAPE)),
        ([[0.0, 1.0, 0.0, 1.0], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]],
         [[40.0, -40.0, -30.0, 30.0], [100.0, -100.0, 0.0, 20.0], [0.0, 1e3, -1e3, 5.0]]),
    ),
    "hinge": (
        (RNG.integers(0, 2, SHAPE), RNG.normal(size=SHAPE)),
        ([[0.0, 1.0, 0.0, 1.0], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]],
         [[1e3, -1e3, -1.0, 1.0], [1.0, 0.0, 2.0, -2.0], [0.0, 0.0, 1e3, 1e-9]]),
    ),
    "signed": (
        (RNG.choice([-1.0, 1.0], SHAPE), RNG.normal(size=SHAPE)),
        ([[-1.0, 1.0, -1.0, 1.0], [1.0, 1.0, -1.0, -1.0], [0.5, -0.5, 1.0, 1.0]],
         [[1e3, -1e3, -1.0, 1.0], [1.0, 0.0, 2.0, -2.0], [0.0, 0.0, 1e3, 1e-9]]),
    ),
}

L = keras.losses
# (the tfm call's options, the Keras Loss object, the kind of inputs)
CASES = [
    ("huber()", L.Huber(reduction="none"), "regression"),
    ("huber(delta=0.5, reduction='sum')", L.Huber(delta=0.5, reduction="sum"), "regression"),
    ("huber(delta=2.0, reduction='sum_over_batch_size')", L.Huber(delta=2.0), "regression"),
    ("log_cosh()", L.LogCosh(reduction="none"), "regression"),
    ("log_cosh(reduction='mean')", L.LogCosh(reduction="mean"), "regression"),
    ("kl_divergence()", L.KLDivergence(reduction="none"), "probabilities"),
    ("kl_divergence(reduction='sum_over_batch_size')", L.KLDivergence(), "probabilities"),
    ("poisson()", L.Poisson(reduction="none"), "positive"),
    ("poisson(reduction='sum')", L.Poisson(reduction="sum"), "positive"),
    ("hinge()", L.Hinge(reduction="none"), "hinge"),
    ("hinge()", L.Hinge(reduction="none"), "signed"),
    ("squared_hinge()", L.SquaredHinge(reduction="none"), "hinge"),
    ("squared_hinge(reduction='sum_over_batch_size')", L.SquaredHinge(), "signed"),
    ("categorical_hinge()", L.CategoricalHinge(reduction="none"), "one_hot_logits"),
    ("cosine_similarity()", L.CosineSimilarity(reduction="none"), "regression"),
    ("cosine_similarity(axis=0)", L.CosineSimilarity(axis=0, reduction="none"), "regression"),
    ("cosine_similarity(reduction='sum_over_batch_size')", L.CosineSimilarity(), "regression"),
    ("mean_absolute_percentage_error()", L.MeanAbsolutePercentageError(reduction="none"), "regression"),
    ("mean_absolute_percentage_error(reduction='sum')", L.MeanAbsolutePercentageError(reduction="sum"),
     "positive"),
    ("mean_squared_logarithmic_error()", L.MeanSquaredLogarithmicError(reduction="none"), "positive"),
    ("mean_squared_logarithmic_error(reduction='sum_over_batch_size')", L.MeanSquaredLogarithmicError(),
     "regression"),
    ("binary_focal_crossentropy()", L.BinaryFocalCrossentropy(reduction="none"), "binary"),
    ("binary_focal_crossentropy(apply_class_balancing=True, alpha=0.4, gamma=3.0, label_smoothing=0.1)",
     L.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.4, gamma=3.0, label_smoothing=0.1,
                               reduction="none"), "binary"),
    ("binary_focal_crossentropy(from_logits=True, reduction='sum_over_batch_size')",
     L.BinaryFocalCrossentropy(from_logits=True), "binary_logits"),
    ("binary_focal_crossentropy(from_logits=True, label_smoothing=0.2, reduction='sum')",
     L.BinaryFocalCrossentropy(from_logits=True, label_smoothing=0.2, reduction="sum"), "binary_logits"),
    ("categorical_focal_crossentropy()", L.CategoricalFocalCrossentropy(reduction="none"), "one_hot"),
    ("categorical_focal_crossentropy(alpha=0.5, gamma=1.0, label_smoothing=0.1)",
     L.CategoricalFocalCrossentropy(alpha=0.5, gamma=1.0, label_smoothing=0.1, reduction="none"), "one_hot"),
    ("categorical_focal_crossentropy(from_logits=True, reduction='sum_over_batch_size')",
     L.CategoricalFocalCrossentropy(from_logits=True), "one_hot_logits"),
    ("categorical_crossentropy(label_smoothing=0.1)",
     L.CategoricalCrossentropy(label_smoothing=0.1, reduction="none"), "one_hot"),
    ("categorical_crossentropy(from_logits=True, label_smoothing=0.2, reduction='sum_over_batch_size')",
     L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2), "one_hot_logits"),
    ("binary_crossentropy(label_smoothing=0.1, reduction='sum')",
     L.BinaryCrossentropy(label_smoothing=0.1, reduction="sum"), "binary"),
    ("binary_crossentropy(from_logits=True)", L.BinaryCrossentropy(from_logits=True, reduction="none"),
     "binary_logits"),
    ("binary_crossentropy(axis=0)", L.BinaryCrossentropy(axis=0, reduction="none"), "binary"),
    ("mean_absolute_error()", L.MeanAbsoluteError(), "regression"),
    ("mean_squared_error()", L.MeanSquaredError(), "regression"),
]


def _result_type(call: str) -> str:
    if "reduction=" in call and "reduction='none'" not in call or call.startswith("mean_absolute_error") \
            or call.startswith("mean_squared_error"):
        return "f32[]"
    return "f32[4]" if "axis=0" in call else "f32[N]"


def _method(k: int, call: str) -> str:
    name, _, options = call.partition("(")
    arguments = ", ".join(filter(None, ("y, p", options.rstrip(")"))))
    return (f"    fn case_{k}(y: f32[N, 4], p: f32[N, 4]) -> {_result_type(call)}:\n"
            f"        return {name}({arguments})\n")


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    path = tmp_path_factory.mktemp("losses") / "losses.tfm"
    path.write_text("module Losses:\n" + "\n".join(_method(k, call) for k, (call, _, _) in enumerate(CASES)))
    return tfm.load(path).Losses()


def _value_and_gradients(loss, y_true, y_pred):
    y, p = tf.constant(y_true, tf.float32), tf.constant(y_pred, tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([y, p])
        value = loss(y, p)
        total = tf.reduce_sum(value * np.linspace(0.5, 1.5, int(np.prod(value.shape)) or 1)
                              .reshape(value.shape).astype(np.float32))
    return [value.numpy(), *(g.numpy() for g in tape.gradient(total, [y, p]))]


@pytest.mark.parametrize("inputs", ["ordinary", "extreme"])
@pytest.mark.parametrize("k", range(len(CASES)), ids=[f"{call}-{kind}" for call, _, kind in CASES])
def test_loss_matches_keras(module, k, inputs):
    call, keras_loss, kind = CASES[k]
    y_true, y_pred = INPUTS[kind][inputs == "extreme"]
    ours = _value_and_gradients(getattr(module, f"case_{k}"), y_true, y_pred)
    theirs = _value_and_gradients(keras_loss, y_true, y_pred)
    assert ours[0].shape == theirs[0].shape
    for a, b, what in zip(ours, theirs, ("loss", "gradient for the labels", "gradient for the predictions")):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-5, err_msg=what)
    assert np.isfinite(ours[0]).all()


@pytest.mark.parametrize("options, keras_loss", [
    ("", L.SparseCategoricalCrossentropy(reduction="none")),
    ("reduction='sum'", L.SparseCategoricalCrossentropy(reduction="sum")),
    ("from_logits=True, reduction='sum_over_batch_size'", L.SparseCategoricalCrossentropy(from_logits=True)),
])
def test_sparse_categorical_crossentropy_matches_keras(tmp_path, options, keras_loss):
    result = "f32[N]" if not options else "f32[]"
    path = tmp_path / "sparse.tfm"
    path.write_text(f"module S:\n    fn f(y: i32[N], p: f32[N, 4]) -> {result}:\n"
                    f"        return sparse_categorical_crossentropy({', '.join(filter(None, ('y, p', options)))})\n")
    m = tfm.load(path).S()
    labels = np.array([1, 0, 3], np.int32)
    for predictions in (INPUTS["one_hot"][0][1], INPUTS["one_hot"][1][1], INPUTS["one_hot_logits"][1][1]):
        p = tf.constant(predictions, tf.float32)
        values = []
        for loss in (m.f, keras_loss):
            with tf.GradientTape() as tape:
                tape.watch(p)
                value = loss(tf.constant(labels), p)
                total = tf.reduce_sum(value)
            values.append((value.numpy(), tape.gradient(total, p).numpy()))
        np.testing.assert_allclose(values[0][0], values[1][0], rtol=2e-5, atol=1e-5)
        np.testing.assert_allclose(values[0][1], values[1][1], rtol=2e-5, atol=1e-5)


def test_a_loss_options_are_checked():
    from support import diagnostics_of

    source = ("module M:\n    fn f(y: f32[N, 4], p: f32[N, 4]) -> f32[]:\n"
              "        return huber(y, p, reduction='average')\n")
    assert [d.code for d in diagnostics_of(source)] == ["E023"]
    source = ("module M:\n    fn f(y: f32[N, 4], p: f32[N, 3]) -> f32[N]:\n"
              "        return kl_divergence(y, p)\n")
    assert "E041" in [d.code for d in diagnostics_of(source)]


def test_every_loss_exports_to_saved_model_and_tflite(tmp_path):
    """Each loss (its first case above) as a method of one module (a fixed batch: TFLite's signatures
    are static), exported: tfm.export runs the .tflite in LiteRT (builtin ops only) and compares it with
    the SavedModel."""
    first = {call.partition("(")[0]: k for k, (call, _, _) in reversed(list(enumerate(CASES)))}
    methods = [_method(k, CASES[k][0]).replace("[N, 4]", "[3, 4]").replace("[N]", "[3]") for k in first.values()]
    source = tmp_path / "losses.tfm"
    source.write_text("module Losses:\n" + "\n".join(methods))
    # Each method takes labels, which a default export does not serve: name them all.
    tfm.export(source, "Losses", tmp_path / "saved", tflite=tmp_path / "losses.tflite",
               signatures=[f"case_{k}" for k in first.values()])
    assert len(tf.saved_model.load(str(tmp_path / "saved")).signatures) == len(first)
