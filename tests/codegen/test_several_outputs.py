"""Methods that hand several values to other methods (issue 22, composition): `a, b = enc(x)`, named
and positional reads of several outputs, tuple unpacking in general (`a, b = b, a + b` in a graph
loop), returning a called method's outputs; typed statically, run in TensorFlow."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

import tfm
from support import diagnostics_of

STATS = """\
module Stats:
    fn moments(x: f32[N, D]) -> (mean: f32[D], variance: f32[D]):
        mean = reduce_mean(x, axis=0)
        return mean, reduce_mean(square(x - mean), axis=0)

module Model:
    sub stats = Stats()

    fn moments(x: f32[N, D]) -> (mean: f32[D], variance: f32[D]):
        return stats.moments(x)

    fn renamed(x: f32[N, D]) -> (mu: f32[D], var: f32[D]):
        return moments(x)

    fn standardize(x: f32[N, D]) -> f32[N, D]:
        mean, variance = moments(x)
        return (x - mean) / sqrt(variance + 1e-6)

    fn reads(x: f32[N, D]) -> f32[D]:
        out = stats.moments(x)
        return out.mean + out[1] + out["variance"] + out[-2]

    fn swapped(x: f32[N, D]) -> (mean: f32[D], variance: f32[D]):
        variance, mean = moments(x)
        return mean, variance

    fn fibonacci(n: i32[]) -> i32[]:
        a = 0
        b = 1
        for i in range(n):
            a, b = b, a + b
        return a
"""


def _model(tmp_path):
    source = tmp_path / "stats.tfm"
    source.write_text(STATS)
    return tfm.load(source).Model()


def test_several_outputs_unpack_read_and_return(tmp_path):
    model = _model(tmp_path)
    x = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    mean, variance = x.mean(axis=0), x.var(axis=0)
    moments = model.moments(x)
    np.testing.assert_allclose(moments["mean"].numpy(), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(moments["variance"].numpy(), variance, rtol=1e-5, atol=1e-6)
    renamed = model.renamed(x)
    assert set(renamed) == {"mu", "var"}
    np.testing.assert_allclose(renamed["var"].numpy(), variance, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.standardize(x).numpy(), (x - mean) / np.sqrt(variance + 1e-6), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.reads(x).numpy(), 2 * mean + 2 * variance, rtol=1e-5, atol=1e-6)
    swapped = model.swapped(x)  # unpacked by position, not by name: local `mean` holds the variance
    np.testing.assert_allclose(swapped["mean"].numpy(), variance, rtol=1e-5, atol=1e-6)


def test_tuple_assignment_reads_every_value_first_in_a_graph_loop(tmp_path):
    model = _model(tmp_path)
    fib = [0, 1]
    while len(fib) < 20:
        fib.append(fib[-1] + fib[-2])
    assert [int(model.fibonacci(np.int32(n))) for n in (0, 1, 2, 10, 19)] == [fib[n] for n in (0, 1, 2, 10, 19)]
    ops = {op.type for op in model.fibonacci.get_concrete_function().graph.get_operations()}
    assert "While" in ops or "StatelessWhile" in ops  # a graph loop carrying both names, never unrolled


def test_generated_unpacking_is_autograph_visible(tmp_path):
    model = _model(tmp_path)
    code = tf.autograph.to_code(type(model).standardize)
    assert "ag__.ld(_outputs)" in code and "self)._impl_moments" in code


def test_unpacked_outputs_keep_the_callers_dims():
    """The outputs are typed at the caller's argument shapes: a wrong declared size is a check error."""
    found = diagnostics_of(STATS.split("module Model:")[0] + """\
module Model:
    sub stats = Stats()

    fn wrong(x: f32[8, 3]) -> f32[4]:
        mean, variance = stats.moments(x)
        return mean
""")
    assert [d.code for d in found] == ["E032"]
    assert "f32[3]" in found[0].message and "f32[4]" in found[0].message


def test_several_outputs_are_not_a_tensor_and_unknown_names_are_located():
    found = diagnostics_of(STATS + """\
    fn misuse(x: f32[N, D], i: i32[]) -> f32[D]:
        out = moments(x)
        a = out[i]
        b = out.average
        c, d, e = moments(x)
        return reduce_sum(out)
""")
    messages = [(d.code, d.message) for d in found]
    assert [code for code, _ in messages] == ["E044", "E030", "E031", "E023"], messages
    assert "no output `average`" in found[1].message and found[1].hint == "outputs: mean, variance"


def test_an_unpacked_name_is_defined_and_renamed_where_it_is_written():
    from tfm.dsl import analyze
    from tfm.dsl.queries import definition, references

    analysis = analyze(STATS, "stats.tfm")
    line = STATS.splitlines().index("        mean, variance = moments(x)") + 1
    use = STATS.splitlines()[line].index("variance") + 1  # `variance` read on the next line
    found = definition(analysis, "stats.tfm", line + 1, use)
    assert found is not None and (found.line, found.column, found.end_column) == (line, 15, 23)
    renamed = references(analysis, "stats.tfm", line, 16)
    assert renamed is not None and renamed[0] == "variance"
    assert [(s.line, s.column) for s in renamed[1]] == [(line, 15), (line + 1, use)]


def test_hovering_an_unpacked_name_shows_its_type():
    from tfm.dsl import analyze
    from tfm.dsl.queries import hover

    text = STATS.replace("    fn standardize(x: f32[N, D])", "    fn standardize(x: f32[N, 3])")
    analysis = analyze(text, "stats.tfm")
    line = text.splitlines().index("        mean, variance = moments(x)") + 1
    assert hover(analysis, "stats.tfm", line, 16) == "`variance`: `f32[3]`"


def test_several_outputs_through_a_tensor_if_keep_their_names(tmp_path):
    source = tmp_path / "branch.tfm"
    source.write_text(STATS + """\
    fn chosen(x: f32[N, D], flag: bool[]) -> f32[D]:
        out = moments(x)
        if flag:
            out = moments(2.0 * x)
        return out.mean
""")
    model = tfm.load(source).Model()
    x = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(model.chosen(x, True).numpy(), 2 * x.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.chosen(x, False).numpy(), x.mean(axis=0), rtol=1e-5, atol=1e-6)
    found = diagnostics_of(STATS + """\
    fn mixed(x: f32[N, D], flag: bool[]) -> f32[D]:
        out = moments(x)
        if flag:
            out = renamed(x)
        return out[0]
""")
    assert [d.code for d in found] == ["E046"] and "(mu: f32[D], var: f32[D])" in found[0].message
