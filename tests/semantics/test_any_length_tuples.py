"""Tuple parameters of any length (`target_shape: int[...]`) and method outputs of any rank (`-> f32`),
typed at each call from the body with the instance's values: the library's Reshape and Permute, and a
user's module written the same way; what the checker refuses, and where."""

from __future__ import annotations

from support import diagnostics_of


def _codes(text: str) -> list[tuple[str, str]]:
    return [(d.code, d.message) for d in diagnostics_of(text, analyze_only=True)]


def test_reshape_is_typed_at_each_call_with_its_target_shape():
    text = ("module M:\n    sub a = Reshape((4, 3))\n    sub b = Reshape((-1,))\n    sub c = Reshape([2, -1, 3])\n\n"
            "    fn f(x: f32[B, 3, 4]) -> f32[B, 4, 3]:\n        return a(x)\n"
            "    fn g(x: f32[B, 3, 4]) -> f32[B, 12]:\n        return b(x)\n"
            "    fn h(x: f32[2, 6, 2]) -> f32[2, 2, 2, 3]:\n        return c(x)\n")
    assert _codes(text) == []


def test_a_wrong_declared_output_after_reshape_is_reported():
    text = "module M:\n    sub a = Reshape((4, 3))\n\n    fn f(x: f32[B, 3, 4]) -> f32[B, 3, 4]:\n        return a(x)\n"
    assert [code for code, _ in _codes(text)] == ["E032"]


def test_a_reshape_that_changes_the_element_count_names_both_shapes():
    text = "module M:\n    sub a = Reshape((5, 3))\n\n    fn f(x: f32[2, 3, 4]) -> f32[2, 5, 3]:\n        return a(x)\n"
    (code, message), = _codes(text)
    assert code == "E053"
    assert "f32[2, 3, 4]" in message and "[2, 5, 3]" in message and "Reshape.call" in message


def test_a_target_that_does_not_divide_the_input_is_reported():
    text = "module M:\n    sub a = Reshape((-1, 5))\n\n    fn f(x: f32[2, 3, 4]) -> f32[2, 5, 5]:\n        return a(x)\n"
    assert [code for code, _ in _codes(text)] == ["E053"]


def test_permute_takes_keras_one_based_dims_and_refuses_what_is_no_permutation():
    good = ("module M:\n    sub p = Permute((3, 1, 2))\n\n"
            "    fn f(x: f32[B, 3, 4, 5]) -> f32[B, 5, 3, 4]:\n        return p(x)\n")
    assert _codes(good) == []
    for dims in ("(1, 1)", "(0, 1)", "(1, 2, 3)"):
        bad = f"module M:\n    sub p = Permute({dims})\n\n    fn f(x: f32[2, 3, 4]) -> f32[2, 4, 3]:\n        return p(x)\n"
        (code, message), = _codes(bad)
        assert code == "E023" and "not a permutation" in message and "Permute.call" in message


def test_an_int_is_no_any_length_tuple():
    """`int[2]` takes an int for both items; `int[...]` has no length to repeat it to."""
    text = "module M:\n    sub a = Reshape(12)\n\n    fn f(x: f32[B, 3, 4]) -> f32[B, 12]:\n        return a(x)\n"
    codes = _codes(text)
    assert codes and codes[0][0] == "E023" and "int[...]" in codes[0][1]
    assert [c for c, _ in _codes("module M(s: int[...] = 3):\n    fn f() -> f32[]:\n        return 1.0\n")] == ["E023"]
    floats = "module M:\n    sub a = Reshape((1.5, 2))\n\n    fn f(x: f32[B, 3]) -> f32[B, 3]:\n        return x\n"
    assert [c for c, _ in _codes(floats)] == ["E023"]


def test_a_users_module_with_an_any_length_tuple_and_an_any_rank_output():
    """The rule is the language's, not the library's: a default tuple, a body joining sizes and the
    tuple with `concat`, typed per instance."""
    text = ("module Heads(split: int[...] = (2, -1)):\n"
            "    fn call(x: f32[N, T, D]) -> f32:\n"
            "        return reshape(x, concat([shape(x)[:2], split], 0))\n\n"
            "module M:\n    sub h = Heads()\n    sub k = Heads((4, 2, -1))\n\n"
            "    fn f(x: f32[N, T, 8]) -> f32[N, T, 2, 4]:\n        return h(x)\n"
            "    fn g(x: f32[N, T, 16]) -> f32[N, T, 4, 2, 2]:\n        return k(x)\n")
    assert _codes(text) == []


def test_items_of_an_any_length_tuple_size_no_dimension():
    text = "module M(s: int[...]):\n    var w: f32[s[0]] = zeros()\n"
    (code, message), = _codes(text)
    assert code == "E018" and "int[...]" in message


def test_an_input_still_needs_a_shape():
    text = "module M:\n    fn f(x: f32) -> f32:\n        return x\n"
    assert [code for code, _ in _codes(text)] == ["E017"]


def test_resize_sizes_are_two_sizes_of_at_least_one():
    for size in ("[0, 2]", "[2]", "[shape(x)[1], 2, 3]"):
        text = f"module M:\n    fn f(x: f32[N, 3, 4, 1]) -> f32[N, ?, ?, 1]:\n        return resize(x, {size})\n"
        assert [code for code, _ in _codes(text)] == ["E023"], size
    ok = ("module M(height: int):\n    fn f(x: f32[N, H, W, 1]) -> f32[N, height, W * 2 + 1, 1]:\n"
          "        return resize(x, [height, shape(x)[2] * 2 + 1])\n")
    assert _codes(ok) == []
