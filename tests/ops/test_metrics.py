"""The metric library (dsl/library/metrics.tfm) against keras.metrics: the same batches give the same
result after each update, `reset_state` starts over, and each state is a non-trainable variable."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

import tfm  # noqa: E402

RNG = np.random.default_rng(23)
M = keras.metrics

# sub name, its construction in .tfm, the Keras metric, how a batch is drawn
METRICS = [
    ("mean", "Mean()", lambda: M.Mean(), "values"),
    ("sum", "Sum()", lambda: M.Sum(), "values"),
    ("accuracy", "Accuracy()", lambda: M.Accuracy(), "rounded"),
    ("binary", "BinaryAccuracy()", lambda: M.BinaryAccuracy(), "binary"),
    ("binary_threshold", "BinaryAccuracy(threshold=0.7)", lambda: M.BinaryAccuracy(threshold=0.7), "binary"),
    ("categorical", "CategoricalAccuracy()", lambda: M.CategoricalAccuracy(), "one_hot"),
    ("sparse", "SparseCategoricalAccuracy()", lambda: M.SparseCategoricalAccuracy(), "sparse"),
    ("top_k", "TopKCategoricalAccuracy(k=2)", lambda: M.TopKCategoricalAccuracy(k=2), "one_hot"),
    ("top_5", "TopKCategoricalAccuracy()", lambda: M.TopKCategoricalAccuracy(), "one_hot"),
    ("precision", "Precision()", lambda: M.Precision(), "binary"),
    ("precision_high", "Precision(thresholds=0.8)", lambda: M.Precision(thresholds=0.8), "binary"),
    ("recall", "Recall()", lambda: M.Recall(), "binary"),
    ("recall_low", "Recall(thresholds=0.3)", lambda: M.Recall(thresholds=0.3), "binary"),
    ("auc", "AUC()", lambda: M.AUC(), "binary"),
    ("auc_coarse", "AUC(num_thresholds=7)", lambda: M.AUC(num_thresholds=7), "binary"),
    ("iou", "MeanIoU(4)", lambda: M.MeanIoU(num_classes=4), "class_ids"),
    ("rmse", "RootMeanSquaredError()", lambda: M.RootMeanSquaredError(), "regression"),
    ("mae", "MeanAbsoluteError()", lambda: M.MeanAbsoluteError(), "regression"),
]


def _batch(kind: str, rows: int) -> tuple[np.ndarray, ...]:
    """One batch of (inputs...) for update_state, of `rows` examples (6 classes where there are any)."""
    f32 = np.float32
    if kind == "values":
        return (RNG.normal(size=(rows, 3)).astype(f32),)
    if kind == "rounded":
        return RNG.integers(0, 3, (rows, 6)).astype(f32), RNG.integers(0, 3, (rows, 6)).astype(f32)
    if kind == "binary":
        return RNG.integers(0, 2, (rows, 6)).astype(f32), RNG.uniform(0.0, 1.0, (rows, 6)).astype(f32)
    if kind == "one_hot":
        labels = np.eye(6, dtype=f32)[RNG.integers(0, 6, rows)]
        return labels, RNG.uniform(0.0, 1.0, (rows, 6)).astype(f32)
    if kind == "sparse":
        return RNG.integers(0, 6, rows).astype(np.int32), RNG.uniform(0.0, 1.0, (rows, 6)).astype(f32)
    if kind == "class_ids":
        return RNG.integers(0, 3, rows).astype(np.int32), RNG.integers(0, 4, rows).astype(np.int32)
    return RNG.normal(size=(rows, 6)).astype(f32), RNG.normal(size=(rows, 6)).astype(f32)


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    path = tmp_path_factory.mktemp("metrics") / "metrics.tfm"
    path.write_text("module Metrics:\n" + "".join(f"    sub {name} = {construct}\n" for name, construct, _, _ in METRICS))
    return tfm.load(path).Metrics()


@pytest.mark.parametrize("name, construct, keras_metric, kind", METRICS, ids=[m[0] for m in METRICS])
def test_metric_matches_keras_over_batches_and_resets(module, name, construct, keras_metric, kind):
    ours, theirs = getattr(module, name), keras_metric()
    assert float(ours.result()) == float(theirs.result()) == 0.0  # nothing seen yet
    for rows in (5, 8, 1):
        batch = _batch(kind, rows)
        ours.update_state(*batch)
        theirs.update_state(*batch)
        np.testing.assert_allclose(ours.result().numpy(), theirs.result().numpy(), rtol=1e-5, atol=1e-6)
    ours.reset_state()
    theirs.reset_state()
    assert float(ours.result()) == 0.0
    batch = _batch(kind, 7)
    ours.update_state(*batch)
    theirs.update_state(*batch)
    np.testing.assert_allclose(ours.result().numpy(), theirs.result().numpy(), rtol=1e-5, atol=1e-6)
    assert ours.variables and not ours.trainable_variables


def test_metrics_take_batches_of_other_ranks(module):
    """Mean of scalars and vectors; Accuracy, Precision and MeanIoU of rank-1 batches."""
    keras_mean = M.Mean()
    module.mean.reset_state()
    for values in (np.float32(3.0), np.array([1.0, 2.0], np.float32)):
        module.mean.update_state(values)
        keras_mean.update_state(values)
    np.testing.assert_allclose(module.mean.result().numpy(), keras_mean.result().numpy())
    labels, predictions = np.array([1, 0, 1, 1], np.float32), np.array([0.9, 0.6, 0.2, 0.7], np.float32)
    module.precision.reset_state()
    module.precision.update_state(labels, predictions)
    keras_precision = M.Precision()
    keras_precision.update_state(labels, predictions)
    np.testing.assert_allclose(module.precision.result().numpy(), keras_precision.result().numpy())
    truth, guess = np.array([[0, 1], [2, 2]], np.int32), np.array([[0, 1], [1, 2]], np.int32)
    module.iou.reset_state()
    module.iou.update_state(truth, guess)
    keras_iou = M.MeanIoU(num_classes=4)
    keras_iou.update_state(truth, guess)
    np.testing.assert_allclose(module.iou.result().numpy(), keras_iou.result().numpy(), rtol=1e-6)


def test_a_training_step_updates_a_metric(tmp_path):
    """A module holds a metric, updates it in a method and reads it in another, as a train step does."""
    source = tmp_path / "model.tfm"
    source.write_text("module Model:\n    sub accuracy = SparseCategoricalAccuracy()\n\n"
                      "    fn step(labels: i32[N], logits: f32[N, 3]) -> f32[]:\n"
                      "        accuracy.update_state(labels, logits)\n        return accuracy.result()\n")
    model = tfm.load(source).Model()
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 1.0]], np.float32)
    assert float(model.step(np.array([0, 1], np.int32), logits)) == pytest.approx(0.5)
    assert float(model.step(np.array([0, 2], np.int32), logits)) == pytest.approx(0.75)


def test_a_module_holding_metrics_exports_and_its_metric_runs_served(tmp_path):
    """The SavedModel serves a method that updates and reads a metric: its state lives in the SavedModel
    and accumulates over calls, as Keras' AUC does over the same batches."""
    source = tmp_path / "classifier.tfm"
    source.write_text("module Classifier:\n    sub head = Dense(4, 3)\n    sub auc = AUC(num_thresholds=50)\n\n"
                      "    fn evaluate(x: f32[N, 4], labels: f32[N, 3]) -> f32[]:\n"
                      "        auc.update_state(labels, softmax(head(x)))\n        return auc.result()\n")
    model = tfm.load(source).Classifier()
    tfm.export(source, "Classifier", tmp_path / "saved", instance=model, signatures=["evaluate"])
    served = tf.saved_model.load(str(tmp_path / "saved")).signatures["serving_default"]
    keras_auc = M.AUC(num_thresholds=50)
    for rows in (6, 9):
        x = RNG.normal(size=(rows, 4)).astype(np.float32)
        labels = np.eye(3, dtype=np.float32)[RNG.integers(0, 3, rows)]
        result = served(x=tf.constant(x), labels=tf.constant(labels))["output_0"]
        keras_auc.update_state(labels, tf.nn.softmax(x @ model.head.kernel + model.head.bias))
        np.testing.assert_allclose(result.numpy(), keras_auc.result().numpy(), rtol=1e-5)
