"""Untrusted .tfm sources: nothing they contain can reach Python except as validated names and repr()'d
literals; the registry reaches no files, network or Python callbacks; outputs are written atomically;
errors at run time name the .tfm line."""

from __future__ import annotations

import ast

import numpy as np
import pytest
import tensorflow as tf

import compiler
import dsl
from compiler.cli import main
from compiler.safety import verify_generated
from dsl.ops import OPS
from conftest import EXAMPLES

HOSTILE_STRINGS = [
    ('\\"; import os; os.system(\\"echo pwned\\"); \\"', '"; import os; os.system("echo pwned"); "'),
    ("\\\"\\\"\\\" + __import__('os').getcwd() + \\\"\\\"\\\"", '""" + __import__(\'os\').getcwd() + """'),
    ("back\\\\slash\\\\", "back\\slash\\"),
    ("line\\nbreak\\r\\n", "line\nbreak\r\n"),
    ("nul\\0byte", "nul\x00byte"),
    ("tab\\there", "tab\there"),
    ("\u202eevil\u202c", "\u202eevil\u202c"),
    ("{x}%s{{", "{x}%s{{"),
    ("\\'single\\'", "'single'"),
]


@pytest.mark.parametrize("escaped, value", HOSTILE_STRINGS)
def test_string_literals_stay_strings(tmp_path, escaped, value):
    source = tmp_path / "strings.tfm"
    source.write_text(f'module S:\n    fn f() -> string[]:\n        return "{escaped}"\n', encoding="utf-8")
    python = compiler.compile_file(source).python
    constants = [node.value for node in ast.walk(ast.parse(python)) if isinstance(node, ast.Constant)]
    assert value in constants
    assert "os" not in {node.id for node in ast.walk(ast.parse(python)) if isinstance(node, ast.Name)}
    module = compiler.load(source)
    assert module.S().f().numpy() == value.encode("utf-8")


@pytest.mark.parametrize("name, code", [
    ("lambda", "E014"), ("class", "E014"), ("import", "E014"), ("__import__", "E014"), ("__class__", "E014"),
    ("_private", "E014"), ("self", "E014"), ("tf", "E014"), ("super", "E014"), ("name", "E014"),
    ("\u0430lpha", "E004"),  # Cyrillic a
    ("x\u200b", "E004"),      # zero-width space
])
def test_hostile_names_are_rejected(name, code):
    for text in (f"module M:\n    var {name}: f32[] = 0.0\n",
                 f"module M:\n    fn f(x: f32[]) -> f32[]:\n        {name} = x\n        return x\n"):
        with pytest.raises(dsl.TfmError) as info:
            compiler.compile_text(text, "names.tfm")
        assert info.value.diagnostics[0].code == code


def test_module_names_cannot_shadow_python():
    for name in ["tf", "lambda", "_M", "SGD"]:
        with pytest.raises(dsl.TfmError):
            compiler.compile_text(f"module {name}:\n    var x: f32[] = 0.0\n", "m.tfm")


@pytest.mark.parametrize("literal", ["99999999999999999999999", "1e999", "9" * 400, "1" + "0" * 400 + ".0"])
def test_huge_numbers_are_diagnosed(literal):
    with pytest.raises(dsl.TfmError) as info:
        compiler.compile_text(f"module M:\n    fn f(x: f64[]) -> f64[]:\n        return x * {literal}\n", "n.tfm")
    assert info.value.diagnostics[0].code == "E023"


def test_registry_reaches_no_files_network_or_callbacks():
    forbidden = ("io.", "gfile", "py_function", "numpy_function", "py_func", "write_file", "read_file",
                 "summary", "experimental", "data.", "saved_model", "load_op_library", "compat")
    for op in OPS.values():
        assert not any(word in op.lowering for word in forbidden), op
    for word in ["read_file", "write_file", "py_function", "numpy_function"]:
        with pytest.raises(dsl.TfmError):
            compiler.compile_text(f"module M:\n    fn f(x: f32[]) -> f32[]:\n        {word}(x)\n        return x\n",
                                  "io.tfm")


@pytest.mark.parametrize("snippet, problem", [
    ("import os", "imports os"),
    ("from os import path", "imports from os|top-level ImportFrom"),
    ("x = open('f')", "uses `open`"),
    ("x = eval('1')", "uses `eval`"),
    ("x = getattr(tf, 'io')", "uses `getattr`"),
    ("x = tf.io.write_file('f', 'x')", "uses `.(io|write_file)`"),
    ("x = tf.py_function(abs, [1], tf.int32)", "uses `.py_function`"),
    ("x = ().__class__", "uses `.__class__`"),
    ("x = lambda: 1", "contains `Lambda`"),
    ("x = __builtins__", "uses `__builtins__`|reads `__builtins__`"),
    ("x = print('hi')", "reads `print`"),
    ("x = sorted([1])", "reads `sorted`"),
    ("print('side effect at import')", "reads `print`"),
    ("if True:\n    x = 1", "top-level If"),
])
def test_generated_code_check_rejects_what_tfm_never_emits(snippet, problem):
    with pytest.raises(dsl.InternalError, match=problem):
        verify_generated(f"import tensorflow as tf\n{snippet}\n", "x.tfm")


def test_examples_pass_the_generated_code_check():
    for source in EXAMPLES.glob("*.tfm"):
        verify_generated(compiler.compile_file(source).python, source.name)


def test_failed_compile_leaves_existing_output_untouched(tmp_path, capsys):
    bad = tmp_path / "model.tfm"
    out = tmp_path / "model.py"
    out.write_text("# previous output\n")
    bad.write_text("module M:\n    var x: f32[] = nope\n")
    assert main(["compile", str(bad), "-o", str(out)]) == 1
    assert out.read_text() == "# previous output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.py", "model.tfm"]


def test_compile_writes_through_a_temporary_file(tmp_path, monkeypatch):
    import os

    out = tmp_path / "demo.py"
    previous = "# Generated by tfm 0.0.1 from an earlier demo_module.tfm\n"
    out.write_text(previous)

    def fail_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail_replace)
    assert main(["compile", str(EXAMPLES / "demo_module.tfm"), "-o", str(out)]) == 1
    assert out.read_text() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.py"], "a temporary file was left behind"


def test_grammar_cache_is_private(tmp_path, monkeypatch):
    import os
    import tempfile

    from dsl.parser import _grammar_cache, _lark

    cache = _lark().options.cache
    assert cache is not True, "cache=True would use a predictable file in the shared temp directory"
    if cache:
        assert not cache.startswith(tempfile.gettempdir() + os.sep + ".lark")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("TFM_CACHE_DIR", str(shared))
    assert _grammar_cache("grammar") is False, "a world-writable cache directory must not be used"
    private = tmp_path / "private"
    monkeypatch.setenv("TFM_CACHE_DIR", str(private))
    path = _grammar_cache("grammar")
    assert path and path.startswith(str(private)) and (private.stat().st_mode & 0o777) == 0o700


# --- errors at run time map back to the .tfm ------------------------------------------------


def _load(tmp_path, text):
    source = tmp_path / "runtime.tfm"
    source.write_text(text)
    return compiler.load(source)


def test_runtime_error_names_tfm_line_and_column(tmp_path):
    module = _load(tmp_path, "module R:\n    fn f(x: f32[N]) -> f32[2, 2]:\n        y = x * 2.0\n"
                             "        return reshape(y, [2, 2])\n")
    r = module.R()
    assert r.f(np.ones(4, np.float32)).shape == (2, 2)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        r.f(np.ones(3, np.float32))
    assert compiler.locate(info.value) == "runtime.tfm:4:9"  # the statement's line and column


def test_trace_time_error_names_tfm_line(tmp_path):
    # gather_nd's index depth is checked by TensorFlow's shape inference while tracing, not by tfm.
    module = _load(tmp_path, "module R:\n    fn f(x: f32[2, 3]) -> f32[2, 3]:\n        y = x + 1.0\n"
                             "        return gather_nd(y, [[0, 0, 0]])\n")
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError)) as info:
        module.R().f(np.ones((2, 3), np.float32))
    assert compiler.locate(info.value) == "runtime.tfm:4:9"  # the statement's line and column


def test_named_dims_must_agree_at_run_time(tmp_path):
    module = load_example_mse()
    mse = module.MeanSquaredError()
    assert float(mse.call(np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32))) == 1.0
    with pytest.raises(tf.errors.InvalidArgumentError, match="inputs y_true and y_pred must agree on dimension N") \
            as info:
        mse.call(np.ones((2, 3), np.float32), np.zeros((5, 3), np.float32))
    assert compiler.locate(info.value).startswith("mean_squared_error.tfm:3:")


def load_example_mse():
    from conftest import load_example

    return load_example("mean_squared_error")
