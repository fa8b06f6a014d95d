"""Issue 20, item 15: a parameter default is checked against its declared type as a variable's
initial value is, and a comparison chain evaluates each operand once, in Python's order, with
AutoGraph still converting the code."""

from __future__ import annotations

import numpy as np
import pytest

from tfm import dsl
from tfm.loading.loader import import_compiled
from tfm.pipeline import compile_text
from support import diagnostics_of


def _codes(text: str) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.column) for d in diagnostics_of(text, "defaults.tfm")]


@pytest.mark.parametrize("header, message", [
    ("p: f32[2] = [1.0, 2.0, 3.0]", "default has shape [3], parameter `p` is f32[2]"),
    ("p: f32[2] = [[1.0, 2.0]]", "default has shape [1, 2], parameter `p` is f32[2]"),
    ("p: f32[] = [1.0]", "default has shape [1], parameter `p` is f32[]"),
    ("p: i32[2] = [1.5, 2.0]", "default holds a Python float, parameter `p` is i32[2]"),
    ("p: u8[] = -1", "negative default for u8[]"),
    ("p: i8[] = 300", "default 300 does not fit in i8[]"),
    ("p: bool[] = 1", "default holds a Python int, parameter `p` is bool[]"),
    ("p: int = 1.5", "default holds a Python float, parameter `p` is int"),
    ("p: int = [1, 2]", "default holds a list, parameter `p` is int"),
    ("p: float = \"a\"", "default holds a Python str, parameter `p` is float"),
    ("p: bool = 1", "default holds a Python int, parameter `p` is bool"),
    ("p: str = 3", "default holds a Python int, parameter `p` is str"),
])
def test_a_default_that_does_not_fit_its_type_is_an_error(header, message):
    text = f"module M({header}):\n    var v: f32[] = 0.0\n"
    with pytest.raises(dsl.TfmError) as info:
        compile_text(text, "defaults.tfm")
    [diagnostic] = info.value.diagnostics
    assert (diagnostic.code, diagnostic.message) == ("E023", message)
    assert (diagnostic.span.line, diagnostic.span.column) == (1, text.index("=") + 3)


@pytest.mark.parametrize("header", ["p: f32[2] = [1, 2]", "p: f32[2] = [1.0, 2.0]", "p: f32[?] = [1.0]",
                                    "p: int = -3", "p: float = 2", "p: bool = True", "p: str = \"x\"",
                                    "p: u64[] = 18446744073709551615", "p: f64[2, 1] = [[1.0], [2]]"])
def test_defaults_of_the_declared_type_are_accepted(header):
    assert _codes(f"module M({header}):\n    var v: f32[] = 0.0\n") == []


CHAINS = """module M:
    state calls: i32[] = 0

    fn g(x: f32[]) -> f32[]:
        calls.assign_add(1)
        return x * 2.0

    fn two(x: f32[]) -> bool[]:
        return 0.0 < g(x) < 10.0

    fn three(x: f32[]) -> bool[]:
        return 0.0 < g(x) <= g(x) + 1.0 < 100.0

    fn tensors(x: f32[3]) -> bool[3]:
        return 0.0 < x * 2.0 < [1.0, 5.0, 9.0]

    fn count() -> i32[]:
        return calls
"""


@pytest.fixture(scope="module")
def chains():
    return import_compiled(compile_text(CHAINS, "chains.tfm")).M()


@pytest.mark.parametrize("method, x, result, calls", [
    ("two", 1.0, True, 1), ("two", 6.0, False, 1), ("two", -1.0, False, 1),
    ("three", 1.0, True, 2), ("three", -1.0, False, 1),  # `a < b` false: the rest is not evaluated
])
def test_a_chain_evaluates_each_operand_once_in_pythons_order(chains, method, x, result, calls):
    before = int(chains.count())
    assert bool(getattr(chains, method)(np.float32(x))) is result
    assert int(chains.count()) - before == calls


def test_a_chain_of_tensors_compares_element_by_element(chains):
    np.testing.assert_array_equal(chains.tensors(np.array([0.1, 1.0, 6.0], np.float32)), [True, True, False])


def test_the_middle_operand_is_written_once_in_the_generated_code():
    python = compile_text(CHAINS, "chains.tfm").python
    [line] = [l for l in python.splitlines() if "chains.tfm:9:" in l]
    assert line.count("_impl_g(x)") == 1


def test_chains_in_loop_and_branch_conditions_are_converted_by_autograph():
    text = ("module M:\n    fn f(n: i32[]) -> i32[]:\n        i = 1\n        total = 0\n"
            "        while 0 < i < n:\n            total = total + i\n            i = i + 1\n"
            "        if 0 < total <= 10:\n            total = total * 2\n        return total\n")
    m = import_compiled(compile_text(text, "loops.tfm")).M()
    assert [int(m.f(np.int32(n))) for n in (1, 5, 10)] == [0, 20, 45]
