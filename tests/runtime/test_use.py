"""`tfm evaluate`, `tfm predict` and `tfm run --checkpoint`: what they give equals calling the method in
Python on the same data with the same restored weights; predict never replaces a file."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import tensorflow as tf

import tfm
from tfm.cli import main
from tfm.run.using import UseError
from support import EXAMPLES

REGRESSION = str(EXAMPLES / "linear_regression.tfm")
MSE = str(EXAMPLES / "mean_squared_error.tfm")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(data .npz, checkpoint directory, x) of a LinearRegression trained for 2 epochs."""
    directory = tmp_path_factory.mktemp("use")
    x = np.random.default_rng(0).normal(size=(70, 3)).astype(np.float32)
    np.savez(directory / "data.npz", x=x, y=(x @ np.array([[1.0], [2.0], [-1.0]], np.float32)).astype(np.float32))
    assert main(["train", REGRESSION, "LinearRegression.train_step", "--data", str(directory / "data.npz"),
                 "--epochs", "2", "--seed", "0", "--checkpoint-dir", str(directory / "ckpt")]) == 0
    return directory / "data.npz", directory / "ckpt", x



def _expected(trained) -> np.ndarray:
    _, ckpt, x = trained
    model = tfm.load(REGRESSION).LinearRegression()
    tf.train.Checkpoint(model=model).read(tf.train.latest_checkpoint(str(ckpt))).expect_partial()
    return model.predict(x).numpy()


@pytest.mark.parametrize("suffix", [".npz", ".npy", ".csv"])
def test_predict_equals_the_method_called_in_python(trained, tmp_path, suffix, capsys):
    data, ckpt, _ = trained
    out = tmp_path / f"preds{suffix}"
    assert main(["predict", REGRESSION, "LinearRegression.predict", "--data", str(data), "--checkpoint", str(ckpt),
                 "--out", str(out), "--batch-size", "16"]) == 0
    assert "for 70 examples" in capsys.readouterr().out
    if suffix == ".npz":
        got = np.load(out)["output_0"]
    elif suffix == ".npy":
        got = np.load(out)
    else:
        rows = list(csv.reader(out.open()))
        assert rows[0] == ["output_0_0"]
        got = np.array([[float(v) for v in row] for row in rows[1:]], np.float32)
    np.testing.assert_allclose(got, _expected(trained), rtol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary left behind


def test_predict_refuses_an_existing_output_file(trained, tmp_path, capsys):
    data, ckpt, _ = trained
    out = tmp_path / "preds.npz"
    out.write_bytes(b"mine")
    assert main(["predict", REGRESSION, "LinearRegression.predict", "--data", str(data), "--out", str(out)]) == 1
    assert "exists" in capsys.readouterr().err and out.read_bytes() == b"mine"
    link = tmp_path / "link.npz"
    link.symlink_to(tmp_path / "elsewhere.npz")
    with pytest.raises(UseError, match="exists"):
        tfm.predict(REGRESSION, "LinearRegression.predict", data, link)
    assert not (tmp_path / "elsewhere.npz").exists()


def test_evaluate_averages_the_scalar_outputs_over_the_examples(tmp_path, capsys):
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.normal(size=(70, 4)).astype(np.float32), rng.normal(size=(70, 4)).astype(np.float32)
    np.savez(tmp_path / "pairs.npz", y_true=y_true, y_pred=y_pred)
    result = tfm.evaluate(MSE, "MeanSquaredError.call", tmp_path / "pairs.npz", batch_size=32)
    model = tfm.load(MSE).MeanSquaredError()
    # Batches of 32, 32 and 6, each weighted by its size: the mean over every example.
    expected = sum(float(model.call(y_true[s:s + 32], y_pred[s:s + 32])) * len(y_true[s:s + 32])
                   for s in range(0, 70, 32)) / 70
    assert result.examples == 70 and result.scalars["output_0"] == pytest.approx(expected, rel=1e-6)
    assert main(["-q", "evaluate", MSE, "MeanSquaredError.call", "--data", str(tmp_path / "pairs.npz"),
                 "--format", "json"]) == 0
    import json

    shown = json.loads(capsys.readouterr().out)
    assert shown["examples"] == 70 and shown["scalars"]["output_0"] == pytest.approx(expected, rel=1e-6)


def test_evaluate_refuses_a_training_method(trained, capsys):
    data, ckpt, _ = trained
    assert main(["evaluate", REGRESSION, "LinearRegression.train_step", "--data", str(data),
                 "--checkpoint", str(ckpt)]) == 1
    assert "evaluate must not train" in capsys.readouterr().err


def test_run_with_a_checkpoint_gives_the_trained_output(trained, capsys):
    data, ckpt, x = trained
    assert main(["run", REGRESSION, "LinearRegression.predict", "--arg", f"x={x[:2].tolist()}",
                 "--checkpoint", str(ckpt), "--format", "json"]) == 0
    import json

    got = np.array(json.loads(capsys.readouterr().out)["output_0"], np.float32)
    np.testing.assert_allclose(got, _expected(trained)[:2], rtol=1e-5)


def test_a_checkpoint_of_another_module_is_one_clear_error(trained, tmp_path, capsys):
    data, _, _ = trained
    other = tmp_path / "other"
    model = tfm.load(str(EXAMPLES / "my_model.tfm")).MyModel()
    tf.train.Checkpoint(model=model).save(str(other / "ckpt"))
    assert main(["predict", REGRESSION, "LinearRegression.predict", "--data", str(data), "--checkpoint", str(other),
                 "--out", str(tmp_path / "p.npz")]) == 1
    err = capsys.readouterr().err
    assert "does not fit this module" in err and "Traceback" not in err
    assert not (tmp_path / "p.npz").exists()


def test_an_index_naming_a_file_outside_the_directory_is_refused(trained, tmp_path, capsys):
    data, _, _ = trained
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "checkpoint").write_text('model_checkpoint_path: "../elsewhere/ckpt-1"\n')
    assert main(["run", REGRESSION, "LinearRegression.predict", "--arg", "x=[[1, 2, 3]]",
                 "--checkpoint", str(bad)]) == 1
    assert "inside the directory" in capsys.readouterr().err


def test_predict_writes_every_named_output(tmp_path):
    images = np.random.default_rng(0).random((37, 28, 28, 1), dtype=np.float32)
    np.savez(tmp_path / "images.npz", images=images)
    source = str(EXAMPLES / "cnn_classifier.tfm")
    result = tfm.predict(source, "CNNClassifier.predict", tmp_path / "images.npz", tmp_path / "p.npz", batch_size=16)
    assert result.outputs == {"probabilities": "float32[37, 10]", "label": "int64[37]"}
    got = np.load(tmp_path / "p.npz")
    model = tfm.load(source).CNNClassifier()  # the same seeded initial weights
    expected = model.predict(images)
    np.testing.assert_allclose(got["probabilities"], expected["probabilities"].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got["label"], expected["label"].numpy())


# --- tfm.call and tfm.trace: `tfm run` and `tfm trace` from Python ------------------------------


def test_call_from_python_gives_what_the_method_gives(trained):
    _, ckpt, x = trained
    outputs = tfm.call(REGRESSION, "LinearRegression.predict", {"x": x[:3]}, checkpoint=ckpt)
    assert list(outputs) == ["output_0"] and isinstance(outputs["output_0"], np.ndarray)
    np.testing.assert_allclose(outputs["output_0"], _expected(trained)[:3], rtol=1e-6)
    fresh = tfm.call(REGRESSION, "LinearRegression.predict", {"x": x[:3].tolist()})  # lists work too; no weights
    assert not np.allclose(fresh["output_0"], outputs["output_0"])


def test_call_builds_with_init_and_keeps_state_per_call():
    demo = str(EXAMPLES / "demo_module.tfm")
    assert float(tfm.call(demo, "DemoModule.addprint", {"a": 5.0}, init={"init_value": 1.0})["output_0"]) == 6.0
    assert float(tfm.call(demo, "DemoModule.addprint", {"a": 5.0})["output_0"]) == 5.0  # a fresh module each call


@pytest.mark.parametrize("target, inputs, init, words", [
    ("LinearRegression.predikt", {}, None, "did you mean LinearRegression.predict"),
    ("LinearRegression", {}, None, "expected MODULE.METHOD"),
    ("LinearRegression.predict", {"z": [[1.0, 2.0, 3.0]]}, None, "no input 'z'"),
    ("LinearRegression.predict", {"x": [[1.0, 2.0, 3.0]]}, {"units": 3}, "no parameter 'units'"),
])
def test_call_refuses_bad_names_and_values_with_one_clear_error(target, inputs, init, words):
    with pytest.raises(UseError, match=words):
        tfm.call(REGRESSION, target, inputs, init=init)


def test_trace_from_python_writes_an_event_file(tmp_path):
    logdir = tmp_path / "trace"
    assert tfm.trace(REGRESSION, "LinearRegression.predict", logdir) == logdir
    events = list(logdir.rglob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    with pytest.raises(UseError, match="did you mean"):
        tfm.trace(REGRESSION, "LinearRegression.predikt", tmp_path / "other")
    assert not (tmp_path / "other").exists()
