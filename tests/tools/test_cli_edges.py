"""Command line edges: -q and -v on either side of the command name, -q silencing progress, the
MODULE.METHOD form with "did you mean", every check that needs no TensorFlow made before it loads
(proved with a tensorflow that cannot be imported), and `tfm check`'s closing line."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tfm.cli import main
from support import EXAMPLES, ROOT

DEMO = str(EXAMPLES / "demo_module.tfm")
REGRESSION = str(EXAMPLES / "linear_regression.tfm")


@pytest.fixture()
def data(tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    np.savez(tmp_path / "data.npz", x=x, y=x[:, :1])
    return str(tmp_path / "data.npz")


def test_a_clean_check_says_what_was_checked_on_stdout(tmp_path, capsys):
    assert main(["check", DEMO, REGRESSION]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("2 files checked, no problems\n", "")
    for argv in (["-q", "check", DEMO], ["check", DEMO, "-q"], ["check", "--format", "json", DEMO]):
        assert main(argv) == 0
        assert "checked" not in capsys.readouterr().out
    bad = tmp_path / "bad.tfm"
    bad.write_text("module M:\n    fn f(x: f32[]) -> f32[]:\n        return y\n")
    assert main(["check", str(bad)]) == 1
    assert capsys.readouterr().out == ""  # a check with problems: only the diagnostics, on stderr


def test_quiet_and_verbose_work_after_the_command_name(capsys):
    assert main(["run", DEMO, "DemoModule.addprint", "--arg", "a=2", "-q"]) == 0
    assert capsys.readouterr().out.strip() == "output_0: 2."
    assert main(["run", DEMO, "DemoModule.addprint", "--arg", "a=2", "-v"]) == 0
    assert main(["fmt", "--check", DEMO, "-q"]) in (0, 1)


def test_quiet_training_prints_no_progress_nor_header(data, tmp_path, capsys):
    assert main(["train", REGRESSION, "LinearRegression.train_step", "--data", data, "-q"]) == 0
    out, err = capsys.readouterr()
    assert "epoch 1" not in out and "steps/s" not in out and "tfm: training" not in err
    assert out.startswith("trained LinearRegression.train_step: 2 steps")


def test_validate_takes_module_dot_method(data, capsys):
    assert main(["train", REGRESSION, "LinearRegression.train_step", "--data", data, "-q",
                 "--validate", "LinearRegression.predictt", "--validation-data", data]) == 1
    assert "no method 'predictt' (did you mean 'predict'?)" in capsys.readouterr().err
    assert main(["train", REGRESSION, "LinearRegression.train_step", "--data", data,
                 "--validate", "Other.predict", "--validation-data", data]) == 2
    assert "must be one of LinearRegression" in capsys.readouterr().err


def _without_tensorflow(tmp_path, *argv) -> subprocess.CompletedProcess:
    """`tfm ARGV` where `import tensorflow` raises: a clear error here was found before TensorFlow."""
    shim = tmp_path / "shim" / "tensorflow"
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "__init__.py").write_text("raise ImportError('tensorflow may not be imported in this test')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim.parent), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", "tfm", *argv], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("argv, expected", [
    (["train", REGRESSION, "LinearRegression.train_stp", "--data", "DATA"], "did you mean 'train_step'?"),
    (["train", REGRESSION, "LinearRegresion.train_step", "--data", "DATA"], "did you mean 'LinearRegression'?"),
    (["train", REGRESSION, "LinearRegression.train_step", "--data", "MISSING"], "no such data file"),
    (["train", REGRESSION, "LinearRegression.train_step", "--data", "DATA", "--validate", "LinearRegression.train_step",
      "--validation-data", "DATA"], "validation must not train"),
    (["train", REGRESSION, "LinearRegression.train_step", "--data", "DATA", "--validate", "LinearRegression.predict",
      "--validation-data", "MISSING"], "no such validation data file"),
    (["train", REGRESSION, "LinearRegression.train_step", "--data", "DIR"], "a directory"),
    (["evaluate", REGRESSION, "LinearRegression.predic", "--data", "DATA"], "did you mean 'predict'?"),
    (["evaluate", REGRESSION, "LinearRegression.train_step", "--data", "DATA"], "evaluate must not train"),
    (["predict", REGRESSION, "LinearRegression.predict", "--data", "MISSING", "--out", "NEW"], "no such data file"),
    (["predict", REGRESSION, "LinearRegression.predict", "--data", "DATA", "--out", "DATA"], "exists"),
    (["predict", REGRESSION, "LinearRegression.predict", "--data", "DATA", "--out", "NEW",
      "--checkpoint", "MISSING"], "no checkpoint at"),
    (["run", REGRESSION, "LinearRegression.predictt", "--arg", "x=[[1, 2, 3]]"], "did you mean 'predict'?"),
    (["run", REGRESSION, "LinearRegression.predict", "--arg", "x=@MISSING"], "no such value file"),
    (["trace", REGRESSION, "LinearRegression.predic", "--logdir", "DIR"], "did you mean 'predict'?"),
    (["export", REGRESSION, "LinearRegresion", "--out", "NEW"], "did you mean 'LinearRegression'?"),
    (["run", REGRESSION, "LinearRegression", "--arg", "x=1"], "expected MODULE.METHOD"),
])
def test_checks_needing_no_tensorflow_come_before_it_loads(tmp_path, data, argv, expected):
    places = {"DATA": data, "MISSING": str(tmp_path / "missing.npz"), "NEW": str(tmp_path / "new.npz"),
              "DIR": str(tmp_path)}
    result = _without_tensorflow(tmp_path, *[places.get(word, word.replace("MISSING", places["MISSING"]))
                                             for word in argv])
    assert result.returncode in (1, 2) and expected in result.stderr, result.stderr
    assert "tensorflow may not be imported" not in result.stderr and "internal error" not in result.stderr
