"""Hover while the file has errors (issue 25, item 1): on every golden diagnostic case
(tests/diagnostics/*.tfm), a name declared or used on a line without a diagnostic answers with its
declared type, from the whole file's tolerant analysis (dsl/tolerant.py) and from the incremental
one the language server keeps (dsl/incremental.py). tests/tools/test_lsp_features.py does the same
through a real client, with definition, completion and the outline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tfm.dsl import queries
from tfm.dsl.incremental import Incremental
from tfm.dsl.tolerant import analyze_tolerant

CASES = sorted((Path(__file__).parents[1] / "diagnostics").glob("*.tfm"))
_TYPE = r"[a-z]+[0-9]*(?:\[[^\]]*\])?"
_DECLARED = re.compile(rf"^\s*(?:var|state)\s+(\w+)\s*:\s*({_TYPE})")
_SUB = re.compile(r"^\s*sub\s+(\w+)\s*=\s*(\w+)\(")
_MODULE = re.compile(r"^module\s+(\w+)")
_HEADER = re.compile(r"^\s*(?:fn|module)\s+\w+\s*\(([^)]*)")
_PARAMETER = re.compile(rf"(\w+)\s*:\s*({_TYPE})")


# Errors the parser finds: the line is set aside whole (dsl/recovery.py), so nothing on it is declared.
_SYNTAX = {"E001", "E002", "E003", "E004", "E005", "E060"}


def _errors(case: Path) -> set[tuple[int, int, str]]:
    """(line, column, code) of each of the case's golden diagnostics."""
    expected = case.with_suffix(".expected").read_text(encoding="utf-8")
    pattern = rf"^(?:\S*/)?{re.escape(case.name)}:(\d+):(\d+): \w+\[(\w+)\]"
    return {(int(m.group(1)), int(m.group(2)), m.group(3)) for m in re.finditer(pattern, expected, re.MULTILINE)}


def _candidates(text: str, errors: set[tuple[int, int, str]]) -> list[tuple[int, int, str, str]]:
    """(line, column, name, what its hover must show) for the names the case declares well, read from
    the text alone: each module, variable and submodule declared on a line without a diagnostic, and each
    module parameter, method input and output no diagnostic points into, at its declaration (on a
    line without one) and at the first use of an input after it (before anything assigns to it);
    nothing declared on a line with a syntax error."""
    bad = {line for line, _, _ in errors}
    unparsed = {line for line, _, code in errors if code in _SYNTAX}
    lines = text.split("\n")
    found = []
    for number, line in enumerate(lines, 1):
        item = _DECLARED.match(line) or _SUB.match(line)
        if item and number not in bad:
            found.append((number, item.start(1) + 1, item.group(1), item.group(2)))
        module = _MODULE.match(line)
        if module and number not in bad:
            found.append((number, module.start(1) + 1, module.group(1), f"module {module.group(1)}"))
        header = _HEADER.match(line)
        if header is None or number in unparsed:
            continue
        for parameter in _PARAMETER.finditer(line, header.start(1)):
            start, end = parameter.start() + 1, parameter.end() + 1
            if any(at == number and start <= column <= end for at, column, _ in errors):
                continue  # the diagnostic is about this very declaration
            name, type_ = parameter.group(1), parameter.group(2)
            if number not in bad:
                found.append((number, start, name, type_))
            if line.lstrip().startswith("fn ") and parameter.start() < header.end(1):
                found += _first_use(lines, number, name, type_, bad)
    return found


def _first_use(lines: list[str], header: int, name: str, type_: str, bad: set[int]) -> list[tuple[int, int, str, str]]:
    indent = len(lines[header - 1]) - len(lines[header - 1].lstrip())
    for number, body in enumerate(lines[header:], header + 1):
        if body.strip() and len(body) - len(body.lstrip()) <= indent or re.match(rf"\s*{name}\s*[-+*/]?=[^=]", body):
            return []
        use = re.search(rf"(?<![\w.]){name}(?![\w(])", body)
        if use and not body.lstrip().startswith("#"):
            return [] if number in bad else [(number, use.start() + 1, name, type_)]
    return []


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_hover_answers_beside_every_diagnostic(case: Path):
    text = case.read_bytes().decode("utf-8", "replace")  # as an editor shows invalid UTF-8
    candidates = _candidates(text, _errors(case))
    if not candidates:
        pytest.skip("the case names nothing on a line without a diagnostic")
    # The whole file's tolerant analysis, and the incremental one the server keeps (after an edit).
    incremental = Incremental(str(case))
    incremental.analyse(text.replace("module", "module ", 1))
    for result in (analyze_tolerant(text, str(case)), incremental.analyse(text)):
        assert result.diagnostics, "every golden case has a diagnostic"
        assert result.analysis is not None
        for line, column, name, type_ in candidates:
            answer = queries.hover(result.analysis, str(case), line, column)
            assert answer is not None and _compact(type_) in _compact(answer), (line, column, name, type_, answer)
