"""Exporting what was trained: a built instance or a checkpoint's weights, verified value for value;
what is served (training methods left out unless asked for); plain `tf.saved_model.save` on a
compiled module; the manifest `tfm inspect` shows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

import tfm
from tfm.cli import main
from tfm.exports.exporter import ExportError
from tfm.exports.publish import MANIFEST_NAME
from support import EXAMPLES

REGRESSION = EXAMPLES / "linear_regression.tfm"


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(32, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [2.0], [-1.0]], np.float32) + 0.5).astype(np.float32)


@pytest.fixture()
def trained():
    model = tfm.load(REGRESSION).LinearRegression(learning_rate=0.05)
    x, y = _data()
    for _ in range(5):
        model.train_step(x, y)
    return model


def _saved_values(directory) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(str(directory / "variables" / "variables"))
    suffix = "/.ATTRIBUTES/VARIABLE_VALUE"
    return {k.removesuffix(suffix): reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if k.endswith(suffix)}


def test_a_trained_instance_is_exported_with_its_weights(trained, tmp_path):
    report = tfm.export(REGRESSION, "LinearRegression", tmp_path / "m", instance=trained)
    values = _saved_values(tmp_path / "m")
    np.testing.assert_array_equal(values["w"], trained.w.numpy())
    np.testing.assert_array_equal(values["b"], trained.b.numpy())
    fresh = tfm.load(REGRESSION).LinearRegression()
    assert not np.array_equal(fresh.w.numpy(), trained.w.numpy())  # training moved the weights
    loaded = tf.saved_model.load(str(tmp_path / "m"))
    x, _ = _data(1)
    np.testing.assert_allclose(loaded.signatures["serving_default"](x=x)["output_0"].numpy(),
                               trained.predict(x).numpy(), rtol=1e-6)
    assert [c.key for c in report.signatures] == ["serving_default"]
    assert "train_step" in report.left_out


def test_an_instance_of_another_module_is_refused(tmp_path):
    other = tfm.load(EXAMPLES / "demo_module.tfm").DemoModule()
    with pytest.raises(ExportError, match="not a LinearRegression compiled from linear_regression.tfm"):
        tfm.export(REGRESSION, "LinearRegression", tmp_path / "m", instance=other)
    assert not (tmp_path / "m").exists()


def test_export_from_a_checkpoint_carries_its_weights(trained, tmp_path, capsys):
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=trained), str(tmp_path / "ckpt"), max_to_keep=2)
    manager.save()
    x, y = _data()
    trained.train_step(x, y)
    latest = manager.save()
    assert main(["export", str(REGRESSION), "--module", "LinearRegression", "--checkpoint", str(tmp_path / "ckpt"),
                 "--out", str(tmp_path / "m")]) == 0
    assert f"weights from {latest}" in capsys.readouterr().out
    reader = tf.train.load_checkpoint(latest)
    values = _saved_values(tmp_path / "m")
    for name in ("w", "b"):
        np.testing.assert_array_equal(values[name], reader.get_tensor(f"model/{name}/.ATTRIBUTES/VARIABLE_VALUE"))
    manifest = json.loads((tmp_path / "m" / MANIFEST_NAME).read_text())
    assert manifest["checkpoint"] == latest and manifest["module"] == "LinearRegression"
    assert manifest["source"] == "linear_regression.tfm" and len(manifest["source_sha256"]) == 64
    assert manifest["signatures"] == {"serving_default": "predict"}
    assert main(["inspect", str(tmp_path / "m")]) == 0
    shown = capsys.readouterr().out
    assert f"weights from checkpoint {latest}" in shown and "module LinearRegression" in shown
    assert "train_step: it updates trainable variables" in shown


def test_a_named_checkpoint_is_exported_rather_than_the_latest(trained, tmp_path):
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=trained), str(tmp_path / "ckpt"), max_to_keep=2)
    first_w = trained.w.numpy()
    first = manager.save()
    trained.train_step(*_data())
    manager.save()
    tfm.export(REGRESSION, "LinearRegression", tmp_path / "m", checkpoint=first)
    np.testing.assert_array_equal(_saved_values(tmp_path / "m")["w"], first_w)


def test_a_checkpoint_of_another_module_is_refused(tmp_path, capsys):
    demo = tfm.load(EXAMPLES / "demo_module.tfm").DemoModule()
    tf.train.Checkpoint(model=demo).write(str(tmp_path / "ckpt" / "demo"))
    code = main(["export", str(REGRESSION), "--module", "LinearRegression", "--checkpoint",
                 str(tmp_path / "ckpt" / "demo"), "--out", str(tmp_path / "m")])
    assert code == 1
    assert "does not fit this module" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_a_missing_checkpoint_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = main(["export", str(REGRESSION), "--module", "LinearRegression", "--checkpoint", str(tmp_path / "empty"),
                 "--out", str(tmp_path / "m")])
    assert code == 1
    assert "holds no checkpoint" in capsys.readouterr().err


SIGNATURE_MARKED = """
module Counter:
    var w: f32[2] = [1.0, 2.0]
    state calls: i32[] = 0
    sub optimizer = SGD(learning_rate=0.5)

    fn predict(x: f32[N, 2]) -> f32[N]:
        calls.assign_add(1)
        return reduce_sum(x * w, axis=1)

    @signature
    fn fit(x: f32[N, 2], y: f32[N]) -> f32[]:
        with GradientTape() as tape:
            loss = reduce_mean(square(predict(x) - y))
        optimizer.minimize(loss, tape)
        return loss

    fn nudge(by: f32[2]):
        w.assign_add(by)

    fn step_via_fit(x: f32[N, 2], y: f32[N]) -> f32[]:
        return fit(x, y)
"""


def test_what_is_served_by_default(tmp_path):
    source = tmp_path / "counter.tfm"
    source.write_text(SIGNATURE_MARKED)
    report = tfm.export(source, "Counter", tmp_path / "m")
    assert {c.key: c.method for c in report.signatures} == {"serving_default": "predict", "fit": "fit"}
    assert set(report.left_out) == {"nudge", "step_via_fit"}
    assert "`w.assign_add` on a trainable variable" in report.left_out["nudge"]
    assert "it calls `fit`, which updates trainable variables" in report.left_out["step_via_fit"]


def test_plain_tf_saved_model_save_serves_the_serving_method(tmp_path):
    source = tmp_path / "counter.tfm"
    source.write_text(SIGNATURE_MARKED)
    counter = tfm.load(source).Counter()
    tf.saved_model.save(counter, str(tmp_path / "plain"))
    assert list(tf.saved_model.load(str(tmp_path / "plain")).signatures) == ["serving_default"]
    tf.saved_model.save(counter, str(tmp_path / "all"), signatures=counter.signatures)
    loaded = tf.saved_model.load(str(tmp_path / "all"))
    assert sorted(loaded.signatures) == ["fit", "serving_default"]
    out = loaded.signatures["serving_default"](x=tf.ones([3, 2]))["output_0"]
    np.testing.assert_allclose(out.numpy(), [3.0, 3.0, 3.0])


def test_a_method_with_no_outputs_can_be_served(tmp_path):
    source = tmp_path / "counter.tfm"
    source.write_text(SIGNATURE_MARKED)
    tfm.export(source, "Counter", tmp_path / "m", signatures=["predict", "nudge"])
    loaded = tf.saved_model.load(str(tmp_path / "m"))
    assert loaded.signatures["nudge"](by=tf.constant([1.0, 1.0])) == {}
    out = loaded.signatures["serving_default"](x=tf.ones([1, 2]))["output_0"]
    np.testing.assert_allclose(out.numpy(), [5.0])  # [1, 1] . ([1, 2] + [1, 1])


def test_a_module_with_nothing_to_serve_says_how_to_serve(tmp_path, capsys):
    source = tmp_path / "only_train.tfm"
    source.write_text("module OnlyTrain:\n    var w: f32[] = 1.0\n\n    fn bump():\n        w.assign_add(1.0)\n")
    assert main(["export", str(source), "--module", "OnlyTrain", "--out", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert "module OnlyTrain has no method to serve" in err and "--signatures" in err
