"""The smaller walls of issue 22 (item 11): Python spellings TensorFlow programs use that tfm refused,
each now run and compared with hand-written TensorFlow, or refused with a located diagnostic."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import tfm
from tfm.dsl import TfmError, analyze
from support import diagnostics_of


def _load(tmp_path, body: str, name: str = "P"):
    source = tmp_path / "walls.tfm"
    source.write_text(f"module {name}:\n" + body)
    return getattr(tfm.load(source), name)()


def _diagnostics(body: str):
    return diagnostics_of("module P:\n" + body, analyze_only=True)


def test_a_tuple_of_axes_is_a_list_of_axes(tmp_path):
    p = _load(tmp_path, "    fn total(x: f32[N, 3, 4]) -> f32[N]:\n"
                        "        return reduce_sum(x, axis=(1, 2))\n"
                        "\n"
                        "    fn peak(x: f32[N, 3, 4]) -> f32[3]:\n"
                        "        return reduce_max(x, (0, 2,))\n")
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(p.total(x).numpy(), tf.reduce_sum(x, axis=(1, 2)).numpy(), rtol=1e-6)
    np.testing.assert_allclose(p.peak(x).numpy(), tf.reduce_max(x, axis=(0, 2)).numpy())


def test_a_tuple_of_axes_is_checked_as_a_list_is():
    [diagnostic] = _diagnostics("    fn f(x: f32[N, 3]) -> f32[N]:\n        return reduce_sum(x, axis=(1, 2))\n")
    assert diagnostic.code == "E023" and diagnostic.span.line == 3


def test_a_tuple_is_only_an_argument():
    with pytest.raises(TfmError) as raised:
        analyze("module P:\n    fn f(x: f32[]) -> f32[]:\n        y = (x, x)\n        return y\n", "p.tfm")
    assert raised.value.diagnostics[0].code == "E001"


def test_the_empty_name_scope_is_the_root_scope(tmp_path):
    p = _load(tmp_path, "    fn f(x: f32[]) -> f32[]:\n"
                        "        with name_scope(\"outer\"):\n"
                        "            with name_scope(\"\"):\n"
                        "                y = x * 2.0\n"
                        "        return y\n")
    assert float(p.f(np.float32(3.0))) == 6.0
    names = [op.name for op in p.f.get_concrete_function().graph.get_operations()]
    assert "mul" in names  # as tf.name_scope(""): the root, not under `outer/`


def test_static_for_over_a_tensor_is_a_located_error():
    [diagnostic] = _diagnostics("    fn f(x: f32[N]) -> f32[]:\n"
                                "        s = 0.0\n"
                                "        static for v in x:\n"
                                "            s += v\n"
                                "        return s\n")
    assert diagnostic.code == "E033" and (diagnostic.span.line, diagnostic.span.column) == (4, 25)


def _squares_reference(n: int):
    @tf.function
    def squares(n):
        arr = tf.TensorArray(tf.float32, size=n, element_shape=[])
        for i in tf.range(n):
            arr = arr.write(i, tf.cast(i * i, tf.float32))
        return arr.stack()

    return squares(tf.constant(n)).numpy()


def test_a_scalar_element_shape_and_tensorflows_write_idiom(tmp_path):
    p = _load(tmp_path, "    fn squares(n: i32[]) -> f32[?]:\n"
                        "        arr = TensorArray(f32, size=n, element_shape=[])\n"
                        "        for i in range(n):\n"
                        "            arr = arr.write(i, cast(i * i, f32))\n"
                        "        return arr.stack()\n")
    np.testing.assert_array_equal(p.squares(np.int32(5)).numpy(), _squares_reference(5))
    assert p.squares.get_concrete_function().structured_outputs.shape.rank == 1  # elements known scalars


def test_an_element_shape_fixes_the_elements_type():
    [diagnostic] = _diagnostics("    fn f(n: i32[]) -> f32[?]:\n"
                                "        arr = TensorArray(f32, size=n, element_shape=[2])\n"
                                "        return arr.read(0) + zeros([3])\n")
    assert diagnostic.code == "E041" and diagnostic.span.line == 4  # [2] and [3] do not broadcast


def test_a_write_assigned_to_another_name_is_still_refused():
    diagnostic = _diagnostics("    fn f(n: i32[]) -> f32[?]:\n"
                              "        arr = TensorArray(f32, size=n)\n"
                              "        other = arr.write(0, 1.0)\n"
                              "        return other.stack()\n")[0]
    assert diagnostic.code == "E031" and "has no value" in diagnostic.message and diagnostic.span.line == 4


def test_underscore_is_a_throwaway_loop_name(tmp_path):
    p = _load(tmp_path, "    fn f(x: f32[], n: i32[]) -> f32[]:\n"
                        "        for _ in range(n):\n"
                        "            x = x * 2.0\n"
                        "        static for _ in range(2):\n"
                        "            x = x + 1.0\n"
                        "        return x\n")

    @tf.function
    def reference(x, n):
        for _ in tf.range(n):
            x = x * 2.0
        for _ in range(2):
            x = x + 1.0
        return x

    for n in (0, 3):
        assert float(p.f(np.float32(1.5), np.int32(n))) == float(reference(tf.constant(1.5), tf.constant(n)))
    assert "for _ in tf.range(n):" in tfm.compile_text((tmp_path / "walls.tfm").read_text(), "w.tfm").python


def test_underscore_is_never_read():
    [diagnostic] = _diagnostics("    fn f(x: f32[]) -> f32[]:\n"
                                "        for _ in range(2):\n"
                                "            x = x + cast(_, f32)\n"
                                "        return x\n")
    assert diagnostic.code == "E010" and (diagnostic.span.line, diagnostic.span.column) == (4, 26)


def test_several_with_items_nest_as_in_python(tmp_path):
    p = _load(tmp_path, "    var w: f32[3] = [1.0, 2.0, 3.0]\n"
                        "    sub optimizer = SGD(learning_rate=0.5)\n"
                        "\n"
                        "    fn step(x: f32[3]) -> f32[]:\n"
                        "        with GradientTape() as tape, name_scope(\"loss\"), name_scope(\"inner\"):\n"
                        "            loss = reduce_sum(w * x)\n"
                        "        optimizer.minimize(loss, tape)\n"
                        "        return loss\n")
    x = np.array([1.0, -1.0, 2.0], np.float32)
    assert float(p.step(x)) == 5.0
    np.testing.assert_allclose(p.w.numpy(), [1.0, 2.0, 3.0] - 0.5 * x)  # the tape saw the nested body
    names = [op.name for op in p.step.get_concrete_function(x).graph.get_operations()]
    assert any("/loss/inner/" in name for name in names)


def test_each_with_item_is_checked_where_it_is():
    [diagnostic] = _diagnostics("    fn f(x: f32[]) -> f32[]:\n"
                                "        with name_scope(\"a\"), name_scope(\"\" + \"b\"):\n"
                                "            y = x\n"
                                "        return y\n")
    assert diagnostic.code == "E023" and (diagnostic.span.line, diagnostic.span.column) == (3, 31)


_RETURNS_IN_LOOPS = ("    fn at_end(n: i32[]) -> i32[]:\n"
                     "        i = 0\n"
                     "        while i < n:\n"
                     "            i += 1\n"
                     "            return i * 10\n"
                     "        return i\n"
                     "\n"
                     "    fn both_branches(n: i32[]) -> i32[]:\n"
                     "        i = 0\n"
                     "        for k in range(n):\n"
                     "            if k > 1:\n"
                     "                return i\n"
                     "            else:\n"
                     "                return i + 1\n"
                     "        return i\n")


def test_a_return_that_ends_every_path_of_a_graph_loop_body_runs_as_autograph_does(tmp_path):
    p = _load(tmp_path, _RETURNS_IN_LOOPS)

    @tf.function
    def at_end(n):
        i = tf.constant(0)
        while i < n:
            i += 1
            return i * 10
        return i

    @tf.function
    def both_branches(n):
        i = tf.constant(0)
        for k in tf.range(n):
            if k > 1:
                return i
            else:
                return i + 1
        return i

    assert int(p.at_end(np.int32(3))) == int(at_end(tf.constant(3))) == 10
    assert int(p.both_branches(np.int32(3))) == int(both_branches(tf.constant(3))) == 1
    # as in AutoGraph, the loop must run once to give the return value (asserted at run time)
    with pytest.raises(tf.errors.InvalidArgumentError, match="loop must iterate at least once"):
        p.at_end(np.int32(0))
    converted = tf.autograph.to_code(p.at_end.python_function)
    assert "while_stmt" in converted and "do_return" in converted


@pytest.mark.parametrize("body", [
    "        while i < n:\n            i += 1\n            if i > 1:\n                return i\n",
    "        while i < n:\n            i += 1\n            if i > 1:\n                break\n            return i\n",
    "        while i < n:\n            i += 1\n            if i > 2:\n                while i < 10:\n"
    "                    return i\n",
])
def test_a_return_on_some_paths_of_a_graph_loop_body_is_refused(body):
    [diagnostic] = _diagnostics("    fn f(n: i32[]) -> i32[]:\n        i = 0\n" + body + "        return i\n")
    assert diagnostic.code == "E031" and "only some paths" in diagnostic.message
    assert diagnostic.span.line == 3 + body.count("\n")


def test_a_name_first_bound_in_a_tensor_while_is_read_after_it(tmp_path):
    p = _load(tmp_path, "    fn last_double(n: i32[]) -> i32[]:\n"
                        "        i = 0\n"
                        "        while i < n:\n"
                        "            j = i * 2\n"
                        "            i += 1\n"
                        "        return j\n")

    @tf.function
    def last_double(n):
        i = tf.constant(0)
        while i < n:
            j = i * 2
            i += 1
        return j

    assert int(p.last_double(np.int32(3))) == int(last_double(tf.constant(3))) == 4
    with pytest.raises(tf.errors.InvalidArgumentError, match="loop must iterate at least once to initialize j"):
        p.last_double(np.int32(0))  # AutoGraph's own run-time check, as in hand-written TensorFlow
    assert "while_stmt" in tf.autograph.to_code(p.last_double.python_function)


def test_a_name_first_bound_in_a_range_loop_that_may_not_run_is_still_refused():
    [diagnostic] = _diagnostics("    fn f(n: i32[]) -> i32[]:\n"
                                "        for i in range(n):\n"
                                "            last = i\n"
                                "        return last\n")
    assert diagnostic.code == "E047" and diagnostic.span.line == 5


def test_a_fn_inside_a_method_is_a_local_function():
    """Was a located E001; local functions are now part of the language (tests/codegen/test_local_functions.py)."""
    analysis = analyze("module P:\n    fn f(x: f32[N]) -> f32[N]:\n        fn sq(v: f32[N]) -> f32[N]:\n"
                       "            return v * v\n        return sq(x)\n", "p.tfm")
    [method] = analysis.program.modules[0].methods
    call = method.body[-1].values[0]
    assert analysis.calls[call].kind == "local_function" and str(analysis.types[call]) == "f32[N]"


def test_the_helper_as_a_method_of_the_module_runs(tmp_path):
    p = _load(tmp_path, "    fn sq(v: f32[N]) -> f32[N]:\n"
                        "        return v * v\n"
                        "\n"
                        "    fn f(x: f32[N]) -> f32[N]:\n"
                        "        return sq(x) + 1.0\n")
    x = np.array([1.0, -2.0, 3.0], np.float32)
    np.testing.assert_array_equal(p.f(x).numpy(), (tf.square(x) + 1.0).numpy())


def test_a_return_from_an_inner_graph_loop_runs_as_autograph_does(tmp_path):
    p = _load(tmp_path, "    fn f(n: i32[]) -> i32[]:\n"
                        "        i = 0\n"
                        "        while i < n:\n"
                        "            i += 1\n"
                        "            while i < 10:\n"
                        "                i += 1\n"
                        "                if i > 4:\n"
                        "                    return i\n"
                        "                else:\n"
                        "                    return i + 1\n"
                        "            i += 3\n"
                        "        return i\n")

    @tf.function
    def f(n):
        i = tf.constant(0)
        while i < n:
            i += 1
            while i < 10:
                i += 1
                if i > 4:
                    return i
                else:
                    return i + 1
            i += 3
        return i

    assert int(p.f(np.int32(3))) == int(f(tf.constant(3))) == 3
