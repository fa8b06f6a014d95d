"""Gradients and submodule members are typed statically: a gradient has its source's type (a list of
sources, a list of their types), a member of a submodule has the type it has inside the submodule with
its dims seen from the parent; misuse is a located error before TensorFlow runs."""

from __future__ import annotations

import pytest

from tfm import dsl
from support import diagnostics_of


HEADER = """
module M(features: int = 3):
    var w: f32[features, 2] = zeros()
    var b: f32[2] = zeros()
    var steps: i64[] = 0
    sub dense = Dense(features, 5)
    sub emb = Embedding(10, 4)
    sub optimizer = Adam()
"""


@pytest.mark.parametrize("body, shown, expected", [
    ("g = tape.gradient(loss, w)", "g", ["f32[features, 2]"]),
    ("g = tape.gradient(loss, [w, b])", "g, g[0], g[1], g[-1]",
     ["list[f32[features, 2], f32[2]]", "f32[features, 2]", "f32[2]", "f32[2]"]),
    ("g = tape.gradient(loss, dense.kernel)", "g", ["f32[features, 5]"]),
    ("g = tape.gradient(loss, x)", "g", ["f32[N, features]"]),
    ("g = tape.gradient(loss, dense.trainable_variables)", "g", ["list of tensors"]),
    ("pass", "dense.kernel, dense.bias, emb.embeddings", ["f32[features, 5]", "f32[5]", "f32[10, 4]"]),
    ("pass", "optimizer.learning_rate, optimizer.iterations", ["f32[]", "i64[]"]),
])
def test_gradients_and_members_have_their_sources_types(body, shown, expected):
    source = HEADER + (
        "\n    fn f(x: f32[N, features]):\n"
        "        with GradientTape(persistent=True) as tape:\n"
        "            tape.watch(x)\n"
        "            loss = reduce_sum(x @ w + b) + reduce_sum(dense(x)) + reduce_sum(emb.embeddings)\n"
        f"        {body}\n"
        f"        print({shown})\n")
    analysis = dsl.analyze(source, "t.tfm")
    method = analysis.program.modules[-1].methods[0]
    printed = method.body[-1].expr
    assert [str(analysis.types[a]) for a in printed.args] == expected


@pytest.mark.parametrize("expression, message", [
    ("x @ dense.kernel @ emb.embeddings", "matrix product"),  # [N, 5] @ [10, 4]
    ("dense.kernel + emb.embeddings", "broadcast"),
    ("cast(optimizer.iterations, f32) + dense.kernl", "has no variable `kernl`"),
])
def test_member_shapes_are_checked_like_the_submodules_own(expression, message):
    source = HEADER + f"\n    fn f(x: f32[N, features]) -> f32[]:\n        return reduce_sum({expression})\n"
    found = diagnostics_of(source)
    assert found and message in found[0].message, [d.message for d in found]


def test_a_gradient_assigned_to_a_variable_of_another_shape_is_an_error():
    source = HEADER + ("\n    fn f(x: f32[N, features]):\n"
                       "        with GradientTape() as tape:\n"
                       "            loss = reduce_sum(x @ w + b)\n"
                       "        grads = tape.gradient(loss, [w, b])\n"
                       "        b.assign_sub(0.1 * grads[0])\n")
    found = diagnostics_of(source)
    assert [d.code for d in found] == ["E049"], [d.message for d in found]
    assert "f32[features, 2]" in found[0].message


def test_a_local_computed_before_the_tape_must_be_watched_and_one_computed_under_it_need_not():
    template = HEADER + ("\n    fn f(x: f32[N, features]) -> f32[N, 2]:\n"
                         "        h = x @ w\n"
                         "        with GradientTape() as tape:\n"
                         "{watch}"
                         "            y = reduce_sum(relu(h + b))\n"
                         "        return tape.gradient(y, h)\n")
    assert [d.code for d in diagnostics_of(template.format(watch=""))] == ["E023"]
    assert diagnostics_of(template.format(watch="            tape.watch(h)\n")) == []


def test_tfm_check_does_not_import_tensorflow_for_gradients():
    import subprocess
    import sys

    code = ("import sys, tfm\n"
            "assert tfm.check('examples/wgan_gp.tfm') == []\n"
            "assert 'tensorflow' not in sys.modules\n")
    from support import ROOT

    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def _warnings(source: str) -> list[str]:
    from tfm import compile_text

    return [f"{w.code} {w.message}" for w in compile_text(source, "t.tfm").analysis.warnings if w.code == "W008"]


@pytest.mark.parametrize("target, warned", [
    ("reduce_sum(x @ w)", ["b", "dense.kernel"]),
    ("reduce_sum(x @ w + b) + reduce_sum(dense(x))", []),
    ("reduce_sum(through_typed_list(x))", ["dense.kernel"]),  # a typed list carries what is written to it
    ("reduce_sum(uses_dense(x))", ["b"]),  # through the methods the target calls
])
def test_a_source_no_gradient_reaches_is_a_warning(target, warned):
    source = HEADER + (
        "\n    fn through_typed_list(x: f32[N, features]) -> f32[N, 2]:\n"
        "        xs: list[f32[N, 2]] = []\n"
        "        xs.append(x @ w)\n"
        "        xs[0] = xs[0] + b\n"
        "        return xs.stack()[0]\n"
        "\n    fn uses_dense(x: f32[N, features]) -> f32[N, 7]:\n"
        "        return concat([dense(x), x @ w], axis=1)\n"
        "\n    fn f(x: f32[N, features]) -> f32[2]:\n"
        "        with GradientTape() as tape:\n"
        f"            y = {target}\n"
        "        grads = tape.gradient(y, [w, b, dense.kernel])\n"
        "        return grads[1]\n")
    assert _warnings(source) == [f"W008 no gradient reaches `{name}` from the target: its gradient is None"
                                 for name in warned]
    asked = source.replace("[w, b, dense.kernel])", '[w, b, dense.kernel], unconnected_gradients="zero")')
    assert _warnings(asked) == []
