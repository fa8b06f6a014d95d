"""The layout static tools follow: `tfm` is a folder of the checkout (a link to compiler/, whose dsl
and grammar link to the top-level folders), so pyright, mypy, jedi and a plain `import tfm` in the
checkout find every module without the editable install's import hook. `.ci/run` runs pyright."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from support import ROOT


def test_the_import_name_is_a_folder_of_the_checkout():
    assert (ROOT / "tfm").resolve() == (ROOT / "compiler").resolve()
    assert (ROOT / "tfm" / "dsl").resolve() == (ROOT / "dsl").resolve()
    assert (ROOT / "tfm" / "grammar").resolve() == (ROOT / "grammar").resolve()


def test_import_tfm_in_the_checkout_imports_the_checkout(tmp_path):
    code = "import tfm, tfm.dsl.nodes, tfm.grammar; print(tfm.__file__); print(tfm.dsl.nodes.__file__)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(ROOT / "tfm" / "__init__.py"), str(ROOT / "tfm" / "dsl" / "nodes.py")]


def test_the_type_checker_runs_over_the_whole_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert set(config["tool"]["pyright"]["include"]) == {"tfm", "tfm/dsl", "tfm/grammar"}
    assert "pyright" in " ".join(config["project"]["optional-dependencies"]["test"])
    assert ".venv/bin/pyright" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
