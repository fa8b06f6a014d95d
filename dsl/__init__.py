"""The tfm language: parse `.tfm` text into a typed syntax tree, check it, report diagnostics.

    >>> from tfm.dsl import analyze
    >>> analysis = analyze("module M:\\n    var x: f32[] = 0.0\\n", "m.tfm")

Nothing in this package imports TensorFlow or the compiler.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import threading
from pathlib import Path

from . import nodes
from .analysis import Analysis
from .checker import check
from .inference import infer
from .diagnostics import Diagnostic, InternalError, TfmError, TooManyErrors, render_json, render_text
from .limits import DiagnosticList, Limits, check_budget, scan_source, too_many_errors
from .imports import resolve_imports, search_path_from_env
from .library import LIBRARY_SOURCES, library_index
from .warnings import find_warnings
from .parser import decode_source, parse

__all__ = ["Analysis", "Diagnostic", "InternalError", "Limits", "TfmError", "analyze", "decode_source", "nodes", "parse",
           "render_json", "render_text"]


@functools.cache
def _library_file(path) -> tuple[nodes.ModuleDef, ...]:
    return parse(path.read_text(encoding="utf-8"), f"<tfm library>/{path.name}").modules


def library_modules(wanted=None) -> tuple[nodes.ModuleDef, ...]:
    """The library's modules: all of them, or those defining the names in `wanted` and the modules
    they hold in turn (only their files are parsed)."""
    if wanted is None:
        return tuple(m for path in LIBRARY_SOURCES for m in _library_file(path))
    index, names, files = library_index(), set(wanted), []
    while pending := {index[name] for name in names if name in index} - set(files):
        files.extend(sorted(pending))
        names |= {sub.module for path in pending for m in _library_file(path) for sub in m.submodules}
    return tuple(m for path in LIBRARY_SOURCES if path in files for m in _library_file(path))


def _named_modules(program: nodes.Program) -> set[str]:
    return {sub.module for module in program.modules for sub in module.submodules}


class _CollectorPause:
    """No cyclic garbage collection while any thread parses and checks a source.

    A large source makes hundreds of thousands of small objects, and the collector then walked them
    again and again: more than half of `tfm check`'s time on a 10,000-line file. The syntax tree
    and the checker's tables hold no reference cycles, so reference counting frees them anyway.
    The collector is a process-wide switch: pauses are counted, so that of two analyses running at
    once (the language server's), the first to finish does not switch it back on under the other,
    and it is switched back on only if it was on when the first pause began."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._was_enabled = False

    @contextlib.contextmanager
    def __call__(self):
        with self._lock:
            if self._depth == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._was_enabled:
                    gc.enable()


collector_paused = _CollectorPause()


def analyze(text: str, file: str = "<string>", limits: Limits | None = None,
            search_path: tuple[Path, ...] | None = None) -> Analysis:
    """Parse and check one source; raise TfmError carrying every diagnostic if it has errors.
    `limits` bounds what the source may build and how many errors are reported (dsl.limits);
    `search_path` is where `import`s are looked for after the file's own directory (default: TFM_PATH)."""
    with collector_paused():
        return _analyze(text, file, limits, search_path_from_env() if search_path is None else tuple(search_path))


def _analyze(text: str, file: str, limits: Limits | None, search_path: tuple[Path, ...] = ()) -> Analysis:
    limits = limits or Limits()
    oversized = scan_source(text, file, limits)
    if oversized:
        raise TfmError(oversized, {file: text})
    try:
        program = parse(text, file)
    except TfmError as exc:
        raise TfmError(sorted([*exc.diagnostics, *_after_recovery(exc.recovered, limits)], key=diagnostic_order),
                       {file: text}) from None
    imported = resolve_imports(program, file, search_path, limits)
    sources = {file: text, **imported.sources}
    if imported.diagnostics:
        raise TfmError(sorted(imported.diagnostics, key=diagnostic_order), sources)
    diagnostics = DiagnosticList(limits.errors)
    try:
        analysis = check(program, available_modules(program, imported.modules), limits, diagnostics)
        infer(analysis)
        check_budget(analysis, limits)
    except TooManyErrors:
        found = sorted(diagnostics, key=diagnostic_order)
        raise TfmError([*found, too_many_errors(found[-1].span, limits.errors)], sources) from None
    if analysis.diagnostics:
        raise TfmError(sorted(analysis.diagnostics, key=diagnostic_order), sources)
    analysis.warnings = tuple(sorted(find_warnings(analysis), key=diagnostic_order))
    return analysis.freeze()


def available_modules(program: nodes.Program, imported: list[nodes.ModuleDef]) -> tuple[nodes.ModuleDef, ...]:
    """The modules a program may hold besides its own: the library's (those it names), then the
    imported ones, which win over a library module of the same name."""
    wanted = _named_modules(program) | {sub.module for m in imported for sub in m.submodules}
    names = {m.name for m in imported}
    return (*(m for m in library_modules(wanted) if m.name not in names), *imported)


def _after_recovery(recovered, limits: Limits) -> list[Diagnostic]:
    """Semantic diagnostics of the program parsed with its bad lines set aside, from the modules no
    set-aside line touched (elsewhere a missing line would make errors of its own); a module header
    set aside drops unknown-module errors too. Syntax and semantic errors then come out of one run."""
    if recovered is None or recovered[0] is None:
        return []
    program, neutralised = recovered
    found = DiagnosticList(limits.errors)
    try:
        analysis = check(program, library_modules(_named_modules(program)), limits, found)
        infer(analysis)
    except (TooManyErrors, TfmError):
        pass
    touched = [m for m in program.modules if any(m.span.line <= line <= m.span.end_line for line in neutralised)]
    headers_lost = any(not any(m.span.line <= line <= m.span.end_line for m in program.modules)
                       for line in neutralised) or any(m.name == "Recovered_" for m in program.modules)
    return [d for d in found
            if not any(m.span.line <= d.span.line <= m.span.end_line for m in touched)
            and not (headers_lost and d.code == "E013")]


def diagnostic_order(d: Diagnostic) -> tuple:
    return (d.span.file, d.span.line, d.span.column, d.code)
