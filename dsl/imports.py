"""`import` between `.tfm` files: find each imported file, parse it, follow its own imports, and
report a missing file, a cycle or a clash of module names at the import's line.

An import names a relative path to a `.tfm` file (`import blocks` is `blocks.tfm`, `import a.b` is
`a/b.tfm`, `import "a/b.tfm"`), looked up next to the importing file, then in each search-path
directory (`-I DIR`, `TFM_PATH`). Because `.tfm` sources may be hostile, a target is only ever a
relative path of plain names ending in `.tfm`: no absolute paths, no `..`, and the file found must lie
inside the directory it was looked up in (symbolic links resolved), so an import cannot read
`/etc/passwd` into a diagnostic. Imported modules are checked and generated like library modules:
only those used are compiled, into the importing file's own generated Python.

A file is opened once and what is read is that opened file: its descriptor is checked (a regular
file, inside the directory, by the path the kernel reports for it), never the path again, so swapping
a file or a directory for a link between the lookup and the read cannot leak another file into a
diagnostic; a FIFO cannot hang the read (O_NONBLOCK) and is named as what it is.

An imported file's modules may replace a library module for the files that import it directly;
a module that reaches a file only through another file's import may not replace a library module
(or a built-in optimizer) that file uses: that is an error at the import.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from . import nodes as n
from .diagnostics import Diagnostic, Reporter, TfmError
from .library import OPTIMIZERS, library_index
from .limits import Limits, scan_source
from .names import name_problem

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


@dataclass
class _File:
    """One file of the import graph: its modules, the files it imports directly (by path, with the
    import naming each), and the file that first imported it (None for the importing program)."""

    label: str
    modules: tuple[n.ModuleDef, ...]
    imports: dict[Path, n.Import] = field(default_factory=dict)
    importer: Path | None = None


def resolve_imports(program: n.Program, file: str, search_path: tuple[Path, ...] = (),
                    limits: Limits | None = None) -> Imported:
    """Every module `program` imports, directly or through the files it imports. An imported file is
    scanned before it is parsed as the program is (`limits.literal_elements`, huge integers)."""
    from .parser import decode_source, parse

    result = Imported()
    if not program.imports:
        return result
    report = Reporter(result.diagnostics.append)
    limits = limits or Limits()
    here = _directory_of(file)
    defined = {m.name: file for m in program.modules}
    loaded: set[Path] = set()
    own = Path(file).resolve() if here is not None and Path(file).is_file() else None
    top = own or Path(file)
    files = {top: _File(file, program.modules)}
    origin: dict[str, Path] = {}  # module name -> the imported file defining it

    def visit(imports: tuple[n.Import, ...], directory: Path, chain: list[Path]) -> None:
        for item in imports:
            problem = _bad_target(item.target)
            if problem:
                report("E059", item, problem, 'write `import blocks` or `import "models/blocks.tfm"`')
                continue
            found = _find(item.target, (directory, *search_path))
            if found[0] is None:
                _not_found(report, item, found[1], (directory, *search_path))
                continue
            path, root = found
            files[chain[-1] if chain else top].imports.setdefault(path, item)
            if path in chain:
                loop = " -> ".join(p.name for p in [*chain[chain.index(path):], path])
                report("E058", item, f"import cycle: {loop}", "move the modules both files need into a third file")
                continue
            if path in loaded:
                continue  # imported twice (a diamond): its modules are already in
            if len(loaded) >= MAX_IMPORTED_FILES:
                report("E056", item, f"more than {MAX_IMPORTED_FILES} imported files")
                return
            loaded.add(path)
            label = _label(path)
            try:
                data = _read(path, root)
                text = decode_source(data, label)
                scanned = scan_source(text, label, limits)
                if scanned:
                    raise TfmError(scanned, {label: text})
                imported = parse(text, label)
            except TfmError as exc:
                result.diagnostics.extend(exc.diagnostics)
                result.sources.update(exc.sources)
                continue
            except OSError as exc:
                report("E059", item, f"cannot read `{item.target}`: {exc.strerror or exc}",
                       "import a regular .tfm file inside the directory it is found in")
                continue
            result.sources[label] = data.decode("utf-8", "replace")
            files[path] = _File(label, imported.modules, importer=chain[-1] if chain else top)
            for module in imported.modules:
                if module.name in defined:
                    report("E011", module, f"module `{module.name}` is defined twice: here and in "
                                           f"{defined[module.name]}", "rename one of them")
                    continue
                _check_module_name(report, module)
                defined[module.name] = label
                origin[module.name] = path
                result.modules.append(module)
            visit(imported.imports, path.parent, [*chain, path])

    visit(program.imports, here or Path.cwd(), [own] if own is not None else [])
    _check_replaced_library_modules(report, files, origin)
    return result


def _check_module_name(report: Reporter, module: n.ModuleDef) -> None:
    """An imported module's name, held to the rules of the importing file's own: no reserved name,
    no built-in optimizer (it would replace `Adam` for every file of the program)."""
    problem = name_problem(module.name, "module")
    if problem:
        report("E014", module, *problem)
    elif module.name in OPTIMIZERS:
        report("E014", module, f"`{module.name}` is a built-in optimizer", "choose another module name")


def _check_replaced_library_modules(report: Reporter, files: dict[Path, _File], origin: dict[str, Path]) -> None:
    """E011 where a file uses a library module (itself, or inside a library module it holds, as
    `LSTM` holds `LSTMCell`) that a module of the same name, from a file it does not import itself,
    would silently replace: at the import that leads to that file."""
    library = library_index()
    found: dict[tuple, Diagnostic] = {}  # each (place, message) once
    report_once = Reporter(lambda diagnostic: found.setdefault((diagnostic.span, diagnostic.message), diagnostic))
    for path, importer in files.items():
        own = {m.name for m in importer.modules}
        for sub, name, through in _uses(importer):
            source = origin.get(name)
            if name not in library or name in own or source is None or source in importer.imports:
                continue
            item = _import_leading_to(files, source, path) or _import_of(files, source)
            what = f"the library's `{name}`" if through is None else f"the `{name}` inside the library's `{through}`"
            report_once("E011", item, f"`{item.target}` brings in module `{name}` from {files[source].label}, which "
                                      f"would replace {what} that {importer.label} uses (line {sub.span.line})",
                        f"import {files[source].label} here to use its `{name}`, or rename it there")
    for diagnostic in found.values():
        report.receive(diagnostic)


def _uses(importer: _File):
    """(submodule declaration, module name, the library module holding it or None) for each module
    a file's modules hold, and each one the library modules they hold hold in turn."""
    from . import library_modules  # the package imports this module

    library = library_index()
    for module in importer.modules:
        for sub in module.submodules:
            yield sub, sub.module, None
            if sub.module in library:
                for held in library_modules([sub.module]):
                    yield from ((sub, inner.module, sub.module) for inner in held.submodules)


def _import_leading_to(files: dict[Path, _File], target: Path, start: Path) -> n.Import | None:
    """`start`'s own import through which `target` was first reached, if it was reached through one."""
    step = target
    importer = files[step].importer
    while importer is not None:
        if importer == start:
            return files[start].imports.get(step)
        step = importer
        importer = files[step].importer
    return None


def _import_of(files: dict[Path, _File], path: Path) -> n.Import:
    """The import that first brought in the imported file `path`, in the file that made it."""
    importer = files[path].importer
    assert importer is not None  # only the importing program has none, and no import names it
    return files[importer].imports[path]


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


def _find(target: str, directories: tuple[Path, ...]) -> tuple[Path, Path] | tuple[None, Path | None]:
    """(the first `directory/target` that exists inside its directory, links resolved; that
    directory). If none does: (None, the first `directory/target` that leads out of its directory,
    or None). What the file is (regular, a FIFO, a device) is judged on the opened file, by `_read`."""
    outside = None
    for directory in directories:
        try:
            root = directory.resolve()
            candidate = (root / target).resolve()
            exists = os.path.lexists(root / target)
        except (OSError, RuntimeError):  # RuntimeError: a loop of links
            continue
        if exists and candidate.is_relative_to(root) and os.path.lexists(candidate):
            return candidate, root
        if exists and outside is None and not candidate.is_relative_to(root):
            outside = root / target
    return None, outside


def _not_found(report: Reporter, item: n.Import, outside: Path | None, directories: tuple[Path, ...]) -> None:
    if outside is not None:
        report("E059", item, f"`{item.target}` ({_label(outside)}) is a link that leads out of its directory",
               "copy the file into the project, or add its own directory with -I DIR")
        return
    places = ", ".join(_label(d) for d in directories)
    report("E059", item, f"cannot find `{item.target}` (looked in {places})",
           "check the name, or add its directory with -I DIR or TFM_PATH")


def _label(path: Path) -> str:
    """How diagnostics and the generated line map name an imported file (or a directory): relative
    to the working directory when it is below it, else its absolute path."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve())) or "."
    except (ValueError, OSError):
        return str(path)


_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}


def _read(path: Path, root: Path) -> bytes:
    """The bytes of the regular file at `path` (links resolved, inside `root`), read from the one
    descriptor opened: no final link (O_NOFOLLOW: one swapped in after the lookup is refused), no
    waiting on a FIFO (O_NONBLOCK), and the file the kernel opened must be `path` itself, inside
    `root` (a directory swapped for a link on the way is refused)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    descriptor = os.open(path, flags)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise OSError(0, f"it is {kind}, not a regular file")
        opened = _opened_path(descriptor)
        if opened is not None and (opened != path or not opened.is_relative_to(root)):
            raise OSError(0, "the file changed while it was opened (a link was swapped in)")
        if opened is None and (lambda s: (s.st_dev, s.st_ino))(os.stat(path)) != (info.st_dev, info.st_ino):
            raise OSError(0, "the file changed while it was opened")
        chunks, size = [], 0
        while size <= MAX_IMPORTED_BYTES and (chunk := os.read(descriptor, MAX_IMPORTED_BYTES + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(descriptor)
    if size > MAX_IMPORTED_BYTES:
        raise OSError(0, f"larger than {MAX_IMPORTED_BYTES // 2**20} MiB")
    return b"".join(chunks)


def _opened_path(descriptor: int) -> Path | None:
    """The path the kernel holds for an open descriptor (Linux's /proc), or None where unknown."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{descriptor}"))
    except OSError:
        return None
