"""Putting an export in place without ever losing one: lock, stage, verify, fsync, swap atomically.

An export directory is written into a staging directory beside its target, then moved into place with
one atomic rename (Linux `renameat2`, macOS `renamex_np`): `RENAME_NOREPLACE` when nothing is there
(a directory someone creates meanwhile is never replaced), `RENAME_EXCHANGE` to replace an earlier
export (a SIGKILL at any moment leaves the old export or the new one at the target, never neither).
Only a directory holding tfm's manifest is ever replaced, even with `--force`. A lock file beside the
target makes a second export to the same place fail at once instead of racing; staging directories
left by killed runs are removed by the next export to that target.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import secrets
import sys
from pathlib import Path

from tfm.files import fsync_directory, remove_stale_temporaries, remove_tree
from tfm.exports.savedmodel_proto import UnreadableSavedModel, read_regular_file

MANIFEST_NAME = "tfm-export.json"
MANIFEST_FORMAT = "tfm-export/1"
_MAX_MANIFEST_BYTES = 1 << 20


class PublishError(Exception):
    """The target cannot be written; the message says why and what to do. Nothing was changed."""


def read_manifest(directory: Path) -> dict | None:
    """tfm's manifest in an export directory, or None if there is none or it is not tfm's."""
    try:
        data = json.loads(read_regular_file(Path(directory) / MANIFEST_NAME, _MAX_MANIFEST_BYTES))
    except (UnreadableSavedModel, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == MANIFEST_FORMAT else None


def write_manifest(directory: Path, fields: dict) -> None:
    text = json.dumps({"format": MANIFEST_FORMAT, **fields}, indent=2, sort_keys=True, ensure_ascii=True)
    (Path(directory) / MANIFEST_NAME).write_text(text + "\n", encoding="ascii")


class TargetLock:
    """An exclusive, non-blocking lock on `.NAME.tfm-lock` beside a target path, removed on release.

    The file is unlinked while still locked; a process that opened it before that finds, once it holds
    its lock, that the path no longer names its file, and starts over (the usual safe pattern).
    """

    def __init__(self, target: Path):
        self.target = target
        self.path = target.parent / f".{target.name}.tfm-lock"
        self._fd: int | None = None

    def __enter__(self) -> TargetLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise PublishError(f"another tfm export to {self.target} is running; wait for it to finish") from None
            if _same_inode(fd, self.path):
                self._fd = fd
                return self
            os.close(fd)  # the holder before us removed this file: lock the new one
        raise PublishError(f"cannot lock {self.target}: its lock file keeps changing")

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            try:
                self.path.unlink(missing_ok=True)
            finally:
                os.close(self._fd)
                self._fd = None


def _same_inode(fd: int, path: Path) -> bool:
    try:
        held, named = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)


class ExportDirectory:
    """`with ExportDirectory(out, force) as target:` write into `target.staging`, then `target.publish()`.

    On any failure before `publish()` completes, the staging directory is removed and the target is
    as it was.
    """

    def __init__(self, out_dir: str | Path, force: bool):
        self.out_dir = Path(os.path.abspath(out_dir))
        self.force = force
        self.lock = TargetLock(self.out_dir)
        self.staging: Path | None = None

    def __enter__(self) -> ExportDirectory:
        self.lock.__enter__()
        try:
            remove_stale_temporaries(self.out_dir, suffix=".staging")
            check_replaceable(self.out_dir, self.force)
            staging = self.out_dir.with_name(f".{self.out_dir.name}.tfm-{os.getpid()}-{secrets.token_hex(4)}.staging")
            os.mkdir(staging, 0o777)  # the umask applies, so a serving process can read the export
            self.staging = staging
        except BaseException:
            self.lock.__exit__()
            raise
        return self

    def publish(self) -> None:
        """Move the staged export into place atomically; replace only a tfm export, and only with force."""
        fsync_tree(self.staging)
        try:
            rename_no_replace(self.staging, self.out_dir)
        except FileExistsError:
            check_replaceable(self.out_dir, self.force)  # it appeared while we worked: look again
            exchange(self.staging, self.out_dir)
            remove_tree(self.staging)  # now the previous export
        self.staging = None
        fsync_directory(self.out_dir.parent)

    def __exit__(self, *exc) -> None:
        try:
            if self.staging is not None:
                remove_tree(self.staging)
        finally:
            self.lock.__exit__()


def check_replaceable(out_dir: Path, force: bool) -> None:
    if not os.path.lexists(out_dir):
        return
    if not force:
        raise PublishError(f"{out_dir} exists; pass --force to replace it")
    if out_dir.is_symlink() or not out_dir.is_dir() or read_manifest(out_dir) is None:
        raise PublishError(f"{out_dir} exists and is not an export written by tfm (it has no {MANIFEST_NAME}); "
                           "tfm replaces only its own exports, even with --force")


def fsync_tree(root: Path) -> None:
    """Flush every file and directory under `root` to disk before it is renamed into place."""
    for directory, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(directory, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_directory(Path(directory))


# --- atomic renames --------------------------------------------------------------------------

_AT_FDCWD = -100
_LINUX_NOREPLACE, _LINUX_EXCHANGE = 1, 2
_MAC_SWAP, _MAC_EXCL = 0x2, 0x4


def rename_no_replace(source: Path, target: Path) -> None:
    """Rename, failing with FileExistsError if `target` exists (whatever it is)."""
    if _atomic_rename(source, target, _LINUX_NOREPLACE, _MAC_EXCL):
        return
    if os.path.lexists(target):  # no atomic primitive here: a narrow race remains, documented
        raise FileExistsError(errno.EEXIST, "exists", str(target))
    os.rename(source, target)


def exchange(source: Path, target: Path) -> None:
    """Swap two paths atomically; where the system cannot, move the old one aside first."""
    if _atomic_rename(source, target, _LINUX_EXCHANGE, _MAC_SWAP):
        return
    aside = target.with_name(f".{target.name}.tfm-{os.getpid()}-{secrets.token_hex(4)}.staging")
    os.rename(target, aside)
    os.rename(source, target)
    os.rename(aside, source)


def _atomic_rename(source: Path, target: Path, linux_flag: int, mac_flag: int) -> bool:
    """True if done; False if this system has no such call (the caller falls back)."""
    libc = _libc()
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        result = libc.renameat2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), linux_flag)
    elif sys.platform == "darwin" and hasattr(libc, "renamex_np"):
        result = libc.renamex_np(os.fsencode(source), os.fsencode(target), mac_flag)
    else:
        return False
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False  # a file system without the flag
    raise OSError(code, os.strerror(code), str(target))


_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
    return _LIBC
