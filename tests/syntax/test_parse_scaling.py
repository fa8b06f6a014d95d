"""Parsing is linear in the source: sources of each hard shape, at one size and at four times that
size (the larger about 1 MB), parsed or refused in time proportional to their size.

A ratio, not a time limit: machines are noisy, but a quadratic parse takes 16 times as long for 4
times the text, and a linear one 4 times (the bound, 8, leaves room for noise; a pair over it is
measured once more). CPU time with the garbage collector off, as benchmarks/compile_speed.py
measures; the small side the best of two runs."""

from __future__ import annotations

import gc
import time

import pytest

from tfm.dsl import TfmError
from tfm.dsl.parser import parse

HEADER = "module M:\n    fn f(x: f32[]) -> f32[]:\n"


def _repeat(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit))


def long_arguments(size: int) -> str:
    return HEADER + "        return g(" + _repeat("x, ", size) + "x)\n"


def long_sum(size: int) -> str:  # refused (it nests too deeply), after it is parsed
    return HEADER + "        return " + _repeat("x + ", size) + "x\n"


def many_statements(size: int) -> str:
    return HEADER + _repeat("        y = x * 3.0\n", size) + "        return x\n"


def deep_blocks(size: int) -> str:
    """Blocks nested 40 deep (within the depth limit), one after the other."""
    ladder = "".join(f"{'    ' * (level + 2)}if x > {level}.0:\n" for level in range(40)) + "    " * 42 + "pass\n"
    return HEADER + _repeat(ladder, size) + "        return x\n"


def unclosed_bracket(size: int) -> str:
    """A bracket opened at the start and never closed: every later line is inside it."""
    return HEADER + "        y = (x\n" + _repeat("        y = x * 3.0\n", size) + "        return y\n"


def unclosed_list(size: int) -> str:
    """A list opened at the start and never closed, its items running to the end of the file."""
    return HEADER + "        y = [x,\n" + _repeat("             x,\n", size)


def many_syntax_errors(size: int) -> str:
    return HEADER + _repeat("        y = = x\n", size) + "        return x\n"


def _outcome(text: str) -> str:
    try:
        parse(text, "big.tfm")
        return "parsed"
    except TfmError as exc:
        return exc.diagnostics[0].code


def _seconds(text: str, runs: int) -> tuple[float, str]:
    """The best of `runs` parses' CPU time, and the outcome."""
    times = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(runs):
            start = time.process_time()
            outcome = _outcome(text)
            times.append(time.process_time() - start)
    finally:
        gc.enable()
    return min(times), outcome


SIZE = 256 * 1024


@pytest.mark.parametrize("shape, expected", [
    (long_arguments, "parsed"),
    (long_sum, "E001"),
    (many_statements, "parsed"),
    (deep_blocks, "parsed"),
    (unclosed_bracket, "E001"),
    (unclosed_list, "E002"),
    (many_syntax_errors, "E001"),
], ids=lambda value: getattr(value, "__name__", value))
def test_parse_time_grows_linearly(shape, expected):
    for attempt in range(2):
        small, outcome = _seconds(shape(SIZE), runs=2)
        assert outcome == expected
        large, outcome = _seconds(shape(4 * SIZE), runs=1)
        assert outcome == expected
        ratio = large / max(small, 1e-3)
        if ratio < 8:
            return
    pytest.fail(f"{shape.__name__}: 4x the text took {ratio:.1f}x the time ({small:.2f} s, then {large:.2f} s)")
