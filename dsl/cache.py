"""tfm's private cache directory (compiled grammar, generated modules).

Lark's own `cache=True` would unpickle a file at a predictable path in the shared temp directory
(lark PR #1628); this directory belongs to the user alone and is not used if anyone else could write it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def cache_dir() -> Path:
    """`$TFM_CACHE_DIR`, else `$XDG_CACHE_HOME/tfm`, else `~/.cache/tfm`; created private (0700)."""
    root = os.environ.get("TFM_CACHE_DIR")
    if root:
        path = Path(root)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        path = Path(base) / "tfm"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def is_private(path: Path) -> bool:
    """Owned by this user and writable by no one else: safe to load pickles from."""
    try:
        info = path.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
