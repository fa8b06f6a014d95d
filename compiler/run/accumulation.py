"""Gradient accumulation (`--accumulate K`): each optimizer adds the gradients its step hands it to
accumulators, and every K-th step applies their mean, then clears them. For a loss that is a mean
over the batch, K steps on batches of B make the update one step on the K*B examples together would
make (the mean of K batch means is the mean over all), while holding only B in memory at a time.

The generated step calls `optimizer.apply_gradients` (or `minimize`, which calls it) once per step;
like --freeze (tfm.run.fine_tuning), the optimizer's method is replaced while training, so the step
is traced with the accumulating one. The accumulators and the count of steps are variables saved
with the checkpoints, so a run resumed between two updates goes on with the same sums.
"""

from __future__ import annotations

from contextlib import contextmanager

from tfm.run.optimizer_hooks import wrapped_apply_gradients


class Accumulators:
    """One zeroed accumulator per trainable variable of `instance` (by the variable's id), and the
    number of steps taken, in a tf.Module saved with the checkpoints."""

    def __init__(self, tf, instance, every: int):
        self.tf, self.every = tf, every
        self.module = tf.Module(name="accumulation")
        self.module.steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="steps")
        self.module.sums = [tf.Variable(tf.zeros_like(v), trainable=False, name=f"sum_{n}")
                            for n, v in enumerate(instance.trainable_variables)]
        self.by_variable = {id(v): s for v, s in zip(instance.trainable_variables, self.module.sums)}

    def apply_gradients(self, original, grads_and_vars) -> None:
        """Add the gradients to their sums; every `every`-th call, hand `original` the means and clear."""
        tf = self.tf
        pairs = [(grad, var) for grad, var in grads_and_vars if grad is not None]
        for grad, var in pairs:
            self.by_variable[id(var)].assign_add(tf.convert_to_tensor(grad))
        steps = self.module.steps.assign_add(1)

        def update():
            original([(self.by_variable[id(var)] / self.every, var) for _, var in pairs])
            for _, var in pairs:
                self.by_variable[id(var)].assign(tf.zeros_like(var))
            return tf.constant(True)

        tf.cond(tf.equal(steps % self.every, 0), update, lambda: tf.constant(False))


@contextmanager
def accumulating(optimizers, accumulators: Accumulators | None):
    """While training, each optimizer's `apply_gradients` accumulates (nothing changes without
    `accumulators`). Inside tfm.run.fine_tuning.skipping, frozen variables are left out first."""
    if accumulators is None:
        yield
        return

    def wrap(original):
        def apply_gradients(grads_and_vars, *args, **kwargs):
            accumulators.apply_gradients(lambda pairs: original(pairs, *args, **kwargs), grads_and_vars)

        return apply_gradients

    with wrapped_apply_gradients(optimizers, wrap):
        yield

__all__ = ["Accumulators", "accumulating"]
