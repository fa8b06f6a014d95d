"""Training speed: `tfm train` (through `tfm.train`, its defaults) against Keras 3 `fit` (its defaults)
and a hand-written `tf.function` loop over `tf.data`, on the same models and data: an MLP
784-256-256-10 and a two-convolution CNN on 28x28 images, batches of 128, Adam, sparse categorical
cross-entropy. Each contender trains a few epochs; the first (tracing, warm-up) is left out and the
others are timed one by one (CPU time of this process and wall time), the contenders taking turns
round after round. Figures are ratios of medians.

    .venv/bin/python benchmarks/train_speed.py [--quick] [--rounds R] [--markdown | --write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from page import write_section  # noqa: E402  (benchmarks/page.py)

MLP = """\
module MLP(learning_rate: float = 0.001):
    sub hidden_1 = Dense(784, 256, activation="relu", seed=1)
    sub hidden_2 = Dense(256, 256, activation="relu", seed=2)
    sub head = Dense(256, 10, seed=3)
    sub optimizer = Adam(learning_rate=learning_rate)

    fn train_step(x: f32[N, 784], y: i32[N]) -> (loss: f32[]):
        with GradientTape() as tape:
            logits = head(hidden_2(hidden_1(x)))
            loss = reduce_mean(sparse_categorical_crossentropy(y, logits, from_logits=True))
        optimizer.minimize(loss, tape)
        return loss
"""

CNN = """\
module CNN(learning_rate: float = 0.001):
    sub conv_1 = Conv2D(1, 16, 3, padding="SAME", activation="relu", seed=1)
    sub pool_1 = MaxPool2D(2)
    sub conv_2 = Conv2D(16, 32, 3, padding="SAME", activation="relu", seed=2)
    sub pool_2 = MaxPool2D(2)
    sub gap = GlobalAveragePooling2D()
    sub head = Dense(32, 10, seed=3)
    sub optimizer = Adam(learning_rate=learning_rate)

    fn train_step(x: f32[N, 28, 28, 1], y: i32[N]) -> (loss: f32[]):
        with GradientTape() as tape:
            logits = head(gap(pool_2(conv_2(pool_1(conv_1(x))))))
            loss = reduce_mean(sparse_categorical_crossentropy(y, logits, from_logits=True))
        optimizer.minimize(loss, tape)
        return loss
"""

BATCH = 128
HEADING = "## Training speed: tfm train against Keras fit and a hand-written loop"


def _data(shape: tuple[int, ...], examples: int):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(examples, *shape)).astype(np.float32)
    return {"x": x, "y": rng.integers(0, 10, size=examples).astype(np.int32)}


def _keras_model(case: str):
    import keras

    if case == "MLP":
        layers = [keras.Input((784,)), keras.layers.Dense(256, activation="relu"),
                  keras.layers.Dense(256, activation="relu"), keras.layers.Dense(10)]
    else:
        layers = [keras.Input((28, 28, 1)), keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
                  keras.layers.MaxPooling2D(2), keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
                  keras.layers.MaxPooling2D(2), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)]
    return keras.Sequential(layers)


class _EpochClock:
    """A Keras-style callback timing each epoch (CPU time of the process, and wall time)."""

    def __init__(self):
        self.epochs: list[tuple[float, float]] = []

    def set_model(self, model):
        pass

    def set_params(self, params):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        self.started = (time.process_time(), time.perf_counter())

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append((time.process_time() - self.started[0], time.perf_counter() - self.started[1]))

    def __getattr__(self, name):  # every other hook of keras.callbacks.Callback: nothing to do
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


def run_tfm(source: Path, module: str, data: dict, epochs: int, said: list[str] | None = None,
            logdir: Path | None = None) -> list[tuple[float, float]]:
    """tfm.train with its defaults (as `tfm train` without flags): its log lines go to `said`. With
    `logdir`, TensorBoard summaries at their default frequency (--log-every 100), as `--logdir DIR`."""
    import tfm

    clock = _EpochClock()
    lines: list[str] = [] if said is None else said
    logging = {} if logdir is None else {"logdir": logdir}
    tfm.train(source, f"{module}.train_step", data, batch_size=BATCH, epochs=epochs, seed=0, progress=False,
              log=lines.append, callbacks=[clock], **logging)
    return clock.epochs[1:]


def run_keras(case: str, data: dict, epochs: int) -> list[tuple[float, float]]:
    import keras

    model = _keras_model(case)
    model.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    clock = _EpochClock()
    times: list[tuple[float, float]] = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            clock.on_epoch_begin(epoch)

        def on_epoch_end(self, epoch, logs=None):
            clock.on_epoch_end(epoch)

    model.fit(data["x"], data["y"], batch_size=BATCH, epochs=epochs, verbose=0, callbacks=[Clock()])
    times.extend(clock.epochs[1:])
    return times


def run_loop(case: str, data: dict, epochs: int) -> list[tuple[float, float]]:
    """As one writes it by hand: Keras layers, tf.data (shuffle, batch, prefetch), a tf.function step."""
    import keras
    import tensorflow as tf

    model = _keras_model(case)
    optimizer = keras.optimizers.Adam()
    loss_of = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_of(y, model(x, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    dataset = tf.data.Dataset.from_tensor_slices(data).shuffle(1024, seed=0).batch(BATCH).prefetch(tf.data.AUTOTUNE)
    times = []
    for _ in range(epochs):
        started = (time.process_time(), time.perf_counter())
        for batch in dataset:
            float(step(batch["x"], batch["y"]))  # the loss read each step, as a progress display does
        times.append((time.process_time() - started[0], time.perf_counter() - started[1]))
    return times[1:]


def measure(rounds: int, examples: int, epochs: int) -> dict:
    """Per case: each contender's median CPU and wall seconds per step, and the ratios to tfm."""
    started_load = os.getloadavg()[0]  # the machine's, said in the page: a shared machine's load moves wall times
    directory = Path(tempfile.mkdtemp(prefix="tfm-train-speed-"))
    results = {}
    for case, source, shape in (("MLP", MLP, (784,)), ("CNN", CNN, (28, 28, 1))):
        path = directory / f"{case.lower()}.tfm"
        path.write_text(source)
        data = _data(shape, examples)
        steps = -(-examples // BATCH)
        said: list[str] = []
        logdir = directory / f"{case.lower()}-logs"
        contenders = {"tfm": lambda: run_tfm(path, case, data, epochs, said),
                      "keras": lambda: run_keras(case, data, epochs),
                      "loop": lambda: run_loop(case, data, epochs),
                      "tfm_logdir": lambda: run_tfm(path, case, data, epochs, logdir=logdir)}
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
        for number in range(rounds):
            turn = number % len(contenders)
            order = list(contenders)[turn:] + list(contenders)[:turn]  # each goes first in turn
            for name in order:
                samples[name].extend(contenders[name]())
        medians = {name: (statistics.median(c for c, _ in times) / steps, statistics.median(w for _, w in times) / steps)
                   for name, times in samples.items()}
        jit = [line.rsplit(": ", 1)[1] for line in said if line.startswith("tfm: --jit auto:")]
        results[case] = {"steps_per_epoch": steps, "seconds_per_step": medians, "tfm_jit_choices": jit,
                         "keras_over_tfm_cpu": medians["keras"][0] / medians["tfm"][0],
                         "loop_over_tfm_cpu": medians["loop"][0] / medians["tfm"][0],
                         "keras_over_tfm_wall": medians["keras"][1] / medians["tfm"][1],
                         "loop_over_tfm_wall": medians["loop"][1] / medians["tfm"][1],
                         "logdir_cost_cpu": medians["tfm_logdir"][0] / medians["tfm"][0] - 1}
    return {"rounds": rounds, "examples": examples, "epochs_timed": epochs - 1, "cases": results,
            "load_average": [round(load, 1) for load in (started_load, os.getloadavg()[0])]}


GOALS = {"keras": 1.15, "loop": 1.0}  # tfm at least this many times as fast (CPU time per step, steps/s)
LOGDIR_COST_GOAL = 0.05  # --logdir at its default settings costs at most this much more CPU time per step


def _cell(ratio: float, goal: float) -> str:
    return f"{ratio:.2f}x ({'met' if ratio >= goal else '**not met**'})"


def _cost(cost: float | None) -> str:
    if cost is None:
        return "n/a"
    return f"{cost * 100:+.1f}% ({'met' if cost <= LOGDIR_COST_GOAL else '**not met**'})"


def render(measured: dict) -> str:
    """The section of docs/benchmarks.md: how many times faster tfm is than each contender."""
    lines = [HEADING, "",
             f"`benchmarks/train_speed.py`: {measured['examples']} examples in batches of {BATCH}, "
             f"{measured['epochs_timed']} epochs timed per contender and round (the first, which traces, left out), "
             f"{measured['rounds']} rounds taking turns. Each figure is the contender's median time per step over "
             f"tfm's (above 1: tfm is faster). Goal: tfm >= {GOALS['keras']}x Keras `fit`, and >= {GOALS['loop']}x "
             "the hand-written loop, in CPU time per step and in steps per second; `--logdir DIR` (TensorBoard "
             f"summaries at the default `--log-every 100`) costs tfm at most {LOGDIR_COST_GOAL:.0%} more CPU time "
             "per step (a fourth contender: tfm with `--logdir`).", "",
             "| model | CPU time: Keras fit / tfm | steps/s: tfm / Keras fit | CPU time: loop / tfm | "
             "steps/s: tfm / loop | ms per step (CPU): tfm, Keras fit, loop | tfm's --jit auto chose | "
             "--logdir's cost (CPU per step) |",
             "|---|---|---|---|---|---|---|---|"]
    for case, row in measured["cases"].items():
        ms = " / ".join(f"{row['seconds_per_step'][name][0] * 1000:.2f}" for name in ("tfm", "keras", "loop"))
        choices = sorted(set(row.get("tfm_jit_choices", [])))
        lines.append(f"| {case} | {_cell(row['keras_over_tfm_cpu'], GOALS['keras'])} "
                     f"| {_cell(row['keras_over_tfm_wall'], GOALS['keras'])} "
                     f"| {_cell(row['loop_over_tfm_cpu'], GOALS['loop'])} | {_cell(row['loop_over_tfm_wall'], GOALS['loop'])} "
                     f"| {ms} | {', '.join(choices) or 'n/a'} | {_cost(row.get('logdir_cost_cpu'))} |")
    lines += ["", "Every contender runs with its defaults: Keras `fit(x, y, batch_size=128)` (one step per call, "
              "no XLA); the loop is `@tf.function` over `tf.data` (shuffle, batch, prefetch), its loss read each "
              "step. tfm trains with `tfm train`'s defaults, which are chosen for speed: 16 steps per "
              "`tf.function` call (`--steps-per-call`, Python runs once per call instead of once per step), "
              "`--jit auto` (before the first step, the step is timed with and without XLA on throwaway "
              "steps and the faster kept: XLA fuses the MLP's small ops into a few loops, but runs this CNN's "
              "convolutions several times slower than TensorFlow's own kernels), in-memory examples batched by "
              "gathering rows (not one tf.data element per example), batches prefetched. The "
              "trial and XLA's compilation happen in the first epoch, which is not timed (for any contender).",
              "", "This page's other sections are written by `benchmarks/run.py` and `benchmarks/lsp_latency.py`; "
              "this one by `benchmarks/train_speed.py --write docs/benchmarks.md`. The machine is shared: read "
              "the ratios, not the milliseconds" + (" (its load average was {} at the start and {} at the end of "
                                                    "this run).".format(*measured["load_average"])
                                                    if "load_average" in measured else ".")]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not a measurement")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--markdown", action="store_true", help="print the docs section instead of JSON")
    parser.add_argument("--write", metavar="PAGE", help="put the section into PAGE (docs/benchmarks.md), replacing "
                                                        "this script's own section only")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 5)
    # 5 epochs of 64 steps: 320 steps, a run long enough for tfm's --jit auto to time XLA (300 or more).
    measured = measure(rounds, 512 if args.quick else 8192, 2 if args.quick else 5)
    print(render(measured) if args.markdown or args.write else json.dumps(measured, indent=2))
    if args.write:
        write_section(Path(args.write), "train_speed.py", render(measured))
    return 0


if __name__ == "__main__":
    sys.exit(main())
