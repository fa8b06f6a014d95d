"""What passes the check runs, and runs right: literals follow TensorFlow's semantics, out-of-range
values are errors, returns take the declared type. Each case once gave a silent wrong result."""

from __future__ import annotations

import numpy as np
import pytest

import tfm
from tfm import dsl

RUNS = {
    # name: (source body of `fn f() -> TYPE`, expected numpy value, expected dtype)
    "list_plus_is_elementwise": ("i32[2]", "return [1, 2] + [3, 4]", [4, 6], "int32"),
    "list_times_is_elementwise": ("i32[2]", "return [1, 2] * 3", [3, 6], "int32"),
    "list_compare_is_elementwise": ("bool[2]", "return [1, 2] == [1, 3]", [True, False], "bool"),
    "list_slice_is_a_tensor_slice": ("i32[2]", "return [1, 2, 3][::2]", [1, 3], "int32"),
    "list_meets_a_float_tensor": ("f32[2]", "x = ones([2])\n        return x + [1, 2]", [2.0, 3.0], "float32"),
    "negated_list": ("i32[2]", "return -[1, 2]", [-1, -2], "int32"),
    "int_return_takes_declared_float": ("f32[]", "return 1", 1.0, "float32"),
    "int_return_takes_declared_i64": ("i64[]", "return 3000000000", 3000000000, "int64"),
    "python_division_is_float32": ("f32[]", "return 3 / 2", 1.5, "float32"),
    "python_division_declared_f64": ("f64[]", "return 3 / 2", 1.5, "float64"),
    "tensor_int_division_is_float64": ("f64[]", "a = 3\n        return a / 2", 1.5, "float64"),
    "folded_power": ("f32[]", "return 2 ** -1", 0.5, "float32"),
    "big_int_local_is_int64": ("i64[]", "a = 3000000000\n        return a + 1", 3000000001, "int64"),
    "static_bool_if_is_python": ("f32[]", "if not False:\n            y = 1.0\n        else:\n            y = 2\n"
                                          "        return y", 1.0, "float32"),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_literals_run_as_checked(name, tmp_path):
    returns, body, expected, dtype = RUNS[name]
    source = tmp_path / f"{name}.tfm"
    source.write_text(f"module M:\n    fn f() -> {returns}:\n        {body}\n")
    result = tfm.load(source).M().f()
    assert result.dtype.name == dtype
    np.testing.assert_array_equal(result.numpy(), np.array(expected))


REFUSED = {
    "var_i32_overflow": ("module M:\n    var w: i32[] = 3000000000\n", "E034"),
    "var_i8_overflow": ("module M:\n    var w: i8[] = 200\n", "E034"),
    "var_u8_overflow": ("module M:\n    var w: u8[] = 256\n", "E034"),
    "var_f16_overflow": ("module M:\n    var w: f16[] = 1e10\n", "E034"),
    "var_list_item_overflow": ("module M:\n    var w: i8[2] = [1, 128]\n", "E034"),
    "i8_plus_300": ("module M:\n    fn f(i: i8[]) -> i8[]:\n        return i + 300\n", "E040"),
    "u8_minus_literal": ("module M:\n    fn f(i: u8[]) -> u8[]:\n        return i + -1\n", "E040"),
    "f16_big_literal": ("module M:\n    fn f(x: f16[]) -> f16[]:\n        return x + 70000.0\n", "E040"),
    "return_int64_as_i32": ("module M:\n    fn f() -> i32[]:\n        return 3000000000\n", "E032"),
    "scalar_returned_as_vector": ("module M:\n    fn f() -> f32[3]:\n        return 1.0\n", "E032"),
    "scalar_assigned_to_vector": ("module M:\n    var v: f32[3] = zeros()\n    fn f():\n        v.assign(1.0)\n",
                                  "E049"),
    "power_tower": ("module M:\n    fn f(x: f32[]) -> f32[]:\n        return x * 9 ** 9 ** 9\n", "E023"),
    "division_by_zero": ("module M:\n    fn f(x: f32[]) -> f32[]:\n        return x * (1 // 0)\n", "E023"),
    "list_arithmetic_then_float": ("module M:\n    fn f(x: f32[2]) -> f32[2]:\n        return x + [1, 2] * 2\n",
                                   "E040"),
    "serving_default_name": ("module M:\n    @serving\n    fn f() -> f32[]:\n        return 1.0\n\n"
                             "    fn serving_default() -> f32[]:\n        return 2.0\n", "E035"),
    "two_serving_methods": ("module M:\n    @serving\n    fn f() -> f32[]:\n        return 1.0\n\n"
                            "    @serving\n    fn g() -> f32[]:\n        return 2.0\n", "E035"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_silent_wrong_results_are_refused(name):
    text, code = REFUSED[name]
    with pytest.raises(dsl.TfmError) as info:
        tfm.compile_text(text, f"{name}.tfm")
    assert [d.code for d in info.value.diagnostics] == [code], info.value


# --- errors after the check: input errors at the .tfm line, with TensorFlow's reason ---------------

MLP = ("module MLP(hidden: int = 8):\n    sub d1 = Dense(4, hidden, activation=\"relu\")\n    sub d2 = Dense(hidden, 2)\n\n"
       "    fn predict(x: f32[N, 4]) -> f32[N, 2]:\n        return d2(d1(x))\n")
# A constructor value that makes tracing fail: the checker cannot see it, TensorFlow refuses it.
TRACE_FAILS = ("module T(axis: int = 0):\n    fn f(x: f32[2, 3]) -> f32[?]:\n        y = x + 1.0\n"
               "        return reduce_sum(y, axis=axis)\n")


def _cli(tmp_path, text, *argv):
    from tfm.cli import main

    source = tmp_path / "model.tfm"
    source.write_text(text)
    return main([argv[0], str(source), *argv[1:]])


@pytest.mark.parametrize("hidden", ["0", "-3"])
def test_a_zero_size_is_an_error_not_an_abort(tmp_path, capsys, hidden):
    """A zero-size dense layer aborted the process inside oneDNN (SIGABRT): now it is refused first."""
    import subprocess
    import sys

    source = tmp_path / "mlp.tfm"
    source.write_text(MLP)
    result = subprocess.run([sys.executable, "-m", "tfm", "run", str(source), "MLP.predict", "--init",
                             f"hidden={hidden}", "--arg", "x=[[1, 2, 3, 4]]"], capture_output=True, text=True)
    assert result.returncode == 1, result.stderr[-1500:]
    assert "mlp.tfm:2:5 (in <tfm library>/layers.tfm:" in result.stderr  # the user's line, then the library's
    assert "must be an int >= 1" in result.stderr


def test_literal_zero_sizes_are_refused_by_the_check():
    for text in ["module M:\n    sub d = Dense(3, 0)\n", "module M(n: int = 0):\n    var w: f32[n] = zeros()\n",
                 "module M:\n    var w: f32[0] = zeros()\n"]:
        with pytest.raises(dsl.TfmError) as info:
            tfm.compile_text(text, "m.tfm")
        assert info.value.diagnostics[0].code in ("E023", "E018")


def test_trace_errors_in_run_show_the_reason(tmp_path, capsys):
    assert _cli(tmp_path, TRACE_FAILS, "run", "T.f", "--init", "axis=5", "--arg", "x=[[1, 2, 3], [4, 5, 6]]") == 1
    err = capsys.readouterr().err
    assert "model.tfm:4:9" in err and "in user code" not in err
    assert "Invalid reduction dimension 5" in err, err


def test_trace_errors_in_export_are_input_errors(tmp_path, capsys):
    assert _cli(tmp_path, TRACE_FAILS, "export", "--module", "T", "--init", "axis=5", "--out",
                str(tmp_path / "out")) == 1
    err = capsys.readouterr().err
    assert "internal error" not in err and "model.tfm:4:9" in err
    assert not (tmp_path / "out").exists()


def test_construction_errors_in_export_are_input_errors(tmp_path, capsys):
    assert _cli(tmp_path, MLP, "export", "--module", "MLP", "--init", "hidden=0", "--out",
                str(tmp_path / "out")) == 1
    err = capsys.readouterr().err
    assert "internal error" not in err and "model.tfm:2:5" in err and ">= 1" in err


def test_an_if_that_returns_on_both_paths_runs(tmp_path):
    """The form AutoGraph accepts (every path returns) passes the check and runs; one path alone is E039
    (tests/diagnostics/E039_one_path_returns.tfm)."""
    import tfm

    path = tmp_path / "both.tfm"
    path.write_text("module M:\n    fn f(x: f32[]) -> f32[]:\n        if x > 0.0:\n            return x\n"
                    "        return -x\n")
    m = tfm.load(path).M()
    assert float(m.f(np.float32(-3.0))) == 3.0 and float(m.f(np.float32(2.0))) == 2.0
