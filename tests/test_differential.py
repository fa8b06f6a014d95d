"""The differential type fuzzer in CI: whatever `tfm check` accepts runs in TensorFlow with the dtype
and shape the checker inferred. Every registry op and operator with every dtype, in CI with its first
typical arguments plus every known-bad static argument; with --run-slow, every template.

    python -m pytest tests/test_differential.py --run-slow -s     # the whole table
    python tests/differential.py [OP ...]                         # the same, as a report
"""

from __future__ import annotations

from collections import Counter

import pytest

import differential

# .ci/run runs these again with oneDNN off: a kernel one processor lacks fails CI, not a user.
pytestmark = pytest.mark.kernels

COUNTS: Counter = Counter()


def _ci_selection() -> list[differential.Case]:
    """The first template of each op, every bad static argument, every expression and Python-value case."""
    first: dict[str, str] = {}
    for case in differential.cases():
        first.setdefault(case.op, case.args)
    bad = {(op, args) for op, templates in differential.BAD_STATIC.items() for args in templates}
    return [c for c in differential.cases()
            if c.op == "expression" or c.args == first[c.op] or (c.op, c.args) in bad or "x" not in c.args]


def _assert_sound(outcomes: list[differential.Outcome]) -> None:
    COUNTS.update(o.status for o in outcomes)
    broken = [o for o in outcomes if o.status in ("failed", "compile_failed", "untyped")]
    report = "\n".join(f"{o.status}: {o.checked.case}: {o.detail}" for o in broken[:40])
    assert not broken, f"{len(broken)} programs pass the check but fail or differ in TensorFlow:\n{report}"


def test_every_op_and_dtype_accepted_by_the_check_runs_as_inferred():
    _assert_sound(differential.run(_ci_selection()))


@pytest.mark.slow
def test_every_template_accepted_by_the_check_runs_as_inferred():
    _assert_sound(differential.run(differential.cases()))


def test_the_fuzzer_can_fail():
    """A wrong inferred dtype or shape, or an error in TensorFlow, is reported, not passed over."""
    import tfm
    from tfm.loading.loader import import_compiled

    case = differential.Case("abs", "f32", "x")
    checked = differential.check_case(case)
    text = "module P:\n" + differential.method_text([checked], "m0")
    method = import_compiled(tfm.compile_text(text, "p.tfm")).P().m0
    args = differential.sample_inputs("f32")
    assert [o.status for o in differential._call(method, [checked], args)] == ["ok"]
    for wrong in (differential.TensorT("f64", (2, 3)), differential.TensorT("f32", (3, 2))):
        outcome = differential._call(method, [differential.Checked(case, (), wrong)], args)
        assert [o.status for o in outcome] == ["failed"]
    assert [o.status for o in differential._call(method, [checked], {**args, "x": args["i"]})] == ["failed"]
