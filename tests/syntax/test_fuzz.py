"""Bad input at volume: every case compiles or yields located diagnostics; never a traceback or a hang.

The CI run makes 10,000+ cases (deterministic). The long run is opt-in:
    TFM_FUZZ_SCALE=20 python -m pytest tests/syntax/test_fuzz.py --run-slow -s
"""

from __future__ import annotations

import os
import random
import pytest
from hypothesis import HealthCheck, given, settings

from tfm import dsl
from tfm import compile_text
from support import EXAMPLES, time_limit
from support.fuzzing import mutations, programs

SCALE = int(os.environ.get("TFM_FUZZ_SCALE", "1"))
GENERATED = 4000 * SCALE
MUTATED = 6000 * SCALE
COUNTS = {"compiled": 0, "diagnosed": 0}


def outcome(text: str, file: str = "fuzz.tfm") -> str:
    """Compile `text`; diagnostics must be located inside the source. Internal errors fail the test."""
    try:
        compile_text(text, file)
    except dsl.InternalError as exc:
        raise AssertionError(f"internal error on input:\n{text[:3000]}\n{str(exc)[:3000]}") from exc
    except dsl.TfmError as exc:
        _assert_located(exc.diagnostics, dsl.parser.normalize_text(text))
        dsl.render_text(exc.diagnostics, {file: text})
        dsl.render_json(exc.diagnostics)
        COUNTS["diagnosed"] += 1
        return "diagnosed"
    COUNTS["compiled"] += 1
    return "compiled"


def _assert_located(diagnostics, text: str) -> None:
    assert diagnostics, "a TfmError must carry diagnostics"
    line_count = text.count("\n") + 2
    for d in diagnostics:
        assert 1 <= d.span.line <= line_count, (d, line_count)
        assert d.span.column >= 1, d
        assert d.code in dsl.diagnostics.CODES, d


_FUZZ_SETTINGS = dict(deadline=None, database=None, derandomize=True,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                             HealthCheck.filter_too_much])


@settings(max_examples=GENERATED, **_FUZZ_SETTINGS)
@given(programs())
def test_generated_programs_compile_or_diagnose(source):
    outcome(source)


def test_mutated_examples_compile_or_diagnose():
    rng = random.Random(20261122 + SCALE)
    sources = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.tfm"))]
    results = {"compiled": 0, "diagnosed": 0}
    for _ in range(MUTATED):
        results[outcome(mutations(rng.choice(sources), rng))] += 1
    print(f"\nfuzz: {MUTATED} mutated examples: {results}")
    assert results["diagnosed"] > MUTATED // 2


def test_report_case_count():
    total = COUNTS["compiled"] + COUNTS["diagnosed"]
    print(f"\nfuzz: {total} cases in all ({GENERATED} generated programs requested, {MUTATED} mutations): "
          f"{COUNTS['compiled']} compiled, {COUNTS['diagnosed']} diagnosed")
    assert total >= 10_000 * SCALE or "PYTEST_XDIST_WORKER" in os.environ


DEMO = (EXAMPLES / "demo_module.tfm").read_text(encoding="utf-8")


@pytest.mark.parametrize("name, text, expected", [
    ("empty file", "", "compiled"),
    ("only comments", "# nothing here\n\n# at all\n", "compiled"),
    ("BOM", "\ufeff" + DEMO, "compiled"),
    ("CRLF", DEMO.replace("\n", "\r\n"), "compiled"),
    ("CR only", DEMO.replace("\n", "\r"), "compiled"),
    ("no final newline", DEMO.rstrip("\n"), "compiled"),
    ("NUL byte", DEMO.replace("addprint", "add\x00print"), "diagnosed"),
    ("tab indentation", DEMO.replace("    ", "\t"), "compiled"),
    ("tabs mixed with spaces", DEMO.replace("        x.assign_add", "\t x.assign_add"), "diagnosed"),
    ("nested parentheses", "module M:\n    fn f() -> f32[]:\n        return " + "(" * 10_000 + "1.0"
     + ")" * 10_000 + "\n", "compiled"),  # brackets make no node: the tree is one literal deep
    ("deep unary minus", "module M:\n    fn f() -> f32[]:\n        return " + "-" * 10_000 + "1.0\n",
     "diagnosed"),  # past dsl/parser.py's MAX_DEPTH
    ("long expression", "module M:\n    fn f(x: f32[]) -> f32[]:\n        return " + " + ".join(["x"] * 5000) + "\n",
     "diagnosed"),
    ("expression at the depth limit", "module M:\n    fn f(x: f32[]) -> f32[]:\n        return "
     + " + ".join(["x"] * 90) + "\n", "compiled"),
    ("unterminated string", 'module M:\n    fn f() -> string[]:\n        return "abc\n', "diagnosed"),
    ("huge float", "module M:\n    var x: f32[] = 1e999\n", "diagnosed"),
])
def test_special_inputs(name, text, expected):
    with time_limit(60):
        result = outcome(text)
    assert result == expected, name


def test_invalid_utf8_is_diagnosed(tmp_path):
    from tfm.cli import main

    path = tmp_path / "bad.tfm"
    path.write_bytes(DEMO.encode() + b"\n# \xc3\x28 broken\n")
    assert main(["check", str(path)]) == 1


@pytest.mark.parametrize("lines", [20_000, pytest.param(100_000, marks=pytest.mark.slow)])
def test_a_long_file_compiles(lines):
    """A file of `lines` statements compiles without a hang (the alarm is a guard, not a speed claim:
    parse speed is measured in benchmarks/)."""
    body = "".join(f"        y{i} = x * {i % 7}.0\n" for i in range(lines))
    text = f"module Big:\n    fn f(x: f32[]) -> f32[]:\n{body}        return x\n"
    with time_limit(lines // 500):
        result = outcome(text, "big.tfm")
    assert result == "compiled"


@pytest.mark.slow
def test_long_fuzz_run():
    """Opt-in: ten times the CI volume of mutations (and TFM_FUZZ_SCALE scales the rest)."""
    rng = random.Random()
    sources = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.tfm"))]
    for _ in range(10 * MUTATED):
        outcome(mutations(rng.choice(sources), rng))





def test_well_typed_programs_compile_build_trace_and_run(tmp_path):
    """What tfm accepts, TensorFlow must run: well-typed random programs are compiled, built, traced and
    called. A failure here is a missing check or a generator bug. Deterministic seeds."""
    import numpy as np

    import tfm
    from support.fuzzing import WellTypedGenerator

    rng = random.Random(11)
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    for index in range(40):
        text = WellTypedGenerator(rng).program()
        compiled = compile_text(text, f"typed{index}.tfm")  # every one must pass the checks
        path = tmp_path / f"typed{index}.tfm"
        path.write_text(text)
        instance = tfm.load(path).Fuzzed()
        try:
            for method in compiled.analysis.program.modules[0].methods:
                outputs = getattr(instance, method.name)(x)
                values = outputs if isinstance(outputs, dict) else {"output_0": outputs}
                for value in values.values():
                    assert value.shape in ((4, 3), ()), (method.name, value.shape)
        except Exception as exc:
            raise AssertionError(f"checked program failed in TensorFlow:\n{text}\n{type(exc).__name__}: "
                                 f"{str(exc)[:2000]}") from exc
    print("\nfuzz: 40 well-typed programs compiled, built and run in TensorFlow")
