"""A training run's checkpoint directory: claimed only if tfm train made it (or it is empty), locked
for the whole run, its run file read and written atomically, and on --restart only tfm's own
checkpoint files removed."""

from __future__ import annotations

import fcntl
import json
import os
import re
import stat
from pathlib import Path
from typing import Callable

from tfm.dsl.diagnostics import printable
from tfm.files import write_atomic
from tfm.run.training_errors import TrainingError

RUN_FILE = "tfm-train.json"
LOCK_FILE = ".tfm-train.lock"
RUN_FORMAT = "tfm-train/1"
CHECKPOINT_NAME = "ckpt"


def claim_directory(directory: Path, identity: dict, restart: bool, log: Callable[[str], None]) -> RunLock:
    """Use `directory` for this run's checkpoints, and lock it. Only a directory tfm train made (it holds
    tfm's run file) or an empty one is used; a run of another module is refused; `--restart` removes the
    checkpoints tfm wrote there, and nothing else."""
    run_file = directory / RUN_FILE
    if directory.exists() and not directory.is_dir():
        raise TrainingError(f"{printable(str(directory))} is not a directory")
    if directory.is_dir() and any(e.name != LOCK_FILE for e in directory.iterdir()) and not run_file.is_file():
        raise TrainingError(f"{printable(str(directory))} is not empty and was not written by tfm train (it has no "
                            f"{RUN_FILE}); choose another --checkpoint-dir")
    directory.mkdir(parents=True, exist_ok=True)
    lock = RunLock(directory)
    try:
        _check_run_file(directory, identity, restart, log)
        # What the run goes on with when resumed (its TensorBoard directory, --jit auto's choice); --restart
        # drops it.
        kept = {} if restart or not run_file.is_file() else \
            {key: value for key, value in read_run_file(run_file).items() if key in _KEPT_ON_RESUME}
        write_atomic(run_file, json.dumps({"format": RUN_FORMAT, **identity, **kept}, indent=2, sort_keys=True) + "\n")
    except BaseException:
        lock.release()
        raise
    return lock


_KEPT_ON_RESUME = ("log_run", "jit_chosen")  # jit_chosen: --jit auto's choice (tfm.run.jit_choice)


def _check_run_file(directory: Path, identity: dict, restart: bool, log: Callable[[str], None]) -> None:
    """The previous run's file against this run: another module is refused unless restarting."""
    run_file = directory / RUN_FILE
    if not run_file.is_file():
        return
    previous = read_run_file(run_file)
    for key in ("module", "method"):
        if previous.get(key) != identity[key] and not restart:
            raise TrainingError(f"{printable(str(directory))} holds checkpoints of "
                                f"{printable(str(previous.get('module')))}.{printable(str(previous.get('method')))}"
                                f"; choose another --checkpoint-dir, or pass --restart to replace them")
    if not restart and previous.get("source_sha256") != identity["source_sha256"]:
        log(f"tfm: warning: {printable(str(previous.get('source')))} changed since these checkpoints were "
            "written; resuming if they still fit")
    if not restart and previous.get("data") != identity["data"]:
        log(f"tfm: warning: the checkpointed run trained on {printable(str(previous.get('data')))}; resuming on "
            "other data, so the batches differ from an uninterrupted run's")
    if restart:
        removed = remove_checkpoints(directory)
        if removed:
            log(f"tfm: --restart: removed {removed} checkpoint{'s' if removed != 1 else ''} of the previous run")


class RunLock:
    """An exclusive `flock` on `.tfm-train.lock` inside a checkpoint directory, held for a whole run:
    a second `tfm train` into the same directory is refused at once instead of both writing there.
    The file is opened without following a symbolic link and never blocks on a FIFO; it stays after
    the run (the lock, not the file, is what counts)."""

    def __init__(self, directory: Path):
        path = directory / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0),
                         0o600)
        except OSError as exc:
            why = "it is a symbolic link" if os.path.islink(path) else exc.strerror or str(exc)
            raise TrainingError(f"cannot lock {printable(str(directory))}: {printable(str(path))}: {why}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise TrainingError(f"cannot lock {printable(str(directory))}: {printable(str(path))} is not a "
                                    "regular file")
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise TrainingError(f"another tfm train is using {printable(str(directory))}; wait for it to finish, "
                                "or choose another --checkpoint-dir") from None
        except BaseException:
            os.close(fd)
            raise
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def read_run_file(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict) or data.get("format") != RUN_FORMAT:
        raise TrainingError(f"{printable(str(path))} is not a tfm train run file; choose another --checkpoint-dir")
    return data


_OWN_FILE = re.compile(rf"^{CHECKPOINT_NAME}-\d+\.(index|data-\d+-of-\d+)$|^checkpoint$")


def remove_checkpoints(directory: Path) -> int:
    """Remove the checkpoint files CheckpointManager wrote here (by their names), and its index."""
    removed = set()
    for entry in directory.iterdir():
        if entry.is_file() and _OWN_FILE.match(entry.name):
            entry.unlink()
            removed.add(entry.name.split(".")[0])
    return len(removed - {"checkpoint"})
