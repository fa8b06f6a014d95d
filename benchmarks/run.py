"""Run the compiled-module and compiler benchmarks and write their section of docs/benchmarks.md (the
page's head): the machine, then each goal with the ratio measured in this run (medians of interleaved
repetitions). Nothing in the page is typed by hand; the other scripts' sections (lsp_latency.py,
train_speed.py) are left as they are (benchmarks/page.py).

    .venv/bin/python benchmarks/run.py [--quick] [--output docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent

from page import write_section  # noqa: E402  (benchmarks/page.py, on the path just above)

GOALS = {"per_call": 1.03, "first_call": 1.10, "startup": 15.0, "check": 5.0, "compile": 8.0}


def machine() -> str:
    import tensorflow as tf

    cpus = os.cpu_count()
    model = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    gpus = tf.config.list_physical_devices("GPU")
    return (f"{platform.system()} {platform.machine()}, {cpus} CPUs ({model}), "
            f"{'GPUs: ' + str(len(gpus)) if gpus else 'no GPU'}; Python {platform.python_version()}, "
            f"TensorFlow {tf.__version__}")


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _met(value: float, goal: float, lower_is_better: bool = True) -> str:
    ok = value <= goal if lower_is_better else value >= goal
    return "met" if ok else "**not met**"


def _ratio(value) -> str:
    return "n/a" if value is None else (f"{value:.2f}x" if isinstance(value, float) else str(value))


def _trace_cell(row: dict) -> str:
    """tfm's Python calls while tracing against the twin's, and the two graphs' op counts."""
    if "trace_python_calls_ratio" not in row:
        return "n/a"
    ours, theirs = row["trace_ops"]
    return f"{row['trace_python_calls_ratio']:.2f}x, {ours} / {theirs} ops"


def render(models: dict, speed: dict, quick: bool) -> str:
    lines = ["# Benchmarks", "",
             "Written by `benchmarks/run.py`" + (" (quick sizes: a smoke run, not a measurement)" if quick else "") +
             f" on {datetime.now(timezone.utc):%Y-%m-%d}. Every figure is a ratio of medians measured in one run, "
             "the pairs interleaved; the machine is shared, so read ratios, not seconds.", "",
             f"Machine: {machine()}.", "",
             "## Compiled modules against the same modules written by hand", "",
             f"First call: {models['rounds']} fresh instances of each; per call: {3 * models['rounds']} stretches "
             f"of {models['calls'] // 3} calls each; the two sides take turns going first.", "",
             "Hand-written versions: `benchmarks/handwritten.py` (tf.Module, `@tf.function(input_signature=...)`, "
             "Keras optimizers, as the seeds write them).", "",
             f"| method | per call (goal <= {GOALS['per_call']}x) | first call: trace + run (goal <= "
             f"{GOALS['first_call']}x) | traces after {models['calls'] * 11 + models['rounds'] * models['calls']}+ "
             "calls (goal 1) | eager / graph | XLA / graph | while tracing: Python calls, ops |",
             "|---|---|---|---|---|---|---|"]
    for row in models["models"]:
        lines.append(f"| {row['case']} | {row['per_call_ratio']:.2f}x ({_met(row['per_call_ratio'], GOALS['per_call'])}) "
                     f"| {row['first_call_ratio']:.2f}x ({_met(row['first_call_ratio'], GOALS['first_call'])}) "
                     f"| {row['traces']} ({'met' if row['traces'] == 1 else '**not met**'}) "
                     f"| {_ratio(row['eager_over_graph'])} | {_ratio(row['xla_over_graph'])} "
                     f"| {_trace_cell(row)} |")
    control = models.get("control")
    if control:
        lines.append(f"| *noise control: {control['case']}* | {control['per_call_ratio']:.2f}x "
                     f"| {control['first_call_ratio']:.2f}x | | | | |")
    lines += ["", "Per call, ratios near 1.00 are within this machine's noise (the last row runs the very same "
              "code on both sides): where tfm makes no entry check, both sides run the same TensorFlow ops, op for "
              "op (`tests/tools/test_benchmarks.py` compares the traced graphs). The first call includes tracing; "
              "tfm traces a method called by another method into its caller, as hand-written code does. "
              "CNNClassifier traces the same graph as its twin too, but its layers are submodule methods that "
              "AutoGraph converts and calls one by one, where the twin is one flat function: more Python runs "
              "while tracing (last column), and the first call shows it. Eager and XLA columns compare the "
              "compiled module with itself "
              "(a ratio above 1 means slower than graph mode). The last column is the profile of a first call: "
              "the Python function calls made while a fresh instance's method is traced, tfm's against the "
              "twin's (a count, so the machine's load does not move it), and the ops in each traced graph.", "",
              "Where tfm does more than the hand-written code, it shows here: a method whose inputs share a named "
              "dim (MeanSquaredError's `y_true: f32[N, D]` and `y_pred: f32[N, D]`, SparseCategoricalAccuracy's "
              "`y_true` and `y_pred`, the train steps' `x` and `y`) checks where it is called from outside that the "
              "sizes agree (one `tf.Assert` per pair of inputs, so a batch of 5 labels never broadcasts silently "
              "against 1 prediction); the seeds' code has no such check. On a method of two tiny ops that check is "
              "a visible share of the call, and of the first call's tracing. Per-call ratios vary by about 10% "
              "from run to run on this shared 2-core machine.", "",
              "The same methods against twins that make the same check, written as a careful hand-writer would "
              "(`tf.debugging.assert_equal` on the shared sizes, `benchmarks/handwritten.py`): what is left is "
              "tfm's own cost.", "",
              f"| method | first call against the checked twin (goal <= {GOALS['first_call']}x) |", "|---|---|",
              *(f"| {row['case']} | {row['first_call_against_checked']:.2f}x "
                f"({_met(row['first_call_against_checked'], GOALS['first_call'])}) |"
                for row in models["models"] if row.get("first_call_against_checked") is not None), "",
              "## SavedModel in TensorFlow against .tflite in LiteRT (per call; below 1 means LiteRT is faster)", "",
              "| signature | float | dynamic-range quantized |", "|---|---|---|"]
    for row in models["tflite"]:
        def cell(label):
            value = row.get(label)
            if isinstance(value, float):
                return f"{value:.2f}x ({row[label + '_bytes']:,} bytes)"
            return str(value)
        lines.append(f"| {row['case']} | {cell('float')} | {cell('dynamic')} |")
    start, large = speed["startup"], speed["large"]
    lines += ["", "## How fast tfm answers", "",
              "| measure | value | goal |", "|---|---|---|",
              f"| `import tensorflow` / `tfm check` start-up | {start['speedup']:.1f}x "
              f"({start['import_tensorflow_s']:.2f} s / {start['check_s']:.2f} s) | >= {GOALS['startup']:.0f}x, "
              f"{_met(start['speedup'], GOALS['startup'], lower_is_better=False)} |",
              *([f"| of that start-up: Python starting / what importing pydantic and making one model class "
                 f"would add (`tfm check` does neither) | {start['python_share']:.0%} / "
                 f"{start['pydantic_share']:.0%} | measured |"]
                if "python_share" in start else []),
              f"| `tfm check` of a {large['tfm_lines']:,}-line .tfm / CPython `compile()` of its "
              f"{large['python_lines']:,}-line output | {large['check_over_cpython']:.1f}x "
              f"({large['check_s']:.2f} s / {large['cpython_s']:.3f} s) | <= {GOALS['check']:.0f}x, "
              f"{_met(large['check_over_cpython'], GOALS['check'])} |",
              f"| `tfm compile` of it / CPython | {large['compile_over_cpython']:.1f}x ({large['compile_s']:.2f} s) "
              f"| <= {GOALS['compile']:.0f}x, {_met(large['compile_over_cpython'], GOALS['compile'])} |",
              f"| peak memory of `tfm compile` | {large['compile_peak_mb']:.0f} MB | reported |", "",
              "The large source comes from `benchmarks/compile_speed.py --write-source FILE --lines N`.", "",
              "Both sides of the large-source ratios are CPU time of one process (single-threaded pure "
              "Python on both sides; another process's load on this shared machine would otherwise land on "
              "whichever side it overlapped), each call started with the last one's garbage collected.", "",
              "What `tfm check` does to be fast: no code generation; no cyclic garbage collection while it "
              "parses and checks (the collector walked the syntax tree's hundreds of thousands of objects "
              "again and again: more than half the time); nodes are frozen slotted data classes (measured "
              "against the pydantic models they were: half the construction time, a sixth of the memory), each "
              "built as its grammar rule is reduced (a transformer Lark's LALR parser calls: no "
              "parse tree, no second pass), with its position taken from the rule's first and last tokens; "
              "Lark used through its public API only, its analysed grammar loaded from tfm's private cache; "
              "each method body walked once per analysis. What is left, profiled on the large source: about "
              "two thirds is parsing (Lark's lexer and LALR steps three quarters of that, building the "
              "nodes the rest), the rest checking, inference and warnings. `tfm compile` adds code generation "
              "and the generated-code safety pass (which parses the output back with `ast`, itself as slow as "
              "CPython's `compile()`).", "",
              "Start-up: `tfm check` of a small file does not import TensorFlow; it loads Lark's analysed "
              "grammar from tfm's private cache (written by the first run, checked against its SHA-256 before "
              "it is unpickled), sets up only the running command's options, and ends without the "
              "interpreter's teardown once its output is flushed (freeing every object one by one took about "
              "a sixth of the run). It imports no pydantic: the syntax tree's nodes and the diagnostics are plain "
              "data classes. Most of what is left is importing Lark and loading the grammar, and creating "
              "the node classes.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"),
                        help="the report; the measurements go next to it as .json")
    parser.add_argument("--render-from", metavar="JSON", help="write the report from saved measurements")
    args = parser.parse_args()
    import compile_speed
    import models

    if args.render_from:  # the prose changed, the measurements did not: no need to measure again
        measured = json.loads(Path(args.render_from).read_text(encoding="utf-8"))
        speed, results = measured["speed"], measured["models"]
    else:
        speed = compile_speed.run(args.quick)
        results = models.run(args.quick)
        Path(args.output).with_suffix(".json").write_text(json.dumps({"speed": speed, "models": results}, indent=1),
                                                          encoding="utf-8")
    write_section(Path(args.output), "run.py", render(results, speed, args.quick), first=True)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
