"""Golden diagnostics: every tests/diagnostics/CODE_name.tfm renders exactly its .expected file.

Each case is named after the code it must produce first: an error (E...), or for a program that
compiles, a warning (W...). Regenerate after an intended change:
    python -m pytest tests/semantics/test_diagnostics.py --update-golden   (then review `git diff tests/diagnostics`)
"""

from __future__ import annotations

import json

import pytest

from tfm import dsl
from tfm import compile_text
from support import DIAGNOSTICS, ROOT

CASES = sorted(DIAGNOSTICS.glob("*.tfm"))


def diagnose(path) -> tuple[list[dsl.Diagnostic], str]:
    relative = str(path.relative_to(ROOT))
    try:
        text = dsl.decode_source(path.read_bytes(), relative)
        warnings = compile_text(text, relative).analysis.warnings
        return list(warnings), (dsl.render_text(warnings, {relative: text}) + "\n") if warnings else ""
    except dsl.TfmError as exc:
        sources = dict(exc.sources)
        if relative not in sources:
            sources[relative] = path.read_bytes().decode("utf-8", "replace")
        return exc.diagnostics, dsl.render_text(exc.diagnostics, sources) + "\n"


def test_there_are_at_least_forty_distinct_cases():
    assert len(CASES) >= 40
    assert len({case.name.split("_")[0] for case in CASES}) >= 40


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_diagnostic_matches_golden(case, update_golden):
    diagnostics, rendered = diagnose(case)
    expected_code = case.stem.split("_")[0]
    assert diagnostics, f"{case.name} compiled without errors"
    assert diagnostics[0].code == expected_code, rendered
    assert "Traceback" not in rendered
    golden = case.with_suffix(".expected")
    if update_golden:
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", [c for c in CASES if c.name.startswith("E")][:5], ids=lambda p: p.stem)
def test_json_has_the_same_diagnostics(case, capsys):
    from tfm.cli import main

    assert main(["check", "--format", "json", str(case)]) == 1
    payload = json.loads(capsys.readouterr().out)
    diagnostics, _ = diagnose(case)
    assert [(d["code"], d["span"]["line"], d["span"]["column"], d["message"]) for d in payload] == [
        (d.code, d.span.line, d.span.column, d.message) for d in diagnostics]
    assert set(payload[0]) == {"code", "severity", "span", "message", "hint"}


def test_several_errors_are_reported_in_one_run():
    text = ("module M:\n    var x: f32[] = 0.0\n    var x: f32[] = 1.0\n"
            "    fn f(a: f32[]) -> f32[]:\n        return reduce_summ(a) + nope\n")
    with pytest.raises(dsl.TfmError) as info:
        compile_text(text, "many.tfm")
    assert [d.code for d in info.value.diagnostics] == ["E011", "E012", "E010"]


def test_syntax_and_semantic_errors_come_out_of_one_run_without_cascades():
    """Modules no set-aside line touched are checked too; a module with a syntax error reports only
    that, and a module header set aside does not make its users' references unknown."""
    text = ("module Inner(:\n    var w: f32[] = 0.0\n"
            "module Outer:\n    sub inner = Inner()\n    fn f(x: f32[]) -> f32[]:\n        return x + nope\n"
            "module Half:\n    fn g(x: f32[]) -> f32[]:\n        y = x +\n        return y\n")
    with pytest.raises(dsl.TfmError) as info:
        compile_text(text, "cascade.tfm")
    assert [(d.code, d.span.line) for d in info.value.diagnostics] == [("E001", 1), ("E010", 6), ("E001", 9)]


def test_every_code_is_documented_and_has_a_case():
    from tfm.dsl.diagnostics import CODES

    documented = (ROOT / "docs" / "diagnostics.md").read_text()
    cased = {case.name.split("_")[0] for case in CASES}
    for code in CODES:
        assert f"| {code} |" in documented, f"{code} is not in docs/diagnostics.md"
        # E099 (internal) and E006 (an unreadable file) cannot be a source file's case: test_cli tests them.
        assert code in cased or code in {"E099", "E006"}, f"{code} has no case in tests/diagnostics/"


def test_internal_errors_name_the_statement_and_exit_2(tmp_path, monkeypatch, capsys):
    from tfm.generate import codegen
    from tfm.cli import main

    def broken(self, stmt):
        raise KeyError("simulated bug")

    monkeypatch.setattr(codegen._BodyEmitter, "stmt_Return", broken)
    source = tmp_path / "m.tfm"
    source.write_text("module M:\n    fn f(x: f32[]) -> f32[]:\n        y = x\n        return y\n")
    with pytest.raises(dsl.InternalError) as info:
        compile_text(source.read_text(), "m.tfm")
    [diagnostic] = info.value.diagnostics
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.column) == ("E099", 4, 9)
    assert "KeyError" in diagnostic.message
    assert main(["compile", str(source), "-o", "-"]) == 2
    assert "error[E099]" in capsys.readouterr().err
    assert main(["check", str(source)]) == 0  # check generates no code, so it never meets this bug


def test_one_reporter_takes_a_node_or_a_span_and_is_never_replaced():
    found = []
    report = dsl.diagnostics.Reporter(found.append)
    span = dsl.nodes.Span(file="f.tfm", line=3, column=5, end_line=3, end_column=6)
    report("E010", span, "unknown name `x`", "define it")
    report("E010", dsl.nodes.Name(span=span, id="x"), "unknown name `x`")
    assert [(d.code, d.span, d.hint) for d in found] == [("E010", span, "define it"), ("E010", span, None)]
    analysis = dsl.analyze("module M:\n    fn f(x: f32[2]) -> f32[2]:\n        return x\n")
    assert isinstance(analysis.report, dsl.diagnostics.Reporter)


def test_trying_a_signature_returns_its_problems_and_reports_nothing():
    """Overload choice binds a call to each signature; a signature the arguments do not fit must not
    leave its problems in the analysis (E050 names the call only when none fits)."""
    from tfm.dsl.inference import method_calls

    source = ("module M:\n"
              "    fn g(x: f32[3] | i32[3]) -> f32[3]:\n"
              "        return cast(x, f32)\n"
              "    fn f(a: i32[3]) -> f32[3]:\n"
              "        return g(a)\n")
    analysis = dsl.analyze(source)
    info = analysis.modules["M"]
    call = analysis.program.modules[0].methods[-1].body[0].values[0]
    arguments = ([analysis.types[call.args[0]]], {})
    results = {s: method_calls.bind_call(call, info, info.methods[s], {}, arguments) for s in info.signatures_of("g")}
    assert sorted(bool(problems) for _, problems in results.values()) == [False, True]
    assert [p[0] for _, problems in results.values() for p in problems.found] == ["E050"]
    assert not analysis.diagnostics
    assert analysis.chosen_signatures[call] in info.signatures_of("g")
