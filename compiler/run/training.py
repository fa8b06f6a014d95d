"""`tfm train`: call a training method over a dataset, epoch after epoch, with checkpoints that make a
run resumable and TensorBoard summaries of every scalar the step returns.

A run is reproducible from its checkpoint: each epoch's order depends only on the run's seed and the
epoch number, and the checkpoint holds the model (variables, optimizer slots and step count, and the
random state of every module that calls a random op: its seed and count of draws), the position
(epoch, step in epoch, global step) and the settings that fix the order (seed, batch size, shuffle
buffer). A resumed run therefore sees exactly the batches and draws exactly the random numbers
(Dropout's masks, noise) an uninterrupted one would, and ends with the same weights, bit for bit.
The steps run in an in-graph loop over the epoch's iterator, several per `tf.function` call
(tfm.run.step_loop); SIGINT (Ctrl-C) and SIGTERM stop a run between two calls, after saving a
checkpoint at that step. Checkpoints are written by `tf.train.CheckpointManager`, which names a new
checkpoint in its index only once it is complete: a kill during a save leaves the previous one.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from tfm.dsl.diagnostics import first_line, printable
from tfm.files import write_atomic
from tfm.run import callbacks as builtin
from tfm.run.accumulation import Accumulators, accumulating
from tfm.run.callbacks import CallbackError, CallbackState, KerasCallbacks, KerasModelView, Watch, metric_value
from tfm.run.class_weights import ClassWeightError, add_weights, parse_class_weight, weighted_inputs
from tfm.run.checkpoints import (MODEL_KEY, CheckpointError, InitReport, check_fits, checked_index, module_variables,
                                 unreadable)
from tfm.run.datasets import DataError, TrainingData, input_specs, open_source
from tfm.run.metric_states import metric_results, metric_submodules, reset_metrics
from tfm.run.progress import NoProgress
from tfm.run.distributed import distribute, distributed_step, is_chief, is_chief_only, write_directory
from tfm.run.fine_tuning import frozen_variables, initialize, skipping
from tfm.run.jit_choice import AUTO_MIN_STEPS, choose, chosen_setting, xla
from tfm.run.run_directory import CHECKPOINT_NAME, RUN_FILE, RunLock, claim_directory, read_run_file, remove_checkpoints
from tfm.run.settings import TrainSettings
from tfm.run.step_loop import StepLoop, call_size, scalar_tensors, steps_per_call, tensor_outputs
from tfm.run.tensorboard import gradient_histograms, summarized_step, weight_histograms, write_scalars
from tfm.run.training_errors import TrainingError, TrainingInterrupted

BEST_DIRECTORY = "best"  # --keep-best's checkpoints, inside the checkpoint directory
_DEFAULT_BATCH, _DEFAULT_SHUFFLE = 32, 1024
DEFAULT_LOG_EVERY = 100  # steps between step summaries (--log-every)
_JIT_ENTRY = "jit_chosen"  # --jit auto's choice, in the run file
_RUN_PREFIX = "run-"  # a run's TensorBoard directory inside --logdir: run-1, run-2, ...


@dataclass
class TrainResult:
    steps: int
    epochs: int
    scalars: dict[str, float] = field(default_factory=dict)  # the means of the last epoch trained (or its part)
    checkpoint: str | None = None
    resumed_from: str | None = None
    model: object = None  # the trained instance
    history: list[dict[str, float]] = field(default_factory=list)  # each epoch's logs (means), as Keras's
    stopped_early: bool = False
    best_checkpoint: str | None = None  # --keep-best's
    logdir: str | None = None  # this run's TensorBoard directory
    initialized: InitReport | None = None  # what --init-from loaded, skipped and left fresh


def run_identity(python_module, module_name: str, method: str, data: str | Path, init: dict) -> dict:
    """What a run's checkpoints belong to (kept in the checkpoint directory's run file)."""
    return {"module": module_name, "method": method, "source": python_module._TFM_SOURCE,
            "source_sha256": python_module._TFM_SOURCE_SHA256, "data": str(Path(data).resolve()),
            "init": {k: v for k, v in init.items() if isinstance(v, (int, float, str, bool, list))}}


@dataclass
class _Position:
    """Where a run is, and the settings that fix its data order; saved in every checkpoint."""

    global_step: int = 0
    epoch: int = 0
    step_in_epoch: int = 0
    seed: int = 0
    batch_size: int = _DEFAULT_BATCH
    shuffle: int = _DEFAULT_SHUFFLE

    NAMES = ("global_step", "epoch", "step_in_epoch", "seed", "batch_size", "shuffle")


def epoch_seed(seed: int, epoch: int) -> int:
    """The shuffle seed of one epoch: a different order each epoch, the same order on every run."""
    return (seed * 1_000_003 + epoch) % (2**31 - 1)


# The runtime helper class of a generated module's random state (tfm.generate.runtime._RandomState).
RANDOM_STATE_CLASS = "_RandomState"


def random_states(instance) -> list:
    """The random states of a module and its submodules, in tf.Module's fixed (attribute) order."""
    return [module for module in instance.submodules if type(module).__name__ == RANDOM_STATE_CLASS]


class Trainer:
    """One `tfm train` run over a built module; `run()` trains and returns what it did."""

    def __init__(self, tf, instance, method: str, settings: TrainSettings, identity: dict, progress,
                 log: Callable[[str], None], strategy=None, sources: dict | None = None, callbacks=(),
                 jit: bool | str = False):
        self.tf, self.instance, self.method, self.settings = tf, instance, method, settings
        self.sources = {name: value for name, value in (sources or {}).items()
                        if value is not None and not isinstance(value, (str, os.PathLike))}  # data in memory
        self.identity, self.progress, self.log = identity, progress, log
        self.strategy = strategy
        self.function = getattr(instance, method)
        self.jit = jit  # True, False, or "auto": choose by timing both on the first calls (tfm.run.jit_choice)
        if jit is True:
            self.function = xla(tf, self.function)
        self.step = self.function if strategy is None else distributed_step(tf, strategy, self.function)
        self.chief = is_chief(strategy)
        self.label = f"{identity['module']}.{method}"
        try:
            self.specs = input_specs(tf, self.function, self.label)
        except DataError as exc:
            raise TrainingError(str(exc)) from None
        self.position = _Position()
        self.variables = {name: tf.Variable(0, dtype=tf.int64, trainable=False, name=name)
                          for name in _Position.NAMES}
        progress_module = tf.Module(name="progress")
        for name, variable in self.variables.items():
            setattr(progress_module, name, variable)
        self.state = CallbackState(tf)
        self.recording = tf.Variable(True, trainable=False, name="recording")  # gradient histograms on
        self.core = tf.train.Checkpoint(**{MODEL_KEY: instance, "progress": progress_module})
        every = settings.accumulate or 1
        if every > 1 and strategy is not None:  # its update would be a cross-replica call inside a tf.cond
            raise TrainingError("--accumulate does not work with a distribution strategy yet; leave one out")
        self.accumulators = Accumulators(tf, instance, every) if every > 1 else None  # --accumulate
        self.extra = {"callbacks": self.state.module,  # checkpointed beside the model, read when present
                      **({"accumulation": self.accumulators.module} if self.accumulators else {})}
        self.checkpoint = tf.train.Checkpoint(**{MODEL_KEY: instance, "progress": progress_module}, **self.extra)
        self.manager: Any = None  # tf.train.CheckpointManager, once the checkpoint directory is open
        self.best_manager: Any = None  # --keep-best's, in DIR/best
        self.watches = self._watches()
        self.optimizers = optimizers_of(tf, instance)
        self.metrics = metric_submodules(instance)  # reset each epoch and validation pass, logged at its end
        self.frozen = frozen_variables(instance, settings.freeze or ())
        self.view = KerasModelView(instance, self.optimizers[0] if self.optimizers else None)
        self.initialized: InitReport | None = None
        self.keras = KerasCallbacks(callbacks, self.view, {"epochs": settings.epochs, "steps": settings.steps,
                                                           "verbose": 0})
        self.history: list[dict[str, float]] = []
        self.writer = None
        self.log_run: str | None = None  # the run directory inside --logdir
        self.lock: RunLock | None = None
        self.stop_signal: int | None = None  # SIGINT or SIGTERM came: stop after the current step
        self.train_step = self.step  # with --logdir, the step writing its summaries (set in _run)
        self.per_call = 1  # --steps-per-call, as settled in _run
        self.loop: StepLoop | None = None  # runs up to per_call steps in one call (not distributed)

    # --- setting up ----------------------------------------------------------------------------

    def _watches(self) -> dict[str, Watch]:
        """The built-in callbacks asked for, by their CallbackState name."""
        s = self.settings
        try:
            found = {"early_stopping": s.early_stopping and builtin.early_stopping(s.early_stopping),
                     "keep_best": s.keep_best and builtin.keep_best(s.keep_best),
                     "reduce_lr": s.reduce_lr_on_plateau and builtin.reduce_lr_on_plateau(s.reduce_lr_on_plateau)}
        except CallbackError as exc:
            raise TrainingError(str(exc)) from None
        if found["keep_best"] and s.checkpoint_dir is None:
            raise TrainingError("--keep-best saves checkpoints: it needs --checkpoint-dir")
        return {name: watch for name, watch in found.items() if isinstance(watch, Watch)}

    def _prepare(self) -> tuple[TrainingData, TrainingData | None, str | None]:
        resumed = self._open_checkpoints()
        self._settle_settings(resumed)
        try:
            data = self._training_data()
            validation = self._validation_data()
        except (DataError, ClassWeightError) as exc:
            raise TrainingError(str(exc)) from None
        if self.settings.logdir is not None and self.chief:
            self.writer = self.tf.summary.create_file_writer(str(self._log_directory(resumed)))
        return data, validation, resumed

    def _training_data(self) -> TrainingData:
        """The training data; with --class-weight, each example's `sample_weight` from its label (the
        data need not hold that input)."""
        source = self.sources.get("data", self.settings.data)
        if self.settings.class_weight is None:
            return open_source(self.tf, source, self.specs, self.label, self.settings.allow_nonfinite)
        weights = parse_class_weight(self.settings.class_weight)
        label, weight = weighted_inputs(self.specs, self.label)
        data = open_source(self.tf, source, [spec for spec in self.specs if spec is not weight], self.label,
                           self.settings.allow_nonfinite)
        weighted = add_weights(self.tf, data.examples, weights, label.name, weight)
        return replace(data, examples=weighted, columns=None)  # batched from `examples`, weights and all

    def _log_directory(self, resumed: str | None) -> Path:
        """This run's directory inside --logdir: a resumed run goes on in its own (named in the run
        file), a new one (or --restart) starts the next `run-N`, so series are never appended to
        another run's."""
        base = Path(self.settings.logdir or ".")
        recorded = self._run_file_entry("log_run") if resumed is not None else None
        if isinstance(recorded, str) and re.fullmatch(rf"{_RUN_PREFIX}\d+", recorded):
            self.log_run = recorded
        else:
            taken = [int(p.name[len(_RUN_PREFIX):]) for p in base.glob(f"{_RUN_PREFIX}*")
                     if p.name[len(_RUN_PREFIX):].isdigit()] if base.is_dir() else []
            self.log_run = f"{_RUN_PREFIX}{max(taken, default=0) + 1}"
            self._set_run_file_entry("log_run", self.log_run)
        return base / self.log_run

    def _run_file_entry(self, key: str) -> Any:
        directory = self.settings.checkpoint_dir
        if directory is None or not (directory / RUN_FILE).is_file():
            return None
        return read_run_file(directory / RUN_FILE).get(key)

    def _set_run_file_entry(self, key: str, value: Any) -> None:
        directory = self.settings.checkpoint_dir
        if directory is None or self.lock is None:  # only the chief, holding the directory, writes it
            return
        run = read_run_file(directory / RUN_FILE)
        run[key] = value
        write_atomic(directory / RUN_FILE, json.dumps(run, indent=2, sort_keys=True) + "\n")

    def _validation_data(self) -> TrainingData | None:
        name, path = self.settings.validate, self.settings.validation_data
        if name is None or path is None:
            if (name is None) != (path is None):
                raise TrainingError("--validate METHOD and --validation-data PATH go together")
            return None
        function = getattr(self.instance, name)
        return open_source(self.tf, self.sources.get("validation_data", path),
                           input_specs(self.tf, function, f"{self.identity['module']}.{name}"),
                           f"{self.identity['module']}.{name}", self.settings.allow_nonfinite)

    def _open_checkpoints(self) -> str | None:
        """Set up the checkpoint directory; restore the latest readable checkpoint unless restarting.
        Every worker restores from the chief's checkpoints; only the chief's saves are kept. The
        chief holds the directory's lock for the whole run; every index is checked before TensorFlow
        reads it (it deletes, when it rotates, whatever the index lists)."""
        directory = self.settings.checkpoint_dir
        if directory is None:
            return None
        written = write_directory(directory, self.strategy)
        try:
            if self.chief:
                self.lock = claim_directory(directory, self.identity, self.settings.restart, self.log)
            for checked in dict.fromkeys([directory, written]):
                checked_index(checked)
        except CheckpointError as exc:
            raise TrainingError(f"{exc}; choose another --checkpoint-dir") from None
        self.manager = self.tf.train.CheckpointManager(self.checkpoint, str(written),
                                                       max_to_keep=self.settings.max_to_keep,
                                                       checkpoint_name=CHECKPOINT_NAME)
        if "keep_best" in self.watches:
            self.best_manager = self._best_manager(written / BEST_DIRECTORY)
        chief_checkpoints = self.tf.train.CheckpointManager(self.checkpoint, str(directory), max_to_keep=None,
                                                            checkpoint_name=CHECKPOINT_NAME).checkpoints
        if self.settings.restart:
            return None
        problem = None
        for prefix in reversed(chief_checkpoints):
            problem = self._restore(prefix)
            if problem is None:
                self.position = _Position(**{name: int(v.numpy()) for name, v in self.variables.items()})
                return prefix
            self.log(f"tfm: warning: cannot resume from it: {problem}; trying the one before")
        if chief_checkpoints:
            raise TrainingError(f"no checkpoint in {printable(str(directory))} fits {self.label}: {problem}; "
                                "pass --restart to begin anew (its checkpoints are replaced)")
        return None

    def _best_manager(self, directory: Path):
        """--keep-best's CheckpointManager: one checkpoint, the best epoch's, in DIR/best (a directory
        tfm makes; a symbolic link or a file there is refused)."""
        if directory.is_symlink() or directory.exists() and not directory.is_dir():
            raise TrainingError(f"{printable(str(directory))} is not a directory tfm train made; remove it or "
                                "choose another --checkpoint-dir")
        try:
            checked_index(directory)
        except CheckpointError as exc:
            raise TrainingError(f"{exc}; choose another --checkpoint-dir") from None
        if self.settings.restart and directory.is_dir():
            remove_checkpoints(directory)
        return self.tf.train.CheckpointManager(self.checkpoint, str(directory), max_to_keep=1,
                                               checkpoint_name=CHECKPOINT_NAME)

    def _restore(self, prefix: str) -> str | None:
        """Restore `prefix` after checking it fits the module; None, or why it cannot be used."""
        try:
            check_fits(self.tf, self.instance, prefix)
        except CheckpointError as exc:
            return str(exc)
        try:
            self.core.restore(prefix).assert_existing_objects_matched().expect_partial()
            # The callbacks' state and --accumulate's sums (a checkpoint without them: they start afresh).
            self.tf.train.Checkpoint(**self.extra).read(prefix).expect_partial()
        except Exception as exc:  # damaged by hand, or from another version of the model
            try:
                return unreadable(self.tf, self.instance, prefix, exc)
            except CheckpointError as damaged:
                return str(damaged)
        return None

    def _settle_settings(self, resumed: str | None) -> None:
        """Defaults for a new run; for a resumed one, the settings that fix its data order."""
        wanted = {"seed": self.settings.seed, "batch_size": self.settings.batch_size, "shuffle": self.settings.shuffle}
        if resumed is not None:
            for name, value in wanted.items():
                saved = getattr(self.position, name)
                if value is not None and value != saved:
                    flag = "--" + name.replace("_", "-")
                    raise TrainingError(f"the run in {printable(str(self.settings.checkpoint_dir))} was trained with "
                                        f"{flag} {saved}; resume with it (or leave it out), or pass --restart")
        else:
            self.position.seed = wanted["seed"] if wanted["seed"] is not None else secrets.randbelow(2**31 - 1)
            self.position.batch_size = wanted["batch_size"] or self._fixed_batch() or _DEFAULT_BATCH
            self.position.shuffle = wanted["shuffle"] if wanted["shuffle"] is not None else _DEFAULT_SHUFFLE
        fixed = self._fixed_batch()
        if fixed is not None and self.position.batch_size != fixed:
            raise TrainingError(f"{self.label} takes batches of exactly {fixed} (its signature fixes the first "
                                f"dimension); pass --batch-size {fixed}")

    def _fixed_batch(self) -> int | None:
        sizes = {spec.batch for spec in self.specs if spec.batch is not None}
        return sizes.pop() if len(sizes) == 1 else None

    # --- training --------------------------------------------------------------------------------

    def run(self) -> TrainResult:
        """Train; the checkpoint directory's lock is held until the run ends, however it ends."""
        try:
            with self._signals_deferred(), skipping(self.optimizers, self.frozen), \
                    accumulating(self.optimizers, self.accumulators):
                return self._run()
        finally:
            if self.lock is not None:
                self.lock.release()
                self.lock = None

    @contextmanager
    def _signals_deferred(self):
        """SIGINT and SIGTERM set `stop_signal`, read after each step (a step is never cut in two: its
        weights and the position are saved together); a second SIGINT interrupts at once. Only in the
        main thread, and not in a multi-worker run (its parent process handles them: tfm.run.supervise)."""
        if threading.current_thread() is not threading.main_thread() or not is_chief_only(self.strategy):
            yield
            return

        def deferred(signum, frame):
            if self.stop_signal is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.stop_signal = signum

        previous = {signum: signal.signal(signum, deferred) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    def _stop(self) -> None:
        """Save at this step (if saving) and raise TrainingInterrupted."""
        signum = self.stop_signal
        assert signum is not None
        checkpoint = None
        if self.manager is not None:
            self._save()
            checkpoint = self.manager.latest_checkpoint
        raise TrainingInterrupted(signum, self.position.global_step, checkpoint)

    def _seed_random_states(self) -> None:
        """A new run's random states seeded from its seed: the same --seed draws the same numbers."""
        for number, state in enumerate(random_states(self.instance), 1):
            state.seed.assign(epoch_seed(self.position.seed ^ 0x5EED, number))
            state.draws.assign(0)

    def _run(self) -> TrainResult:
        data, validation, resumed = self._prepare()
        with self._gradient_histograms():  # before the step is first traced (by --jit auto's trial, or below)
            return self._train(data, validation, resumed)

    def _gradient_histograms(self):
        """--histograms with --logdir: `gradients/PATH` every --log-every steps, written by the step
        (not in a distributed run, whose summaries are written eagerly); off during --jit auto's trial."""
        writer = self.writer if self.settings.histograms and self.strategy is None else None
        paths = {id(variable): path for path, variable in module_variables(self.tf, self.instance).items()}
        return gradient_histograms(self.tf, self.optimizers, writer, self.variables["global_step"],
                                   self.settings.log_every or DEFAULT_LOG_EVERY, paths, self.recording)

    def _train(self, data: TrainingData, validation: TrainingData | None, resumed: str | None) -> TrainResult:
        position, settings = self.position, self.settings
        # The shuffle's order depends on the global seed too: fix it to the run's, so the order is the
        # same in every process that trains or resumes this run, whatever else set a seed.
        self.tf.random.set_seed(position.seed)
        if resumed is None:
            self._seed_random_states()
            self._init_from()
        elif settings.init_from is not None:
            self.log(f"tfm: --init-from ignored: resuming from {printable(resumed)}")
        # Replicas must get equal shares of a batch: a distributed run drops a last, smaller batch.
        drop = self._fixed_batch() is not None or self.strategy is not None
        if self.strategy is not None and position.batch_size % self.strategy.num_replicas_in_sync:
            raise TrainingError(f"--batch-size {position.batch_size} does not split evenly over "
                                f"{self.strategy.num_replicas_in_sync} replicas")
        per_epoch = data.steps_per_epoch(position.batch_size, drop)
        if per_epoch == 0:
            raise TrainingError(f"{data.count} examples make no batch of {position.batch_size}")
        self._announce(data, per_epoch, resumed)
        if self._finished():
            done = "early stopping ended the run" if self.state.stopped else "the run has done"
            self.log(f"tfm: nothing to do: {done} {position.epoch} epochs ({position.global_step} steps); "
                     "raise --epochs or --steps to train on, or pass --restart to begin anew")
        self.variables["global_step"].assign(position.global_step)
        if self.jit == "auto" and self.strategy is None and not self._finished():
            self._choose_jit(data, drop, per_epoch, resumed)
        self.train_step = self._summarized_step(self.step) if self.writer is not None else self.step
        self.per_call = steps_per_call(settings.steps_per_call, self.keras.callbacks, self.strategy is not None)
        # Every step runs in the loop, whatever N: one graph, so N changes nothing in the results.
        self.loop = None if self.strategy is not None else StepLoop(self.tf, self.train_step, self.specs,
                                                                    not settings.allow_nonfinite)
        scalars: dict[str, float] = {}
        last_saved = position.global_step if resumed else -1
        self.keras.call("on_train_begin", {})
        try:
            while not self._finished():
                self.keras.call("on_epoch_begin", position.epoch, {})
                if position.step_in_epoch == 0:  # a resumed epoch's metric states come from its checkpoint
                    reset_metrics(self.metrics)
                means = self._epoch(data, per_epoch, drop)
                scalars = means or scalars
                if position.step_in_epoch >= per_epoch:
                    position.epoch, position.step_in_epoch = position.epoch + 1, 0
                    self.progress.end_epoch()
                    self._end_epoch(means, validation, drop)
                    if self.manager is not None and not self._finished():
                        last_saved = self._save()
                elif settings.steps is None and not self._stopping():  # the data shrank since it was counted
                    raise TrainingError(f"{printable(str(data.path))} gave fewer batches than the {per_epoch} "
                                        "counted; was it changed during training?")
            if self.manager is not None and last_saved != position.global_step:
                last_saved = self._save()
            self.keras.call("on_train_end", dict(self.history[-1]) if self.history else {})
        finally:
            self.progress.close()
            if self.writer is not None:
                self.writer.flush()
        latest = self.manager.latest_checkpoint if self.manager is not None else None
        best = self.best_manager.latest_checkpoint if self.best_manager is not None else None
        logdir = str(Path(str(self.settings.logdir)) / self.log_run) if self.log_run else None
        return TrainResult(steps=position.global_step, epochs=position.epoch, scalars=scalars,
                           checkpoint=latest, resumed_from=resumed, model=self.instance, history=self.history,
                           stopped_early=self.state.stopped, best_checkpoint=best, logdir=logdir,
                           initialized=self.initialized)

    def _init_from(self) -> None:
        """--init-from: a new run's variables from another run's checkpoint, where path and shape match."""
        if self.settings.init_from is None:
            return
        self.initialized = initialize(self.tf, self.instance, self.settings.init_from, self.settings.init_map,
                                      self.optimizers)
        for line in self.initialized.lines():
            self.log(line)

    def _choose_jit(self, data: TrainingData, drop: bool, per_epoch: int, resumed: str | None) -> None:
        """--jit auto: the step with XLA or without, as a trial finds faster; a run too short to repay
        the trial goes without; a resumed run goes on with its first process's choice (in its run file)."""
        p, s = self.position, self.settings
        chosen = chosen_setting(self._run_file_entry(_JIT_ENTRY)) if resumed is not None else None
        left = s.steps - p.global_step if s.steps is not None else ((s.epochs or 1) - p.epoch) * per_epoch - p.step_in_epoch
        if chosen is None and left < AUTO_MIN_STEPS:
            chosen = False
        elif chosen is None:
            batches = data.batches(self.tf, p.batch_size, drop, p.shuffle, epoch_seed(p.seed, p.epoch))
            self.recording.assign(False)  # the trial's steps are undone: no gradient histograms of them
            chosen = choose(self.tf, self.function, self.specs, batches, self._state_variables(), self.log)
            self.recording.assign(True)
        self._set_run_file_entry(_JIT_ENTRY, chosen)
        if chosen:
            self.function = self.step = xla(self.tf, self.function)

    def _state_variables(self) -> list:
        """Every variable a step may change: the module's (random states and metrics included), its
        optimizers' (Keras variables, which the module's variable walk does not reach) and --accumulate's."""
        found = {id(v): v for v in module_variables(self.tf, self.instance).values()}
        for optimizer in self.optimizers:
            found.update({id(v): v for v in optimizer.variables})
        if self.accumulators is not None:
            found.update({id(v): v for v in self.accumulators.module.variables})
        return list(found.values())

    def _finished(self) -> bool:
        if self._stopping():
            return True
        if self.settings.steps is not None:
            return self.position.global_step >= self.settings.steps
        return self.position.epoch >= (self.settings.epochs or 1)

    def _stopping(self) -> bool:
        """Early stopping (--early-stopping, or a Keras callback's `model.stop_training`) ended the run."""
        if self.view.stop_training and not self.state.stopped:
            self.state.stop()
        return self.state.stopped

    def _epoch(self, data: TrainingData, per_epoch: int, drop: bool) -> dict[str, float]:
        """Train until the epoch ends (or the run does); the epoch's means of the scalar outputs
        (over the steps this process ran: a resumed epoch's means start where it resumed)."""
        position, tf = self.position, self.tf
        batches = data.batches(tf, position.batch_size, drop, position.shuffle,
                               epoch_seed(position.seed, position.epoch), skip=position.step_in_epoch)
        if self.strategy is not None:
            batches = distribute(tf, self.strategy, batches)
        self.progress.start_epoch(position.epoch, self.settings.epochs if self.settings.steps is None else None,
                                  per_epoch, position.step_in_epoch)
        shows = not isinstance(self.progress, NoProgress)
        sums: dict[str, float] = {}
        counted = 0
        for steps in self._calls(batches, per_epoch):
            scalars: dict[str, float] = {}
            shown = self._learning_rate_shown() if shows else {}
            for scalars, nonfinite in steps:
                position.global_step += 1
                position.step_in_epoch += 1
                if not self.settings.allow_nonfinite:
                    self._check_finite(scalars, nonfinite)
                counted += 1
                for name, value in scalars.items():
                    sums[name] = sums.get(name, 0.0) + value
                if self.writer is not None and self.strategy is not None:  # no in-graph summaries: written here
                    self._summarize_step(scalars)
                if shows:
                    self.progress.step(position.step_in_epoch,
                                       {**{name: total / counted for name, total in sums.items()}, **shown})
            if self.keras:
                self.keras.call("on_train_batch_end", position.step_in_epoch - 1, dict(scalars))
            if self.manager is not None and self.settings.save_every and \
                    position.global_step % self.settings.save_every == 0:
                self._save()
            if self.stop_signal is not None:
                self._stop()
            if self._finished() and (self.settings.steps is not None or self._stopping()):
                break
        return {name: total / max(counted, 1) for name, total in sums.items()}

    def _calls(self, batches, per_epoch: int):
        """The epoch's calls of the step, each a list of its steps' (scalar outputs, names of tensor
        outputs holding NaN or inf): one step per call, or with --steps-per-call up to N, a call
        ending wherever a checkpoint may be saved (--save-every, the epoch's end, the run's end)."""
        if self.loop is None:
            for batch in batches:
                self._batch_begin()
                outputs = self.train_step(*[batch[spec.name] for spec in self.specs])
                scalars = scalar_outputs(outputs)
                yield [(scalars, [] if self.settings.allow_nonfinite else _nonfinite_tensors(self.tf, scalars, outputs))]
            return
        iterator = iter(batches)
        while True:
            p, s = self.position, self.settings
            size = call_size(self.per_call, per_epoch - p.step_in_epoch,
                             None if s.steps is None else s.steps - p.global_step, s.save_every, p.global_step)
            if size == 0:
                return
            self._batch_begin()
            try:
                result = self.loop(iterator, size)
            except self.tf.errors.OutOfRangeError:  # the data shrank since it was counted: _run says so
                return
            yield [result.step(index) for index in range(size)]

    def _batch_begin(self) -> None:
        if self.keras:
            self.keras.call("on_train_batch_begin", self.position.step_in_epoch, {})

    def _learning_rate_shown(self) -> dict[str, float]:
        rate = self._learning_rate()
        return {} if rate is None else {"lr": rate}

    def _learning_rate(self) -> float | None:
        """The first optimizer's current learning rate (a schedule's value at its step), if any."""
        if not self.optimizers:
            return None
        return float(self.tf.convert_to_tensor(self.optimizers[0].learning_rate).numpy())

    def _check_finite(self, scalars: dict[str, float], tensors: list[str]) -> None:
        """Stop at the first step whose outputs (the loss, and any float tensor it returns: `tensors`
        names those holding NaN or inf) are not finite: nothing after it is saved, so the last
        checkpoint holds weights from before it."""
        bad = {name: str(value) for name, value in scalars.items() if not math.isfinite(value)}
        bad.update({name: "a tensor holding NaN or inf" for name in tensors})
        if bad:
            shown = ", ".join(f"{printable(name)} = {value}" for name, value in bad.items())
            raise TrainingError(f"step {self.position.global_step} (epoch {self.position.epoch + 1}, step "
                                f"{self.position.step_in_epoch} in it): {shown}; training stopped, and nothing from "
                                "this step was saved. Lower the learning rate or check the data, or pass "
                                "--allow-nonfinite to go on")

    # --- the end of an epoch: validation, logs, callbacks ------------------------------------------

    def _end_epoch(self, means: dict[str, float], validation: TrainingData | None, drop: bool) -> None:
        """The epoch's logs (its means, validation's as `val_NAME`, the learning rate), written and
        shown, then handed to the built-in callbacks and the user's, in that order."""
        logs = {**means, **metric_results(self.metrics)}
        if validation is not None:
            logs.update({f"val_{name}": value for name, value in self._validate(validation, drop).items()})
        rate = self._learning_rate()
        if rate is not None:
            logs["learning_rate"] = rate
        self.history.append(logs)
        self._summarize_epoch(logs)
        self.progress.message(f"epoch {self.position.epoch}: " + "  ".join(f"{k}={v:.4g}" for k, v in logs.items()))
        actions = {"early_stopping": self._early_stopping, "keep_best": self._keep_best, "reduce_lr": self._reduce_lr}
        for name, watch in self.watches.items():
            try:
                value = metric_value(logs, watch, _FLAGS[name])
            except CallbackError as exc:
                raise TrainingError(str(exc)) from None
            actions[name](watch, value)
        self.keras.call("on_epoch_end", self.position.epoch - 1, dict(logs))  # Keras counts epochs from 0

    def _early_stopping(self, watch: Watch, value: float) -> None:
        self.state.record("early_stopping", watch, value)
        if self.state.wait("early_stopping") >= watch.patience:
            self.state.stop()
            self.progress.message(f"early stopping: {watch.metric} has not improved on "
                                  f"{self.state.best('early_stopping'):.6g} for {self.state.wait('early_stopping')} "
                                  "epochs")

    def _keep_best(self, watch: Watch, value: float) -> None:
        if self.state.record("keep_best", watch, value) and self.best_manager is not None:
            self._save(self.best_manager)
            self.progress.message(f"best {watch.metric} so far ({value:.6g}): saved "
                                  f"{printable(str(self.best_manager.latest_checkpoint))}")

    def _reduce_lr(self, watch: Watch, value: float) -> None:
        self.state.record("reduce_lr", watch, value)
        if self.state.wait("reduce_lr") < watch.patience or not self.optimizers:
            return
        self.state.restart_wait("reduce_lr")
        for optimizer in self.optimizers:
            rate = float(self.tf.convert_to_tensor(optimizer.learning_rate).numpy()) * watch.factor
            try:
                optimizer.learning_rate = rate
            except (TypeError, ValueError) as exc:  # a learning-rate schedule cannot be set
                raise TrainingError(f"--reduce-lr-on-plateau: the optimizer's learning rate cannot be set "
                                    f"({first_line(exc)})") from None
        self.progress.message(f"reduce-lr-on-plateau: {watch.metric} has not improved: learning rate now "
                              f"{self._learning_rate():.6g}")

    def _validate(self, validation: TrainingData, drop: bool) -> dict[str, float]:
        name = self.settings.validate or ""  # set whenever there is validation data
        function = getattr(self.instance, name)
        specs = input_specs(self.tf, function, name)
        totals: dict[str, float] = {}
        seen = 0
        reset_metrics(self.metrics)
        for batch in validation.batches(self.tf, self.position.batch_size, drop):
            size = int(batch[specs[0].name].shape[0])
            for output, value in scalar_outputs(function(*[batch[s.name] for s in specs])).items():
                totals[output] = totals.get(output, 0.0) + value * size
            seen += size
        means = {**{output: total / max(seen, 1) for output, total in totals.items()}, **metric_results(self.metrics)}
        self._write({f"validation/{k}": v for k, v in means.items()})
        self.progress.message(f"epoch {self.position.epoch} validation ({self.settings.validate}, {seen} examples): "
                              + "  ".join(f"{k}={v:.4g}" for k, v in means.items()))
        return means

    # --- TensorBoard ------------------------------------------------------------------------------

    def _summarized_step(self, step):
        """The training `step` with its summaries written in the graph (tfm.run.tensorboard); in a
        distributed run (per-replica inputs) the step as it is, its summaries written eagerly."""
        if self.strategy is not None:
            return step
        return summarized_step(self.tf, step, self.writer, self.variables["global_step"],
                               self.settings.log_every or DEFAULT_LOG_EVERY, self.optimizers[0] if self.optimizers
                               else None, self.function.input_signature)

    def _summarize_step(self, scalars: dict[str, float]) -> None:
        every = self.settings.log_every or DEFAULT_LOG_EVERY
        if self.position.global_step % every == 0:
            rate = self._learning_rate()
            self._write({**scalars, **({} if rate is None else {"learning_rate": rate})})

    def _summarize_epoch(self, logs: dict[str, float]) -> None:
        """Each epoch's means under `epoch/`, (validation means were written under `validation/`), and
        with --histograms every variable's values."""
        self._write({f"epoch/{k}": v for k, v in logs.items() if not k.startswith("val_")})
        if self.writer is not None and self.settings.histograms:
            weight_histograms(self.tf, self.writer, self.position.global_step,
                              module_variables(self.tf, self.instance))

    def _write(self, scalars: dict[str, float]) -> None:
        if self.writer is not None:
            write_scalars(self.tf, self.writer, self.position.global_step, scalars)

    def _save(self, manager=None) -> int:
        manager = manager or self.manager
        for name, variable in self.variables.items():
            variable.assign(getattr(self.position, name))
        manager.save(checkpoint_number=self.position.global_step)
        if not self.chief:  # every worker takes part in a save; only the chief's is kept
            self.tf.io.gfile.rmtree(manager.directory)
        if self.writer is not None:
            self.writer.flush()
        return self.position.global_step

    def _announce(self, data: TrainingData, per_epoch: int, resumed: str | None) -> None:
        p, s = self.position, self.settings
        goal = f"{s.steps} steps" if s.steps is not None else f"{s.epochs or 1} epoch{'s' if (s.epochs or 1) != 1 else ''}"
        self.log(f"tfm: training {self.label} on {printable(str(data.path))}: {data.count} examples, batches of "
                 f"{p.batch_size}, {per_epoch} steps per epoch, {goal} (seed {p.seed}, shuffle buffer {p.shuffle})")
        if resumed is not None:
            self.log(f"tfm: resuming from {printable(resumed)}: step {p.global_step}, epoch {p.epoch + 1}, "
                     f"{p.step_in_epoch} steps into it")


_FLAGS = {"early_stopping": "--early-stopping", "keep_best": "--keep-best", "reduce_lr": "--reduce-lr-on-plateau"}


def optimizers_of(tf, instance) -> list:
    """The Keras optimizers of a module and its submodules (each once), in attribute order."""
    found: dict[int, Any] = {}
    for module in [instance, *instance.submodules]:
        for value in vars(module).values():
            if isinstance(value, tf.keras.optimizers.Optimizer):
                found.setdefault(id(value), value)
    return list(found.values())


def _nonfinite_tensors(tf, scalars: dict[str, float], outputs) -> list[str]:
    """The float tensor outputs of a step (its scalars left out) holding NaN or inf."""
    return [name for name, value in tensor_outputs(outputs).items() if name not in scalars and value.dtype.is_floating
            and not bool(tf.reduce_all(tf.math.is_finite(value)))]


def scalar_outputs(outputs) -> dict[str, float]:
    """The rank-0 outputs of a step by name (a lone unnamed output is `output_0`, as in a SavedModel)."""
    return {name: float(value.numpy()) for name, value in scalar_tensors(outputs).items()}


def elapsed(start: float) -> str:
    seconds = time.perf_counter() - start
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


__all__ = ["run_identity", "RUN_FILE", "TrainResult", "TrainSettings", "Trainer", "TrainingError", "TrainingInterrupted",
           "elapsed", "epoch_seed", "random_states", "scalar_outputs"]
