"""The differential type fuzzer in CI: whatever `tfm check` accepts runs in TensorFlow with the dtype
and shape the checker inferred. Every registry op and operator with every dtype, in CI with its first
typical arguments plus every known-bad static argument; with --run-slow, every template.

    python -m pytest tests/ops/test_differential.py --run-slow -s     # the whole table
    python tests/support/differential.py [OP ...]                         # the same, as a report
"""

from __future__ import annotations

from collections import Counter

import pytest

from support import differential

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


def _form_selection() -> list[differential.Case]:
    """Every tenth call of the argument forms and dtype pairs of each op's first template, each call
    once with a rotating dtype: every op, form and dtype in about 30 s (the whole product is slow)."""
    calls = differential.one_dtype_each(differential.form_cases(every_template=False) +
                                        differential.dtype_pair_cases())
    by_op: dict[str, list[differential.Case]] = {}
    for case in calls:
        by_op.setdefault(case.op, []).append(case)
    return [case for op_calls in by_op.values() for case in op_calls[::10]]


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


def test_argument_forms_accepted_by_the_check_run_as_inferred():
    """Literals, negative literals, scalars, rank-1 and rank-3 tensors, list literals mixing tensors
    and literals, nested and empty lists in place of each tensor argument; negative and zero sizes;
    each pair of dtypes; literals on either side of every operator and indexed."""
    _assert_sound(differential.run(_form_selection()))


@pytest.mark.slow
def test_every_argument_form_accepted_by_the_check_runs_as_inferred():
    _assert_sound(differential.run(differential.form_cases() + differential.dtype_pair_cases()))


def test_the_generators_reach_every_form():
    """Each form stands in every position, the CI spread keeps every op and form, no value is
    inferred with a negative dim."""
    cases = differential.form_cases(every_template=False)
    for form in differential.FORMS:
        assert any(c.op == "expression" and c.args.startswith(f"{form} + ") for c in cases), form
        assert any(c.op == "maximum" and c.args == f"{form}, x" for c in cases), form
    assert {c.args for c in cases if c.op == "zeros"} >= {"[-1, 3], dtype={dt}", "[2, 0], dtype={dt}"}
    selected = _form_selection()
    assert {c.op for c in selected} == {c.op for c in cases}
    pairs = {(c.dtype, c.args) for c in differential.dtype_pair_cases() if c.op == "add"}
    assert len(pairs) == 2 * 16 * 16


def test_the_fuzzer_can_fail():
    """A wrong inferred dtype or shape, an error in TensorFlow or a negative inferred dim is reported,
    not passed over."""
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
    negative = differential.Checked(case, (), checked.result, ("f32[-1]",))
    assert [o.status for o in differential._call(method, [negative], args)] == ["failed"]
