"""Regularizers as Keras names them: what a `regularizer=` clause on a `var` (and the `regularize` op)
accepts, as text a constructor parameter can hold.

`""` (none), `"l1"`, `"l2"`, `"l1_l2"` (Keras' string identifiers: factor 0.01), `"l1(0.001)"`,
`"l2(0.01)"`, `"l1_l2(l1=0.001, l2=0.01)"` (Keras' `L1`, `L2`, `L1L2` with their factors; `L1L2`'s
factors default to 0). The penalty is Keras' `L1L2.__call__`: `l1 * sum(abs(x)) + l2 * sum(square(x))`.
The generated code parses the same text with the same pattern (`_regularizer` in
compiler/generate/runtime.py; tests/ops/test_regularizers.py holds the two to each other).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .analysis import Analysis

# One regularizer: a name, then optionally its factors in parentheses (positional or by keyword).
PATTERN = re.compile(r"\s*(l1_l2|l1|l2)\s*(?:\(\s*(.*?)\s*\))?\s*")
_FLOAT = r"[+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
DEFAULT_FACTOR = 0.01  # Keras' factor for a bare "l1", "l2" and "l1_l2"


def parse_regularizer(spec: str) -> tuple[float, float]:
    """(l1, l2) for a regularizer's text; raises ValueError naming what is wrong.

    >>> parse_regularizer("l1_l2(l1=0.001, l2=0.01)")
    (0.001, 0.01)
    """
    if not spec.strip():
        return 0.0, 0.0
    match = PATTERN.fullmatch(spec)
    if match is None:
        raise ValueError(f"unknown regularizer {spec!r}: write l1(F), l2(F), l1_l2(l1=F, l2=F) or \"\"")
    name, arguments = match.group(1), match.group(2)
    if arguments is None:
        return (DEFAULT_FACTOR if "l1" in name else 0.0), (DEFAULT_FACTOR if "l2" in name else 0.0)
    names = ("l1", "l2") if name == "l1_l2" else (name,)
    factors = dict.fromkeys(names, 0.0)
    seen: set[str] = set()
    for position, item in enumerate(arguments.split(",") if arguments else []):
        key, has_key, value = item.partition("=")
        key = key.strip() if has_key else (names[position] if position < len(names) else "")
        value = value if has_key else item
        if key not in factors or key in seen or not re.fullmatch(_FLOAT, value.strip()):
            raise ValueError(f"regularizer {spec!r}: {name} takes {', '.join(names)}, each a factor >= 0")
        factors[key] = float(value)
        seen.add(key)
    return factors.get("l1", 0.0), factors.get("l2", 0.0)


# What every module of a program that uses regularizers has (generated): its variables' penalties and its
# submodules' regularization_losses(), summed; a body calls it as `regularization_losses()` or
# `dense.regularization_losses()` (dsl/body_checker.py: the call kind "regularization_losses").
REGULARIZATION_LOSSES = "regularization_losses"


def uses_regularizers(analysis: Analysis) -> bool:
    """Whether the program declares a regularizer or calls regularization_losses(): then every module of
    it gets the generated method, so any module's sum can reach its submodules'."""
    modules = [*analysis.library, *analysis.program.modules]
    return (any(v.regularizer is not None for m in modules for v in m.variables)
            or any(info.kind == REGULARIZATION_LOSSES for info in analysis.calls.values()))
