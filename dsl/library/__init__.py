"""tfm's standard library: layers written in `.tfm` (layers.tfm) and built-in optimizer modules.

Optimizers are built in rather than written in `.tfm` because they iterate over the holding module's
trainable variables, which a `.tfm` body cannot name. Their TF code is in compiler/templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LIBRARY_SOURCES: tuple[Path, ...] = (Path(__file__).with_name("layers.tfm"),)


@dataclass(frozen=True)
class BuiltinParam:
    name: str
    type: str
    default: object


@dataclass(frozen=True)
class BuiltinModule:
    """A module whose TF code ships with the compiler; `kind` says how bodies may use it."""

    name: str
    kind: str
    params: tuple[BuiltinParam, ...]
    doc: str


OPTIMIZERS: dict[str, BuiltinModule] = {
    "SGD": BuiltinModule(
        "SGD", "optimizer",
        (BuiltinParam("learning_rate", "float", 0.01), BuiltinParam("momentum", "float", 0.0)),
        "Stochastic gradient descent, with optional momentum (as tf.keras.optimizers.SGD).",
    ),
    "Adam": BuiltinModule(
        "Adam", "optimizer",
        (BuiltinParam("learning_rate", "float", 0.001), BuiltinParam("beta_1", "float", 0.9),
         BuiltinParam("beta_2", "float", 0.999), BuiltinParam("epsilon", "float", 1e-7)),
        "Adam (as tf.keras.optimizers.Adam).",
    ),
}
