"""The editor set-ups of docs/editors.md, in the editors: Debian's Neovim runs headless with the
documented configuration file and gets diagnostics, hover and go to definition from `tfm lsp`; the
VS Code extension of editors/vscode/ builds into a .vsix with the official packaging tool, carrying
the generated TextMate grammar and the language client."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

EDITORS_DOC = ROOT / "docs" / "editors.md"

MODEL = """module Model(units: int = 4):
    var w: f32[3, units] = glorot_uniform(seed=1)

    fn call(x: f32[N, 3]) -> f32[N, units]:
        unused = x * 2.0
        h = relu(x @ w)
        return h
"""


def _doc_block(heading: str, language: str) -> str:
    """The first ```language block of docs/editors.md's section `heading`."""
    text = EDITORS_DOC.read_text(encoding="utf-8")
    section = re.split(r"\n##+ ", text[text.index(heading) + len(heading):], maxsplit=1)[0]
    return re.search(rf"^```{language}\n(.*?)^```$", section, flags=re.S | re.M).group(1)


def _position(line: str, needle: str) -> list[int]:
    """[row, column], 0-based, of `needle` on the first line of MODEL that starts with `line`."""
    rows = MODEL.splitlines()
    row = next(i for i, text in enumerate(rows) if text.strip().startswith(line))
    return [row, rows[row].index(needle)]


@pytest.fixture
def neovim_home(tmp_path) -> dict[str, str]:
    """An environment whose home holds only the documented Neovim configuration file, at the
    documented place, and whose PATH finds this checkout's `tfm`."""
    plugin = tmp_path / "home" / ".config" / "nvim" / "plugin" / "tfm.lua"
    plugin.parent.mkdir(parents=True)
    plugin.write_text(_doc_block("### Neovim", "lua"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "NVIM", "VIM"))}
    return {**env, "HOME": str(tmp_path / "home"), "TF_CPP_MIN_LOG_LEVEL": "3",
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])}


def test_neovim_gets_diagnostics_hover_and_definition(neovim_home, tmp_path):
    nvim = os.environ.get("TFM_TEST_NVIM") or shutil.which("nvim")  # TFM_TEST_NVIM: try another release
    if nvim is None:
        pytest.skip("nvim is not installed (Debian: apt-get install -y neovim)")
    (tmp_path / "model.tfm").write_text(MODEL)
    at = {"hover": _position("h =", "h"), "definition": _position("h =", "w)"),
          "break": [_position("h =", "h")[0], "        h = reluu(x @ w)"]}
    env = {**neovim_home, "TFM_PROBE_OUT": str(tmp_path / "probe.json"), "TFM_PROBE_AT": json.dumps(at)}
    subprocess.run([nvim, "--headless", "model.tfm", "-c", f"luafile {ROOT / 'tests' / 'neovim_probe.lua'}"],
                   cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120, check=True)
    probe = json.loads((tmp_path / "probe.json").read_text())
    assert "error" not in probe, probe  # probe["version"] says which Neovim ran
    assert probe["filetype"] == "tfm" and probe["clients"] == ["tfm"], probe
    [warning] = probe["diagnostics"]
    assert (warning["code"], warning["lnum"]) == ("W001", _position("unused", "unused")[0])
    assert "`h`: `f32[N, units]`" in probe["hover"]["contents"]["value"]
    [definition] = probe["definition"] if isinstance(probe["definition"], list) else [probe["definition"]]
    assert definition["uri"] == (tmp_path / "model.tfm").resolve().as_uri()
    assert definition["range"]["start"]["line"] == _position("var w", "w")[0]
    assert {(d["code"], d["lnum"]) for d in probe["after_edit"]} >= {("E012", at["break"][0])}
