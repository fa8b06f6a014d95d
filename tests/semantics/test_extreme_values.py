"""Extreme inputs through the Python API (issue 20, item 10): integer literals of any length, the
ends of the 64-bit ranges, lone surrogates in a str, and a chain of 1,000 nested submodules. Each
gives a located diagnostic or a correct result: never E099, never a RecursionError after a clean check."""

from __future__ import annotations

import numpy as np
import pytest

from tfm import dsl
from tfm.dsl.limits import MAX_SUBMODULE_DEPTH, Limits
from tfm.pipeline import check_text, compile_text
from support import diagnostics_of, time_limit


def _diagnostics(text: str, limits: Limits | None = None) -> list[tuple[str, int, int]]:
    with time_limit(120):
        return [(d.code, d.span.line, d.span.column) for d in diagnostics_of(text, "extreme.tfm", limits)]


@pytest.mark.parametrize("digits", [21, 4301, 100_000])
@pytest.mark.parametrize("where", ["body", "variable", "default", "dim"])
def test_integer_literals_of_any_length_are_located_errors(digits, where):
    big = "9" * digits
    text = {"body": f"module M:\n    fn f(x: i64[]) -> i64[]:\n        return x + {big}\n",
            "variable": f"module M:\n    var v: i64[] = {big}\n",
            "default": f"module M(p: int = {big}):\n    var v: i64[] = p\n",
            "dim": f"module M:\n    var v: f32[{big}] = zeros()\n"}[where]
    found = _diagnostics(text)
    assert "E099" not in {code for code, _, _ in found}
    line = text.splitlines().index(next(l for l in text.splitlines() if big in l)) + 1
    assert ("E018" if where == "dim" and digits < 1000 else "E023", line,
            text.splitlines()[line - 1].index(big) + 1) in found


def test_the_smallest_i64_is_a_value_and_runs():
    text = ("module M:\n    var low: i64[] = -9223372036854775808\n\n"
            "    fn f(x: i64[]) -> i64[]:\n        return x + -9223372036854775808\n")
    assert _diagnostics(text) == []
    from tfm.loading.loader import import_compiled
    m = import_compiled(compile_text(text, "extreme.tfm")).M()
    assert int(m.low.numpy()) == -2**63
    assert int(m.f(np.int64(5)).numpy()) == -2**63 + 5


@pytest.mark.parametrize("text, expected", [
    ("module M:\n    var v: i64[] = 9223372036854775808\n", [("E023", 2, 20)]),
    ("module M:\n    var v: i64[] = -9223372036854775809\n", [("E023", 2, 21)]),
    ("module M:\n    var v: i32[] = -9223372036854775808\n", [("E034", 2, 20)]),
    ("module M:\n    fn f(x: i32[]) -> i32[]:\n        return x + -9223372036854775808\n", [("E040", 3, 16)]),
    ("module M:\n    var v: i64[] = 18446744073709551615\n", [("E023", 2, 20)]),
    ("module M:\n    var v: u64[] = 18446744073709551616\n", [("E023", 2, 20)]),
    ("module M:\n    var v: i64[] = 2 ** 64\n", [("E023", 2, 20)]),  # folded at construction: was accepted
    ("module M(p: int = 2 ** 64):\n    var v: i64[] = p\n", [("E023", 1, 19)]),
    ("module M:\n    var v: f32[] = 1 / 0\n", [("E023", 2, 20)]),
])
def test_the_ends_of_the_64_bit_ranges_are_checked_where_they_are_written(text, expected):
    assert _diagnostics(text) == expected


def test_the_largest_u64_is_a_u64_value():
    text = "module M:\n    var v: u64[2] = [18446744073709551615, 0]\n"
    from tfm.loading.loader import import_compiled
    m = import_compiled(compile_text(text, "extreme.tfm")).M()
    assert [int(v) for v in m.v.numpy()] == [2**64 - 1, 0]


@pytest.mark.parametrize("text, where", [
    ("module M:\n    var v: f32[] = 0.0  # \ud800\n", (2, 27)),
    ("module M\udfff:\n    var v: f32[] = 0.0\n", (1, 9)),
    ('module M:\n    fn f(x: string[]) -> string[]:\n        return x + "\ud83d"\n', (3, 21)),
])
@pytest.mark.parametrize("stage", [check_text, compile_text])
def test_a_lone_surrogate_in_a_str_is_a_located_error(text, where, stage):
    with pytest.raises(dsl.TfmError) as info:
        stage(text, "extreme.tfm")
    [diagnostic] = info.value.diagnostics
    assert diagnostic.code == "E005" and (diagnostic.span.line, diagnostic.span.column) == where
    assert "surrogate" in dsl.render_text(info.value.diagnostics, info.value.sources)


def _chain(levels: int) -> str:
    """Module A0 holds A1, which holds A2, ... `levels` levels of submodules."""
    modules = [f"module A{i}:\n    sub sub = A{i + 1}()\n\n    fn f(x: f32[]) -> f32[]:\n        return sub.f(x)\n"
               for i in range(levels)]
    modules.append(f"module A{levels}:\n    var v: f32[] = 1.0\n\n    fn f(x: f32[]) -> f32[]:\n        return x + v\n")
    return "\n".join(modules)


def test_a_chain_of_a_thousand_nested_submodules_is_refused_where_the_limit_is_crossed():
    found = _diagnostics(_chain(1000))
    assert found == [("E056", _chain(1000).splitlines().index("module A899:") + 2, 5)]


def test_a_chain_at_the_depth_limit_builds_and_runs():
    from tfm.loading.loader import import_compiled
    text = _chain(Limits().submodule_depth)
    model = import_compiled(compile_text(text, "chain.tfm")).A0()
    assert float(model.f(np.float32(1.0))) == 2.0
    assert len(model.trainable_variables) == 1


def test_the_depth_limit_cannot_be_raised_past_what_python_can_trace():
    with pytest.raises(ValueError, match="submodule_depth"):
        Limits().with_overrides([f"submodule_depth={MAX_SUBMODULE_DEPTH + 1}"])
    assert _diagnostics(_chain(150), Limits(submodule_depth=MAX_SUBMODULE_DEPTH)) == []


def test_the_formatter_refuses_a_huge_integer_as_a_located_error(tmp_path, capsys):
    from tfm.cli import main

    source = tmp_path / "big.tfm"
    source.write_text("module M:\n    var v: i64[] = " + "9" * 5000 + "\n")
    assert main(["fmt", str(source)]) == 1
    err = capsys.readouterr().err
    assert "big.tfm:2:20: error[E023]" in err and "internal" not in err


def test_parse_alone_refuses_an_integer_too_long_to_convert():
    """`dsl.parse` without `analyze`'s scan: a located E023, not Python's ValueError (over 4,300 digits)."""
    with pytest.raises(dsl.TfmError) as raised:
        dsl.parse("module M:\n    fn f() -> i64[]:\n        return " + "9" * 5000 + "\n", "m.tfm")
    (problem,) = raised.value.diagnostics
    assert (problem.code, problem.span.line, problem.span.column) == ("E023", 3, 16)
