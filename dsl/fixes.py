"""Mechanical fixes for diagnostics whose hint says exactly what to write, as text edits an editor
offers as code actions: a did-you-mean rename, a missing `training` argument, a declared output type
that does not match what is returned (declare what is returned, or cast to what is declared).
Positions are 1-based (line, column), as spans are."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from . import nodes as n
from .analysis import Analysis, outputs_of
from .diagnostics import Diagnostic


@dataclass(frozen=True)
class Edit:
    """Replace the text from (line, column) up to (end_line, end_column) with `text`."""

    line: int
    column: int
    end_line: int
    end_column: int
    text: str


@dataclass(frozen=True)
class Fix:
    title: str
    edits: tuple[Edit, ...]
    preferred: bool = False


_SUGGESTION = re.compile(r"did you mean `([^`]+)`\?")
_MISSING = re.compile(r"is missing arguments? (.*)$")
_DECLARED = re.compile(r"output `([^`]+)` is declared (.+?), got (?:rank \d+ \((.+)\)|(.+))$")
_CAST = re.compile(r"cast it: cast\(\.\.\., (\w+)\)")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def fixes(diagnostic: Diagnostic, text: str, analysis: Analysis | None) -> list[Fix]:
    """The fixes for one diagnostic of `text` (none where the fix is not mechanical)."""
    found: list[Fix] = []
    hint = diagnostic.hint or ""
    suggested = _SUGGESTION.search(hint)
    if suggested:
        found += _rename(diagnostic, text, suggested.group(1))
    missing = _MISSING.search(diagnostic.message) if diagnostic.code == "E020" else None
    if missing and "`training`" in missing.group(1):
        found += _training(diagnostic, text, analysis)
    declared = _DECLARED.search(diagnostic.message) if diagnostic.code == "E032" else None
    if declared and analysis is not None:
        found += _declare_output(diagnostic, analysis, declared.group(1), declared.group(3) or declared.group(4))
    cast = _CAST.search(hint)
    if cast:
        found += _cast(diagnostic, text, cast.group(1))
    return found


def _span_text(text: str, span: n.Span) -> str | None:
    """The text a one-line span covers (None for a span over several lines or outside the text)."""
    lines = text.split("\n")
    if span.line != span.end_line or not 1 <= span.line <= len(lines):
        return None
    return lines[span.line - 1][span.column - 1: span.end_column - 1]


def _rename(diagnostic: Diagnostic, text: str, suggestion: str) -> list[Fix]:
    """Replace the name in the diagnostic's span most like the suggestion (the misspelt one)."""
    covered = _span_text(text, diagnostic.span)
    if not covered:
        return []
    names = [m for m in _IDENTIFIER.finditer(covered) if m.group() != suggestion]
    if not names:
        return []
    best = max(names, key=lambda m: difflib.SequenceMatcher(None, m.group(), suggestion).ratio())
    line, column = diagnostic.span.line, diagnostic.span.column + best.start()
    return [Fix(f"change `{best.group()}` to `{suggestion}`",
                (Edit(line, column, line, column + len(best.group()), suggestion),), preferred=True)]


def _training(diagnostic: Diagnostic, text: str, analysis: Analysis | None) -> list[Fix]:
    """Pass the enclosing method's `training` input (else `training=False`) before the call's `)`."""
    covered = _span_text(text, diagnostic.span)
    if not covered or not covered.endswith(")"):
        return []
    inside = covered[covered.index("(") + 1: -1].strip() if "(" in covered else ""
    value = "training" if _method_has_input(analysis, diagnostic.span, "training") else "False"
    line, column = diagnostic.span.line, diagnostic.span.end_column - 1
    added = f"{', ' if inside else ''}training={value}"
    return [Fix(f"pass `training={value}`", (Edit(line, column, line, column, added),), preferred=True)]


def _method_has_input(analysis: Analysis | None, span: n.Span, name: str) -> bool:
    method = _method_at(analysis, span)
    return method is not None and any(i.name == name for i in method.inputs)


def _method_at(analysis: Analysis | None, span: n.Span) -> n.Method | None:
    if analysis is None:
        return None
    for module in analysis.program.modules:
        for method in module.methods:
            if method.span.file == span.file and method.span.line <= span.line <= method.span.end_line:
                return method
    return None


def _declare_output(diagnostic: Diagnostic, analysis: Analysis, output: str, got: str) -> list[Fix]:
    """Declare the output as the type returned."""
    method = _method_at(analysis, diagnostic.span)
    if method is None or got.startswith("?") or got.endswith("[...]") or "[" not in got:
        return []
    for item in outputs_of(method):
        if item.name == output:
            span = item.type.span
            return [Fix(f"declare `{output}` as {got}", (Edit(span.line, span.column, span.end_line, span.end_column, got),))]
    return []


def _cast(diagnostic: Diagnostic, text: str, dtype: str) -> list[Fix]:
    covered = _span_text(text, diagnostic.span)
    if not covered:
        return []
    span = diagnostic.span
    return [Fix(f"cast to {dtype}", (Edit(span.line, span.end_column, span.line, span.end_column, f", {dtype})"),
                                     Edit(span.line, span.column, span.line, span.column, "cast(")))]
