"""tf.distribute on CPU: MirroredStrategy over two logical CPU devices and MultiWorkerMirroredStrategy
over two local worker processes train the MLP example to the weights one device reaches on the same
global batches; only the chief writes checkpoints, and restarted workers resume from them. A compiled
training method also runs inside a user's own `strategy.run`, with its gradients all-reduced."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from support import EXAMPLES, ROOT, run_python

MLP = str(EXAMPLES / "my_model.tfm")
COMMON = ["MyModel.train_step", "--init", "learning_rate=0.1", "--data", "data.npz", "--batch-size", "32",
          "--seed", "3", "--shuffle", "256"]


@pytest.fixture()
def workdir(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 32)).astype(np.float32)
    np.savez(tmp_path / "data.npz", x=x, y=np.eye(10, dtype=np.float32)[x[:, :10].argmax(1)])
    return tmp_path


def _tfm(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.Popen:
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "tfm", *args], cwd=cwd, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    return out + err


def _weights(prefix: Path) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(str(prefix))
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if k.startswith("model/dense") and k.endswith("VARIABLE_VALUE")}


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and len(a) == 4
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_mirrored_on_two_logical_cpus_equals_one_device(workdir):
    one = _tfm(["train", MLP, *COMMON, "--epochs", "2", "--checkpoint-dir", "one"], workdir)
    two = _tfm(["train", MLP, *COMMON, "--epochs", "2", "--checkpoint-dir", "two", "--strategy", "mirrored",
                "--logical-devices", "2"], workdir)
    _finish(one)
    _finish(two)
    single, mirrored = _weights(workdir / "one" / "ckpt-16"), _weights(workdir / "two" / "ckpt-16")
    _assert_same(single, mirrored)
    assert not np.allclose(single["model/dense_1/kernel/.ATTRIBUTES/VARIABLE_VALUE"],
                           _weights(workdir / "one" / "ckpt-8")["model/dense_1/kernel/.ATTRIBUTES/VARIABLE_VALUE"])


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _workers(workdir: Path, epochs: int) -> list[str]:
    addresses = ",".join(f"127.0.0.1:{port}" for port in _free_ports(2))
    processes = [_tfm(["train", MLP, *COMMON, "--epochs", str(epochs), "--checkpoint-dir", "cluster",
                       "--strategy", "multiworker", "--workers", addresses, "--task-index", str(index)], workdir)
                 for index in range(2)]
    return [_finish(p) for p in processes]


def test_two_worker_processes_train_like_one_device_and_resume(workdir):
    single = _tfm(["train", MLP, *COMMON, "--epochs", "2", "--checkpoint-dir", "one"], workdir)
    first = _workers(workdir, epochs=1)
    assert all("trained MyModel.train_step: 8 steps" in out for out in first)
    # Only the chief (worker 0) keeps checkpoints; the other's temporary copy is gone.
    assert sorted(p.name for p in workdir.iterdir() if "cluster" in p.name) == ["cluster"]
    assert sorted(p.name for p in (workdir / "cluster").glob("*.index")) == ["ckpt-8.index"]
    second = _workers(workdir, epochs=2)  # both workers restarted: they resume from the chief's checkpoint
    assert all("resuming from cluster/ckpt-8" in out for out in second)
    _finish(single)
    _assert_same(_weights(workdir / "one" / "ckpt-16"), _weights(workdir / "cluster" / "ckpt-16"))


def test_a_users_own_strategy_run_of_a_training_method(tmp_path):
    result = run_python(f"""
import numpy as np, tensorflow as tf, tfm
tfm.configure(logical_devices=2)
module = tfm.load({MLP!r})
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 32)).astype(np.float32)
y = np.eye(10, dtype=np.float32)[x[:, :10].argmax(1)]
single = module.MyModel(learning_rate=0.1)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = module.MyModel(learning_rate=0.1)
model.dense_1.kernel.assign(single.dense_1.kernel)
model.dense_2.kernel.assign(single.dense_2.kernel)
dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((x, y)).batch(16))

@tf.function
def step(bx, by):
    # a tf.function with an input signature cannot take per-replica values (TensorFlow issue 29911):
    # strategy.run takes the method's Python function, which calls the other methods as usual.
    losses = strategy.run(model.train_step.python_function, args=(bx, by))
    return strategy.reduce("MEAN", losses, axis=None)

for bx, by in dataset:
    step(bx, by)
for start in range(0, 64, 16):
    single.train_step(x[start:start + 16], y[start:start + 16])
replicas = model.dense_1.kernel.values
assert np.array_equal(replicas[0].numpy(), replicas[1].numpy()), "replicas diverged"
np.testing.assert_allclose(replicas[0].numpy(), single.dense_1.kernel.numpy(), rtol=1e-5, atol=1e-6)
print("ok")
""", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
