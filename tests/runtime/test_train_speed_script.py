"""benchmarks/train_speed.py stays runnable (tiny sizes; timings are never asserted: the script
measures them into docs/benchmarks.md), and its three contenders train the same models."""

from __future__ import annotations

import sys

from support import ROOT


def test_the_training_benchmark_runs_and_renders_its_section():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import train_speed
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    measured = train_speed.measure(rounds=1, examples=256, epochs=2)
    assert set(measured["cases"]) == {"MLP", "CNN"}
    for row in measured["cases"].values():
        assert row["steps_per_epoch"] == 2
        assert set(row["seconds_per_step"]) == {"tfm", "keras", "loop", "tfm_logdir"}
        assert row["logdir_cost_cpu"] > -1
        assert all(cpu > 0 and wall > 0 for cpu, wall in row["seconds_per_step"].values())
    section = train_speed.render(measured)
    assert section.startswith("## Training speed: tfm train against Keras fit and a hand-written loop")
    assert "| MLP |" in section and "| CNN |" in section


def test_each_script_rewrites_only_its_own_section_of_the_page(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import page
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    target = tmp_path / "benchmarks.md"
    page.write_section(target, "run.py", "# Benchmarks\n\nhead 1\n", first=True)
    page.write_section(target, "lsp_latency.py", "## Language server\n\nlsp 1\n")
    page.write_section(target, "train_speed.py", "## Training speed\n\ntrain 1\n")
    page.write_section(target, "run.py", "# Benchmarks\n\nhead 2\n", first=True)  # the head, rewritten
    page.write_section(target, "lsp_latency.py", "## Language server\n\nlsp 2\n")  # the middle, rewritten
    text = target.read_text()
    assert text.index("head 2") < text.index("lsp 2") < text.index("train 1")  # order kept, nothing dropped
    assert "head 1" not in text and "lsp 1" not in text and text.count(page.marker("run.py")) == 1
    # The real page: each section marked once, in that order.
    real = (ROOT / "docs" / "benchmarks.md").read_text()
    marks = [real.index(page.marker(name)) for name in ("run.py", "lsp_latency.py", "train_speed.py")]
    assert marks == sorted(marks) and all(real.count(page.marker(n)) == 1 for n in ("run.py", "train_speed.py"))
