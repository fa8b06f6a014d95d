"""tfm's private cache directory (the analysed grammar, the parse tables, generated modules shown in
tracebacks).

What is read back from here is trusted (Lark's grammar cache is a pickle; the tables decide how
sources parse), so the directory is used only
if no one else could have written into it: owned by this user, mode 0700, not a symlink, and reached
through directories no one else can replace (each ancestor writable only by its owner or root, or
sticky, as `/tmp` is). Lark's own `cache=True` would unpickle a file at a predictable path in the
shared temp directory (lark PR #1628).
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


class UnsafeCache(OSError):
    """The cache directory could be written by someone else; tfm does not read from it."""


def cache_root() -> tuple[Path, bool]:
    """The cache path, and whether it is tfm's default (which tfm may create and tighten)."""
    root = os.environ.get("TFM_CACHE_DIR")
    if root:
        return Path(root), False
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tfm", True


def cache_dir() -> Path:
    """The private cache directory, created 0700 if missing; UnsafeCache if it is not private."""
    path, is_default = cache_root()
    if not os.path.lexists(path):
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    elif is_default and not path.is_symlink() and path.is_dir() and path.stat().st_uid == os.getuid():
        os.chmod(path, stat.S_IMODE(path.stat().st_mode) & 0o700)  # tfm's own directory: keep it private
    problem = _problem(path)
    if problem:
        raise UnsafeCache(f"tfm cache {path} {problem}; tfm will not read from it (set TFM_CACHE_DIR to a "
                          f"private directory)")
    return path


def private_cache_dir() -> Path | None:
    """The cache directory if it is private, else None (tfm then keeps what it would cache in memory)."""
    try:
        return cache_dir()
    except OSError:
        return None


def write_private(path: str | Path, data: bytes) -> None:
    """A cache file written whole or not at all (mode 0600, renamed into place); a cache that cannot
    be written is simply not written. (tfm.files writes users' files; dsl/ cannot import it.)"""
    temporary = f"{path}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass


def is_private(path: Path) -> bool:
    """A file or directory that only this user could have written, reached safely."""
    return _problem(Path(path)) is None


def _problem(path: Path) -> str | None:
    try:
        info = os.lstat(path)
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if info.st_uid != os.getuid():
        return "belongs to another user"
    if stat.S_ISDIR(info.st_mode) and info.st_mode & 0o077:
        return f"has mode {stat.S_IMODE(info.st_mode):o}, not 700"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "is writable by others"
    return _ancestor_problem(path)


def _ancestor_problem(path: Path) -> str | None:
    """Someone who can write a parent directory can swap the cache for their own, unless it is sticky."""
    for parent in Path(os.path.abspath(path)).parents:
        try:
            info = os.stat(parent)
        except OSError:
            return f"is inside {parent}, which cannot be read"
        writable_by_others = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        if info.st_uid not in (0, os.getuid()) or (writable_by_others and not info.st_mode & stat.S_ISVTX):
            return f"is inside {parent}, which others can change"
    return None
