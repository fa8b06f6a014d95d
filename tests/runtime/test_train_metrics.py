"""Metric modules during `tfm train` (issue 23 item 7): a module's metric submodules are reset when
an epoch starts and when a validation pass starts, and their results are logged at its end, as Keras'
`fit` does: each epoch's value, never a total run across epochs."""

from __future__ import annotations

import numpy as np
import pytest

import tfm

tf = pytest.importorskip("tensorflow")

SOURCE = """\
module Reg(learning_rate: float = 0.1):
    var w: f32[3, 1] = zeros()
    sub optimizer = SGD(learning_rate=learning_rate)
    sub examples = Sum()
    sub mae = MeanAbsoluteError()

    fn train_step(x: f32[N, 3], y: f32[N, 1]) -> (loss: f32[]):
        with GradientTape() as tape:
            prediction = x @ w
            loss = mean_squared_error(y, prediction)
        optimizer.minimize(loss, tape)
        examples.update_state(reduce_sum(ones_like(y), axis=1))
        mae.update_state(y, prediction)
        return loss

    fn evaluate(x: f32[N, 3], y: f32[N, 1]) -> (loss: f32[]):
        examples.update_state(reduce_sum(ones_like(y), axis=1))
        return mean_squared_error(y, x @ w)
"""


def test_metrics_reset_each_epoch_and_validation_pass(tmp_path):
    source = tmp_path / "reg.tfm"
    source.write_text(SOURCE)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    np.savez(tmp_path / "train.npz", x=x, y=y)
    np.savez(tmp_path / "valid.npz", x=x[:12], y=y[:12])
    result = tfm.train(source, "Reg.train_step", tmp_path / "train.npz", epochs=3, batch_size=8, seed=0,
                       validation_data=tmp_path / "valid.npz", validate="evaluate", progress=False,
                       checkpoint_dir=tmp_path / "ckpt")
    assert [logs["examples"] for logs in result.history] == [40.0, 40.0, 40.0]  # one epoch's, not a running total
    assert [logs["val_examples"] for logs in result.history] == [12.0, 12.0, 12.0]
    maes = [logs["mae"] for logs in result.history]
    assert maes[0] > maes[1] > maes[2] > 0.0  # each epoch's own error, falling as it trains
