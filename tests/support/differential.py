"""The differential type fuzzer: every registry op x every dtype x typical static arguments.

Each case is one call of one op in a method whose inputs are

    x: DT[2, 3]      the dtype under test
    i: i32[2, 3]     valid indices (0 or 1)
    v: i32[2]        valid indices / segment ids [0, 1]
    b: bool[2, 3]

The case is analysed as `tfm check` would. If the check refuses it, that is the end of it ("refused").
If it passes, the method is declared to return the type the checker inferred, compiled, built, traced
and called in TensorFlow; it must run, forward and (for a floating `x`) backward, and TensorFlow's result
must have the inferred dtype and every inferred dim. Anything else is a soundness failure: a program tfm accepts that TensorFlow rejects or
computes differently.

Beside the table, `form_cases()` puts other argument forms where a careless program does (Python
literals, negative literals, 0-d, rank-1 and rank-3 tensors, list literals mixing tensors and literals,
nested and empty lists, in place of each `x`; negative, zero and too-large integers in place of each
integer), and `dtype_pair_cases()` gives two-argument ops and operators every pair of dtypes. An
inferred type with a negative dim anywhere in the method fails its case.

    python tests/support/differential.py            # the whole table, failures listed
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections import Counter

from tfm import dsl
from tfm.dsl import nodes as n
from tfm.dsl.checker import check
from tfm.dsl.inference import infer
from tfm.dsl.ops import DTYPES, OPS
from tfm.dsl.tensor_types import OtherT, TensorT

INPUTS = "x: {dt}[2, 3], i: i32[2, 3], v: i32[2], b: bool[2, 3]"

# Typical arguments per op are derived from its registry entry (`derived_templates`): `x` for each required
# tensor, `[x, x]` for a list of tensors, `{dt}` (the dtype under test) for a dtype, a value its check
# accepts for a static argument, then once more with each checked optional static argument set; a
# reduction gets _REDUCE_TEMPLATES. An entry's `examples=` replace them where they cannot be derived (a
# convolution's shapes). Each template is one case per dtype.
_REDUCE_TEMPLATES = ["x", "x, axis=1", "x, axis=0, keepdims=True", "x, axis=[0, 1]", "x, axis=2", "x, axis=-3"]
# A value each static check (dsl/ops/static_checks.py) accepts, and one it refuses, for `x` of rank 2.
_STATIC_VALUES = {
    "axis": ("1", "2"), "axes": ("[1]", "[0, 0]"), "probability": ("0.5", "1.5"), "positive": ("2", "0"),
    "size": ("2", "-1"), "bool": ("True", "3"), "str": ("'a'", "3"), "number": ("1.5", "'a'"), "int": ("1", "'a'"),
    "regex": ("'[a-z]'", "'('"), "activation": ("'relu'", "'swishy'"), "norm_order": ("1", "'nuc'"),
    "regularizer": ("'l2(0.01)'", "'l3'"),
}


def _static_value(check: str, words: tuple[str, ...], valid: bool) -> str:
    if check == "one_of":
        return repr(words[-1]) if valid else "'bogus'"
    return _STATIC_VALUES[check][0 if valid else 1]


def _required_arguments(op, bad: str | None = None, bad_value: str = "") -> list[str]:
    arguments = []
    for param in (p for p in op.params if p.required):
        check = op.static_checks.get(param.name)
        if param.name == bad:
            arguments.append(bad_value)
        elif param.kind == "static" and check:
            arguments.append(_static_value(*check, valid=True))
        else:
            arguments.append({"tensors": "[x, x]", "dtype": "{dt}", "tensor": "x"}.get(param.kind, "[x, x]"))
    return arguments


def derived_templates(op) -> list[str]:
    """Typical arguments from the entry's parameters and static checks."""
    if op.category == "reduce":
        return _REDUCE_TEMPLATES
    base = ", ".join(_required_arguments(op))
    optional = [f"{p.name}={_static_value(*op.static_checks[p.name], valid=True)}" for p in op.params
                if not p.required and p.name in op.static_checks]
    return [base] + [", ".join(filter(None, (base, argument))) for argument in optional]


def derived_refused(op) -> list[str]:
    """For each checked static argument, the typical call with a value its check refuses."""
    found = []
    for param in op.params:
        if param.name not in op.static_checks:
            continue
        bad = _static_value(*op.static_checks[param.name], valid=False)
        if param.required:
            found.append(", ".join(_required_arguments(op, param.name, bad)))
        else:
            found.append(", ".join(filter(None, (", ".join(_required_arguments(op)), f"{param.name}={bad}"))))
    return found


# Static arguments a careless program gets wrong: each must be refused by the check, not by TensorFlow.
# Derived from the entries' static checks, with the entries' own `refused=` examples.
BAD_STATIC = {name: list(dict.fromkeys([*op.refused_examples, *derived_refused(op)])) for name, op in OPS.items()
              if op.refused_examples or op.static_checks}
SKIPPED = {"TensorArray", "GradientTape"}  # not values: covered by the language tests
# Operators and indexing, which lower to TensorFlow ops too: each with every dtype.
EXPRESSIONS = ["x + x", "x - x", "x * x", "x / x", "x // x", "x % x", "x ** x", "x @ transpose(x)", "-x",
               "x < x", "x <= x", "x > x", "x >= x", "x == x", "x != x", "x + 1", "x * 2.5", "x[0]",
               "x[:, 1:]", "x[::-1]", "x[1, 2]", "not x", "x and x", "x[5]", "x[-3]", "x[::0]", "x[:, 3]",
               "x[0, -4]", "x[1:5]"]


@dataclasses.dataclass(frozen=True)
class Case:
    op: str
    dtype: str
    args: str

    @property
    def call(self) -> str:
        if self.op == "expression":
            return self.args
        return f"{self.op}({self.args.format(dt=self.dtype)})"

    def __str__(self) -> str:
        return f"{self.call} with x: {self.dtype}[2, 3]"


def cases() -> list[Case]:
    found = []
    for name, op in sorted(OPS.items()):
        if name in SKIPPED:
            continue
        templates = _templates(name, op)
        if not op.examples and op.category != "reduce":
            # Python values alone: TensorFlow gives them its default dtype (int32, float32)
            found.extend(Case(name, "f32", _X.sub(literal, templates[0])) for literal in ("3", "2.5", "True"))
        found.extend(Case(name, dtype, args) for dtype in DTYPES for args in templates + BAD_STATIC.get(name, []))
    found.extend(Case("expression", dtype, text) for dtype in DTYPES for text in EXPRESSIONS)
    return found


# Argument forms beyond the `x` tensor, and the generators that put them where a careless program does.
# Each replaces one occurrence of `x` in an op's template (or every one): Python literals (negative too),
# a 0-d tensor, rank-1 and rank-3 tensors, list literals mixing tensors and literals, nested lists.
FORMS = ["3", "-2", "0", "2.5", "-1.5", "True", "'a'", "x[0, 0]", "x[0]", "reshape(x, [2, 3, 1])",
         "[1, 2, 3]", "[-1.5, 0.5, 2.0]", "[True, False, True]", "[x[0, 0], 1.5, 2]", "[x[0, 0], x[1, 1]]",
         "[[1, 2, 3], [4, 5, 6]]", "[x[0], [1, 2, 3]]", "[]", "i", "v", "b"]
# Integers in a template (sizes, axes, shapes, depths, windows) replaced by these: negative and zero
# entries, and one larger than any dim of the inputs.
INT_MUTATIONS = ["-1", "0", "-2", "7"]
_BINARY_OPERATORS = ["+", "-", "*", "/", "//", "%", "**", "@", "<", "<=", ">", ">=", "==", "!=", "and", "or"]
_X = re.compile(r"(?<![\w.'])x(?![\w'])")
_INT = re.compile(r"(?<![\w.'])-?\d+(?![\w.'])")


def _templates(name: str, op) -> list[str]:
    """The typical arguments `cases()` gives this op (each with `{dt}` for the dtype under test)."""
    return list(op.examples) or derived_templates(op)


def _replaced(text: str, pattern: re.Pattern, value: str) -> list[str]:
    """`text` with each match of `pattern` replaced by `value` in turn, then with every match replaced."""
    spans = [m.span() for m in pattern.finditer(text)]
    one = [text[:start] + value + text[end:] for start, end in spans]
    return one + ([pattern.sub(value, text)] if len(spans) > 1 else [])


# A program that fails for its values, not its types, is left out: `tfm check` promises dtypes and shapes.
# Those are an integer divided by zero (`i` and `v` hold zeros), an assertion that does not hold, a
# string that is not a number, a substring position beyond a string's length.
_ZERO_DIVISORS = {"0", "i", "v", "b", "[True, False, True]"}


def _fails_by_value(op: str, args: str) -> bool:
    if op == "expression":
        return any(f" {symbol} " in args and args.split(f" {symbol} ")[1] in _ZERO_DIVISORS for symbol in ("//", "%"))
    if "asserts" in OPS[op].effects or op == "string_to_number" and "'a'" in args:  # 'a' is not a number
        return True
    if op == "substr" and _top_level(args)[1] != "0":  # a position within each string: its length is a value
        return True
    return op in ("floordiv", "mod") and _top_level(args)[1] in _ZERO_DIVISORS


def _top_level(args: str) -> list[str]:
    """`args` split at its commas outside brackets and parentheses."""
    parts, depth, start = [], 0, 0
    for k, char in enumerate(args):
        depth += 1 if char in "([" else -1 if char in ")]" else 0
        if char == "," and depth == 0:
            parts.append(args[start:k].strip())
            start = k + 1
    return parts + [args[start:].strip()]


def _uses_dtype(text: str) -> bool:
    return bool(_X.search(text)) or "{dt}" in text


def form_cases(every_template: bool = True) -> list[Case]:
    """Every op with each argument form in place of each `x` of its templates, and every integer of
    its templates made negative, zero or too large; with every dtype where the call still reads `x`.
    Operators get a form on either side, unary operators and indexing one each."""
    found: dict[tuple[str, str, str], Case] = {}
    for name, op in sorted(OPS.items()):
        if name in SKIPPED:
            continue
        templates = _templates(name, op)
        for template in templates if every_template else templates[:1]:
            variants = [v for form in FORMS for v in _replaced(template, _X, form)]
            variants += [v for value in INT_MUTATIONS for v in _replaced(template, _INT, value)]
            for args in variants:
                for dtype in DTYPES if _uses_dtype(args) else ["f32"]:
                    if not _fails_by_value(name, args):
                        found.setdefault((name, dtype, args), Case(name, dtype, args))
    for text in (t for t in _expression_forms() if not _fails_by_value("expression", t)):
        for dtype in DTYPES if _uses_dtype(text) else ["f32"]:
            found.setdefault(("expression", dtype, text), Case("expression", dtype, text))
    return list(found.values())


def _expression_forms() -> list[str]:
    """Operators with a form on either side, unary operators and indexing of every form."""
    sides = ["x", *FORMS]
    texts = [f"{left} {op} {right}" for op in _BINARY_OPERATORS for left in sides for right in sides
             if "x" in (left, right) or not (_uses_dtype(left) or _uses_dtype(right))]
    texts += [f"{op}{form}" for op in ("-", "not ") for form in sides]
    texts += [f"{form}{index}" for form in sides for index in ("[0]", "[-1]", "[0, 0]", "[1:]", "[::-1]")]
    return texts


def dtype_pair_cases() -> list[Case]:
    """Every op and binary operator with each `x` of its first template in turn replaced by a tensor
    of every dtype (`ones([2, 3], dtype=D)`, zeros for strings): every dtype combination of
    two-argument ops."""
    found: dict[tuple[str, str, str], Case] = {}
    for name, op in sorted(OPS.items()):
        if name in SKIPPED or "asserts" in op.effects:
            continue
        template = _templates(name, op)[0]
        if len(_X.findall(template)) < 2:
            continue
        for other in DTYPES:
            for args in _replaced(template, _X, _filled(other, "[2, 3]"))[:-1]:
                for dtype in DTYPES:
                    found.setdefault((name, dtype, args), Case(name, dtype, args))
    for op in _BINARY_OPERATORS:
        for other in DTYPES:
            y = _filled(other, "[3, 3]" if op == "@" else "[2, 3]")
            for text in (f"x {op} {y}", f"{y} {op} x"):
                for dtype in DTYPES:
                    found.setdefault(("expression", dtype, text), Case("expression", dtype, text))
    return list(found.values())


def _filled(dtype: str, shape: str) -> str:
    return f"{'zeros' if dtype == 'string' else 'ones'}({shape}, dtype={dtype})"


def one_dtype_each(selected: list[Case]) -> list[Case]:
    """Each call of `selected` once, its dtype rotating from call to call: every op, form and dtype
    still appears, at a sixteenth of the cost (for CI; the whole product runs with --run-slow)."""
    calls = list(dict.fromkeys((c.op, c.args) for c in selected))
    dtypes = {(c.op, c.args): [] for c in selected}
    for c in selected:
        dtypes[(c.op, c.args)].append(c.dtype)
    return [Case(op, dtypes[(op, args)][k % len(dtypes[(op, args)])], args) for k, (op, args) in enumerate(calls)]


@dataclasses.dataclass(frozen=True)
class Checked:
    case: Case
    refused: tuple[str, ...]          # diagnostic codes, empty when the check passes
    result: TensorT | None = None     # the inferred type of the call, when it passes
    negative: tuple[str, ...] = ()    # inferred types with a negative dim: never a size TensorFlow has


def _draft(case: Case) -> str:
    if case.op != "expression" and OPS[case.op].result == "none":
        return f"module P:\n    fn f({INPUTS.format(dt=case.dtype)}):\n        {case.call}\n"
    return f"module P:\n    fn f({INPUTS.format(dt=case.dtype)}) -> f32[]:\n        return {case.call}\n"


def check_case(case: Case) -> Checked:
    """The case through `tfm check`, except that the declared output (a placeholder) is not compared."""
    program = dsl.parse(_draft(case), "case.tfm")
    analysis = check(program, dsl.library_modules())
    infer(analysis)
    codes = tuple(sorted({d.code for d in analysis.diagnostics if d.severity == "error"} - {"E032"}))
    if codes:
        return Checked(case, codes)
    negative = _negative_dims(analysis.types)
    body = program.modules[0].methods[0].body
    if isinstance(body[0], n.Return):
        result = analysis.types.get(body[0].values[0])
        if isinstance(result, OtherT) and result.kind == "nothing":
            return Checked(case, (), None, negative)  # an op with no value (print, asserts): a statement
        return Checked(case, (), result if isinstance(result, TensorT) else TensorT(None, None), negative)
    return Checked(case, (), None, negative)


def _negative_dims(types: dict) -> tuple[str, ...]:
    """Every inferred type (of any expression, not only the result) with a negative dim."""
    return tuple(sorted({str(t) for t in types.values() if isinstance(t, TensorT) and t.shape is not None
                         and any(isinstance(d, int) and d < 0 for d in t.shape)}))


def method_text(group: list[Checked], method: str) -> str:
    """One method running every case of `group` (one dtype), each call's result an output declared
    with the type the checker inferred."""
    inputs = INPUTS.format(dt=group[0].case.dtype)
    body, outputs = [], []
    for k, checked in enumerate(group):
        result = checked.result
        if result is None:
            body.append(f"        {checked.case.call}\n")
        elif result.dtype is None or result.shape is None:  # no declarable type: run it, compare nothing
            body.append(f"        r{k} = {checked.case.call}\n")
            outputs.append((f"o{k}", "i32[]", f"rank(r{k})"))
        else:
            # a 0 (or, wrongly, negative) size cannot be declared: `?`, and _compare checks the size
            dims = ", ".join("?" if not isinstance(d, int) or d < 1 else str(d) for d in result.shape)
            body.append(f"        r{k} = {checked.case.call}\n")
            outputs.append((f"o{k}", f"{result.dtype}[{dims}]", f"r{k}"))
    if not outputs:
        return f"    fn {method}({inputs}):\n" + "".join(body)
    declared = ", ".join(f"{name}: {type_}" for name, type_, _ in outputs)
    returned = ", ".join(value for _, _, value in outputs)
    return f"    fn {method}({inputs}) -> ({declared}):\n" + "".join(body) + f"        return {returned}\n"


def sample_inputs(dtype: str) -> dict:
    import numpy as np
    import tensorflow as tf

    base = np.array([[1, 2, 3], [4, 5, 6]])
    tf_dtype = getattr(tf, DTYPES[dtype].removeprefix("tf."))
    if dtype == "string":
        x = tf.constant([[str(v) for v in row] for row in base])
    elif dtype == "bool":
        x = tf.constant(base % 2 == 1)
    else:
        x = tf.cast(tf.constant(base), tf_dtype)
    return {"x": x, "i": tf.constant([[0, 1, 0], [1, 0, 1]]), "v": tf.constant([0, 1]),
            "b": tf.constant([[True, False, True], [False, True, False]])}


@dataclasses.dataclass(frozen=True)
class Outcome:
    checked: Checked
    status: str       # refused | ok | untyped | failed | compile_failed
    detail: str = ""


def run_cases(batch: list[Checked], label: str = "batch", group_size: int = 25) -> list[Outcome]:
    """Compile the accepted cases of `batch` as one module, `group_size` cases of one dtype per method
    (tracing one function per case would dominate the run), build it and call each method. A method
    that fails is run again one case per method, so each failure is pinned to its case."""
    import tfm
    from tfm.loading.loader import import_compiled

    accepted = [c for c in batch if not c.refused]
    outcomes = [Outcome(c, "refused", " ".join(c.refused)) for c in batch if c.refused]
    groups = [group for dtype in DTYPES for group in _chunks([c for c in accepted if c.case.dtype == dtype],
                                                           group_size)]
    if not groups:
        return outcomes
    text = "module P:\n" + "".join(method_text(group, f"m{k}") for k, group in enumerate(groups))
    try:
        instance = import_compiled(tfm.compile_text(text, f"{label}.tfm")).P()
    except Exception as exc:  # a module failing to compile is itself a finding: split it
        if len(accepted) == 1:
            return outcomes + [Outcome(accepted[0], "compile_failed", _reason(exc))]
        half = len(accepted) // 2
        return outcomes + run_cases(accepted[:half], label, 1) + run_cases(accepted[half:], label, 1)
    for k, group in enumerate(groups):
        found = _call(getattr(instance, f"m{k}"), group, sample_inputs(group[0].case.dtype))
        if any(o.status == "failed" for o in found) and len(group) > 1:
            found = run_cases(group, label, 1)
        outcomes.extend(found)
    return outcomes


def _chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _call(method, group: list[Checked], args: dict) -> list[Outcome]:
    try:
        value = _call_and_differentiate(method, args)
    except Exception as exc:
        return [Outcome(c, "failed", _reason(exc)) for c in group]
    values = value if isinstance(value, dict) else {}
    return [_compare(c, values.get(f"o{k}")) for k, c in enumerate(group)]


def _call_and_differentiate(method, args: dict):
    """The method's outputs, after taking the gradient of their sum with respect to a floating `x`:
    a backward kernel TensorFlow lacks on this CPU (a dilated conv2d's without oneDNN) fails the case
    as a forward one would. Outputs no gradient reaches (integers, strings) are left out."""
    import tensorflow as tf

    x = args["x"]
    if not x.dtype.is_floating:
        return method(**args)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = method(**args)
        outputs = value.values() if isinstance(value, dict) else [value]
        total = tf.add_n([tf.reduce_sum(tf.cast(o, tf.float32)) for o in outputs
                          if o is not None and o.dtype.is_floating] or [tf.constant(0.0)])
    tape.gradient(total, x)
    return value


def _compare(checked: Checked, value) -> Outcome:
    result = checked.result
    if checked.negative:
        return Outcome(checked, "failed", f"inferred negative dims: {', '.join(checked.negative)}")
    if result is None:
        return Outcome(checked, "ok")
    if result.dtype is None or result.shape is None:
        return Outcome(checked, "untyped", f"inferred {result}")
    if not hasattr(value, "dtype"):  # a Python value where the check inferred a tensor
        return Outcome(checked, "failed", f"inferred {result}, the method returned {type(value).__name__} {value!r}")
    got_dtype = _dtype_name(value.dtype)
    got_shape = tuple(value.shape)
    wrong = got_dtype != result.dtype or len(got_shape) != len(result.shape) or any(
        isinstance(d, int) and d != g for d, g in zip(result.shape, got_shape))
    if wrong:
        return Outcome(checked, "failed", f"inferred {result}, TensorFlow gave {got_dtype}{list(got_shape)}")
    return Outcome(checked, "ok")


def _dtype_name(tf_dtype) -> str:
    names = {v.removeprefix("tf."): k for k, v in DTYPES.items()}
    return names[tf_dtype.name]


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    lines = [line for line in text if line.strip() and "File " not in line and "in user code" not in line]
    return f"{type(exc).__name__}: {(lines[-1] if lines else '')[:300]}"


def run(selected: list[Case], batch_size: int = 400) -> list[Outcome]:
    checked = [check_case(c) for c in selected]
    outcomes: list[Outcome] = []
    for start in range(0, len(checked), batch_size):
        outcomes.extend(run_cases(checked[start:start + batch_size], f"diff{start}"))
    return outcomes


def summary(outcomes: list[Outcome]) -> str:
    counts = Counter(o.status for o in outcomes)
    return (f"differential: {len(outcomes)} op x dtype cases: {counts['ok']} ran as checked, "
            f"{counts['refused']} refused by the check, {counts['untyped']} ran with a partly inferred type, "
            f"{counts['failed'] + counts['compile_failed']} accepted but failed in TensorFlow")


if __name__ == "__main__":
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    only = set(sys.argv[1:])
    results = run([c for c in cases() if not only or c.op in only])
    for outcome in results:
        if outcome.status in ("failed", "compile_failed", "untyped") or os.environ.get("SHOW_ALL"):
            print(f"{outcome.status:15} {outcome.checked.case}: {outcome.detail}")
    print(summary(results))
