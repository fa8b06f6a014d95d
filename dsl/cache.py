"""tfm's private cache directory, and the one safe way to reach a directory on a shared machine.

What is read back from the cache is trusted (Lark's analysed grammar is a pickle), so the directory
is used only if no one else could have written into it: owned by this user, mode 0700, not a
symlink, and reached through directories no one else can change (each owned by this user or root,
and writable only by its owner unless sticky, as `/tmp` is). Lark's own `cache=True` would unpickle
a file at a predictable path in the shared temp directory (lark PR #1628).

Paths are never checked and then used: `open_directory` walks a path one component at a time by
file descriptor (`O_NOFOLLOW`), following a symbolic link only if it belongs to this user or root
(the kernel's `protected_symlinks` rule, applied everywhere), and checks each directory it opened
(`fstat`), not the name it opened. Entries are then read and written relative to that descriptor.

The entry API, for any cache user:

    write_entry("grammar-abc.cache", data)    # whole or nothing; a failure leaves no entry
    read_entry("grammar-abc.cache")           # the same bytes, or None: missing, unsafe or damaged

Each entry carries the sha256 of its payload, so a truncated or altered entry reads as None and the
caller rebuilds it; it is never handed back as different bytes.
"""

from __future__ import annotations

import collections
import errno
import hashlib
import os
import secrets
import stat
import sys
from pathlib import Path

_HEADER = b"tfm-cache/1 sha256="
_DIGEST_LENGTH = 64
_MAX_ENTRY_BYTES = 256 << 20
_MAX_LINKS = 40  # as the kernel's own limit on symbolic links in one path
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


class UnsafeCache(OSError):
    """The cache directory could be written by someone else; tfm does not read from it."""


class UnsafePath(OSError):
    """A path tfm will not go through: a symbolic link another user owns, or (for a private place)
    a directory another user could change."""


# --- the entry API -------------------------------------------------------------------------------


def read_entry(name: str) -> bytes | None:
    """The payload of cache entry `name`, or None if it is missing, not private, or damaged."""
    try:
        directory = _open_cache_directory()
    except OSError:
        return None
    try:
        return _unwrap(_read_private_file(directory, _entry_name(name)))
    except OSError:
        return None
    finally:
        os.close(directory)


def write_entry(name: str, data: bytes) -> bool:
    """Store `data` as cache entry `name`, whole or not at all; False if the cache cannot be written."""
    digest = hashlib.sha256(data).hexdigest().encode("ascii")
    try:
        directory = _open_cache_directory()
    except OSError:
        return False
    try:
        _replace_private_file(directory, _entry_name(name), _HEADER + digest + b"\n" + data)
        return True
    except OSError:
        return False
    finally:
        os.close(directory)


def _unwrap(stored: bytes) -> bytes | None:
    start = len(_HEADER) + _DIGEST_LENGTH + 1
    if not stored.startswith(_HEADER) or stored[start - 1:start] != b"\n":
        return None
    payload = stored[start:]
    if hashlib.sha256(payload).hexdigest().encode("ascii") != stored[len(_HEADER):start - 1]:
        return None
    return payload


def _entry_name(name: str) -> str:
    """An entry is a plain file name inside the cache: no separator, no `..`, nothing hidden."""
    if not name or "/" in name or "\0" in name or name.startswith("."):
        raise ValueError(f"not a cache entry name: {name!r}")
    return name


# --- the cache directory -------------------------------------------------------------------------


def cache_root() -> tuple[Path, bool]:
    """The cache path, and whether it is tfm's default (which tfm may create and tighten)."""
    root = os.environ.get("TFM_CACHE_DIR")
    if root:
        return Path(root), False
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tfm", True


def cache_dir() -> Path:
    """The private cache directory, created 0700 if missing; UnsafeCache if it is not private."""
    os.close(_open_cache_directory())
    return Path(os.path.abspath(cache_root()[0]))


def private_cache_dir() -> Path | None:
    """The cache directory if it is private, else None (tfm then keeps what it would cache in memory)."""
    try:
        return cache_dir()
    except OSError:
        return None


def _open_cache_directory() -> int:
    path, is_default = cache_root()
    path = os.path.abspath(path)
    try:
        parent = open_directory(os.path.dirname(path), create=True, private=True)
        try:
            return _open_private_child(parent, os.path.basename(path), tighten=is_default)
        finally:
            os.close(parent)
    except OSError as exc:
        raise UnsafeCache(f"tfm cache {path} {exc.strerror or exc}; tfm will not read from it (set "
                          "TFM_CACHE_DIR to a private directory)") from None


def _open_private_child(parent: int, name: str, tighten: bool) -> int:
    """Directory `name` in `parent`, created 0700 if missing: owned by this user and closed to others."""
    try:
        os.mkdir(name, 0o700, dir_fd=parent)
    except FileExistsError:
        pass
    directory = _open_child_directory(parent, name)
    info = os.fstat(directory)
    problem = _private_directory_problem(info)
    if problem and tighten and info.st_uid == os.getuid():
        os.fchmod(directory, stat.S_IMODE(info.st_mode) & 0o700)  # tfm's own directory: keep it private
        problem = None
    if problem:
        os.close(directory)
        raise UnsafePath(errno.EPERM, problem)
    return directory


def _private_directory_problem(info: os.stat_result) -> str | None:
    if info.st_uid != os.getuid():
        return "belongs to another user"
    if info.st_mode & 0o077:
        return f"has mode {stat.S_IMODE(info.st_mode):o}, not 700"
    return None


# --- compatibility names for the current callers ---------------------------------------------


def is_private(path: str | Path) -> bool:
    """A file or directory that only this user could have written, reached safely."""
    path = os.path.abspath(path)
    try:
        parent = open_directory(os.path.dirname(path), private=True)
    except OSError:
        return False
    try:
        info = os.stat(os.path.basename(path), dir_fd=parent, follow_symlinks=False)
    except OSError:
        return False
    finally:
        os.close(parent)
    if stat.S_ISDIR(info.st_mode):
        return _private_directory_problem(info) is None
    return stat.S_ISREG(info.st_mode) and _private_file_problem(info) is None


def read_private(path: str | Path) -> bytes | None:
    """A raw cache file's bytes if it is private and reached safely, else None (no checksum: prefer
    `read_entry`)."""
    path = os.path.abspath(path)
    try:
        parent = open_directory(os.path.dirname(path), private=True)
    except OSError:
        return None
    try:
        return _read_private_file(parent, os.path.basename(path))
    except OSError:
        return None
    finally:
        os.close(parent)


def write_private(path: str | Path, data: bytes) -> None:
    """A raw cache file written whole or not at all (mode 0600, renamed into place in its opened
    directory); a cache that cannot be written is simply not written. New code: `write_entry`."""
    path = os.path.abspath(path)
    try:
        parent = open_directory(os.path.dirname(path), private=True)
    except OSError:
        return
    try:
        _replace_private_file(parent, os.path.basename(path), data)
    except OSError:
        pass
    finally:
        os.close(parent)


# --- private files, by directory descriptor ---------------------------------------------------


def open_regular(name: str | Path, flags: int, dir_fd: int | None = None) -> int:
    """A descriptor (opened with `flags`) for `name` if it is a regular file; UnsafePath for a
    symbolic link, FIFO, device or directory. The name is first opened with `O_PATH`, which opens
    nothing (no FIFO waited on, no device's open run), checked there, then reopened through
    `/proc/self/fd`: what is checked is what is opened."""
    _require_linux()
    handle = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        mode = os.fstat(handle).st_mode
        if stat.S_ISLNK(mode):
            raise UnsafePath(errno.ELOOP, "is a symbolic link", os.fspath(name))
        if not stat.S_ISREG(mode):
            raise UnsafePath(errno.EINVAL, "is not a regular file", os.fspath(name))
        return os.open(f"/proc/self/fd/{handle}", flags | os.O_CLOEXEC)
    finally:
        os.close(handle)


def _read_private_file(directory: int, name: str) -> bytes:
    """The bytes of a regular file this user owns and others cannot write, checked on the descriptor
    read from (a FIFO is never waited on, a symbolic link never followed)."""
    fd = open_regular(name, os.O_RDONLY, dir_fd=directory)
    try:
        info = os.fstat(fd)
        problem = _private_file_problem(info)
        if problem is None and info.st_size > _MAX_ENTRY_BYTES:
            problem = "is too large"
        if problem:
            raise UnsafePath(errno.EPERM, problem, name)
        return _read_all(fd)
    finally:
        os.close(fd)


def _private_file_problem(info: os.stat_result) -> str | None:
    if info.st_uid != os.getuid():
        return "belongs to another user"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "is writable by others"
    return None


def _read_all(fd: int) -> bytes:
    chunks, total = [], 0
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
        total += len(chunk)
        if total > _MAX_ENTRY_BYTES:
            raise UnsafePath(errno.EFBIG, "is too large")
    return b"".join(chunks)


def _replace_private_file(directory: int, name: str, data: bytes) -> None:
    """Write a fresh 0600 file under a random name, then rename it over `name`, all in `directory`."""
    temporary = f".{name}.{os.getpid()}-{secrets.token_hex(8)}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                 dir_fd=directory)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
    except BaseException:
        try:
            os.unlink(temporary, dir_fd=directory)
        except OSError:
            pass
        raise


# --- walking a path by descriptor -------------------------------------------------------------


def open_directory(path: str | Path, create: bool = False, private: bool = False) -> int:
    """A descriptor for directory `path`, reached one component at a time without following a
    symbolic link that another user owns (UnsafePath). `create`: missing directories are made (the
    umask applies). `private`: every directory on the way must be one others cannot change (owned by
    this user or root; writable by no one else, or sticky so no one else can rename our entries).

    The caller closes the descriptor. Linux only (it needs `O_PATH` to read a link it has opened).
    """
    _require_linux()
    path = os.fspath(path)
    if private:
        path = os.path.abspath(path)
    remaining = collections.deque(path.split("/"))
    fd = os.open("/" if path.startswith("/") else ".", _DIRECTORY)
    links = 0
    try:
        _check_directory(fd, path, private)
        while remaining:
            name = remaining.popleft()
            if name in ("", "."):
                continue
            step = _step(fd, name, create)
            if step[1] is None:  # a directory: go into it
                os.close(fd)
                fd = step[0]
                _check_directory(fd, path, private)
                continue
            target = step[1]
            links += 1
            if links > _MAX_LINKS:
                raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
            remaining.extendleft(reversed(target.split("/")))
            if target.startswith("/"):
                os.close(fd)
                fd = os.open("/", _DIRECTORY)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _step(fd: int, name: str, create: bool) -> tuple[int, None] | tuple[None, str]:
    """(the child directory's descriptor, None), or (None, the target of a link we may follow)."""
    try:
        return os.open(name, _DIRECTORY, dir_fd=fd), None
    except FileNotFoundError:
        if not create:
            raise
        try:
            os.mkdir(name, 0o777, dir_fd=fd)
        except FileExistsError:
            pass
        return _step(fd, name, create=False)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        return None, _trusted_link_target(fd, name)


def _trusted_link_target(fd: int, name: str) -> str:
    """The target of link `name`, read from the very link whose owner was checked (`O_PATH`)."""
    link = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
    try:
        info = os.fstat(link)
        if not stat.S_ISLNK(info.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", name)
        if info.st_uid not in (0, os.getuid()):
            raise UnsafePath(errno.EPERM, f"is reached through {name!r}, a symbolic link owned by another user "
                                          f"(uid {info.st_uid})", name)
        return os.readlink("", dir_fd=link)
    finally:
        os.close(link)


def _open_child_directory(parent: int, name: str) -> int:
    """Directory `name` in `parent`, itself never a symbolic link."""
    try:
        return os.open(name, _DIRECTORY, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and stat.S_ISLNK(
                os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode):
            raise UnsafePath(errno.ELOOP, "is a symbolic link", name) from None
        raise


def _check_directory(fd: int, path: str, private: bool) -> None:
    if not private:
        return
    info = os.fstat(fd)
    writable_by_others = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if info.st_uid not in (0, os.getuid()) or (writable_by_others and not info.st_mode & stat.S_ISVTX):
        raise UnsafePath(errno.EPERM, "is inside a directory others can change", path)


def _require_linux() -> None:
    if not sys.platform.startswith("linux") or not hasattr(os, "O_PATH"):
        raise OSError(errno.ENOSYS, f"tfm's safe file access needs Linux (O_PATH, dir_fd); this is {sys.platform}")
