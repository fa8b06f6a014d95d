"""tfm's version, written once: pyproject.toml's `[project] version`, read from the installed
distribution's metadata, or from pyproject.toml itself when a checkout is imported uninstalled."""

from __future__ import annotations

import functools
from pathlib import Path


@functools.cache
def tfm_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("tfm")
    except importlib.metadata.PackageNotFoundError:
        import tomllib

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
