"""Types of what a module declares: its inputs, outputs and variables, and the construction-time values
(variable initial values, submodule arguments) checked against them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, TypeGuard

from . import nodes as n
from .diagnostics import Report
from .analysis import Analysis, ModuleInfo, dimension_params, outputs_of
from .folding import evaluate, fits
from .ops import DTYPES, any_length_tuple, static_python_type, static_tuple_length
from .tensor_types import (COMPLEX, DIM_OPERATORS, FLOATS, INTS, UNKNOWN, ArrayT, Dim, TensorT, dim_binary, dims_conflict,
                           literal_type)


def declared_type(type_: n.TensorType) -> TensorT:
    if type_.dtype not in DTYPES and static_python_type(type_) is None:
        return UNKNOWN  # already reported as an unknown dtype
    length = static_tuple_length(type_)
    if length is not None:
        return TensorT("i32", (length,), weak=True)  # a tuple parameter: its value comes at construction
    if any_length_tuple(type_):
        return TensorT("i32", (None,), weak=True)  # `int[...]`: its length too comes at construction
    if type_.shape is None:
        python = static_python_type(type_)
        if python is not None:
            return TensorT(literal_type(python()).dtype, (), weak=True)  # its value comes at construction
        return TensorT(type_.dtype, None)
    if any(d.kind == "rest" for d in type_.shape):
        return TensorT(type_.dtype, None)  # any rank: a call binds it (dims_pattern)
    return TensorT(type_.dtype, tuple(_declared_dim(d) for d in type_.shape))


def dims_pattern(type_: n.TensorType) -> tuple[tuple[Dim, ...], tuple[Dim, ...]] | None:
    """For a shape with `...` (`f32[N, ..., D]`): the dims before it and those after it; else None."""
    shape = type_.shape or ()
    rest = next((i for i, d in enumerate(shape) if d.kind == "rest"), None)
    if rest is None:
        return None
    return tuple(_declared_dim(d) for d in shape[:rest]), tuple(_declared_dim(d) for d in shape[rest + 1:])


def signature_type(type_: n.TensorType | n.TypeChoice) -> n.TensorType:
    """A method input's or output's type: node_builder has split each `|` into a method of its own."""
    assert isinstance(type_, n.TensorType)
    return type_


def known_shape(shape: tuple[Dim, ...] | None) -> TypeGuard[tuple[int, ...]]:
    """Every size of the shape is known."""
    return shape is not None and all(isinstance(d, int) for d in shape)


def _declared_dim(dim: n.Dim) -> Dim:
    if dim.kind == "fixed":
        return dim.size
    if dim.kind == "expr":
        assert dim.op is not None and dim.left is not None and dim.right is not None  # node_builder.dim_binary
        if dim.op not in DIM_OPERATORS:
            return None  # the checker reports it
        return dim_binary(dim.op, _declared_dim(dim.left), _declared_dim(dim.right))
    return dim.name if dim.kind in ("named", "item") else None  # an item is named as written: `kernel_size[0]`


def check_dim_expr(report: Report, dim: n.Dim, check_leaf: Callable[[n.Dim], None]) -> None:
    """A dimension written as an expression (`4 * 4 * g`, `H // 2`, `T - k + 1`): `+ - * // %` of
    sizes, `int` parameters and, in a signature, named dims (each leaf checked by `check_leaf`); its
    value, where it folds to a number already, a size of at least 1."""
    assert dim.op is not None and dim.left is not None and dim.right is not None  # node_builder.dim_binary
    if dim.op not in DIM_OPERATORS:
        hint = ("a dimension is an int: divide with `//`" if dim.op == "/"
                else f"dimensions combine with {' '.join(f'`{op}`' for op in DIM_OPERATORS)}")
        report("E018", dim, f"`{dim.op}` does not compute a dimension", hint)
        return
    for side in (dim.left, dim.right):
        if side.kind == "expr":
            check_dim_expr(report, side, check_leaf)
        elif side.kind in ("named", "item"):  # a number inside an expression may be 0 (`n + 0`); only the result is a size
            check_leaf(side)
    right = _declared_dim(dim.right)
    if dim.op in ("//", "%") and right == 0:
        report("E018", dim, f"`{dim.name}` divides by zero", "divide by a size of 1 or more")
        return
    value = _declared_dim(dim)
    if isinstance(value, int) and value < 1:
        report("E018", dim, f"dimension `{dim.name}` is {value}", "a dimension holds 1 or more elements")


def record_declared_types(analysis: Analysis, module: n.ModuleDef) -> None:
    """The type of every type the module writes (parameters, variables, inputs, outputs, annotated
    locals), keyed by its type node: later stages read these, never the syntax."""
    declared: list[n.TensorType | n.TypeChoice | n.ListType] = []  # first those of signatures, where `...` may be written
    for method in module.methods:
        functions = [node.function for node in analysis.body_nodes(method) if isinstance(node, n.LocalFunction)]
        for function in (method, *functions):
            declared += [i.type for i in function.inputs] + [o.type for o in outputs_of(function)]
    signatures = len(declared)
    declared += [p.type for p in module.params] + [v.type for v in module.variables]
    for method in module.methods:
        declared += [node.declared for node in analysis.body_nodes(method) if isinstance(node, n.Assign) and node.declared]
    for i, type_ in enumerate(declared):
        if i >= signatures and isinstance(type_, n.TensorType) and dims_pattern(type_) is not None \
                and not any_length_tuple(type_):  # `int[...]`: a tuple parameter of any length
            rest = next(d for d in type_.shape or () if d.kind == "rest")
            analysis.report("E017", rest, "`...` (any run of dims) is written only in a method's inputs and outputs",
                            "declare the shape, or `?` for a dimension of unknown size")
        if isinstance(type_, n.TensorType):
            analysis.types[type_] = declared_type(type_)
        elif isinstance(type_, n.ListType):
            analysis.types[type_] = ArrayT(declared_type(type_.element))


def check_declarations(analysis: Analysis, info: ModuleInfo) -> None:
    """Variable initial values and submodule arguments against what they initialise."""
    module = info.decl
    assert module is not None  # infer passes the modules of the program and its library
    for var in module.variables:
        if analysis.calls.get(var.init) is None:  # not an initializer, which takes the declared type
            _check_initial_value(analysis, info, var)
    for sub in module.submodules:
        _check_sub_arguments(analysis, info, sub)
    for param in module.params:
        if param.default is not None:
            _check_default(analysis, info, param)
    defaults = [(p.name, p.default) for p in module.params if p.default is not None]
    _check_dimension_arguments(analysis, module.name, module, defaults)


@dataclass(frozen=True)
class _Static:
    """A construction-time value: which Python kinds it holds (or a tensor dtype), its shape, its sign."""

    kinds: frozenset[str]
    shape: tuple[int, ...] | None
    negative: bool = False


# What tf.Variable(value, dtype=...) accepts from Python values, per declared dtype family.
_ACCEPTS = {**{d: {"int", "float"} for d in FLOATS | COMPLEX}, **{d: {"int"} for d in INTS},
            "bool": {"bool"}, "string": {"str"}}


def _check_initial_value(analysis: Analysis, info: ModuleInfo, var: n.VarDecl) -> None:
    _check_value(analysis, info, var.init, var.type, ("E034", "initial value", "variable"))


def _check_default(analysis: Analysis, info: ModuleInfo, param: n.ModuleParam) -> None:
    """A parameter's default against its declared type, as a variable's initial value is: the module
    is built with it when the caller gives nothing, so a wrong default is a wrong module."""
    default = param.default
    assert default is not None  # check_declarations checks only given defaults
    python = static_python_type(param.type)
    if python is None:
        _check_value(analysis, info, default, param.type, ("E023", "default", f"parameter `{param.name}`"))
        return
    value = _static(default, info, [])
    if python is tuple:
        _check_tuple(analysis, default, value, param.type, f"default {{got}}, parameter `{param.name}` is {{type}}")
        return
    accepted = {"int": {"int"}, "float": {"int", "float"}, "bool": {"bool"}, "str": {"str"}}[python.__name__]
    wrong = sorted(value.kinds - accepted) if value is not None else []
    if wrong or value is not None and value.shape not in ((), None):
        got = _kind_text(wrong[0]) if wrong else "a list"
        analysis.report("E023", default, f"default holds {got}, parameter `{param.name}` is {python.__name__}",
                        f"give a default of type {python.__name__}")


def _check_tuple(analysis: Analysis, node: n.Node, value: _Static | None, type_: n.TensorType, message: str) -> None:
    """A value for a tuple parameter (`kernel_size: int[2]`): an int, or as many ints as the tuple holds.
    `message` has `{got}` and `{type}` to fill."""
    length = static_tuple_length(type_)
    if value is not None and value.kinds and any_length_tuple(type_):
        if value.kinds - {"int"} or value.shape is not None and len(value.shape) != 1:
            wrong = sorted(value.kinds - {"int"})
            got = f"holds {_kind_text(wrong[0])}" if wrong else "holds one int" if value.shape == () else \
                "holds a nested list of ints"
            analysis.report("E023", node, message.format(got=got, type="int[...]"),
                            "give a tuple of ints (any length), e.g. (4, 5) or (2,)")
        return
    if value is None or not value.kinds or length is None:
        return
    wrong = sorted(value.kinds - {"int"})
    if wrong:
        got = f"holds {_kind_text(wrong[0])}"
    elif value.shape not in ((), (length,), None):
        got = f"holds {value.shape[0] if len(value.shape) == 1 else 'a nested list of'} ints"
    else:
        return
    analysis.report("E023", node, message.format(got=got, type=f"int[{length}]"),
                    f"give an int (for every item) or {length} ints, e.g. {tuple(range(1, length + 1))}")


def _check_value(analysis: Analysis, info: ModuleInfo, node: n.Node, type_: n.TensorType,
                 words: tuple[str, str, str]) -> None:
    """A construction-time value against the tensor type it initialises; `words` is (code, what the
    value is, what it initialises) for the messages."""
    code, what, holder = words
    problems: list[tuple[n.Node, str]] = []
    value = _static(node, info, problems)
    target = declared_type(type_)
    for problem, message in problems:
        analysis.report(code, problem, message, f"write a literal of the {holder.split()[0]}'s dtype")
    if value is None or problems or target.dtype is None:
        return
    accepted = _ACCEPTS.get(target.dtype, set()) | {f"tensor:{target.dtype}"}
    wrong = sorted(value.kinds - accepted)
    if wrong:
        analysis.report(code, node, f"{what} holds {_kind_text(wrong[0])}, {holder} is {target}",
                        "give a value of the declared dtype")
    elif value.negative and target.dtype.startswith("u"):
        analysis.report(code, node, f"negative {what} for {target}", "unsigned dtypes hold only values >= 0")
    elif (bad := next((v for v in literal_numbers(node) if _representable(v) and not fits(v, target.dtype)),
                      None)) is not None:
        analysis.report(code, node, f"{what} {bad!r} does not fit in {target}",
                        "TensorFlow would wrap it silently; give a value in the dtype's range")
    elif value.shape is not None and target.shape is not None and (
            len(value.shape) != len(target.shape)
            or any(dims_conflict(a, b) for a, b in zip(value.shape, target.shape))):
        analysis.report(code, node, f"{what} has shape {list(value.shape)}, {holder} is {target}",
                        "give a value of the declared shape, or use an initializer such as zeros() or full(value)"
                        if code == "E034" else "give a value of the declared shape")


def _representable(value: int | float) -> bool:
    """A number a 64-bit dtype could hold: larger ones are reported where they are written."""
    return fits(value, "f64") if isinstance(value, float) else fits(value, "i64")


def literal_numbers(expr: n.Node):
    """The numbers written in a literal (a negation applied), through nested lists."""
    if isinstance(expr, (n.IntLit, n.FloatLit)):
        yield expr.value
    elif isinstance(expr, n.UnaryOp) and expr.op in "-+" and isinstance(expr.operand, (n.IntLit, n.FloatLit)):
        yield -expr.operand.value if expr.op == "-" else expr.operand.value
    elif isinstance(expr, n.ListLit):
        for item in expr.items:
            yield from literal_numbers(item)


def _kind_text(kind: str) -> str:
    return f"a {kind.removeprefix('tensor:')} tensor" if kind.startswith("tensor:") else f"a Python {kind}"


def _static(expr: n.Node, info: ModuleInfo, problems: list) -> _Static | None:
    """What a construction-time expression holds; problems found on the way go into `problems`."""
    if isinstance(expr, (n.IntLit, n.FloatLit, n.BoolLit, n.StringLit)):
        kind = {n.IntLit: "int", n.FloatLit: "float", n.BoolLit: "bool", n.StringLit: "str"}[type(expr)]
        return _Static(frozenset({kind}), ())
    if isinstance(expr, n.Name) and expr.id in info.params:
        param = info.params[expr.id]
        python = static_python_type(param.type)
        length = static_tuple_length(param.type)
        if length is not None:
            return _Static(frozenset({"int"}), (length,))
        if any_length_tuple(param.type):
            return _Static(frozenset({"int"}), None)  # its length comes with each instance
        if python is not None:
            return _Static(frozenset({python.__name__}), ())
        declared = declared_type(param.type)
        shape = declared.shape if known_shape(declared.shape) else None
        return _Static(frozenset({f"tensor:{param.type.dtype}"}), shape)
    if isinstance(expr, n.ListLit):
        return _static_list(expr, info, problems)
    if isinstance(expr, n.UnaryOp):
        operand = _static(expr.operand, info, problems)
        if operand is None:
            return None
        if expr.op == "not":
            if operand.kinds != {"bool"}:
                problems.append((expr, "`not` needs a bool"))
                return None
            return operand
        if operand.kinds & {"bool", "str"}:
            problems.append((expr, f"unary `{expr.op}` needs a number"))
            return None
        return _Static(operand.kinds, operand.shape, negative=(expr.op == "-") != operand.negative)
    if isinstance(expr, (n.Compare, n.BoolOp)):
        return _Static(frozenset({"bool"}), None)
    return _Static(frozenset(), None)  # arithmetic on parameters: TensorFlow converts it at construction


def _static_list(expr: n.ListLit, info: ModuleInfo, problems: list) -> _Static | None:
    found = [_static(i, info, problems) for i in expr.items]
    items = [i for i in found if i is not None]
    if len(items) < len(found):
        return None
    if not items:
        return _Static(frozenset(), (0,))
    kinds = frozenset().union(*(i.kinds for i in items))
    if len(kinds - {"int", "float"}) > 0 and len(kinds) > 1:
        problems.append((expr, f"list items mix {' and '.join(sorted(kinds))}"))
        return None
    shapes = {i.shape for i in items}
    if len(shapes) > 1:
        problems.append((expr, "list items have different shapes (a ragged list)"))
        return None
    inner = shapes.pop()
    return _Static(kinds, None if inner is None else (len(items), *inner), any(i.negative for i in items))


def _check_sub_arguments(analysis: Analysis, info: ModuleInfo, sub: n.SubDecl) -> None:
    target = analysis.modules.get(sub.module)
    if target is None:
        return
    params = _param_types(target)
    given = list(analysis.sub_arguments.get(sub, {}).items())
    if target.decl is not None:
        _check_dimension_arguments(analysis, sub.module, target.decl, given)
    for name, arg in given:
        expected = params.get(name)
        actual = _static(arg, info, [])
        if expected is None or actual is None or not actual.kinds:
            continue
        if expected is tuple:
            assert target.decl is not None  # only a declared module has tuple parameters
            declared = next(p.type for p in target.decl.params if p.name == name)
            _check_tuple(analysis, arg, actual, declared, f"`{sub.module}` parameter `{name}` is {{type}}, got a value that {{got}}")
            continue
        accepted = {"int": {"int"}, "float": {"int", "float"}, "bool": {"bool"}, "str": {"str"}}[expected.__name__]
        wrong = sorted(actual.kinds - accepted)
        if wrong:
            article = "an" if expected is int else "a"
            analysis.report("E023", arg, f"`{sub.module}` parameter `{name}` is "
                                              f"{expected.__name__}, got {_kind_text(wrong[0])}",
                                              f"pass {article} {expected.__name__}")


def _check_dimension_arguments(analysis: Analysis, module: str, target: n.ModuleDef, given: list) -> None:
    """Constant values (literals, and arithmetic on them) for `int` parameters that size dimensions
    (a default, or a submodule's argument)."""
    sizes = {p.name for p in dimension_params(analysis, target)}
    for name, arg in given:
        value = evaluate(arg)
        if name in sizes and isinstance(value, int) and not isinstance(value, bool) and value < 1:
            analysis.report("E023", arg, f"`{module}` parameter `{name}` sizes a "
                                              f"dimension; {value} is not a size", "give an int of 1 or more")


def _param_types(info: ModuleInfo) -> dict[str, type | None]:
    if info.builtin is not None:
        return {p.name: {"float": float, "int": int, "bool": bool}.get(p.type) for p in info.builtin.params}
    assert info.decl is not None  # a module is built in or declared
    return {p.name: static_python_type(p.type) for p in info.decl.params}


def shape_text(t: TensorT) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in t.shape or ()) + "]"
