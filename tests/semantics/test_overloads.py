"""Methods declared with several signatures: `fn call(x: f32[N, D] | f32[N, T, D])` compiles to one
tf.function and one SavedModel signature per signature, and callers (Python, other methods, other
modules, `tfm run`, `tfm export`) reach the one their inputs fit."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import tfm
from tfm.cli import main

SOURCE = """\
module Scale(width: int):
    var w: f32[width] = glorot_uniform(seed=1)

    fn call(x: f32[N, width] | f32[N, T, width]) -> f32[N, width] | f32[N, T, width]:
        return relu(x * w)

    fn pooled(x: f32[N, T, width]) -> f32[N, width]:
        return reduce_mean(call(x), axis=1) + call(x[:, 0])

module Model:
    sub scale = Scale(3)

    fn step(x: f32[B, 3], seq: f32[B, S, 3]) -> (flat: f32[B, 3], deep: f32[B, S, 3]):
        return scale.call(x), scale(seq)
"""


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    path = tmp_path_factory.mktemp("overloads") / "scale.tfm"
    path.write_text(SOURCE)
    return path


@pytest.fixture(scope="module")
def compiled(source):
    return tfm.load(source)


def _expected(scale, x):
    return np.maximum(x * scale.w.numpy(), 0.0)


def test_one_method_takes_inputs_of_each_declared_rank(compiled):
    scale = compiled.Scale(3)
    flat = np.arange(6, dtype=np.float32).reshape(2, 3) - 2
    deep = np.arange(24, dtype=np.float32).reshape(2, 4, 3) - 12
    np.testing.assert_allclose(scale.call(flat).numpy(), _expected(scale, flat), rtol=1e-6)
    np.testing.assert_allclose(scale.call(tf.constant(deep)).numpy(), _expected(scale, deep), rtol=1e-6)
    np.testing.assert_allclose(scale.call([[1.0, -1.0, 2.0]]).numpy(), _expected(scale, np.array([[1.0, -1.0, 2.0]])),
                               rtol=1e-6)
    with pytest.raises(ValueError, match=r"Scale.call: no signature surely takes inputs float32\(1, 2, 2, 3\)"):
        scale.call(np.zeros([1, 2, 2, 3], np.float32))


def test_each_signature_is_its_own_tf_function_traced_once(compiled):
    scale = compiled.Scale(3)
    for batch in (1, 2, 5, 9):
        scale.call(np.ones([batch, 3], np.float32))
        scale.call(np.ones([batch, batch + 1, 3], np.float32))
    assert scale.call_1.experimental_get_tracing_count() == 1
    assert scale.call_2.experimental_get_tracing_count() == 1
    assert scale.call_1.input_signature[0].shape.as_list() == [None, 3]
    assert scale.call_2.input_signature[0].shape.as_list() == [None, None, 3]


def test_calls_inside_tfm_pick_the_signature_their_arguments_fit(compiled):
    scale = compiled.Scale(3)
    deep = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
    want = _expected(scale, deep).mean(axis=1) + _expected(scale, deep[:, 0])
    np.testing.assert_allclose(scale.pooled(deep).numpy(), want, rtol=1e-5)
    model = compiled.Model()
    out = model.step(deep[:, 0], deep)
    np.testing.assert_allclose(out["flat"].numpy(), _expected(model.scale, deep[:, 0]), rtol=1e-6)
    np.testing.assert_allclose(out["deep"].numpy(), _expected(model.scale, deep), rtol=1e-6)


def test_generated_code_calls_the_chosen_signature_directly(source):
    python = _python(source)
    assert "self._impl_call_2(x)" in python and "self._impl_call_1(x[:, 0])" in python
    assert "self.scale._impl_call_1(x)" in python and "self.scale._impl_call_2(seq)" in python
    assert "def call(self, x):" in python and "_dispatch('Scale.call', (self.call_1, self.call_2), (x,))" in python


def _python(source) -> str:
    from tfm.pipeline import compile_text

    return compile_text(source.read_text(), str(source)).python


def test_an_argument_the_checker_cannot_place_is_dispatched_when_traced(tmp_path):
    """Where the argument's rank is unknown to tfm, the call goes through the dispatcher when traced;
    a rank TensorFlow does not know either is refused there, never passed to the wrong signature."""
    path = tmp_path / "dispatch.tfm"
    path.write_text("module D:\n"
                    "    fn total(x: f32[N] | f32[N, M]) -> f32[]:\n"
                    "        return reduce_sum(x)\n\n"
                    "    fn reshaped(x: f32[N], dims: i32[K]) -> f32[]:\n"
                    "        return total(reshape(x, dims))\n")
    assert "return self.total(tf.reshape(x, dims))" in _python(path)
    d = tfm.load(path).D()
    x = np.arange(6, dtype=np.float32)
    with pytest.raises(ValueError, match="D.total: an input's rank is not known when the call is traced"):
        d.reshaped(x, np.array([2, 3], np.int32))
    in_graph = tf.function(lambda v: d.total(tf.reshape(v, [2, 3])))
    assert float(in_graph(x)) == 15.0 and d.total_2.experimental_get_tracing_count() == 1


def test_export_serves_each_signature_and_tfm_run_picks_one(source, tmp_path, capsys):
    out = tmp_path / "scale"
    assert main(["export", str(source), "--module", "Scale", "--init", "width=3", "--out", str(out)]) == 0
    loaded = tf.saved_model.load(str(out))
    assert sorted(loaded.signatures) == ["call_2", "pooled", "serving_default"]
    _, inputs = loaded.signatures["call_2"].structured_input_signature
    assert inputs["x"].shape.as_list() == [None, None, 3]
    capsys.readouterr()
    assert main(["run", str(source), "Scale.call", "--init", "width=3", "--arg", "x=[[[1, 2, 3]]]"]) == 0
    assert "[[[" in capsys.readouterr().out
    assert main(["run", str(source), "Scale.call", "--init", "width=3", "--arg", "x=[1, 2]"]) == 1
    assert "no signature of call takes these inputs" in capsys.readouterr().err


def test_a_problem_in_one_signature_names_it_and_shared_ones_are_reported_once():
    from tfm.dsl import TfmError, analyze

    source = ("module P:\n    fn f(x: f32[N, 4] | f32[N, T, 4]) -> f32[N] | f32[N, T]:\n"
              "        y = reduce_sum(x, axis=2)\n        return undefined_name\n")
    with pytest.raises(TfmError) as caught:
        analyze(source, "p.tfm")
    messages = [d.message for d in caught.value.diagnostics]
    assert messages.count("unknown name `undefined_name`") == 1
    assert any("axis 2 is out of range for rank 2 (in signature `f_1`)" in m for m in messages)


def test_the_formatter_keeps_the_alternatives():
    from tfm.dsl.formatter import format_source

    assert "fn call(x: f32[N, 3] | f32[N, T, 3]) -> f32[N] | f32[N, T]:" in format_source(
        "module P:\n    fn call(x: f32[N, 3]|f32[N, T, 3]) -> f32[N]  |  f32[N, T]:\n        return x[..., 0]\n")


def test_the_number_of_signatures_is_bounded():
    """Each signature copies the body: a line of `|`s must not multiply a method thousands of times."""
    from tfm.dsl import TfmError, analyze
    from tfm.dsl.overloads import MAX_SIGNATURES

    many = " | ".join(f"f32[{', '.join(['2'] * rank)}]" for rank in range(MAX_SIGNATURES + 1))
    with pytest.raises(TfmError) as caught:
        analyze(f"module P:\n    fn f(x: {many}) -> f32[]:\n        return x\n", "p.tfm")
    assert [d.code for d in caught.value.diagnostics] == ["E056"]


@pytest.mark.parametrize("inputs", ["x: f32[N] | f32[M]", "x: f32[N, 3] | f32[N, 3]", "x: f32[N, D] | f32[N, 3]",
                                    "x: f32[N], y: f32[] | f32[]"])
def test_a_signature_no_call_could_reach_is_refused(inputs):
    from tfm.dsl import TfmError, analyze

    with pytest.raises(TfmError) as caught:
        analyze(f"module P:\n    fn f({inputs}) -> f32[]:\n        return 0.0\n", "p.tfm")
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E060" and "would never run it" in diagnostic.message


def test_signatures_may_differ_by_fixed_size_or_dtype():
    from tfm.dsl import analyze

    analyze("module P:\n    fn f(x: f32[N, 3] | f32[N, 4] | f64[N, 3]) -> f32[]:\n        return 0.0\n", "p.tfm")


def test_a_size_unknown_when_traced_is_not_guessed(tmp_path):
    """`f32[N, 3] | f32[N, 4]` called on a traced tensor of unknown width: neither signature surely
    fits, so the call is refused when traced instead of running the first one on the wrong width."""
    path = tmp_path / "widths.tfm"
    path.write_text("module W:\n    fn f(x: f32[N, 3] | f32[N, 4]) -> f32[N]:\n        return reduce_sum(x, axis=1)\n")
    w = tfm.load(path).W()
    assert w.f(np.ones([2, 4], np.float32)).numpy().tolist() == [4.0, 4.0]
    unknown = tf.function(lambda v: w.f(v), input_signature=[tf.TensorSpec([None, None], tf.float32)])
    with pytest.raises(ValueError, match="no signature surely takes inputs float32"):
        unknown.get_concrete_function()


@pytest.mark.parametrize("command", [["trace", "Scale.call", "--logdir", "LOGDIR"],
                                     ["train", "Scale.call", "--data", "DATA"]])
def test_commands_that_need_one_tf_function_ask_which_signature(source, tmp_path, capsys, command):
    np.savez(tmp_path / "data.npz", x=np.ones([2, 4], np.float32))  # a data file that exists: the question comes next
    paths = {"LOGDIR": str(tmp_path / "logs"), "DATA": str(tmp_path / "data.npz")}
    command = [paths.get(part, part) for part in command]
    assert main([command[0], str(source), *command[1:], "--init", "width=3"]) == 1
    assert "Scale.call has 2 signatures (call_1, call_2); name the one to" in capsys.readouterr().err


def test_the_feature_scaler_example(tmp_path, capsys):
    """examples/feature_scaler.tfm: `normalize` on both ranks, a stack that reverses time steps
    (typed-list `pop` in a graph loop, as AutoGraph converts it), and an export where a method with
    a typed list reaches the overloaded one: TFLite names the typed lists, and serves `normalize`'s
    two signatures without them."""
    from support import EXAMPLES

    source = EXAMPLES / "feature_scaler.tfm"
    scaler = tfm.load(source).FeatureScaler()
    scaler.scale.assign([1.0, 2.0, 3.0, 4.0])
    scaler.shift.assign([0.5, 0.0, -0.5, 1.0])
    x = np.random.default_rng(1).normal(size=(2, 3, 4)).astype(np.float32)
    want = x * scaler.scale.numpy() + scaler.shift.numpy()
    np.testing.assert_allclose(scaler.normalize(x).numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(scaler.normalize(x[:, 0]).numpy(), want[:, 0], rtol=1e-6)
    np.testing.assert_array_equal(scaler.reverse_steps(x).numpy(), x[:, ::-1])
    np.testing.assert_allclose(scaler.pooled(x).numpy(), np.zeros([2, 4]), atol=1e-5)
    assert "ag__.while_stmt" in tf.autograph.to_code(type(scaler).reverse_steps)
    out = tmp_path / "scaler"
    assert main(["export", str(source), "--module", "FeatureScaler", "--signatures", "reverse_steps", "--out", str(out),
                 "--tflite", str(tmp_path / "all.tflite")]) == 1
    assert "a typed list at" in capsys.readouterr().err and not (tmp_path / "all.tflite").exists()
    assert main(["export", str(source), "--module", "FeatureScaler", "--signatures", "normalize", "--out", str(out),
                 "--force", "--tflite", str(tmp_path / "normalize.tflite")]) == 0
    report = capsys.readouterr().out
    assert "ran every signature in LiteRT" in report and "normalize_2" in report
