"""The editor set-ups of docs/editors.md, in the editors: Debian's Neovim (headless) and Emacs with
eglot (batch) run with the documented configuration and get diagnostics, hover and go to definition
from `tfm lsp`; the VS Code extension of editors/vscode/ builds into a .vsix with the official
packaging tool, carrying the generated TextMate grammar and the language client, which node loads
and which starts `tfm lsp` as the `tfm.path` setting says (under a stand-in for VS Code's API: VS
Code itself is not run)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tfm.highlight import textmate_grammar
from support import ROOT

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


def _home(tmp_path: Path, config: str, text: str) -> dict[str, str]:
    """An environment whose home holds only one configuration file, `config` (relative to the home)
    with `text`, and whose PATH finds this checkout's `tfm`."""
    (tmp_path / "home" / config).parent.mkdir(parents=True)
    (tmp_path / "home" / config).write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "NVIM", "VIM", "EMACS"))}
    return {**env, "HOME": str(tmp_path / "home"), "TF_CPP_MIN_LOG_LEVEL": "3",
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])}


@pytest.fixture
def neovim_home(tmp_path) -> dict[str, str]:
    """The documented Neovim configuration file, at the documented place."""
    return _home(tmp_path, ".config/nvim/plugin/tfm.lua", _doc_block("### Neovim", "lua"))


# The configuration takes the newest API the running Neovim has. To run an older release's branch on
# a newer Neovim, the newer APIs are hidden before the configuration loads.
NEOVIM_BRANCHES = {"newest API": [], "0.8-0.10 API": ["config"], "0.7 API": ["config", "start"]}


def _neovim_lsp_apis(nvim: str) -> set[str]:
    """Which of vim.lsp.config and vim.lsp.start this Neovim has."""
    probe = ("lua io.stdout:write(table.concat(vim.tbl_filter(function(name) return vim.lsp[name] ~= nil end,"
             " {'config', 'start'}), ' '))")
    result = subprocess.run([nvim, "--headless", "--clean", "-c", probe, "-c", "qall!"], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=60, check=True)
    return set(result.stdout.split())


@pytest.mark.parametrize("branch", NEOVIM_BRANCHES)
def test_neovim_gets_diagnostics_hover_and_definition(neovim_home, tmp_path, branch):
    nvim = os.environ.get("TFM_TEST_NVIM") or shutil.which("nvim")  # TFM_TEST_NVIM: try another release
    if nvim is None:
        pytest.skip("nvim is not installed (Debian: apt-get install -y neovim)")
    hidden = NEOVIM_BRANCHES[branch]
    if hidden and not _neovim_lsp_apis(nvim) >= set(hidden):
        pytest.skip(f"this Neovim has no vim.lsp.{hidden[-1]}: the newest-API case already ran this branch")
    (tmp_path / "model.tfm").write_text(MODEL)
    at = {"hover": _position("h =", "h"), "definition": _position("h =", "w)"),
          "break": [_position("h =", "h")[0], "        h = reluu(x @ w)"]}
    env = {**neovim_home, "TFM_PROBE_OUT": str(tmp_path / "probe.json"), "TFM_PROBE_AT": json.dumps(at)}
    hide = ["--cmd", "lua " + "; ".join(f"vim.lsp.{name} = nil" for name in hidden)] if hidden else []
    subprocess.run([nvim, "--headless", *hide, "model.tfm", "-c", f"luafile {ROOT / 'tests' / 'tools' / 'neovim_probe.lua'}"],
                   cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=300, check=True)
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



def test_emacs_eglot_gets_diagnostics_hover_and_definition(tmp_path):
    emacs = shutil.which("emacs")
    if emacs is None:
        pytest.skip("emacs is not installed (Debian: apt-get install -y emacs-nox elpa-eglot)")
    env = _home(tmp_path, ".emacs.d/init.el", _doc_block("### Emacs", "elisp"))
    (tmp_path / "model.tfm").write_text(MODEL)
    at = {"hover": _position("h =", "h"), "definition": _position("h =", "w)")}
    env.update(TFM_PROBE_FILE=str(tmp_path / "model.tfm"), TFM_PROBE_OUT=str(tmp_path / "probe.json"),
               TFM_PROBE_AT=json.dumps(at))
    # --batch reads no init file: load it as Emacs would at start-up, then the probe.
    subprocess.run([emacs, "--batch", "-l", env["HOME"] + "/.emacs.d/init.el", "-l",
                    str(ROOT / "tests" / "tools" / "emacs_probe.el")], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                   capture_output=True, timeout=300, check=True)
    probe = json.loads((tmp_path / "probe.json").read_text())
    if probe.get("no-eglot"):
        pytest.skip(f"Emacs {probe['version']} has no eglot (Debian: apt-get install -y elpa-eglot)")
    assert "error" not in probe, probe
    assert probe["mode"] == "tfm-mode" and probe["connected"], probe
    [warning] = probe["diagnostics"]
    assert warning["line"] == _position("unused", "unused")[0] and "W001" in warning["text"]
    assert "`h`: `f32[N, units]`" in probe["hover"]["contents"]["value"]
    [definition] = probe["definitions"]
    assert (definition["file"], definition["line"]) == (str(tmp_path / "model.tfm"), _position("var w", "w")[0])


VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = ROOT / "editors" / "tfm.tmLanguage.json"


def test_vscode_manifest_contributes_the_language_grammar_client_and_setting():
    manifest = json.loads((VSCODE / "package.json").read_text())
    [language] = manifest["contributes"]["languages"]
    assert (language["id"], language["extensions"]) == ("tfm", [".tfm"])
    [grammar] = manifest["contributes"]["grammars"]
    assert (grammar["scopeName"], grammar["path"]) == ("source.tfm", "./tfm.tmLanguage.json")
    assert manifest["contributes"]["configuration"]["properties"]["tfm.path"]["default"] == "tfm"
    assert manifest["main"] == "./extension.js" and "onLanguage:tfm" in manifest["activationEvents"]
    # The packaging tool and the client are pinned, and the lock file agrees with the pins.
    lock = json.loads((VSCODE / "package-lock.json").read_text())["packages"]
    for name, version in [*manifest["dependencies"].items(), *manifest["devDependencies"].items()]:
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} {version}: pin one version"
        assert lock[f"node_modules/{name}"]["version"] == version
    assert not (VSCODE / "node_modules").exists() or "node_modules" in (VSCODE / ".gitignore").read_text()


def test_vscode_indentation_rules_indent_after_a_block_header_only():
    rules = json.loads((VSCODE / "language-configuration.json").read_text())["indentationRules"]
    indent, dedent = re.compile(rules["increaseIndentPattern"]), re.compile(rules["decreaseIndentPattern"])
    for header in ("module M(units: int = 4):", "    fn call(x: f32[N, 3]) -> f32[N, 2]:  # why",
                   "        for i in range(3):", "        else:", "        dilation_rate: int = 1):"):
        assert indent.match(header), header
    for line in ("    var w: f32[3, units] = zeros()", "# a comment:", "        h = x[:, 1:]", "    @serving"):
        assert not indent.match(line), line
    assert dedent.match("        else:") and dedent.match("    elif x > 0:") and not dedent.match("    x = 1")


def _copy_extension(destination: Path) -> Path:
    """editors/vscode/ and the generated grammar beside it, as a fresh clone has them."""
    (destination / "editors").mkdir()
    shutil.copy(GRAMMAR, destination / "editors" / GRAMMAR.name)
    folder = destination / "editors" / "vscode"
    shutil.copytree(VSCODE, folder, ignore=shutil.ignore_patterns("node_modules", "*.vsix", GRAMMAR.name))
    return folder


def test_vscode_extension_packages_with_the_grammar_and_the_client(tmp_path):
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed (Debian: apt-get install -y npm)")
    folder = _copy_extension(tmp_path)
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false"}
    # npm's own cache (~/.npm) makes this a local install after the first run; vsce's optional native
    # parts (signing, the keyring) are not needed to package, and leaving them out saves a third.
    for command in ([npm, "ci", "--prefer-offline", "--no-audit", "--ignore-scripts", "--omit=optional"],
                    # --no: the pinned vsce of node_modules, never one fetched on the fly
                    [shutil.which("npx"), "--no", "vsce", "package", "--allow-missing-repository",
                     "--out", "tfm.vsix"]):
        result = subprocess.run(command, cwd=folder, env=env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    with zipfile.ZipFile(folder / "tfm.vsix") as vsix:
        names = set(vsix.namelist())
        manifest = json.loads(vsix.read("extension/package.json"))
        grammar = json.loads(vsix.read("extension/tfm.tmLanguage.json"))
        assert vsix.read("extension/extension.js") == (VSCODE / "extension.js").read_bytes()
        assert 'Id="tfm"' in vsix.read("extension.vsixmanifest").decode()
    assert manifest == json.loads((VSCODE / "package.json").read_text())
    assert grammar == textmate_grammar() == json.loads(GRAMMAR.read_text())  # the copy cannot drift
    assert {"extension/language-configuration.json", "extension/LICENSE.txt", "extension/readme.md"} <= names
    assert not [name for name in names if name.startswith(("extension/node_modules/@vscode/vsce/",
                                                           "extension/copy-grammar.js"))]
    # What `require("vscode-languageclient/node")` loads is there, and so is what it requires.
    client = json.loads(_read(folder / "tfm.vsix", "extension/node_modules/vscode-languageclient/package.json"))
    assert "extension/node_modules/vscode-languageclient/" + client["exports"]["./node"]["node"][2:] in names
    for dependency in client["dependencies"]:
        assert f"extension/node_modules/{dependency}/package.json" in names, dependency
    # Loaded in node, the packaged extension starts `<tfm.path> lsp` over stdio for tfm documents.
    with zipfile.ZipFile(folder / "tfm.vsix") as archive:
        archive.extractall(tmp_path / "unpacked")
    result = subprocess.run(["node", str(ROOT / "tests" / "tools" / "vscode_probe.js"), str(tmp_path / "unpacked" / "extension"),
                             "/opt/venv/bin/tfm"], capture_output=True, text=True, timeout=60, check=True)
    probe = json.loads(result.stdout)
    [started] = probe["started"]
    assert started["serverOptions"] == {"command": "/opt/venv/bin/tfm", "args": ["lsp"],
                                        "transport": probe["transportStdio"]}
    assert {"scheme": "file", "language": "tfm"} in started["clientOptions"]["documentSelector"]


def _read(vsix: Path, name: str) -> bytes:
    with zipfile.ZipFile(vsix) as archive:
        return archive.read(name)
