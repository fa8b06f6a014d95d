"""Diagnostics are data until the last moment: stages collect them, `render_text`/`render_json` print.

Codes are stable (tests and users grep for them); the catalogue is `CODES` below.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Callable, Iterable, Literal, Protocol


from .nodes import Node, Program, Span

Severity = Literal["error", "warning"]

CODES: dict[str, str] = {
    "E001": "syntax error",
    "E002": "unexpected end of input",
    "E003": "bad indentation",
    "E004": "invalid character or token",
    "E005": "source is not valid UTF-8 text",
    "E006": "source file cannot be read",
    "E010": "unknown name",
    "E011": "duplicate declaration",
    "E012": "unknown operation",
    "E013": "unknown module",
    "E014": "reserved name",
    "E015": "assignment to a read-only name",
    "E016": "submodule used as a value",
    "E017": "unknown type",
    "E018": "bad shape dimension",
    "E020": "wrong number of arguments",
    "E021": "unknown keyword argument",
    "E022": "argument must be static",
    "E023": "bad argument",
    "E030": "unsupported method on this value",
    "E031": "statement not allowed here",
    "E032": "return does not match the declared outputs",
    "E033": "static loop over a value not known at construction",
    "E034": "bad variable initializer",
    "E035": "bad method attribute",
    "E036": "variables cannot be created inside a method",
    "E037": "Python-only function",
    "E038": "module cycle",
    "E039": "missing return",
    "E040": "mixed dtypes",
    "E041": "shapes do not broadcast",
    "E042": "matrix product dimensions do not match",
    "E043": "boolean tensor required",
    "E044": "bad index",
    "E045": "condition is not a scalar bool",
    "E046": "type changes between the branches of an if on a tensor",
    "E047": "name defined only inside a branch or loop",
    "E048": "type changes between loop iterations",
    "E049": "assigned value does not match the variable",
    "E050": "argument does not match the method's signature",
    "E051": "floating-point tensor required",
    "E052": "tensors do not line up for concat or stack",
    "E053": "reshape to a different number of elements",
    "E054": "dtype argument required",
    "E055": "no TensorFlow kernel for this dtype",
    "E056": "over a limit on what a source may build (or on the number of errors)",
    "E057": "tensor of the wrong rank for this op",
    "E058": "import cycle",
    "E059": "imported file not found or not allowed",
    "E060": "signatures of one method do not line up",
    "E099": "internal compiler error",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnostic:
    """One problem in one place: `code` from CODES, a message, and a hint that says how to fix it.
    (A plain data class: `tfm check` need not import pydantic, a fifth of its start-up.)"""

    code: str
    severity: Severity = "error"
    span: Span
    message: str
    hint: str | None = None


class TfmError(Exception):
    """Raised by the pipeline when the input has errors; carries every diagnostic found."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str] | None = None):
        self.diagnostics = diagnostics
        self.sources = sources or {}
        # a parse error: (the program with bad lines set aside, their line numbers)
        self.recovered: tuple[Program | None, frozenset[int]] | None = None
        super().__init__(diagnostics)

    def __str__(self) -> str:  # rendered when shown, not when raised: a caller may only count them
        return render_text(self.diagnostics, self.sources)


class InternalError(TfmError):
    """A failure inside tfm itself (a bug), reported as diagnostic E099 with the input location known."""


class CompilerBug(Exception):
    """An unexpected failure inside a stage, tagged with the statement being processed when it happened."""

    def __init__(self, span: Span, cause: BaseException):
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.span = span


class TooManyErrors(Exception):
    """The error limit is reached: the checker stops where it is (see dsl.limits.DiagnosticList)."""


class locate_bugs:
    """Tag any unexpected exception raised while handling `node` with its span (first tag wins).
    A class, not a generator context manager: it wraps every statement of every stage."""

    __slots__ = ("node",)

    def __init__(self, node):
        self.node = node

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, traceback) -> bool:
        if exc is None or not isinstance(exc, Exception) or isinstance(exc, (TfmError, CompilerBug, TooManyErrors)):
            return False
        raise CompilerBug(self.node.span, exc) from exc


def error(code: str, span: Span, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code=code, span=span, message=message, hint=hint)


class Report(Protocol):
    """The reporter's call: a `Reporter`, or a trial's `Problems`."""

    def __call__(self, code: str, where: Node | Span, message: str, hint: str | None = None) -> None: ...


class Reporter:
    """The one way a stage reports a problem: `report(code, where, message, hint)`, `where` a node
    (its span is taken) or a span. One is made where diagnostics are kept (the analysis, an import's
    result) and handed down to every check; nothing replaces it while a stage runs. A check that only
    tries something (does a call fit this signature?) reports into its own `Problems` and returns them.
    """

    __slots__ = ("receive",)

    def __init__(self, receive: Callable[[Diagnostic], object]):
        self.receive = receive

    def __call__(self, code: str, where: Node | Span, message: str, hint: str | None = None) -> None:
        self.receive(error(code, _span_of(where), message, hint))


class Problems:
    """A reporter that keeps what it is told, for a trial whose caller decides what counts: returned
    by the trial, then dropped or passed on with `report_to(report)`. Truthy when it holds any."""

    __slots__ = ("found",)

    def __init__(self) -> None:
        self.found: list[tuple] = []  # (code, where, message, hint): no Diagnostic built for a dropped trial

    def __call__(self, code: str, where: Node | Span, message: str, hint: str | None = None) -> None:
        self.found.append((code, where, message, hint))

    def __bool__(self) -> bool:
        return bool(self.found)

    def report_to(self, report: Report) -> None:
        for problem in self.found:
            report(*problem)


def fail(code: str, where: Node | Span, message: str, hint: str | None = None,
         sources: dict[str, str] | None = None) -> TfmError:
    """The reporter's shape (code, where: a node or span, message, hint) for a stage that must stop
    there (the parser cannot build a node past a syntax error): `raise fail(...)`. `sources`: the
    texts to show the source line from, when the caller's caller does not have them."""
    return TfmError([error(code, _span_of(where), message, hint)], sources)


def _span_of(where: Node | Span) -> Span:
    return where if isinstance(where, Span) else where.span


def render_text(diagnostics: Iterable[Diagnostic], sources: dict[str, str]) -> str:
    """`file:line:col: error[E012]: message`, the source line, a caret under the span, the hint.

    Each source is split into lines once, however many diagnostics point into it.
    """
    split: dict[str, list[str] | None] = {}

    def lines_of(file: str) -> list[str] | None:
        if file not in split:
            source = sources.get(file)
            split[file] = source.split("\n") if source is not None else None
        return split[file]

    return "\n".join(_render_one(d, lines_of(d.span.file)) for d in diagnostics)


def _render_one(d: Diagnostic, source_lines: list[str] | None) -> str:
    lines = [f"{printable(str(d.span))}: {d.severity}[{d.code}]: {printable(d.message)}"]
    source_line = _source_line(source_lines, d.span.line)
    if source_line is not None:
        start = max(d.span.column - 1, 0)
        end = d.span.end_column - 1 if d.span.end_line == d.span.line else len(source_line)
        width = max(min(end, len(source_line) + 1) - start, 1)
        gutter = f"{d.span.line:>4} | "
        lines.append(gutter + source_line)
        lines.append(" " * len(gutter) + _caret_prefix(source_line, start) + "^" * width)
    if d.hint:
        lines.append(f"  hint: {printable(d.hint)}")
    return "\n".join(lines)


def first_line(exc: BaseException) -> str:
    """An exception's first line, printable (its type's name if it says nothing): what tfm shows of an
    error raised by TensorFlow, the converter or the file system, whose full text can run for pages."""
    text = str(exc).strip()
    return printable(text.splitlines()[0] if text else type(exc).__name__)


def printable(text: str) -> str:
    """`text` safe to print on a terminal: control, bidi and undecodable characters as escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _source_line(source_lines: list[str] | None, line: int) -> str | None:
    if source_lines is None or not 1 <= line <= len(source_lines):
        return None
    shown = source_lines[line - 1].rstrip("\r").expandtabs(1)[:300]
    # One character for one: the caret line below stays aligned.
    return shown if shown.isprintable() else "".join(c if c.isprintable() else "\ufffd" for c in shown)


def _caret_prefix(source_line: str, start: int) -> str:
    return " " * min(start, len(source_line))


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    data = [dataclasses.asdict(d) for d in diagnostics]
    text = json.dumps(data, indent=2, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a file name that is not valid UTF-8: escape it rather than fail
        text = json.dumps(data, indent=2, ensure_ascii=True)
    return text
