"""Indexing: the type of `x[...]` (tensors and typed lists) from the already typed value and index items:
how many dims each item consumes, slice lengths where bounds are known, indices out of range."""

from __future__ import annotations

from typing import Mapping

from .. import nodes as n
from ..diagnostics import Report
from ..names import suggest
from ..ops import OPS
from ..tensor_types import UNKNOWN, ArrayT, Dim, DimExpr, OutputsT, TensorT, Type, dim_binary, held_size
from ..ops.operators import not_a_tensor

_NOT_CONSUMING = (n.NewAxis, n.EllipsisItem)  # `None` adds an axis, `...` stands for the rest


def subscript_type(report: Report, types: Mapping[n.Node, object], node: n.Subscript, value: Type) -> Type:
    """The type of `node` (`value[items]`), its items already typed in `types`."""
    if isinstance(value, ArrayT):  # `xs[i]` reads one element of a typed list (`xs.read(i)`)
        if len(node.items) != 1 or isinstance(node.items[0], (n.Slice, *_NOT_CONSUMING)):
            report("E044", node, f"a {value} is indexed by one integer, `xs[i]`",
                   "for several elements use `xs.gather(indices)`, or `xs.stack()` then slice")
            return UNKNOWN
        return value.element
    if not isinstance(value, TensorT):
        not_a_tensor(node, (value,), report)
        return UNKNOWN
    if value.shape is None:
        return TensorT(value.dtype, None)
    shape = _index_shape(report, types, node, value)
    if value.weak and shape == () and all(_is_python_int(types.get(i)) for i in node.items):
        return _python_item(types, node, value)  # `kernel_size[0]`: an item of a Python tuple is a Python value
    return TensorT(value.dtype, shape, sizes=_sizes_read(types, node, value) if shape is not None else None)


def _sizes_read(types: Mapping[n.Node, object], node: n.Subscript, value: TensorT) -> tuple[Dim, ...] | None:
    """The sizes `shape(x)[i]` (one) or `shape(x)[a:b]` (several) reads from a vector that holds sizes."""
    if value.sizes is None or len(node.items) != 1:
        return None
    item = node.items[0]
    if isinstance(item, n.Slice):
        bounds = [_static_int(types, part) if part is not None else None for part in (item.lower, item.upper, item.step)]
        if any(b is None and part is not None for b, part in zip(bounds, (item.lower, item.upper, item.step))) \
                or bounds[2] == 0:
            return None
        return value.sizes[slice(*bounds)]
    index = _static_int(types, item)
    if index is None or not -len(value.sizes) <= index < len(value.sizes):
        return None
    return (value.sizes[index],)


def _is_python_int(index: object) -> bool:
    return isinstance(index, TensorT) and index.weak and index.shape == () and index.dtype in ("i32", "i64")


def _python_item(types: Mapping[n.Node, object], node: n.Subscript, value: TensorT) -> TensorT:
    """One item of a Python list or tuple (a tuple parameter, a list literal), its value kept where known."""
    index = types.get(node.items[0])
    at = index.value if isinstance(index, TensorT) else None
    items = value.value if isinstance(value.value, (tuple, list)) else ()
    known = isinstance(at, int) and -len(items) <= at < len(items)
    return TensorT(value.dtype, (), weak=True, value=items[at] if isinstance(at, int) and known else None)


def _index_shape(report: Report, types: Mapping[n.Node, object], node: n.Subscript, value: TensorT):
    assert value.shape is not None  # index_type handles an unknown rank
    consuming = sum(1 for i in node.items if not isinstance(i, _NOT_CONSUMING))
    if consuming > len(value.shape):
        report("E044", node, f"{consuming} indices for a tensor of rank {len(value.shape)} ({value})",
               "index at most one position per dimension")
        return None
    dims = list(value.shape)
    result: list[Dim] = []
    position = 0
    for item in node.items:
        if isinstance(item, n.NewAxis):
            result.append(1)
        elif isinstance(item, n.EllipsisItem):
            keep = len(dims) - position - (consuming - _consumed_before(node.items, item))
            result.extend(dims[position:position + keep])
            position += keep
        elif isinstance(item, n.Slice):
            result.append(_slice_length(report, types, item, dims[position]))
            position += 1
        else:
            _check_index_in_range(report, types, item, dims[position], position)
            position += 1
    result.extend(dims[position:])
    return tuple(result)


def _consumed_before(items: tuple, stop: n.Node) -> int:
    count = 0
    for item in items:
        if item is stop:
            break
        if not isinstance(item, _NOT_CONSUMING):
            count += 1
    return count


def _static_int(types: Mapping[n.Node, object], node: n.Node | None) -> int | None:
    value = types.get(node) if node is not None else None
    if isinstance(value, TensorT) and value.weak and isinstance(value.value, int) and not isinstance(value.value, bool):
        return value.value
    return None


def _check_index_in_range(report: Report, types: Mapping[n.Node, object], item: n.Node, dim: Dim,
                          position: int) -> None:
    index = _static_int(types, item)
    if index is not None and isinstance(dim, int) and not -dim <= index < dim:
        report("E044", item, f"index {index} is out of range for dim {position}, of size {dim}",
               f"use an index from {-dim} to {dim - 1}")


def _slice_length(report: Report, types: Mapping[n.Node, object], item: n.Slice, dim: Dim) -> Dim:
    """A slice's length where its bounds and the dim are known (Python's clamping, as TensorFlow's)."""
    parts = (item.lower, item.upper, item.step)
    bounds = [_static_int(types, part) for part in parts]
    if bounds[2] == 0:
        assert item.step is not None  # a step's bound is known only where it is written
        report("E044", item.step, "a slice step cannot be 0", "use 1, or -1 to reverse")
        return None
    if item.lower is None and item.upper is None and item.step is None:
        return dim
    given = [part is None or bound is not None for part, bound in zip(parts, bounds)]
    if isinstance(dim, int) and all(given):
        length = len(range(*slice(*bounds).indices(dim)))
        return length or None
    if item.step is not None and bounds[2] != 1:
        return None
    return _sized_length(types, item, dim)


def _sized_length(types: Mapping[n.Node, object], item: n.Slice, dim: Dim) -> Dim:
    """A unit-step slice whose bounds are sizes the checker knows as dims (`[:shape(ids)[1]]` is `T`,
    `[k - 1:]` of `t` is `t - (k - 1)`): the upper bound less the lower, taken to lie within the axis
    (a negative number counts from its end). TensorFlow clamps a bound past the axis; a program whose
    bound can exceed it gets the axis' size at run time, not this one."""
    lower = _bound(types, item.lower, dim, 0)
    upper = _bound(types, item.upper, dim, dim)
    if isinstance(upper, int) and isinstance(dim, int):
        upper = min(upper, dim)
    if upper is not None and upper == lower:
        return None  # empty, as an empty slice of known bounds is
    if isinstance(lower, DimExpr) and lower.op in ("+", "-") and isinstance(lower.right, int):  # t - (k - 1) is t - k + 1
        length = dim_binary("+" if lower.op == "-" else "-", dim_binary("-", upper, lower.left), lower.right)
    else:
        length = dim_binary("-", upper, lower)
    return None if isinstance(length, int) and length <= 0 else length


def _bound(types: Mapping[n.Node, object], part: n.Node | None, dim: Dim, default: Dim) -> Dim:
    if part is None:
        return default
    size = held_size(types.get(part))
    if isinstance(size, int) and size < 0:
        return None if isinstance(dim, int) and -size > dim else dim_binary("-", dim, -size)
    return size


# a method's several outputs: `out.mean`, `out[0]`, `out["mean"]` -----------------------------------


def output_attribute(report: Report, node: n.Attribute, value: Type) -> Type:
    """`out.mean`: the output named `mean` of a method's several outputs held by `out`."""
    if not isinstance(value, OutputsT):
        if value is not UNKNOWN:
            hint = (f"call the op: `{node.attr}(...)`" if node.attr in OPS else
                    "call a method (`x.assign(v)`) or an op (`shape(x)`); only a method's several outputs are "
                    "read by name (`out.mean`)")
            report("E030", node, f"`.{node.attr}` is not available on {value}", hint)
        return UNKNOWN
    found = value.get(node.attr)
    if found is None:
        report("E030", node, f"no output `{node.attr}` in {value}",
               suggest(node.attr, value.names) or f"outputs: {', '.join(value.names)}")
        return UNKNOWN
    return found


def output_name(types: Mapping[n.Node, object], node: n.Subscript, value: OutputsT) -> str | None:
    """The output `out[i]` or `out["name"]` reads, when its one index says which."""
    if len(node.items) != 1:
        return None
    item = node.items[0]
    if isinstance(item, n.StringLit):
        return item.value if item.value in value.names else None
    index = _static_int(types, item)
    if index is None or not -len(value.outputs) <= index < len(value.outputs):
        return None
    return value.outputs[index][0]


def output_item(report: Report, types: Mapping[n.Node, object], node: n.Subscript, value: OutputsT) -> Type:
    """`out[0]` / `out["mean"]`: one of a method's several outputs, chosen by a literal position or name;
    anything the checker cannot resolve to one output is an error here, never a KeyError when traced."""
    name = output_name(types, node, value)
    if name is not None:
        return value.get(name) or UNKNOWN
    item = node.items[0] if len(node.items) == 1 else None
    if isinstance(item, n.StringLit):
        report("E044", item, f"no output {item.value!r} in {value}",
               suggest(item.value, value.names) or f"outputs: {', '.join(value.names)}")
    elif item is not None and _static_int(types, item) is not None:
        report("E044", item, f"output {_static_int(types, item)} is out of range: {value} has "
               f"{len(value.outputs)}", f"use 0 to {len(value.outputs) - 1}, or a name: `out.{value.names[0]}`")
    else:
        report("E044", node, f"an output of {value} is chosen by a literal position or name",
               f"write `out.{value.names[0]}` or `out[0]`")
    return UNKNOWN
