"""Exact resume with random ops: a module that calls Dropout, noise ops and a shuffle keeps its random
state (seed and count of draws) in its checkpoints, so a run stopped anywhere (a clean stop, SIGKILL,
SIGINT, SIGTERM) and resumed ends bit for bit where an uninterrupted run ends; SIGINT and SIGTERM save
at the step they interrupt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import tfm
from tfm.run.training import TrainingInterrupted
from support import ROOT

NOISY = """\
module Noisy(seed: int = 1):
    sub hidden = Dense(4, 16, activation="relu", seed=seed)
    sub drop = Dropout(0.5)
    sub head = Dense(16, 2, seed=seed + 1)
    sub optimizer = Adam(learning_rate=0.01)

    fn train_step(x: f32[N, 4], y: f32[N, 2]) -> (loss: f32[], noise: f32[]):
        noise = random_normal(shape(x), stddev=0.1) * reduce_mean(random_uniform(shape(y), minval=0.5, maxval=1.5))
        rows = random_shuffle(range(0, shape(x)[0]))
        with GradientTape() as tape:
            h = drop(hidden(gather(x + noise, rows)), True)
            loss = reduce_mean(square(head(h) - gather(y, rows)))
        optimizer.minimize(loss, tape)
        return loss, reduce_mean(noise)
"""
TARGET = "Noisy.train_step"
STEPS = 40  # 5 epochs of 8 batches


@pytest.fixture()
def files(tmp_path) -> Path:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    np.savez(tmp_path / "data.npz", x=x, y=np.stack([x[:, 0] - x[:, 1], x[:, 2] * x[:, 3]], 1).astype(np.float32))
    (tmp_path / "noisy.tfm").write_text(NOISY)
    return tmp_path


def _train(files: Path, directory: str, **options):
    return tfm.train(files / "noisy.tfm", TARGET, files / "data.npz", checkpoint_dir=files / directory,
                     batch_size=8, seed=7, progress=False, log=lambda line: None, **{"save_every": 1, **options})


def _values(prefix: str) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(prefix)
    return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map()
            if key.startswith("model/") and key.endswith("VARIABLE_VALUE")}


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_resume_after_stops_at_random_steps_is_bit_exact(files):
    whole = _train(files, "whole", steps=STEPS)
    values = _values(whole.checkpoint)
    # The random state is in the checkpoint: each module's seed and its count of draws (the noisy
    # step draws three times per step, Dropout once).
    assert values["model/_random/draws/.ATTRIBUTES/VARIABLE_VALUE"] == 3 * STEPS
    assert values["model/drop/_random/draws/.ATTRIBUTES/VARIABLE_VALUE"] == STEPS

    stops = sorted(np.random.default_rng().choice(np.arange(1, STEPS), size=4, replace=False).tolist())
    for stop in [*stops, STEPS]:  # each run a new instance, as a new process would build it
        result = _train(files, "stopped", steps=stop)
        assert result.steps == stop
    _assert_same(values, _values(str(files / "stopped" / f"ckpt-{STEPS}")))



def test_the_same_seed_draws_the_same_numbers(files):
    a = _train(files, "a", steps=8)
    b = _train(files, "b", steps=8)
    _assert_same(_values(a.checkpoint), _values(b.checkpoint))
    # Another seed draws other numbers: the random ops matter to the weights the test compares.
    c = tfm.train(files / "noisy.tfm", TARGET, files / "data.npz", checkpoint_dir=files / "c", batch_size=8, seed=8,
                  progress=False, log=lambda line: None, steps=8)
    key = "model/_random/seed/.ATTRIBUTES/VARIABLE_VALUE"
    assert _values(a.checkpoint)[key] != _values(c.checkpoint)[key]


class _Signal:
    """Sends this process `signum` at the end of training step `at` (the handler is installed then)."""

    def __init__(self, signum: int, at: int):
        self.signum, self.at, self.steps = signum, at, 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps == self.at:
            os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_at_the_step_it_interrupts(files, signum):
    previous = signal.getsignal(signum)
    with pytest.raises(TrainingInterrupted) as stopped:
        _train(files, "run", steps=1000, save_every=None, callbacks=[_Signal(signum, 13)])
    assert stopped.value.signum == signum and stopped.value.step == 13  # after the step it came in
    assert stopped.value.checkpoint == str(files / "run" / "ckpt-13")  # saved there (not an epoch's end)
    assert signal.getsignal(signum) is previous  # the handler is put back
    assert _train(files, "run", steps=21).steps == 21  # resumed from step 13


# --- real processes: SIGKILL, SIGINT and SIGTERM at random steps, then resume --------------------


def _process(files: Path, directory: str) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tfm", "train", "noisy.tfm", TARGET, "--data", "data.npz",
                             "--batch-size", "8", "--seed", "7", "--steps", "400", "--save-every", "1",
                             "--checkpoint-dir", directory, "--no-jit", "-q"],
                            cwd=files, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _latest_step(directory: Path) -> int:
    latest = tf.train.latest_checkpoint(str(directory)) if (directory / "checkpoint").exists() else None
    return int(latest.rsplit("-", 1)[1]) if latest else 0


@pytest.mark.slow
def test_killed_interrupted_and_terminated_runs_resume_bit_exact(files):
    # --no-jit in both runs: a run this long would otherwise time XLA (--jit auto) and each choose alone.
    whole = _train(files, "whole", steps=400, settings=tfm.configure(jit=False))
    points = sorted(np.random.default_rng().choice(np.arange(20, 380), size=3, replace=False).tolist())
    for point, signum in zip(points, (signal.SIGKILL, signal.SIGINT, signal.SIGTERM)):
        process = _process(files, "killed")
        deadline = time.monotonic() + 300
        while _latest_step(files / "killed") < point and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        process.send_signal(signum)
        code = process.wait(timeout=120)
        step = _latest_step(files / "killed")
        assert point <= step < 400
        if signum != signal.SIGKILL:  # stopped after a step, saved there, said so
            assert code == 128 + signum
            assert f"stopped by {signal.Signals(signum).name} after step {step}" in (process.stderr.read() or "")
    final = _process(files, "killed")
    assert final.wait(timeout=600) == 0, final.stderr.read() if final.stderr else ""
    _assert_same(_values(whole.checkpoint), _values(str(files / "killed" / "ckpt-400")))
