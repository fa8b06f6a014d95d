"""benchmarks/lsp_latency.py stays runnable (small sizes) and writes only its own section, the page's
last. Timings are not asserted: the script measures them into docs/benchmarks.md."""

from __future__ import annotations

import sys

from support import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
try:
    import lsp_latency
finally:
    sys.path.remove(str(ROOT / "benchmarks"))


def test_the_latency_benchmark_runs_through_a_real_server_and_writes_its_section(tmp_path):
    small = lsp_latency.keystrokes(lines=200, edits=3)
    assert small["edits"] == 3 and len(small["hovers"]) == 3 and all(t > 0 for t in small["diagnostics"])
    large = lsp_latency.large_document(statements=400)
    assert large["statements"] == 400 and large["requests"] >= 1 and large["longest_wait"] > 0
    section = lsp_latency.render(small, large)
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n\n## Another section\n\nkept\n")
    lsp_latency.write(page, section)
    lsp_latency.write(page, section)  # a second run replaces the section, never appends another
    text = page.read_text()
    assert text.count(lsp_latency.HEADING) == 1 and text.endswith(section) and "## Another section\n\nkept\n" in text


def test_the_large_document_is_the_size_it_says_and_checks():
    from tfm.dsl.tolerant import analyze_tolerant

    text = lsp_latency.statements_source(200)
    assert sum(1 for line in text.split("\n") if line.startswith("        ")) == 200
    assert analyze_tolerant(text, "large.tfm").clean
