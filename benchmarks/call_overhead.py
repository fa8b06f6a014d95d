"""Per-call cost of a compiled module: tf.function, tf.function with XLA (@jit), and the TFLite export.

Prints ratios measured in one run (machines here are shared and noisy; compare ratios, not seconds):

    .venv/bin/python benchmarks/call_overhead.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SOURCE = """
module Mlp(features: int = 16, hidden: int = 32):
    var w1: f32[features, hidden] = glorot_uniform(seed=1)
    var w2: f32[hidden, 1] = glorot_uniform(seed=2)

    @serving
    fn predict(x: f32[N, features]) -> f32[N, 1]:
        return relu(x @ w1) @ w2

    @jit
    fn predict_xla(x: f32[N, features]) -> f32[N, 1]:
        return relu(x @ w1) @ w2
"""


def per_call(function, calls: int) -> float:
    function()  # trace, compile, warm up
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    import tfm

    work = Path(tempfile.mkdtemp(prefix="tfm-bench-"))
    source = work / "mlp.tfm"
    source.write_text(SOURCE)
    model = tfm.load(source).Mlp()
    x = np.random.default_rng(0).normal(size=(4, 16)).astype(np.float32)
    tensor = tf.constant(x)

    report = tfm.export(source, "Mlp", work / "saved", tflite=work / "mlp.tflite")
    runner = Interpreter(model_path=str(report.tflite)).get_signature_runner("serving_default")
    np.testing.assert_allclose(runner(x=x)["output_0"], model.predict(tensor).numpy(), rtol=1e-5)

    times = {
        "tf.function": per_call(lambda: model.predict(tensor), args.calls),
        "tf.function + XLA (@jit)": per_call(lambda: model.predict_xla(tensor), args.calls),
        "TFLite (LiteRT)": per_call(lambda: runner(x=x), args.calls),
    }
    base = times["tf.function"]
    print(f"{args.calls} calls each, batch of 4, a 16-32-1 MLP")
    for name, seconds in times.items():
        print(f"  {name:26s} {seconds * 1e6:9.1f} us/call   {base / seconds:6.1f}x tf.function's speed")


if __name__ == "__main__":
    main()
