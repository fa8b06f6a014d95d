"""Hostile file names, caches and module names: nothing outside a `.tfm`'s text can run code.

Each hostile file name compiles into generated code that runs and names the file safely (or is a
located input error), never an internal error; a planted file in the cache is never executed; the
import hook never shadows a real module nor serves a stale `model.py`.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
from pathlib import Path

import pytest

import tfm
from tfm.cli import main

BODY = "module M:\n    var x: f32[] = 1.0\n\n    fn get() -> f32[]:\n        return x\n"
PAYLOAD = "open('pwned', 'w').write('x')"
EXEC_NAME = "m\"\"\";len.__self__.exec(len.__self__.bytes.fromhex('{}').decode());\"\"\".tfm".format(
    PAYLOAD.encode().hex())

HOSTILE_NAMES = [
    EXEC_NAME,
    "m''';len.__self__.exec('1');'''.tfm",
    'q"uote.tfm', "q'uote.tfm", "back\\slash.tfm", "trailing\\.tfm", "\\N{BULLET}.tfm", "x\\x41.tfm",
    "u\\u0041.tfm", "new\nline.tfm", "carriage\rreturn.tfm", "co:lon:1:2.tfm", "ha#sh.tfm", "with space.tfm",
    "bidi\u202eevil\u202c.tfm", "line\u2028separator.tfm", "para\u2029graph.tfm", "esc\x1b[31mred.tfm",
    "tab\tname.tfm", "é中文.tfm", "-dash.tfm",
]
INVALID_UTF8_NAMES = [b"bad\xc3\x28.tfm", b"\xff\xfe.tfm"]


def _write(directory: Path, name: str | bytes) -> Path:
    path = os.path.join(os.fsencode(directory), name) if isinstance(name, bytes) else directory / name
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(BODY)
    return Path(os.fsdecode(path))


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert not (tmp_path / "pwned").exists(), "a file name ran code"


@pytest.mark.parametrize("name", HOSTILE_NAMES + INVALID_UTF8_NAMES, ids=repr)
def test_hostile_file_names_compile_and_run_safely(in_tmp, name):
    source = _write(in_tmp, name)
    python = tfm.compile_file(source).python
    assert python.isascii() and "\x00" not in python
    tree = ast.parse(python)
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert not any("exec" in call or "__self__" in call for call in calls)
    module = tfm.load(source)
    assert module._TFM_SOURCE == source.name
    assert float(module.M().get()) == 1.0


@pytest.mark.parametrize("name", HOSTILE_NAMES[:3] + HOSTILE_NAMES[9:11] + INVALID_UTF8_NAMES, ids=repr)
def test_hostile_file_names_through_the_cli(in_tmp, name, capsys):
    source = _write(in_tmp, name)
    assert main(["check", str(source)]) == 0
    assert capsys.readouterr().out.strip() == "1 file checked, no problems"
    out = in_tmp / "generated_out.py"
    assert main(["compile", str(source), "-o", str(out)]) == 0
    spec = importlib.util.spec_from_file_location("hostile_compiled", out)
    imported = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(imported)  # importing tfm's output runs only the module definitions
    assert main(["run", str(source), "M.get"]) == 0
    assert capsys.readouterr().out.strip() == "output_0: 1."


def test_exporting_a_hostile_name_runs_nothing(in_tmp):
    source = _write(in_tmp, EXEC_NAME)
    assert main(["export", str(source), "--module", "M", "--out", str(in_tmp / "export")]) == 0


def test_nul_in_a_source_name_is_safe():
    python = tfm.compile_text(BODY, "nul\x00name.tfm").python
    assert "\x00" not in python and "nul\\x00name.tfm" in python


@pytest.mark.parametrize("name", ["esc\x1b]0;title\x07.tfm", "bidi\u202e.tfm", b"bad\xc3\x28.tfm"], ids=repr)
def test_diagnostics_never_print_control_characters(in_tmp, name, capsys):
    path = os.path.join(os.fsencode(in_tmp), name) if isinstance(name, bytes) else in_tmp / name
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("module M:\n    fn f() -> f32[]:\n        return \u202enope\n")
    shown = os.fsdecode(path)
    assert main(["check", shown]) == 1
    err = capsys.readouterr().err
    assert "E004" in err or "E010" in err
    assert err.isprintable() or all(c.isprintable() or c == "\n" for c in err), repr(err)
    assert main(["check", "--format", "json", shown]) == 1
    assert capsys.readouterr().out.lstrip().startswith("[")


# --- the cache --------------------------------------------------------------------------------


def test_a_planted_cache_file_is_never_executed(tmp_path, monkeypatch):
    """A cache others can write is not used; even a private one is never executed from disk."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("TFM_CACHE_DIR", str(shared))
    source = tmp_path / "victim.tfm"
    source.write_text(BODY)
    python = tfm.compile_file(source).python
    import hashlib

    digest = hashlib.sha256(python.encode()).hexdigest()[:16]
    planted = shared / f"victim_{digest}.py"
    planted.write_text(f"open({str(tmp_path / 'pwned')!r}, 'w')\n" + python)
    module = tfm.load(source)
    assert float(module.M().get()) == 1.0
    assert not (tmp_path / "pwned").exists()
    assert not module.__file__.startswith(str(shared)), "an unsafe cache directory was used"


def test_a_private_cache_file_tampered_with_is_not_executed(tmp_path, monkeypatch):
    private = tmp_path / "private"
    monkeypatch.setenv("TFM_CACHE_DIR", str(private))
    source = tmp_path / "victim.tfm"
    source.write_text(BODY)
    first = tfm.load(source)
    cached = Path(first.__file__)
    assert cached.parent == private and (private.stat().st_mode & 0o777) == 0o700
    cached.write_text(f"open({str(tmp_path / 'pwned')!r}, 'w')\n" + cached.read_text())
    second = tfm.load(source, module_name="tfm_victim_again")
    assert float(second.M().get()) == 1.0
    assert not (tmp_path / "pwned").exists()


def test_autograph_reads_the_generated_text_without_a_cache(tmp_path, monkeypatch):
    import tensorflow as tf

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("TFM_CACHE_DIR", str(shared))
    source = tmp_path / "branchy.tfm"
    source.write_text("module B:\n    fn f(x: f32[]) -> f32[]:\n        if x > 0.0:\n            y = x\n"
                      "        else:\n            y = -x\n        return y\n")
    module = tfm.load(source)
    assert "ag__.if_stmt" in tf.autograph.to_code(module.B._impl_f)
    assert float(module.B().f(-2.0)) == 2.0


@pytest.mark.parametrize("setup", ["symlink", "other_writable_parent", "group_writable"])
def test_unsafe_cache_directories_are_refused(tmp_path, monkeypatch, setup):
    from tfm.dsl.cache import private_cache_dir

    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    if setup == "symlink":
        target = tmp_path / "link"
        target.symlink_to(real)
    elif setup == "other_writable_parent":
        parent = tmp_path / "open"
        parent.mkdir()
        parent.chmod(0o777)
        target = parent / "cache"
        target.mkdir(mode=0o700)
    else:
        target = real
        target.chmod(0o770)
    monkeypatch.setenv("TFM_CACHE_DIR", str(target))
    assert private_cache_dir() is None


# --- the import hook --------------------------------------------------------------------------


@pytest.fixture
def hook(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    tfm.install_import_hook()
    before = set(sys.modules)
    yield tmp_path
    tfm.uninstall_import_hook()
    for name in set(sys.modules) - before:
        sys.modules.pop(name, None)


def test_a_tfm_never_shadows_an_installed_module(hook):
    (hook / "json.tfm").write_text(BODY)
    sys.modules.pop("json", None)
    import json

    assert hasattr(json, "dumps") and not hasattr(json, "M")


def test_installed_code_never_imports_a_tfm(hook, tmp_path):
    """TensorFlow probes optional modules (`import psutil` in a try); a `.tfm` must not answer."""
    (hook / "tfm_probe_optional.tfm").write_text("module M\n")  # broken too: must not matter
    site = Path(tfm.loading.loader._INSTALLED[0])
    probe = "try:\n    import tfm_probe_optional\nexcept ImportError:\n    found = False\nelse:\n    found = True\n"
    code = compile(probe, str(site / "some_installed_package" / "probe.py"), "exec")
    namespace: dict = {}
    exec(code, namespace)
    assert namespace["found"] is False


def test_a_broken_tfm_is_an_import_error(hook):
    (hook / "broken_hooked_b.tfm").write_text("module M:\n    fn f() -> f32[]:\n        return nope\n")
    with pytest.raises(ImportError, match="E010"):
        import broken_hooked_b  # noqa: F401


def test_a_stale_generated_py_does_not_hide_its_tfm(hook):
    (hook / "stale_model.tfm").write_text(BODY.replace("1.0", "2.0"))
    (hook / "stale_model.py").write_text("# Generated by tfm 0.1.0 from stale_model.tfm (sha256 0).\n"
                                         "raise RuntimeError('the stale file was imported')\n")
    import stale_model

    assert float(stale_model.M().get()) == 2.0


def test_a_hand_written_py_beside_a_tfm_wins(hook):
    (hook / "handmade.tfm").write_text(BODY)
    (hook / "handmade.py").write_text("HAND = True\n")
    import handmade

    assert handmade.HAND is True
