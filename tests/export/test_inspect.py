"""`tfm inspect` on SavedModels it did not write: read as data, never loaded, never run."""

from __future__ import annotations

import os

import pytest
import tensorflow as tf

from tfm.cli import main
from support import run_python


@pytest.fixture(scope="module")
def hostile_export(tmp_path_factory):
    """A SavedModel whose initializer writes a file when it is loaded."""
    root = tmp_path_factory.mktemp("hostile")
    marker = root / "pwned"

    class Evil(tf.saved_model.experimental.TrackableResource):
        def _create_resource(self):
            return tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=[], shared_name="evil")

        def _initialize(self):
            return tf.io.write_file(str(marker), "pwned")

    module = tf.Module()
    module.evil = Evil()
    module.f = tf.function(lambda x: x + 1.0, input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")],
                           autograph=False)
    tf.saved_model.save(module, str(root / "model"), signatures={"serving_default": module.f,
                                                                 "esc\x1b[2Jape": module.f})
    marker.unlink(missing_ok=True)
    return root / "model", marker


def test_loading_the_hostile_export_would_run_it(hostile_export):
    directory, marker = hostile_export
    tf.saved_model.load(str(directory))
    assert marker.exists(), "the fixture is not hostile: loading it should write the marker"
    marker.unlink()


def test_inspect_reads_signatures_without_running_anything(hostile_export, capsys):
    directory, marker = hostile_export
    assert main(["inspect", str(directory)]) == 0
    out = capsys.readouterr().out
    assert not marker.exists()
    assert "signature serving_default" in out and "input  x: float32[?, 3]" in out
    assert "\x1b" not in out and "esc\\x1b[2Jape" in out


def test_inspect_never_imports_tensorflow(hostile_export):
    directory, marker = hostile_export
    result = run_python("import sys\nfrom tfm.cli import main\n"
                        f"assert main(['inspect', {str(directory)!r}]) == 0\n"
                        "assert 'tensorflow' not in sys.modules\n")
    assert result.returncode == 0, result.stderr[-2000:]
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["garbage", "empty", "fifo", "device_link", "directory", "missing"])
def test_inspect_refuses_what_is_not_a_savedmodel(tmp_path, capsys, kind):
    directory = tmp_path / "export"
    directory.mkdir()
    pb = directory / "saved_model.pb"
    if kind == "garbage":
        pb.write_bytes(b"\xff" * 64)
    elif kind == "empty":
        pb.write_bytes(b"")
    elif kind == "fifo":
        os.mkfifo(pb)
    elif kind == "device_link":
        pb.symlink_to("/dev/zero")
    elif kind == "directory":
        pb.mkdir()
    assert main(["inspect", str(directory)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tfm: error:") and "Traceback" not in err


def _synthetic_export(directory, inputs: int, manifest: str | None):
    """A SavedModel protobuf written as data (no TensorFlow): one signature with `inputs` inputs."""
    import json as _json

    from tfm.exports.savedmodel_proto import _message_class

    directory.mkdir(parents=True)
    saved_model = _message_class("SavedModel")()
    signature = saved_model.meta_graphs.add().signature_def["serving_default"]
    for i in range(inputs):
        info = signature.inputs[f"x{i}"]
        info.dtype = 1
        info.tensor_shape.dim.add(size=-1)
    signature.outputs["y"].dtype = 1
    (directory / "saved_model.pb").write_bytes(saved_model.SerializeToString())
    if manifest is not None:
        (directory / "tfm-export.json").write_text(manifest)
    return _json


@pytest.mark.parametrize("depth", [17, 900, 990, 100_000])
@pytest.mark.parametrize("where", ["init", "declared"])
def test_a_deeply_nested_manifest_is_one_error_line(tmp_path, capsys, depth, where):
    nested = "[" * depth + "]" * depth
    manifest = ('{"format": "tfm-export/1", ' + (f'"init": {{"a": {nested}}}}}' if where == "init" else
                f'"declared": {{"serving_default": {{"inputs": [{nested}]}}}}}}'))
    _synthetic_export(tmp_path / "export", 3, manifest)
    assert main(["inspect", str(tmp_path / "export")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tfm: error:") and "nests deeper" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_tens_of_thousands_of_inputs_are_listed_in_linear_time(tmp_path, capsys, fmt):
    from support import time_limit

    count = 40_000
    json = _synthetic_export(tmp_path / "export", count, None)
    declared = [[f"x{i}", "f32[?]"] for i in reversed(range(count))]  # the declared order: every rank looked up
    (tmp_path / "export" / "tfm-export.json").write_text(json.dumps(
        {"format": "tfm-export/1", "declared": {"serving_default": {"inputs": declared, "outputs": []}}}))
    with time_limit(30):  # comparing each input with the declared list took minutes (quadratic)
        assert main(["inspect", "--format", fmt, str(tmp_path / "export")]) == 0
    out = capsys.readouterr().out
    if fmt == "text":
        inputs = [line.split()[1].rstrip(":") for line in out.splitlines() if line.strip().startswith("input")]
    else:
        inputs = [tensor["name"] for tensor in json.loads(out)["signatures"][0]["inputs"]]
    assert inputs[:2] == ["x39999", "x39998"] and len(inputs) == count  # in the declared order


def test_a_deeply_nested_saved_model_protobuf_is_one_error_line(tmp_path, capsys):
    directory = tmp_path / "export"
    directory.mkdir()
    start, end = b"\x9b\x06", b"\x9c\x06"  # field 99 as a group, nested 100,000 deep
    (directory / "saved_model.pb").write_bytes(start * 100_000 + end * 100_000)
    assert main(["inspect", str(directory)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tfm: error:") and len(err.splitlines()) == 1
