"""Calls of methods (`self`'s own, a submodule's): arguments bound to the method's inputs, its named
dims bound from the arguments' shapes, the output typed with those dims; for a method of several
signatures, the signature the argument types fit. Binding is a function that returns its problems,
so trying a signature reports nothing: the caller decides what counts."""

from __future__ import annotations

from typing import Collection

from .. import nodes as n
from ..analysis import Analysis, ModuleInfo, method_signature, outputs_of
from ..declarations import declared_type, dims_pattern, signature_type
from ..ops import static_tuple_length
from ..diagnostics import Problems, Report
from ..tensor_types import (DIM_OPERATORS, NO_VALUE, UNKNOWN, Dim, DimExpr, OutputsT, TensorT, Type, dim_binary,
                            dims_conflict, substitute, unify_dtype)
from ..precision import policy_hint
from .value_checks import check_fits

Arguments = tuple[list[Type], dict[str, Type]]  # the call's argument types: positional, by keyword
Run = list[tuple[Dim, ...]]  # what `...` stands for in this call, once an argument has bound it


def method_call_type(report: Report, analysis: Analysis, node: n.Call, owner: ModuleInfo, name: str,
                     params: dict[str, Dim], arguments: Arguments) -> Type:
    """The call's type, its arguments checked against the method's signature; for a method of
    several signatures, against each, and the one they fit is the one called (recorded in
    `analysis.chosen_signatures` when the argument types decide it)."""
    signatures = owner.signatures_of(name)
    if len(signatures) == 1:
        result, problems = bind_call(node, owner, owner.methods[signatures[0]], params, arguments)
        problems.report_to(report)
        return result
    fitting: list[tuple[str, Type]] = []
    for signature in signatures:
        result, problems = bind_call(node, owner, owner.methods[signature], params, arguments)
        if not problems:
            fitting.append((signature, result))
    if not fitting:
        listed = "; ".join(method_signature(owner.methods[s]) for s in signatures)
        report("E050", node, f"no signature of `{name}` takes these arguments ({_described(arguments)})",
               f"its signatures: {listed}")
        return UNKNOWN
    if len(fitting) == 1:  # else the argument types do not decide: the generated call picks at trace time
        analysis.chosen_signatures[node] = fitting[0][0]
    results = {result for _, result in fitting}
    return results.pop() if len(results) == 1 else UNKNOWN


def sub_params(analysis: Analysis, caller: ModuleInfo, sub: n.SubDecl, target: ModuleInfo) -> dict[str, Dim]:
    """What the submodule's `int` parameters are, seen from `caller`: numbers or the caller's own
    parameter names (None where neither)."""
    given = analysis.sub_arguments.get(sub, {})
    result: dict[str, Dim] = {}
    assert target.decl is not None  # a module with methods to call is declared, not built in
    for param in target.decl.params:
        arg = given.get(param.name, param.default)
        result[param.name] = None if arg is None else _as_dim(arg, caller)
        length = static_tuple_length(param.type)
        for i in range(length or 0):  # a tuple parameter's items, by the names its dims read them (`k[0]`)
            result[f"{param.name}[{i}]"] = None if arg is None else _item_dim(arg, i, length or 0, caller)
    return result


def _item_dim(arg: n.Node, index: int, length: int, caller: ModuleInfo) -> Dim:
    """Item `index` of a tuple parameter's argument as a dim of the caller: of a tuple written out, an
    int (which stands for every item), or the caller's own tuple parameter of that length."""
    if isinstance(arg, n.ListLit):
        return _as_dim(arg.items[index], caller) if len(arg.items) == length else None
    if isinstance(arg, n.Name) and arg.id in caller.params:
        param = caller.params[arg.id]
        return f"{arg.id}[{index}]" if static_tuple_length(param.type) == length else _as_dim(arg, caller)
    return _as_dim(arg, caller)


def _as_dim(arg: n.Node, caller: ModuleInfo) -> Dim:
    """A submodule argument as a dim of the caller: a number, the caller's parameter, or arithmetic
    of them (`Dense(4 * 4 * g, 10)`), folded; None for anything else."""
    if isinstance(arg, n.IntLit):
        return arg.value
    if isinstance(arg, n.Name):
        return arg.id if arg.id in caller.params else None
    if isinstance(arg, n.BinOp) and arg.op in DIM_OPERATORS:
        dim = dim_binary(arg.op, _as_dim(arg.left, caller), _as_dim(arg.right, caller))
        return None if isinstance(dim, int) and dim < 1 else dim  # no size: reported where it is written
    return None


def bind_call(node: n.Call, owner: ModuleInfo, method: n.Method, params: dict[str, Dim],
              arguments: Arguments) -> tuple[Type, Problems]:
    """(the output's type, the problems binding found) for a call of `method` with these arguments."""
    problems = Problems()
    positional, keywords = arguments
    names = [i.name for i in method.inputs]
    given = dict(zip(names, zip(positional, node.args)))
    given |= {k.name: (keywords[k.name], k.value) for k in node.keywords}
    bindings: dict[str, Dim] = dict(params)
    run: Run = []
    for inp in method.inputs:
        if inp.name in given:
            value, arg = given[inp.name]
            _bind_input(problems, method, inp, value, arg, bindings, params, run)
    for inp in method.inputs:
        if inp.name in given:
            _check_dim_exprs(problems, method, inp, *given[inp.name], bindings)
    outputs = outputs_of(method)
    if not outputs:
        return NO_VALUE, problems
    typed = [(o.name, _output_type(signature_type(o.type), owner, bindings, run)) for o in outputs]
    if isinstance(method.returns, tuple):
        return OutputsT(tuple(typed)), problems
    return typed[0][1], problems


def _output_type(type_: n.TensorType, owner: ModuleInfo, bindings: dict[str, Dim], run: Run) -> TensorT:
    """An output's declared type seen from the caller: its named dims as the arguments bound them,
    the callee's parameters as the caller knows them (unknown where neither), `...` as the dims the
    arguments' `...` stood for (unknown rank if none did)."""
    declared = declared_type(type_)
    pattern = dims_pattern(type_)
    seen = lambda name: bindings.get(name, None if name not in owner.params else name)  # noqa: E731
    if pattern is not None:  # the run is the caller's own dims (its `T`), not names of the callee's
        before, after = (tuple(substitute(d, seen) for d in part) for part in pattern)
        return TensorT(declared.dtype, (*before, *run[0], *after) if run else None)
    if declared.shape is None:
        return TensorT(declared.dtype, None)
    return TensorT(declared.dtype, tuple(substitute(d, seen) for d in declared.shape))


def _aligned(type_: n.TensorType, shape: tuple[Dim, ...]) -> tuple[list[tuple[Dim, Dim]], tuple[Dim, ...] | None] | None:
    """The declared dims paired with an argument's `shape`, and the dims `...` stands for (None
    without `...`); None if the ranks do not fit."""
    pattern = dims_pattern(type_)
    if pattern is None:
        declared = declared_type(type_).shape
        if declared is None or len(declared) != len(shape):
            return None
        return list(zip(declared, shape)), None
    before, after = pattern
    if len(shape) < len(before) + len(after):
        return None
    middle = shape[len(before):len(shape) - len(after)]
    return list(zip(before, shape)) + list(zip(after, shape[len(shape) - len(after):])), middle


def _bind_input(report: Report, method: n.Method, inp: n.MethodInput, value: Type, arg: n.Node,
                bindings: dict[str, Dim], owner_params: Collection[str], run: Run) -> None:
    """Check one argument against its input's declared type, binding the input's named dims (and
    `run`, what `...` stands for)."""
    type_ = signature_type(inp.type)
    expected = declared_type(type_)
    pattern = dims_pattern(type_)
    label = f"input `{inp.name}` of `{method.name}`"
    if not isinstance(value, TensorT):
        check_fits(report, value, expected, arg, f"{label} is {expected}", code="E050")
        return
    if value.dtype and expected.dtype:
        _, problem = unify_dtype(TensorT(expected.dtype, expected.shape), value)
        if problem:
            report("E050", arg, f"{label} is {expected}, got {value}", policy_hint(value, expected))
            return
    if value.shape is None or (expected.shape is None and pattern is None):
        return
    aligned = _aligned(type_, value.shape)
    if aligned is None:
        if pattern is not None:
            report("E050", arg, f"{label} is {_written(expected.dtype, pattern)}, got rank {len(value.shape)} ({value})",
                   f"it takes rank {len(pattern[0]) + len(pattern[1])} or more")
        else:
            report("E050", arg, f"{label} is {expected}, got rank {len(value.shape)} ({value})",
                   "the signature fixes the rank")
        return
    pairs, middle = aligned
    if middle is not None and pattern is not None:
        if run and (len(run[0]) != len(middle) or any(dims_conflict(a, b) for a, b in zip(run[0], middle))):
            report("E050", arg, f"{label} is {_written(expected.dtype, pattern)}, got {value}",
                   f"`...` stands for the same dims in every input: [{_dims_text(run[0])}] here")
            return
        if not run:
            run.append(middle)
    at = lambda d: substitute(d, lambda name: bindings.get(name, name))  # noqa: E731
    dtype, wants = expected.dtype, tuple(want for want, _ in pairs)
    if pattern is None:
        described, shown = str(expected), lambda: str(TensorT(dtype, tuple(at(d) for d in wants)))
    else:
        before, after = pattern
        described = _written(dtype, pattern)
        shown = lambda: _written(dtype, (tuple(at(d) for d in before), tuple(at(d) for d in after)))  # noqa: E731
    for want, got in pairs:
        if isinstance(want, DimExpr):
            continue  # `T - k + 1`: checked once every input has bound its names (_check_dim_exprs)
        if isinstance(want, str):
            bound = bindings.get(want)
            if want in bindings and dims_conflict(bound, got):
                hint = (f"`{want}` is a parameter of the module, {bound} here: build it with {got}, or give it "
                        f"a tensor of that size" if want in owner_params else f"every `{want}` in a signature is the same size")
                report("E050", arg, f"{label} is {shown()} ({described}, with `{want}` = {bound}), got {value}", hint)
            elif got is not None and want not in bindings:
                bindings[want] = got
        elif dims_conflict(want, got):
            report("E050", arg, f"{label} is {described}, got {value}", "the fixed dimensions must match")


def _check_dim_exprs(report: Report, method: n.Method, inp: n.MethodInput, value: Type, arg: n.Node,
                     bindings: dict[str, Dim]) -> None:
    """The input's dims written as expressions (`x: f32[N, 2 * D]`), at the sizes the call bound."""
    type_ = signature_type(inp.type)
    aligned = _aligned(type_, value.shape) if isinstance(value, TensorT) and value.shape is not None else None
    if aligned is None:
        return
    pattern = dims_pattern(type_)
    expected = str(declared_type(type_)) if pattern is None else _written(type_.dtype, pattern)
    for want, got in aligned[0]:
        if not isinstance(want, DimExpr):
            continue
        size = substitute(want, lambda name: bindings.get(name, name))
        solved = _solve(size, got) if isinstance(size, DimExpr) and isinstance(got, int) else None
        if solved is not None and solved[0] in want.names and solved[0] not in bindings:  # the callee's own dim
            name, bound = solved
            if bound is None:
                report("E050", arg, f"input `{inp.name}` of `{method.name}` is {expected}, got {value}",
                       f"no whole `{name}` makes `{size}` equal {got}")
                continue
            bindings[name] = bound
            size = substitute(want, lambda name: bindings.get(name, name))
        if dims_conflict(size, got):
            report("E050", arg, f"input `{inp.name}` of `{method.name}` is {expected}, got {value}",
                   f"`{want}` is {size} for this call")


def _dims_text(dims: tuple[Dim, ...]) -> str:
    return ", ".join("?" if d is None else str(d) for d in dims)


def _written(dtype: str | None, pattern: tuple[tuple[Dim, ...], tuple[Dim, ...]]) -> str:
    """A type with a dims pattern as written: `f32[N, ..., D]`."""
    dims = ", ".join(p for p in (_dims_text(pattern[0]), "...", _dims_text(pattern[1])) if p)
    return f"{dtype or '?'}[{dims}]"


def _solve(dim: DimExpr, size: int) -> tuple[str, int | None] | None:
    """(name, its size) where `dim` is `c * name`, `name + c` or `name - c` and equals `size` (the
    size None if no size of 1 or more fits); None for other forms, which are left unchecked."""
    left, right = dim.left, dim.right
    if dim.op == "*" and isinstance(left, int) and isinstance(right, str) and left > 0:
        return right, size // left if size % left == 0 and size >= left else None
    if dim.op == "+" and isinstance(left, str) and isinstance(right, int):
        return left, size - right if size - right >= 1 else None
    if dim.op == "-" and isinstance(left, str) and isinstance(right, int):
        return left, size + right if size + right >= 1 else None
    return None


def _described(arguments: Arguments) -> str:
    positional, keywords = arguments
    return ", ".join([str(t) for t in positional] + [f"{k}={t}" for k, t in keywords.items()])


def infer_sizes(analysis: Analysis, sub: n.SubDecl, target: ModuleInfo, name: str, arguments: Arguments) -> None:
    """The constructor parameters `sub` leaves to be inferred (`in_dim: int = ?`), from the sizes this call
    of its method `name` gets: the first input dimension the parameter names, read from the argument
    (the signature whose input ranks the arguments have). The value is recorded as `sub`'s argument, so
    every later stage reads it as if written; later calls are then checked against it (E050)."""
    given = analysis.sub_arguments.get(sub)
    if target.decl is None or given is None:
        return
    missing = [p.name for p in target.decl.params if p.inferred and p.name not in given]
    if not missing:
        return
    positional, keywords = arguments
    for signature in target.signatures_of(name):
        method = target.methods[signature]
        by_input = {**dict(zip((i.name for i in method.inputs), positional)), **keywords}
        pairs = [aligned[0] for i in method.inputs
                 if isinstance(value := by_input.get(i.name), TensorT) and value.shape is not None
                 and (aligned := _aligned(signature_type(i.type), value.shape)) is not None]
        if len(pairs) != len(method.inputs):
            continue  # not the signature these arguments take
        for param in missing:
            size = next((s for dims in pairs for d, s in dims
                         if d == param and isinstance(s, int) and not isinstance(s, bool)), None)
            if size is not None:
                given[param] = n.IntLit(span=sub.span, value=size)
        return


def report_uninferred(analysis: Analysis, module: n.ModuleDef) -> None:
    """E020 for a submodule that leaves a size to be inferred which no call of it gave."""
    for sub in module.submodules:
        target = analysis.modules.get(sub.module)
        given = analysis.sub_arguments.get(sub)
        if target is None or target.decl is None or given is None:
            continue
        for param in target.decl.params:
            if param.inferred and param.name not in given:
                analysis.report("E020", sub, f"`{sub.name} = {sub.module}(...)` leaves `{param.name}` to be inferred, "
                                f"but no call of `{sub.name}` gives it a known size",
                                f"pass it (`{param.name}=...`), or call `{sub.name}` with an input of known size")
