"""Shapes survive library layers (issue 22): a call whose declared result leaves sizes unknown is
typed from the callee's body at the caller's arguments and the submodule's parameters, so a CNN's
spatial sizes are known and a wrong flatten size into `Dense` is a check error naming both shapes."""

from __future__ import annotations

from support import EXAMPLES, diagnostics_of
from tfm.dsl import analyze, nodes as n
from tfm.dsl.analysis import walk


def _sub_call_types(text: str, file: str = "p.tfm") -> dict[str, str]:
    analysis = analyze(text, file)
    return {analysis.calls[node].receiver or "": str(analysis.types[node])
            for module in analysis.program.modules for method in module.methods for node in walk(method.body)
            if isinstance(node, n.Call) and node in analysis.calls and analysis.calls[node].kind == "sub_method"}


def test_the_cnn_examples_sizes_are_known_through_every_layer():
    types = _sub_call_types((EXAMPLES / "cnn_classifier.tfm").read_text(), "cnn_classifier.tfm")
    assert types["conv_1"] == "f32[N, 28, 28, 16]"
    assert types["pool_1"] == "f32[N, 14, 14, 16]"
    assert types["conv_2"] == "f32[N, 14, 14, 32]"
    assert types["pool_2"] == "f32[N, 7, 7, 32]"
    assert types["norm"] == "f32[N, 7, 7, 32]"


NET = """\
module Net:
    sub conv = Conv2D(1, 8, 3, padding="SAME", activation="relu", seed=0)
    sub pool = MaxPool2D(2)
    sub valid = Conv2D(8, 4, 5, strides=2)
    sub head = Dense(FEATURES, 10, seed=1)

    fn logits(images: f32[N, 28, 28, 1]) -> f32[N, 10]:
        return head(reshape(pool(conv(images)), [-1, 14 * 14 * 8]))

    fn shrunk(images: f32[N, 28, 28, 1]) -> f32[N, 5, 5, 4]:
        return valid(pool(conv(images)))
"""


def test_a_flatten_of_the_right_size_checks_and_valid_strided_sizes_are_computed():
    assert diagnostics_of(NET.replace("FEATURES", "1568"), analyze_only=True) == []
    types = _sub_call_types(NET.replace("FEATURES", "1568"))
    assert types["valid"] == "f32[N, 5, 5, 4]"  # (14 - 5) // 2 + 1


def test_a_wrong_flatten_size_into_dense_names_both_shapes():
    found = [d for d in diagnostics_of(NET.replace("FEATURES", "999"), analyze_only=True) if d.severity == "error"]
    assert [(d.code, d.span.line) for d in found] == [("E050", 8)]
    assert "f32[N, ..., 999]" in found[0].message and "f32[N, 1568]" in found[0].message


def test_a_wrong_declared_result_after_layers_is_a_check_error():
    found = diagnostics_of(NET.replace("FEATURES", "1568").replace("f32[N, 5, 5, 4]", "f32[N, 7, 7, 4]"),
                           analyze_only=True)
    assert [(d.code, d.span.line) for d in found] == [("E032", 11)]
    assert "f32[N, 5, 5, 4]" in found[0].message


def test_a_callee_typed_for_a_call_reports_nothing_of_its_own_again():
    """The callee's body is typed again for each call in a shadow: its own problems are reported once,
    where it is checked, however many calls it has."""
    program = """\
module Layer(k: int = 2):
    fn call(x: f32[N, ?]) -> f32[N, ?]:
        y = x[:, k:]
        bad = cast(x, i32) + 1.5
        return y

module Net:
    sub a = Layer(3)
    sub b = Layer(1)

    fn f(x: f32[4, 10]) -> f32[4, 7]:
        return a(x) + b(x)[:, 2:]
"""
    found = diagnostics_of(program, analyze_only=True)
    assert [(d.code, d.span.line) for d in found if d.severity == "error"] == [("E040", 4)]
    found = diagnostics_of(program.replace("-> f32[4, 7]", "-> f32[4, 8]"), analyze_only=True)
    assert [(d.code, d.span.line) for d in found if d.severity == "error"] == [("E040", 4), ("E032", 12)]


def test_typing_bodies_for_calls_is_bounded_work(monkeypatch):
    """Seven modules each calling the one below ten times: each body is typed once per distinct call
    (and only four deep), not once per path (10^6)."""
    from tfm.dsl.inference import specialize

    typed = []
    original = specialize._body_result
    monkeypatch.setattr(specialize, "_body_result", lambda *args: typed.append(args[2]) or original(*args))
    modules = ["module L0:\n    fn call(x: f32[N, ?]) -> f32[N, ?]:\n        return x[:, 1:]\n"]
    for level in range(1, 7):
        calls = "".join("        y = inner(x)\n" for _ in range(10))
        modules.append(f"module L{level}:\n    sub inner = L{level - 1}()\n\n"
                       f"    fn call(x: f32[N, ?]) -> f32[N, ?]:\n{calls}        return y\n")
    modules.append("module Top:\n    sub inner = L6()\n\n    fn f(x: f32[4, 100]) -> f32[4, ?]:\n        return inner(x)\n")
    analyze("\n".join(modules), "deep.tfm")
    assert 0 < len(typed) <= specialize.MAX_DEPTH * 7, len(typed)
