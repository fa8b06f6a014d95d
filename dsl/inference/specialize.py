"""Calls typed from the callee's body (issue 22, shapes through composition): where a method's declared
result leaves a size unknown (`Conv2D.call -> f32[N, ?, ?, filters]`), the callee's body is typed
again at this call's argument types and with the submodule's parameters as this caller gives them
(`Conv2D(1, 8, 3, padding="SAME")`), so the sizes its ops compute (a convolution's output size)
reach the caller. The body is typed in a shadow of the analysis: its types, choices and diagnostics
are thrown away (the callee's own check reports its problems once), only the result is kept, and
only where the declared result was unknown and the body gives a number or the caller's own dims.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import nodes as n
from ..analysis import Analysis, ModuleInfo
from ..declarations import declared_type, signature_type
from ..diagnostics import Diagnostic
from ..folding import UNKNOWN_VALUE, FoldError, evaluate, fold_compare
from ..ops import static_tuple_length, static_tuple_value
from ..tensor_types import Dim, DimExpr, OutputsT, TensorT, Type, literal_type, substitute

if TYPE_CHECKING:
    from .expressions import ExpressionTyping

MAX_DEPTH = 4  # a layer inside a block inside a model: deep enough, and bounded work per call
_depth = [0]
# Bodies typed for calls, by method, input types and parameters: a method called many times is typed
# once per distinct call, not once per path to it. Kept for one program at a time (its `calls` table,
# which every shadow shares, says which: held here, so its identity cannot be reused meanwhile).
_typed: dict[tuple, tuple[Type | None, Diagnostic | None]] = {}
_typed_for: list[object] = [None]


def refine_call(typing: ExpressionTyping, node: n.Call, owner: ModuleInfo, name: str, params: dict[str, Dim],
                values: dict[str, object], result: Type) -> Type:
    """`result` (the call's type from the callee's signature) with the sizes it leaves unknown taken
    from the callee's body typed at this call; `params` are the callee's int parameters as dims,
    `values` every parameter's construction-time value where known."""
    if not _has_unknown(result) or _depth[0] >= MAX_DEPTH:
        return result
    method = _called(typing.analysis, owner, node, name)
    if method is None or owner.decl is None:
        return result
    inputs = _input_types(typing.analysis, method, node, params)
    if inputs is None:
        return result
    if _typed_for[0] is not typing.analysis.calls:
        _typed.clear()
        _typed_for[0] = typing.analysis.calls
    key = (id(method), tuple(inputs.items()), tuple(params.items()), repr(sorted(values.items())))
    _depth[0] += 1
    try:
        if key not in _typed:
            _typed[key] = _body_result(typing.analysis, owner, method, inputs, params, values)
        found, problem = _typed[key]
    finally:
        _depth[0] -= 1
    if problem is not None and _any_rank(result):
        # A result declared of any rank (`-> f32`: Reshape) is all this typing: its errors are the call's.
        shown = ", ".join(str(t) for t in inputs.values()).replace(_MARK, "")
        typing.report(problem.code, node, f"`{owner.name}.{method.name}` called with {shown}: {problem.message}",
                      problem.hint)
    return result if found is None else _merged(result, found)


def _any_rank(result: Type) -> bool:
    return isinstance(result, TensorT) and result.shape is None


def sub_values(analysis: Analysis, sub: n.SubDecl, target: ModuleInfo, env: dict[str, object]) -> dict[str, object]:
    """The construction-time value of each of the submodule's parameters (`padding="SAME"`, `strides=2`):
    its argument or its default, folded with the holder's known parameter values `env`."""
    given = analysis.sub_arguments.get(sub, {})
    values: dict[str, object] = {}
    for param in target.decl.params if target.decl is not None else ():
        arg = given.get(param.name)
        value = evaluate(arg, env) if arg is not None else (
            evaluate(param.default) if param.default is not None else UNKNOWN_VALUE)
        length = static_tuple_length(param.type)
        if value is not UNKNOWN_VALUE:
            values[param.name] = value if length is None else static_tuple_value(value, length)
    return values


def _has_unknown(result: Type) -> bool:
    if isinstance(result, OutputsT):
        return any(_has_unknown(t) for _, t in result.outputs)
    return isinstance(result, TensorT) and (result.shape is None or any(d is None for d in result.shape))


def _called(analysis: Analysis, owner: ModuleInfo, node: n.Call, name: str) -> n.Method | None:
    signatures = owner.signatures_of(name)
    chosen = analysis.chosen_signatures.get(node) or (signatures[0] if len(signatures) == 1 else None)
    return owner.methods.get(chosen) if chosen is not None else None


def _input_types(analysis: Analysis, method: n.Method, node: n.Call, params: dict[str, Dim]) -> dict[str, Type] | None:
    """Each input's type at this call: the argument's sizes where known, else the declared size at the
    callee's parameters (a number, or unknown: no name of the caller's leaks into the callee)."""
    given = dict(zip((i.name for i in method.inputs), node.args)) | {k.name: k.value for k in node.keywords}
    types: dict[str, Type] = {}
    for inp in method.inputs:
        declared = declared_type(signature_type(inp.type))
        arg = analysis.types.get(given[inp.name]) if inp.name in given else None
        if declared.shape is None and isinstance(arg, TensorT) and arg.shape is not None \
                and any(d.kind == "rest" for d in signature_type(inp.type).shape or ()):
            types[inp.name] = TensorT(declared.dtype, tuple(_marked(got) for got in arg.shape))  # `x: f32[N, ...]`
            continue
        if not isinstance(arg, TensorT) or arg.shape is None or declared.shape is None \
                or len(arg.shape) != len(declared.shape):
            return None  # the signature's check reports it; nothing to refine
        shape = tuple(_marked(got) if got is not None else _number(substitute(want, lambda p: params.get(p)))
                      for got, want in zip(arg.shape, declared.shape))
        types[inp.name] = TensorT(declared.dtype, shape)
    return types


def _number(dim: Dim) -> int | None:
    return dim if isinstance(dim, int) else None


# A caller's named dim (`T`) enters the callee's body marked, so it cannot meet a name of the callee's own
# (its `T` is another size); the marker is no name a program can write, and is removed from the result.
_MARK = "@caller:"


def _marked(dim: Dim) -> Dim:
    return substitute(dim, lambda name: _MARK + name)


def _unmarked(dim: Dim) -> Dim:
    """A size the body computed, as the caller writes it: a number, or the caller's names (else unknown)."""
    if isinstance(dim, str):
        return dim.removeprefix(_MARK) if dim.startswith(_MARK) else None
    return substitute(dim, _unmarked) if isinstance(dim, DimExpr) else dim


def _body_result(analysis: Analysis, owner: ModuleInfo, method: n.Method, inputs: dict[str, Type],
                 params: dict[str, Dim], values: dict[str, object]) -> tuple[Type | None, Diagnostic | None]:
    """The type the body returns, typed in a shadow analysis that keeps nothing but its first error."""
    from .flow import MethodInference

    shadow = analysis.shadow()
    inference = MethodInference(shadow, owner, method)
    inference.scope.env.update(inputs)
    inference.typing.param_values = values
    inference.typing.param_dims = {name: _number(dim) for name, dim in params.items()}
    inference.run()
    live = [stmt for stmt in _live_returns(method.body, shadow.types) if stmt.values]
    returned = [shadow.types.get(stmt.values[0]) if len(stmt.values) == 1 else
                OutputsT(tuple((o.name, t) for o, t in zip(_outputs(method), (shadow.types.get(v) for v in stmt.values))
                               if isinstance(t, TensorT)))
                for stmt in live]
    results = [r for r in returned if isinstance(r, (TensorT, OutputsT))]
    problem = next((d for d in shadow.diagnostics if d.severity == "error"), None)
    if not results or len(results) < len(returned):
        return None, problem
    return (results[0] if all(r == results[0] for r in results) else None), problem


def _live_returns(body: tuple, types: dict) -> list[n.Return]:
    """The `return`s that can run: not in a branch an `if` on known Python values decided away
    (`if strides > 0:` at strides=-1)."""
    found: list[n.Return] = []
    for stmt in body:
        if isinstance(stmt, n.Return):
            found.append(stmt)
        elif isinstance(stmt, n.If):
            test = types.get(stmt.test)
            decided = isinstance(test, TensorT) and test.weak and test.value is not None
            branches = ((stmt.body if test.value else stmt.orelse),) if decided and isinstance(test, TensorT) \
                else (stmt.body, stmt.orelse)
            for branch in branches:
                found += _live_returns(branch, types)
        elif isinstance(stmt, (n.For, n.While, n.With)):
            found += _live_returns(stmt.body, types)
    return found


def _outputs(method: n.Method) -> tuple[n.NamedOutput, ...]:
    return method.returns if isinstance(method.returns, tuple) else ()


def _merged(declared: Type, found: Type) -> Type:
    """The declared result, each unknown size replaced by the size the body computes."""
    if isinstance(declared, OutputsT) and isinstance(found, OutputsT) and declared.names == found.names:
        return OutputsT(tuple((name, _merged_tensor(a, b)) for (name, a), (_, b) in zip(declared.outputs, found.outputs)))
    if isinstance(declared, TensorT) and isinstance(found, TensorT):
        return _merged_tensor(declared, found)
    return declared


def _merged_tensor(declared: TensorT, found: TensorT) -> TensorT:
    if declared.shape is None and found.shape is not None:  # `-> f32`, a rank the call decides (Reshape)
        return TensorT(declared.dtype, tuple(_unmarked(f) for f in found.shape))
    if declared.shape is None or found.shape is None or len(declared.shape) != len(found.shape):
        return declared
    return TensorT(declared.dtype, tuple(d if d is not None else _unmarked(f) for d, f in zip(declared.shape, found.shape)))


def static_value(value: object) -> TensorT | None:
    """A parameter's construction-time value as the weak type a literal of it has (its value kept)."""
    if isinstance(value, (bool, int, float, str)):
        found = literal_type(value)
        return found if found.dtype is not None else None
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return TensorT("i32", (len(value),), weak=True, value=tuple(value))  # a tuple parameter's items
    return None


def folded_comparison(op: str, left: Type, right: Type) -> TensorT | None:
    """A comparison of two known Python values, decided (the weak bool of its result), else None."""
    if not (isinstance(left, TensorT) and isinstance(right, TensorT) and left.weak and right.weak
            and left.value is not None and right.value is not None):
        return None
    try:
        return TensorT("bool", (), weak=True, value=fold_compare(op, left.value, right.value))
    except FoldError:
        return None
