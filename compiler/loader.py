"""Load generated code as a real Python module, and the import hook that finds `.tfm` files.

Generated code is written to a real `.py` file in a private cache directory before it is imported:
AutoGraph reads a function's source to convert `if`/`for`/`while` on tensors, and code exec'd from a
string has none (AutoGraph then runs it unconverted and tensor control flow fails).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from dsl.cache import cache_dir

from .pipeline import compile_file


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so that no reader ever sees a half-written file."""
    write_atomic_bytes(path, text.encode("utf-8"))


def write_atomic_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def compile_to_cache(source: str | Path) -> Path:
    """Compile `source` and write the generated module into the cache; return its path."""
    compiled = compile_file(source)
    digest = compiled.python.split("sha256 ", 1)[1][:12]
    target = cache_dir() / f"{Path(source).stem}_{digest}.py"
    if not target.exists() or target.read_text(encoding="utf-8") != compiled.python:
        write_atomic(target, compiled.python)
    return target


def load(source: str | Path, module_name: str | None = None) -> ModuleType:
    """Compile a `.tfm` file and import the result: `load("model.tfm").MyModel()`."""
    generated = compile_to_cache(source)
    name = module_name or f"tfm_generated.{generated.stem}"
    return _import_file(name, generated)


def _import_file(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # Registered before executing so inspect (and so AutoGraph) can find the module's source.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


class TfmFinder(importlib.abc.MetaPathFinder):
    """Finds `NAME.tfm` on sys.path (or a package's path) for `import NAME`."""

    def find_spec(self, fullname, path=None, target=None):
        leaf = fullname.rpartition(".")[2]
        for entry in path if path is not None else sys.path:
            candidate = Path(entry or ".") / f"{leaf}.tfm"
            if candidate.is_file():
                generated = compile_to_cache(candidate)
                return importlib.util.spec_from_file_location(fullname, generated)
        return None


_FINDER = TfmFinder()


def install_import_hook() -> None:
    """After this, `import model` finds `model.tfm` on sys.path and compiles it. Idempotent."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.append(_FINDER)


def uninstall_import_hook() -> None:
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
