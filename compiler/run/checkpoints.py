"""Checkpoints of compiled modules: the layout `tfm train` writes and `tfm export --checkpoint` reads.

A checkpoint is `tf.train.Checkpoint(model=MODULE, progress=...)`: the module (its variables, its
optimizers' step counts and slots) under `model`, the training position under `progress`. A
checkpoint written by hand with `tf.train.Checkpoint(model=module)` is read the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

from tfm.dsl.diagnostics import first_line

MODEL_KEY = "model"
_VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


class CheckpointError(Exception):
    """The checkpoint cannot be found or does not fit the module; the message says which and why."""


def resolve_checkpoint(tf, path: str | Path) -> str:
    """The checkpoint prefix `path` names: a directory (its latest checkpoint) or a prefix (`dir/ckpt-3`)."""
    path = str(path)
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise CheckpointError(f"{path} holds no checkpoint (no `checkpoint` index file naming one)")
        return latest
    if not os.path.exists(path + ".index"):
        raise CheckpointError(f"no checkpoint at {path} (expected a directory or a prefix with a .index file)")
    return path


def restore_model(tf, instance, prefix: str) -> None:
    """Load the module's variables and optimizer state from `prefix`; every one must be found there."""
    status = tf.train.Checkpoint(**{MODEL_KEY: instance}).read(prefix)
    try:
        status.assert_existing_objects_matched()
    except AssertionError as exc:
        raise CheckpointError(f"{prefix} does not fit this module: {first_line(exc)}") from None
    except Exception as exc:  # a shape or dtype clash surfaces from TensorFlow here
        raise CheckpointError(f"{prefix} does not fit this module: {first_line(exc)}") from None
    status.expect_partial()  # the training position is not the module's


def model_values(tf, prefix: str, paths) -> dict[str, object]:
    """The values `prefix` holds for the module variables at object `paths` (`dense_1/kernel`)."""
    reader = tf.train.load_checkpoint(prefix)
    values = {}
    for path in paths:
        key = f"{MODEL_KEY}/{path}{_VALUE_SUFFIX}"
        if reader.has_tensor(key):
            values[path] = reader.get_tensor(key)
    return values


def instance_values(instance, paths) -> dict[str, object]:
    """The current values of the module variables at object `paths` of a built instance."""
    values = {}
    for path in paths:
        target = instance
        for part in path.split("/"):
            target = getattr(target, part, None)
        if target is not None and hasattr(target, "numpy"):
            values[path] = target.numpy()
    return values

