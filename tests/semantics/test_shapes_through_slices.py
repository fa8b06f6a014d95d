"""Sizes known as dims survive slices (issue 22 item 7): `shape(x)[i]` holds x's dim i, arithmetic of
such sizes (and of literals and `int` parameters) holds the dim expression, and a unit-step slice
bounded by them has that size, so the Transformer example knows every dim but batch and sequence."""

from __future__ import annotations

import pytest

from support import EXAMPLES, diagnostics_of
from tfm.dsl import analyze, nodes as n
from tfm.dsl.analysis import walk


def _local_types(text: str, file: str = "p.tfm") -> dict[str, str]:
    """Each local's type where it is last assigned, and each submodule call's type by receiver."""
    analysis = analyze(text, file)
    found: dict[str, str] = {}
    for module in analysis.program.modules:
        for method in module.methods:
            for node in walk(method.body):
                if isinstance(node, n.Assign):
                    found[node.target] = str(analysis.types[node.value])
                elif isinstance(node, n.Call) and analysis.calls.get(node) is not None \
                        and analysis.calls[node].kind == "sub_method":
                    found[f"{method.name}: {analysis.calls[node].receiver}"] = str(analysis.types[node])
    return found


def _errors(text: str) -> list[tuple[str, int, str]]:
    return [(d.code, d.span.line, d.message) for d in diagnostics_of(text, analyze_only=True) if d.severity == "error"]


@pytest.mark.parametrize("expression, dims", [
    ("positions[:shape(ids)[1], :]", "[T, 8]"),  # a named dim of the bound's tensor
    ("positions[:shape(x)[1] - 1]", "[T - 1, 8]"),  # a dim expression of it
    ("x[:, :shape(x)[1] // 2]", "[N, T // 2, 8]"),
    ("x[:, shape(x)[1] // 2:]", "[N, T - T // 2, 8]"),
    ("x[:, 1:-1]", "[N, T - 2, 8]"),  # a negative bound counts from the end of the axis
    ("x[:, k - 1:]", "[N, T - k + 1, 8]"),  # an `int` parameter is the size it names
    ("x[:shape(x)[0], :, :shape(x)[2]]", "[N, T, 8]"),  # the whole axis, as a bound
    ("positions[:shape(x)[0] * 2]", "[2 * N, 8]"),
    ("positions[:k + 2]", "[k + 2, 8]"),  # a default is not the value a module is built with: the name is kept
])
def test_a_slice_bounded_by_a_known_size_has_that_size(expression, dims):
    text = ("module M(k: int = 3):\n    var positions: f32[16, 8] = zeros()\n\n"
            f"    fn f(ids: i32[N, T], x: f32[N, T, 8]) -> f32[?, 8]:\n        y = {expression}\n        return positions\n")
    assert _local_types(text)["y"] == f"f32{dims}"


def test_a_size_held_by_a_local_reaches_the_slice_and_a_loop_forgets_it():
    text = """\
module M:
    fn f(x: f32[N, T, 8]) -> f32[N, ?, 8]:
        t = shape(x)[1]
        half = x[:, :t // 2]
        y = x
        for i in range(3):
            y = x[:, :t]
            t = t - 1
        return y
"""
    types = _local_types(text)
    assert types["half"] == "f32[N, T // 2, 8]"
    assert types["y"] == "f32[N, ?, 8]"  # t is T on the first iteration only


@pytest.mark.parametrize("item", [":reduce_max(range(5))", ":cast(reduce_sum(x), i32)", ":shape(x)[i]",
                                  "shape(x)[1]:shape(x)[1]",  # empty: unknown, as an empty slice of literals is
                                  ":shape(x)[1]:shape(x)[0]"])  # a step that is not 1
def test_a_bound_from_a_tensors_values_leaves_the_size_unknown(item):
    text = ("module M:\n    fn f(x: f32[N, T, 8], i: i32[]) -> f32[N, ?, 8]:\n"
            f"        y = x[:, {item}]\n        return y\n")
    assert _local_types(text)["y"] == "f32[N, ?, 8]"


def test_a_wrong_size_after_the_slice_is_a_check_error():
    text = ("module M:\n    var positions: f32[16, 8] = zeros()\n\n"
            "    fn f(ids: i32[N, T]) -> f32[T, 4]:\n        return positions[:shape(ids)[1], :]\n")
    errors = _errors(text)
    assert [(code, line) for code, line, _ in errors] == [("E032", 5)]
    assert "f32[T, 8]" in errors[0][2]


def test_the_transformers_dims_are_all_known_but_batch_and_sequence():
    types = _local_types((EXAMPLES / "transformer_encoder.tfm").read_text(), "transformer_encoder.tfm")
    assert types["encode: tokens"] == "f32[N, T, dim]"
    assert types["pairs"] == "f32[N, T, T]"
    assert types["encode: attention"] == "f32[N, T, dim]"
    assert types["encode: drop"] == "f32[N, T, dim]"
    assert types["encode: norm_1"] == types["encode: norm_2"] == "f32[N, T, dim]"
    assert types["encode: ff_1"] == "f32[N, T, ff_dim]"
    assert types["ff"] == types["encode: ff_2"] == "f32[N, T, dim]"
    assert types["pooled"] == "f32[N, dim]"
    assert types["logits: head"] == "f32[N, num_classes]"
    assert all("?" not in t for t in types.values()), types


def test_the_position_slice_alone_gives_the_sequence_dim():
    text = ("module M(max_len: int = 16, dim: int = 32):\n    var positions: f32[max_len, dim] = zeros()\n\n"
            "    fn f(ids: i32[N, T]) -> f32[T, dim]:\n        p = positions[:shape(ids)[1], :]\n        return p\n")
    assert _local_types(text)["p"] == "f32[T, dim]"


# reshape: the -1 as a dim expression of the input's named dims, or a located error ----------------


@pytest.mark.parametrize("target, dims", [
    ("[-1, 1568]", "[N, 1568]"),
    ("[-1, 98]", "[16 * N, 98]"),
    ("[shape(x)[0], -1]", "[N, 1568]"),  # a size the checker knows, in the target
    ("[-1]", "[1568 * N]"),
    ("[shape(x)[0], 2, -1]", "[N, 2, 784]"),
])
def test_the_minus_one_of_a_reshape_is_what_is_left_of_the_inputs_elements(target, dims):
    text = f"module M:\n    fn f(x: f32[N, 14, 14, 8]) -> f32[N, 14, 14, 8]:\n        y = reshape(x, {target})\n        return x\n"
    assert _local_types(text)["y"] == f"f32{dims}"


def test_the_minus_one_keeps_named_dims_and_parameters():
    text = ("module M(k: int = 4):\n    fn f(x: f32[N, T, k], z: f32[N, T, 6]) -> f32[N, T, k]:\n"
            "        y = reshape(x, [-1, k])\n        w = reshape(z, [shape(z)[0], -1, 3])\n        return x\n")
    types = _local_types(text)
    assert types["y"] == "f32[N * T, k]"
    assert types["w"] == "f32[N, 2 * T, 3]"


def test_products_in_dims_are_counted_by_their_factors():
    text = ("module M(dim: int = 4):\n    fn f(x: f32[N, T, dim]) -> f32[N, T // 2, 2 * dim]:\n"
            "        y = reshape(x[:, :shape(x)[1] // 2 * 2], [shape(x)[0], -1, 2 * dim])\n        return y\n")
    assert _local_types(text)["y"] == "f32[N, T // 2, 2 * dim]"


def test_a_minus_one_that_cannot_hold_the_batch_whole_is_a_check_error_naming_both_shapes():
    text = "module M:\n    fn f(x: f32[N, 14, 14, 8]) -> f32[?, 999]:\n        return reshape(x, [-1, 999])\n"
    assert _errors(text) == [("E053", 3, "`reshape` of f32[N, 14, 14, 8] (1568 * N elements) to [-1, 999]: "
                                         "1568 is not a multiple of 999, so the -1 cannot be N times a size")]


@pytest.mark.parametrize("target", ["[-1, k]", "[-1, shape(z)[1]]", "[-1, i]"])
def test_a_target_size_the_input_does_not_show_is_not_checked(target):
    text = (f"module M(k: int = 4):\n    fn f(x: f32[N, 14, 14, 8], z: f32[N, T], i: i32[]) -> f32[?, ?]:\n"
            f"        return reshape(x, {target})\n")
    assert _errors(text) == []


def test_a_flatten_layer_into_a_dense_of_another_size_is_a_check_error_naming_both_shapes():
    text = ("module Net:\n    sub conv = Conv2D(1, 8, 3, padding=\"SAME\", seed=0)\n    sub pool = MaxPool2D(2)\n"
            "    sub flat = Flatten()\n    sub head = Dense(999, 10, seed=1)\n\n"
            "    fn logits(images: f32[N, 28, 28, 1]) -> f32[N, 10]:\n        return head(flat(pool(conv(images))))\n")
    errors = _errors(text)
    assert [(code, line) for code, line, _ in errors] == [("E050", 8)]
    assert "f32[N, ..., 999]" in errors[0][2] and "got f32[N, 1568]" in errors[0][2]
    assert _errors(text.replace("Dense(999", "Dense(1568")) == []
