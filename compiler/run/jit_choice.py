"""`--jit auto` (tfm train's default): time the training step with and without XLA before the run's
first step and train with the faster. XLA fuses a small dense network's ops into a few loops (about
a third faster on a CPU) but runs a convolution's kernels far slower than TensorFlow's own, so no one
choice suits every model.

The trial runs on throwaway steps: it reads its own batches, and every variable the checkpoint holds
(weights, optimizer slots and step count, random states, metrics) is put back afterwards, so the run
then trains exactly as it would with the chosen setting given as a flag. The choice is said in the log
and kept in the run file: a resumed run goes on with it, without a second trial.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

from tfm.run.step_loop import StepLoop

# The calls of the trial, in order: each variant's first call traces (and XLA compiles) and is not
# timed; the others take turns, so that a change in the machine's load falls on both.
TRIAL = (False, True, False, True, False, True, False, True)
TIMED_FROM = 2
TRIAL_STEPS = 4  # steps per trial call
# XLA is kept only when it is this much faster: a close call keeps TensorFlow's own kernels (what every
# other tfm command runs), and two runs of one model on one machine then choose alike.
MARGIN = 0.9
# A run with fewer steps to go trains without XLA and times nothing: the trial (64 steps, and XLA's
# compilation, often worth as many again) could not repay itself. It keeps short runs (and tests)
# quick, and their results the same from run to run.
AUTO_MIN_STEPS = 300


def default_jit(settings) -> bool | str:
    """tfm train's --jit: as set (flag, TFM_JIT, config file), else "auto"."""
    return settings.jit if "jit" in settings.model_fields_set else "auto"


def xla(tf, method):
    """A generated method's tf.function compiled whole by XLA (tf.config.optimizer.set_jit compiles
    nothing on a CPU): the same Python function and input signature, `jit_compile=True`."""
    return tf.function(method.python_function, input_signature=method.input_signature, jit_compile=True)


def choose(tf, method, specs, batches, variables: list, log: Callable[[str], None]) -> bool:
    """True if `method` (a training step) is faster compiled by XLA (by MARGIN): each variant run for a
    few calls over `batches` (taking turns), by median CPU time per step; `variables` are restored after."""
    loops = {False: StepLoop(tf, method, specs, False), True: StepLoop(tf, xla(tf, method), specs, False)}
    saved = [variable.numpy() for variable in variables]  # after tracing: an optimizer builds its slots then
    times: dict[bool, list[float]] = {False: [], True: []}
    iterator = iter(batches.repeat())
    try:
        for number, compiled in enumerate(TRIAL):
            started = time.process_time()
            loops[compiled](iterator, TRIAL_STEPS)
            if number >= TIMED_FROM:
                times[compiled].append((time.process_time() - started) / TRIAL_STEPS)
    finally:
        for variable, value in zip(variables, saved):
            variable.assign(value)
    plain, with_xla = (statistics.median(times[variant]) for variant in (False, True))
    chosen = with_xla < MARGIN * plain
    log(f"tfm: --jit auto: {with_xla * 1000:.3g} ms of CPU per step with XLA, {plain * 1000:.3g} ms without "
        f"(timed on {TRIAL_STEPS * (len(TRIAL) - TIMED_FROM)} steps, then undone): training "
        f"{'with' if chosen else 'without'} XLA")
    return chosen


def chosen_setting(value: Any) -> bool | None:
    """A choice read back from the run file (True or False), or None."""
    return value if isinstance(value, bool) else None


__all__ = ["AUTO_MIN_STEPS", "MARGIN", "TRIAL", "TRIAL_STEPS", "choose", "chosen_setting", "default_jit", "xla"]
