"""Fine-tuning from Keras weights: `--init-from model.weights.h5` / `model.keras` loads the weights of
a Keras model built from the equivalent Keras layers (Conv2D, LSTM, Dense, BatchNormalization) into
the tfm module, layer by layer; the module starts from exactly Keras' values and computes what
Keras' `predict` does. The file is hostile: links out of it, archives without their weights, odd
arrays and non-files are refused or skipped with a reason, and nothing is extracted."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfm
from tfm.cli import main
from tfm.run.training import TrainingError

MODEL = """\
module Tagger:
    sub conv = Conv2D(1, 2, 3, padding="SAME", activation="relu", seed=1)
    sub lstm = LSTM(6, 4, seed=2)
    sub hidden = Dense(4, 6, activation="relu", seed=3)
    sub norm = BatchNormalization(6)
    sub out = Dense(6, 2, seed=4)
    sub optimizer = Adam(learning_rate=0.01)

    fn call(x: f32[N, 5, 3, 1], training: bool[]) -> f32[N, 2]:
        features = reshape(conv(x), [-1, 5, 6])
        return out(norm(hidden(lstm(features)), training))

    fn predict(x: f32[N, 5, 3, 1]) -> f32[N, 2]:
        return call(x, False)

    fn train_step(x: f32[N, 5, 3, 1], y: f32[N, 2]) -> (loss: f32[]):
        with GradientTape() as tape:
            loss = reduce_mean(square(call(x, True) - y))
        optimizer.minimize(loss, tape)
        return loss
"""


def _keras_model():
    import keras

    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input((5, 3, 1)), keras.layers.Conv2D(2, 3, padding="same", activation="relu"),
                              keras.layers.Reshape((5, 6)), keras.layers.LSTM(4),
                              keras.layers.Dense(6, activation="relu"), keras.layers.BatchNormalization(),
                              keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    return model


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Any]:
    """A trained Keras model (weights and moving statistics away from their initial values), saved
    both ways, with the tfm program and its data."""
    where = tmp_path_factory.mktemp("keras")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(32, 5, 3, 1)).astype(np.float32)
    y = np.stack([x[:, 0, 0, 0] - x[:, 4, 2, 0], x[:, 2, 1, 0]], 1).astype(np.float32)
    model: Any = _keras_model()  # Keras types `verbose` as a string
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    model.save_weights(where / "tagger.weights.h5")
    model.save(where / "tagger.keras")
    np.savez(where / "data.npz", x=x, y=y)
    (where / "tagger.tfm").write_text(MODEL)
    return {"dir": where, "x": x, "weights": [w.numpy() for w in model.weights],
            "expected": model.predict(x, verbose=0)}


def _initial_state(files, source: str, **options):
    """Fine-tune from `source` for one step; the module's values and predictions as training begins."""
    model = getattr(tfm.load(files["dir"] / "tagger.tfm"), "Tagger")()
    seen: dict[str, Any] = {}

    class Capture:  # a Keras-style callback: the state after --init-from, before the first step
        def on_train_begin(self, logs=None):
            seen["variables"] = [v.numpy().copy() for v in model.variables]
            seen["predicted"] = model.predict(files["x"]).numpy()
            seen["model"] = model

    lines: list[str] = []
    result = tfm.train(files["dir"] / "tagger.tfm", "Tagger.train_step", files["dir"] / "data.npz", instance=model,
                       steps=1, batch_size=8, seed=0, progress=False, log=lines.append, callbacks=[Capture()],
                       init_from=files["dir"] / source, **options)
    return seen, result.initialized, lines


def _tfm_as_keras(model) -> list[np.ndarray]:
    """The tfm module's values in the order (and fused layout) of the Keras model's weights."""
    cell = model.lstm.cell
    return [model.conv.kernel.numpy(), model.conv.bias.numpy(),
            np.concatenate([cell.w_i.numpy(), cell.w_f.numpy(), cell.w_c.numpy(), cell.w_o.numpy()], 1),
            np.concatenate([cell.u_i.numpy(), cell.u_f.numpy(), cell.u_c.numpy(), cell.u_o.numpy()], 1),
            np.concatenate([cell.b_i.numpy(), cell.b_f.numpy(), cell.b_c.numpy(), cell.b_o.numpy()], 0),
            model.hidden.kernel.numpy(), model.hidden.bias.numpy(),
            model.norm.gamma.numpy(), model.norm.beta.numpy(), model.norm.moving_mean.numpy(),
            model.norm.moving_variance.numpy(), model.out.kernel.numpy(), model.out.bias.numpy()]


@pytest.mark.parametrize("source", ["tagger.weights.h5", "tagger.keras"])
def test_fine_tuning_starts_from_keras_weights_and_predicts_as_keras(files, source):
    seen, report, lines = _initial_state(files, source)
    model = seen["model"]
    assert len(model.variables) == len(seen["variables"]) >= 22
    # The values as training began are Keras' (bit for bit, gates split out of the fused LSTM kernels) ...
    for variable, value in zip(model.variables, seen["variables"]):
        variable.assign(value)
    for mine, theirs in zip(_tfm_as_keras(model), files["weights"], strict=True):
        assert mine.shape == theirs.shape and np.array_equal(mine, theirs)
    # ... and so is the forward pass (inference: BatchNormalization's moving statistics).
    np.testing.assert_allclose(seen["predicted"], files["expected"], rtol=1e-5, atol=1e-5)
    assert report is not None and len(report.loaded) == 2 + 12 + 2 + 4 + 2 and report.fresh == []
    assert ("hidden/kernel", "/layers/dense/vars/0") in report.loaded  # the first Dense of each, by order
    assert ("out/kernel", "/layers/dense_1/vars/0") in report.loaded
    assert ("lstm/cell/w_f", "/layers/lstm/cell/vars/0 (part w_f)") in report.loaded
    assert [path for path, _ in report.skipped] == ["optimizer/*"]  # Keras' Adam state is not carried over
    assert report.skipped[0][1].endswith("variables): the optimizer starts afresh")
    assert any("22 loaded" in line and "0 left fresh" in line for line in lines)


def test_init_map_pairs_keras_layers_by_name_and_shapes_are_checked(files):
    # Swapped on purpose: Keras' second Dense (6 -> 2) cannot fill `hidden` (4 -> 6): skipped, not loaded.
    _, report, _ = _initial_state(files, "tagger.weights.h5", init_map=["dense_1=hidden", "dense=out"])
    assert report is not None
    why = dict(report.skipped)
    assert why["/layers/dense_1/vars/0"] == ("shape mismatch: float32[6, 2] in the file, float32[4, 6] in this "
                                             "module's hidden/kernel")
    assert why["/layers/dense/vars/0"].startswith("shape mismatch: float32[4, 6] in the file, float32[6, 2]")
    assert {"hidden/kernel", "hidden/bias", "out/kernel", "out/bias"} <= set(report.fresh)
    assert ("norm/moving_mean", "/layers/batch_normalization/vars/2") in report.loaded
    with pytest.raises(TrainingError, match="the file has no Keras layer dense_7 with weights"):
        _initial_state(files, "tagger.weights.h5", init_map=["dense_7=hidden"])


def test_init_from_keras_weights_on_the_command_line(files, capsys):
    where = files["dir"]
    assert main(["train", str(where / "tagger.tfm"), "Tagger.train_step", "--data", str(where / "data.npz"),
                 "--steps", "1", "--init-from", str(where / "tagger.keras")]) == 0
    err = capsys.readouterr().err
    assert "tagger.keras: 22 loaded, 1 skipped, 0 left fresh" in err
    assert "loaded  lstm/cell/u_o (from /layers/lstm/cell/vars/1 (part u_o))" in err
    assert main(["train", str(where / "tagger.tfm"), "Tagger.train_step", "--data", str(where / "data.npz"),
                 "--init-from", str(where / "missing.weights.h5")]) != 0
    assert "missing.weights.h5: no such file" in capsys.readouterr().err


# --- a hostile file ----------------------------------------------------------------------------------


def _refused(files, path: Path, match: str) -> None:
    before = sorted(os.listdir(path.parent))
    with pytest.raises(TrainingError, match=match):
        _initial_state(files, str(path))
    assert sorted(os.listdir(path.parent)) == before  # nothing extracted or written beside it


def test_a_keras_archive_is_read_only_for_its_weights_member(files, tmp_path):
    with zipfile.ZipFile(tmp_path / "no_weights.keras", "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("../model.weights.h5", b"\x89HDF")
    _refused(files, tmp_path / "no_weights.keras", "no single model.weights.h5: the archive has no such member")
    (tmp_path / "plain.keras").write_bytes(b"PK\x03\x04 not really an archive")
    _refused(files, tmp_path / "plain.keras", "not a .keras archive")
    (tmp_path / "text.weights.h5").write_text("hello")
    _refused(files, tmp_path / "text.weights.h5", "not readable as Keras weights")
    os.mkfifo(tmp_path / "pipe.weights.h5")
    _refused(files, tmp_path / "pipe.weights.h5", "not a regular file")
    import tensorflow as tf

    from tfm.run.keras_weights import KerasWeightsError, load_keras_weights

    model = getattr(tfm.load(files["dir"] / "tagger.tfm"), "Tagger")()
    with pytest.raises(KerasWeightsError, match="not a regular file"):  # checked on the descriptor, never blocking
        load_keras_weights(tf, model, tmp_path / "pipe.weights.h5")


def test_links_out_of_the_file_and_odd_arrays_are_refused(files, tmp_path):
    import h5py

    with h5py.File(tmp_path / "outside.weights.h5", "w") as h5:
        h5["layers/conv2d/vars/0"] = h5py.ExternalLink(str(files["dir"] / "tagger.weights.h5"),
                                                      "/layers/conv2d/vars/0")
    _refused(files, tmp_path / "outside.weights.h5", "is a link .ExternalLink.")
    with h5py.File(tmp_path / "odd.weights.h5", "w") as h5:
        h5["layers/conv2d/vars/0"] = np.zeros((3, 3, 1, 2), np.int32)
        h5["layers/conv2d/vars/1"] = np.ones((2,), np.float32)
        h5["layers/dense/vars/0"] = np.ones((4, 6), np.float64)
        h5[f"layers/dense_{'9' * 5000}/vars/0"] = np.ones((1,), np.float32)  # no number Python cannot read
    _, report, _ = _initial_state(files, str(tmp_path / "odd.weights.h5"))
    assert report is not None
    why = dict(report.skipped)
    assert why["/layers/conv2d/vars/0"].startswith("not a float array (int32)")
    assert why["/layers/dense/vars/0"].startswith("shape mismatch: float64[4, 6] in the file, float32[4, 6]")
    assert [path for path, _ in report.loaded] == ["conv/bias"] and "conv/kernel" in report.fresh
    assert why[f"layers/dense_{'9' * 5000}"].startswith("missing: this module has no dense_999")
    truncated = tmp_path / "truncated.weights.h5"
    truncated.write_bytes((files["dir"] / "tagger.weights.h5").read_bytes()[:3000])
    _refused(files, truncated, "truncated.weights.h5")
    with h5py.File(tmp_path / "nested.keras.h5", "w") as h5:  # a Keras model inside another: its layers by path
        h5["layers/sequential/layers/dense/vars/0"] = np.full((6, 2), 0.5, np.float32)
        h5["layers/sequential/layers/dense/vars/1"] = np.full((2,), 0.25, np.float32)
    _, report, _ = _initial_state(files, str(tmp_path / "nested.keras.h5"), init_map=["sequential.dense=out"])
    assert report is not None and report.loaded == [("out/kernel", "/layers/sequential/layers/dense/vars/0"),
                                                    ("out/bias", "/layers/sequential/layers/dense/vars/1")]
    with h5py.File(tmp_path / "keras2.h5", "w") as h5:  # Keras 2's layout: no `layers` group
        h5["model_weights/dense/dense/kernel:0"] = np.ones((4, 6), np.float32)
    _refused(files, tmp_path / "keras2.h5", "no `layers` group: not the weights of a Keras 3 model")


RECURRENT = """\
module Reader:
    sub embed = Embedding(10, 3, seed=1)
    sub gru = GRU(3, 4, seed=2)
    sub rnn = SimpleRNN(3, 2, seed=3)
    sub both = BidirectionalLSTM(3, 2, seed=5)
    sub norm = LayerNormalization(10)
    sub out = Dense(10, 2, seed=4)

    fn call(ids: i32[N, 5]) -> f32[N, 2]:
        tokens = embed(ids)
        return out(norm(concat([gru(tokens), rnn(tokens), both(tokens)], axis=1)))
"""


def test_gru_simple_rnn_bidirectional_embedding_and_layer_normalization_load_from_keras(tmp_path):
    """The GRU's fused kernels and two-row bias (reset_after, Keras' default) split into its gates;
    a Bidirectional LSTM's two layers each into theirs."""
    import keras
    import tensorflow as tf

    from tfm.run.keras_weights import load_keras_weights

    keras.utils.set_random_seed(11)
    ids = keras.Input((5,), dtype="int32")
    tokens = keras.layers.Embedding(10, 3)(ids)
    joined = keras.layers.Concatenate()([keras.layers.GRU(4)(tokens), keras.layers.SimpleRNN(2)(tokens),
                                         keras.layers.Bidirectional(keras.layers.LSTM(2))(tokens)])
    model: Any = keras.Model(ids, keras.layers.Dense(2)(keras.layers.LayerNormalization()(joined)))
    for weight in model.weights:  # away from the initial zeros and ones, so every part is checked
        weight.assign(np.random.default_rng(len(weight.path)).normal(size=weight.shape).astype(np.float32))
    model.save_weights(tmp_path / "reader.weights.h5")
    (tmp_path / "reader.tfm").write_text(RECURRENT)
    reader: Any = tfm.load(tmp_path / "reader.tfm").Reader()
    report = load_keras_weights(tf, reader, tmp_path / "reader.weights.h5")
    assert report.fresh == [] and len(report.loaded) == 1 + 12 + 3 + 24 + 2 + 2 and report.skipped == []
    assert ("both/backward/cell/w_o", "/layers/bidirectional/backward_layer/cell/vars/0 (part w_o)") in report.loaded
    x = np.random.default_rng(0).integers(0, 10, size=(6, 5)).astype(np.int32)
    np.testing.assert_allclose(reader.call(x).numpy(), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
