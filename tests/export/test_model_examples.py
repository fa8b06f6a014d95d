"""The three model examples built from the layer library (a CNN, a Transformer encoder block, an LSTM
sequence model): each trains on synthetic data until its loss falls, then is exported as a SavedModel
and a `.tflite` (builtin ops only), both verified by tfm against the trained module, and the
SavedModel, reloaded, predicts what the trained module predicts."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import tfm
from support import EXAMPLES

RNG = np.random.default_rng(0)


def _cnn_data():
    images = RNG.normal(size=(64, 28, 28, 1)).astype(np.float32)
    labels = (images[:, :14].mean(axis=(1, 2, 3)) > images[:, 14:].mean(axis=(1, 2, 3))).astype(np.int32)
    return (images, labels), (images[:4],)


def _transformer_data():
    ids = RNG.integers(1, 100, size=(64, 12)).astype(np.int32)
    mask = np.ones((64, 12), np.float32)
    mask[:, 9:] = 0.0  # padding at the end
    labels = (ids[:, 0] > 50).astype(np.int32)
    return (ids, mask, labels), (ids[:4], mask[:4])


def _lstm_data():
    ids = RNG.integers(0, 50, size=(64, 10)).astype(np.int32)
    return (ids, (ids[:, -1:] / 50.0).astype(np.float32)), (ids[:4],)


CASES = [("cnn_classifier", "CNNClassifier", _cnn_data), ("transformer_encoder", "TransformerEncoder", _transformer_data),
         ("lstm_sequence", "LSTMRegressor", _lstm_data)]


@pytest.mark.parametrize("example, module_name, data", CASES)
def test_model_example_trains_and_exports_verified(tmp_path, example, module_name, data):
    source = EXAMPLES / f"{example}.tfm"
    model = getattr(tfm.load(source), module_name)(**({"learning_rate": 0.01} if example == "cnn_classifier" else {}))
    batch, serving_inputs = data()
    losses = [float(model.train_step(*batch)) for _ in range(25)]
    assert np.isfinite(losses).all()
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), losses

    # The served method only: `logits` runs Dropout (with a `training` input), whose stateless random
    # ops TFLite has no builtin for.
    report = tfm.export(source, module_name, tmp_path / "saved", tflite=tmp_path / "model.tflite", instance=model,
                        signatures=["predict"])
    lite = report.tflite_report
    assert lite is not None and lite.runtime == "LiteRT" and not lite.flex_ops
    assert lite.max_abs_diff["serving_default"] < 1e-4  # the serving signature compared value for value
    assert "train_step" not in {c.method for c in report.signatures}

    served = tf.saved_model.load(str(tmp_path / "saved")).signatures["serving_default"]
    inputs = dict(zip([name for name, *_ in report.signatures[0].inputs], serving_inputs))
    reloaded = served(**{k: tf.constant(v) for k, v in inputs.items()})
    expected = model.signatures["serving_default"](**{k: tf.constant(v) for k, v in inputs.items()})
    if not isinstance(expected, dict):  # a method of one output returns it plainly; the SavedModel names it
        expected = {"output_0": expected}
    for key, value in expected.items():
        np.testing.assert_allclose(reloaded[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6)


def test_dropout_in_an_export_needs_flex_in_tflite(tmp_path, capsys):
    """A served method that draws random numbers (dropout in training mode) draws them with stateless
    ops keyed by the module's random state (so training resumes exactly): TFLite has no builtin for
    those, so its export asks for Select-TF (Flex) ops and says which."""
    from tfm.cli import main

    code = main(["export", str(EXAMPLES / "cnn_classifier.tfm"), "CNNClassifier", "--out", str(tmp_path / "s"),
                 "--signatures", "logits", "--tflite", str(tmp_path / "m.tflite"), "--allow-flex"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "with Select-TF (Flex) ops StatelessRandom" in out
