"""`tfm fmt`: one canonical layout, idempotent, every comment kept, meaning never changed (the same
syntax tree, the same analysis and the same generated code) on every example, library file,
diagnostic case and fuzzed program; and the command's --check, --diff, stdin and in-place writes."""

from __future__ import annotations

import random
import re
import stat

import pytest

from tfm import compile_text
from tfm.cli import main
from tfm.dsl import TfmError
from tfm.dsl.formatter import _shape, format_source
from tfm.dsl.parser import parse
from support import DIAGNOSTICS, EXAMPLES, ROOT
from support.fuzzing import ProgramGenerator, WellTypedGenerator

MESSY = '''module   M( units :int=4 ,seed:int= -1 ) :
  # a comment
  var w : f32[ 3,units ]=glorot_uniform( seed = seed )   # inline


  @serving
  fn call( x:f32[ N,3 ] )->f32[N,units]:
      y=x@w*-1.0+  2**-2
      z = y[ :,1: ] if reduce_sum(y)>0.0 else y[..., :]
      for i in range( 3 ):
          y+= -y
      return relu( y+z )
'''

CANONICAL = '''module M(units: int = 4, seed: int = -1):
    # a comment
    var w: f32[3, units] = glorot_uniform(seed=seed)  # inline

    @serving
    fn call(x: f32[N, 3]) -> f32[N, units]:
        y = x @ w * -1.0 + 2 ** -2
        z = y[:, 1:] if reduce_sum(y) > 0.0 else y[..., :]
        for i in range(3):
            y += -y
        return relu(y + z)
'''


def test_the_canonical_layout():
    assert format_source(MESSY) == CANONICAL
    assert format_source(CANONICAL) == CANONICAL


def _without_locations(python: str) -> str:
    """Generated code with the `# file.tfm:line:col` marks, the source digest and the line map
    removed: what the program means, not where its lines were."""
    python = re.sub(r"  # [^\n]*\.tfm:\d+(:\d+)?", "", python)
    python = re.sub(r"sha256 [0-9a-f]{64}|'[0-9a-f]{64}'", "", python)
    python = re.sub(r'\.tfm:\d+\.', ".tfm.", python)
    return python.split("_TFM_LINE_MAP")[0]


def _sources() -> list:
    files = [*EXAMPLES.glob("*.tfm"), *(ROOT / "dsl" / "library").glob("*.tfm"),
             *DIAGNOSTICS.glob("*.tfm")]
    found = []
    for path in sorted(files):
        try:
            text = path.read_text(encoding="utf-8")
            parse(text, path.name)
        except (UnicodeDecodeError, TfmError):
            continue
        found.append(pytest.param(text, id=path.name))
    for seed in range(40):
        rng = random.Random(seed)
        generator = ProgramGenerator(rng) if seed % 2 else WellTypedGenerator(rng)
        found.append(pytest.param(generator.program(), id=f"fuzz{seed}"))
    return found


@pytest.mark.parametrize("text", _sources())
def test_formatting_is_idempotent_keeps_comments_and_never_changes_meaning(text):
    try:
        before = parse(text, "p.tfm")
    except TfmError:
        pytest.skip("the generator made a program that does not parse")
    formatted = format_source(text, "p.tfm")
    assert format_source(formatted, "p.tfm") == formatted
    assert _shape(parse(formatted, "p.tfm")) == _shape(before)
    assert re.findall(r"#[^\n]*", formatted) == [c.rstrip() for c in re.findall(r"#[^\n]*", text)]
    try:
        original = compile_text(text, "p.tfm")
    except TfmError as exc:
        with pytest.raises(TfmError) as again:
            compile_text(formatted, "p.tfm")
        assert [d.code for d in again.value.diagnostics] == [d.code for d in exc.diagnostics]
        return
    assert _without_locations(compile_text(formatted, "p.tfm").python) == _without_locations(original.python)


def test_the_meaning_check_sees_declared_names():
    """Two programs differing only in a declared name (held as a name node, not a child the walks
    visit) are different programs to the formatter's check."""
    text = "module M(n: int = 2):\n    var w: f32[n] = zeros()\n    fn f(x: f32[]) -> f32[]:\n        return x\n"
    for old, new in (("M(", "K("), ("n:", "k:"), ("w:", "v:"), ("f(", "g("), ("x:", "y:")):
        assert _shape(parse(text.replace(old, new, 1), "p.tfm")) != _shape(parse(text, "p.tfm")), old


def test_fmt_command_check_diff_in_place_and_stdin(tmp_path, capsys, monkeypatch):
    import io

    messy = tmp_path / "m.tfm"
    messy.write_text(MESSY)
    messy.chmod(0o640)
    assert main(["fmt", "--check", str(messy)]) == 1
    assert f"would format {messy}" in capsys.readouterr().err
    assert main(["fmt", "--diff", str(messy)]) == 0
    assert "+    var w: f32[3, units] = glorot_uniform(seed=seed)  # inline" in capsys.readouterr().out
    assert messy.read_text() == MESSY  # --check and --diff write nothing
    assert main(["fmt", str(messy)]) == 0
    assert messy.read_text() == CANONICAL and stat.S_IMODE(messy.stat().st_mode) == 0o640
    assert main(["fmt", "--check", str(messy)]) == 0
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(MESSY.encode())))
    capsys.readouterr()
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == CANONICAL


def test_a_file_that_does_not_parse_is_left_alone(tmp_path, capsys):
    broken = tmp_path / "b.tfm"
    broken.write_text("module  M:\n    fn f(x: f32[]) -> f32[]\n        return x\n")
    before = broken.read_text()
    assert main(["fmt", str(broken)]) == 1
    assert "error[E001]" in capsys.readouterr().err
    assert broken.read_text() == before


def test_brackets_open_across_lines_keep_their_spacing_rules():
    """A keyword argument on the next line of an open call is tight and a parameter's default spaced, as
    on the call's first line (the brackets open before a line decide its `=`)."""
    text = ("module Cell(units: int,\n  seed: int=-1):\n    var w: f32[units] = zeros()\n\n"
            "module Layer(units: int):\n    sub cell = Cell(units,\n        seed = 3)\n\n"
            "    fn call(x: f32[N, units]) -> f32[N, units]:\n        return x + cell.w\n")
    formatted = format_source(text)
    assert "            seed=3)\n" in formatted  # member level + 8: the continuation of a `sub`
    assert "        seed: int = -1):\n" in formatted
    assert format_source(formatted) == formatted
