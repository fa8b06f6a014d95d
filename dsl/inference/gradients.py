"""Gradients typed statically: `tape.gradient(target, sources)` has its sources' types (one source,
one tensor of its type; a list, a list of them), and an optimizer's update takes gradients that fit
the variables they update (`apply_gradients(grads, vars)`, `minimize(loss, tape, var_list=...)`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import nodes as n
from ..diagnostics import Report
from ..tensor_types import FLOATS, NO_VALUE, UNKNOWN, OtherT, TensorT, Type, dims_conflict
from .value_checks import check_fits

if TYPE_CHECKING:
    from .expressions import ExpressionTyping


@dataclass(frozen=True)
class TensorList(OtherT):
    """A list of tensors: the gradients of a list of sources, a list of variables, or a submodule's
    `trainable_variables`. `items`: each one's type, None where how many is known only when built."""

    items: tuple[TensorT, ...] | None = None

    def __str__(self) -> str:
        if self.items is None:
            return "list of tensors"
        return f"list[{', '.join(str(t) for t in self.items)}]"


def tensor_list(items: tuple[TensorT, ...] | None) -> TensorList:
    return TensorList("tensor list", None, items)


def sources_type(typing: ExpressionTyping, node: n.Node) -> Type:
    """The type of a gradient source or a variable list: a tensor, or a list (a list literal's items
    typed one by one: they need not share a dtype or shape, as a stacked tensor would)."""
    if not isinstance(node, n.ListLit):
        return typing.expr(node)
    items = tuple(typing.expr(item) for item in node.items)
    result = tensor_list(tuple(t if isinstance(t, TensorT) else UNKNOWN for t in items))
    typing.analysis.types[node] = result
    return result


def gradient_type(report: Report, typing: ExpressionTyping, node: n.Call) -> Type:
    """`tape.gradient(target, sources)`: the target a floating-point tensor, each source a floating-point
    tensor; the gradient of each source has the source's dtype and shape."""
    target_node = node.args[0] if node.args else None
    sources_node = node.args[1] if len(node.args) > 1 else None
    for keyword in node.keywords:
        if keyword.name not in ("target", "sources"):
            typing.expr(keyword.value)
        elif keyword.name == "target":
            target_node = keyword.value
        else:
            sources_node = keyword.value
    if target_node is not None:
        target = typing.expr(target_node)
        if isinstance(target, TensorT) and target.dtype is not None and target.dtype not in FLOATS:
            report("E051", target_node, f"the gradient's target is {target}; gradients need a floating-point target",
                   "cast it: cast(target, f32)")
    if sources_node is None:
        return UNKNOWN
    sources = sources_type(typing, sources_node)
    if isinstance(sources, TensorList):
        for item, item_node in zip(sources.items or (), _items(sources_node)):
            _check_float_source(report, item, item_node)
        return tensor_list(None if sources.items is None else tuple(_gradient_of(t) for t in sources.items))
    if isinstance(sources, TensorT):
        _check_float_source(report, sources, sources_node)
        return _gradient_of(sources)
    return UNKNOWN


def _items(node: n.Node) -> tuple[n.Node, ...]:
    return node.items if isinstance(node, n.ListLit) else ()


def _gradient_of(source: TensorT) -> TensorT:
    return TensorT(source.dtype, source.shape)


def _check_float_source(report: Report, source: TensorT, node: n.Node) -> None:
    if source.dtype is not None and source.dtype not in FLOATS:
        report("E051", node, f"no gradient flows to {source}: gradients are taken with respect to "
               "floating-point tensors", "take the gradient with respect to a float variable or a float input")


def apply_type(report: Report, typing: ExpressionTyping, node: n.Call) -> Type:
    """`optimizer.apply_gradients(grads, vars)`: one gradient per variable, each of its variable's type."""
    grads_node = node.args[0] if node.args else _keyword(node, "grads")
    vars_node = node.args[1] if len(node.args) > 1 else _keyword(node, "var_list")
    grads = sources_type(typing, grads_node) if grads_node is not None else UNKNOWN
    variables = sources_type(typing, vars_node) if vars_node is not None else UNKNOWN
    if grads_node is None or vars_node is None:
        return NO_VALUE
    if isinstance(grads, TensorT) and isinstance(variables, TensorT):
        check_fits(report, grads, variables, grads_node, f"the variable is {variables}", code="E023")
        return NO_VALUE
    if not (isinstance(grads, TensorList) and isinstance(variables, TensorList)):
        report("E023", node, "`apply_gradients` takes a list of gradients and the list of variables they update",
               "write `optimizer.apply_gradients(tape.gradient(loss, [w, b]), [w, b])`")
        return NO_VALUE
    if grads.items is not None and variables.items is not None:
        if len(grads.items) != len(variables.items):
            report("E023", grads_node, f"{_count(len(grads.items), 'gradient')} for {_count(len(variables.items), 'variable')}",
                   "give one gradient per variable, in the same order")
            return NO_VALUE
        var_nodes = _items(vars_node) or (vars_node,) * len(variables.items)
        for index, (grad, var, var_node) in enumerate(zip(grads.items, variables.items, var_nodes)):
            if not _fits(grad, var):
                report("E023", var_node, f"gradient {index} is {grad}, but the variable it updates is {var}",
                       "list the variables in the order of their gradients")
    return NO_VALUE


def _fits(grad: TensorT, var: TensorT) -> bool:
    """A gradient can update the variable: the same dtype and shape, where both are known."""
    if grad.dtype and var.dtype and grad.dtype != var.dtype:
        return False
    if grad.shape is None or var.shape is None:
        return True
    return len(grad.shape) == len(var.shape) and not any(dims_conflict(a, b) for a, b in zip(grad.shape, var.shape))


def _keyword(node: n.Call, name: str) -> n.Node | None:
    return next((k.value for k in node.keywords if k.name == name), None)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}"
