"""The generated code is visible to AutoGraph: control flow on tensors becomes graph control flow."""

from __future__ import annotations

import tensorflow as tf

from support import load_example


def converted(function) -> str:
    return tf.autograph.to_code(function)


def test_if_on_a_tensor_becomes_if_stmt():
    cls = load_example("square_if_positive").SquareIfPositive
    assert "ag__.if_stmt" in converted(cls._impl_square_if_positive)


def test_for_over_range_is_a_converted_graph_loop():
    cls = load_example("myadd").MyAdd
    code = converted(cls._impl_add_numbers)
    assert "ag__.for_stmt" in code
    assert "ag__.ld(tf).range" in code


def test_graph_for_loop_is_not_unrolled():
    # A graph loop builds one While op however many iterations run.
    squares = load_example("tensor_array").Squares()
    graph = squares.squares.get_concrete_function().graph
    op_types = [op.type for op in graph.get_operations()]
    assert "While" in op_types or "StatelessWhile" in op_types


def test_loop_in_bound_method_is_converted():
    cls = load_example("rnn_cell").SimpleRNN
    assert "ag__.for_stmt" in converted(cls._impl_run)


def test_while_loop_is_converted(tmp_path):
    import tfm

    source = tmp_path / "countdown.tfm"
    source.write_text(
        "module Countdown:\n"
        "    fn steps(n: i32[]) -> i32[]:\n"
        "        left = n\n"
        "        count = 0\n"
        "        while left > 0:\n"
        "            left -= 1\n"
        "            count += 1\n"
        "        return count\n")
    module = tfm.load(source)
    assert "ag__.while_stmt" in converted(module.Countdown._impl_steps)
    countdown = module.Countdown()
    assert int(countdown.steps(tf.constant(7))) == 7
    graph = countdown.steps.get_concrete_function().graph
    assert any(op.type in ("While", "StatelessWhile") for op in graph.get_operations())
