"""tfm train's TensorBoard summaries, written as ops of the traced step wherever they are per step
(no eager op per step): the step's scalar outputs and the learning rate every --log-every steps, and
with --histograms the gradients (each optimizer's `apply_gradients` writes a histogram of every
gradient it is handed, `gradients/PATH`, the variable's checkpoint path; like --freeze and
--accumulate, the optimizer's method is replaced only while training, so the step is traced with
it); at each epoch's end, eagerly, its means and the weights' histograms.
"""

from __future__ import annotations

from contextlib import contextmanager

from tfm.run.optimizer_hooks import wrapped_apply_gradients
from tfm.run.step_loop import scalar_tensors


def summarized_step(tf, step, writer, counter, every: int, optimizer, input_signature):
    """`step` followed by `counter += 1` and, when the counter is a multiple of `every`, its scalar
    outputs and `optimizer`'s learning rate written at the counter's value."""

    def logged(*inputs):
        outputs = step(*inputs)
        counter.assign_add(1)
        with writer.as_default(step=counter), tf.summary.record_if(tf.equal(counter % every, 0)):
            for name, value in scalar_tensors(outputs).items():
                tf.summary.scalar(name, value)
            if optimizer is not None:
                tf.summary.scalar("learning_rate", optimizer.learning_rate)
        return outputs

    # The method's signature: a last, smaller batch does not trace the step a second time.
    return tf.function(logged, input_signature=input_signature)


def write_scalars(tf, writer, step: int, scalars: dict[str, float]) -> None:
    """Scalars written now (eagerly), at `step`."""
    with writer.as_default(step=step):
        for name, value in scalars.items():
            tf.summary.scalar(name, value)


def weight_histograms(tf, writer, step: int, variables: dict) -> None:
    """`weights/PATH` of every float variable (by checkpoint path), now, at `step`."""
    with writer.as_default(step=step):
        for path, variable in variables.items():
            if variable.dtype.is_floating:
                tf.summary.histogram(f"weights/{path}", variable)


@contextmanager
def gradient_histograms(tf, optimizers, writer, counter, every: int, paths: dict[int, str], recording):
    """Within, `apply_gradients` also writes `gradients/PATH` for each (grad, var) whose var's id is in
    `paths`, at step `counter + 1` (the step being taken) when that is a multiple of `every` and the
    boolean variable `recording` is true."""
    if writer is None:
        yield
        return

    def wrap(original):
        def apply_gradients(grads_and_vars, *args, **kwargs):
            pairs = list(grads_and_vars)
            step = counter + 1
            # "gradients/" ends in a slash: an absolute name scope, so the tags are not prefixed
            # with the scope of the module whose step calls this (`net/gradients/...`).
            with writer.as_default(step=step), tf.summary.record_if(
                    tf.logical_and(recording, tf.equal(step % every, 0))), tf.name_scope("gradients/"):
                for grad, var in pairs:
                    if grad is not None and id(var) in paths:
                        tf.summary.histogram(paths[id(var)], tf.convert_to_tensor(grad))
            return original(pairs, *args, **kwargs)

        return apply_gradients

    with wrapped_apply_gradients(optimizers, wrap):
        yield


__all__ = ["gradient_histograms", "summarized_step", "weight_histograms", "write_scalars"]
