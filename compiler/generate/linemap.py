"""The line map: which `.tfm` line each generated line came from, written and read only here.

The generator marks a statement with `LineMap.mark(span)`; `LineMap.finish(text)` turns each mark into
a trailing comment for people (`# model.tfm:3:5`) and appends the same facts as data, as Jinja2
keeps `debug_info`:

    _TFM_SOURCES = ('model.tfm', '<tfm library>/layers.tfm')
    _TFM_LINE_MAP = {12: (0, 3, 5), ...}  # generated line -> (source index, line, column)

Errors raised in generated code are mapped back through that table, never by parsing comments, so any
file name (spaces, quotes, `:`, non-ASCII) maps.
"""

from __future__ import annotations

import functools
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import PurePath

from tfm.generate import hygiene

SOURCES_NAME = "_TFM_SOURCES"
TABLE_NAME = "_TFM_LINE_MAP"
_MARK = "\x00"  # never in generated text otherwise: it is printable ASCII only
_MARKED = re.compile(_MARK + r"(\d+)" + _MARK)


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    column: int

    @property
    def in_library(self) -> bool:
        return self.file.startswith("<tfm library>")

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@functools.lru_cache(maxsize=64)
def source_label(file: str) -> str:
    """How a source is named in generated code: its base name, or the library's own label."""
    return file if file.startswith("<") else PurePath(file).name


class LineMap:
    """Collects marks while a module is generated, then writes comments and the table."""

    def __init__(self) -> None:
        self._spans: list = []

    def mark(self, span) -> str:
        self._spans.append(span)
        return f"{_MARK}{len(self._spans) - 1}{_MARK}"

    def finish(self, text: str) -> str:
        sources: list[str] = []
        table: dict[int, tuple[int, int, int]] = {}
        lines = text.split("\n")
        for number, line in enumerate(lines, start=1):
            match = _MARKED.search(line)
            if match is None:
                continue
            span = self._spans[int(match.group(1))]
            label = source_label(span.file)
            if label not in sources:
                sources.append(label)
            table[number] = (sources.index(label), span.line, span.column)
            where = f"{label}:{span.line}:{span.column}"
            lines[number - 1] = line[: match.start()] + "  " + hygiene.comment(where) + line[match.end():]
        return "\n".join(lines).rstrip("\n") + "\n" + _table_text(sources, table)


def _table_text(sources: list[str], table: dict[int, tuple[int, int, int]]) -> str:
    entries = [f"{line}: {hygiene.literal(where)}" for line, where in table.items()]
    rows, row = [], ""
    for entry in entries:
        if row and len(row) + len(entry) > 100:
            rows.append(row.rstrip())
            row = ""
        row += entry + ", "
    if row:
        rows.append(row.rstrip())
    body = "".join(f"    {r}\n" for r in rows)
    return ("\n\n# Where each generated line came from: line -> (source, .tfm line, column).\n"
            f"{SOURCES_NAME} = {hygiene.literal(tuple(sources))}\n"
            f"{TABLE_NAME} = {{\n{body}}}\n")


# --- reading ---------------------------------------------------------------------------------


def lookup(namespace: dict, line: int) -> Location | None:
    """The `.tfm` location of generated `line` in the module whose globals are `namespace`."""
    table, sources = namespace.get(TABLE_NAME), namespace.get(SOURCES_NAME)
    if not isinstance(table, dict) or not isinstance(sources, tuple) or line not in table:
        return None
    index, source_line, column = table[line]
    return Location(sources[index], source_line, column)


def locations(exc: BaseException) -> list[Location]:
    """Every generated statement on `exc`'s way, innermost first: traceback frames, then the
    `File "...", line N` references TensorFlow writes into graph-time error messages."""
    found = [where for frame, line in reversed(list(traceback.walk_tb(exc.__traceback__)))
             if (where := lookup(frame.f_globals, line)) is not None]
    return found + _locations_in_message(str(exc))


def _locations_in_message(message: str) -> list[Location]:
    found: list[tuple[int, Location]] = []
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if not filename or TABLE_NAME not in getattr(module, "__dict__", {}):
            continue
        for match in re.finditer(r'File "' + re.escape(filename) + r'", line (\d+)', message):
            where = lookup(module.__dict__, int(match.group(1)))
            if where is not None:
                found.append((match.start(), where))
    return [where for _, where in sorted(found, key=lambda item: -item[0])]
