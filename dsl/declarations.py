"""Types of what a module declares: its inputs, outputs and variables, and the construction-time values
(variable initial values, submodule arguments) checked against them."""

from __future__ import annotations

from . import nodes as n
from .analysis import Analysis, ModuleInfo
from .diagnostics import error
from .ops import DTYPES, static_python_type
from .tensor_types import FLOATS, INTS, UNKNOWN, Dim, TensorT, dims_conflict, literal_type, unify_dtype


def declared_type(type_: n.TensorType) -> TensorT:
    if type_.dtype not in DTYPES and static_python_type(type_) is None:
        return UNKNOWN  # already reported as an unknown dtype
    if type_.shape is None:
        python = static_python_type(type_)
        if python is not None:
            return literal_type(python())
        return TensorT(type_.dtype, None)
    return TensorT(type_.dtype, tuple(_declared_dim(d) for d in type_.shape))


def _declared_dim(dim: n.Dim) -> Dim:
    if dim.kind == "fixed":
        return dim.size
    return dim.name if dim.kind == "named" else None


def check_declarations(analysis: Analysis, info: ModuleInfo) -> None:
    """Variable initial values and submodule arguments against what they initialise."""
    module = info.decl
    for var in module.variables:
        if analysis.calls.get(var.init) is not None:
            continue  # an initializer: shape and dtype come from the declaration
        value = _static_type(var.init, info)
        target = declared_type(var.type)
        if value is None:
            continue
        _, problem = unify_dtype(target, TensorT(value.dtype, value.shape, weak=value.weak or value.dtype == "f32"
                                                 and target.dtype in FLOATS))
        if problem and not (value.weak and value.dtype in ("i32", "f32") and target.dtype in FLOATS | INTS):
            analysis.diagnostics.append(error("E034", var.init.span, f"initial value is {value}, variable is {target}",
                                              "give a value of the declared dtype"))
        elif _shape_mismatch(value, target):
            analysis.diagnostics.append(error("E034", var.init.span,
                                              f"initial value has shape {shape_text(value)}, variable is {target}",
                                              "give a value of the declared shape, or use an initializer such "
                                              "as zeros()"))
    for sub in module.submodules:
        _check_sub_arguments(analysis, info, sub)


def _shape_mismatch(value: TensorT, target: TensorT) -> bool:
    if value.shape is None or target.shape is None:
        return False
    if len(value.shape) != len(target.shape):
        return True
    return any(dims_conflict(a, b) for a, b in zip(value.shape, target.shape))


def shape_text(t: TensorT) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in t.shape or ()) + "]"


def _static_type(expr: n.Node, info: ModuleInfo) -> TensorT | None:
    """Type of a construction-time value: a literal, a (nested) list of them, or a parameter."""
    if isinstance(expr, (n.IntLit, n.FloatLit, n.BoolLit, n.StringLit)):
        return literal_type(expr.value)
    if isinstance(expr, n.Name) and expr.id in info.params:
        return declared_type(info.params[expr.id].type)
    if isinstance(expr, n.ListLit):
        items = [_static_type(i, info) for i in expr.items]
        if not items or any(i is None or i.shape is None for i in items):
            return None
        first = items[0]
        dtype = "f32" if any(i.dtype == "f32" for i in items) else first.dtype
        return TensorT(dtype, (len(items), *first.shape), weak=all(i.weak for i in items))
    if isinstance(expr, n.UnaryOp) and expr.op == "-":
        return _static_type(expr.operand, info)
    return None


def _check_sub_arguments(analysis: Analysis, info: ModuleInfo, sub: n.SubDecl) -> None:
    target = analysis.modules.get(sub.module)
    if target is None:
        return
    params = _param_types(target)
    names = list(params)
    given = list(zip(names, sub.args)) + [(k.name, k.value) for k in sub.keywords]
    for name, arg in given:
        expected = params.get(name)
        actual = _static_type(arg, info)
        if expected is None or actual is None or not actual.weak:
            continue
        python = expected
        ok = {int: actual.dtype == "i32", float: actual.dtype in ("i32", "f32"), bool: actual.dtype == "bool",
              str: actual.dtype == "string"}.get(python, True)
        if not ok:
            analysis.diagnostics.append(error("E023", arg.span, f"`{sub.module}` parameter `{name}` is "
                                              f"{python.__name__}, got {_python_kind(actual)}",
                                              f"pass {'an' if python is int else 'a'} {python.__name__}"))


def _param_types(info: ModuleInfo) -> dict[str, type | None]:
    if info.builtin is not None:
        return {p.name: {"float": float, "int": int}.get(p.type) for p in info.builtin.params}
    return {p.name: static_python_type(p.type) for p in info.decl.params}


def _python_kind(t: TensorT) -> str:
    return {"i32": "an int", "f32": "a float", "bool": "a bool", "string": "a string"}.get(t.dtype, str(t))
