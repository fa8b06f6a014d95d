"""Several training steps in one `tf.function` call (`--steps-per-call N`), as Keras's
`steps_per_execution` does: the call reads its batches from the epoch's dataset iterator inside the
graph, runs the step N times in a `tf.while_loop`, and hands back every step's scalar outputs, so
progress and epoch means stay per step while Python runs once per call.

The steps inside a call are the very ops of the single step, in the same order (one iteration after
the other: `parallel_iterations=1`), so a run gives the same weights, bit for bit, whatever N is, and
a run resumed at any step (a call ends at every checkpoint) ends where an uninterrupted one does.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from tfm.run.datasets import InputSpec

DEFAULT_STEPS_PER_CALL = 16  # when neither the flag nor a callback watching batches says otherwise
# The hooks of a Keras callback that run around every step: a callback defining one of them is
# called at every step, so the run takes one step per call unless --steps-per-call says otherwise.
BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")


def watches_batches(callbacks) -> bool:
    """Whether a callback defines a batch hook of its own (Keras's base class's are empty)."""
    for callback in callbacks:
        for hook in BATCH_HOOKS:
            method = getattr(type(callback), hook, None)
            if method is not None and not getattr(method, "__module__", "").startswith("keras"):
                return True
    return False


def steps_per_call(asked: int | None, callbacks, distributed: bool) -> int:
    """The steps of one call: the flag's, else 1 for a distributed run or one whose callbacks watch
    every batch, else DEFAULT_STEPS_PER_CALL."""
    if distributed:
        return 1  # strategy.run takes per-replica values, not an iterator; one step per call
    if asked is not None:
        return asked
    return 1 if watches_batches(callbacks) else DEFAULT_STEPS_PER_CALL


@dataclass
class CallResult:
    """What one call did: each step's scalar outputs (arrays of the call's length, by output name),
    and for each non-scalar float output, whether it was finite at each step."""

    count: int
    scalars: dict[str, Any]
    finite: dict[str, Any]

    def step(self, index: int) -> tuple[dict[str, float], list[str]]:
        """Step `index`'s scalars, and the names of its tensor outputs holding NaN or inf."""
        return ({name: float(values[index]) for name, values in self.scalars.items()},
                [name for name, values in self.finite.items() if not bool(values[index])])


class StepLoop:
    """`step` (a tf.function over the method's inputs, with an input signature) run up to `count`
    times in one call over a dataset iterator of dicts keyed by input name."""

    def __init__(self, tf, step, specs: list[InputSpec], check_finite: bool):
        self.tf, self.step, self.specs = tf, step, specs
        outputs = step.get_concrete_function().structured_outputs
        self.scalar_names = list(scalar_tensors(outputs))
        tensors = tensor_outputs(outputs)
        self.tensor_names = [name for name, value in tensors.items() if check_finite and value.dtype.is_floating
                             and name not in self.scalar_names]
        self.dtypes = {name: value.dtype for name, value in tensors.items()}
        # A partial, not the method: TensorFlow's retracing warning counts traces by code object, and
        # would take the loops of several runs in one process for one function traced again and again.
        self.function = tf.function(functools.partial(StepLoop._loop, self))

    def __call__(self, iterator, count: int) -> CallResult:
        scalars, finite = self.function(iterator, self.tf.constant(count, self.tf.int32))
        return CallResult(count, {name: value.numpy() for name, value in scalars.items()},
                          {name: value.numpy() for name, value in finite.items()})

    def _loop(self, iterator, count):
        tf = self.tf
        scalars = {name: tf.TensorArray(self.dtypes[name], size=count) for name in self.scalar_names}
        finite = {name: tf.TensorArray(tf.bool, size=count) for name in self.tensor_names}

        def body(index, scalars, finite):
            batch = iterator.get_next()
            outputs = self.step(*[batch[spec.name] for spec in self.specs])
            found = tensor_outputs(outputs)
            scalars = {name: array.write(index, found[name]) for name, array in scalars.items()}
            finite = {name: array.write(index, tf.reduce_all(tf.math.is_finite(found[name])))
                      for name, array in finite.items()}
            return index + 1, scalars, finite

        _, scalars, finite = tf.while_loop(lambda index, *_: index < count, body, (tf.constant(0), scalars, finite),
                                           parallel_iterations=1)
        return ({name: array.stack() for name, array in scalars.items()},
                {name: array.stack() for name, array in finite.items()})


def call_size(per_call: int, left_in_epoch: int, left_in_run: int | None, save_every: int | None,
              global_step: int) -> int:
    """The steps of the next call: at most `per_call`, ending at the epoch's end, the run's last step
    and the next --save-every checkpoint (so every checkpoint falls between two calls)."""
    size = min(per_call, left_in_epoch)
    if left_in_run is not None:
        size = min(size, left_in_run)
    if save_every:
        size = min(size, save_every - global_step % save_every)
    return max(size, 0)


def tensor_outputs(outputs) -> dict[str, Any]:
    """A step's tensor outputs by name (a lone unnamed output is `output_0`); per-replica values of a
    distributed step are left out (its scalars are reduced already)."""
    if outputs is None:
        return {}
    items = outputs.items() if isinstance(outputs, dict) else [("output_0", outputs)]
    return {name: value for name, value in items if hasattr(value, "dtype") and hasattr(value, "shape")}


def scalar_tensors(outputs) -> dict[str, Any]:
    """The rank-0 numeric outputs of a step, by name (as `scalar_outputs` names them)."""
    return {name: value for name, value in tensor_outputs(outputs).items() if value.shape is not None
            and value.shape.rank == 0 and (value.dtype.is_floating or value.dtype.is_integer)}


__all__ = ["DEFAULT_STEPS_PER_CALL", "CallResult", "StepLoop", "call_size", "scalar_tensors", "steps_per_call",
           "tensor_outputs", "watches_batches"]
