"""TFLite exports that are verified for real: builtin ops only unless asked, ops TFLite lacks traced to
their .tfm lines, every signature run in LiteRT in a separate process without TensorFlow and compared
with the SavedModel, quantization with its size and error, the serving layout, and `tfm inspect` of a
`.tflite` (text and JSON)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import tfm
from tfm.cli import main
from tfm.exports import tflite_export
from tfm.exports.exporter import ExportError
from tfm.exports.tflite_samples import LITERT_CHECK
from support import EXAMPLES

REGRESSION = str(EXAMPLES / "linear_regression.tfm")


def _export(*args: str) -> int:
    return main(["export", *args])


def test_print_is_not_a_builtin_op_and_the_error_names_its_line(tmp_path, capsys):
    code = _export(str(EXAMPLES / "demo_module.tfm"), "--module", "DemoModule", "--out", str(tmp_path / "m"),
                   "--tflite", str(tmp_path / "m.tflite"))
    assert code == 1
    err = capsys.readouterr().err
    assert "PrintV2 from print at" in err and "demo_module.tfm:10 (addprint)" in err and "--allow-flex" in err
    assert "loc(callsite" not in err  # the converter's own diagnostics stay off the terminal
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing left behind


def test_typed_lists_are_named_too(tmp_path, capsys):
    code = _export(str(EXAMPLES / "tensor_array.tfm"), "--module", "Squares", "--out", str(tmp_path / "m"),
                   "--tflite", str(tmp_path / "m.tflite"))
    assert code == 1
    err = capsys.readouterr().err
    assert "TensorArray at" in err and "tensor_array.tfm:5 (squares)" in err
    assert "a typed list at" in err and "tensor_array.tfm:11 (cumulative)" in err


def test_allow_flex_lists_the_select_tf_ops_and_does_not_claim_a_run(tmp_path, capsys):
    code = _export(str(EXAMPLES / "demo_module.tfm"), "--module", "DemoModule", "--out", str(tmp_path / "m"),
                   "--tflite", str(tmp_path / "m.tflite"), "--allow-flex")
    assert code == 0
    out = capsys.readouterr().out
    assert "Select-TF (Flex) ops PrintV2, StringFormat: not run here" in out
    assert main(["inspect", str(tmp_path / "m.tflite")]) == 0
    assert "Select-TF (Flex) ops: PrintV2, StringFormat" in capsys.readouterr().out


def test_every_signature_runs_in_litert_and_matches(tmp_path, capsys):
    source = tmp_path / "two.tfm"
    source.write_text("module Two(features: int = 3):\n    var w: f32[features] = [0.5, -1.0, 2.0]\n"
                      "    state calls: i32[] = 0\n\n"
                      "    @serving\n    fn score(x: f32[N, features]) -> f32[N]:\n"
                      "        calls.assign_add(1)\n        return reduce_sum(x * w, axis=1)\n\n"
                      "    fn scaled(x: f32[N, features], k: f32[]) -> (y: f32[N, features], total: f32[]):\n"
                      "        return x * k, reduce_sum(x) * k\n")
    assert _export(str(source), "--module", "Two", "--out", str(tmp_path / "m"),
                   "--tflite", str(tmp_path / "m.tflite")) == 0
    out = capsys.readouterr().out
    assert "ran every signature in LiteRT on sample inputs" in out
    assert "serving_default" in out and "scaled" in out


def test_the_check_runs_without_tensorflow(tmp_path):
    tfm.export(REGRESSION, "LinearRegression", tmp_path / "m", tflite=tmp_path / "m.tflite")
    cases = tmp_path / "cases.npz"
    x = np.ones((2, 3), np.float32)
    np.savez(cases, order=np.array(json.dumps([["one", "serving_default"]])),
             **{"one/serving_default/in/x": x, "one/serving_default/out/output_0": np.full((2, 1), 123.0, np.float32)})
    probe = (f"import runpy, sys\nsys.argv = ['litert_check', {str(tmp_path / 'm.tflite')!r}, {str(cases)!r}]\n"
             f"runpy.run_path({str(LITERT_CHECK)!r}, run_name='__main__')\n"
             "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    verdict = json.loads(result.stdout.strip().splitlines()[-1])
    assert verdict["ok"] and verdict["max_abs_diff"]["serving_default"] > 100  # it ran, and saw the wrong answer


def test_a_tflite_that_does_not_match_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(tflite_export, "run_samples", lambda job, path: {
        "ok": True, "errors": [], "max_abs_diff": {"serving_default": 0.5}})
    with pytest.raises(ExportError, match="differ from the SavedModel's: serving_default by 0.5"):
        tfm.export(REGRESSION, "LinearRegression", tmp_path / "m", tflite=tmp_path / "m.tflite")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", ["dynamic", "float16", "int8"])
def test_quantized_exports_report_size_and_error(tmp_path, mode):
    source = tmp_path / "mlp.tfm"
    source.write_text((EXAMPLES / "my_model.tfm").read_text())
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "calibration.npz", inputs=rng.normal(size=(64, 32)).astype(np.float32))
    plain = tfm.export(source, "MyModel", tmp_path / "float", tflite=tmp_path / "float.tflite")
    extra = {"representative_data": tmp_path / "calibration.npz"} if mode == "int8" else {}
    report = tfm.export(source, "MyModel", tmp_path / mode, tflite=tmp_path / f"{mode}.tflite", quantize=mode, **extra)
    assert report.tflite_report.size < plain.tflite_report.size
    assert 0 < report.tflite_report.max_abs_diff["serving_default"] < 0.5
    assert plain.tflite_report.max_abs_diff["serving_default"] < 1e-4


def test_int8_needs_representative_data(tmp_path, capsys):
    assert _export(REGRESSION, "--module", "LinearRegression", "--out", str(tmp_path / "m"), "--tflite",
                   str(tmp_path / "m.tflite"), "--quantize", "int8") == 1
    assert "--quantize int8 needs --representative-data" in capsys.readouterr().err


def test_serving_layout_versions(tmp_path, capsys):
    base = tmp_path / "serving" / "lr"
    for _ in range(2):
        assert _export(REGRESSION, "--module", "LinearRegression", "--out", str(base), "--version") == 0
    assert _export(REGRESSION, "--module", "LinearRegression", "--out", str(base), "--version", "7") == 0
    assert sorted(p.name for p in base.iterdir() if not p.name.startswith(".")) == ["1", "2", "7"]
    assert _export(REGRESSION, "--module", "LinearRegression", "--out", str(base), "--version", "7") == 1
    assert "--force" in capsys.readouterr().err


def test_inspect_a_tflite_as_json(tmp_path, capsys):
    tfm.export(REGRESSION, "LinearRegression", tmp_path / "m", tflite=tmp_path / "m.tflite")
    assert main(["inspect", str(tmp_path / "m.tflite"), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["kind"] == "TFLite" and shown["flex_ops"] == []
    signature = shown["signatures"][0]
    assert signature["key"] == "serving_default"
    assert signature["inputs"] == [{"name": "x", "dtype": "float32", "shape": [None, 3], "declared": "f32[N, features]"}]
    assert shown["manifest"]["module"] == "LinearRegression"
    assert "train_step" in shown["not_served"]


def test_inspect_shows_declared_output_order(tmp_path, capsys):
    source = tmp_path / "order.tfm"
    source.write_text("module Order:\n    fn f(x: f32[N]) -> (zeta: f32[N], alpha: f32[]):\n"
                      "        return x * 2.0, reduce_sum(x)\n")
    tfm.export(source, "Order", tmp_path / "m")
    assert main(["inspect", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert out.index("output zeta: float32[?]  (declared f32[N])") < out.index("output alpha: float32[]")


def test_inspect_refuses_a_damaged_tflite(tmp_path, capsys):
    damaged = tmp_path / "bad.tflite"
    damaged.write_bytes(b"\x00\x00\x00\x00TFL3" + b"\xff" * 64)
    assert main(["inspect", str(damaged)]) == 1
    err = capsys.readouterr().err
    assert "damaged TFLite flatbuffer" in err and "Traceback" not in err


@pytest.mark.parametrize("depth", [20, 5000])
def test_inspect_a_tflite_whose_manifest_nests_deep_is_one_error_line(tmp_path, capsys, depth):
    import tensorflow as tf
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    f = tf.function(lambda x: x + 1.0, input_signature=[tf.TensorSpec([2], tf.float32)])
    model = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()]).convert()
    tree = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    buffer = schema.BufferT()
    buffer.data = list(('{"format": "tfm-export/1", "init": {"a": ' + "[" * depth + "]" * depth + "}}").encode())
    tree.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = b"tfm_export", len(tree.buffers) - 1
    tree.metadata = [*(tree.metadata or []), entry]
    hostile = tmp_path / "deep.tflite"
    hostile.write_bytes(bytes(flatbuffer_utils.convert_object_to_bytearray(tree)))
    assert main(["inspect", str(hostile)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tfm: error:") and "manifest nests deeper" in err and len(err.splitlines()) == 1
