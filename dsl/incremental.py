"""Analysis as an editor needs it after each keystroke: of the whole file, but redoing only what the
edit touched. A file is a series of top-level chunks (each `import` and `module` with the lines after
it); a chunk whose text and first line are unchanged keeps its parsed nodes, and a module whose nodes
and whose submodules' modules (in this file or imported) are unchanged keeps its checked and inferred
analysis. The analyses of the modules are then merged into one `Analysis`, as `tfm check` would have
made it.

The result is `tfm check`'s, module by module; where a rule of the check spans modules, the file is
analysed whole instead (dsl/tolerant.py): a syntax error (recovery reads across modules), a module
defined twice, a cycle of submodules, an import problem, a size over a limit, or too many errors.
`tests/tools/test_lsp_incremental.py` holds the two to the same diagnostics and types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from . import available_modules, diagnostic_order, collector_paused, nodes as n
from .analysis import Analysis
from .checker import check
from .diagnostics import Diagnostic, TfmError, TooManyErrors
from .imports import resolve_imports
from .inference import infer
from .limits import DiagnosticList, Limits, check_budget, scan_source
from .parser import parse_once, normalize_text, parse
from .recovery import recover_program
from .tolerant import Tolerant, analyze_tolerant
from .warnings import find_warnings

# Syntax errors that may read past their chunk: an unclosed bracket or block, a dedent (found where
# the next line is read), a file that is not UTF-8. A chunk with one is not parsed alone.
_SPILLING = {"E002", "E003", "E005"}
_CHUNK_START = re.compile(r"^(?:module|import)\b", re.MULTILINE)
# The tables of an Analysis keyed by node or by module name, merged module by module.
_TABLES = ("modules", "refs", "calls", "types", "sub_arguments", "loop_invariants", "loop_predefined",
           "chosen_signatures", "param_defaults", "local_definitions")


@dataclass(frozen=True)
class _Chunk:
    """One chunk's parse. With syntax errors: `errors` are `tfm check`'s for them (the chunk's own
    recovery); `program` is what could be recovered of it, for the editor's answers; `neutralised`
    the lines set aside in the recovery `tfm check` makes, and `recovered` whether it ends in a
    program (else `tfm check` reports no semantic error at all); `local` whether the errors are the
    chunk's alone (none runs into the next chunk, as an unclosed bracket or a missing block does)."""

    program: n.Program | None
    refused: tuple[Diagnostic, ...] = ()  # what the limits pre-scan refused
    errors: tuple[Diagnostic, ...] = ()
    neutralised: frozenset[int] = frozenset()
    recovered: bool = True
    local: bool = True


@dataclass(frozen=True)
class _Checked:
    """One module's analysis (with the modules it holds), and its own errors and warnings."""

    depends: tuple[n.ModuleDef, ...]
    analysis: Analysis
    errors: tuple[Diagnostic, ...]
    warnings: tuple[Diagnostic, ...]


class Incremental:
    """The analyses of one document's successive texts, each reusing what the last one could.
    Not thread-safe: one document's texts are analysed one after another."""

    def __init__(self, file: str, search_path: tuple[Path, ...] = (), limits: Limits | None = None):
        self.file, self.search_path, self.limits = file, search_path, limits or Limits()
        self._chunks: dict[tuple[int, str], _Chunk] = {}
        self._checked: dict[n.ModuleDef, _Checked] = {}
        self.reused = 0  # modules whose analysis the last text reused (for tests and the benchmark)
        self.whole = False  # whether the last text was analysed whole

    def analyse(self, text: str) -> Tolerant:
        text = normalize_text(text)
        with collector_paused():
            try:
                found = self._incremental(text if text.endswith("\n") else text + "\n")
            except Exception:  # an internal error (E099) or a bug here: the whole file says what it is
                found = None
        self.whole = found is None
        if found is None:  # a rule across modules: the whole file, as `tfm check` reads it
            self._checked = {}
            return analyze_tolerant(text, self.file, self.limits, self.search_path)
        return found

    def _incremental(self, text: str) -> Tolerant | None:
        parsed = self._parse(text)
        if parsed is None:
            return None
        program, broken = parsed
        if broken is not None and program.imports:
            return None  # after a syntax error, `tfm check` checks without the imports
        imported = resolve_imports(program, self.file, self.search_path, self.limits)
        if imported.diagnostics:
            return None
        own = {m.name: m for m in (*imported.modules, *program.modules)}
        names = [m.name for m in program.modules]
        if len(set(names)) < len(names) or len(own) < len(names) + len({m.name for m in imported.modules}):
            return None  # a module defined twice (E011)
        checked = {}
        for module in program.modules:
            depends = _depends(module, own)
            if depends is None:
                return None  # a cycle of submodules (E038)
            result = self._module(module, depends, imported.modules)
            if result is None:
                return None
            checked[module] = result
        self.reused = sum(1 for m in program.modules if self._checked.get(m) is checked[m])
        self._checked = checked
        if broken is not None:
            return self._with_syntax_errors(program, broken, checked)
        return self._merged(program, list(checked.values()))

    def _parse(self, text: str) -> tuple[n.Program, _Chunk | None] | None:
        """The program of `text`, each chunk parsed alone (its lines placed where they are) unless
        unchanged, and the one chunk with syntax errors; None if the chunks cannot stand for the file
        (errors in several chunks, errors that run past their chunk, or a chunk the limits refuse)."""
        starts = [0] + [m.start() for m in _CHUNK_START.finditer(text) if m.start() > 0]
        chunks: dict[tuple[int, str], _Chunk] = {}
        line = 1
        for begin, end in zip(starts, [*starts[1:], len(text)]):
            key = (line, text[begin:end])
            chunks[key] = self._chunks.get(key) or self._parse_chunk(*key)
            line += key[1].count("\n")
        self._chunks = chunks
        parts = list(chunks.values())
        broken = [chunk for chunk in parts if chunk.errors]
        if any(chunk.refused or chunk.program is None for chunk in parts) or len(broken) > 1 or \
                any(not chunk.local for chunk in broken):
            return None
        programs = [chunk.program for chunk in parts if chunk.program is not None]
        span = n.Span(file=self.file, line=1, column=1, end_line=line, end_column=1)
        program = n.Program(span=span, modules=tuple(m for p in programs for m in p.modules),
                            imports=tuple(i for p in programs for i in p.imports))
        return program, (broken[0] if broken else None)

    def _parse_chunk(self, line: int, chunk: str) -> _Chunk:
        placed = "\n" * (line - 1) + chunk  # the chunk's lines where they are in the file
        refused = scan_source(placed, self.file, self.limits)
        if refused:
            return _Chunk(None, refused=tuple(refused))
        problem, program = parse_once(placed, self.file)
        if problem is None:
            return _Chunk(program)
        try:  # `tfm check`'s errors and recovery, on the chunk alone
            parse(placed, self.file)
        except TfmError as exc:
            errors, recovered = tuple(exc.diagnostics), exc.recovered
        else:
            return _Chunk(None)  # not reached: the same text parsed once already failed
        last = max((i for i, row in enumerate(placed.split("\n"), 1) if row.strip()
                    and not row.lstrip().startswith("#")), default=line)
        local = all(d.code not in _SPILLING and d.span.line <= last for d in errors)
        program, neutralised = recovered if recovered is not None else (None, frozenset())
        if program is None:  # no semantic error then; for the editor's answers, a harder recovery
            found = recover_program(placed, lambda patched: parse_once(patched, self.file)[0])
            program = parse_once(found[0], self.file)[1] if found is not None else None
            return _Chunk(program, errors=errors, recovered=False, local=local)
        return _Chunk(program, errors=errors, neutralised=neutralised, local=local)

    def _with_syntax_errors(self, program: n.Program, broken: _Chunk, checked: dict[n.ModuleDef, _Checked]) \
            -> Tolerant | None:
        """`tfm check`'s diagnostics for a file with syntax errors in one chunk: those errors, and
        the semantic errors of each module no set-aside line touched (none if the recovery did not
        end in a program; no unknown-module error if it set a module's header aside)."""
        touched = {m for m in program.modules if any(m.span.line <= at <= m.span.end_line for at in broken.neutralised)}
        headers_lost = any(not any(m.span.line <= at <= m.span.end_line for m in program.modules)
                           for at in broken.neutralised) or any(m.name == "Recovered_" for m in program.modules)
        semantic = [d for module, item in checked.items() if broken.recovered and module not in touched
                    for d in item.errors if not (headers_lost and d.code == "E013")]
        merged = self._merged(program, list(checked.values()))
        if merged is None or merged.analysis is None:
            return None
        errors = tuple(sorted([*broken.errors, *semantic], key=diagnostic_order))
        return Tolerant(errors, merged.analysis, False, broken.neutralised)

    def _module(self, module: n.ModuleDef, depends: tuple[n.ModuleDef, ...],
                imported: list[n.ModuleDef]) -> _Checked | None:
        known = self._checked.get(module)
        if known is not None and known.depends == depends:
            return known
        alone = n.Program(span=module.span, modules=(module,))
        found = DiagnosticList(self.limits.errors)
        try:
            analysis = check(alone, available_modules(alone, [*depends, *imported]), self.limits, found)
            infer(analysis)
            check_budget(analysis, self.limits)
        except TooManyErrors:
            return None
        # An error inside a module this one holds is that module's own analysis's to report.
        errors = tuple(d for d in analysis.diagnostics if _inside(d, module))
        if any(d.code == "E056" for d in analysis.diagnostics):
            return None  # a limit is costed across the modules a module holds
        warnings = tuple(find_warnings(analysis)) if not errors else ()
        return _Checked(depends, analysis.freeze(), errors, warnings)

    def _merged(self, program: n.Program, checked: list[_Checked]) -> Tolerant | None:
        errors = sorted((d for c in checked for d in c.errors), key=diagnostic_order)
        if len(errors) >= self.limits.errors:
            return None  # `tfm check` stops at the limit, and says so
        merged = Analysis(program=program, modules={}, limits=self.limits)
        tables = {name: getattr(merged, name) for name in _TABLES}
        library: dict[str, n.ModuleDef] = {}
        own = {m.name for m in program.modules}
        for item in checked:
            for name, table in tables.items():
                table.update(getattr(item.analysis, name))
            library.update((m.name, m) for m in item.analysis.library if m.name not in own)
        merged.library = tuple(library.values())
        merged.diagnostics = errors
        analysis = merged.freeze()
        if errors:
            return Tolerant(tuple(errors), analysis, False)
        analysis.warnings = tuple(sorted((w for c in checked for w in c.warnings), key=diagnostic_order))
        return Tolerant(analysis.warnings, analysis, True)


def _inside(diagnostic: Diagnostic, module: n.ModuleDef) -> bool:
    span, at = module.span, diagnostic.span
    return at.file == span.file and (span.line, span.column) <= (at.line, at.column) < (span.end_line, span.end_column)


def _depends(module: n.ModuleDef, own: dict[str, n.ModuleDef]) -> tuple[n.ModuleDef, ...] | None:
    """The modules of this file and its imports that `module` holds, directly or not, in a fixed
    order; None if one of them holds `module` again (a cycle)."""
    found: dict[str, n.ModuleDef] = {}
    pending = [sub.module for sub in module.submodules]
    while pending:
        name = pending.pop()
        if name == module.name:
            return None
        if name in own and name not in found:
            found[name] = own[name]
            pending += [sub.module for sub in own[name].submodules]
    return tuple(found[name] for name in sorted(found))
