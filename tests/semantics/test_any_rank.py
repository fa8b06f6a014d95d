"""Methods for any rank (issue 22 item 9): `...` in a method's dims stands for any run of dims, the
same run in every input and output of one call; the caller gets the exact output type."""

from __future__ import annotations

import pytest

from support import diagnostics_of

SCALE = """\
module Scale:
    var w: f32[3] = ones()

    fn call(x: f32[N, ..., D], y: f32[..., D]) -> f32[N, ..., 3]:
        return x * y + w

"""


def _errors(text: str) -> list[tuple[str, int, str]]:
    return [(d.code, d.span.line, d.message) for d in diagnostics_of(text, analyze_only=True) if d.severity == "error"]


@pytest.mark.parametrize("shape", ["[2, 3]", "[2, 5, 3]", "[2, 5, 7, 3]", "[2, 5, 7, 9, 3]"])
def test_dense_keeps_every_dim_but_the_last_at_the_caller(shape):
    out = shape.replace("3]", "4]")
    text = f"module M:\n    sub d = Dense(3, 4)\n\n    fn f(x: f32{shape}) -> f32{out}:\n        return d(x)\n"
    assert _errors(text) == []
    wrong = text.replace(f"-> f32{out}", "-> f32[2, 4]")
    errors = _errors(wrong)
    if shape == "[2, 3]":
        assert errors == []
    else:  # the call's type is exact: the declared output disagrees with it
        assert [(code, line) for code, line, _ in errors] == [("E032", 5)]
        assert f"f32{out}" in errors[0][2]


def test_named_dims_around_the_run_bind_and_the_run_is_the_same_in_every_input():
    ok = SCALE + """\
module Top:
    sub s = Scale()

    fn f(x: f32[2, 5, 7, 3], y: f32[5, 7, 3]) -> f32[2, 5, 7, 3]:
        return s(x, y)
"""
    assert _errors(ok) == []
    other_run = ok.replace("y: f32[5, 7, 3]", "y: f32[5, 6, 3]")
    errors = _errors(other_run)
    assert [(code, line) for code, line, _ in errors] == [("E050", 11)]
    assert "input `y` of `call` is f32[..., D]" in errors[0][2]
    other_dim = ok.replace("y: f32[5, 7, 3]", "y: f32[5, 7, 4]")
    assert [(code, line, message) for code, line, message in _errors(other_dim)] == [
        ("E050", 11, "input `y` of `call` is f32[..., 3] (f32[..., D], with `D` = 3), got f32[5, 7, 4]")]


def test_the_run_may_be_empty_but_the_written_dims_must_be_there():
    text = SCALE + """\
module Top:
    sub s = Scale()

    fn f(x: f32[2, 3], y: f32[3]) -> f32[2, 3]:
        return s(x, y)

    fn g(x: f32[3], y: f32[3]) -> f32[3]:
        return s(x, y)
"""
    errors = [(code, line, message) for code, line, message in _errors(text) if code == "E050"]
    assert [(code, line) for code, line, _ in errors] == [("E050", 14)]
    assert "input `x` of `call` is f32[N, ..., D], got rank 1" in errors[0][2]


def test_any_rank_methods_compose_and_the_outermost_caller_gets_the_exact_type():
    text = """\
module Head:
    sub d = Dense(3, 4)

    fn call(x: f32[..., 3]) -> f32[..., 4]:
        return d(x)

module Top:
    sub h = Head()

    fn f(x: f32[2, 5, 3]) -> f32[2, 5, 4]:
        return h(x)

    fn g(x: f32[2, 5, 3]) -> f32[2, 4]:
        return h(x)
"""  # inside Head, x has unknown rank: so has d(x), which fits `f32[..., 4]`
    assert [(code, line) for code, line, _ in _errors(text)] == [("E032", 14)]


def test_an_inferred_size_is_read_after_the_run():
    text = "module M:\n    sub d = Dense(out_dim=4)\n\n    fn f(x: f32[2, 5, 7, 6]) -> f32[2, 5, 7, 4]:\n        return d(x)\n"
    assert _errors(text) == []


def test_dense_takes_rank_two_or_more():
    text = "module M:\n    sub d = Dense(3, 4)\n\n    fn f(x: f32[3]) -> f32[4]:\n        return d(x)\n"
    assert ("E050", 5, "input `x` of `call` is f32[N, ..., in_dim], got rank 1 (f32[3])") in _errors(text)


def test_the_per_rank_twins_are_gone():
    text = "module M:\n    sub d = Dense(3, 4)\n\n    fn f(x: f32[2, 5, 3]) -> f32[2, 5, 4]:\n        return d.call_sequence(x)\n"
    assert [code for code, _, _ in _errors(text)] == ["E030"]


@pytest.mark.parametrize("text, line", [
    ("module M:\n    fn f(x: f32[..., 2, ...]) -> f32[2]:\n        return x\n", 2),
    ("module M:\n    var w: f32[..., 3] = zeros()\n\n    fn f(x: f32[3]) -> f32[3]:\n        return x + w\n", 2),
    ("module M:\n    fn f(x: f32[3]) -> f32[3]:\n        y: f32[..., 3] = x\n        return y\n", 3),
    ("module M:\n    fn f(x: f32[3]) -> f32[3]:\n        y: f32[..., 3]\n        return x + y\n", 3),
])
def test_the_run_is_written_once_and_only_in_signatures(text, line):
    assert [(code, at) for code, at, _ in _errors(text)] == [("E017", line)]
