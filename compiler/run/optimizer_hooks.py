"""One way to change what an optimizer's `apply_gradients` does while training: freezing
(fine_tuning.skipping), gradient accumulation (accumulation.accumulating) and gradient histograms
(tensorboard.gradient_histograms) each wrap it. The generated step looks `apply_gradients` up when it
is traced, so a wrapper installed around the training loop is the one the step's graph calls."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable


@contextmanager
def wrapped_apply_gradients(optimizers, wrap: Callable[[Callable], Callable]):
    """Within, each optimizer's `apply_gradients` is `wrap(what it was)`; after, what it was again
    (another such context's wrapper, or the class's method). Contexts nest in any order."""
    replaced = []
    for optimizer in optimizers:
        original = optimizer.apply_gradients
        replaced.append((optimizer, "apply_gradients" in vars(optimizer), original))
        object.__setattr__(optimizer, "apply_gradients", wrap(original))
    try:
        yield
    finally:
        for optimizer, own, original in reversed(replaced):
            if own:
                object.__setattr__(optimizer, "apply_gradients", original)
            else:
                object.__delattr__(optimizer, "apply_gradients")


__all__ = ["wrapped_apply_gradients"]
