"""Untrusted .tfm sources: nothing they contain can reach Python except as validated names and repr()'d
literals; the registry reaches no files, network or Python callbacks; outputs are written atomically;
errors at run time name the .tfm line."""

from __future__ import annotations

import ast
import functools

import numpy as np
import pytest
import tensorflow as tf

import tfm
from tfm import dsl
from tfm.cli import main
from tfm.generate.safety import verify_generated
from tfm.dsl.ops import OPS
from support import EXAMPLES

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
    python = tfm.compile_file(source).python
    constants = [node.value for node in ast.walk(ast.parse(python)) if isinstance(node, ast.Constant)]
    assert value in constants
    assert "os" not in {node.id for node in ast.walk(ast.parse(python)) if isinstance(node, ast.Name)}
    module = tfm.load(source)
    assert module.S().f().numpy() == value.encode("utf-8")


@pytest.mark.parametrize("name, code", [
    ("lambda", "E014"), ("class", "E014"), ("import", "E014"), ("__import__", "E014"), ("__class__", "E014"),
    ("_private", "E014"), ("self", "E014"), ("tf", "E014"), ("a__b", "E014"), ("ag__", "E014"),
    ("\u0430lpha", "E004"),  # Cyrillic a
    ("x\u200b", "E004"),      # zero-width space
])
def test_hostile_names_are_rejected(name, code):
    for text in (f"module M:\n    var {name}: f32[] = 0.0\n",
                 f"module M:\n    fn f(x: f32[]) -> f32[]:\n        {name} = x\n        return x\n"):
        with pytest.raises(dsl.TfmError) as info:
            tfm.compile_text(text, "names.tfm")
        assert info.value.diagnostics[0].code == code


def test_module_names_cannot_shadow_python():
    for name in ["tf", "lambda", "_M", "SGD"]:
        with pytest.raises(dsl.TfmError):
            tfm.compile_text(f"module {name}:\n    var x: f32[] = 0.0\n", "m.tfm")


@pytest.mark.parametrize("literal", ["99999999999999999999999", "1e999", "9" * 400, "1" + "0" * 400 + ".0"])
def test_huge_numbers_are_diagnosed(literal):
    with pytest.raises(dsl.TfmError) as info:
        tfm.compile_text(f"module M:\n    fn f(x: f64[]) -> f64[]:\n        return x * {literal}\n", "n.tfm")
    assert info.value.diagnostics[0].code == "E023"


def test_registry_reaches_no_files_network_or_callbacks():
    forbidden = ("io.", "gfile", "py_function", "numpy_function", "py_func", "write_file", "read_file",
                 "summary", "experimental", "data.", "saved_model", "load_op_library", "compat")
    for op in OPS.values():
        assert not any(word in op.lowering for word in forbidden), op
    for word in ["read_file", "write_file", "py_function", "numpy_function"]:
        with pytest.raises(dsl.TfmError):
            tfm.compile_text(f"module M:\n    fn f(x: f32[]) -> f32[]:\n        {word}(x)\n        return x\n",
                                  "io.tfm")


@pytest.mark.parametrize("snippet, problem", [
    ("import os", "imports os"),
    ("from os import path", "contains `ImportFrom`"),
    ("x = open('f')", "reads `open`"),
    ("x = eval('1')", "reads `eval`"),
    ("x = getattr(tf, 'io')", "reads `getattr`"),
    ("x = tf.io.write_file('f', 'x')", "uses `tf.io.write_file`"),
    ("x = tf.py_function(abs, [1], tf.int32)", "uses `tf.py_function`"),
    ("x = ().__class__", "attribute `.__class__`"),
    ("x = lambda: 1", "contains `Lambda`"),
    ("x = __builtins__", "uses the name `__builtins__`"),
    ("x = print('hi')", "reads `print`"),
    ("x = sorted([1])", "reads `sorted`"),
    ("print('side effect at import')", "top-level expression"),
    ("if True:\n    x = 1", "top-level If"),
])
def test_generated_code_check_rejects_what_tfm_never_emits(snippet, problem):
    with pytest.raises(dsl.InternalError, match=problem):
        verify_generated(f"import tensorflow as tf\n{snippet}\n", "x.tfm")


# The escapes an adversarial review found past the old denylist, each inside a generated method.
KNOWN_ESCAPES = [
    "tf._inspect.builtins.exec('1')",
    "_len.__self__.exec('1')",
    "tf._os.execv('/bin/sh', ['sh'])",
    "tf.raw_ops.WriteFile(filename='f', contents='x')",
    "tf.keras.utils.get_file('f', 'http://example.com/x')",
    "tf.load_op_library('/tmp/x.so')",
    "tf.compat.v1.py_func(abs, [x], tf.float32)",
]


@functools.cache
def _generated_module() -> str:
    return tfm.compile_text("module M:\n    fn f(x: f32[]) -> f32[]:\n        return x\n", "m.tfm").python


def _in_a_method(expression: str) -> str:
    """A generated module as tfm writes it, with `expression` in a method body."""
    return _generated_module().replace("        return x  #", f"        y = {expression}\n        return x  #")


def test_the_unchanged_template_passes():
    verify_generated(_in_a_method("x"), "m.tfm")


@pytest.mark.parametrize("expression", KNOWN_ESCAPES)
def test_known_escapes_are_rejected(expression):
    with pytest.raises(dsl.InternalError):
        verify_generated(_in_a_method(expression), "m.tfm")


def _escape_attempts() -> list[str]:
    """Attribute paths from every root generated code has, through dangerous or unlisted attributes."""
    roots = ["tf", "self", "x", "_len", "_ValueError", "_range", "''", "tf.constant(1)", "self.f", "M"]
    steps = ["__class__", "__globals__", "__builtins__", "__self__", "__dict__", "__subclasses__", "_inspect",
             "_os", "_sys", "gfile", "io", "raw_ops", "compat", "v1", "py_func", "numpy_function", "keras",
             "utils", "get_file", "summary", "saved_model", "load_library", "data", "experimental", "exec",
             "system", "popen", "func_globals", "f_globals", "gi_frame", "_tfm", "read_file", "debugging"]
    attempts = []
    for root in roots:
        for first in steps:
            attempts.append(f"{root}.{first}")
            for second in ("exec", "write_file", "__call__", "system", "_ops"):
                attempts.append(f"{root}.{first}.{second}")
    return attempts


def test_generated_escapes_are_rejected():
    accepted = []
    for expression in _escape_attempts():
        try:
            verify_generated(_in_a_method(expression), "m.tfm")
        except dsl.InternalError:
            continue
        accepted.append(expression)
    assert not accepted, accepted
    print(f"\n{len(_escape_attempts())} escape attempts rejected")


def test_only_registry_and_helper_paths_of_tensorflow_pass():
    """Every public `tf.` path, two levels deep, is rejected unless tfm emits it."""
    from tfm.generate.safety import allowed_tf_paths

    paths = []
    for name in dir(tf):
        paths.append(f"tf.{name}")
        value = getattr(tf, name, None)
        if isinstance(value, type(tf)):
            paths.extend(f"tf.{name}.{inner}" for inner in dir(value))
    wrongly_accepted = []
    for path in paths:
        try:
            verify_generated(_in_a_method(path), "m.tfm")
            if path not in allowed_tf_paths():
                wrongly_accepted.append(path)
        except dsl.InternalError:
            assert path not in allowed_tf_paths() or path == "tf.Module.__init__", path
    assert not wrongly_accepted
    assert len(paths) > 1000


def test_examples_pass_the_generated_code_check():
    for source in EXAMPLES.glob("*.tfm"):
        verify_generated(tfm.compile_file(source).python, source.name)


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

    def fail_replace(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail_replace)
    assert main(["compile", str(EXAMPLES / "demo_module.tfm"), "-o", str(out)]) == 1
    assert out.read_text() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.py"], "a temporary file was left behind"


def test_grammar_cache_is_private(tmp_path, monkeypatch):
    from tfm.dsl.cache import read_entry
    from tfm.dsl.lark_parser import GRAMMAR_PATH, analysed_grammar, cache_entry_name, forget_parsers, lark_parser

    assert not lark_parser().options.cache, "Lark's own cache would unpickle a file in the shared temp directory"
    name = cache_entry_name(GRAMMAR_PATH.read_text(encoding="utf-8"))
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("TFM_CACHE_DIR", str(shared))
    forget_parsers()
    try:
        analysed_grammar()
        assert list(shared.iterdir()) == [], "a world-writable cache directory must not be used"
        private = tmp_path / "private"
        monkeypatch.setenv("TFM_CACHE_DIR", str(private))
        forget_parsers()
        analysed_grammar()
        assert read_entry(name) and (private.stat().st_mode & 0o777) == 0o700
    finally:
        forget_parsers()


# --- errors at run time map back to the .tfm ------------------------------------------------


def _load(tmp_path, text):
    source = tmp_path / "runtime.tfm"
    source.write_text(text)
    return tfm.load(source)


def test_runtime_error_names_tfm_line_and_column(tmp_path):
    module = _load(tmp_path, "module R:\n    fn f(x: f32[N]) -> f32[2, 2]:\n        y = x * 2.0\n"
                             "        return reshape(y, [2, 2])\n")
    r = module.R()
    assert r.f(np.ones(4, np.float32)).shape == (2, 2)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        r.f(np.ones(3, np.float32))
    assert tfm.locate(info.value) == "runtime.tfm:4:9"  # the statement's line and column


def test_trace_time_error_names_tfm_line(tmp_path):
    # An axis given at construction is checked by TensorFlow's shape inference while tracing, not by tfm.
    module = _load(tmp_path, "module R(axis: int = 0):\n    fn f(x: f32[2, 3]) -> f32[?]:\n        y = x + 1.0\n"
                             "        return reduce_sum(y, axis=axis)\n")
    r = module.R(axis=5)  # kept: a tf.function holds its instance weakly
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError)) as info:
        r.f(np.ones((2, 3), np.float32))
    assert tfm.locate(info.value) == "runtime.tfm:4:9"  # the statement's line and column


def test_named_dims_must_agree_at_run_time(tmp_path):
    module = load_example_mse()
    mse = module.MeanSquaredError()
    assert float(mse.call(np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32))) == 1.0
    for wrong in [(5, 3), (2, 4)]:  # N differs, then D: one check covers both
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"inputs y_true and y_pred must agree on dimensions N, D") as info:
            mse.call(np.ones((2, 3), np.float32), np.zeros(wrong, np.float32))
        assert tfm.locate(info.value).startswith("mean_squared_error.tfm:3:")
        assert f"[2 3] [{wrong[0]} {wrong[1]}]" in str(info.value)  # the sizes that disagree


def test_named_dims_checked_on_the_axes_they_share(tmp_path):
    module = _load(tmp_path, "module P:\n    fn f(a: f32[N, 3, M], b: f32[M, N]) -> f32[N]:\n"
                             "        return reduce_sum(a, axis=[1, 2]) + reduce_sum(b, axis=0)\n")
    p = module.P()
    assert p.f(np.ones((2, 3, 4), np.float32), np.ones((4, 2), np.float32)).shape == (2,)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"inputs a and b must agree on dimensions M, N\] \[4 2\] \[2 4\]"):
        p.f(np.ones((2, 3, 4), np.float32), np.ones((2, 4), np.float32))


def load_example_mse():
    from support import load_example

    return load_example("mean_squared_error")


def test_only_a_comparison_chains_lambda_passes_in_a_method():
    verify_generated(_in_a_method("(lambda _c0, _c1: _c0 < _c1 and _c1 < 2.0)(0.0, x)"), "m.tfm")
    for escape in ["(lambda os: os)(x)", "(lambda _c0=tf: _c0)()", "(lambda: x)()", "(lambda *_c0: _c0)(x)",
                   "(lambda _c0: open)(x)", "(lambda _c0: _c0.__class__)(x)"]:
        with pytest.raises(dsl.InternalError):
            verify_generated(_in_a_method(escape), "m.tfm")
