"""Compiled examples against the same modules written by hand (benchmarks/handwritten.py): per call,
first call (trace + run), retraces over many calls, graph against eager, XLA on against off, and the
SavedModel in TensorFlow against the .tflite in LiteRT (float and dynamic-range quantized).

Every figure is a ratio of medians measured in one run, tfm and hand-written interleaved.

    .venv/bin/python benchmarks/models.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(Path(__file__).resolve().parent))


@dataclass
class Case:
    example: str
    module: str
    method: str
    hand: str  # class name in handwritten.py
    inputs: Callable  # (batch size, rng) -> list of numpy arrays
    init: dict
    checked: str | None = None  # handwritten.py's twin that also makes tfm's entry check, if tfm makes one


def _cases():
    import numpy as np

    def scalar(batch, rng):
        return [np.float32(rng.normal())]

    def pair(batch, rng):
        return [rng.normal(size=(batch, 4)).astype(np.float32), rng.normal(size=(batch, 4)).astype(np.float32)]

    def regression(batch, rng):
        return [rng.normal(size=(batch, 3)).astype(np.float32)]

    def regression_step(batch, rng):
        return [rng.normal(size=(batch, 3)).astype(np.float32), rng.normal(size=(batch, 1)).astype(np.float32)]

    def mlp(batch, rng):
        return [rng.normal(size=(batch, 32)).astype(np.float32)]

    def mlp_step(batch, rng):
        return [rng.normal(size=(batch, 32)).astype(np.float32),
                np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]]

    def two_ints(batch, rng):
        return [np.int32(rng.integers(0, 100)), np.int32(rng.integers(0, 100))]

    def count(batch, rng):
        return [np.int32(2 + batch)]

    def vector(batch, rng):
        return [rng.normal(size=(batch + 2,)).astype(np.float32)]

    def points(batch, rng):
        return [rng.normal(size=(batch * 4, 2)).astype(np.float32)]

    def labels_and_scores(batch, rng):
        return [rng.integers(0, 3, batch).astype(np.int32), rng.normal(size=(batch, 3)).astype(np.float32)]

    def sequences(batch, rng):
        return [rng.normal(size=(batch, 5, 4)).astype(np.float32)]

    def images(batch, rng):
        return [rng.random(size=(batch, 28, 28, 1)).astype(np.float32)]

    def token_ids(batch, rng):
        return [rng.integers(0, 50, size=(batch, 7)).astype(np.int32)]

    def masked_tokens(batch, rng):
        mask = np.ones((batch, 8), np.float32)
        mask[:, 6:] = 0.0
        return [rng.integers(0, 100, size=(batch, 8)).astype(np.int32), mask]

    return [
        Case("demo_module", "DemoModule", "addprint", "DemoModule", scalar, {}),
        Case("square_if_positive", "SquareIfPositive", "square_if_positive", "SquareIfPositive", scalar, {}),
        Case("mean_squared_error", "MeanSquaredError", "call", "MeanSquaredError", pair, {},
             "MeanSquaredErrorChecked"),
        Case("linear_regression", "LinearRegression", "predict", "LinearRegression", regression, {}),
        Case("linear_regression", "LinearRegression", "train_step", "LinearRegression", regression_step, {},
             "LinearRegressionChecked"),
        Case("my_model", "MyModel", "call", "MyModel", mlp, {}),
        Case("my_model", "MyModel", "train_step", "MyModel", mlp_step, {}, "MyModelChecked"),
        Case("add_print", "AddPrint", "add_print", "AddPrint", scalar, {}),
        Case("myadd", "MyAdd", "add_numbers", "MyAdd", two_ints, {}),
        Case("tensor_array", "Squares", "squares", "Squares", count, {}),
        Case("tensor_array", "Squares", "cumulative", "Squares", vector, {}),
        Case("kmeans", "KMeans", "step", "KMeans", points, {}),
        Case("sparse_categorical_accuracy", "SparseCategoricalAccuracy", "update_state", "SparseCategoricalAccuracy",
             labels_and_scores, {}, "SparseCategoricalAccuracyChecked"),
        Case("rnn_cell", "SimpleRNN", "run", "SimpleRNN", sequences, {}),
        Case("cnn_classifier", "CNNClassifier", "predict", "CNNClassifier", images, {}),
        Case("lstm_sequence", "LSTMRegressor", "predict", "LSTMRegressor", token_ids, {}),
        Case("transformer_encoder", "TransformerEncoder", "predict", "TransformerEncoder", masked_tokens, {},
             "TransformerEncoderChecked"),
    ]


@contextlib.contextmanager
def quiet_stderr():
    """tf.print writes to file descriptor 2 from C++; keep the benchmark's output readable."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _per_call(function, args, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function(*args)
    return (time.perf_counter() - start) / calls


def _interleaved(ours: Callable[[], float], theirs: Callable[[], float], rounds: int) -> tuple[list, list]:
    """Each side measured `rounds` times, in turns, who goes first alternating (a side that always
    ran second would always find the caches warmed by the other)."""
    mine, others = [], []
    for round_ in range(rounds):
        if round_ % 2:
            others.append(theirs())
            mine.append(ours())
        else:
            mine.append(ours())
            others.append(theirs())
    return mine, others


def measure_case(case: Case, tf, modules: dict, hand, rounds: int, calls: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    args = [tf.constant(a) for a in case.inputs(4, rng)]
    tfm_class, hand_class = getattr(modules[case.example], case.module), getattr(hand, case.hand)
    # First call: a fresh instance each round, tfm and hand-written interleaved.
    def first_call(cls) -> float:
        instance = cls(**case.init)  # built before the clock starts: the call alone is timed
        return _timed(lambda: getattr(instance, case.method)(*args))

    first_tfm, first_hand = _interleaved(lambda: first_call(tfm_class), lambda: first_call(hand_class), rounds)
    ours, theirs = tfm_class(**case.init), hand_class(**case.init)
    ours_fn, theirs_fn = getattr(ours, case.method), getattr(theirs, case.method)
    ours_fn(*args), theirs_fn(*args)
    # Per call: three times the rounds, a third of the calls each: the median of more, shorter
    # stretches is steadier on a shared machine.
    short = max(1, calls // 3)
    per_tfm, per_hand = _interleaved(lambda: _per_call(ours_fn, args, short),
                                     lambda: _per_call(theirs_fn, args, short), 3 * rounds)
    checked_first = None
    if case.checked:
        checked_class = getattr(hand, case.checked)
        ours_again, checked = _interleaved(lambda: first_call(tfm_class), lambda: first_call(checked_class), rounds)
        checked_first = statistics.median(ours_again) / statistics.median(checked)
    # Why a first call costs what it does: the Python calls made while tracing, and the ops traced.
    trace_profile = {side: _trace_profile(cls, case) for side, cls in (("tfm", tfm_class), ("hand", hand_class))}
    # Retraces: many calls with other values and batch sizes.
    for i in range(10 * calls):
        ours_fn(*[tf.constant(a) for a in case.inputs(1 + i % 7, rng)])
    # Graph against eager, and XLA against no XLA, for the compiled module.
    xla = tf.function(getattr(ours, f"_impl_{case.method}"), input_signature=ours_fn.input_signature,
                      jit_compile=True)
    try:
        xla(*args)
    except Exception:  # XLA cannot compile some ops (tf.print)
        xla = None
    tf.config.run_functions_eagerly(True)
    try:
        eager = statistics.median(_per_call(ours_fn, args, max(1, calls // 4)) for _ in range(rounds))
    finally:
        tf.config.run_functions_eagerly(False)
    graph = statistics.median(_per_call(ours_fn, args, calls) for _ in range(rounds))
    xla_time = None if xla is None else statistics.median(_per_call(xla, args, calls) for _ in range(rounds))
    return {
        "case": f"{case.module}.{case.method}",
        "per_call_ratio": statistics.median(per_tfm) / statistics.median(per_hand),
        "first_call_ratio": statistics.median(first_tfm) / statistics.median(first_hand),
        "first_call_against_checked": checked_first,
        "trace_python_calls_ratio": trace_profile["tfm"][0] / trace_profile["hand"][0],
        "trace_ops": (trace_profile["tfm"][1], trace_profile["hand"][1]),
        "per_call_us": statistics.median(per_tfm) * 1e6,
        "traces": ours_fn.experimental_get_tracing_count(),
        "calls_for_traces": 10 * calls + rounds * calls + 1,
        "eager_over_graph": eager / graph,
        "xla_over_graph": None if xla_time is None else xla_time / graph,
    }


def _trace_profile(cls, case: Case) -> tuple[int, int]:
    """(Python function calls made while a fresh instance's method is traced, ops in the graph): a
    count, not a time, so it says the same on a busy machine. AutoGraph's conversion of each function
    is cached after the first instance; the count is of a later one, as the first-call rounds are."""
    warm = cls(**case.init)  # held: a tf.function method keeps only a weak reference to its instance
    getattr(warm, case.method).get_concrete_function()
    instance = cls(**case.init)
    function = getattr(instance, case.method)
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(count)
    try:
        concrete = function.get_concrete_function()
    finally:
        sys.setprofile(None)
    return calls, len(concrete.graph.get_operations())


def measure_control(tf, hand, rounds: int, calls: int) -> dict:
    """The noise floor: the hand-written MyModel against another instance of itself, measured as the
    pairs are. Both sides run the very same code, so any distance from 1.00x is the machine's."""
    import numpy as np

    args = [tf.constant(np.random.default_rng(0).normal(size=(4, 32)).astype(np.float32))]

    def first_call() -> float:
        instance = hand.MyModel()
        return _timed(lambda: instance.call(*args))

    first_a, first_b = _interleaved(first_call, first_call, rounds)
    a, b = hand.MyModel(), hand.MyModel()
    a.call(*args), b.call(*args)
    short = max(1, calls // 3)
    per_a, per_b = _interleaved(lambda: _per_call(a.call, args, short), lambda: _per_call(b.call, args, short),
                                3 * rounds)
    return {"case": "MyModel.call (hand-written) against itself",
            "per_call_ratio": statistics.median(per_a) / statistics.median(per_b),
            "first_call_ratio": statistics.median(first_a) / statistics.median(first_b)}


def measure_tflite(case: Case, tf, work: Path, rounds: int, calls: int) -> dict | None:
    """The served signature: SavedModel in TensorFlow against the .tflite in LiteRT (float, dynamic)."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    import tfm

    source = EXAMPLES / f"{case.example}.tfm"
    rng = np.random.default_rng(0)
    args = case.inputs(4, rng)
    row = {"case": f"{case.module}.{case.method}"}
    for label, quantize in (("float", None), ("dynamic", "dynamic")):
        out = work / f"{case.example}-{case.method}-{label}"
        try:
            report = tfm.export(source, case.module, out, tflite=out.with_suffix(".tflite"), quantize=quantize,
                                signatures=[case.method], force=True)
        except Exception as exc:
            row[label] = f"not converted: {str(exc).splitlines()[0][:90]}"
            continue
        saved = tf.saved_model.load(str(out)).signatures["serving_default"]
        runner = Interpreter(model_path=str(report.tflite)).get_signature_runner("serving_default")
        names = [name for name, _, _ in report.signatures[0].inputs]
        feeds = dict(zip(names, args))
        tensors = {k: tf.constant(v) for k, v in feeds.items()}
        saved(**tensors)
        runner(**feeds)
        saved_time = statistics.median(_per_call(lambda: saved(**tensors), [], calls) for _ in range(rounds))
        lite_time = statistics.median(_per_call(lambda: runner(**feeds), [], calls) for _ in range(rounds))
        row[label] = lite_time / saved_time
        row[f"{label}_bytes"] = report.tflite_report.size
    return row


def run(quick: bool = False) -> dict:
    import tensorflow as tf

    import handwritten
    import tfm

    rounds, calls = (3, 20) if quick else (15, 300)
    cases = _cases()
    modules = {name: tfm.load(EXAMPLES / f"{name}.tfm") for name in {c.example for c in cases}}
    work = Path(tempfile.mkdtemp(prefix="tfm-bench-"))
    with quiet_stderr():
        results = [measure_case(case, tf, modules, handwritten, rounds, calls) for case in cases]
        control = measure_control(tf, handwritten, rounds, calls)
        served = [case for case in cases if case.method != "train_step"]
        lite = [measure_tflite(case, tf, work, rounds, calls) for case in (served[1:3] if quick else served)]
    return {"rounds": rounds, "calls": calls, "models": results, "control": control,
            "tflite": [row for row in lite if row]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (the test suite's run)")
    args = parser.parse_args()
    for row in run(args.quick)["models"]:
        print(row)


if __name__ == "__main__":
    main()
