"""The one way tfm writes and removes files: nothing lost, nothing half-written, nothing elsewhere.

A write goes to a fresh temporary file created beside its target (`O_CREAT|O_EXCL|O_NOFOLLOW`) in a
directory opened once, then is renamed over the target within that same directory: no path is
checked and then used. The directory is reached by `tfm.dsl.cache.open_directory`, which never
follows a symbolic link another user owns. The target must be missing or a regular file: a symbolic
link, FIFO, device or directory there is refused (UnsafeTarget), so a stranger's link cannot send a
write elsewhere and `-o` never blocks on a FIFO (`-o -` writes to standard output).

A temporary is named `.NAME.tfm-PID-RANDOM.tmp` (`.staging` for directories) beside its target, so
a later write to the same target can tell the leftovers of a killed run (their process is gone) from
a concurrent writer's. Removing them walks by directory descriptor: a link or directory swapped in
meanwhile is removed itself, never followed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tfm.dsl.cache import UnsafePath, open_directory, open_regular

_CREATE_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeTarget(OSError):
    """tfm will not write here (a symbolic link, a FIFO, a device...); the message says why."""


# --- writing -----------------------------------------------------------------------------------


def write_atomic(path: Path, text: str, mode: int | None = None) -> None:
    write_atomic_bytes(path, text.encode("utf-8"), mode)


def write_atomic_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data` so that no reader ever sees half of it, nor a failed write.
    `mode` None: a new file's permissions (the umask applies). Refuses a non-regular target."""
    with opened_parent(path, create=True) as (directory, name):
        _existing_regular_file(directory, name, path)
        _replace(directory, name, data, mode=mode)


def write_new_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path`, which must not exist: FileExistsError if anything is there, or appears
    while writing (it is never replaced). Whole or nothing, like write_atomic_bytes."""
    with opened_parent(path, create=True) as (directory, name):
        _replace(directory, name, data, mode=None, move=rename_no_replace)


@contextlib.contextmanager
def new_file_streamed(path: Path):
    """`with new_file_streamed(p) as handle:` write to `handle` (binary, write-only, seekable) as the data comes;
    when the block ends without an error the finished file is linked at `p`, which must not exist:
    FileExistsError if anything is there at the start or appears meanwhile (it is never replaced).
    The file is written as `.NAME.tfm-PID-RANDOM.tmp` beside `p` (created O_EXCL|O_NOFOLLOW), so `p`
    is whole or absent; on an error the temporary is removed."""
    with opened_parent(path, create=True) as (directory, name):
        try:
            os.stat(name, dir_fd=directory, follow_symlinks=False)
        except FileNotFoundError:
            pass
        else:
            raise FileExistsError(errno.EEXIST, "exists", str(path))
        remove_stale_temporaries_at(directory, name)
        temporary = temporary_name(name, ".tmp")
        fd = os.open(temporary, _CREATE_NEW, 0o666, dir_fd=directory)  # the umask applies
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            rename_no_replace(directory, temporary, name)
        except BaseException:
            _unlink_quietly(directory, temporary)
            raise
        fsync_quietly(directory)


def rewrite_file(path: Path, data: bytes) -> None:
    """Replace the user's file `path` with `data`, keeping its owner, group and mode (`tfm fmt`).

    Refused (UnsafeTarget) for a symbolic link, a file that is not regular, a file with other hard
    links (a new file would silently split it from them), or one whose owner cannot be kept."""
    with opened_parent(path) as (directory, name):
        info = _existing_regular_file(directory, name, path)
        if info is None:
            raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
        if info.st_nlink > 1:
            raise UnsafeTarget(errno.EMLINK, f"has {info.st_nlink} hard links; tfm fmt replaces the file, which "
                                             "would split them: format a copy, or use --diff", str(path))
        _replace(directory, name, data, mode=stat.S_IMODE(info.st_mode), owner=(info.st_uid, info.st_gid))


@contextlib.contextmanager
def opened_parent(path: str | Path, create: bool = False):
    """`with opened_parent(p) as (directory, name)`: the descriptor of `p`'s directory, opened once
    without following a stranger's link, and `p`'s last component (never `.` or `..`)."""
    path = os.fspath(path)
    head, name = os.path.split(path)
    if name in ("", ".", ".."):
        raise UnsafeTarget(errno.EISDIR, "names a directory, not a file", path)
    try:
        directory = open_directory(head or ".", create=create)
    except UnsafePath as exc:
        raise UnsafeTarget(exc.errno, exc.strerror, path) from None
    try:
        yield directory, name
    finally:
        os.close(directory)


def _existing_regular_file(directory: int, name: str, path) -> os.stat_result | None:
    """The target's status if it is a regular file, None if there is none; else UnsafeTarget."""
    try:
        info = os.stat(name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeTarget(errno.ELOOP, "is a symbolic link; tfm writes only to the path itself: name the file "
                                        "it points to", str(path))
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeTarget(errno.EEXIST, f"is {_kind(info.st_mode)}, not a regular file; tfm will not write to it "
                                         "(for standard output, use -)", str(path))
    return info


def _kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO", stat.S_ISCHR: "a device",
             stat.S_ISBLK: "a device", stat.S_ISSOCK: "a socket"}
    return next((kind for test, kind in kinds.items() if test(mode)), "not a regular file")


def _replace(directory: int, name: str, data: bytes, mode: int | None, owner: tuple[int, int] | None = None,
             move: Callable[[int, str, str], None] | None = None) -> None:
    """Write `data` to a new temporary beside `name`, then rename it over `name` (or `move` it there),
    in `directory`."""
    remove_stale_temporaries_at(directory, name)
    temporary = temporary_name(name, ".tmp")
    fd = os.open(temporary, _CREATE_NEW, 0o666, dir_fd=directory)  # the umask applies
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            _set_owner_and_mode(handle.fileno(), owner, mode, name)
            os.fsync(handle.fileno())
        (move or _rename_over)(directory, temporary, name)
    except BaseException:
        _unlink_quietly(directory, temporary)
        raise
    fsync_quietly(directory)


def _set_owner_and_mode(fd: int, owner: tuple[int, int] | None, mode: int | None, name: str) -> None:
    """The replaced file's owner first (chown clears set-id bits), then its mode."""
    created = os.fstat(fd)
    if owner is not None and (created.st_uid, created.st_gid) != owner:
        try:
            os.fchown(fd, *owner)
        except PermissionError:
            raise UnsafeTarget(errno.EPERM, f"belongs to uid {owner[0]}, gid {owner[1]}; a rewritten file would "
                                            "not keep that owner, so tfm leaves it as it is", name) from None
    if mode is not None:
        os.fchmod(fd, mode)


def _rename_over(directory: int, source: str, target: str) -> None:
    os.replace(source, target, src_dir_fd=directory, dst_dir_fd=directory)


def temporary_name(target_name: str, suffix: str) -> str:
    return f".{target_name}.tfm-{os.getpid()}-{secrets.token_hex(8)}{suffix}"


# --- a staged file for a writer that needs a path ----------------------------------------------


@dataclass
class StagedFile:
    """A file to be written by path (TensorFlow Lite's converter output, say) and then moved over
    `target`. It lives in a fresh directory of ours beside the target, reached through that
    directory's descriptor (`/proc/PID/fd/N/NAME`), so no one can swap a link in on the way."""

    target: Path
    directory: int
    stage_name: str
    stage: int

    @property
    def path(self) -> Path:
        return descriptor_path(self.stage) / self.target.name

    def move_into_place(self) -> None:
        """Atomically replace the target (still missing or a regular file) with the finished file."""
        _existing_regular_file(self.directory, self.target.name, self.target)
        os.replace(self.target.name, self.target.name, src_dir_fd=self.stage, dst_dir_fd=self.directory)
        fsync_quietly(self.directory)

    def close(self) -> None:
        """Remove what is left of the stage and release the descriptors."""
        try:
            remove_held_directory(self.directory, self.stage_name, self.stage)
        finally:
            os.close(self.stage)
            os.close(self.directory)


def descriptor_path(fd: int) -> Path:
    """A path naming the directory open as `fd` itself, whatever is renamed or linked in its place
    meanwhile: for writers that take a path. `/proc/PID`, not `/proc/self`: a child process that
    checks the file (the LiteRT run) must reach the same directory."""
    return Path(f"/proc/{os.getpid()}/fd/{fd}")


@contextlib.contextmanager
def staged_file(target: Path):
    """`with staged_file(t) as staged:` write `staged.path`, then `staged.move_into_place()`."""
    target = Path(os.path.abspath(target))
    with opened_parent(target, create=True) as (parent, name):
        _existing_regular_file(parent, name, target)
        remove_stale_temporaries_at(parent, name, suffix=".staging")
        stage_name = temporary_name(name, ".staging")
        os.mkdir(stage_name, 0o700, dir_fd=parent)
        staged = StagedFile(target, os.dup(parent), stage_name, os.open(stage_name, _DIRECTORY, dir_fd=parent))
    try:
        yield staged
    finally:
        staged.close()


# --- removing ----------------------------------------------------------------------------------


def remove_stale_temporaries_at(directory: int, target_name: str, suffix: str = ".tmp") -> None:
    """Delete `.NAME.tfm-PID-*SUFFIX` entries of `directory` whose process no longer runs."""
    prefix = f".{target_name}.tfm-"
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        pid = name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            try:
                remove_tree_at(directory, name)
            except OSError:
                pass  # a leftover that cannot be removed is no reason to fail this write


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_tree_at(directory: int, name: str) -> None:
    """Remove entry `name` of `directory`, a file or a whole tree, by descriptor: a symbolic link is
    removed, never followed, and a directory is opened (`O_NOFOLLOW`) before it is emptied, so a link
    swapped in for it after a look is removed itself and cannot redirect the removal."""
    if _unlink_unless_directory(directory, name):
        return
    try:
        child = os.open(name, _DIRECTORY, dir_fd=directory)
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        os.unlink(name, dir_fd=directory)  # no longer a directory: something swapped in; remove it, not its target
        return
    try:
        for entry in os.listdir(child):
            remove_tree_at(child, entry)
    finally:
        os.close(child)
    try:
        os.rmdir(name, dir_fd=directory)
    except FileNotFoundError:
        pass


def _unlink_unless_directory(directory: int, name: str) -> bool:
    """True when `name` is gone (removed, or never there); False when it is a directory."""
    try:
        os.unlink(name, dir_fd=directory)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        return False
    except PermissionError:  # some systems answer EPERM for a directory
        if not stat.S_ISDIR(os.stat(name, dir_fd=directory, follow_symlinks=False).st_mode):
            raise
        return False
    return True


def remove_held_directory(directory: int, name: str, held: int) -> None:
    """Empty the directory open as `held` through that descriptor, then remove entry `name` of
    `directory` only if it still is that directory (whatever was swapped in is left alone)."""
    for entry in os.listdir(held):
        remove_tree_at(held, entry)
    if names_descriptor(directory, name, held):
        try:
            os.rmdir(name, dir_fd=directory)
        except FileNotFoundError:
            pass


def names_descriptor(directory: int, name: str, fd: int) -> bool:
    """True when entry `name` of `directory` is (still) the file or directory open as `fd`."""
    try:
        named = os.stat(name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _unlink_quietly(directory: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=directory)
    except OSError:
        pass


# --- reading and comparing -------------------------------------------------------------------


def read_head(path: str | Path, size: int) -> bytes | None:
    """The first `size` bytes of `path` if it is a regular file (see open_regular), else None."""
    try:
        fd = open_regular(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def same_file(a: Path, b: Path) -> bool:
    """True when `a` and `b` are one file (the same inode, through any link or spelling)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def fsync_quietly(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError:
        pass


# --- atomic renames within one opened directory ------------------------------------------------

_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2  # Linux renameat2 flags


def rename_no_replace(directory: int, source: str, target: str) -> None:
    """Rename, failing with FileExistsError if `target` exists (whatever it is)."""
    if _renameat2(directory, source, target, _RENAME_NOREPLACE):
        return
    try:  # no atomic primitive on this file system: a narrow race remains, documented
        os.stat(target, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        os.rename(source, target, src_dir_fd=directory, dst_dir_fd=directory)
        return
    raise FileExistsError(errno.EEXIST, "exists", target)


def exchange(directory: int, source: str, target: str) -> None:
    """Swap two names atomically; where the file system cannot, move the old one aside first."""
    if _renameat2(directory, source, target, _RENAME_EXCHANGE):
        return
    aside = temporary_name(target, ".staging")
    os.rename(target, aside, src_dir_fd=directory, dst_dir_fd=directory)
    os.rename(source, target, src_dir_fd=directory, dst_dir_fd=directory)
    os.rename(aside, source, src_dir_fd=directory, dst_dir_fd=directory)


def _renameat2(directory: int, source: str, target: str, flag: int) -> bool:
    """True if done; False if this system or file system has no such flag (the caller falls back)."""
    libc = _libc()
    if not hasattr(libc, "renameat2"):
        return False
    if libc.renameat2(directory, os.fsencode(source), directory, os.fsencode(target), flag) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), target)


@functools.cache
def _libc():
    return ctypes.CDLL(None, use_errno=True)
