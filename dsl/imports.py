"""`import` between `.tfm` files: find each imported file, parse it, follow its own imports, and
report a missing file, a cycle or a clash of module names at the import's line.

An import names a relative path to a `.tfm` file (`import blocks` is `blocks.tfm`, `import a.b` is
`a/b.tfm`, `import "a/b.tfm"`), looked up next to the importing file, then in each search-path
directory (`-I DIR`, `TFM_PATH`). Because `.tfm` sources may be hostile, a target is only ever a
relative path of plain names ending in `.tfm`: no absolute paths, no `..`, and the file found must lie
inside the directory it was looked up in (symbolic links resolved), so an import cannot read
`/etc/passwd` into a diagnostic. Imported modules are checked and generated like library modules:
only those used are compiled, into the importing file's own generated Python.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import nodes as n
from .diagnostics import Diagnostic, TfmError, error

MAX_IMPORTED_FILES = 256
MAX_IMPORTED_BYTES = 16 * 2**20
_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass
class Imported:
    """What a program's imports brought in: their modules, their texts (for diagnostics) and any
    problems found on the way."""

    modules: list[n.ModuleDef] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def search_path_from_env() -> tuple[Path, ...]:
    return tuple(Path(p) for p in os.environ.get("TFM_PATH", "").split(os.pathsep) if p)


def resolve_imports(program: n.Program, file: str, search_path: tuple[Path, ...] = ()) -> Imported:
    """Every module `program` imports, directly or through the files it imports."""
    from .parser import decode_source, parse

    result = Imported()
    if not program.imports:
        return result
    here = _directory_of(file)
    defined = {m.name: file for m in program.modules}
    loaded: set[Path] = set()
    own = Path(file).resolve() if here is not None and Path(file).is_file() else None

    def visit(imports: tuple[n.Import, ...], directory: Path, chain: list[Path]) -> None:
        for item in imports:
            problem = _bad_target(item.target)
            if problem:
                result.diagnostics.append(error("E059", item.span, problem, 'write `import blocks` or `import "models/blocks.tfm"`'))
                continue
            path = _find(item.target, (directory, *search_path))
            if path is None:
                places = ", ".join(_label(d) for d in (directory, *search_path))
                result.diagnostics.append(error("E059", item.span, f"cannot find `{item.target}` (looked in {places})",
                                                "check the name, or add its directory with -I DIR or TFM_PATH"))
                continue
            if path in chain:
                loop = " -> ".join(p.name for p in [*chain[chain.index(path):], path])
                result.diagnostics.append(error("E058", item.span, f"import cycle: {loop}",
                                                "move the modules both files need into a third file"))
                continue
            if path in loaded:
                continue  # imported twice (a diamond): its modules are already in
            if len(loaded) >= MAX_IMPORTED_FILES:
                result.diagnostics.append(error("E056", item.span, f"more than {MAX_IMPORTED_FILES} imported files"))
                return
            loaded.add(path)
            label = _label(path)
            try:
                data = _read(path)
                imported = parse(decode_source(data, label), label)
            except TfmError as exc:
                result.diagnostics.extend(exc.diagnostics)
                result.sources.update(exc.sources)
                continue
            except OSError as exc:
                result.diagnostics.append(error("E059", item.span, f"cannot read `{item.target}`: {exc.strerror or exc}"))
                continue
            result.sources[label] = data.decode("utf-8", "replace")
            for module in imported.modules:
                if module.name in defined:
                    result.diagnostics.append(error("E011", module.span, f"module `{module.name}` is defined twice: here "
                                                    f"and in {defined[module.name]}", "rename one of them"))
                    continue
                defined[module.name] = label
                result.modules.append(module)
            visit(imported.imports, path.parent, [*chain, path])

    visit(program.imports, here or Path.cwd(), [own] if own is not None else [])
    return result


def _directory_of(file: str) -> Path | None:
    if file.startswith("<") or "\0" in file:  # <stdin>, <string>: imports resolve from the working directory
        return None
    return Path(file).resolve().parent


def _bad_target(target: str) -> str | None:
    parts = target.split("/")
    if not target.endswith(".tfm") or not all(_PART.fullmatch(p) for p in parts) or ".." in parts:
        return (f"`import {target!r}`: an import names a relative path to a .tfm file, made of plain names "
                "(letters, digits, `_`, `-`, `.`), with no `..` and no leading `/`")
    return None


def _find(target: str, directories: tuple[Path, ...]) -> Path | None:
    """The first `directory/target` that is a regular file inside `directory` (links resolved)."""
    for directory in directories:
        try:
            root = directory.resolve()
            candidate = (root / target).resolve()
        except OSError:
            continue
        if candidate.is_file() and candidate.is_relative_to(root):
            return candidate
    return None


def _label(path: Path) -> str:
    """How diagnostics and the generated line map name an imported file (or a directory): relative
    to the working directory when it is below it, else its absolute path."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve())) or "."
    except (ValueError, OSError):
        return str(path)


def _read(path: Path) -> bytes:
    with open(path, "rb") as handle:
        data = handle.read(MAX_IMPORTED_BYTES + 1)
    if len(data) > MAX_IMPORTED_BYTES:
        raise OSError(0, f"larger than {MAX_IMPORTED_BYTES // 2**20} MiB")
    return data
