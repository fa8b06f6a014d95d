"""Tuple-valued constructor parameters (issue 23, convolutions): `kernel_size: int[2]` takes an int (for
every item, as Keras' `kernel_size=3`) or as many ints as it holds (`kernel_size=(3, 5)`); its items size
dimensions (`f32[kernel_size[0], kernel_size[1], C, F]`) and bodies read it. Misuse is located; built,
the module holds the tuple and its variables have the sizes its items say."""

from __future__ import annotations

import numpy as np
import pytest

from support import diagnostics_of

KERNEL = """\
module K(in_channels: int = ?, filters: int, kernel_size: int[2], strides: int[2] = (1, 1)):
    var kernel: f32[kernel_size[0], kernel_size[1], in_channels, filters] = glorot_uniform(seed=1)

    fn call(x: f32[N, H, W, in_channels]) -> f32[N, ?, ?, filters]:
        return conv2d(x, kernel, strides=strides)

    fn window() -> i32[]:
        return constant(kernel_size[0] * kernel_size[1])

"""


def _errors(text: str) -> list[tuple[str, int, str]]:
    return [(d.code, d.span.line, d.message) for d in diagnostics_of(text, analyze_only=True) if d.severity == "error"]


def _holder(construct: str) -> str:
    return KERNEL + f"module M:\n    sub k = {construct}\n\n    fn f(x: f32[N, 7, 9, 2]) -> f32[N, ?, ?, 4]:\n        return k(x)\n"


@pytest.mark.parametrize("construct", ["K(filters=4, kernel_size=3)", "K(filters=4, kernel_size=(3, 5))",
                                       "K(4, (1, 2), strides=(2, 1))", "K(filters=4, kernel_size=[3, 5], strides=2)"])
def test_an_int_or_a_tuple_of_the_length_is_accepted(construct):
    assert _errors(_holder(construct)) == []


@pytest.mark.parametrize("construct, message", [
    ("K(filters=4, kernel_size=(3, 5, 7))", "`K` parameter `kernel_size` is int[2], got a value that holds 3 ints"),
    ("K(filters=4, kernel_size=2.5)", "`K` parameter `kernel_size` is int[2], got a value that holds a Python float"),
    ("K(filters=4, kernel_size=3, strides=(1, 1.5))",
     "`K` parameter `strides` is int[2], got a value that holds a Python float"),
])
def test_a_value_of_another_length_or_kind_is_refused(construct, message):
    assert _errors(_holder(construct)) == [("E023", 11, message)]


@pytest.mark.parametrize("header, member, code, message", [
    ("k: int[2] = (1, 2, 3)", "fn f() -> i32[]:\n        return constant(1)", "E023",
     "default holds 3 ints, parameter `k` is int[2]"),
    ("k: int[2]", "var w: f32[k[2]] = zeros()", "E018", "`k` holds 2 ints: `k[2]` is out of range"),
    ("k: int", "var w: f32[k[0]] = zeros()", "E018", "`k` is not a tuple parameter, so `k[0]` is no size"),
    ("k: int[n]", "fn f() -> i32[]:\n        return constant(1)", "E017", "a tuple parameter has one fixed length: `int[2]`"),
])
def test_misuse_is_located(header, member, code, message):
    errors = _errors(f"module A({header}):\n    {member}\n")
    assert [(c, m) for c, _, m in errors] == [(code, message)]


def test_built_the_items_size_the_variables_and_an_int_stands_for_each(tmp_path):
    tf = pytest.importorskip("tensorflow")
    import tfm

    source = tmp_path / "k.tfm"
    source.write_text(KERNEL)
    module = tfm.load(source)
    square = module.K(in_channels=2, filters=4, kernel_size=3)
    assert square.kernel_size == (3, 3) and square.strides == (1, 1)
    assert square.kernel.shape == (3, 3, 2, 4) and int(square.window()) == 9
    wide = module.K(in_channels=2, filters=4, kernel_size=(3, 5), strides=[2, 1])
    assert wide.kernel.shape == (3, 5, 2, 4) and wide.strides == (2, 1)
    x = tf.constant(np.random.default_rng(0).normal(size=(1, 7, 9, 2)).astype(np.float32))
    expected = tf.nn.conv2d(x, wide.kernel, strides=[1, 2, 1, 1], padding="VALID")
    np.testing.assert_allclose(wide.call(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="kernel_size = \\(3, 5, 1\\) must be an int or 2 ints"):
        module.K(in_channels=2, filters=4, kernel_size=(3, 5, 1))
    with pytest.raises(ValueError, match="kernel_size\\[1\\] is 0"):
        module.K(in_channels=2, filters=4, kernel_size=(3, 0))


@pytest.mark.parametrize("construct, out, expected", [
    ("K(filters=4, kernel_size=(3, 5), strides=(2, 1))", "3, 5", []),
    ("K(filters=4, kernel_size=(3, 5), strides=(2, 1))", "4, 4", ["declared f32[N, 4, 4, 4], got f32[N, 3, 5, 4]"]),
    ("K(filters=4, kernel_size=3, strides=2)", "3, 4", []),
])
def test_a_call_is_typed_with_the_items_the_instance_has(construct, out, expected):
    """The kernel's sizes and the strides come from the tuple's items, so the output's size folds."""
    text = KERNEL + f"module M:\n    sub k = {construct}\n\n    fn f(x: f32[N, 8, 9, 2]) -> f32[N, {out}, 4]:\n" \
                    "        return k(x)\n"
    assert [m.split("is ", 1)[1] for _, _, m in _errors(text)] == expected


def test_the_command_line_gives_an_int_or_a_list(tmp_path, capsys):
    from tfm.cli import main

    source = tmp_path / "p.tfm"
    source.write_text("module P(pool: int[2] = 2):\n    fn call(x: f32[N, H, W, C]) -> f32[N, ?, ?, C]:\n"
                      "        return avg_pool2d(x, pool, strides=pool)\n")
    image = "x=[[[[1.0],[2.0]],[[3.0],[4.0]]]]"
    assert main(["run", str(source), "P.call", "--init", "pool=[1,2]", "--arg", image]) == 0
    rows = capsys.readouterr().out
    assert "1.5" in rows and "3.5" in rows  # 1x2 windows: a mean per row
    assert main(["run", str(source), "P.call", "--init", "pool=2", "--arg", image]) == 0
    assert "2.5" in capsys.readouterr().out  # one 2x2 window
