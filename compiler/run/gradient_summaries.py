"""Gradient histograms (`--histograms` with `--logdir`): while training, each optimizer's
`apply_gradients` first writes a histogram of every gradient it is handed, `gradients/PATH` (the
variable's checkpoint path), every --log-every steps. The summaries are ops of the traced step, as the
step's scalars are (no eager op per step); like --freeze and --accumulate, the optimizer's method is
replaced only while training, so the step is traced with it.
"""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def gradient_histograms(tf, optimizers, writer, counter, every: int, paths: dict[int, str], recording):
    """Within, `apply_gradients` also writes `gradients/PATH` for each (grad, var) whose var's id is in
    `paths`, at step `counter + 1` (the step being taken) when that is a multiple of `every` and the
    boolean variable `recording` is true."""
    if writer is None:
        yield
        return
    replaced = []
    for optimizer in optimizers:
        original = optimizer.apply_gradients

        def apply_gradients(grads_and_vars, *args, _original=original, **kwargs):
            pairs = list(grads_and_vars)
            step = counter + 1
            with writer.as_default(step=step), tf.summary.record_if(
                    tf.logical_and(recording, tf.equal(step % every, 0))):
                for grad, var in pairs:
                    if grad is not None and id(var) in paths:
                        tf.summary.histogram(f"gradients/{paths[id(var)]}", tf.convert_to_tensor(grad))
            return _original(pairs, *args, **kwargs)

        replaced.append((optimizer, "apply_gradients" in vars(optimizer), original))
        object.__setattr__(optimizer, "apply_gradients", apply_gradients)
    try:
        yield
    finally:
        for optimizer, own, original in replaced:
            if own:
                object.__setattr__(optimizer, "apply_gradients", original)
            else:
                object.__delattr__(optimizer, "apply_gradients")


__all__ = ["gradient_histograms"]
