"""Analysis for an editor, which must answer while the text has errors: `tfm check`'s diagnostics, and
an analysis of as much of the program as parses and checks.

A syntax error sets its line aside (dsl/recovery.py: each bad line is replaced by a neutral one of the
same role until the text parses), so every other module, method and statement is still parsed; the
checker and inference then run to the end over that program, collecting their errors instead of
stopping at the first, so the names and expressions they could type have their types. What a broken
statement would have bound is simply unknown: a hover there answers nothing, elsewhere as usual.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import available_modules, analyze, nodes as n
from .analysis import Analysis
from .checker import check
from .diagnostics import Diagnostic, TfmError
from .imports import resolve_imports
from .inference import infer
from .limits import Limits
from .parser import parse_once, normalize_text
from .recovery import recover_program

# Placeholder names dsl/recovery.py writes in place of a bad line; an outline or completion leaves them out.
PLACEHOLDERS = frozenset({"Recovered_", "recovered_"})


@dataclass(frozen=True)
class Tolerant:
    """What an editor shows: `diagnostics` are exactly `tfm check`'s (warnings too when there is no
    error); `analysis` is the full analysis when `clean`, else the partial one (None if no part of
    the text could be parsed); `neutralised` are the (1-based) lines set aside to parse it."""

    diagnostics: tuple[Diagnostic, ...]
    analysis: Analysis | None
    clean: bool
    neutralised: frozenset[int] = frozenset()


def analyze_tolerant(text: str, file: str, limits: Limits | None = None,
                     search_path: tuple[Path, ...] = ()) -> Tolerant:
    """Check `text` as `tfm check` does; when it has errors, analyse what can be recovered of it."""
    text = normalize_text(text)
    try:
        analysis = analyze(text, file, limits, search_path)
    except TfmError as exc:
        found = tuple(exc.diagnostics)
    else:
        return Tolerant(analysis.warnings, analysis, True)
    partial, neutralised = _partial(text, file, limits or Limits(), search_path)
    return Tolerant(found, partial, False, neutralised)


def _partial(text: str, file: str, limits: Limits, search_path: tuple[Path, ...]) \
        -> tuple[Analysis | None, frozenset[int]]:
    if not text.endswith("\n"):
        text += "\n"
    problem, program = parse_once(text, file)
    neutralised: frozenset[int] = frozenset()
    if problem is not None:
        recovered = recover_program(text, lambda patched: parse_once(patched, file)[0])
        if recovered is None:
            return None, neutralised
        text, neutralised = recovered
        program = parse_once(text, file)[1]
    if program is None:
        return None, neutralised
    return _checked(program, file, limits, search_path), neutralised


def _checked(program: n.Program, file: str, limits: Limits, search_path: tuple[Path, ...]) -> Analysis | None:
    """The analysis of `program` with every error it has: the checker and inference go on past them
    (a plain list, no limit); a failure inside them keeps what was found before it."""
    available = available_modules(program, resolve_imports(program, file, search_path, limits).modules)
    try:
        analysis = check(program, available, limits, [])
    except Exception:  # a bug in tfm on broken input: nothing to answer from
        return None
    try:
        infer(analysis)
    except Exception:  # the types inferred before it stay
        pass
    return analysis.freeze()
