"""Nothing tfm did not write is ever overwritten or deleted; nothing is lost when a run is killed.

With real processes: concurrent exports, SIGKILL at random moments of `tfm compile` and `tfm export`
(30 trials each), files and directories created under an export while it runs.
"""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import tfm
from tfm.exports import exporter
from tfm.cli import main
from tfm.exports.publish import MANIFEST_NAME, read_manifest
from tfm.exports.savedmodel_proto import read_signatures
from support import EXAMPLES, ROOT

DEMO = str(EXAMPLES / "demo_module.tfm")


def _export(out, *extra):
    return main(["export", DEMO, "--module", "DemoModule", "--out", str(out), *extra])


def _tree(path: Path) -> dict:
    return {str(p.relative_to(path)): p.read_bytes() if p.is_file() else None for p in sorted(path.rglob("*"))}


# --- replacing only what tfm wrote --------------------------------------------------------------


def test_force_never_replaces_a_directory_tfm_did_not_write(tmp_path, capsys):
    project = tmp_path / "proj"
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.py").write_text("print('my code')\n")
    before = _tree(project)
    assert _export(project, "--force") == 1
    assert "not an export written by tfm" in capsys.readouterr().err
    assert _tree(project) == before


def test_force_never_replaces_a_file_tfm_did_not_write(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    assert _export(tmp_path / "m", "--tflite", str(notes), "--allow-flex", "--force") == 1
    assert "not a .tflite written by tfm" in capsys.readouterr().err
    assert notes.read_text() == "my notes\n"
    assert not (tmp_path / "m").exists()


def test_force_replaces_tfms_own_export_and_tflite(tmp_path):
    out, model = tmp_path / "m", tmp_path / "m.tflite"
    assert _export(out, "--tflite", str(model), "--allow-flex") == 0
    assert read_manifest(out)["module"] == "DemoModule"
    first = model.read_bytes()
    assert _export(out, "--tflite", str(model), "--allow-flex", "--init", "init_value=3") == 1, "replaced without --force"
    assert _export(out, "--tflite", str(model), "--allow-flex", "--init", "init_value=3", "--force") == 0
    assert read_manifest(out)["init"] == {"init_value": 3}
    assert model.read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "m.tflite"]


def test_tflite_inside_the_export_lands_with_it(tmp_path, capsys):
    out = tmp_path / "m3"
    assert _export(out, "--tflite", str(out / "model.tflite"), "--allow-flex") == 0
    assert f"wrote {out / 'model.tflite'}" in capsys.readouterr().out
    assert (out / "model.tflite").read_bytes()[4:8] == b"TFL3"


def test_a_directory_created_during_the_export_is_kept(tmp_path, monkeypatch):
    out = tmp_path / "late"

    def create_meanwhile(message):
        if message == "writing the SavedModel" and not out.exists():
            (out / "precious").mkdir(parents=True)
            (out / "precious" / "data.txt").write_text("mine")

    for force in (False, True):
        with pytest.raises(exporter.ExportError):
            exporter.export_saved_model(tfm.load(DEMO), tfm.compile_file(DEMO).analysis, "DemoModule",
                                        {}, out, force=force, progress=create_meanwhile)
        assert (out / "precious" / "data.txt").read_text() == "mine"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["late"], "staging left behind"


def test_exports_follow_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        assert _export(tmp_path / "shared") == 0
    finally:
        os.umask(previous)
    for path in [tmp_path / "shared", *(tmp_path / "shared").rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o004, f"{path} is not readable by others ({mode:o})"


# --- concurrency ---------------------------------------------------------------------------------


def _tfm(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "tfm", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                            **kwargs)


def test_concurrent_exports_to_one_target(tmp_path):
    out = tmp_path / "both"
    runs = [_tfm("export", DEMO, "--module", "DemoModule", "--out", str(out)) for _ in range(2)]
    results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, err in results if code == 1)
    assert "is running" in loser or "exists" in loser, loser
    assert {s.key for s in read_signatures(out)} >= {"serving_default"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["both"]


# --- SIGKILL at random moments -------------------------------------------------------------------

_EXPORT_LOOP = """
import sys
from pathlib import Path
import tfm
from tfm.exports.exporter import export_saved_model
source, out = sys.argv[1], Path(sys.argv[2])
module, analysis = tfm.load(source), tfm.compile_file(source).analysis
export_saved_model(module, analysis, "DemoModule", {}, out, force=True)  # warm: traced once
print("ready", flush=True)
for value in range(1, 1000):
    export_saved_model(module, analysis, "DemoModule", {"init_value": float(value)}, out, force=True)
"""


def _killed_export(out: Path, seed: int) -> None:
    """Start a process exporting to `out` again and again; SIGKILL it at a random moment."""
    process = subprocess.Popen([sys.executable, "-c", _EXPORT_LOOP, DEMO, str(out)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert process.stdout.readline().strip() == b"ready"
    time.sleep(random.Random(seed).uniform(0.0, 1.5))
    process.send_signal(signal.SIGKILL)
    process.wait()


def _assert_complete_export(out: Path) -> None:
    assert out.is_dir(), "the target is gone after a kill"
    assert read_manifest(out) is not None
    assert {s.key for s in read_signatures(out)} == {"serving_default"}
    assert (out / "variables" / "variables.index").is_file()


def test_sigkill_during_export_never_loses_the_export(tmp_path):
    trials = 30
    directories = [tmp_path / f"trial{i}" for i in range(trials)]
    for directory in directories:
        directory.mkdir()
        assert _export(directory / "model") == 0
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda i: _killed_export(directories[i] / "model", i), range(trials)))
    leftovers = 0
    for directory in directories:
        _assert_complete_export(directory / "model")
        leftovers += len(list(directory.iterdir())) - 1
        assert _export(directory / "model", "--force") == 0  # the next run cleans up after the killed one
        assert [p.name for p in directory.iterdir()] == ["model"]
    print(f"\n{trials} killed exports: every target complete; {leftovers} leftovers cleaned by the next run")


def test_sigkill_during_compile_never_leaves_a_broken_output(tmp_path):
    out = tmp_path / "demo.py"
    assert main(["compile", DEMO, "-o", str(out)]) == 0
    expected = out.read_text()
    rng = random.Random(7)
    for trial in range(30):
        process = _tfm("compile", DEMO, "-o", str(out))
        time.sleep(rng.uniform(0.0, 0.8))
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert out.read_text() == expected, f"trial {trial}: the output was damaged"
    assert main(["compile", DEMO, "-o", str(out)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["demo.py"], "temporary files were not cleaned up"


# --- never overwrite the input, nor replace what is not a file --------------------------------


def test_compile_never_overwrites_its_source(tmp_path, capsys):
    source = tmp_path / "model.py"
    source.write_text((EXAMPLES / "demo_module.tfm").read_text())
    assert main(["compile", str(source)]) == 1
    assert "source file itself" in capsys.readouterr().err
    tfm = tmp_path / "model.tfm"
    tfm.write_text(source.read_text())
    assert main(["compile", str(tfm), "-o", str(tfm)]) == 1
    link = tmp_path / "alias.py"
    link.symlink_to(source)
    assert main(["compile", str(source), "-o", str(link)]) == 1
    assert source.read_text() == tfm.read_text()


def test_compile_never_overwrites_a_hand_written_file(tmp_path, capsys):
    mine = tmp_path / "mine.py"
    mine.write_text("# my own code\n")
    assert main(["compile", DEMO, "-o", str(mine)]) == 1
    assert "not written by tfm" in capsys.readouterr().err
    assert mine.read_text() == "# my own code\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_compile_refuses_devices_and_keeps_them(capsys):
    """A device is never opened as an output (nor replaced): `-o -` is the way to standard output."""
    for device in ("/dev/full", "/dev/null"):
        assert main(["compile", DEMO, "-o", device]) == 1
        assert "is a device, not a regular file" in capsys.readouterr().err
        assert stat.S_ISCHR(os.stat(device).st_mode), f"{device} was replaced"


def test_compile_refuses_to_write_through_a_symlink(tmp_path, capsys):
    """A link at the output path is refused, not followed: it could point anywhere."""
    real = tmp_path / "real.py"
    link = tmp_path / "link.py"
    assert main(["compile", DEMO, "-o", str(real)]) == 0
    before = real.read_text()
    link.symlink_to(real)
    assert main(["compile", DEMO, "-o", str(link)]) == 1
    assert "is a symbolic link" in capsys.readouterr().err
    assert link.is_symlink() and real.read_text() == before


def test_manifest_is_written_in_every_export(tmp_path):
    assert _export(tmp_path / "m") == 0
    assert (tmp_path / "m" / MANIFEST_NAME).is_file()
