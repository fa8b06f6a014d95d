"""Dtype and shape inference over method bodies, and the checks it makes possible.

Runs after the name checker (so every name and call is resolved) and before any TensorFlow import.
It only reports what is surely wrong: an unknown dtype or dim never produces an error. Each
expression's type is kept in `Analysis.types`, keyed by node.

The parts, each reporting through the analysis's one reporter:
- `flow`: statements in order, the `Scope` of each local's type through branches and loops;
- `expressions`: each expression's type, dispatching operators, indexing and calls to
  `operators`, `indexing`, `op_calls` (registry ops) and `method_calls` (methods, overload choice);
- `value_checks`: what a value must be where it is used (fits a declared type, a condition, an index).
"""

from __future__ import annotations

from ..analysis import Analysis
from ..declarations import check_declarations
from .flow import MethodInference
from .method_calls import report_uninferred

__all__ = ["infer"]


def infer(analysis: Analysis) -> None:
    """Infer types in every user and library module; add diagnostics to `analysis`. (Declared types
    are recorded by the checker: dsl.declarations.record_declared_types.)"""
    for module in (*analysis.library, *analysis.program.modules):
        info = analysis.modules[module.name]
        check_declarations(analysis, info)
        for method in module.methods:
            with analysis.checking_signature(method, info):
                MethodInference(analysis, info, method).run()
        report_uninferred(analysis, module)

