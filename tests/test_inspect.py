"""`tfm inspect` on SavedModels it did not write: read as data, never loaded, never run."""

from __future__ import annotations

import os

import pytest
import tensorflow as tf

from tfm.cli import main
from conftest import run_python


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
