"""`tfm export`: signatures, self-verification, atomic writes, and loading without tfm."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tfm
from tfm.exports import exporter as export_module
from tfm.cli import main
from support import EXAMPLES, run_python


@pytest.fixture(scope="module")
def my_model_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "my_model"
    code = main(["export", str(EXAMPLES / "my_model.tfm"), "--module", "MyModel", "--init", "num_classes=4",
                 "--out", str(out)])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def with_train_step_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "my_model_train"
    code = main(["export", str(EXAMPLES / "my_model.tfm"), "--module", "MyModel", "--init", "num_classes=4",
                 "--signatures", "call,train_step", "--out", str(out)])
    assert code == 0
    return out


def test_export_serves_the_serving_method_and_leaves_training_out(my_model_export, capsys):
    import tensorflow as tf

    loaded = tf.saved_model.load(str(my_model_export))
    assert sorted(loaded.signatures) == ["serving_default"]
    assert main(["inspect", str(my_model_export)]) == 0
    out = capsys.readouterr().out
    assert "not served:\n    train_step: it updates trainable variables (it calls `optimizer.minimize`)" in out
    serving = loaded.signatures["serving_default"]
    _, inputs = serving.structured_input_signature
    assert inputs["inputs"].shape.as_list() == [None, 32]
    assert serving.structured_outputs["output_0"].shape.as_list() == [None, 4]


def test_signatures_option_serves_the_training_method(with_train_step_export):
    import tensorflow as tf

    loaded = tf.saved_model.load(str(with_train_step_export))
    assert sorted(loaded.signatures) == ["serving_default", "train_step"]
    _, inputs = loaded.signatures["train_step"].structured_input_signature
    assert sorted(inputs) == ["x", "y"]


def test_unknown_signature_method_is_a_clear_error(tmp_path, capsys):
    code = main(["export", str(EXAMPLES / "my_model.tfm"), "--module", "MyModel", "--signatures", "call,trian_step",
                 "--out", str(tmp_path / "m")])
    assert code == 1
    assert "module MyModel has no method 'trian_step'; methods: call, train_step" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_export_loads_in_a_process_that_never_imports_tfm(with_train_step_export, tmp_path):
    result = run_python(
        "import sys, numpy as np, tensorflow as tf\n"
        f"model = tf.saved_model.load({str(with_train_step_export)!r})\n"
        "out = model.signatures['serving_default'](inputs=tf.ones([3, 32]))['output_0']\n"
        "assert out.shape == (3, 4), out.shape\n"
        "loss = model.train_step(tf.ones([2, 32]), tf.ones([2, 4]) / 4)\n"
        "assert np.isfinite(loss.numpy())\n"
        "assert not {'tfm', 'dsl', 'compiler', 'grammar'} & set(sys.modules), 'tfm was imported'\n"
        "print('ok')\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


def test_saved_model_cli_lists_inputs(with_train_step_export):
    cli = shutil.which("saved_model_cli") or str(Path(sys.executable).parent / "saved_model_cli")
    result = subprocess.run([cli, "show", "--dir", str(with_train_step_export), "--all"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout
    assert "signature_def['serving_default']" in text and "signature_def['train_step']" in text
    assert "inputs['inputs'] tensor_info:" in text
    assert "dtype: DT_FLOAT" in text and "shape: (-1, 32)" in text
    assert "inputs['y'] tensor_info:" in text and "shape: (-1, 4)" in text


def test_inspect_shows_signatures(my_model_export, capsys):
    assert main(["inspect", str(my_model_export)]) == 0
    out = capsys.readouterr().out
    assert "signature serving_default" in out
    assert "input  inputs: float32[?, 32]" in out
    assert "output output_0: float32[?, 4]" in out


def test_export_refuses_to_overwrite_without_force(my_model_export, capsys):
    before = sorted(p.name for p in my_model_export.iterdir())
    code = main(["export", str(EXAMPLES / "my_model.tfm"), "--module", "MyModel", "--out", str(my_model_export)])
    assert code == 1
    assert "--force" in capsys.readouterr().err
    assert sorted(p.name for p in my_model_export.iterdir()) == before


def test_export_with_force_replaces(tmp_path):
    out = tmp_path / "demo"
    assert main(["export", str(EXAMPLES / "demo_module.tfm"), "--module", "DemoModule", "--out", str(out)]) == 0
    assert main(["export", str(EXAMPLES / "demo_module.tfm"), "--module", "DemoModule", "--init",
                 "init_value=5", "--out", str(out), "--force"]) == 0
    import tensorflow as tf

    assert float(tf.saved_model.load(str(out)).addprint(tf.constant(1.0))) == 6.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"], "staging directories were left behind"


def test_methods_without_outputs_are_exported(tmp_path):
    import tensorflow as tf

    out = tmp_path / "metric"
    assert main(["export", str(EXAMPLES / "sparse_categorical_accuracy.tfm"), "--module",
                 "SparseCategoricalAccuracy", "--out", str(out)]) == 0
    loaded = tf.saved_model.load(str(out))
    assert sorted(loaded.signatures) == ["reset_state", "result", "serving_default"]
    loaded.signatures["serving_default"](y_true=tf.constant([1, 0]), y_pred=tf.constant([[0.0, 1.0], [0.0, 1.0]]))
    assert float(loaded.signatures["result"]()["output_0"]) == 0.5


def test_drift_fails_the_export_and_leaves_nothing(tmp_path, monkeypatch):
    real = export_module.contracts

    def drifted(*args, **kwargs):
        result = real(*args, **kwargs)
        first = result[0]
        name, dtype, dims = first.inputs[0]
        bad = export_module.SignatureContract(first.key, first.method, ((name, "int32", dims),), first.outputs)
        return [bad, *result[1:]]

    monkeypatch.setattr(export_module, "contracts", drifted)
    out = tmp_path / "drift"
    with pytest.raises(export_module.ExportError, match="input a is float32\\[\\], expected int32\\[\\]"):
        tfm.export(EXAMPLES / "demo_module.tfm", "DemoModule", out)
    assert list(tmp_path.iterdir()) == []


def test_variable_inventory_is_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(export_module, "_declared_variables", lambda *a, **k: {"x": ("float32", (3,))})
    with pytest.raises(export_module.ExportError, match="variable x is saved as float32\\[\\], declared"):
        tfm.export(EXAMPLES / "demo_module.tfm", "DemoModule", tmp_path / "inventory")
    assert list(tmp_path.iterdir()) == []


def test_serving_default_is_the_marked_method_and_only_it_is_served(tmp_path):
    import tensorflow as tf

    report = tfm.export(EXAMPLES / "kmeans.tfm", "KMeans", tmp_path / "kmeans", init={"k": 2})
    assert {c.key: c.method for c in report.signatures} == {"serving_default": "step"}
    assert report.left_out["assign"].startswith("only the @serving method (step) is served by default")
    loaded = tf.saved_model.load(str(tmp_path / "kmeans"))
    outputs = loaded.signatures["serving_default"](points=tf.zeros([5, 2]))
    assert sorted(outputs) == ["assignments", "inertia"]
    assert set(report.variables) == {"centroids"}


def test_tflite_export_runs(tmp_path):
    import tensorflow as tf

    report = tfm.export(EXAMPLES / "linear_regression.tfm", "LinearRegression", tmp_path / "lr",
                             tflite=tmp_path / "lr.tflite")
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(report.tflite))
    runner = interpreter.get_signature_runner("serving_default")
    x = np.ones((1, 3), np.float32)
    tflite_out = runner(x=x)["output_0"]
    saved = tf.saved_model.load(str(tmp_path / "lr"))
    np.testing.assert_allclose(tflite_out, saved.predict(x).numpy(), rtol=1e-5)


def test_each_format_verifies_what_it_wrote(tmp_path):
    """The TFLite format loads the flatbuffer it wrote and compares its signatures with the contracts;
    a flatbuffer that does not hold them is refused, whatever wrote it."""
    import tensorflow as tf

    from tfm.exports.formats import ExportError, ExportJob, SignatureContract
    from tfm.exports.tflite_export import TFLiteFormat

    report = tfm.export(EXAMPLES / "linear_regression.tfm", "LinearRegression", tmp_path / "lr",
                        tflite=tmp_path / "lr.tflite")
    job = ExportJob(tf=tf, instance=None, contracts=report.signatures, declared_variables={}, manifest={})
    TFLiteFormat().verify(job, report.tflite)
    job.contracts = [*report.signatures, SignatureContract("extra", "extra", (), ())]
    with pytest.raises(ExportError, match="expected"):
        TFLiteFormat().verify(job, report.tflite)
    (tmp_path / "junk.tflite").write_bytes(b"not a flatbuffer")
    with pytest.raises(ExportError, match="does not load"):
        TFLiteFormat().verify(job, tmp_path / "junk.tflite")


def test_export_report_json_free_of_tensorflow_objects(tmp_path):
    report = tfm.export(EXAMPLES / "demo_module.tfm", "DemoModule", tmp_path / "demo")
    json.dumps({"signatures": [c.__dict__ for c in report.signatures], "variables": report.variables})


STATIC_EXPRESSIONS = """\
module Inner(size: int, gain: float = 1.0 / 4):
    var w: f32[size, size] = ones()

    fn apply(x: f32[N, size]) -> f32[N, size]:
        return x @ w * gain

module Wide(units: int = 2 * 4, hidden: int = -(-3) + 1):
    var w: f32[units, hidden] = zeros()
    sub inner = Inner(hidden * 2 - hidden, gain=2.0 * 0.25)

    @serving
    fn predict(x: f32[N, units]) -> f32[N, hidden]:
        return inner.apply(x @ w)
"""


def test_static_values_written_as_expressions_reach_every_format(tmp_path):
    """Parameter defaults, dims and submodule arguments that are all expressions: every format is
    exported with their evaluated values (the exporter once read a default's syntax and wanted
    float32[None, None] for `f32[N, units]` with `units: int = 2 * 4`)."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    source = tmp_path / "wide.tfm"
    source.write_text(STATIC_EXPRESSIONS)
    report = tfm.export(source, "Wide", tmp_path / "wide", tflite=tmp_path / "wide.tflite")
    (contract,) = report.signatures
    assert contract.inputs == (("x", "float32", (None, 8)),)
    assert report.variables == {"w": ("float32", (8, 4)), "inner/w": ("float32", (4, 4))}
    loaded = tf.saved_model.load(str(tmp_path / "wide"))
    spec = loaded.signatures["serving_default"].structured_input_signature[1]["x"]
    assert spec.shape.as_list() == [None, 8]
    runner = Interpreter(model_path=str(report.tflite)).get_signature_runner("serving_default")
    assert list(runner.get_input_details()["x"]["shape_signature"]) == [-1, 8]
    assert list(runner(x=np.ones((1, 8), np.float32))["output_0"].shape) == [1, 4]
    cli_out = tmp_path / "cli"
    assert main(["export", str(source), "--module", "Wide", "--out", str(cli_out),
                 "--tflite", str(tmp_path / "cli.tflite")]) == 0
    assert tf.saved_model.load(str(cli_out)).signatures["serving_default"].structured_input_signature[1][
        "x"].shape.as_list() == [None, 8]
