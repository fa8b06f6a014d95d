"""Fine-tuning with `tfm train` / `tfm.train`: frozen submodules get no update (their variables are
bit-identical after training, the others change), and a new run starts from another module's
checkpoint by variable path (`--init-from`, `--init-map`), with a report of what was loaded, skipped
and left fresh. Unknown freeze paths and a missing checkpoint are refused before TensorFlow loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfm
from tfm.cli import main
from tfm.run.training import TrainingError

MODELS = """\
module Encoder(seed: int = 1):
    sub dense = Dense(4, 8, activation="relu", seed=seed)
    sub mix = Dense(8, 8, seed=seed + 1)

    fn encode(x: f32[N, 4]) -> f32[N, 8]:
        return mix(dense(x))

module Base:
    sub encoder = Encoder(1)
    sub out = Dense(8, 2, seed=5)
    sub optimizer = Adam(learning_rate=0.05)

    fn train_step(x: f32[N, 4], y: f32[N, 2]) -> (loss: f32[]):
        with GradientTape() as tape:
            loss = reduce_mean(square(out(encoder.encode(x)) - y))
        optimizer.minimize(loss, tape)
        return loss

module Tuned:
    sub backbone = Encoder(7)
    sub out = Dense(8, 2, seed=9)
    sub head = Dense(2, 2, seed=11)
    sub optimizer = Adam(learning_rate=0.05)

    fn train_step(x: f32[N, 4], y: f32[N, 2]) -> (loss: f32[]):
        with GradientTape() as tape:
            loss = reduce_mean(square(head(out(backbone.encode(x))) - y))
        optimizer.minimize(loss, tape)
        return loss
"""


@pytest.fixture()
def files(tmp_path) -> Path:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    np.savez(tmp_path / "data.npz", x=x, y=np.stack([x[:, 0] - x[:, 1], x[:, 2] * x[:, 3]], 1).astype(np.float32))
    (tmp_path / "models.tfm").write_text(MODELS)
    return tmp_path


def _train(files: Path, target: str, lines: list[str] | None = None, **options):
    return tfm.train(files / "models.tfm", target, files / "data.npz", batch_size=16, seed=3, progress=False,
                     log=(lines.append if lines is not None else lambda line: None), **options)


def _built(files: Path, module: str):
    return getattr(tfm.load(files / "models.tfm"), module)()


# --- freezing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("frozen", [["encoder"], ["encoder.dense", "out"]])
def test_frozen_submodules_are_bit_identical_after_training_and_the_others_change(files, frozen):
    model = _built(files, "Base")
    parts = {"encoder": model.encoder, "encoder.dense": model.encoder.dense, "out": model.out}
    frozen_before = {p: [v.numpy().copy() for v in parts[p].variables] for p in frozen}
    trained = [v for v in model.trainable_variables
               if not any(v is w for p in frozen for w in parts[p].variables)]
    trained_before = [v.numpy().copy() for v in trained]
    assert trained
    result = tfm.train(files / "models.tfm", "Base.train_step", files / "data.npz", instance=model, epochs=2,
                       batch_size=16, seed=3, progress=False, log=lambda line: None, freeze=frozen)
    assert result.steps == 8
    for path in frozen:
        after = [v.numpy() for v in parts[path].variables]
        assert len(after) == len(frozen_before[path]) > 0
        for old, new in zip(frozen_before[path], after):
            assert np.array_equal(old, new), path  # bit for bit
    for old, variable in zip(trained_before, trained):
        assert not np.array_equal(old, variable.numpy()), variable.name
    # The optimizer is itself again once training is done (a later step updates every variable).
    assert "apply_gradients" not in vars(model.optimizer)


def test_freeze_from_the_command_line(files, capsys):
    code = main(["train", str(files / "models.tfm"), "Base.train_step", "--data", str(files / "data.npz"),
                 "--batch-size", "16", "--seed", "3", "--freeze", "encoder", "--freeze", "out",
                 "--checkpoint-dir", str(files / "ckpt"), "-q"])
    assert code == 0
    built = _built(files, "Base")  # the same seeds: the fresh values the frozen variables must still have
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(files / "ckpt"))
    assert np.array_equal(reader.get_tensor("model/encoder/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE"),
                          built.encoder.dense.kernel.numpy())
    assert np.array_equal(reader.get_tensor("model/out/kernel/.ATTRIBUTES/VARIABLE_VALUE"), built.out.kernel.numpy())


def test_unknown_freeze_path_says_did_you_mean_before_tensorflow_loads(files):
    script = ("import sys, tfm\n"
              "from tfm.run.training import TrainingError\n"
              f"try:\n    tfm.train({str(files / 'models.tfm')!r}, 'Base.train_step', {str(files / 'data.npz')!r}, "
              "freeze=['encoder.dens'])\n"
              "except TrainingError as exc:\n    print(exc)\n"
              "print('tensorflow' in sys.modules)\n")
    shown = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300).stdout
    assert "--freeze encoder.dens: Base has no submodule encoder.dens (did you mean encoder.dense?)" in shown
    assert shown.strip().endswith("False")


def test_unknown_freeze_path_from_the_command_line(files, capsys):
    code = main(["train", str(files / "models.tfm"), "Base.train_step", "--data", str(files / "data.npz"),
                 "--freeze", "encodr"])
    assert code != 0
    assert "did you mean encoder?" in capsys.readouterr().err


# --- starting from another run's checkpoint -------------------------------------------------------


def test_init_from_another_modules_checkpoint_loads_the_shared_variables_and_reports_the_head(files):
    base = _train(files, "Base.train_step", epochs=2, checkpoint_dir=files / "base")
    trained: Any = base.model
    lines: list[str] = []
    # The values a new run starts from: one step with the loaded parts frozen leaves them as loaded.
    tuned = _built(files, "Tuned")
    result = tfm.train(files / "models.tfm", "Tuned.train_step", files / "data.npz", instance=tuned, steps=1,
                       batch_size=16, seed=3, progress=False, log=lines.append, init_from=files / "base",
                       init_map="encoder=backbone", freeze=["backbone", "out"])  # a string: a list of one
    report = result.initialized
    assert report is not None
    loaded = dict(report.loaded)
    assert loaded["backbone/dense/kernel"] == "encoder/dense/kernel" and loaded["out/bias"] == "out/bias"
    assert len(loaded) == 6  # two Dense layers in the encoder and out: kernel and bias each
    assert sorted(report.fresh) == ["head/bias", "head/kernel"]
    # Frozen, so still exactly what was loaded: the values Base trained.
    for mine, theirs in [(tuned.backbone.dense.kernel, trained.encoder.dense.kernel),
                         (tuned.backbone.mix.bias, trained.encoder.mix.bias), (tuned.out.kernel, trained.out.kernel)]:
        assert np.array_equal(mine.numpy(), theirs.numpy())
    assert any("6 loaded" in line and "2 left fresh" in line for line in lines)
    assert any(line.strip().startswith("fresh") and "head/kernel" in line for line in lines)
    assert any("optimizer state" in why for _, why in report.skipped)


def test_init_from_reports_a_shape_mismatch_and_a_missing_variable(files, tmp_path):
    _train(files, "Base.train_step", epochs=1, checkpoint_dir=files / "base")
    tuned = _built(files, "Tuned")
    head_before = tuned.head.kernel.numpy().copy()
    # Base's out (8 -> 2) loads into Tuned's head (2 -> 2): the kernel's shape does not match, the bias's does.
    from tfm.run.checkpoints import load_matching, resolve_checkpoint
    import tensorflow as tf

    report = load_matching(tf, tuned, resolve_checkpoint(tf, files / "base"), [("out", "head")],
                           optimizers=[tuned.optimizer])
    why = dict(report.skipped)
    assert why["out/kernel"].startswith("shape mismatch: float32[8, 2] in the checkpoint, float32[2, 2]")
    assert why["encoder/dense/kernel"] == "missing: this module has no such variable"  # no map for encoder
    assert "head/kernel" in report.fresh and np.array_equal(tuned.head.kernel.numpy(), head_before)
    assert ("head/bias", "out/bias") in report.loaded


def test_init_from_on_the_command_line(files, capsys):
    assert main(["train", str(files / "models.tfm"), "Base.train_step", "--data", str(files / "data.npz"),
                 "--checkpoint-dir", str(files / "base"), "-q"]) == 0
    capsys.readouterr()
    assert main(["train", str(files / "models.tfm"), "Tuned.train_step", "--data", str(files / "data.npz"),
                 "--init-from", str(files / "base"), "--init-map", "encoder=backbone"]) == 0
    err = capsys.readouterr().err
    assert "--init-from" in err and "6 loaded" in err and "fresh   head/kernel" in err


def test_init_from_refuses_a_missing_checkpoint_and_a_bad_map_before_tensorflow_loads(files, capsys):
    assert main(["train", str(files / "models.tfm"), "Tuned.train_step", "--data", str(files / "data.npz"),
                 "--init-from", str(files / "nowhere")]) != 0
    assert "--init-from" in capsys.readouterr().err
    with pytest.raises(TrainingError, match="expected OLD=NEW"):
        _train(files, "Tuned.train_step", init_from=files, init_map=["encoder"])
    with pytest.raises(TrainingError, match="give --init-from too"):
        _train(files, "Tuned.train_step", init_map=["encoder=backbone"])


def test_init_from_never_follows_an_index_out_of_the_directory(files, tmp_path):
    _train(files, "Base.train_step", epochs=1, checkpoint_dir=files / "base")
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    (hostile / "checkpoint").write_text(f'model_checkpoint_path: "{files / "base" / "ckpt-1"}"\n')
    with pytest.raises(TrainingError, match="inside the directory"):
        _train(files, "Tuned.train_step", steps=1, init_from=hostile)


# --- `frozen sub` in .tfm --------------------------------------------------------------------------

DECLARED = MODELS.replace("module Base:\n    sub encoder = Encoder(1)", "module Base:\n    frozen sub encoder = Encoder(1)") \
    + """
module Stacked:
    sub inner = Base()
    sub encoder = Encoder(3)
    frozen sub head = Dense(8, 2, seed=13)

    fn call(x: f32[N, 4]) -> f32[N, 2]:
        frozen = x  # a name like any other where no declaration can stand
        if True:
            frozen = frozen * 2.0
        frozen = frozen + 0.0
        return head(encoder.encode(frozen))
"""


def test_a_frozen_sub_declaration_builds_non_trainable_variables_that_training_leaves_bit_identical(files,
                                                                                                  monkeypatch):
    from tfm.run import training

    skipped: list[list[str]] = []  # the paths tfm train hands fine_tuning.skipping, as for --freeze
    real = training.frozen_variables
    monkeypatch.setattr(training, "frozen_variables", lambda instance, paths: skipped.append(list(paths))
                        or real(instance, paths))
    (files / "frozen.tfm").write_text(DECLARED)
    model = getattr(tfm.load(files / "frozen.tfm"), "Base")()
    frozen = list(model.encoder.variables)
    assert len(frozen) == 4 and not any(v.trainable for v in frozen)  # as Keras' layer.trainable = False
    assert not any(v is w for v in model.trainable_variables for w in frozen)
    assert [v.name for v in model.trainable_variables] == ["base/out/bias:0", "base/out/kernel:0"]
    before = [v.numpy().copy() for v in frozen]
    out_before = model.out.kernel.numpy().copy()
    result = tfm.train(files / "frozen.tfm", "Base.train_step", files / "data.npz", instance=model, epochs=2,
                       batch_size=16, seed=3, progress=False, log=lambda line: None)
    assert result.steps == 8 and skipped == [["encoder"]]
    for old, variable in zip(before, frozen):
        assert np.array_equal(old, variable.numpy())  # bit for bit
    assert not np.array_equal(out_before, model.out.kernel.numpy())
    # Nested: Stacked's own frozen head and Base's frozen encoder; Base's out and Stacked's encoder still train.
    stacked = getattr(tfm.load(files / "frozen.tfm"), "Stacked")()
    assert len(stacked.trainable_variables) == 2 + 4
    assert not any(v.trainable for v in [*stacked.head.variables, *stacked.inner.encoder.variables])
    from tfm.run.fine_tuning import declared_frozen

    assert declared_frozen(tfm.analyze((files / "frozen.tfm").read_text(), str(files / "frozen.tfm")),
                           "Stacked") == ["inner.encoder", "head"]
    x = np.ones((2, 4), np.float32)
    np.testing.assert_allclose(stacked.call(x).numpy(), stacked.head.call(stacked.encoder.encode(x * 2.0)).numpy(),
                               rtol=1e-6)
