"""tfm's standard library: layers and metrics written in `.tfm` (layers, normalization, recurrent,
attention, metrics) and built-in optimizer modules.

Optimizers are TensorFlow's own (tf.keras.optimizers), built for the holding module's trainable
variables when the module is built; their TF code is in compiler/generate/runtime.py.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from ..tokens import NAME

LIBRARY_SOURCES: tuple[Path, ...] = tuple(Path(__file__).with_name(name) for name in (
    "layers.tfm", "convolution.tfm", "normalization.tfm", "recurrent.tfm", "attention.tfm", "reshaping.tfm",
    "metrics.tfm", "regularization.tfm"))


@functools.cache
def library_index() -> dict[str, Path]:
    """Each library module's name -> the file defining it, found by a line scan: a program parses
    only the library files it uses (tfm check starts faster)."""
    index: dict[str, Path] = {}
    for path in LIBRARY_SOURCES:
        for match in re.finditer(rf"^module[ \t]+({NAME})", path.read_text(encoding="utf-8"), re.M):
            index[match.group(1)] = path
    return index


REQUIRED = object()


@dataclass(frozen=True)
class BuiltinParam:
    name: str
    type: str
    default: object = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@functools.cache
def _literal(text: str) -> object:
    return ast.literal_eval(text)


def _builtin_params(spec: str) -> list[BuiltinParam]:
    """'name: type = default, ...' (no default: required) -> BuiltinParams."""
    params = []
    for item in spec.split(","):
        name_type, has_default, default = item.partition("=")
        param, _, type_ = name_type.partition(":")
        value = _literal(default.strip()) if has_default else REQUIRED
        params.append(BuiltinParam(param.strip(), type_.strip(), value))
    return params


@dataclass(frozen=True)
class BuiltinModule:
    """A module whose TF code ships with the compiler; `kind` says how bodies may use it."""

    name: str
    kind: str
    params: tuple[BuiltinParam, ...]
    doc: str


def _optimizer(name: str, own: str, doc: str) -> BuiltinModule:
    """A TensorFlow (Keras) optimizer: its own parameters, then the ones every optimizer takes."""
    params = _builtin_params(own + ", weight_decay: float = None, clipnorm: float = None, clipvalue: float = None, "
                                   "global_clipnorm: float = None")
    unique: dict[str, BuiltinParam] = {}
    for param in params:
        unique.setdefault(param.name, param)  # an optimizer's own default wins (AdamW's weight_decay)
    return BuiltinModule(name, "optimizer", tuple(unique.values()), doc)


# The optimizers a module may hold, as tf.keras.optimizers defines them (names and defaults are
# checked against TensorFlow by tests/ops/test_runtime.py). Clipping: at most one of clipnorm, clipvalue
# and global_clipnorm.
OPTIMIZERS: dict[str, BuiltinModule] = {
    "SGD": _optimizer("SGD", "learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False",
                      "Stochastic gradient descent, with momentum and Nesterov momentum (tf.keras.optimizers.SGD)."),
    "Adam": _optimizer("Adam", "learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999, "
                               "epsilon: float = 1e-07, amsgrad: bool = False", "Adam (tf.keras.optimizers.Adam)."),
    "AdamW": _optimizer("AdamW", "learning_rate: float = 0.001, weight_decay: float = 0.004, beta_1: float = 0.9, "
                                 "beta_2: float = 0.999, epsilon: float = 1e-07, amsgrad: bool = False",
                        "Adam with decoupled weight decay (tf.keras.optimizers.AdamW)."),
    "RMSprop": _optimizer("RMSprop", "learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0, "
                                     "epsilon: float = 1e-07, centered: bool = False",
                          "RMSprop (tf.keras.optimizers.RMSprop)."),
    "Adagrad": _optimizer("Adagrad", "learning_rate: float = 0.001, initial_accumulator_value: float = 0.1, "
                                     "epsilon: float = 1e-07", "Adagrad (tf.keras.optimizers.Adagrad)."),
}
CLIPPING = ("clipnorm", "clipvalue", "global_clipnorm")

# Learning-rate schedules an optimizer's `learning_rate` may be (tf.keras.optimizers.schedules; names
# and defaults are checked against TensorFlow by tests/ops/test_runtime.py): the optimizer evaluates the
# schedule at its own step count.
SCHEDULES: dict[str, BuiltinModule] = {
    name: BuiltinModule(name, "schedule", tuple(_builtin_params(spec)), doc)
    for name, spec, doc in [
        ("ExponentialDecay", "initial_learning_rate: float, decay_steps: int, decay_rate: float, "
                             "staircase: bool = False", "rate * decay_rate ** (step / decay_steps)"),
        ("InverseTimeDecay", "initial_learning_rate: float, decay_steps: int, decay_rate: float, "
                             "staircase: bool = False", "rate / (1 + decay_rate * step / decay_steps)"),
        ("CosineDecay", "initial_learning_rate: float, decay_steps: int, alpha: float = 0.0, "
                        "warmup_target: float = None, warmup_steps: int = 0", "cosine decay, with optional warmup"),
        ("PolynomialDecay", "initial_learning_rate: float, decay_steps: int, end_learning_rate: float = 0.0001, "
                            "power: float = 1.0, cycle: bool = False", "polynomial decay to an end rate"),
        ("PiecewiseConstantDecay", "boundaries: list, values: list", "constant rates between step boundaries"),
    ]
}
