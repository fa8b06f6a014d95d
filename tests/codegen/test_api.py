"""The Python API: tfm.load, the import hook, and generated code running without tfm."""

from __future__ import annotations

import shutil
import sys

import pytest

import tfm
from support import EXAMPLES, run_python


def test_load_returns_the_generated_module():
    module = tfm.load(EXAMPLES / "demo_module.tfm")
    assert module.__all__ == ["DemoModule"]
    assert module._TFM_SOURCE == "demo_module.tfm"
    assert module.__file__.endswith(".py")
    demo = module.DemoModule(init_value=2.0)
    assert float(demo.addprint(1.0)) == 3.0


def test_import_hook_finds_tfm_on_sys_path(tmp_path, monkeypatch):
    shutil.copy(EXAMPLES / "square_if_positive.tfm", tmp_path / "sqpos_hooked.tfm")
    monkeypatch.syspath_prepend(str(tmp_path))
    tfm.install_import_hook()
    try:
        import sqpos_hooked  # noqa: F401  (found through the hook)

        assert float(sqpos_hooked.SquareIfPositive().square_if_positive(3.0)) == 9.0
    finally:
        tfm.uninstall_import_hook()
        sys.modules.pop("sqpos_hooked", None)


def test_import_without_hook_fails(tmp_path, monkeypatch):
    shutil.copy(EXAMPLES / "square_if_positive.tfm", tmp_path / "sqpos_plain.tfm")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError):
        import sqpos_plain  # noqa: F401,I001


def test_import_hook_reports_diagnostics(tmp_path, monkeypatch):
    (tmp_path / "broken_hooked.tfm").write_text("module M:\n    fn f() -> f32[]:\n        return nope\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    tfm.install_import_hook()
    try:
        with pytest.raises(Exception, match="E010"):
            import broken_hooked  # noqa: F401
    finally:
        tfm.uninstall_import_hook()


def test_generated_file_runs_where_tfm_is_not_installed(tmp_path):
    # Copy the generated Python somewhere else and run it with tfm's packages made unimportable.
    generated = tfm.compile_file(EXAMPLES / "my_model.tfm").python
    (tmp_path / "my_model.py").write_text(generated)
    result = run_python(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('tfm', 'dsl', 'compiler', 'grammar', 'lark', 'jinja2', 'pydantic'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import numpy as np, tensorflow as tf, my_model\n"
        "model = my_model.MyModel(num_classes=3)\n"
        "print(model.call(tf.ones([2, 32])).shape)\n"
        "print(len(model.trainable_variables))\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["(2,", "3)", "4"]


def test_compile_errors_are_data():
    from tfm import dsl

    with pytest.raises(dsl.TfmError) as info:
        tfm.compile_text("module M:\n    var x: f32[] = y\n", "m.tfm")
    [diagnostic] = info.value.diagnostics
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.column) == ("E022", 2, 20)


def test_the_analysis_is_read_only_after_analyze():
    """Later stages read the analysis and never change it."""
    analysis = tfm.compile_file(EXAMPLES / "demo_module.tfm").analysis
    method = analysis.program.modules[0].methods[0]
    assert str(analysis.types[method.inputs[0].type]) == "f32[]"  # declared types are recorded
    with pytest.raises(TypeError):
        analysis.types[method] = None
    with pytest.raises(TypeError):
        analysis.refs[method] = None
    with pytest.raises(AttributeError):
        analysis.diagnostics.append(None)


def test_help_shows_every_method_with_its_types():
    """Methods are tf.functions made per instance; the class still names each one, with its inputs and
    outputs, for help() and editors."""
    import pydoc

    text = pydoc.render_doc(tfm.load(EXAMPLES / "my_model.tfm").MyModel, renderer=pydoc.plaintext)
    assert "call(self, inputs)" in text
    assert "Inputs inputs: f32[N, 32]. Returns output_0: f32[N, num_classes]." in text
    assert "train_step(self, x, y)" in text
