"""The benchmark scripts stay runnable (small sizes), and methods never retrace. Timings are never
asserted here: they are measured by `benchmarks/run.py` into docs/benchmarks.md."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import tfm
from support import EXAMPLES, ROOT


def test_the_benchmark_page_is_written_by_the_script(tmp_path):
    output = tmp_path / "benchmarks.md"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--output", str(output)],
                            capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    page = output.read_text()
    for heading in ("## Compiled modules against the same modules written by hand",
                    "## SavedModel in TensorFlow against .tflite in LiteRT", "## How fast tfm answers"):
        assert heading in page
    assert "| MyModel.train_step |" in page and "Machine: " in page
    assert "first call against the checked twin" in page
    again = tmp_path / "again.md"
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--output", str(again),
                             "--render-from", str(output.with_suffix(".json"))], capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert again.read_text() == page, "the page re-rendered from the saved measurements differs"


def test_the_large_source_generator_writes_a_program_that_checks(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import compile_speed
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    source = tmp_path / "large.tfm"
    source.write_text(compile_speed.large_source(400))
    assert source.read_text().count("\n") >= 400
    assert tfm.check(source) == []


def test_no_method_retraces_over_a_thousand_calls():
    """Every example method is traced once, whatever the values and batch sizes of later calls."""
    rng = np.random.default_rng(0)
    model = tfm.load(EXAMPLES / "my_model.tfm").MyModel(num_classes=4)
    regression = tfm.load(EXAMPLES / "linear_regression.tfm").LinearRegression()
    for i in range(1000):
        batch = 1 + i % 9
        x = rng.normal(size=(batch, 32)).astype(np.float32)
        model.call(x)
        if i % 10 == 0:
            model.train_step(x, np.eye(4, dtype=np.float32)[rng.integers(0, 4, batch)])
        regression.predict(tf.constant(rng.normal(size=(batch, 3)).astype(np.float32)))
    for function in (model.call, model.train_step, regression.predict):
        assert function.experimental_get_tracing_count() == 1


def test_the_checked_twins_compute_the_same_and_refuse_what_tfm_refuses():
    """The twins the benchmark compares tfm's entry checks with make the same check: same results on
    agreeing inputs, and both refuse a batch of 5 labels against 1 prediction."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import handwritten
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    rng = np.random.default_rng(1)
    y_true, y_pred = (rng.normal(size=(4, 3)).astype(np.float32) for _ in range(2))
    compiled = tfm.load(EXAMPLES / "mean_squared_error.tfm").MeanSquaredError()
    checked = handwritten.MeanSquaredErrorChecked()
    np.testing.assert_allclose(checked.call(y_true, y_pred), compiled.call(y_true, y_pred), rtol=1e-6)
    for refuses in (checked.call, compiled.call):
        with pytest.raises(tf.errors.InvalidArgumentError):
            refuses(y_true[:1], np.ones((5, 3), np.float32))
    labels = np.array([0, 2, 1, 1], np.int32)
    scores = rng.normal(size=(4, 3)).astype(np.float32)
    metric, twin = tfm.load(EXAMPLES / "sparse_categorical_accuracy.tfm").SparseCategoricalAccuracy(), \
        handwritten.SparseCategoricalAccuracyChecked()
    metric.update_state(labels, scores), twin.update_state(labels, scores)
    assert (int(metric.total), int(metric.count)) == (int(twin.total), int(twin.count))
    with pytest.raises(tf.errors.InvalidArgumentError):
        twin.update_state(labels[:1], scores)


def test_without_an_entry_check_tfm_traces_what_the_hand_written_twin_traces():
    """Per-call ratios of such pairs are the machine's noise: the graphs are the same, op for op."""
    import collections

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import handwritten
        import models
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))

    def ops(instance, method):
        graph = getattr(instance, method).get_concrete_function().graph
        return collections.Counter(op.type for op in graph.get_operations())

    unchecked = [case for case in models._cases() if case.checked is None]
    assert len(unchecked) >= 10
    for case in unchecked:
        ours = getattr(tfm.load(EXAMPLES / f"{case.example}.tfm"), case.module)(**case.init)
        theirs = getattr(handwritten, case.hand)(**case.init)
        assert ops(ours, case.method) == ops(theirs, case.method), f"{case.module}.{case.method}"
