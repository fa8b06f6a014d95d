"""The project's own .tfm text is in `tfm fmt`'s layout: every example, every library file and every
```tfm block of the README and docs/. A block that is a fragment (members of a module, or statements
of a method) is formatted inside a module, or a method, and compared without it."""

from __future__ import annotations

import textwrap

import pytest

from tfm.dsl import TfmError
from tfm.dsl.formatter import format_source
from support import EXAMPLES, ROOT, doc_blocks

LIBRARY = ROOT / "dsl" / "library"
# What a fragment is formatted inside: nothing (a whole file), a module (members), a method (statements).
SCAFFOLDS = ("", "module M:\n", "module M:\n    fn f():\n")
# The docs elide members or statements with a line `...`, which is neither: a statement, or a member,
# stands in for it while the block is formatted.
ELIDED, STAND_INS = "...", ("elided = 0", "var elided: f32[] = 0.0")


def format_block(text: str) -> str:
    """`text` in the formatter's layout, inside the first scaffold in which it parses."""
    for scaffold in SCAFFOLDS:
        for stand_in in STAND_INS:
            try:
                return _format_inside(scaffold, text.replace(ELIDED + "\n", stand_in + "\n"), stand_in)
            except TfmError:
                continue
    raise AssertionError(f"parses neither as a file, nor as members, nor as statements:\n{text}")


def _format_inside(scaffold: str, text: str, stand_in: str) -> str:
    depth = scaffold.count("\n")
    formatted = format_source(scaffold + textwrap.indent(text, "    " * depth))
    body = formatted.splitlines(keepends=True)[depth:]
    assert "".join(formatted.splitlines(keepends=True)[:depth]) == scaffold
    return "".join(line.removeprefix("    " * depth) for line in body).replace(stand_in, ELIDED)


@pytest.mark.parametrize("path", [*sorted(EXAMPLES.glob("*.tfm")), *sorted(LIBRARY.glob("*.tfm"))],
                         ids=lambda path: path.name)
def test_examples_and_library_are_formatted(path):
    text = path.read_text(encoding="utf-8")
    assert format_source(text) == text, f"run: tfm fmt {path.relative_to(ROOT)}"


@pytest.mark.parametrize("where, text", doc_blocks(), ids=[where for where, _ in doc_blocks()])
def test_doc_blocks_are_formatted(where, text):
    assert format_block(text) == text, f"{where}: format the block's text as `tfm fmt -` would"


def test_fragments_are_formatted_in_their_scaffold():
    assert format_block("var w: f32[3] = zeros()   # x\n...\n") == "var w: f32[3] = zeros()  # x\n...\n"
    assert format_block("y=x+1\nreturn y\n") == "y = x + 1\nreturn y\n"
    with pytest.raises(AssertionError, match="parses neither"):
        format_block("module M(:\n")
