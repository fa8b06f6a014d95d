"""How `tfm train` shows its progress: a rich progress bar on a terminal (the step's scalar outputs and
steps/s), plain lines when the output is a file or a pipe (a CI log must not fill with redraws).

rich is already installed with TensorFlow (Keras depends on it); tfm declares it too.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import TaskID


def scalars_text(scalars: dict[str, float]) -> str:
    return "  ".join(f"{name}={value:.4g}" for name, value in scalars.items())


class PlainProgress:
    """A line per tenth of an epoch and at each epoch's end: never a carriage return."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.every = 1
        self.started = time.perf_counter()
        self.counted = 0

    def start_epoch(self, epoch: int, epochs: int | None, steps: int, done: int, label: str | None = None) -> None:
        self.label = label or f"epoch {epoch + 1}" + (f"/{epochs}" if epochs else "")
        self.steps, self.every = steps, max(1, steps // 10)
        self.started, self.counted = time.perf_counter(), 0

    def step(self, step_in_epoch: int, scalars: dict[str, float]) -> None:
        self.counted += 1
        if step_in_epoch % self.every == 0 or step_in_epoch == self.steps:
            rate = self.counted / max(time.perf_counter() - self.started, 1e-9)
            shown = f"  {scalars_text(scalars)}" if scalars else ""
            print(f"{self.label}  step {step_in_epoch}/{self.steps}{shown}  {rate:.1f} steps/s",
                  file=self.stream, flush=True)

    def end_epoch(self) -> None:
        pass

    def message(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        pass


class BarProgress:
    """rich's progress bar, one bar per epoch, with the latest scalars and the step rate."""

    def __init__(self, stream: TextIO):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = Console(file=stream)
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                                 TextColumn("{task.fields[scalars]}"), console=self.console, transient=False)
        self.progress.start()
        self.task: TaskID | None = None

    def start_epoch(self, epoch: int, epochs: int | None, steps: int, done: int, label: str | None = None) -> None:
        label = label or f"epoch {epoch + 1}" + (f"/{epochs}" if epochs else "")
        self.task = self.progress.add_task(label, total=steps, completed=done, rate="", scalars="")
        self.started, self.counted = time.perf_counter(), 0

    def step(self, step_in_epoch: int, scalars: dict[str, float]) -> None:
        if self.task is None:  # no epoch started: nothing to show
            return
        self.counted += 1
        rate = self.counted / max(time.perf_counter() - self.started, 1e-9)
        self.progress.update(self.task, completed=step_in_epoch, rate=f"{rate:.1f} steps/s",
                             scalars=scalars_text(scalars).replace("[", "\\["))

    def end_epoch(self) -> None:
        pass

    def message(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)

    def close(self) -> None:
        self.progress.stop()


class NoProgress:
    """`-q`: nothing shown."""

    def start_epoch(self, epoch: int, epochs: int | None, steps: int, done: int, label: str | None = None) -> None:
        pass

    def step(self, step_in_epoch: int, scalars: dict[str, float]) -> None:
        pass

    def end_epoch(self) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def progress_for(stream: TextIO = sys.stdout):
    """A bar on a terminal, plain lines otherwise."""
    return BarProgress(stream) if stream.isatty() else PlainProgress(stream)
