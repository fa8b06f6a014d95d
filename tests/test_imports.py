"""`import` between .tfm files: resolution next to the importing file and on the search path, the
generated Python still one self-contained file (only TensorFlow imported, only used modules in it),
and missing files, cycles, clashes and hostile paths diagnosed at the import's line."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import tfm
from tfm.cli import main
from tfm.dsl import TfmError, analyze

BLOCKS = """module Residual(width: int = 4):
    sub dense = Dense(width, width, activation="relu", seed=1)

    fn call(x: f32[N, width]) -> f32[N, width]:
        return dense(x) + x

module NeverUsed:
    var a: f32[] = 0.0
"""


def _app(import_line: str) -> str:
    return (f"{import_line}\n\nmodule App:\n    sub block = Residual(4)\n\n"
            "    fn call(x: f32[N, 4]) -> f32[N, 4]:\n        return block(x)\n")


@pytest.mark.parametrize("import_line, where", [("import blocks", "blocks.tfm"),
                                                ("import models.blocks", "models/blocks.tfm"),
                                                ('import "models/blocks.tfm"', "models/blocks.tfm")])
def test_imported_modules_compile_into_one_self_contained_file(tmp_path, import_line, where):
    (tmp_path / where).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / where).write_text(BLOCKS)
    app = tmp_path / "app.tfm"
    app.write_text(_app(import_line))
    out = tmp_path / "app.py"
    assert main(["compile", str(app), "-o", str(out)]) == 0
    python = out.read_text()
    assert "class Residual(tf.Module)" in python and "class Dense(tf.Module)" in python
    assert "NeverUsed" not in python  # only what the program uses
    # The generated file runs where tfm is not importable: plain Python with TensorFlow.
    script = (f"import sys; sys.modules['tfm'] = None; sys.path.insert(0, {str(tmp_path)!r}); "
              "import numpy as np, app; print(app.App().call(np.ones((2, 4), np.float32)).shape)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("(2, 4)")


def test_imported_module_runs_like_a_local_one(tmp_path):
    (tmp_path / "blocks.tfm").write_text(BLOCKS)
    app = tmp_path / "app.tfm"
    app.write_text(_app("import blocks"))
    local = tmp_path / "local.tfm"
    local.write_text(_app("").lstrip("\n") + "\n" + BLOCKS)
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(tfm.load(app).App().call(x).numpy(), tfm.load(local).App().call(x).numpy())


def test_search_path_from_flag_and_environment(tmp_path, monkeypatch, capsys):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.tfm").write_text(BLOCKS)
    app = tmp_path / "app.tfm"
    app.write_text(_app("import blocks"))
    assert main(["check", str(app)]) == 1
    assert "error[E059]: cannot find `blocks.tfm`" in capsys.readouterr().err
    assert main(["check", "-I", str(tmp_path / "lib"), str(app)]) == 0
    monkeypatch.setenv("TFM_PATH", str(tmp_path / "lib"))
    assert main(["check", str(app)]) == 0


def test_diamond_imports_load_each_file_once(tmp_path):
    (tmp_path / "base.tfm").write_text("module Base:\n    fn f(x: f32[]) -> f32[]:\n        return x * 2.0\n")
    (tmp_path / "left.tfm").write_text("import base\nmodule Left:\n    sub b = Base()\n\n"
                                       "    fn f(x: f32[]) -> f32[]:\n        return b.f(x)\n")
    (tmp_path / "right.tfm").write_text("import base\nmodule Right:\n    sub b = Base()\n\n"
                                        "    fn f(x: f32[]) -> f32[]:\n        return b.f(x) + 1.0\n")
    app = tmp_path / "app.tfm"
    app.write_text("import left\nimport right\nmodule App:\n    sub l = Left()\n    sub r = Right()\n\n"
                   "    fn f(x: f32[]) -> f32[]:\n        return l.f(x) + r.f(x)\n")
    assert float(tfm.load(app).App().f(np.float32(1.0))) == 5.0


def test_errors_inside_an_imported_file_name_that_file(tmp_path):
    (tmp_path / "broken.tfm").write_text("module Broken:\n    fn f(x: f32[]) -> f32[]:\n        return undefined_name\n")
    app = tmp_path / "app.tfm"
    app.write_text("import broken\nmodule App:\n    sub b = Broken()\n\n    fn f(x: f32[]) -> f32[]:\n        return b.f(x)\n")
    with pytest.raises(TfmError) as info:
        analyze(app.read_text(), str(app))
    [diagnostic] = info.value.diagnostics
    assert diagnostic.code == "E010" and diagnostic.span.file.endswith("broken.tfm") and diagnostic.span.line == 3
    assert "return undefined_name" in info.value.sources[diagnostic.span.file]


def test_a_symlink_out_of_the_directory_is_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.tfm").write_text("module Secret:\n    var a: f32[] = 0.0\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "secret.tfm").symlink_to(outside / "secret.tfm")
    app = project / "app.tfm"
    app.write_text("import secret\nmodule App:\n    var a: f32[] = 0.0\n")
    with pytest.raises(TfmError) as info:
        analyze(app.read_text(), str(app))
    assert [d.code for d in info.value.diagnostics] == ["E059"]


def test_module_names_clash_across_files(tmp_path):
    (tmp_path / "blocks.tfm").write_text(BLOCKS)
    app = tmp_path / "app.tfm"
    app.write_text("import blocks\nmodule NeverUsed:\n    var b: f32[] = 0.0\n")
    with pytest.raises(TfmError) as info:
        analyze(app.read_text(), str(app))
    [diagnostic] = info.value.diagnostics
    assert diagnostic.code == "E011" and "defined twice" in diagnostic.message


def test_an_imported_module_takes_precedence_over_the_library(tmp_path):
    (tmp_path / "mine.tfm").write_text("module Dense(width: int):\n    fn call(x: f32[N, width]) -> f32[N, width]:\n"
                                       "        return x * 3.0\n")
    app = tmp_path / "app.tfm"
    app.write_text("import mine\nmodule App:\n    sub d = Dense(2)\n\n    fn f(x: f32[N, 2]) -> f32[N, 2]:\n"
                   "        return d(x)\n")
    np.testing.assert_allclose(tfm.load(app).App().f(np.ones((1, 2), np.float32)).numpy(), [[3.0, 3.0]])
