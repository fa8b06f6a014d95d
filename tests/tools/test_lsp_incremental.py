"""The language server's incremental analysis (dsl/incremental.py) against the whole file's
(dsl/tolerant.py, `tfm check`'s diagnostics): the same diagnostics and the same types on every golden
diagnostic case and example, and along a series of edits, each analysis reusing the modules the
edit did not touch."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import EXAMPLES, ROOT
from tfm.dsl.incremental import Incremental
from tfm.dsl.tolerant import analyze_tolerant

CASES = sorted((ROOT / "tests" / "diagnostics").glob("*.tfm")) + sorted(EXAMPLES.glob("*.tfm"))


def _types(analysis) -> dict:
    """Each expression's and declaration's type, by node kind and span (two parses make two trees)."""
    return {(type(node).__name__, node.span): str(type_) for node, type_ in analysis.types.items()}


def _same(text: str, path: str, incremental: Incremental) -> None:
    whole = analyze_tolerant(text, path)
    found = incremental.analyse(text)
    assert found.diagnostics == whole.diagnostics and found.clean == whole.clean
    if whole.clean:
        assert found.analysis is not None and whole.analysis is not None
        assert _types(found.analysis) == _types(whole.analysis)


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_the_same_diagnostics_and_types_as_the_whole_file(case: Path):
    _same(case.read_bytes().decode("utf-8", "replace"), str(case), Incremental(str(case)))


# Each made inside Block3, in turn: semantic errors, syntax errors (also on its last line, and ones
# that run past the module: an unclosed bracket, a bad dedent, a header without a body), and their fixes.
EDITS = [("relu(", "reluu("), ("reluu(", "relu("), ("0.5", "0.6"), ("width: int = 8", "width: int = 4"),
         ("y = x @ w + b", "y = x @ w + b +"), ("y = x @ w + b +", "y = x @ w + b"), ("return y * 0.5 + x", "return y"),
         ("fn score", "fn scores"), ("h = step(x)", "h = step(x, x)"), ("h = step(x, x)", "h = step(x)"),
         ("return reduce_mean(h)", "return reduce_mean(h) $"), ("return reduce_mean(h) $", "return reduce_mean(h"),
         ("return reduce_mean(h", "return reduce_mean(h)\n      y = 1"), ("\n      y = 1", "\n    fn extra():"),
         ("\n    fn extra():", ""), ("y = relu(y)", "y = relu(y) z = 1"), ("        y = relu(y) z = 1", "  if"),
         ("  if", "        y = relu(y)"), ("module Block3(width: int = 4):", "module Block3(width: int = 4)"),
         ("module Block3(width: int = 4)", "module Block3(width: int = 4):"), ("fn step(", "fn step(,")]


def test_a_series_of_edits_reuses_what_it_did_not_touch():
    blocks = "".join(_BLOCK.format(index=i, seed=i) for i in range(6)) + _HOLDER
    incremental = Incremental("m.tfm")
    _same(blocks, "m.tfm", incremental)
    read_whole = []
    for old, new in EDITS:
        at = blocks.index(old, blocks.index("module Block3") - 1)  # an edit inside Block3
        blocks = blocks[:at] + new + blocks[at + len(old):]
        _same(blocks, "m.tfm", incremental)
        read_whole.append(incremental.whole)
    # Only the errors that run past the module (the unclosed bracket, the two bad dedents) read the file whole.
    assert [i for i, whole in enumerate(read_whole) if whole] == [11, 12, 16]
    edited = blocks.replace("seed=4)", "seed=9)")  # Block4 changes; Holder holds Block4
    incremental.analyse(edited)
    assert incremental.reused == 5  # Block0-3 and Block5; Block4 and Holder analysed again


_BLOCK = """
module Block{index}(width: int = 8):
    var w: f32[width, width] = glorot_uniform(seed={seed})
    var b: f32[width] = zeros()

    fn step(x: f32[N, width]) -> f32[N, width]:
        y = x @ w + b
        y = relu(y)
        return y * 0.5 + x

    fn score(x: f32[N, width]) -> f32[]:
        h = step(x)
        return reduce_mean(h)
"""
_HOLDER = """
module Holder:
    sub inner = Block4()

    fn call(x: f32[N, 8]) -> f32[N, 8]:
        return inner.step(x)
"""
