"""Several steps per call (--steps-per-call N) and --jit auto: neither changes what a run computes.
Every step runs in the same in-graph loop whatever N is, so any N gives the same weights bit for bit,
and a run stopped anywhere and resumed with another N ends where an uninterrupted one does; --jit
auto's trial is undone before training, so an auto run equals a run given its choice as a flag."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import tfm
from tfm.run.jit_choice import AUTO_MIN_STEPS, TRIAL, TRIAL_STEPS
from tfm.run.run_directory import RUN_FILE
from tfm.run.settings import RuntimeSettings
from tfm.run.step_loop import DEFAULT_STEPS_PER_CALL, call_size, steps_per_call
from tfm.run.training_errors import TrainingError
from support import ROOT

# Dropout, noise and a shuffle inside the step: random state advanced inside the loop.
NOISY = """\
module Noisy(seed: int = 1):
    sub hidden = Dense(4, 16, activation="relu", seed=seed)
    sub drop = Dropout(0.5)
    sub head = Dense(16, 2, seed=seed + 1)
    sub optimizer = Adam(learning_rate=0.01)

    fn train_step(x: f32[N, 4], y: f32[N, 2]) -> (loss: f32[], noise: f32[]):
        noise = random_normal(shape(x), stddev=0.1)
        rows = random_shuffle(range(0, shape(x)[0]))
        with GradientTape() as tape:
            h = drop(hidden(gather(x + noise, rows)), True)
            loss = reduce_mean(square(head(h) - gather(y, rows)))
        optimizer.minimize(loss, tape)
        return loss, reduce_mean(noise)
"""
TARGET = "Noisy.train_step"
PLAIN = RuntimeSettings(jit=False)


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 4)).astype(np.float32)  # 8 batches of 8 per epoch, the last of 4
    np.savez(tmp_path / "data.npz", x=x, y=np.stack([x[:, 0] - x[:, 1], x[:, 2] * x[:, 3]], 1).astype(np.float32))
    (tmp_path / "noisy.tfm").write_text(NOISY)
    return tmp_path


def _train(files, directory: str, settings=PLAIN, **options):
    return tfm.train(files / "noisy.tfm", TARGET, files / "data.npz", checkpoint_dir=files / directory, batch_size=8,
                     seed=7, progress=False, log=lambda line: None, settings=settings, **options)


def _values(prefix: str) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(prefix)
    return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map()
            if key.startswith("model/") and key.endswith("VARIABLE_VALUE")}


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and len(a) > 10
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_any_number_of_steps_per_call_trains_the_same_weights_and_means(files):
    one = _train(files, "one", steps=20, steps_per_call=1)
    many = _train(files, "many", steps=20, steps_per_call=6)
    _assert_same(_values(one.checkpoint), _values(many.checkpoint))
    assert one.history == many.history and one.scalars == many.scalars  # epoch means over every step
    assert many.steps == 20 and many.epochs == 2


def test_a_run_stopped_anywhere_resumes_bit_exact_with_another_steps_per_call(files):
    whole = _train(files, "whole", steps=30, steps_per_call=8)
    stops = sorted(np.random.default_rng().choice(np.arange(1, 30), size=3, replace=False).tolist())
    for stop, per_call in zip([*stops, 30], (5, 3, 16, 7)):
        assert _train(files, "stopped", steps=stop, steps_per_call=per_call).steps == stop
    _assert_same(_values(whole.checkpoint), _values(str(files / "stopped" / "ckpt-30")))


def test_calls_end_at_checkpoints_and_batch_hooks_run_between_calls(files):
    ends = []

    class Batches:
        def on_train_batch_end(self, batch, logs=None):
            ends.append((batch, sorted(logs)))

    result = _train(files, "saved", steps=12, steps_per_call=4, save_every=5, callbacks=[Batches()])
    saved = tf.train.get_checkpoint_state(str(files / "saved")).all_model_checkpoint_paths
    assert [int(path.rsplit("-", 1)[1]) for path in saved] == [5, 8, 10, 12]  # --save-every 5, the epoch's end
    # Calls of at most 4 steps, cut at step 5 and 10 (saves) and 8 (the epoch's end): the hook sees
    # each call's last step (its index in the epoch) and that step's outputs.
    assert [batch for batch, _ in ends] == [3, 4, 7, 1, 3] and ends[0][1] == ["loss", "noise"]
    assert result.steps == 12


def test_the_default_is_several_steps_per_call_unless_a_callback_watches_batches():
    class EpochsOnly:
        def on_epoch_end(self, epoch, logs=None):
            pass

    class Batches(EpochsOnly):
        def on_train_batch_end(self, batch, logs=None):
            pass

    assert steps_per_call(None, [EpochsOnly()], distributed=False) == DEFAULT_STEPS_PER_CALL > 1
    assert steps_per_call(None, [Batches()], distributed=False) == 1
    assert steps_per_call(5, [Batches()], distributed=False) == 5
    assert steps_per_call(5, [], distributed=True) == 1
    assert call_size(16, left_in_epoch=3, left_in_run=None, save_every=None, global_step=0) == 3
    assert call_size(16, left_in_epoch=30, left_in_run=9, save_every=None, global_step=0) == 9
    assert call_size(16, left_in_epoch=30, left_in_run=None, save_every=10, global_step=14) == 6


def test_progress_stays_per_step(files, capsys):
    result = tfm.train(files / "noisy.tfm", TARGET, files / "data.npz", batch_size=8, seed=7, epochs=1,
                       steps_per_call=8, settings=PLAIN, log=lambda line: None)
    shown = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch 1/1  step ")]
    # One call of 8 steps, shown step by step (plain output: a line per step at 8 steps per epoch),
    # each line with the running mean; the last is the epoch's mean.
    assert [line.split()[3] for line in shown] == [f"{step}/8" for step in range(1, 9)]
    assert f"loss={result.history[0]['loss']:.4g}" in shown[-1]


def test_jit_auto_undoes_its_trial_and_trains_as_its_choice_given_as_a_flag(files):
    lines: list[str] = []
    auto = tfm.train(files / "noisy.tfm", TARGET, files / "data.npz", checkpoint_dir=files / "auto", batch_size=8,
                     seed=7, steps=AUTO_MIN_STEPS, progress=False, log=lines.append)  # --jit not set: auto
    said = [line for line in lines if line.startswith("tfm: --jit auto:")]
    assert len(said) == 1 and f"timed on {TRIAL_STEPS * (len(TRIAL) - 2)} steps, then undone" in said[0]
    chosen = json.loads((files / "auto" / RUN_FILE).read_text())["jit_chosen"]
    assert said[0].endswith("training with XLA" if chosen else "training without XLA")
    given = _train(files, "given", settings=RuntimeSettings(jit=chosen), steps=AUTO_MIN_STEPS)
    _assert_same(_values(auto.checkpoint), _values(given.checkpoint))
    # The optimizer's step count shows the trial's steps were undone: not one more than the run's.
    assert _values(auto.checkpoint)["model/optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"] == AUTO_MIN_STEPS
    # A resumed run goes on with the choice, without a second trial.
    lines.clear()
    resumed = tfm.train(files / "noisy.tfm", TARGET, files / "data.npz", checkpoint_dir=files / "auto", batch_size=8,
                        seed=7, steps=AUTO_MIN_STEPS + 10, progress=False, log=lines.append)
    assert lines and not any(line.startswith("tfm: --jit auto:") for line in lines)
    assert json.loads((files / "auto" / RUN_FILE).read_text())["jit_chosen"] == chosen
    again = _train(files, "given", settings=RuntimeSettings(jit=chosen), steps=AUTO_MIN_STEPS + 10)
    _assert_same(_values(resumed.checkpoint), _values(again.checkpoint))


def test_jit_auto_times_nothing_on_a_run_too_short_to_repay_it(files):
    lines: list[str] = []
    tfm.train(files / "noisy.tfm", TARGET, files / "data.npz", checkpoint_dir=files / "short", batch_size=8, seed=7,
              steps=AUTO_MIN_STEPS - 1, progress=False, log=lines.append)
    assert not any("--jit auto" in line for line in lines)
    assert json.loads((files / "short" / RUN_FILE).read_text())["jit_chosen"] is False


def test_the_command_line_takes_steps_per_call_and_jit_auto(files):
    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "tfm", "train", "noisy.tfm", TARGET, "--data", "data.npz", "--batch-size", "8",
               "--steps", str(AUTO_MIN_STEPS), "--steps-per-call", "32"]
    done = subprocess.run([*command, "--jit", "auto"], cwd=files, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "tfm: --jit auto:" in done.stderr and f"trained Noisy.train_step: {AUTO_MIN_STEPS} steps" in done.stdout
    refused = subprocess.run([*command, "--jit", "sometimes"], cwd=files, env=env, capture_output=True, text=True,
                             timeout=300)
    assert refused.returncode != 0 and "--jit takes no value or `auto`" in refused.stderr


# --- --accumulate K ----------------------------------------------------------------------------------

NET = """\
module Net:
    sub hidden = Dense(4, 8, activation="tanh", seed=1)
    sub head = Dense(8, 2, seed=2)
    sub optimizer = Adam(learning_rate=0.01)

    fn train_step(x: f32[N, 4], y: f32[N, 2]) -> (loss: f32[]):
        with GradientTape() as tape:
            loss = reduce_mean(square(head(hidden(x)) - y))
        optimizer.minimize(loss, tape)
        return loss
"""


def _net(files, directory: str, **options):
    (files / "net.tfm").write_text(NET)
    return tfm.train(files / "net.tfm", "Net.train_step", files / "data.npz", checkpoint_dir=files / directory,
                     shuffle=0, seed=1, progress=False, log=lambda line: None, settings=PLAIN, **options)


def test_accumulating_k_batches_steps_as_one_batch_k_times_larger(files):
    # 60 examples in file order: 7 batches of 8 (and a last of 4, not reached) against batches of 32.
    small = _net(files, "small", batch_size=8, accumulate=4, steps=4)
    large = _net(files, "large", batch_size=32, steps=1)
    a, b = _values(small.checkpoint), _values(large.checkpoint)
    assert a["model/optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"] == 1  # one update from four steps
    for key in b:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-7, err_msg=key)
    start = tfm.load(files / "net.tfm").Net()  # the update really moved the weights
    assert not np.allclose(a["model/head/kernel/.ATTRIBUTES/VARIABLE_VALUE"], start.head.kernel.numpy())
    # Between updates the weights stand still: 3 steps of 4 change nothing yet.
    waiting = _net(files, "waiting", batch_size=8, accumulate=4, steps=3)
    np.testing.assert_array_equal(_values(waiting.checkpoint)["model/head/kernel/.ATTRIBUTES/VARIABLE_VALUE"],
                                  start.head.kernel.numpy())


def test_a_run_resumed_between_two_updates_goes_on_with_its_sums(files):
    whole = _net(files, "whole", batch_size=8, accumulate=3, steps=14)
    for stop in (5, 7, 14):  # 5 and 7: in the middle of an accumulation
        _net(files, "stopped", batch_size=8, accumulate=3, steps=stop)
    _assert_same(_values(whole.checkpoint), _values(str(files / "stopped" / "ckpt-14")))
    sums = tf.train.load_checkpoint(whole.checkpoint)
    assert sums.get_tensor("accumulation/steps/.ATTRIBUTES/VARIABLE_VALUE") == 14


# --- --class-weight ----------------------------------------------------------------------------------

CLASSIFIER = """\
module Classifier:
    sub dense = Dense(4, 3, seed=1)
    sub optimizer = SGD(learning_rate=0.5)

    fn train_step(x: f32[N, 4], y: i32[N], sample_weight: f32[N]) -> (loss: f32[]):
        with GradientTape() as tape:
            loss = reduce_mean(sample_weight * sparse_categorical_crossentropy(y, dense(x), from_logits=True))
        optimizer.minimize(loss, tape)
        return loss
"""
CLASS_WEIGHT = {0: 1.0, 1: 2.5, 2: 0.25}


@pytest.fixture()
def labelled(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(48, 4)).astype(np.float32)
    np.savez(tmp_path / "labelled.npz", x=x, y=rng.integers(0, 3, size=48).astype(np.int32))
    (tmp_path / "classifier.tfm").write_text(CLASSIFIER)
    return tmp_path


def test_class_weights_train_as_keras_fit_with_class_weight(labelled):
    import keras

    data = np.load(labelled / "labelled.npz")
    start = tfm.load(labelled / "classifier.tfm").Classifier()  # the same seeded weights tfm.train starts from
    trained = tfm.train(labelled / "classifier.tfm", "Classifier.train_step", labelled / "labelled.npz",
                        class_weight="0:1.0, 1:2.5, 2:0.25", batch_size=16, shuffle=0, epochs=2, progress=False,
                        log=lambda line: None, settings=PLAIN).model

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.set_weights([start.dense.kernel.numpy(), start.dense.bias.numpy()])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(data["x"], data["y"], batch_size=16, epochs=2, shuffle=False, verbose=0, class_weight=CLASS_WEIGHT)
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(trained.dense.kernel.numpy(), kernel, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(trained.dense.bias.numpy(), bias, rtol=1e-5, atol=1e-6)
    # The weights matter: unweighted training ends elsewhere.
    plain = tfm.train(labelled / "classifier.tfm", "Classifier.train_step",
                      {"x": data["x"], "y": data["y"], "sample_weight": np.ones(48, np.float32)}, batch_size=16,
                      shuffle=0, epochs=2, progress=False, log=lambda line: None, settings=PLAIN).model
    assert not np.allclose(plain.dense.kernel.numpy(), kernel, atol=1e-3)


def test_class_weights_from_a_file_or_a_mapping_and_what_is_refused(labelled, tmp_path):
    from tfm.run.class_weights import ClassWeightError, parse_class_weight

    (tmp_path / "weights.json").write_text('{"0": 1.0, "1": 2.5, "2": 0.25}')
    (tmp_path / "weights.txt").write_text("0:1.0,1:2.5,2:0.25\n")
    assert parse_class_weight(str(tmp_path / "weights.json")) == CLASS_WEIGHT
    assert parse_class_weight(str(tmp_path / "weights.txt")) == CLASS_WEIGHT == parse_class_weight(CLASS_WEIGHT)
    for bad, says in (("0:-1", "not negative"), ("no-such-file", "neither CLASS:WEIGHT"),
                      (str(tmp_path), "not a regular file")):
        with pytest.raises(ClassWeightError, match=says):
            parse_class_weight(bad)
    (labelled / "net.tfm").write_text(NET)
    with pytest.raises(TrainingError, match="needs an input `sample_weight: f32"):
        tfm.train(labelled / "net.tfm", "Net.train_step", labelled / "labelled.npz", class_weight=CLASS_WEIGHT,
                  progress=False, log=lambda line: None, settings=PLAIN)


# --- gradient histograms -------------------------------------------------------------------------------


def test_histograms_of_the_gradients_every_log_every_steps_written_by_the_step(files):
    import glob

    (files / "net.tfm").write_text(NET)
    tfm.train(files / "net.tfm", "Net.train_step", files / "data.npz", batch_size=8, shuffle=0, seed=1, steps=6,
              steps_per_call=3, logdir=files / "logs", log_every=2, histograms=True, progress=False,
              log=lambda line: None, settings=PLAIN)
    found: dict[str, list[tuple[int, np.ndarray]]] = {}
    for path in glob.glob(str(files / "logs" / "run-1" / "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, tf.make_ndarray(value.tensor)))
    names = {tag for tag in found if tag.startswith("gradients/")}
    assert names == {"gradients/hidden/kernel", "gradients/hidden/bias", "gradients/head/kernel", "gradients/head/bias"}
    for tag in names:
        assert [step for step, _ in found[tag]] == [2, 4, 6]  # every 2 steps, inside 3-step calls
    # Each histogram counts every element of its gradient (buckets of [left, right, count]).
    assert all(buckets[:, 2].sum() == 4 * 8 for _, buckets in found["gradients/hidden/kernel"])
    # The gradient at step 2, by hand: the second batch at the weights after one step.
    model = tfm.load(files / "net.tfm").Net()
    data = np.load(files / "data.npz")
    model.train_step(data["x"][:8], data["y"][:8])
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model.head.call(model.hidden.call(data["x"][8:16])) - data["y"][8:16]))
    gradient = tape.gradient(loss, model.head.bias).numpy()
    buckets = found["gradients/head/bias"][0][1]
    assert buckets[:, 0].min() == pytest.approx(gradient.min(), rel=1e-4, abs=1e-6)
    assert buckets[:, 1].max() == pytest.approx(gradient.max(), rel=1e-4, abs=1e-6)
