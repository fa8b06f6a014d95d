"""Callbacks and logging of `tfm train` / `tfm.train`: early stopping, best-only checkpoints and
reducing the learning rate on a plateau (each resumable: a run stopped between epochs and resumed
decides as an uninterrupted one), the user's Keras callback objects, epoch means and the learning
rate in the logs, a fresh TensorBoard run directory per run, training data given in memory, and a
non-finite loss stopping the run."""

from __future__ import annotations

import glob
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfm
from tfm.cli import main

REGRESSION = """\
module Reg(learning_rate: float = 0.1):
    var w: f32[3, 1] = zeros()
    var b: f32[1] = zeros()
    sub optimizer = SGD(learning_rate=learning_rate)

    fn predict(x: f32[N, 3]) -> f32[N, 1]:
        return x @ w + b

    fn train_step(x: f32[N, 3], y: f32[N, 1]) -> (loss: f32[], mae: f32[]):
        with GradientTape() as tape:
            prediction = predict(x)
            loss = mean_squared_error(y, prediction)
        optimizer.minimize(loss, tape)
        return loss, mean_absolute_error(y, prediction)

    fn evaluate(x: f32[N, 3], y: f32[N, 1]) -> (loss: f32[]):
        return mean_squared_error(y, predict(x))
"""
TARGET = "Reg.train_step"


@pytest.fixture()
def files(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [2.0], [-1.0]], np.float32) + 0.5).astype(np.float32)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    np.savez(tmp_path / "noise.npz", x=x, y=rng.normal(size=(64, 1)).astype(np.float32))
    (tmp_path / "reg.tfm").write_text(REGRESSION)
    return tmp_path


def _train(files: Path, data: object = "data.npz", init: dict | None = None, **options):
    data = files / data if isinstance(data, str) else data
    return tfm.train(files / "reg.tfm", TARGET, data, init=init, batch_size=16, seed=3, progress=False,
                     log=lambda line: None, **options)


def _events(logdir: Path) -> dict[str, list[tuple[int, float]]]:
    found: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(glob.glob(str(logdir / "**" / "events.out.tfevents.*"), recursive=True)):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    found.setdefault(value.tag, []).append((event.step, float(tf.make_ndarray(value.tensor))))
    return {tag: sorted(points) for tag, points in found.items()}


# --- early stopping, best-only checkpoints, reduce-lr-on-plateau ---------------------------------

SLOW = {"learning_rate": 1e-9}  # the loss cannot improve by 1e-4: a plateau from the first epoch


def test_early_stopping_stops_after_patience_epochs_and_stays_stopped(files):
    result = _train(files, init=SLOW, epochs=10, early_stopping="loss:2", checkpoint_dir=files / "c")
    # epoch 1 sets the best; epochs 2 and 3 do not improve on it: stopped after 3 of 10.
    assert result.stopped_early and result.epochs == 3 and len(result.history) == 3
    again = _train(files, init=SLOW, epochs=10, early_stopping="loss:2", checkpoint_dir=files / "c")
    assert again.stopped_early and again.epochs == 3 and again.history == []  # nothing to do


def test_early_stopping_resumed_decides_as_one_run(files):
    # Stopped after epoch 2 (one epoch without improvement), resumed: it stops after epoch 3 as above.
    first = _train(files, init=SLOW, epochs=2, early_stopping="loss:2", checkpoint_dir=files / "c")
    assert not first.stopped_early
    resumed = _train(files, init=SLOW, epochs=10, early_stopping="loss:2", checkpoint_dir=files / "c")
    assert resumed.stopped_early and resumed.epochs == 3


def test_min_delta_counts_only_larger_improvements(files):
    quick = _train(files, epochs=6, early_stopping="loss:1")  # the loss falls every epoch
    assert not quick.stopped_early and quick.epochs == 6
    demanding = _train(files, epochs=6, early_stopping="loss:1:1000")
    assert demanding.stopped_early and demanding.epochs == 2


def test_reduce_lr_on_plateau_is_resumable(files):
    whole = _train(files, init=SLOW, epochs=5, reduce_lr_on_plateau="loss:0.5:1", checkpoint_dir=files / "a")
    rates = [logs["learning_rate"] for logs in whole.history]
    np.testing.assert_allclose(rates, [1e-9, 1e-9, 5e-10, 2.5e-10, 1.25e-10], rtol=1e-5)
    assert _train(files, init=SLOW, epochs=2, reduce_lr_on_plateau="loss:0.5:1", checkpoint_dir=files / "b").epochs == 2
    resumed = _train(files, init=SLOW, epochs=5, reduce_lr_on_plateau="loss:0.5:1", checkpoint_dir=files / "b")
    np.testing.assert_allclose([logs["learning_rate"] for logs in resumed.history], rates[2:], rtol=1e-5)
    assert float(resumed.model.optimizer.learning_rate) == pytest.approx(6.25e-11)


def test_keep_best_keeps_the_best_epochs_checkpoint_on_validation_loss(files):
    result = _train(files, "noise.npz", init={"learning_rate": 0.6}, epochs=8, keep_best="val_loss",
                    validate="Reg.evaluate", validation_data=files / "data.npz", checkpoint_dir=files / "c")
    losses = [logs["val_loss"] for logs in result.history]
    best_epoch = int(np.argmin(losses)) + 1
    assert best_epoch < len(losses)  # the noisy targets make the best epoch one of the earlier ones
    assert result.best_checkpoint == str(files / "c" / "best" / f"ckpt-{best_epoch * 4}")
    restored = tfm.load(files / "reg.tfm").Reg()
    tf.train.Checkpoint(model=restored).read(result.best_checkpoint).expect_partial()
    x, y = np.load(files / "data.npz")["x"], np.load(files / "data.npz")["y"]
    assert float(restored.evaluate(x, y)["loss"]) == pytest.approx(min(losses), rel=1e-5)


def test_an_unknown_metric_names_the_metrics_there_are(files):
    with pytest.raises(tfm.run.training.TrainingError, match="did you mean loss"):
        _train(files, epochs=2, early_stopping="los")


@pytest.mark.parametrize("flag, value, message", [
    ("--early-stopping", "loss:0", "'0' is not a count >= 1"),
    ("--reduce-lr-on-plateau", "loss:2", "'2' is not a factor in (0, 1)"),
    ("--keep-best", "loss", "--keep-best saves checkpoints: it needs --checkpoint-dir"),
])
def test_callback_flags_are_checked_before_training(files, capsys, flag, value, message):
    code = main(["train", str(files / "reg.tfm"), TARGET, "--data", str(files / "data.npz"), flag, value])
    assert code == 2 and message in capsys.readouterr().err


# --- Keras callback objects ------------------------------------------------------------------------


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls: list[str] = []
        self.epoch_logs: list[dict] = []
        self.batches = 0

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch}")
        self.epoch_logs.append(dict(logs or {}))

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


def test_keras_callbacks_are_called_as_fit_calls_them(files):
    recorder = Recorder()
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=1000.0)
    result = _train(files, epochs=5, callbacks=[recorder, stopper], validate="Reg.evaluate",
                    validation_data=files / "data.npz")
    # EarlyStopping set `model.stop_training` at the second epoch's end (no improvement by 1000).
    assert result.stopped_early and result.epochs == 2
    assert recorder.calls == ["train_begin", "epoch_begin 0", "epoch_end 0", "epoch_begin 1", "epoch_end 1",
                              "train_end"]
    assert recorder.batches == 8  # 64 examples in batches of 16, two epochs
    assert set(recorder.epoch_logs[0]) == {"loss", "mae", "val_loss", "learning_rate"}
    assert recorder.epoch_logs == result.history


def test_a_keras_reduce_lr_callback_changes_the_modules_optimizer(files):
    reduce = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1000.0)
    result = _train(files, epochs=3, callbacks=[reduce])
    assert float(result.model.optimizer.learning_rate) == pytest.approx(0.025)


# --- logs: epoch means, learning rate, a directory per run -----------------------------------------


def test_epoch_means_and_a_fresh_directory_per_run(files, capsys):
    common = ["train", str(files / "reg.tfm"), TARGET, "--data", str(files / "data.npz"), "--batch-size", "16",
              "--seed", "3", "--checkpoint-dir", str(files / "c"), "--logdir", str(files / "logs"),
              "--log-every", "2", "--histograms"]
    assert main([*common, "--epochs", "1"]) == 0
    assert main([*common, "--epochs", "2"]) == 0  # resumed: the same run directory goes on
    out = capsys.readouterr().out
    assert f"summaries: {files / 'logs' / 'run-1'}" in out
    events = _events(files / "logs" / "run-1")
    assert [step for step, _ in events["loss"]] == [2, 4, 6, 8]  # every 2 steps, in the graph
    assert [step for step, _ in events["epoch/loss"]] == [4, 8] and len(events["epoch/learning_rate"]) == 2
    assert glob.glob(str(files / "logs" / "run-1" / "events.*"))
    assert main([*common, "--epochs", "1", "--restart"]) == 0  # begun anew: a new directory
    assert [step for step, _ in _events(files / "logs" / "run-2")["epoch/loss"]] == [4]
    assert [step for step, _ in _events(files / "logs" / "run-1")["epoch/loss"]] == [4, 8]  # untouched


# --- data given in memory ------------------------------------------------------------------------------


def _weights(result) -> list[np.ndarray]:
    return [result.model.w.numpy(), result.model.b.numpy()]


def test_arrays_and_datasets_of_examples_train_as_the_file_does(files):
    arrays = dict(np.load(files / "data.npz"))
    from_file = _weights(_train(files, epochs=2))
    for data in (arrays, tf.data.Dataset.from_tensor_slices(arrays),
                 [{"x": x, "y": y} for x, y in zip(arrays["x"], arrays["y"])]):
        for got, expected in zip(_weights(_train(files, data, epochs=2)), from_file):
            np.testing.assert_array_equal(got, expected)


def test_batched_datasets_and_iterables_of_batches_are_taken_as_they_are(files):
    arrays = dict(np.load(files / "data.npz"))
    batches = [{"x": arrays["x"][i:i + 10], "y": arrays["y"][i:i + 10]} for i in range(0, 64, 10)]  # 7 batches
    for data in (tf.data.Dataset.from_tensor_slices(arrays).batch(10), batches,
                 tf.data.Dataset.from_tensor_slices(arrays).batch(10).filter(lambda b: True)):  # size unknown
        result = _train(files, data, epochs=2)
        assert result.steps == 14


def test_data_in_memory_that_does_not_fit_is_a_clear_error(files):
    with pytest.raises(tfm.run.training.TrainingError, match="the arrays given has no array for input y"):
        _train(files, {"x": np.zeros((4, 3), np.float32)})
    with pytest.raises(tfm.run.training.TrainingError, match="each example must be \\[3\\]"):
        _train(files, {"x": np.zeros((4, 2), np.float32), "y": np.zeros((4, 1), np.float32)})
    with pytest.raises(tfm.run.training.TrainingError, match="holds NaN or inf"):
        _train(files, {"x": np.full((4, 3), np.nan, np.float32), "y": np.zeros((4, 1), np.float32)})


# --- a non-finite loss -----------------------------------------------------------------------------


def test_a_nonfinite_loss_stops_training_naming_the_step(files, capsys):
    common = ["train", str(files / "reg.tfm"), TARGET, "--data", str(files / "data.npz"), "--init",
              "learning_rate=1e30", "--epochs", "3", "--batch-size", "16", "--seed", "1", "-q"]
    assert main(common) == 1
    err = capsys.readouterr().err
    assert "tfm: error: step " in err and "loss = " in err and "--allow-nonfinite" in err
    assert main([*common, "--allow-nonfinite"]) == 0
    assert "trained Reg.train_step: 12 steps, 3 epochs" in capsys.readouterr().out


# --- XLA ---------------------------------------------------------------------------------------------


def test_jit_compiles_the_whole_step_with_xla(files):
    from tfm.run.settings import RuntimeSettings

    plain = _train(files, epochs=2)
    compiled = _train(files, epochs=2, settings=RuntimeSettings(jit=True))
    for got, expected in zip(_weights(compiled), _weights(plain)):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # The step the trainer ran is one function XLA must compile (not auto-clustering's hint).
    from tfm.run.training import Trainer, TrainSettings

    model = tfm.load(files / "reg.tfm").Reg()
    trainer = Trainer(tf, model, "train_step", TrainSettings(data=files / "data.npz"), {"module": "Reg"}, None,
                      log=print, jit=True)
    concrete = trainer.function.get_concrete_function()
    assert concrete.function_def.attr["_XlaMustCompile"].b


def test_a_nonfinite_tensor_output_stops_training_too(files):
    (files / "ratio.tfm").write_text(REGRESSION.replace("module Reg", "module Ratio").replace(
        "-> (loss: f32[], mae: f32[]):", "-> (loss: f32[], ratio: f32[N, 1]):").replace(
        "return loss, mean_absolute_error(y, prediction)", "return loss, y / (y - y)"))
    with pytest.raises(tfm.run.training.TrainingError, match="step 1 .*ratio = a tensor holding NaN or inf"):
        tfm.train(files / "ratio.tfm", "Ratio.train_step", files / "data.npz", progress=False, log=lambda line: None)
    result = tfm.train(files / "ratio.tfm", "Ratio.train_step", files / "data.npz", progress=False,
                       log=lambda line: None, allow_nonfinite=True, batch_size=16)
    assert result.steps == 4
