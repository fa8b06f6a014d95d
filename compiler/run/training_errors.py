"""The errors `tfm train` raises: their own module, so the pieces of training (the run directory,
fine-tuning) raise them without importing the trainer."""

from __future__ import annotations

import signal

from tfm.dsl.diagnostics import printable


class TrainingError(Exception):
    """Training cannot start or go on; the message says why and what to do."""


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped training between two steps: `step` is the last step done, `checkpoint`
    the checkpoint saved there (None without a checkpoint directory). A KeyboardInterrupt, so code
    that stops on Ctrl-C stops on it too."""

    def __init__(self, signum: int, step: int, checkpoint: str | None):
        super().__init__(signum, step, checkpoint)
        self.signum, self.step, self.checkpoint = signum, step, checkpoint

    def __str__(self) -> str:
        saved = f"; checkpoint: {printable(self.checkpoint)}" if self.checkpoint else ""
        return f"stopped by {signal.Signals(self.signum).name} after step {self.step}{saved}"
