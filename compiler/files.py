"""Writing files so that nothing is lost or half-written: atomic replacement, fsync, the user's umask.

A temporary file is named `.NAME.tfm-PID-RANDOM.tmp` beside its target, so a later write to the same
target can tell the leftovers of a killed run (their process is gone) from a concurrent writer's.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path


def umask() -> int:
    """The process umask (read by setting and restoring it; tfm is single-threaded when it writes)."""
    current = os.umask(0o022)
    os.umask(current)
    return current


def write_atomic(path: Path, text: str, mode: int | None = None) -> None:
    write_atomic_bytes(path, text.encode("utf-8"), mode)


def write_atomic_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data` so that no reader ever sees half of it, nor a failed write.

    A device or FIFO (`-o /dev/stdout`) is written in place: it cannot be replaced, only written to.
    A symbolic link is followed: the file it points to is replaced, the link stays.
    """
    path = Path(os.path.realpath(path))
    if path.exists() and not path.is_file():
        with open(path, "wb") as handle:
            handle.write(data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.tfm-{os.getpid()}-{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:  # the replaced file's permissions (tfm fmt rewrites the user's own file)
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def staging_path(target: Path) -> Path:
    """A fresh temporary path beside `target`, named as write_atomic names its own (so a killed run's
    leftovers are removed by the next write), for a writer that needs a path rather than bytes."""
    target = Path(os.path.realpath(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    return target.with_name(f".{target.name}.tfm-{os.getpid()}-{secrets.token_hex(4)}.tmp")


def move_into_place(staged: Path, target: Path) -> None:
    """Atomically replace `target` with the finished file `staged` (fsynced by its writer)."""
    target = Path(os.path.realpath(target))
    os.replace(staged, target)
    fsync_directory(target.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temporaries(path: Path, suffix: str = ".tmp") -> None:
    """Delete `.NAME.tfm-PID-*` files and directories beside `path` whose process no longer runs."""
    prefix = f".{path.name}.tfm-"
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        pid = name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            remove_tree(entry)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_tree(path: Path) -> None:
    """Remove a file or a directory tree tfm wrote; symbolic links inside are removed, not followed."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        for child in Path(path).iterdir():
            remove_tree(child)
        try:
            os.rmdir(path)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise
    else:
        Path(path).unlink(missing_ok=True)


def same_file(a: Path, b: Path) -> bool:
    """True when `a` and `b` are one file (the same inode, through any link or spelling)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
