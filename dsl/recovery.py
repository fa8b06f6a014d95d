"""Going on after a syntax error, to report the later ones in the same run.

Panic mode by lines: the line with the error is replaced by a neutral line of the same
indentation (`pass`, a placeholder member or block header) and the source is parsed again. Only
errors on later lines are kept, so every round makes progress, and an unclosed bracket or the end
of the file stops the search (everything after it would be noise).

An editor wants the opposite trade (`recover_program`): not the errors, but a program to answer from,
so it goes on past what stops the search above, until the text parses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .diagnostics import Diagnostic

MAX_SYNTAX_ERRORS = 10
_STOP_CODES = {"E002", "E005"}
_HEADERS = ("module", "fn", "if", "elif", "else", "for", "static", "while", "with", "@")


@dataclass(frozen=True)
class Recovery:
    """What going on after syntax errors found: the later errors, and, when the source with every bad
    line neutralised parses, that text and the (1-based) numbers of the lines that were neutralised."""

    errors: list[Diagnostic]
    text: str | None = None
    neutralised: frozenset[int] = frozenset()


def more_syntax_errors(text: str, first: Diagnostic,
                       parse_once: Callable[[str], Diagnostic | None]) -> Recovery:
    """Errors after `first`, found by neutralising each bad line and parsing again."""
    found: list[Diagnostic] = []
    lines = text.split("\n")
    problem: Diagnostic | None = first
    neutralised: set[int] = set()
    while problem is not None and problem.code not in _STOP_CODES and len(found) + 1 < MAX_SYNTAX_ERRORS:
        index = problem.span.line - 1
        if not 0 <= index < len(lines):
            break
        lines[index] = _neutral_line(lines, index)
        neutralised.add(index + 1)
        problem = parse_once("\n".join(lines))
        if problem is None or problem.span.line <= index + 1:
            break
        found.append(problem)
    recovered = "\n".join(lines) if problem is None else None
    return Recovery(found, recovered, frozenset(neutralised))


def _neutral_line(lines: list[str], index: int) -> str:
    """A line that parses where `lines[index]` stood: same indentation, same role (opener or not)."""
    line = lines[index]
    indent = line[: len(line) - len(line.lstrip())]
    opens_block = _next_indent(lines, index) > len(indent)
    context = _context(lines, index, len(indent))
    if context == "top":
        return indent + "module Recovered_:" if opens_block else ""
    if context == "members":
        return indent + ("fn recovered_():" if opens_block else "var recovered_: f32[] = 0.0")
    return indent + ("if True:" if opens_block else "pass")


def _next_indent(lines: list[str], index: int) -> int:
    for line in lines[index + 1:]:
        if line.strip() and not line.lstrip().startswith("#"):
            return len(line) - len(line.lstrip())
    return 0


def _context(lines: list[str], index: int, indent: int) -> str:
    """`top`, `members` (inside a module) or `statements` (inside a method), by the enclosing line."""
    if indent == 0:
        return "top"
    for line in reversed(lines[:index]):
        stripped = line.lstrip()
        if stripped and not stripped.startswith("#") and len(line) - len(stripped) < indent:
            return "members" if stripped.startswith("module") else "statements"
    return "top"


MAX_EDITOR_ROUNDS = 40


def recover_program(text: str, parse_once: Callable[[str], Diagnostic | None]) -> tuple[str, frozenset[int]] | None:
    """For an editor: the text with every bad line neutralised until it parses, and those (1-based)
    lines; None if that takes more than MAX_EDITOR_ROUNDS parses. Unlike `more_syntax_errors` it goes
    on past an unclosed bracket (the bracket's line is set aside, so the lines after it count again)
    and past an error on a line already neutralised (it is emptied, then the line before it goes too:
    a bad dedent, or a block header whose body was lost)."""
    lines = text.split("\n")
    tries: dict[int, int] = {}
    problem = parse_once(text)
    for _ in range(MAX_EDITOR_ROUNDS):
        if problem is None:
            return "\n".join(lines), frozenset(i + 1 for i in tries)
        index = min(max(problem.span.line - 1, 0), len(lines) - 1)
        while tries.get(index, 0) >= 2 and index > 0:
            index -= 1
        if tries.get(index, 0) >= 2:
            return None
        tries[index] = tries.get(index, 0) + 1
        lines[index] = _neutral_line(lines, index) if tries[index] == 1 else ""
        problem = parse_once("\n".join(lines))
    return None
