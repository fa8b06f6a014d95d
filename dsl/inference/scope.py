"""What inference knows of one method's names at a point of its body: the environment that control
flow (dsl/inference/flow.py) forks and merges and that expression typing reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import nodes as n
from ..tensor_types import TensorT, Type


@dataclass
class Scope:
    # Each name bound on every path to here: its type.
    env: dict[str, Type]
    # Names defined only on some paths (one branch of a tensor `if`, inside a graph loop): where.
    partial: dict[str, tuple[str, n.Node]] = field(default_factory=dict)
    # Locals given a type (`v: f32[?] = ...`): every later value must fit it, and it is their type.
    declared: dict[str, TensorT] = field(default_factory=dict)

    def bind(self, name: str, value: Type) -> None:
        self.env[name] = value
        self.partial.pop(name, None)
