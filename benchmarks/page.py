"""docs/benchmarks.md is written by several scripts, each owning one section: a section begins with its
marker line, `<!-- written by benchmarks/SCRIPT -->`, and runs to the next marker or the page's end.
A script rewrites its own section in place and leaves every other one as it is.
"""

from __future__ import annotations

import re
from pathlib import Path

_MARKER = "<!-- written by benchmarks/{} -->"
_ANY_MARKER = re.compile(r"^<!-- written by benchmarks/[\w.-]+ -->$", re.MULTILINE)


def marker(script: str) -> str:
    return _MARKER.format(script)


def write_section(page: Path, script: str, section: str, first: bool = False) -> None:
    """Put `section` (markdown) into `page` as `script`'s section: where its marker is; else where its
    heading (the section's first line) stands unmarked, up to the next marker; else at the page's
    start (`first`) or end."""
    text = page.read_text(encoding="utf-8") if page.exists() else ""
    block = marker(script) + "\n" + section.rstrip("\n") + "\n"
    start = text.find(marker(script))
    if start < 0:
        heading = section.split("\n", 1)[0]
        start = text.find(heading + "\n") if heading else -1
    if start < 0:
        text = block + ("\n" + text if text else "") if first else (text.rstrip("\n") + "\n\n" if text else "") + block
    else:
        following = _ANY_MARKER.search(text, start + 1)
        rest = text[following.start():] if following else ""
        text = text[:start] + block + ("\n" + rest if rest else "")
    page.write_text(text, encoding="utf-8")


__all__ = ["marker", "write_section"]
