"""Putting an export in place without ever losing one: lock, stage, verify, fsync, swap atomically.

An export directory is written into a staging directory beside its target, then moved into place with
one atomic rename in the target's directory, opened once (Linux `renameat2`): `RENAME_NOREPLACE` when
nothing is there (a directory someone creates meanwhile is never replaced), `RENAME_EXCHANGE` to replace an earlier
export (a SIGKILL at any moment leaves the old export or the new one at the target, never neither).
Only a directory holding tfm's manifest is ever replaced, even with `--force`. A lock file beside the
target makes a second export to the same place fail at once instead of racing; staging directories
left by killed runs are removed by the next export to that target.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
from pathlib import Path

from tfm.dsl.cache import UnsafePath, open_directory, open_regular
from tfm.files import (descriptor_path, exchange, fsync_quietly, names_descriptor, remove_held_directory,
                       remove_stale_temporaries_at, remove_tree_at, rename_no_replace, temporary_name)
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
    """The manifest, created new in a staging directory (`directory` may be its /proc/PID/fd path)."""
    text = json.dumps({"format": MANIFEST_FORMAT, **fields}, indent=2, sort_keys=True, ensure_ascii=True)
    fd = os.open(Path(directory) / MANIFEST_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o666)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text + "\n")


def _open_parent(target: Path) -> int:
    """The directory holding `target`, opened once (created if missing) without a stranger's link."""
    try:
        return open_directory(target.parent, create=True)
    except UnsafePath as exc:
        raise PublishError(f"{target} {exc.strerror}; tfm will not write there") from None


class TargetLock:
    """An exclusive, non-blocking lock on `.NAME.tfm-lock` beside a target path, removed on release.

    The file is unlinked while still locked; a process that opened it before that finds, once it holds
    its lock, that the name no longer names its file, and starts over (the usual safe pattern). It is
    opened in its directory's descriptor with `O_NOFOLLOW`: a link planted at its name is refused.
    """

    def __init__(self, target: Path):
        self.target = target
        self.name = f".{target.name}.tfm-lock"
        self.path = target.parent / self.name
        self._directory: int | None = None
        self._fd: int | None = None

    def __enter__(self) -> TargetLock:
        self._directory = _open_parent(self.target)
        try:
            self._fd = self._lock(self._directory)
        except BaseException:
            os.close(self._directory)
            self._directory = None
            raise
        return self

    def _lock(self, directory: int) -> int:
        for _ in range(100):
            try:
                fd = self._open_lock_file(directory)
            except FileNotFoundError:
                continue  # its holder removed it between our two opens: try again
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise PublishError(f"another tfm export to {self.target} is running; wait for it to finish") from None
            if _same_inode(fd, directory, self.name):
                return fd
            os.close(fd)  # the holder before us removed this file: lock the new one
        raise PublishError(f"cannot lock {self.target}: its lock file keeps changing")

    def _open_lock_file(self, directory: int) -> int:
        """The lock file, created new, or else opened only if it is a regular file (see open_regular)."""
        try:
            return os.open(self.name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666,
                           dir_fd=directory)
        except FileExistsError:
            pass
        try:
            return open_regular(self.name, os.O_RDWR, dir_fd=directory)
        except UnsafePath as exc:
            raise PublishError(f"{self.path} {exc.strerror}; tfm will not lock through it") from None

    def __exit__(self, *exc) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.name, dir_fd=self._directory)
        except FileNotFoundError:
            pass
        finally:
            os.close(self._fd)
            if self._directory is not None:
                os.close(self._directory)
            self._fd = self._directory = None


def _same_inode(fd: int, directory: int, name: str) -> bool:
    try:
        held, named = os.fstat(fd), os.stat(name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)


class ExportDirectory:
    """`with ExportDirectory(out, force) as target:` write into `target.staging`, then `target.publish()`.

    The staging directory is made in the target's directory, opened once, and handed to writers as
    `/proc/PID/fd/N` of its own descriptor, so a directory renamed or linked in its place meanwhile
    is never written into. On any failure before `publish()` completes, the staging directory is
    removed and the target is as it was.
    """

    def __init__(self, out_dir: str | Path, force: bool):
        self.out_dir = Path(os.path.abspath(out_dir))
        self.force = force
        self.lock = TargetLock(self.out_dir)
        self._staging: Path | None = None
        self._parent: int | None = None
        self._stage_name: str | None = None
        self._stage: int | None = None

    def __enter__(self) -> ExportDirectory:
        self.lock.__enter__()
        try:
            self._parent = _open_parent(self.out_dir)
            remove_stale_temporaries_at(self._parent, self.out_dir.name, suffix=".staging")
            check_replaceable(self._parent, self.out_dir, self.force)
            name = temporary_name(self.out_dir.name, ".staging")
            os.mkdir(name, 0o777, dir_fd=self._parent)  # the umask applies, so a serving process can read it
            self._stage_name = name
            self._stage = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                  dir_fd=self._parent)
            self._staging = descriptor_path(self._stage)
        except BaseException:
            self.__exit__()
            raise
        return self

    @property
    def staging(self) -> Path:
        """The staging directory to write into (a path through its open descriptor), inside the `with`."""
        if self._staging is None:
            raise PublishError(f"the export to {self.out_dir} is not open (use ExportDirectory in a with block)")
        return self._staging

    def _held(self) -> tuple[int, str, int]:
        """The parent directory's descriptor, the staging name and the staging directory's descriptor."""
        if self._parent is None or self._stage_name is None or self._stage is None:
            raise PublishError(f"the export to {self.out_dir} is not open, or was published already")
        return self._parent, self._stage_name, self._stage

    def publish(self) -> None:
        """Move the staged export into place atomically; replace only a tfm export, and only with force."""
        fsync_tree(self.staging)
        parent, stage_name, _ = self._held()
        self._check_staging_is_ours()
        try:
            rename_no_replace(parent, stage_name, self.out_dir.name)
        except FileExistsError:
            previous = check_replaceable(parent, self.out_dir, self.force)  # it appeared meanwhile: look again
            exchange(parent, stage_name, self.out_dir.name)
            self._remove_previous(previous)
        self._stage_name = None
        fsync_quietly(parent)

    def _check_staging_is_ours(self) -> None:
        """The name about to be renamed into place still names the directory we wrote into."""
        parent, stage_name, stage = self._held()
        if not names_descriptor(parent, stage_name, stage):
            self._stage_name = None  # not ours any more: leave whatever is there alone
            raise PublishError(f"the staging directory beside {self.out_dir} was moved or replaced while tfm "
                               "wrote into it; nothing was published")

    def _remove_previous(self, checked: os.stat_result | None) -> None:
        """Remove the export now at the staging name, if it is the one that was checked."""
        parent, stage_name, _ = self._held()
        now = os.stat(stage_name, dir_fd=parent, follow_symlinks=False)
        if checked is not None and (now.st_dev, now.st_ino) == (checked.st_dev, checked.st_ino):
            remove_tree_at(parent, stage_name)

    def __exit__(self, *exc) -> None:
        try:
            if self._stage_name is not None and self._stage is not None and self._parent is not None:
                remove_held_directory(self._parent, self._stage_name, self._stage)
        finally:
            for fd in (self._stage, self._parent):
                if fd is not None:
                    os.close(fd)
            self._stage = self._parent = self._stage_name = None
            self.lock.__exit__()


def check_replaceable(parent: int, out_dir: Path, force: bool) -> os.stat_result | None:
    """The status of what is at `out_dir` (in its opened `parent`) if tfm may replace it, None if
    nothing is there; else PublishError. Only a directory holding tfm's manifest is replaceable."""
    try:
        info = os.stat(out_dir.name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if not force:
        raise PublishError(f"{out_dir} exists; pass --force to replace it")
    if not stat.S_ISDIR(info.st_mode) or not _has_manifest(parent, out_dir.name):
        raise PublishError(f"{out_dir} exists and is not an export written by tfm (it has no {MANIFEST_NAME}); "
                           "tfm replaces only its own exports, even with --force")
    return info


def _has_manifest(parent: int, name: str) -> bool:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    except OSError:
        return False
    try:
        return read_manifest(descriptor_path(fd)) is not None
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file and directory under `root` to disk before it is renamed into place (links,
    FIFOs and devices are skipped, never opened)."""
    for _, _, files, directory in os.fwalk(root):
        for name in files:
            try:
                fd = open_regular(name, os.O_RDONLY, dir_fd=directory)
            except OSError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_quietly(directory)
