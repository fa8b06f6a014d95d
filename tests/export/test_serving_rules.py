"""What an export serves and holds: the @serving method, else methods that neither train nor take
labels; no training step or unused optimizer in the SavedModel; TensorFlow's reusable SavedModel
attributes, fine-tunable after loading; TFLite failures named by method and line; nothing left behind."""

from __future__ import annotations

import numpy as np
import pytest

import tfm
from tfm.cli import main
from tfm.exports.exporter import ExportError
from support import EXAMPLES, run_python

CLASSIFIER = """\
module Classifier(num_classes: int = 3):
    sub hidden = Dense(4, 8, activation="relu")
    sub head = Dense(8, num_classes)
    sub optimizer = SGD(learning_rate=0.1)

    fn predict(x: f32[N, 4]) -> f32[N, num_classes]:
        return softmax(head(hidden(x)))

    fn loss(x: f32[N, 4], y: i32[N]) -> f32[]:
        labels = y
        return reduce_mean(sparse_categorical_crossentropy(labels, head(hidden(x)), from_logits=True))

    fn evaluate(x: f32[N, 4], y: i32[N]) -> f32[]:
        return loss(x, y)

    fn train_step(x: f32[N, 4], y: i32[N]) -> f32[]:
        with GradientTape() as tape:
            value = loss(x, y)
        optimizer.minimize(value, tape)
        return value
"""


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    path = tmp_path_factory.mktemp("src") / "classifier.tfm"
    path.write_text(CLASSIFIER)
    return path


@pytest.fixture(scope="module")
def exported(classifier, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "classifier"
    report = tfm.export(classifier, "Classifier", out)
    return out, report


def test_without_serving_mark_methods_that_train_or_take_labels_are_left_out(exported):
    _, report = exported
    assert {c.key: c.method for c in report.signatures} == {"serving_default": "predict"}
    assert report.left_out["loss"].startswith("it takes labels (its input `y` is the y_true of "
                                              "`sparse_categorical_crossentropy` (line 11)")
    assert report.left_out["evaluate"].startswith("it takes labels (its input `y` is passed to `loss`, where its "
                                                  "input `y` is the y_true")
    assert report.left_out["train_step"].startswith("it updates trainable variables")


def test_signatures_adds_to_the_default(classifier, tmp_path):
    report = tfm.export(classifier, "Classifier", tmp_path / "e", signatures=["evaluate"])
    assert {c.key: c.method for c in report.signatures} == {"serving_default": "predict", "evaluate": "evaluate"}


def test_the_saved_model_holds_no_training_step_nor_optimizer_and_loads_without_warnings(exported):
    out, report = exported
    assert set(report.variables) == {"hidden/kernel", "hidden/bias", "head/kernel", "head/bias"}
    done = run_python("import sys, tensorflow as tf\n"
                      "m = tf.saved_model.load(sys.argv[1])\n"
                      "print(sorted(m.signatures), hasattr(m, 'train_step'), hasattr(m, 'optimizer'))\n",
                      args=[str(out)])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['serving_default'] False False"
    assert "custom gradients" not in done.stderr and "WARNING:absl" not in done.stderr


def test_a_loaded_export_follows_the_reusable_saved_model_convention_and_fine_tunes(exported):
    import tensorflow as tf

    out, _ = exported
    loaded = tf.saved_model.load(str(out))
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(loaded(x).numpy(), loaded.signatures["serving_default"](x=x)["output_0"].numpy(),
                               rtol=1e-6)
    assert len(loaded.variables) == 4 and len(loaded.trainable_variables) == 4
    assert list(loaded.regularization_losses) == []
    before = [v.numpy() for v in loaded.trainable_variables]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(tf.constant([0, 1, 2, 0, 1]), loaded(x)))
    grads = tape.gradient(loss, loaded.trainable_variables)
    assert all(g is not None for g in grads)
    tf.keras.optimizers.SGD(0.5).apply_gradients(zip(grads, loaded.trainable_variables))
    changed = [not np.array_equal(b, v.numpy()) for b, v in zip(before, loaded.trainable_variables)]
    assert all(changed)


def test_deep_variables_keep_their_module_paths(tmp_path):
    """The convention's `variables` list is a shorter way to an LSTM cell's weights; the export still
    names and verifies them by their module paths."""
    report = tfm.export(EXAMPLES / "lstm_sequence.tfm", "LSTMRegressor", tmp_path / "lstm")
    assert "lstm/cell/w_i" in report.variables and not any(p.startswith("optimizer") for p in report.variables)


def test_a_served_training_method_keeps_its_optimizer(classifier, tmp_path):
    report = tfm.export(classifier, "Classifier", tmp_path / "t", signatures=["train_step"])
    assert any(path.startswith("optimizer/") for path in report.variables)


def test_a_failing_tflite_conversion_names_method_and_line_and_leaves_nothing(classifier, tmp_path, capsys):
    base = tmp_path / "missing" / "serving"
    code = main(["export", str(classifier), "Classifier", "--signatures", "loss", "--out", str(base), "--version",
                 "--tflite", str(tmp_path / "m.tflite")])
    err = capsys.readouterr().err
    assert code == 1
    assert "needs the TensorFlow op SparseSoftmaxCrossEntropyWithLogits from loss at classifier.tfm:11" in err, err
    assert list(tmp_path.iterdir()) == []  # neither the version directory nor the ones made for it


def test_a_failed_export_removes_only_the_directories_it_made(classifier, tmp_path):
    (tmp_path / "kept").mkdir()
    with pytest.raises(ExportError):
        tfm.export(classifier, "Classifier", tmp_path / "kept" / "a" / "b", init={"num_classes": 0})
    assert [p.name for p in tmp_path.iterdir()] == ["kept"] and list((tmp_path / "kept").iterdir()) == []


def test_help_states_the_rule(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "the method marked @serving" in out and "neither trains" in out and "nor takes labels" in out


def test_a_member_named_like_a_convention_attribute_is_refused(tmp_path):
    path = tmp_path / "r.tfm"
    path.write_text("module R:\n    var regularization_losses: f32[] = 0.0\n\n"
                    "    fn f(x: f32[]) -> f32[]:\n        return x + regularization_losses\n")
    with pytest.raises(ExportError, match="reusable SavedModel convention gives that name"):
        tfm.export(path, "R", tmp_path / "out")
    assert not (tmp_path / "out").exists()
