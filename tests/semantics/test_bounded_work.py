"""Bounded work: what a short source asks to build is counted before anything is built, and refused
past a documented limit (E056) that the user can raise; the checker stops after `errors` diagnostics.

The attacks are the adversarial review's. Each test guards against a hang with a generous alarm (a
guard, not a speed claim: speed is measured by benchmarks, never asserted)."""

from __future__ import annotations

import pytest

from tfm import dsl
from tfm.cli import main
from tfm.dsl.limits import Limits
from support import diagnostics_of, time_limit


def _codes(text: str, limits: Limits | None = None) -> list[str]:
    with time_limit(120):
        return [d.code for d in diagnostics_of(text, "attack.tfm", limits, analyze_only=True)]


def _doubling(levels: int) -> str:
    text = "module M0:\n    var w: f32[] = 0.0\n"
    return text + "".join(f"module M{i}:\n    sub a = M{i - 1}()\n    sub b = M{i - 1}()\n" for i in range(1, levels))


def test_modules_holding_each_other_twice_are_refused_before_building():
    assert _codes(_doubling(40)) == ["E056"]  # 2^40 instances; reported once, where the limit is crossed
    assert _codes(_doubling(12)) == []
    assert _codes(_doubling(16), Limits(submodules=100_000)) == []


def test_submodule_arguments_size_the_variables_they_build():
    text = ("module Layer(n: int):\n    var w: f32[n, n] = zeros()\n"
            "module Net(width: int = 20000):\n    sub a = Layer(width)\n    sub b = Layer(width * 2)\n")
    assert _codes(text) == ["E056"]  # 20000^2 * 4 + 40000^2 * 4 bytes
    assert _codes(text.replace("20000", "200")) == []


def test_sizes_written_as_expressions_are_counted():
    """Defaults and submodule arguments are counted by their evaluated values, not only when literals."""
    text = ("module Layer(n: int = 1 + 1):\n    var w: f32[n, n] = zeros()\n"
            "module Net(width: int = 2 * 10000):\n    sub a = Layer(width + 0)\n")
    assert _codes(text) == ["E056"]
    assert _codes(text.replace("2 * 10000", "2 * 100")) == []
    assert _codes("module Alone(n: int = 100 * 300):\n    var w: f32[n, n] = zeros()\n") == ["E056"]


def test_a_huge_variable_is_refused_and_the_limit_can_be_raised():
    text = "module Big:\n    var w: f32[30000, 30000] = zeros()\n"
    assert _codes(text) == ["E056"]
    assert _codes(text, Limits(variable_bytes=4 * 2**30)) == []


def test_unrolling_and_constant_sizes_are_bounded():
    unroll = ("module U:\n    fn f(x: f32[]) -> f32[]:\n        y = x\n        static for i in range(200000):\n"
              "            y = y + 1.0\n        return y\n")
    assert _codes(unroll) == ["E056"]
    huge = "module Z:\n    fn f(x: f32[]) -> f32[?, ?]:\n        return zeros([1000000000, 1000000000])\n"
    assert _codes(huge) == ["E056"]
    tiled = "module T:\n    fn f(x: f32[1000, 1000]) -> f32[?, ?]:\n        return tile(x, [1000, 1000])\n"
    assert _codes(tiled) == ["E056"]
    assert _codes("module P:\n    fn f(x: f32[]) -> f32[]:\n        return x + 9 ** 9 ** 9\n") == ["E023"]


def test_a_two_megabyte_list_literal_is_refused_before_it_is_parsed(monkeypatch):
    def no_parse(*args):
        raise AssertionError("the literal was parsed")

    monkeypatch.setattr(dsl, "parse", no_parse)
    items = ", ".join(["1.0"] * 400_000)
    assert _codes(f"module L:\n    fn f(x: f32[]) -> f32[]:\n        return x + reduce_sum([{items}])\n") == ["E056"]


def test_the_checker_stops_after_the_error_limit():
    unknown = "module N:\n    fn f(x: f32[]) -> f32[]:\n" + "".join(
        f"        y{i} = q{i} + x\n" for i in range(20_000)) + "        return x\n"
    codes = _codes(unknown)
    assert codes == ["E010"] * 100 + ["E056"]
    assert _codes(unknown, Limits(errors=5)) == ["E010"] * 5 + ["E056"]


def test_limits_are_set_from_the_command_line(tmp_path, capsys):
    source = tmp_path / "big.tfm"
    source.write_text("module Big:\n    var w: f32[30000, 30000] = zeros()\n")
    assert main(["check", str(source)]) == 1
    assert "--limit variable_bytes=3600000000" in capsys.readouterr().err
    assert main(["check", str(source), "--limit", "variable_bytes=4GiB"]) == 0
    assert main(["check", str(source), "--limit", "variable_bytes=lots"]) == 2
    assert main(["check", str(source), "--limit", "no_such_limit=3"]) == 2
    assert "not a positive whole number" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["errors=0", "errors=-1", "errors=1.5", "=3", "errors"])
def test_bad_limit_values_are_refused(text):
    with pytest.raises(ValueError):
        Limits().with_overrides([text])


def test_a_range_too_large_for_python_len_is_counted():
    text = ("module U:\n    fn f(x: f32[]) -> f32[]:\n        y = x\n"
            "        static for i in range(99999999999999999999999):\n            y = y + 1.0\n        return y\n")
    assert "E056" in _codes(text) and "E099" not in _codes(text)
