"""The installed distribution: one top-level import name, `tfm`, with the grammar, the layer library
and the templates inside it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

from support import ROOT


def test_the_wheel_installs_only_tfm(tmp_path):
    # Built from a copy of the sources: an in-tree build/ left by an earlier build can hold stale files.
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info",
                                                                  "__pycache__", ".pytest_cache", "out"))
    wheels = tmp_path / "wheels"
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = wheels.glob("tfm-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"tfm"}, top_level
    for data in ("tfm/grammar/tfm.lark", "tfm/dsl/library/layers.tfm", "tfm/generate/templates/module.py.j2",
                 "tfm/generate/runtime.py", "tfm/__main__.py", "tfm/dsl/ops/__init__.py"):
        assert data in names, data
    sources = {f"tfm/{path.relative_to(ROOT / folder).as_posix()}" if folder == "compiler" else
               f"tfm/{path.relative_to(ROOT).as_posix()}"
               for folder in ("compiler", "dsl", "grammar") for path in (ROOT / folder).rglob("*.py")}
    assert not sources - set(names), sorted(sources - set(names))  # a package missing from pyproject's list
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "tfm = tfm.cli:entry" in zipfile.ZipFile(wheel).read(entry_points).decode()
