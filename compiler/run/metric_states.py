"""The metric modules a trained module holds (the library's metrics, dsl/library/metrics.tfm: modules
with `update_state`, `result` and `reset_state`), as Keras' `fit` treats its metrics: reset when an
epoch starts and when a validation pass starts, and their results shown and logged when it ends (the
epoch's value, not the last batch's)."""

from __future__ import annotations

from typing import Any

_METRIC_METHODS = ("update_state", "result", "reset_state")


def metric_submodules(instance) -> dict[str, Any]:
    """The instance's metric submodules, at any depth, by name."""
    return {module.name: module for module in instance.submodules
            if all(callable(getattr(module, name, None)) for name in _METRIC_METHODS)}


def reset_metrics(metrics: dict[str, Any]) -> None:
    for metric in metrics.values():
        metric.reset_state()


def metric_results(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Each metric's result (a number; a metric whose result is not one is left out)."""
    found = {}
    for name, metric in metrics.items():
        value = metric.result()
        if getattr(value, "shape", None) is not None and value.shape.rank == 0:
            found[prefix + name] = float(value.numpy())
    return found
