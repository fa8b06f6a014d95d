"""The docs' commands work as written: every `sh` block of docs/training.md, docs/devices.md and the
README's training section runs, in order, from a directory laid out like the repository (its
examples), and each command succeeds."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import EXAMPLES, ROOT

WALKTHROUGH = ROOT / "docs" / "training.md"
README_SECTION = "## Train, resume, export what was trained"


def shell_commands(markdown: str) -> list[str]:
    """The lines of every ```sh block, in order."""
    blocks = re.findall(r"^```sh\n(.*?)^```", markdown, flags=re.S | re.M)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def _argv(command: str) -> list[str]:
    argv = shlex.split(command)
    if argv[0] == "tfm":
        return [sys.executable, "-m", "tfm", *argv[1:]]
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    if argv[0] == "mkdir":
        return argv
    pytest.fail(f"docs/training.md runs {argv[0]!r}; the test knows tfm, python and mkdir")


def _run_all(commands: list[str], directory: Path) -> str:
    shutil.copytree(EXAMPLES, directory / "examples")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    outputs = []
    for command in commands:
        result = subprocess.run(_argv(command), cwd=directory, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{command}\n{result.stderr[-3000:]}"
        outputs.append(result.stdout + result.stderr)
    return "\n".join(outputs)


def test_the_readme_training_section_runs_as_written(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(README_SECTION):].split("\n## ", 1)[0]
    commands = shell_commands(section)
    assert [c.split()[:2] for c in commands if c.startswith("tfm")] == [["tfm", "train"], ["tfm", "export"]]
    joined = _run_all(commands, tmp_path)
    assert "trained MyModel.train_step: 96 steps, 3 epochs" in joined and "not served: train_step" in joined


def test_the_training_walkthrough_runs_as_written(tmp_path):
    commands = shell_commands(WALKTHROUGH.read_text(encoding="utf-8"))
    assert len(commands) >= 7
    joined = _run_all(commands, tmp_path)
    assert "trained MyModel.train_step: 96 steps, 3 epochs" in joined
    assert "resuming from runs/ckpt/ckpt-96" in joined and "trained MyModel.train_step: 192 steps, 6 epochs" in joined
    assert "weights from checkpoint runs/ckpt/ckpt-192" in joined
    assert "wrote predictions of MyModel.call for 1024 examples to runs/logits.npz" in joined
    assert '{"examples": 1024, "scalars": {"output_0": ' in joined
    assert "train_step: it updates trainable variables" in joined
    assert Path(tmp_path / "runs" / "logs").is_dir() and any((tmp_path / "runs" / "trace").iterdir())


def test_the_devices_page_runs_as_written(tmp_path):
    commands = shell_commands((ROOT / "docs" / "devices.md").read_text(encoding="utf-8"))
    assert sum(c.startswith("tfm train") for c in commands) == 3
    joined = _run_all(commands, tmp_path)
    assert "no GPU found: running on the CPU" in joined  # the one-GPU command, here
    for directory in ("one_gpu", "all_gpus", "two_cpus"):
        assert (tmp_path / "runs" / directory / "ckpt-64.index").is_file()


def test_every_test_docs_security_names_exists():
    """docs/security.md names the test behind each promise: each named test file exists and holds each
    named test (`file.py::name`, `::name` for the file named before it, `name_*` for a family)."""
    import ast

    page = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    named = re.findall(r"`(test_\w+\.py)?(?:::(\w+\*?))?", page)
    assert len(named) > 20
    current, missing = None, []
    for file, test in named:
        current = file or current
        if not (file or test) or current is None:
            continue
        path = next((ROOT / "tests").rglob(current), None)
        if path is None:
            missing.append(current)
            continue
        if test:
            defined = {node.name for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                       if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
            stem = test.rstrip("*")
            if not any(name == test or test.endswith("*") and name.startswith(stem) for name in defined):
                missing.append(f"{current}::{test}")
    assert not missing, f"docs/security.md names tests that do not exist: {missing}"
