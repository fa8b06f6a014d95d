"""Calls of registry ops (`relu(x)`, `reduce_sum(x, axis=1)`): arguments bound to the op's parameters,
converted as TensorFlow converts them, checked (kinds, kernel dtypes, static values, ranks), then the
op's type rule gives the result."""

from __future__ import annotations

import math
from typing import Collection

from .. import nodes as n
from ..analysis import Analysis
from ..declarations import known_shape
from ..diagnostics import Report
from ..folding import UNKNOWN_VALUE, evaluate
from ..limits import over_limit
from ..ops import DTYPES, Op, RuleContext, check_static_args
from ..precision import casts_to_float32, loss_input
from ..tensor_types import UNKNOWN, ArrayT, OtherT, OutputsT, TensorT, Type
from .value_checks import is_python_value

Bound = dict[str, tuple[Type, n.Node]]  # parameter name -> (argument type, argument node)
Variadic = tuple[tuple[Type, n.Node], ...]  # a variadic op's arguments past its parameters: (type, node)


def op_call_type(report: Report, analysis: Analysis, params: Collection[str], node: n.Call, op: Op,
                 positional: list[Type], keywords: dict[str, Type]) -> Type:
    """The type of `node`, a call of `op` with arguments of these types; `params` are the names of
    the calling module's constructor parameters (dims a rule may keep by name)."""
    given, variadic = _bind(op, node, positional, keywords)
    _check_arg_kinds(report, op, given)
    bound = _as_converted(op, given)
    if casts_to_float32(op):  # a Keras loss computes in f32 (dsl/precision.py)
        bound = {name: (loss_input(value), arg) for name, (value, arg) in bound.items()}
    _check_kernel_dtypes(report, analysis, op, bound, variadic)
    check_static_args(op, bound, report)
    if not _check_ranks(report, analysis, op, bound):
        return UNKNOWN
    if op.type_rule is None:
        return UNKNOWN
    result = op.type_rule(RuleContext(node, op, bound, types=analysis.types, params=params, reporter=report,
                                      variadic=variadic))
    _check_tensor_size(report, analysis, node, result)
    # An op returns a tensor even of Python values (abs(3) is an int32 tensor), never a Python value.
    return TensorT(result.dtype, result.shape) if isinstance(result, TensorT) and result.weak else result


def _check_tensor_size(report: Report, analysis: Analysis, node: n.Node, value: Type) -> None:
    """A result of fully known shape holds at most `limits.tensor_elements` elements."""
    if not (isinstance(value, TensorT) and value.shape and known_shape(value.shape)):
        return
    elements, limit = math.prod(value.shape), analysis.limits.tensor_elements
    if elements > limit:
        report("E056", node, *over_limit(f"this {value} tensor has too many elements", elements, "tensor_elements",
                                         limit))


def _helper_wants_tensor(op: Op) -> bool:
    """A runtime helper may use a tensor's methods on its arguments; a random op's helper hands them
    straight to TensorFlow's stateless op (which converts a list, as the stateful op did)."""
    return op.helper is not None and "random" not in op.effects


def _check_arg_kinds(report: Report, op: Op, bound: Bound) -> None:
    for param in op.params:
        if param.name not in bound:
            continue
        value, arg = bound[param.name]
        if param.kind == "dtype" and not (isinstance(value, OtherT) and value.kind == "dtype"):
            report("E054", arg, f"`{op.name}` argument `{param.name}` must be a dtype such as f32, got {value}",
                   "write the dtype name: f32, i32, bool, string, ...")
        elif param.kind == "static" and not is_python_value(value) and value is not UNKNOWN \
                and evaluate(arg) is UNKNOWN_VALUE:  # a literal list (`element_shape=[]`) is known
            report("E022", arg, f"`{op.name}` argument `{param.name}` must be known at trace time",
                   "use a literal or a constructor parameter")
        elif param.kind == "tensors" and not isinstance(arg, n.ListLit):
            report("E023", arg, f"`{op.name}` argument `{param.name}` is a list of tensors",
                   "write the tensors in brackets: [a, b]")
        elif param.kind == "tensor" and (is_python_value(value) or isinstance(arg, n.ListLit)) and (
                param.name in op.tensor_only or _helper_wants_tensor(op) and isinstance(value, TensorT)
                and value.shape != ()):
            report("E023", arg, f"`{op.name}` argument `{param.name}` must be a tensor, not a Python value "
                                "or list", "make it one: constant(...) or stack([...])")
        elif param.kind == "tensor" and isinstance(value, (ArrayT, OtherT, OutputsT)) and value is not UNKNOWN:
            what = "a dtype" if isinstance(value, OtherT) and value.kind == "dtype" else f"a {value}"
            hint = "use `.stack()` to make a tensor" if isinstance(value, ArrayT) else None
            report("E023", arg, f"`{op.name}` argument `{param.name}` is a tensor, not {what}", hint)


def _check_ranks(report: Report, analysis: Analysis, op: Op, bound: Bound) -> bool:
    """Every argument has a rank TensorFlow accepts for it (its entry's `ranks`); False if one has not."""
    fits = True
    for name, (least, exact) in op.ranks.items():
        if name not in bound:
            continue
        value, arg = bound[name]
        param = op.param(name)
        items = [(analysis.types.get(i), i) for i in arg.items] if param is not None and param.kind == "tensors" \
            and isinstance(arg, n.ListLit) else [(value, arg)]
        for item, item_node in items:
            if isinstance(item, TensorT) and item.rank is not None and (
                    item.rank < least or exact and item.rank != least):
                wanted = f"rank {least}" if exact else f"rank {least} or more"
                report("E057", item_node, f"`{op.name}` argument `{name}` must have {wanted}, got {item}",
                       "reshape or expand_dims it" if item.rank < least else "reduce or reshape it")
                fits = False
    return fits


def _check_kernel_dtypes(report: Report, analysis: Analysis, op: Op, bound: Bound, variadic: Variadic) -> None:
    """Every argument's dtype has a TensorFlow kernel for this op (its entry's `kernel_dtypes`).
    A Python value left after `_as_converted` in a dtype group takes its partner's dtype, which is
    checked; any other Python value is converted on its own, so its own dtype is checked."""
    accepted = op.kernel_dtypes
    if not accepted:
        return
    arguments = [(name, value, arg) for name, value, arg in _argument_types(analysis, bound, variadic)
                 if name in accepted or "*" in accepted and name == "*"]
    for name, value, arg in arguments:
        dtype = value.name if isinstance(value, OtherT) else value.dtype if isinstance(value, TensorT) else None
        param = op.param(name)
        if dtype is None or isinstance(value, TensorT) and (
                value.weak and name in op.shared_dtype or param and param.kind == "dtype"):
            continue  # a value where a dtype belongs is E054's
        allowed = accepted[name]
        if dtype not in allowed:
            listed = ", ".join(d for d in DTYPES if d in allowed)
            target = "f32" if "f32" in allowed else next(d for d in DTYPES if d in allowed)
            report("E055", arg, f"`{op.name}` has no TensorFlow kernel for {dtype} (argument `{name}` takes {listed})",
                   f"cast it first: cast(x, {target})")


def _argument_types(analysis: Analysis, bound: Bound, variadic: Variadic) -> list[tuple[str, object, n.Node]]:
    """(parameter, type, node) for each argument; a list of tensors (concat, stack) gives one entry per
    item, and each variadic argument one entry under "*"."""
    found: list[tuple[str, object, n.Node]] = []  # object: what analysis.types holds
    for name, (value, arg) in bound.items():
        if isinstance(arg, n.ListLit) and not isinstance(value, TensorT):
            found.extend((name, analysis.types.get(item, UNKNOWN), item) for item in arg.items)
        else:
            found.append((name, value, arg))
    found.extend(("*", value, arg) for value, arg in variadic)  # in a valid call, after every parameter
    return found


def _as_converted(op: Op, bound: Bound) -> Bound:
    """The arguments as TensorFlow converts them. A Python value converted before any tensor of its dtype
    group (the entry's `shared_dtype`), or any Python value of a helper or of an op `converted_alone`, becomes a tensor of
    its own default dtype rather than taking its partner's: `maximum(1, x)` is maximum of an i32 and `x`."""
    alone = op.helper or op.converted_alone
    names = [p.name for p in op.params if p.kind == "tensor"] if alone else op.shared_dtype
    converted = dict(bound)
    for name in names:
        if name not in bound:
            continue
        value, arg = bound[name]
        if isinstance(value, TensorT) and value.weak:
            converted[name] = (TensorT(value.dtype, value.shape), arg)
        if isinstance(value, TensorT) and value.dtype is not None and not alone:
            break  # the group's dtype is set: later Python values take it
    return converted


def _bind(op: Op, node: n.Call, positional: list[Type], keywords: dict[str, Type]) -> tuple[Bound, Variadic]:
    """Argument name -> (type, node), positional arguments matched to the registry's parameters; and
    the positional arguments past them (a variadic op's)."""
    bound: Bound = {}
    for param, value, arg in zip(op.params, positional, node.args):
        bound[param.name] = (value, arg)
    variadic = tuple(zip(positional[len(op.params):], node.args[len(op.params):]))
    for keyword in node.keywords:
        bound[keyword.name] = (keywords[keyword.name], keyword.value)
    return bound, variadic
