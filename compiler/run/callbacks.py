"""Callbacks of `tfm train`: early stopping, best-only checkpoints, reducing the learning rate on a
plateau (each watching an epoch-level metric, its state kept in the checkpoint so a resumed run goes
on as an uninterrupted one would), and the user's own Keras callback objects (`tfm.train(...,
callbacks=[...])`).

A metric is a key of the epoch's logs, as Keras names them: a scalar output of the training method
(its mean over the epoch: `loss`), `val_NAME` for an output of the validation method (its mean over
the validation data), `learning_rate`. A metric improves when it falls, unless its name says higher
is better (it contains `acc`, `auc`, `precision`, `recall` or `f1`): Keras's "auto" mode.

Parsing the flags needs no TensorFlow; the state's variables are made by `CallbackState`.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Callable

_HIGHER_IS_BETTER = ("acc", "auc", "precision", "recall", "f1")


class CallbackError(ValueError):
    """A callback flag that cannot be used, or a metric the logs do not have."""


@dataclass(frozen=True)
class Watch:
    """What a callback watches: a metric, the least change that counts as better, and (for early
    stopping and reducing the learning rate) how many epochs without it are tolerated."""

    metric: str
    patience: int = 1
    min_delta: float = 0.0
    factor: float = 0.1  # reduce-lr-on-plateau only

    @property
    def higher_is_better(self) -> bool:
        return any(word in self.metric.lower() for word in _HIGHER_IS_BETTER)

    def improves(self, value: float, best: float) -> bool:
        """`value` beats `best` by more than min_delta (a NaN best, the start, is always beaten)."""
        if math.isnan(best):
            return not math.isnan(value)
        return value - self.min_delta > best if self.higher_is_better else value + self.min_delta < best


def _parts(spec: str, flag: str, most: int) -> list[str]:
    parts = spec.split(":")
    if not parts[0] or len(parts) > most:
        raise CallbackError(f"{flag} {spec!r}: expected {_FORMATS[flag]}")
    return parts


_FORMATS = {"--early-stopping": "METRIC[:PATIENCE[:MIN_DELTA]]", "--keep-best": "METRIC",
            "--reduce-lr-on-plateau": "METRIC[:FACTOR[:PATIENCE]]"}


def _number(text: str, flag: str, spec: str, kind: Callable[[str], Any], check: Callable[[Any], bool], what: str):
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not check(value):
        raise CallbackError(f"{flag} {spec!r}: {text!r} is not {what} (expected {_FORMATS[flag]})")
    return value


def early_stopping(spec: str) -> Watch:
    """`METRIC[:PATIENCE[:MIN_DELTA]]`: stop after PATIENCE epochs in a row (default 1) without an
    improvement by more than MIN_DELTA (default 0), as keras.callbacks.EarlyStopping."""
    parts = _parts(spec, "--early-stopping", 3)
    patience = _number(parts[1], "--early-stopping", spec, int, lambda v: v >= 1, "a count >= 1") \
        if len(parts) > 1 else 1
    delta = _number(parts[2], "--early-stopping", spec, float, lambda v: v >= 0 and math.isfinite(v),
                    "a number >= 0") if len(parts) > 2 else 0.0
    return Watch(parts[0], patience, delta)


def keep_best(spec: str) -> Watch:
    return Watch(_parts(spec, "--keep-best", 1)[0])


def reduce_lr_on_plateau(spec: str) -> Watch:
    """`METRIC[:FACTOR[:PATIENCE]]`: multiply the learning rate by FACTOR (default 0.1) after PATIENCE
    epochs in a row (default 10) without an improvement by more than 1e-4, as
    keras.callbacks.ReduceLROnPlateau."""
    parts = _parts(spec, "--reduce-lr-on-plateau", 3)
    factor = _number(parts[1], "--reduce-lr-on-plateau", spec, float, lambda v: 0 < v < 1, "a factor in (0, 1)") \
        if len(parts) > 1 else 0.1
    patience = _number(parts[2], "--reduce-lr-on-plateau", spec, int, lambda v: v >= 1, "a count >= 1") \
        if len(parts) > 2 else 10
    return Watch(parts[0], patience, 1e-4, factor)


def metric_value(logs: dict[str, float], watch: Watch, flag: str) -> float:
    """The watched metric in this epoch's logs; a CallbackError naming the metrics there are."""
    if watch.metric in logs:
        return logs[watch.metric]
    close = difflib.get_close_matches(watch.metric, list(logs), n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    raise CallbackError(f"{flag} {watch.metric}: no such metric; the epoch's metrics are "
                        f"{', '.join(sorted(logs)) or 'none'}{hint}")


class CallbackState:
    """The built-in callbacks' state as variables of a tf.Module (saved with the checkpoints under
    `callbacks`): the best value and the epochs since it of each, and whether early stopping ended
    the run. The same variables exist whichever callbacks a run uses, so every checkpoint has them."""

    NAMES = ("early_stopping", "keep_best", "reduce_lr")

    def __init__(self, tf):
        self.module = tf.Module(name="callbacks")
        for name in self.NAMES:
            setattr(self.module, f"{name}_best", tf.Variable(math.nan, dtype=tf.float64, trainable=False,
                                                             name=f"{name}_best"))
            setattr(self.module, f"{name}_wait", tf.Variable(0, dtype=tf.int64, trainable=False, name=f"{name}_wait"))
        self.module.stopped = tf.Variable(0, dtype=tf.int64, trainable=False, name="stopped")

    def best(self, name: str) -> float:
        return float(getattr(self.module, f"{name}_best").numpy())

    def wait(self, name: str) -> int:
        return int(getattr(self.module, f"{name}_wait").numpy())

    def record(self, name: str, watch: Watch, value: float) -> bool:
        """Update `name`'s best and wait with this epoch's `value`; True if it improved."""
        better = watch.improves(value, self.best(name))
        if better:
            getattr(self.module, f"{name}_best").assign(value)
        getattr(self.module, f"{name}_wait").assign(0 if better else self.wait(name) + 1)
        return better

    def restart_wait(self, name: str) -> None:
        getattr(self.module, f"{name}_wait").assign(0)

    @property
    def stopped(self) -> bool:
        return bool(self.module.stopped.numpy())

    def stop(self) -> None:
        self.module.stopped.assign(1)


class KerasModelView:
    """What a Keras callback reads through `self.model`: `stop_training`, `optimizer` (the module's
    first optimizer), the weights (`get_weights`, `set_weights`, for EarlyStopping's
    `restore_best_weights`), and `module`, the trained tfm module itself."""

    def __init__(self, module, optimizer):
        self.module, self.optimizer = module, optimizer
        self.stop_training = False

    @property
    def variables(self) -> list:
        return list(self.module.variables)

    @property
    def trainable_variables(self) -> list:
        return list(self.module.trainable_variables)

    def get_weights(self) -> list:
        return [v.numpy() for v in self.module.variables]

    def set_weights(self, values) -> None:
        for variable, value in zip(self.module.variables, values):
            variable.assign(value)


class KerasCallbacks:
    """The user's callback objects, each hook called where Keras `fit` calls it (a hook an object lacks
    is skipped, so a plain object with `on_epoch_end` works too)."""

    def __init__(self, callbacks, view: KerasModelView, params: dict):
        self.callbacks = list(callbacks)
        self.view = view
        for callback in self.callbacks:
            if hasattr(callback, "set_model"):
                callback.set_model(view)
            if hasattr(callback, "set_params"):
                callback.set_params(params)

    def __bool__(self) -> bool:
        return bool(self.callbacks)

    def call(self, hook: str, *args) -> None:
        for callback in self.callbacks:
            method = getattr(callback, hook, None)
            if method is not None:
                method(*args)


__all__ = ["CallbackError", "CallbackState", "KerasCallbacks", "KerasModelView", "Watch", "early_stopping",
           "keep_best", "metric_value", "reduce_lr_on_plateau"]
