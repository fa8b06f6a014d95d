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
from conftest import ROOT

STRANGER = 12345


def _stranger_owns(path: Path) -> None:
    os.chown(path, STRANGER, STRANGER)


# --- item 3: settings files found by walking up -----------------------------------------------


def test_a_settings_file_another_user_owns_is_not_read(tmp_path):
    (tmp_path / "tfm.toml").write_text("jit = true\n")
    _stranger_owns(tmp_path / "tfm.toml")
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
    signal.alarm(20)  # a blocking open would hang here forever
    try:
        resolved = resolve({}, start=tmp_path, environ={})
    finally:
        signal.alarm(0)
    assert any("not a regular file" in note for note in resolved.notes)


def test_the_walk_stops_at_a_directory_another_user_owns(tmp_path):
    shared = tmp_path / "shared"  # say /tmp/shared, made by someone else
    mine = shared / "mine"
    mine.mkdir(parents=True)
    (shared / "tfm.toml").write_text("jit = true\n")  # even a file that looks like ours
    _stranger_owns(shared)
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
