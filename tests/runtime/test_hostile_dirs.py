"""Directories and files handed over by strangers (issue 20): settings files found by walking up,
checkpoint directories, damaged checkpoints and data files. Each test builds the hostile input as
another user would (tests run as root: `os.chown(path, 12345, 12345)` and permission bits play the
other user) and checks that tfm neither trusts it nor hangs on it, and says why in one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tfm.cli import main
from tfm.run.settings import resolve
from support import ROOT, strangers_own
from support import time_limit

# --- item 3: settings files found by walking up -----------------------------------------------


def test_a_settings_file_another_user_owns_is_not_read(tmp_path):
    (tmp_path / "tfm.toml").write_text("jit = true\n")
    strangers_own(tmp_path / "tfm.toml")
    resolved = resolve({}, start=tmp_path, environ={})
    assert resolved.settings.jit is False and resolved.source("jit") == "default"
    assert any("tfm.toml ignored: it belongs to user 12345" in note for note in resolved.notes)


def test_a_settings_file_others_may_write_is_not_read(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.tfm]\njit = true\n")
    os.chmod(tmp_path / "pyproject.toml", 0o664)
    resolved = resolve({}, start=tmp_path, environ={})
    assert resolved.settings.jit is False
    assert any("others may write to it" in note for note in resolved.notes)


def test_a_symlinked_settings_file_is_not_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text("jit = true\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "tfm.toml").symlink_to(elsewhere)
    resolved = resolve({}, start=project, environ={})
    assert resolved.settings.jit is False
    assert any("symbolic link" in note for note in resolved.notes)


def test_a_fifo_named_like_a_settings_file_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "tfm.toml")
    with time_limit(20):  # a blocking open would hang here forever
        resolved = resolve({}, start=tmp_path, environ={})
    assert any("not a regular file" in note for note in resolved.notes)


def test_the_walk_stops_at_a_directory_another_user_owns(tmp_path):
    shared = tmp_path / "shared"  # say /tmp/shared, made by someone else
    mine = shared / "mine"
    mine.mkdir(parents=True)
    (shared / "tfm.toml").write_text("jit = true\n")  # even a file that looks like ours
    strangers_own(shared)
    resolved = resolve({}, start=mine, environ={})
    assert resolved.settings.jit is False
    assert any("belongs to user 12345" in note for note in resolved.notes)


def test_network_settings_are_never_taken_from_a_found_file(tmp_path):
    (tmp_path / "tfm.toml").write_text('strategy = "multiworker"\nworkers = ["evil.example:2222", "localhost:2223"]\n'
                                       'task_index = 1\njit = true\n')
    resolved = resolve({}, start=tmp_path, environ={})
    s = resolved.settings
    assert (s.strategy, s.workers, s.task_index, s.jit) == ("default", None, None, True)
    ignored = [note for note in resolved.notes if "opens network ports" in note]
    assert len(ignored) == 3 and "--workers" in ignored[1]
    named = resolve({"strategy": "multiworker", "workers": ["localhost:2224"], "task_index": 0}, start=tmp_path,
                    environ={})
    assert (named.settings.strategy, named.settings.workers, named.notes) == ("multiworker", ["localhost:2224"], ())
    mirrored = tmp_path / "m"
    mirrored.mkdir()
    (mirrored / "tfm.toml").write_text('strategy = "mirrored"\n')  # opens no port: taken as before
    assert resolve({}, start=mirrored, environ={}).settings.strategy == "mirrored"


def test_tfm_config_says_which_setting_was_ignored_and_why(tmp_path, monkeypatch, capsys):
    (tmp_path / "tfm.toml").write_text('workers = ["localhost:2222"]\n')
    monkeypatch.chdir(tmp_path)
    assert main(["config"]) == 0
    err = capsys.readouterr().err
    assert "workers = ['localhost:2222'] in" in err and "ignored: a setting that opens network ports" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for c in children] + [d for c in children for d in _descendants(int(c))]


def test_a_worker_waiting_for_its_cluster_stops_on_sigterm(tmp_path):
    x = tmp_path / "data.npz"
    import numpy as np

    np.savez(x, x=np.zeros((8, 3), np.float32), y=np.zeros((8, 1), np.float32))
    workers = f"localhost:{_free_port()},localhost:{_free_port()}"  # worker 1 never comes
    process = subprocess.Popen(
        [sys.executable, "-m", "tfm", "train", str(ROOT / "examples" / "linear_regression.tfm"),
         "LinearRegression.train_step", "--data", str(x), "--strategy", "multiworker", "--workers", workers,
         "--task-index", "0"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    time.sleep(12)  # TensorFlow is imported and the worker waits for its peer
    assert process.poll() is None, process.communicate()
    workers_processes = _descendants(process.pid)
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    _, err = process.communicate(timeout=30)
    assert time.monotonic() - started < 10
    assert process.returncode == 128 + signal.SIGTERM
    assert "stopped by SIGTERM while waiting for the cluster's workers" in err and workers.split(",")[1] in err
    assert not [pid for pid in workers_processes if Path(f"/proc/{pid}").exists()
                and "zombie" not in Path(f"/proc/{pid}/status").read_text()]


# --- items 7 and 8: checkpoint directories and damaged checkpoints -----------------------------

REGRESSION = str(ROOT / "examples" / "linear_regression.tfm")
TARGET = "LinearRegression.train_step"


@pytest.fixture()
def data(tmp_path) -> Path:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    np.savez(tmp_path / "data.npz", x=x, y=x[:, :1] * 2.0)
    return tmp_path / "data.npz"


def _train(data: Path, directory: Path, *extra: str) -> int:
    return main(["train", REGRESSION, TARGET, "--data", str(data), "--checkpoint-dir", str(directory),
                 "--batch-size", "8", "--seed", "1", *extra])


def _export(checkpoint: Path, out: Path, *extra: str) -> int:
    return main(["export", REGRESSION, "LinearRegression", "--checkpoint", str(checkpoint), "--out", str(out),
                 *extra])


def _index(latest: str, *names: str) -> str:
    """A `checkpoint` index as CheckpointManager writes it: with timestamps, it deletes what it lists."""
    now = time.time()
    return (f'model_checkpoint_path: "{latest}"\n' + "".join(f'all_model_checkpoint_paths: "{n}"\n' for n in names)
            + "".join(f"all_model_checkpoint_timestamps: {now - 10 + i}\n" for i, _ in enumerate(names))
            + f"last_preserved_timestamp: {now - 100}\n")


def _victim(tmp_path: Path) -> Path:
    """Files outside the checkpoint directory, named as a checkpoint's would be."""
    victim = tmp_path / "victim"
    victim.mkdir()
    for name in ("ckpt-1.index", "ckpt-1.data-00000-of-00001"):
        (victim / name).write_text("precious")
    return victim


@pytest.mark.parametrize("named", ["{victim}/ckpt-1", "../victim/ckpt-1", "sub/../../victim/ckpt-1"])
def test_an_index_naming_files_outside_its_directory_is_refused_by_train(tmp_path, data, capsys, named):
    run = tmp_path / "run"
    assert _train(data, run, "--steps", "2") == 0
    victim = _victim(tmp_path)
    name = named.format(victim=victim)
    (run / "checkpoint").write_text(_index("ckpt-2", name, "ckpt-2"))
    capsys.readouterr()
    assert _train(data, run, "--steps", "4", "--max-to-keep", "1") == 1  # a rotation would delete the victim
    err = capsys.readouterr().err
    assert "checkpoint, line 2" in err and "a path inside the directory" in err and "internal error" not in err
    assert sorted(p.name for p in victim.iterdir()) == ["ckpt-1.data-00000-of-00001", "ckpt-1.index"]


def test_an_index_naming_a_symlink_out_of_its_directory_is_refused_by_export(tmp_path, data, capsys):
    run = tmp_path / "run"
    assert _train(data, run, "--steps", "1") == 0
    victim = _victim(tmp_path)
    (run / "ckpt-9.index").symlink_to(victim / "ckpt-1.index")
    (run / "checkpoint").write_text('model_checkpoint_path: "ckpt-9"\n')
    capsys.readouterr()
    assert _export(run, tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "leads out of the directory through a symbolic link" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("index", [b"garbage {{{", b"\xff\xfe", b'model_checkpoint_path: "a\\"b"'])
def test_an_index_that_is_not_checkpoint_manager_text_is_refused(tmp_path, capsys, index):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "checkpoint").write_bytes(index)
    assert _export(tmp_path / "ckpt", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "not a checkpoint index" in err and "internal error" not in err


def test_a_fifo_as_the_index_does_not_hang(tmp_path, capsys):
    (tmp_path / "ckpt").mkdir()
    os.mkfifo(tmp_path / "ckpt" / "checkpoint")
    with time_limit(60):
        assert _export(tmp_path / "ckpt", tmp_path / "out") == 1
    assert "not a regular file" in capsys.readouterr().err


def test_a_second_train_into_one_directory_is_refused(tmp_path, data, capsys):
    import fcntl

    run = tmp_path / "run"
    assert _train(data, run, "--steps", "1") == 0
    holder = os.open(run / ".tfm-train.lock", os.O_RDWR)  # the lock of a run still going
    fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        capsys.readouterr()
        assert _train(data, run, "--steps", "3") == 1
        assert "another tfm train is using" in capsys.readouterr().err
    finally:
        os.close(holder)
    assert _train(data, run, "--steps", "3") == 0  # once the first run ends, the directory is free


def test_a_symlinked_lock_file_is_not_followed(tmp_path, data, capsys):
    run = tmp_path / "run"
    assert _train(data, run, "--steps", "1") == 0
    os.unlink(run / ".tfm-train.lock")
    (run / ".tfm-train.lock").symlink_to(tmp_path / "elsewhere")
    capsys.readouterr()
    assert _train(data, run, "--steps", "2") == 1
    assert "it is a symbolic link" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere").exists()


def _checkpoint_of(tmp_path: Path, name: str, **init) -> Path:
    import tensorflow as tf

    import tfm

    model = tfm.load(REGRESSION).LinearRegression(**init)
    directory = tmp_path / name
    tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(directory), max_to_keep=1).save()
    return directory


def test_a_checkpoint_of_other_shapes_names_the_variable_and_both_shapes(tmp_path, capsys):
    wide = _checkpoint_of(tmp_path, "wide", features=4)
    assert _export(wide, tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "variable w is float32[3, 1] in this module, but float32[4, 1] in the checkpoint" in err
    narrow = _checkpoint_of(tmp_path, "narrow")
    assert _export(narrow, tmp_path / "out", "--init", "features=4") == 1
    assert "variable w is float32[4, 1] in this module, but float32[3, 1] in the checkpoint" in capsys.readouterr().err


def test_a_truncated_or_garbage_checkpoint_is_one_clear_error(tmp_path, capsys):
    directory = _checkpoint_of(tmp_path, "ckpt")
    data_file = next(directory.glob("ckpt-1.data-*"))
    data_file.write_bytes(data_file.read_bytes()[:20])
    assert _export(directory, tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "is damaged: the value of variable" in err and "internal error" not in err
    (directory / "ckpt-1.index").write_bytes(os.urandom(200))
    assert _export(directory, tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "is not a readable checkpoint" in err and "internal error" not in err
    assert not (tmp_path / "out").exists()


def test_train_names_what_does_not_fit_in_a_damaged_run(tmp_path, data, capsys):
    run = tmp_path / "run"
    assert _train(data, run, "--steps", "2", "--save-every", "1") == 0
    latest = run / "ckpt-2.data-00000-of-00001"
    latest.write_bytes(latest.read_bytes()[:20])
    capsys.readouterr()
    assert _train(data, run, "--steps", "3") == 0  # the damaged latest is passed over, with a reason
    err = capsys.readouterr().err
    assert "ckpt-2 is damaged: the value of variable" in err and "resuming from" in err and "ckpt-1" in err
    wide = _checkpoint_of(tmp_path, "wide", features=4)
    for old in run.glob("ckpt-*"):
        old.unlink()
    for name in ("ckpt-1.index", "ckpt-1.data-00000-of-00001"):
        (run / name).write_bytes((wide / name).read_bytes())
    (run / "checkpoint").write_text(_index("ckpt-1", "ckpt-1"))
    assert _train(data, run, "--steps", "5") == 1
    err = capsys.readouterr().err
    assert "no checkpoint in" in err and "variable w is float32[3, 1] in this module, but float32[4, 1]" in err


# --- item 13: data files ------------------------------------------------------------------------


def _train_on(path: Path, *extra: str) -> int:
    return main(["train", REGRESSION, TARGET, "--data", str(path), "--batch-size", "4", "--seed", "1", *extra])


def test_an_npz_that_would_expand_past_the_memory_limit_is_refused_unexpanded(tmp_path, monkeypatch, capsys):
    import numpy as np

    from tfm.run import datasets

    bomb = tmp_path / "bomb.npz"
    np.savez_compressed(bomb, x=np.zeros((4_000_000, 3), np.float32), y=np.zeros((4_000_000, 1), np.float32))
    assert bomb.stat().st_size < 1_000_000  # 64 MB of zeros in a few hundred kB
    monkeypatch.setattr(datasets, "memory_limit", lambda: 32 << 20)
    opened = []
    monkeypatch.setattr(np, "load", lambda *a, **k: opened.append(a) or pytest.fail("expanded"))
    assert _train_on(bomb) == 1
    err = capsys.readouterr().err
    assert "expand to 64,000,256 bytes, more than the limit of 33,554,432" in err and "nothing was expanded" in err
    assert not opened


def test_an_npy_header_claiming_a_huge_shape_is_refused(tmp_path, capsys):
    import io
    import zipfile

    import numpy as np

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**12, 3)})
    with zipfile.ZipFile(tmp_path / "liar.npz", "w") as archive:
        archive.writestr("x.npy", header.getvalue() + b"\0" * 48)
        archive.writestr("y.npy", header.getvalue() + b"\0" * 16)
    assert _train_on(tmp_path / "liar.npz") == 1
    err = capsys.readouterr().err
    assert "array x in" in err and "its header claims 12,000,000,000,000 bytes of data" in err


@pytest.mark.parametrize("make, kind", [(os.mkfifo, "a FIFO (named pipe)"), (os.mkdir, "a directory")])
def test_a_fifo_or_directory_as_data_is_named_as_such_and_never_waited_on(tmp_path, capsys, make, kind):
    make(tmp_path / "data.csv")
    with time_limit(60):
        assert _train_on(tmp_path / "data.csv") == 1
    assert f"data.csv is {kind}, not a data file" in capsys.readouterr().err


def test_a_device_as_data_is_named_as_such(tmp_path, capsys):
    (tmp_path / "data.tfrecord").symlink_to("/dev/zero")  # the user's own link: followed, then checked
    with time_limit(60):
        assert _train_on(tmp_path / "data.tfrecord") == 1
    assert "data.tfrecord is a character device, not a data file" in capsys.readouterr().err


@pytest.mark.parametrize("row, expected", [
    ("1,abc,3,4", "data.csv, line 3, column x_1: 'abc' is not a number (input x of LinearRegression.train_step"),
    ("1,2,3", "data.csv, line 3: 3 fields, but the header names 4"),
    ("1,,3,4", "data.csv, line 3, column x_1: the field is empty"),
    ('1,"2,3,4', "data.csv, line 3: not readable as CSV"),
])
def test_csv_errors_name_file_line_and_column_not_tensorflow_internals(tmp_path, capsys, row, expected):
    (tmp_path / "data.csv").write_text(f"x_0,x_1,x_2,y\n1,2,3,4\n{row}\n")
    assert _train_on(tmp_path / "data.csv") == 1
    err = capsys.readouterr().err
    assert expected in err
    assert "function_node" not in err and "ReduceDataset" not in err and "Op:" not in err


def test_nan_or_inf_in_the_data_stops_training_unless_allowed(tmp_path, capsys):
    import numpy as np

    (tmp_path / "data.csv").write_text("x_0,x_1,x_2,y\n1,2,3,4\n1,2,3,4\n1,2,inf,4\n1,2,3,4\n")
    assert _train_on(tmp_path / "data.csv") == 1
    assert "data.csv, line 4, column x_2 holds NaN or inf" in capsys.readouterr().err
    x = np.ones((8, 3), np.float32)
    x[5, 1] = np.nan
    np.savez(tmp_path / "data.npz", x=x, y=np.ones((8, 1), np.float32))
    assert _train_on(tmp_path / "data.npz") == 1
    err = capsys.readouterr().err
    assert "array x in" in err and "(row 5, counting from 0) holds NaN or inf" in err
    assert _train_on(tmp_path / "data.npz", "--steps", "1", "--shuffle", "0", "--allow-nonfinite") == 0


def test_a_loss_that_becomes_inf_stops_training_naming_the_step(tmp_path, capsys):
    import numpy as np

    x = np.full((8, 3), 1e20, np.float32)  # finite data whose squared error overflows float32
    np.savez(tmp_path / "data.npz", x=x, y=np.zeros((8, 1), np.float32))
    run = tmp_path / "run"
    assert _train_on(tmp_path / "data.npz", "--steps", "4", "--checkpoint-dir", str(run)) == 1
    err = capsys.readouterr().err
    assert "step 1 (epoch 1, step 1 in it): loss = inf" in err and "--allow-nonfinite" in err
    assert not list(run.glob("ckpt-*"))  # nothing from the diverged step was saved
    assert _train_on(tmp_path / "data.npz", "--steps", "2", "--allow-nonfinite") == 0


def test_a_fifo_as_a_run_argument_file_is_named_as_such(tmp_path, capsys):
    os.mkfifo(tmp_path / "x.npy")
    with time_limit(60):
        assert main(["run", REGRESSION, "LinearRegression.predict", "--arg", f"x=@{tmp_path / 'x.npy'}"]) == 1
    assert "x.npy is a FIFO (named pipe), not a value file" in capsys.readouterr().err


def test_a_run_argument_npy_claiming_a_huge_shape_is_refused_before_allocating(tmp_path, capsys):
    import numpy as np

    with open(tmp_path / "x.npy", "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f4", "fortran_order": False, "shape": (10**12, 3)})
        handle.write(b"\0" * 48)
    assert main(["run", REGRESSION, "LinearRegression.predict", "--arg", f"x=@{tmp_path / 'x.npy'}"]) == 1
    err = capsys.readouterr().err
    assert "x.npy is damaged: its header claims 12,000,000,000,000 bytes of data, but the file holds 48" in err


def test_two_real_train_runs_into_one_directory_never_both_succeed(tmp_path, data, capsys):
    run = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "tfm", "train", REGRESSION, TARGET, "--data", str(data),
                              "--checkpoint-dir", str(run), "--batch-size", "8", "--steps", "10000000",
                              "--save-every", "1000000"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        deadline = time.monotonic() + 120
        # The run file is written once the lock is held (probing the lock could steal it from the run).
        while time.monotonic() < deadline and first.poll() is None and not (run / "tfm-train.json").exists():
            time.sleep(0.2)
        assert first.poll() is None, first.communicate()
        assert _train(data, run, "--steps", "3") == 1
        assert "another tfm train is using" in capsys.readouterr().err
    finally:
        first.kill()
        first.communicate()
