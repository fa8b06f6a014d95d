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


SECRET = "SECRET-TOKEN-0xC0FFEE outside the project\n"


def _swap_after_lookup(monkeypatch, swap):
    """Run `swap()` between the import's lookup and its read: the race an attacker would win."""
    from tfm.dsl import imports

    found = imports._find

    def racing(target, directories):
        result = found(target, directories)
        swap()
        return result

    monkeypatch.setattr(imports, "_find", racing)


def _analysed(app) -> tuple[list, str]:
    try:
        analyze(app.read_text(), str(app))
    except TfmError as exc:
        return exc.diagnostics, tfm.dsl.render_text(exc.diagnostics, exc.sources) + repr(exc.sources)
    return [], ""


def _project(tmp_path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "blocks.tfm").write_text(SECRET)
    project = tmp_path / "project"
    (project / "lib").mkdir(parents=True)
    (project / "lib" / "blocks.tfm").write_text(BLOCKS)
    app = project / "app.tfm"
    app.write_text(_app("import lib.blocks"))
    return project, app


def test_a_file_swapped_for_a_link_after_the_lookup_is_not_read(tmp_path, monkeypatch):
    project, app = _project(tmp_path)
    target = project / "lib" / "blocks.tfm"
    _swap_after_lookup(monkeypatch, lambda: (target.unlink(), target.symlink_to(tmp_path / "outside" / "blocks.tfm")))
    diagnostics, shown = _analysed(app)
    assert [d.code for d in diagnostics] == ["E059"] and "SECRET" not in shown


def test_a_directory_swapped_for_a_link_after_the_lookup_is_not_read(tmp_path, monkeypatch):
    project, app = _project(tmp_path)
    lib = project / "lib"
    _swap_after_lookup(monkeypatch, lambda: (lib.rename(project / "was_lib"), lib.symlink_to(tmp_path / "outside")))
    diagnostics, shown = _analysed(app)
    assert [d.code for d in diagnostics] == ["E059"] and "SECRET" not in shown


def test_a_fifo_is_named_and_never_waited_on(tmp_path):
    os.mkfifo(tmp_path / "blocks.tfm")
    app = tmp_path / "app.tfm"
    app.write_text(_app("import blocks"))
    from support import time_limit
    with time_limit(20):
        [diagnostic], _ = _analysed(app)
    assert diagnostic.code == "E059" and "FIFO" in diagnostic.message and "cannot find" not in diagnostic.message


@pytest.mark.parametrize("make, kind", [(lambda p: p.mkdir(), "a directory"),
                                        (lambda p: p.symlink_to("/dev/null"), "leads out of its directory")])
def test_what_is_not_a_regular_file_is_named(tmp_path, make, kind):
    make(tmp_path / "blocks.tfm")
    app = tmp_path / "app.tfm"
    app.write_text(_app("import blocks"))
    [diagnostic], _ = _analysed(app)
    assert diagnostic.code == "E059" and kind in diagnostic.message


def test_a_transitive_import_cannot_replace_a_library_module_the_file_uses(tmp_path):
    (tmp_path / "mine.tfm").write_text("module Dense(a: int, b: int, activation: str = \"\", seed: int = 0):\n"
                                       "    fn call(x: f32[N, a]) -> f32[N, a]:\n        return x * 3.0\n")
    (tmp_path / "middle.tfm").write_text("import mine\nmodule Middle:\n    sub d = Dense(2, 2)\n\n"
                                         "    fn f(x: f32[N, 2]) -> f32[N, 2]:\n        return d(x)\n")
    app = tmp_path / "app.tfm"
    app.write_text("import middle\nmodule App:\n    sub m = Middle()\n    sub d = Dense(2, 2)\n\n"
                   "    fn f(x: f32[N, 2]) -> f32[N, 2]:\n        return d(x) + m.f(x)\n")
    [diagnostic], _ = _analysed(app)
    assert (diagnostic.code, diagnostic.span.file, diagnostic.span.line) == ("E011", str(app), 1)
    assert "replace the library's `Dense`" in diagnostic.message
    # Imported directly, it is the file's own choice (and the middle file's, which imports it itself).
    app.write_text("import middle\nimport mine\n" + app.read_text().split("\n", 1)[1])
    assert _analysed(app)[0] == []


def test_an_imported_module_cannot_take_a_reserved_name_or_an_optimizers(tmp_path):
    (tmp_path / "names.tfm").write_text("module Adam:\n    var v: f32[] = 0.0\nmodule tf:\n    var w: f32[] = 0.0\n")
    app = tmp_path / "app.tfm"
    app.write_text("import names\nmodule App:\n    sub o = Adam(0.1)\n    var w: f32[2] = zeros()\n\n"
                   "    fn f(x: f32[2]) -> f32[2]:\n        return x * w\n")
    diagnostics, _ = _analysed(app)
    assert [(d.code, d.span.line) for d in diagnostics] == [("E014", 1), ("E014", 3)]


def test_an_imported_file_is_scanned_before_it_is_parsed(tmp_path):
    (tmp_path / "big.tfm").write_text("module Big:\n    var v: i64[] = " + "9" * 5000 + "\n")
    app = tmp_path / "app.tfm"
    app.write_text("import big\nmodule App:\n    sub b = Big()\n")
    [diagnostic], _ = _analysed(app)
    assert (diagnostic.code, diagnostic.span.file.endswith("big.tfm"), diagnostic.span.line) == ("E023", True, 2)


def test_a_transitive_import_cannot_replace_a_module_inside_a_library_module_the_file_uses(tmp_path):
    (tmp_path / "cells.tfm").write_text("module LSTMCell(in_dim: int, units: int, seed: int = -1):\n"
                                        "    var w: f32[] = 0.0\n")
    (tmp_path / "middle.tfm").write_text("import cells\nmodule Middle:\n    var v: f32[] = 0.0\n")
    app = tmp_path / "app.tfm"
    app.write_text("import middle\nmodule App:\n    sub m = Middle()\n    sub rnn = LSTM(3, 4, seed=1)\n\n"
                   "    fn f(x: f32[N, T, 3]) -> f32[N, 4]:\n        return rnn(x)\n")
    [diagnostic], _ = _analysed(app)
    assert (diagnostic.code, diagnostic.span.line) == ("E011", 1)
    assert "the `LSTMCell` inside the library's `LSTM`" in diagnostic.message
