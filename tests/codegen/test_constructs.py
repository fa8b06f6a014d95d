"""Constructs real TensorFlow programs use, each run in TensorFlow and compared with what plain
Python/AutoGraph computes: looping over a tensor's rows, rebinding a method input, short-circuit
`and`/`or` on scalar tensors, conditional expressions, chained comparisons, `assert`, name scopes."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import tfm
from support import diagnostics_of


def _load(tmp_path, body: str, name: str = "P"):
    source = tmp_path / "constructs.tfm"
    source.write_text(f"module {name}:\n" + body)
    return getattr(tfm.load(source), name)()


def test_for_over_a_tensors_rows_is_one_graph_loop(tmp_path):
    p = _load(tmp_path, "    fn norms(x: f32[N, 3]) -> f32[N]:\n"
                        "        out: list[f32[]] = []\n"
                        "        for row in x:\n"
                        "            out.append(sqrt(reduce_sum(row * row)))\n"
                        "        return out.stack()\n")
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(p.norms(x).numpy(), np.linalg.norm(x, axis=1), rtol=1e-5)
    assert p.norms(x[:2]).shape == (2,)  # another length, no retrace
    assert p.norms.experimental_get_tracing_count() == 1
    ops = {op.type for op in p.norms.get_concrete_function().graph.get_operations()}
    assert "While" in ops or "StatelessWhile" in ops  # never unrolled


def test_a_method_input_can_be_rebound(tmp_path):
    p = _load(tmp_path, "    fn collatz_steps(n: i32[]) -> i32[]:\n"
                        "        steps = 0\n"
                        "        while n > 1:\n"
                        "            if n % 2 == 0:\n"
                        "                n = n // 2\n"
                        "            else:\n"
                        "                n = 3 * n + 1\n"
                        "            steps += 1\n"
                        "        return steps\n")

    def reference(n):
        steps = 0
        while n > 1:
            n = n // 2 if n % 2 == 0 else 3 * n + 1
            steps += 1
        return steps

    for n in (1, 6, 27):
        assert int(p.collatz_steps(np.int32(n))) == reference(n)


def test_and_short_circuits_on_scalar_tensors(tmp_path):
    """`i < n and x[i] >= 0.0` must not read x[n]: Python's `and`, made a tf.cond by AutoGraph."""
    p = _load(tmp_path, "    fn leading_non_negative(x: f32[N]) -> i32[]:\n"
                        "        i = 0\n"
                        "        while i < shape(x)[0] and x[i] >= 0.0:\n"
                        "            i += 1\n"
                        "        return i\n")
    assert int(p.leading_non_negative(np.array([1.0, 2.0, -3.0, 4.0], np.float32))) == 2
    assert int(p.leading_non_negative(np.array([1.0, 2.0], np.float32))) == 2  # runs off the end safely


def test_and_on_vectors_stays_elementwise(tmp_path):
    p = _load(tmp_path, "    fn both(a: bool[N], b: bool[N]) -> bool[N]:\n        return a and b\n")
    a, b = np.array([True, True, False]), np.array([True, False, False])
    np.testing.assert_array_equal(p.both(a, b).numpy(), a & b)


def test_conditional_expression_and_chained_comparison(tmp_path):
    p = _load(tmp_path, "    fn clamp_band(x: f32[]) -> f32[]:\n"
                        "        y = x if x > 1.0 else -x\n"
                        "        return y if 0.0 < y < 2.0 else 0.0\n"
                        "\n"
                        "    fn scaled(x: f32[N]) -> f32[N]:\n"
                        "        return x * 2.0 if reduce_sum(x) > 0.0 else zeros_like(x)\n")
    for value in (0.5, 1.5, 3.0, -1.5):
        y = value if value > 1.0 else -value
        assert float(p.clamp_band(np.float32(value))) == pytest.approx(y if 0.0 < y < 2.0 else 0.0)
    np.testing.assert_allclose(p.scaled(np.array([1.0, 2.0], np.float32)).numpy(), [2.0, 4.0])
    np.testing.assert_allclose(p.scaled(np.array([-1.0, -2.0], np.float32)).numpy(), [0.0, 0.0])
    code = tf.autograph.to_code(type(p).clamp_band)
    assert "if_exp" in code  # AutoGraph turned the conditional expression into graph control flow


def test_assert_fails_at_run_time_with_its_message(tmp_path):
    p = _load(tmp_path, '    fn safe_log(x: f32[]) -> f32[]:\n'
                        '        assert x > 0.0, "safe_log needs a positive input"\n'
                        '        return log(x)\n')
    assert float(p.safe_log(np.float32(np.e))) == pytest.approx(1.0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="safe_log needs a positive input"):
        p.safe_log(np.float32(-1.0))


def test_name_scope_groups_the_ops(tmp_path):
    p = _load(tmp_path, '    fn f(x: f32[N]) -> f32[N]:\n'
                        '        with name_scope("encoder"):\n'
                        '            y = x * 2.0 + 1.0\n'
                        '        return y\n')
    names = [op.name for op in p.f.get_concrete_function().graph.get_operations()]
    assert any(name.startswith("encoder/") for name in names), names
    np.testing.assert_allclose(p.f(np.array([1.0], np.float32)).numpy(), [3.0])


def test_a_declared_relaxed_shape_lets_a_loop_grow_a_tensor(tmp_path):
    """`v: f32[?]` before the loop becomes AutoGraph's shape invariant (set_loop_options)."""
    p = _load(tmp_path, "    fn evens(n: i32[]) -> f32[?]:\n"
                        "        v: f32[?] = zeros([0])\n"
                        "        i = 0\n"
                        "        while i < n:\n"
                        "            if i % 2 == 0:\n"
                        "                v = concat([v, [cast(i, f32)]])\n"
                        "            i += 1\n"
                        "        return v\n")
    np.testing.assert_array_equal(p.evens(np.int32(7)).numpy(), [0.0, 2.0, 4.0, 6.0])
    assert p.evens(np.int32(0)).shape == (0,)
    assert "set_loop_options" in tfm.compile_text((tmp_path / "constructs.tfm").read_text(), "c.tfm").python


def test_without_the_declaration_a_growing_loop_is_refused_with_the_fix(tmp_path):
    source = ("module P:\n    fn f(n: i32[]) -> f32[?]:\n        v = zeros([0])\n        for i in range(n):\n"
              "            v = concat([v, [1.0]])\n        return v\n")
    [diagnostic] = _diagnostics(source)
    assert diagnostic.code == "E048" and "v: f32[?] = ..." in diagnostic.hint


def _diagnostics(source: str):
    return diagnostics_of(source, analyze_only=True)


def test_a_typed_list_is_read_by_index(tmp_path):
    p = _load(tmp_path, "    fn ends(n: i32[]) -> f32[]:\n"
                        "        xs: list[f32[]] = []\n"
                        "        for i in range(n):\n"
                        "            xs.append(cast(i * i, f32))\n"
                        "        return xs[0] + xs[n - 1]\n")
    assert float(p.ends(np.int32(5))) == 16.0


def test_a_name_first_bound_in_a_loop_that_surely_runs_is_read_after_it(tmp_path):
    p = _load(tmp_path, "    fn last_square() -> f32[]:\n"
                        "        for i in range(1, 4):\n"
                        "            last = cast(i * i, f32)\n"
                        "        return last\n")
    assert float(p.last_square()) == 9.0
    source = ("module P:\n    fn f(n: i32[]) -> f32[]:\n        for i in range(n):\n            last = cast(i, f32)\n"
              "        return last\n")
    [diagnostic] = _diagnostics(source)
    assert diagnostic.code == "E047" and "may run zero times" in diagnostic.hint


def test_a_typed_list_element_is_written_by_index(tmp_path):
    p = _load(tmp_path, "    fn doubled(n: i32[]) -> f32[?]:\n"
                        "        xs: list[f32[]] = []\n"
                        "        for i in range(n):\n"
                        "            xs.append(0.0)\n"
                        "        for i in range(n):\n"
                        "            xs[i] = cast(i, f32) * 2.0\n"
                        "        xs[0] = 7\n"
                        "        return xs.stack()\n")
    np.testing.assert_array_equal(p.doubled(np.int32(4)).numpy(), [7.0, 2.0, 4.0, 6.0])


def test_a_bare_declaration_starts_at_the_types_zero(tmp_path):
    """`n: i32[]` with no value is the type's zero (a `?` size is 0, a list is empty), and later
    values must fit it: the start a counter, a sum or a growing tensor needs before a loop."""
    p = _load(tmp_path, "    fn f(n: i32[]) -> f32[?]:\n"
                        "        count: i32[]\n"
                        "        v: f32[?]\n"
                        "        xs: list[f32[]]\n"
                        "        for i in range(n):\n"
                        "            count += 1\n"
                        "            v = concat([v, [cast(i, f32)]])\n"
                        "            xs.append(cast(count, f32))\n"
                        "        return concat([v, xs.stack()])\n")
    np.testing.assert_array_equal(p.f(np.int32(3)).numpy(), [0.0, 1.0, 2.0, 1.0, 2.0, 3.0])
    assert p.f(np.int32(0)).shape == (0,)


def test_pop_takes_the_last_element_of_a_typed_list(tmp_path):
    """`last = xs.pop()` as in Python: the element is returned and the list is one shorter, in a
    graph loop too; `xs.pop()` alone drops it; popping an empty list fails naming the list and line."""
    p = _load(tmp_path, "    fn drain(x: f32[N]) -> (total: f32[], rest: f32[?]):\n"
                        "        xs: list[f32[]] = []\n"
                        "        for v in x:\n"
                        "            xs.append(v)\n"
                        "        total = 0.0\n"
                        "        while xs.size() > 1:\n"
                        "            last = xs.pop()\n"
                        "            total = total + last\n"
                        "        xs.pop()\n"
                        "        xs.append(100.0)\n"
                        "        return total, xs.stack()\n"
                        "\n"
                        "    fn pop_twice(x: f32[N, D]) -> f32[D]:\n"
                        "        rows: list[f32[D]] = []\n"
                        "        rows.append(x[0])\n"
                        "        a = rows.pop()\n"
                        "        b = rows.pop()\n"
                        "        return a + b\n")
    result = p.drain(np.array([1.0, 2.0, 3.0, 4.0], np.float32))
    assert float(result["total"]) == 9.0
    np.testing.assert_array_equal(result["rest"].numpy(), [100.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"pop from an empty list `rows` \(constructs.tfm:18\)"):
        p.pop_twice(np.ones([1, 2], np.float32))


@pytest.mark.parametrize("line, expected", [
    ("y = xs.pop() + 1.0", "cannot be part of an expression"),
    ("xs = xs.pop()", "would replace the list with its last element"),
    ("y = xs.pop(0)", "takes 0 positional arguments"),
])
def test_pop_stands_alone_or_as_an_assignments_value(line, expected):
    source = ("module P:\n    fn f(x: f32[]) -> f32[]:\n        xs: list[f32[]] = []\n        xs.append(x)\n"
              f"        {line}\n        return x\n")
    codes = [(d.code, d.message) for d in _diagnostics(source)]
    assert any(expected in message for _, message in codes), codes
