"""The driver over Lark's tables (dsl/table_parser.py) builds exactly the tree Lark builds, spans
included, or leaves the source to Lark: on every example, library file, diagnostic case, fuzzed
program and thousands of mutations of them. And `tfm check` runs without importing Lark, from a
cache that is private, written whole, and never trusted when it is not."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

from tfm.dsl import TfmError
from tfm.dsl import nodes as n
from tfm.dsl import parser as parsing
from tfm.dsl import table_parser
from tfm.dsl.lark_parser import lark_parser, parse_with_lark
from tfm.dsl.node_builder import NODE_BUILDER
from conftest import EXAMPLES, ROOT
from fuzzing import ProgramGenerator, WellTypedGenerator, mutations


def _sources() -> list[str]:
    files = [*EXAMPLES.glob("*.tfm"), *(ROOT / "dsl" / "library").glob("*.tfm"),
             *(ROOT / "tests" / "diagnostics").glob("*.tfm")]
    texts = [path.read_text(encoding="utf-8", errors="replace") for path in sorted(files)]
    for seed in range(40):
        rng = random.Random(seed)
        texts.append((ProgramGenerator(rng) if seed % 2 else WellTypedGenerator(rng)).program())
    return [_prepared(text) for text in texts]


def _prepared(text: str) -> str:
    text = parsing.normalize_text(text)
    return text if text.endswith("\n") else text + "\n"


def _difference(a, b, path="program") -> str | None:
    """Where two trees differ (type, field or span), or None."""
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} against {type(b).__name__}"
    if isinstance(a, (n.Node, n.Span)):
        for field in type(a).model_fields:
            found = _difference(getattr(a, field), getattr(b, field), f"{path}.{field}")
            if found:
                return found
        return None
    if isinstance(a, tuple):
        if len(a) != len(b):
            return f"{path}: {len(a)} items against {len(b)}"
        return next((d for i, (x, y) in enumerate(zip(a, b)) if (d := _difference(x, y, f"{path}[{i}]"))), None)
    return None if a == b else f"{path}: {a!r} against {b!r}"


def _both_ways(text: str) -> str:
    """'same', 'left to Lark', or raises AssertionError saying how the two parsers differ."""
    fast = parsing._table_parser()
    with parsing._PARSE_LOCK:
        NODE_BUILDER.file = "p.tfm"
        try:
            ours, our_error = fast.parse(text), None
        except table_parser.Unparsed:
            return "left to Lark"
        except TfmError as exc:
            ours, our_error = None, exc.diagnostics
        try:
            problem, theirs = parse_with_lark(text, "p.tfm")
            their_error = [problem] if problem else None
        except TfmError as exc:
            theirs, their_error = None, exc.diagnostics
    assert our_error == their_error, f"the table parser raised {our_error}, Lark {their_error}\n{text}"
    if ours is not None:
        assert (difference := _difference(ours, theirs)) is None, f"{difference}\n{text}"
    return "same"


def test_the_tables_stand_in_for_lark():
    assert parsing._table_parser() is not None, "the table parser must be in use for this grammar"


def test_every_source_parses_to_lark_s_tree():
    outcomes = [_both_ways(text) for text in _sources()]
    assert outcomes.count("same") >= len(outcomes) - 20, "only syntax-error cases may be left to Lark"


def test_mutated_sources_parse_to_lark_s_tree_or_are_left_to_it():
    rng = random.Random(7)
    sources = _sources()
    outcomes = [_both_ways(_prepared(mutations(rng.choice(sources), rng))) for _ in range(1500)]
    assert outcomes.count("same") > 200, "the mutations should still leave many parseable programs"


@pytest.mark.parametrize("text", [
    "module M:\n    fn f(x: f32[]) -> f32[]:\n        y = -x if x > 0.0 else +x\n        return y - -x\n",
    "module M:\n    fn f(x: f32[]) -> f32[]:\n        return x\n    var w: f32[] = 1.0\n    state s: f32[] = 0.0\n",
    "module M:\n    fn f(var: f32[]) -> f32[]:\n        state = var @ var\n        return state\n",
    "module M:\n  fn f(x: f32[]) -> f32[]:\n\treturn (x +\n   x) \\\n + x  # c\n",
    "module M:\n    fn f(x: f32[]) -> f32[]:\n        return elsewhere(x) if notice else x\n",
])
def test_contextual_keywords_operators_and_layout(text):
    """A keyword only where the grammar takes one, `-` as binary or unary operator, `var`/`state` as
    names inside methods, tabs, continuations and brackets across lines: all as Lark lexes them."""
    assert _both_ways(text) == "same"


def test_check_does_not_import_lark(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    script = ("import sys\nfrom tfm.cli import main\nstatus = main(['check', sys.argv[1]])\n"
              "print(status, 'lark' in sys.modules)")
    env = {**os.environ, "TFM_CACHE_DIR": str(cache)}
    example = str(EXAMPLES / "my_model.tfm")
    first = subprocess.run([sys.executable, "-c", script, example], capture_output=True, text=True, env=env)
    again = subprocess.run([sys.executable, "-c", script, example], capture_output=True, text=True, env=env)
    assert first.stdout.split()[-2:] == ["0", "True"], first.stderr  # the tables were made with Lark
    assert again.stdout.split()[-2:] == ["0", "False"], again.stderr  # then read back, Lark not imported
    written = list(cache.glob("tables-*.marshal"))
    assert len(written) == 1 and written[0].stat().st_mode & 0o777 == 0o600


def test_a_cache_others_could_write_is_neither_read_nor_written(tmp_path, monkeypatch):
    grammar = (ROOT / "grammar" / "tfm.lark").read_text(encoding="utf-8")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("TFM_CACHE_DIR", str(shared))
    tables = table_parser.tables_for(grammar, lark_parser)
    assert tables is not None and list(shared.iterdir()) == []
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setenv("TFM_CACHE_DIR", str(private))
    path = table_parser._cache_path(grammar)
    with open(path, "wb") as planted:  # a file another user's process left: not ours, not read
        planted.write(b"\x00garbage")
    os.chmod(path, 0o666)
    assert table_parser.tables_for(grammar, lark_parser) == tables
    assert open(path, "rb").read() == b"\x00garbage", "a file tfm did not write is left alone"
    os.chmod(path, 0o600)  # ours but damaged: made again
    assert table_parser.tables_for(grammar, lark_parser) == tables
    assert table_parser.tables_for(grammar, lambda: pytest.fail("the rebuilt cache was not used")) == tables


def test_a_syntax_error_is_reported_by_lark_as_before():
    with pytest.raises(TfmError) as raised:
        parsing.parse("module M:\n    fn f(x: f32[]) -> f32[]:\n        return x +\n", "bad.tfm")
    problem = raised.value.diagnostics[0]
    assert (problem.code, problem.span.line) == ("E001", 3) and "expected" in problem.message


def test_a_damaged_table_file_of_our_own_falls_back_to_lark(tmp_path, monkeypatch):
    import marshal

    grammar = (ROOT / "grammar" / "tfm.lark").read_text(encoding="utf-8")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setenv("TFM_CACHE_DIR", str(private))
    path = table_parser._cache_path(grammar)
    with open(path, "wb") as damaged:
        damaged.write(marshal.dumps({"format": table_parser.FORMAT, "states": []}))
    os.chmod(path, 0o600)
    parsing._table_parser.cache_clear()
    try:
        program = parsing.parse((EXAMPLES / "my_model.tfm").read_text(encoding="utf-8"), "my_model.tfm")
        assert program.modules[0].name == "MyModel"
    finally:
        parsing._table_parser.cache_clear()
