"""The files derived from the op registry and the grammar (`python -m tfm.derived`) are up to date, and
the command makes a stale op table whole again without losing a row's notes."""

from __future__ import annotations

import subprocess
import sys

from support import ROOT
from tfm import derived


def test_committed_derived_files_are_up_to_date():
    assert not derived.out_of_date(), "run: python -m tfm.derived"


def test_a_stale_op_table_row_is_rewritten_from_the_registry_keeping_its_notes():
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    conv = next(line for line in text.splitlines() if line.startswith("| convolution and pooling |"))
    shape = next(line for line in text.splitlines() if line.startswith("| shape |"))
    stale = text.replace(conv, conv.replace("conv1d ", "")).replace(shape, shape.replace(" where ", " "))
    assert stale != text
    rewritten = derived.language_doc_text(stale)
    rows = {line.split("|")[1].strip(): line for line in rewritten.splitlines() if line.startswith("| ")}
    assert "conv1d" in rows["convolution and pooling"].split("`")[1].split()
    assert "(channels last:" in rows["convolution and pooling"]  # the notes after the names stay
    assert "where" in rows["shape"].split("`")[1].split()
    assert derived.language_doc_text(rewritten) == rewritten


def test_check_names_each_stale_file(tmp_path):
    (tmp_path / "docs").mkdir()
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    shape = next(line for line in text.splitlines() if line.startswith("| shape |"))
    (tmp_path / "docs" / "language.md").write_text(text.replace(shape, shape.replace(" where ", " ")),
                                                   encoding="utf-8")
    assert set(derived.out_of_date(tmp_path)) == {derived.TEXTMATE, derived.LANGUAGE_DOC}
    result = subprocess.run([sys.executable, "-m", "tfm.derived", "--check"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert (result.returncode, result.stdout) == (0, "")


def test_outside_a_checkout_it_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(derived, "ROOT", tmp_path)
    assert derived.main([]) == 2
    assert "no tfm checkout" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []
