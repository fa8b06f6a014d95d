"""`--jit auto`: time the training step with and without XLA on the run's first calls and keep the
faster. Both take real training steps (one variant's warm-up call, which traces or compiles, is not
timed), so nothing is trained twice; the choice is said in the log and kept in the run file, so a
resumed run goes on as it began without measuring again.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

# The calls of the trial, in order: each variant's first call traces (and XLA compiles), the others
# are timed, taking turns so that a change in the machine's load falls on both.
TRIAL = (False, True, False, True, False, True)
TIMED_FROM = 2  # the first two calls warm up
TRIAL_STEPS = 8  # steps per trial call at most: the trial ends within 48 steps


class JitChoice:
    """A step loop (`loops[False]` without XLA, `loops[True]` with) that picks the faster variant by
    CPU time per step once the trial calls are done; `chosen` is then True (XLA) or False."""

    def __init__(self, loops: dict, log: Callable[[str], None], remember: Callable[[bool], None],
                 chosen: bool | None = None):
        self.loops, self.log, self.remember, self.chosen = loops, log, remember, chosen
        self.calls = 0
        self.times: dict[bool, list[float]] = {False: [], True: []}

    def limit(self, size: int) -> int:
        """The size of the next call: while the trial runs, at most TRIAL_STEPS."""
        return size if self.chosen is not None else min(size, TRIAL_STEPS)

    def __call__(self, iterator, count: int):
        if self.chosen is not None:
            return self.loops[self.chosen](iterator, count)
        xla = TRIAL[self.calls]
        started = time.process_time()
        result = self.loops[xla](iterator, count)
        if self.calls >= TIMED_FROM:
            self.times[xla].append((time.process_time() - started) / count)
        self.calls += 1
        if self.calls == len(TRIAL):
            self._choose()
        return result

    def _choose(self) -> None:
        plain, xla = (statistics.median(self.times[variant]) for variant in (False, True))
        self.chosen = xla < plain
        self.log(f"tfm: --jit auto: {xla * 1000:.3g} ms of CPU per step with XLA, {plain * 1000:.3g} without: "
                 f"training {'with' if self.chosen else 'without'} XLA")
        self.remember(self.chosen)


def xla(tf, method):
    """A generated method's tf.function compiled whole by XLA (tf.config.optimizer.set_jit compiles
    nothing on a CPU): the same Python function and input signature, `jit_compile=True`."""
    return tf.function(method.python_function, input_signature=method.input_signature, jit_compile=True)


__all__ = ["JitChoice", "TRIAL", "xla"]
