"""A private temporary directory for everything tfm makes TensorFlow write, and AutoGraph import.

AutoGraph converts a method by writing its new source to `tempfile.gettempdir()` and importing it
with Python's normal file loader, which also reads (and writes) a `__pycache__` beside it. In a shared
`/tmp`, another user who owns that `__pycache__` can plant bytecode that then runs as whoever ran
tfm. So before anything is converted, `tempfile.tempdir` is pointed at a directory of tfm's own:
created 0700 in tfm's private cache (or else in the system temp directory, if no one else can change
the way to it), checked on its descriptor, and removed at exit. `tempfile.tempdir` is the public
knob for this; TensorFlow's own code is left as it is.
"""

from __future__ import annotations

import atexit
import errno
import os
import secrets
import stat
import tempfile

from tfm.dsl.cache import UnsafePath, open_directory, private_cache_dir
from tfm.files import process_alive, remove_tree_at

_PREFIX = "tfm-tmp-"
_ours: str | None = None


class NoPrivateTempdir(OSError):
    """Nowhere to put a private temporary directory; tfm will not let AutoGraph use a shared one."""


def use_private_tempdir() -> str:
    """Point `tempfile` (and so AutoGraph) at tfm's private temporary directory, made on first use,
    and return it. Called wherever generated code is loaded and at the start of commands that run
    TensorFlow; set again each time, in case something reset it."""
    global _ours
    if _ours is None:
        _ours = _make_private_tempdir()
        atexit.register(_remove, _ours)
    tempfile.tempdir = _ours
    return _ours


def _make_private_tempdir() -> str:
    problems = []
    for parent in _candidate_parents():
        try:
            return _make_in(parent)
        except OSError as exc:
            problems.append(f"{parent}: {exc.strerror or exc}")
    raise NoPrivateTempdir(errno.EPERM, "no private place for temporary files (" + "; ".join(problems) +
                           "); set TFM_CACHE_DIR to a directory only you can write")


def _candidate_parents() -> list[str]:
    cache = private_cache_dir()
    system = tempfile.tempdir if tempfile.tempdir != _ours else None
    return [str(p) for p in (cache, system or tempfile.gettempdir()) if p is not None]


def _make_in(parent: str) -> str:
    """A fresh 0700 directory in `parent`, whose whole path no one else can change."""
    directory = open_directory(parent, private=True)
    try:
        _remove_stale(directory)
        name = f"{_PREFIX}{os.getpid()}-{secrets.token_hex(8)}"
        os.mkdir(name, 0o700, dir_fd=directory)
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
        try:
            info = os.fstat(fd)
        finally:
            os.close(fd)
        if info.st_uid != os.getuid() or info.st_mode & 0o077:
            raise UnsafePath(errno.EPERM, "the new directory is not private", name)
        return os.path.join(os.path.abspath(parent), name)
    finally:
        os.close(directory)


def _remove_stale(directory: int) -> None:
    """Remove this user's directories left by tfm runs that were killed (their process is gone)."""
    for name in os.listdir(directory):
        pid = name[len(_PREFIX):].split("-", 1)[0] if name.startswith(_PREFIX) else ""
        if not pid.isdigit() or process_alive(int(pid)):
            continue
        info = os.stat(name, dir_fd=directory, follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
            remove_tree_at(directory, name)


def _remove(path: str) -> None:
    try:
        directory = open_directory(os.path.dirname(path), private=True)
    except OSError:
        return
    try:
        remove_tree_at(directory, os.path.basename(path))
    except OSError:
        pass
    finally:
        os.close(directory)
