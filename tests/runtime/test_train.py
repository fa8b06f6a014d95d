"""`tfm train` and `tfm trace` on real TensorFlow: data from .npz, CSV and TFRecord matched to the
method's inputs, the same weights as a hand-written loop, TensorBoard summaries read back, checkpoints
that resume (after SIGKILL too) to exactly the weights of an uninterrupted run, validation, and clear
errors for data that does not fit."""

from __future__ import annotations

import csv
import glob
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import tfm
from tfm.cli import main
from tfm.run.progress import BarProgress
from support import EXAMPLES, ROOT

REGRESSION = str(EXAMPLES / "linear_regression.tfm")
TARGET = "LinearRegression.train_step"


def _regression_data(rows: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [2.0], [-1.0]], np.float32) + 0.5).astype(np.float32)


@pytest.fixture()
def npz(tmp_path) -> Path:
    x, y = _regression_data()
    np.savez(tmp_path / "data.npz", x=x, y=y, unused=np.arange(200))
    return tmp_path / "data.npz"


def _checkpoint_values(prefix: str) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(prefix)
    return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map()
            if key.startswith("model/") and key.endswith("VARIABLE_VALUE")}


def _events(logdir: Path) -> dict[str, list[tuple[int, float]]]:
    found: dict[str, list[tuple[int, float]]] = {}
    for path in glob.glob(str(logdir / "**" / "events.out.tfevents.*"), recursive=True):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, float(tf.make_ndarray(value.tensor))))
    return found


def test_train_equals_a_hand_written_loop_and_logs_steps_and_epochs(npz, tmp_path, capsys):
    code = main(["train", REGRESSION, TARGET, "--data", str(npz), "--epochs", "3", "--batch-size", "32",
                 "--shuffle", "0", "--seed", "1", "--logdir", str(tmp_path / "logs"), "--log-every", "1", "--max-to-keep", "2",
                 "--checkpoint-dir", str(tmp_path / "ckpt")])
    assert code == 0
    # One checkpoint per epoch (7, 14, 21 steps); two are kept.
    assert sorted(p.name for p in (tmp_path / "ckpt").glob("*.index")) == ["ckpt-14.index", "ckpt-21.index"]
    out = capsys.readouterr().out
    assert "epoch 3/3  step 7/7  loss=" in out and "steps/s" in out  # plain lines: stdout is not a terminal
    assert "trained LinearRegression.train_step: 21 steps, 3 epochs" in out

    # The same model trained by hand on the same batches (file order, 32 per step) ends the same.
    model = tfm.load(EXAMPLES / "linear_regression.tfm").LinearRegression()
    x, y = _regression_data()
    losses = []
    for _ in range(3):
        for start in range(0, 200, 32):
            losses.append(float(model.train_step(x[start:start + 32], y[start:start + 32])["loss"]))
    values = _checkpoint_values(str(tmp_path / "ckpt" / "ckpt-21"))
    np.testing.assert_allclose(values["model/w/.ATTRIBUTES/VARIABLE_VALUE"], model.w.numpy(), rtol=1e-6)
    np.testing.assert_allclose(values["model/b/.ATTRIBUTES/VARIABLE_VALUE"], model.b.numpy(), rtol=1e-6)

    events = _events(tmp_path / "logs" / "run-1")  # the run's own directory
    assert [step for step, _ in events["loss"]] == list(range(1, 22))
    np.testing.assert_allclose([value for _, value in events["loss"]], losses, rtol=1e-5)
    assert len(events["mae"]) == 21
    # Each epoch's means, and the learning rate (at every logged step and each epoch's end).
    assert [step for step, _ in events["epoch/loss"]] == [7, 14, 21]
    np.testing.assert_allclose([value for _, value in events["epoch/loss"]],
                               [np.mean(losses[i:i + 7]) for i in (0, 7, 14)], rtol=1e-5)
    assert len(events["learning_rate"]) == 21 and len(events["epoch/learning_rate"]) == 3
    assert "epoch 3: loss=" in out and "lr=" in out


def test_a_second_run_resumes_and_ends_as_one_long_run(npz, tmp_path, capsys):
    common = ["--data", str(npz), "--batch-size", "16", "--seed", "5", "--shuffle", "64"]
    assert main(["train", REGRESSION, TARGET, *common, "--epochs", "3", "--checkpoint-dir", str(tmp_path / "a")]) == 0
    assert main(["train", REGRESSION, TARGET, *common, "--steps", "20", "--checkpoint-dir", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    assert main(["train", REGRESSION, TARGET, "--data", str(npz), "--epochs", "3",
                 "--checkpoint-dir", str(tmp_path / "b")]) == 0
    captured = capsys.readouterr()
    assert "resuming from" in captured.err and "step 20, epoch 2, 7 steps into it" in captured.err
    a, b = _checkpoint_values(str(tmp_path / "a" / "ckpt-39")), _checkpoint_values(str(tmp_path / "b" / "ckpt-39"))
    assert a.keys() == b.keys() and len(a) > 2  # weights, and the optimizer's step count and slots
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert main(["train", REGRESSION, TARGET, "--data", str(npz), "--epochs", "3",
                 "--checkpoint-dir", str(tmp_path / "b")]) == 0
    assert "nothing to do: the run has done 3 epochs (39 steps)" in capsys.readouterr().err


def test_resume_refuses_settings_that_would_change_the_data_order(npz, tmp_path, capsys):
    assert main(["train", REGRESSION, TARGET, "--data", str(npz), "--steps", "3", "--seed", "1",
                 "--checkpoint-dir", str(tmp_path / "c")]) == 0
    capsys.readouterr()
    assert main(["train", REGRESSION, TARGET, "--data", str(npz), "--steps", "6", "--seed", "2",
                 "--checkpoint-dir", str(tmp_path / "c")]) == 1
    assert "was trained with --seed 1" in capsys.readouterr().err
    assert main(["train", REGRESSION, TARGET, "--data", str(npz), "--steps", "6", "--seed", "2", "--restart",
                 "--checkpoint-dir", str(tmp_path / "c")]) == 0
    assert "removed 1 checkpoint of the previous run" in capsys.readouterr().err


def test_a_directory_tfm_did_not_write_is_never_used(npz, tmp_path, capsys):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    assert main(["train", REGRESSION, TARGET, "--data", str(npz), "--steps", "2", "--restart",
                 "--checkpoint-dir", str(theirs)]) == 1
    assert "was not written by tfm train" in capsys.readouterr().err
    assert [p.name for p in theirs.iterdir()] == ["notes.txt"]


def test_checkpoints_of_another_method_are_refused(npz, tmp_path, capsys):
    assert main(["train", REGRESSION, TARGET, "--data", str(npz), "--steps", "2",
                 "--checkpoint-dir", str(tmp_path / "c")]) == 0
    source = tmp_path / "other.tfm"
    source.write_text((EXAMPLES / "linear_regression.tfm").read_text().replace("train_step", "fit"))
    assert main(["train", str(source), "LinearRegression.fit", "--data", str(npz), "--steps", "2",
                 "--checkpoint-dir", str(tmp_path / "c")]) == 1
    assert "holds checkpoints of LinearRegression.train_step" in capsys.readouterr().err


def _write_csv(path: Path, header: list[str], rows) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _write_tfrecord(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    with tf.io.TFRecordWriter(str(path)) as writer:
        for features, label in zip(x, y):
            example = tf.train.Example(features=tf.train.Features(feature={
                "x": tf.train.Feature(float_list=tf.train.FloatList(value=features)),
                "y": tf.train.Feature(float_list=tf.train.FloatList(value=label)),
            }))
            writer.write(example.SerializeToString())


def test_csv_and_tfrecord_train_like_npz(npz, tmp_path, capsys):
    x, y = _regression_data()
    _write_csv(tmp_path / "data.csv", ["y", "x_0", "x_1", "x_2"], [[b[0], *a] for a, b in zip(x, y)])
    _write_tfrecord(tmp_path / "data.tfrecord", x, y)
    finals = []
    for name in ("data.npz", "data.csv", "data.tfrecord"):
        directory = tmp_path / f"ckpt-{name}"
        assert main(["train", REGRESSION, TARGET, "--data", str(tmp_path / name), "--epochs", "2",
                     "--seed", "3", "--checkpoint-dir", str(directory)]) == 0, capsys.readouterr().err
        finals.append(_checkpoint_values(tf.train.latest_checkpoint(str(directory))))
    for other in finals[1:]:
        for key in finals[0]:
            np.testing.assert_allclose(other[key], finals[0][key], rtol=1e-6, err_msg=key)


@pytest.mark.parametrize("case, expected", [
    ("missing", "has no array for input y of LinearRegression.train_step (float32[?, 1]); it has: x"),
    ("int_input", "array x in {path} is float32, but input x of Counts.step is int32[?, 3]"),
    ("shape", "array x in {path} has examples of shape [4], but input x of LinearRegression.train_step is "
              "float32[?, 3]: each example must be [3]"),
    ("rows", "array y in {path} has 10 rows, but array x has 12"),
    ("pickle", "array x in {path} cannot be read"),
    ("format", "unknown data format .parquet"),
    ("csv_bad_value", "data.csv, line 7, column x_1: 'not-a-number' is not a number"),
    ("csv_missing", "has no column x_2 for input x"),
    ("tfrecord_missing", "has no feature for input y"),
    ("tfrecord_size", "feature x in {path} holds 2 values per example, but input x of LinearRegression.train_step"),
])
def test_data_that_does_not_fit_is_a_clear_error(case, expected, tmp_path, capsys):
    source, target, path = REGRESSION, TARGET, tmp_path / "data.npz"
    x, y = _regression_data(12)
    if case == "missing":
        np.savez(path, x=x)
    elif case == "int_input":
        source, target = str(tmp_path / "counts.tfm"), "Counts.step"
        Path(source).write_text("module Counts:\n    var w: f32[3] = zeros()\n    sub opt = SGD(learning_rate=0.1)\n\n"
                                "    fn step(x: i32[N, 3]) -> f32[]:\n        with GradientTape() as tape:\n"
                                "            loss = reduce_sum(cast(x, f32) * w)\n        opt.minimize(loss, tape)\n"
                                "        return loss\n")
        np.savez(path, x=x)
    elif case == "shape":
        np.savez(path, x=np.ones((12, 4), np.float32), y=y)
    elif case == "rows":
        np.savez(path, x=x, y=y[:10])
    elif case == "pickle":
        np.savez(path, x=np.array([{"a": 1}] * 12, dtype=object), y=y)
    elif case == "format":
        path = tmp_path / "data.parquet"
        path.write_bytes(b"PAR1")
    elif case.startswith("csv"):
        path = tmp_path / "data.csv"
        rows = [[*a, b[0]] for a, b in zip(x, y)]
        if case == "csv_bad_value":
            rows[5][1] = "not-a-number"
            _write_csv(path, ["x_0", "x_1", "x_2", "y"], rows)
        else:
            _write_csv(path, ["x_0", "x_1", "y"], [[r[0], r[1], r[3]] for r in rows])
    else:
        path = tmp_path / "data.tfrecord"
        if case == "tfrecord_missing":
            with tf.io.TFRecordWriter(str(path)) as writer:
                writer.write(tf.train.Example(features=tf.train.Features(feature={
                    "x": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0, 2.0, 3.0]))})).SerializeToString())
        else:
            _write_tfrecord(path, x[:, :2], y)
    assert main(["train", source, target, "--data", str(path), "--steps", "1"]) == 1
    err = capsys.readouterr().err
    assert expected.format(path=path) in err, err
    assert "Traceback" not in err


VALIDATED = """
module Fit:
    var w: f32[3, 1] = zeros()
    sub optimizer = Adam(learning_rate=0.1)

    fn train_step(x: f32[N, 3], y: f32[N, 1]) -> (loss: f32[]):
        with GradientTape() as tape:
            loss = mean_squared_error(y, x @ w)
        optimizer.minimize(loss, tape)
        return loss

    fn evaluate(x: f32[N, 3], y: f32[N, 1]) -> (loss: f32[], worst: f32[]):
        return mean_squared_error(y, x @ w), reduce_max(abs(y - x @ w))
"""


def test_validation_runs_at_each_epoch_end_and_is_logged(npz, tmp_path, capsys):
    source = tmp_path / "fit.tfm"
    source.write_text(VALIDATED)
    x, y = _regression_data(50, seed=9)
    np.savez(tmp_path / "val.npz", x=x, y=y)
    assert main(["train", str(source), "Fit.train_step", "--data", str(npz), "--epochs", "2", "--seed", "0",
                 "--validate", "evaluate", "--validation-data", str(tmp_path / "val.npz"),
                 "--logdir", str(tmp_path / "logs")]) == 0
    out = capsys.readouterr().out
    assert out.count("validation (evaluate, 50 examples): loss=") == 2
    events = _events(tmp_path / "logs")
    assert [step for step, _ in events["validation/loss"]] == [7, 14]
    assert len(events["validation/worst"]) == 2
    assert events["validation/loss"][1][1] < events["validation/loss"][0][1]  # it learns


def test_validation_must_not_train(npz, capsys):
    assert main(["train", REGRESSION, TARGET, "--data", str(npz), "--validate", "train_step",
                 "--validation-data", str(npz)]) == 1
    assert "validation must not train" in capsys.readouterr().err


def test_the_progress_bar_shows_scalars_and_rate():
    stream = io.StringIO()
    bar = BarProgress(stream)
    bar.start_epoch(0, 3, 10, 0)
    for step in range(1, 11):
        bar.step(step, {"loss": 0.5 / step})
    bar.close()
    text = stream.getvalue()
    assert "epoch 1/3" in text and "10/10" in text and "loss=0.05" in text and "steps/s" in text


def test_trace_writes_the_graph_grouped_by_module(tmp_path, capsys):
    from tensorflow.core.protobuf import config_pb2

    assert main(["trace", str(EXAMPLES / "my_model.tfm"), "MyModel.call", "--logdir", str(tmp_path / "trace")]) == 0
    assert "tensorboard --logdir" in capsys.readouterr().out
    scopes = set()
    for path in glob.glob(str(tmp_path / "trace" / "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                assert value.metadata.plugin_data.plugin_name == "graph_run_metadata_graph"
                metadata = config_pb2.RunMetadata.FromString(tf.make_ndarray(value.tensor).item())
                for graph in metadata.function_graphs:
                    graph = graph.pre_optimization_graph
                    nodes = [*graph.node, *(node for f in graph.library.function for node in f.node_def)]
                    scopes |= {"/".join(node.name.split("/")[:2]) for node in nodes}
    # (TensorFlow numbers a module's scope, `my_model_3`, when its name was used before in the process.)
    scopes = {re.sub(r"^my_model(_\d+)?/", "my_model/", scope) for scope in scopes}
    assert {"my_model/dense_1", "my_model/dense_2"} <= scopes


# --- SIGKILL in the middle, then resume ---------------------------------------------------------


def _train_process(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tfm", "train", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _latest_step(directory: Path) -> int:
    latest = tf.train.latest_checkpoint(str(directory)) if (directory / "checkpoint").exists() else None
    return int(latest.rsplit("-", 1)[1]) if latest else 0


def test_a_run_killed_with_sigkill_resumes_to_the_same_weights(tmp_path):
    x, y = _regression_data(800, seed=4)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    common = [REGRESSION, TARGET, "--data", "data.npz", "--epochs", "4", "--batch-size", "8", "--seed", "11",
              "--shuffle", "100", "--save-every", "1", "--max-to-keep", "3",
              "--no-jit"]  # 400 steps: --jit auto would time XLA in each run, which could choose apart
    whole = _train_process([*common, "--checkpoint-dir", "whole"], tmp_path)
    assert whole.wait(timeout=600) == 0, whole.stderr.read()

    kills = 0
    for wait_for in (60, 230):  # kill it twice, at different points; saves happen at every step
        killed = _train_process([*common, "--checkpoint-dir", "killed"], tmp_path)
        deadline = time.monotonic() + 300
        while _latest_step(tmp_path / "killed") < wait_for and killed.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if killed.poll() is None:
            killed.send_signal(signal.SIGKILL)
            kills += 1
        killed.wait(timeout=60)
        assert 0 < _latest_step(tmp_path / "killed") < 400  # stopped in the middle, with a usable checkpoint
    assert kills == 2
    resumed = _train_process([*common, "--checkpoint-dir", "killed"], tmp_path)
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()
    assert "resuming from" in resumed.stderr.read()

    a = _checkpoint_values(str(tmp_path / "whole" / "ckpt-400"))
    b = _checkpoint_values(str(tmp_path / "killed" / "ckpt-400"))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
