"""Expression typing: each expression's type (dtype, shape, a Python value's value), recorded in
`Analysis.types`. Names read the method's `Scope`; operators, indexing, op calls and method calls are
typed by their own modules once their operands are typed here."""

from __future__ import annotations

from .. import nodes as n
from ..analysis import Analysis, ModuleInfo
from ..declarations import declared_type
from ..ops import ARRAY_POP
from ..ops.names import VARIABLE_UPDATES
from ..ops.operators import type_operator
from ..tensor_types import (DIM_OPERATORS, FLOATS, INTS, NO_VALUE, UNKNOWN, ArrayT, Dim, OtherT, OutputsT, TensorT, Type,
                            dim_binary, held_size, literal_type, same_type, substitute, unify_dtype)
from ..visitor import CALL_KINDS, EXPRESSIONS, NodeVisitor
from ..members import Member, member_type
from .gradients import TensorList, apply_type, gradient_type, sources_type
from .indexing import output_attribute, output_item, subscript_type
from .method_calls import Arguments, bind_call, infer_sizes, method_call_type, sub_params
from ..precision import POLICY_PARAM, cast_argument, casts_inputs, computed_result, declared_policy, sub_policy
from .specialize import folded_comparison, refine_call, static_value, sub_values
from .op_calls import op_call_type
from .value_checks import check_condition, check_fits, is_python_condition, require_int
from .scope import Scope


class ExpressionTyping(NodeVisitor):
    """Types the expressions of one method body, reading and (for typed lists) refining its scope."""

    FAMILIES = {"expr_": EXPRESSIONS, "call_": CALL_KINDS}

    def __init__(self, analysis: Analysis, info: ModuleInfo, scope: Scope):
        self.analysis = analysis
        self.info = info
        self.scope = scope
        self.report = analysis.report
        # Set when a body is typed for one call (dsl/inference/specialize.py): this instance's parameter
        # values, and its int parameters as sizes (None where unknown).
        self.param_values: dict[str, object] = {}
        self.param_dims: dict[str, int | None] | None = None

    def expr(self, node: n.Node) -> Type:
        result = self.dispatch("expr_", type(node), node)
        self.analysis.types[node] = result
        return result

    def expr_Name(self, node: n.Name) -> Type:
        ref = self.analysis.refs.get(node)
        kind = ref.kind if ref else None
        if kind == "dtype":
            return OtherT("dtype", node.id)
        if kind in ("static_param", "tensor_param", "variable"):
            assert ref is not None and isinstance(ref.decl, (n.ModuleParam, n.VarDecl))
            if self.param_dims is not None:
                return self._for_this_instance(node.id, kind, declared_type(ref.decl.type))
            declared = declared_type(ref.decl.type)
            if kind == "static_param" and declared.dtype in INTS and declared.shape == ():
                return TensorT(declared.dtype, (), weak=True, sizes=(node.id,))  # `k` is the size `k`
            return declared
        partial = self.scope.partial
        if node.id in partial:
            where, stmt = partial[node.id]
            hint = ("give it a value before the `if` or loop, so every path defines it" if where != "a graph loop"
                    else f"the loop may run zero times: give `{node.id}` a value before it (a `range` of "
                         "literal bounds is known to run, and its values need no such start)")
            self.report("E047", node, f"`{node.id}` is defined only in {where} (line {stmt.span.line})", hint)
            partial.pop(node.id)
        elif kind in ("local", "array", "tape") and node.id not in self.scope.env:
            self.used_before_assignment(node, node.id)
        return self.scope.env.get(node.id, UNKNOWN)

    def used_before_assignment(self, node: n.Node, name: str) -> None:
        self.report("E010", node, f"`{name}` is used before it is assigned", f"assign `{name}` first")
        self.scope.env[name] = UNKNOWN  # once is enough

    def expr_IntLit(self, node: n.IntLit) -> Type:
        return literal_type(node.value)

    expr_FloatLit = expr_StringLit = expr_BoolLit = expr_IntLit

    def expr_ListLit(self, node: n.ListLit) -> Type:
        items = [self.expr(i) for i in node.items]
        tensors = [i for i in items if isinstance(i, TensorT)]
        if not items:
            return TensorT("f32", (0,), weak=True, value=())  # TensorFlow's dtype for an empty list
        if len(tensors) != len(items):
            return TensorT(None, (len(items),))
        result = tensors[0]
        for item, item_node in zip(tensors[1:], node.items[1:]):
            dtype, problem = unify_dtype(result, item)
            if problem:
                self.report("E040", item_node, f"list items mix {problem}", "cast the items to one dtype")
                return UNKNOWN
            result = TensorT(dtype, result.shape if result.shape == item.shape else None,
                             result.weak and item.weak)
        inner = result.shape
        values = tuple(t.value for t in tensors)
        known = result.weak and all(v is not None for v in values)
        return TensorT(result.dtype, None if inner is None else (len(items), *inner), weak=result.weak,
                       value=values if known else None)

    def expr_IfExp(self, node: n.IfExp) -> Type:
        """`a if c else b`: c a scalar bool (or a Python value); a and b of one dtype (tf.cond's
        branches), the shape where they agree."""
        test = self.expr(node.test)
        if isinstance(test, TensorT) and test.dtype == "bool" and test.rank not in (None, 0):
            self.report("E045", node.test, f"`if` condition is {test}, not a scalar",
                        "for an elementwise choice write `where(cond, a, b)`")
        elif not is_python_condition(test):
            check_condition(self.report, test, node.test, "if")
        body, orelse = self.expr(node.body), self.expr(node.orelse)
        if not (isinstance(body, TensorT) and isinstance(orelse, TensorT)):
            return body if same_type(body, orelse) else UNKNOWN
        dtype, problem = unify_dtype(body, orelse)
        if problem:
            self.report("E046", node, f"the two values of `... if ... else ...` are {body} and {orelse}",
                        "cast one to the other's dtype")
            return UNKNOWN
        if body.shape is None or orelse.shape is None or len(body.shape) != len(orelse.shape):
            return TensorT(dtype, None, weak=body.weak and orelse.weak)
        shape = tuple(a if a == b else None for a, b in zip(body.shape, orelse.shape))
        return TensorT(dtype, shape, weak=body.weak and orelse.weak)

    # operators (typed through their registry entries: dsl/ops/operators.py) --------------------

    def expr_BinOp(self, node: n.BinOp) -> Type:
        left, right = self.expr(node.left), self.expr(node.right)
        result = type_operator(node.op, (left, right), node, self.report)
        if node.op in DIM_OPERATORS and isinstance(result, TensorT) and result.shape == () and result.dtype in INTS:
            size = dim_binary(node.op, held_size(left), held_size(right))
            if size is not None:  # sizes combine as dims: `shape(x)[1] // 2` holds `T // 2`
                return TensorT(result.dtype, (), result.weak, result.value, sizes=(size,))
        return result

    def expr_Compare(self, node: n.Compare) -> Type:
        left, right = self.expr(node.left), self.expr(node.right)
        result = type_operator(node.op, (left, right), node, self.report)
        if self.param_dims is not None and isinstance(result, TensorT):  # a body typed for one call:
            return folded_comparison(node.op, left, right) or result  # `if strides > 0` is decided
        return result

    def expr_BoolOp(self, node: n.BoolOp) -> Type:
        return type_operator(node.op, tuple(self.expr(v) for v in node.values), node, self.report)

    def expr_UnaryOp(self, node: n.UnaryOp) -> Type:
        if node.op == "-" and isinstance(node.operand, n.IntLit):  # -9223372036854775808: 2**63 alone is no i64
            return literal_type(-node.operand.value)
        return type_operator(node.op, (self.expr(node.operand),), node, self.report)

    # indexing (dsl/inference/indexing.py) -----------------------------------------------------

    def expr_Subscript(self, node: n.Subscript) -> Type:
        value = self.expr(node.value)
        if isinstance(value, OutputsT):  # `out[0]`, `out["mean"]`: one of a method's several outputs
            for item in node.items:
                if not isinstance(item, (n.Slice, n.NewAxis, n.EllipsisItem)):
                    self.expr(item)
            return output_item(self.report, self.analysis.types, node, value)
        for item in node.items:
            self.index_item(item)
        if isinstance(value, TensorList):
            return self.list_item(node, value)
        return subscript_type(self.report, self.analysis.types, node, value)

    def index_item(self, item: n.Node) -> None:
        """Type one index item (an index, a slice's bounds): each an integer scalar."""
        if isinstance(item, n.Slice):
            for part in (item.lower, item.upper, item.step):
                if part is not None:
                    require_int(self.report, self.expr(part), part)
        elif not isinstance(item, (n.NewAxis, n.EllipsisItem)):
            require_int(self.report, self.expr(item), item)

    def list_item(self, node: n.Subscript, value: TensorList) -> Type:
        """`grads[0]`: one gradient of a list, at an integer known when the method is traced."""
        index = self.analysis.types.get(node.items[0]) if len(node.items) == 1 else None
        at = index.value if isinstance(index, TensorT) and index.weak and isinstance(index.value, int) else None
        if at is None:
            self.report("E044", node, f"{value} is indexed by one integer literal or `int` parameter, `grads[0]`",
                        "each item may have its own type, so the index must be known when the method is traced")
            return UNKNOWN
        if value.items is None:
            return UNKNOWN
        if not -len(value.items) <= at < len(value.items):
            self.report("E044", node.items[0], f"index {at} is out of range for {value}",
                        f"it holds {len(value.items)} item{'s' if len(value.items) != 1 else ''}")
            return UNKNOWN
        return value.items[at]

    def expr_Attribute(self, node: n.Attribute) -> Type:
        """A member of a submodule (`dense.kernel`), typed as inside the submodule (dsl.members), or one of
        a method's several outputs held by a local (`out.mean`)."""
        ref = self.analysis.refs.get(node)
        if ref is not None and isinstance(ref.decl, Member):
            return member_type(self.analysis, self.info, ref.decl)
        if self.analysis.refs.get(node.value) is None:  # the checker reported it
            return UNKNOWN
        return output_attribute(self.report, node, self.expr(node.value))

    # calls: dispatched on how the checker resolved them (CallInfo.kind) ---------------------------

    def expr_Call(self, node: n.Call) -> Type:
        info = self.analysis.calls.get(node)
        if info is None:
            for arg in (*node.args, *(k.value for k in node.keywords)):
                self.expr(arg)
            return UNKNOWN
        return self.dispatch("call_", info.kind, node, info)

    def arg_types(self, node: n.Call) -> Arguments:
        positional = [self.expr(a) for a in node.args]
        keywords = {k.name: self.expr(k.value) for k in node.keywords}
        return positional, keywords

    def call_op(self, node: n.Call, info) -> Type:
        positional, keywords = self.arg_types(node)
        return op_call_type(self.report, self.analysis, self.info.params, node, info.op, positional, keywords)

    def call_initializer(self, node: n.Call, info) -> Type:
        return UNKNOWN

    def call_self_method(self, node: n.Call, info) -> Type:
        params: dict[str, Dim] = dict(self.param_dims) if self.param_dims is not None else {}
        result = method_call_type(self.report, self.analysis, node, self.info, info.method, params, self.arg_types(node))
        return refine_call(self, node, self.info, info.method, params, self.param_values, result)

    def call_local_function(self, node: n.Call, info) -> Type:
        ref = self.analysis.refs.get(node.func)
        assert ref is not None and isinstance(ref.decl, n.Method)  # the checker records the function called
        result, problems = bind_call(node, self.info, ref.decl, {}, self.arg_types(node))
        problems.report_to(self.report)
        return result

    def call_regularization_losses(self, node: n.Call, info) -> Type:
        return TensorT("f32", ())  # the penalties' sum (dsl/regularizers.py)

    def call_sub_method(self, node: n.Call, info) -> Type:
        sub = self.info.submodules[info.receiver]
        target = self.analysis.modules[sub.module]
        params = sub_params(self.analysis, self.info, sub, target)
        if self.param_dims is not None:
            dims = self.param_dims
            params = {name: substitute(dim, lambda p: dims.get(p)) for name, dim in params.items()}
        policy = self.sub_policy(sub, target)
        positional, keywords = self.arg_types(node)
        casts = casts_inputs(policy, target.decl)
        arguments = ([cast_argument(t, casts) for t in positional], {k: cast_argument(t, casts) for k, t in keywords.items()})
        if self.param_dims is None:  # the program's own analysis, not a call typed for one instance
            infer_sizes(self.analysis, sub, target, info.method, arguments)
            params = sub_params(self.analysis, self.info, sub, target)
        result = method_call_type(self.report, self.analysis, node, target, info.method, params, arguments)
        values = sub_values(self.analysis, sub, target, self.param_values)
        if policy is not None:
            values[POLICY_PARAM] = policy  # a policy the holder passes down (dsl/precision.py)
        method = next((m for m in target.decl.methods if m.name == info.method), None) if target.decl else None
        return computed_result(refine_call(self, node, target, info.method, params, values, result), policy, method)

    def sub_policy(self, sub: n.SubDecl, target: ModuleInfo) -> str | None:
        """The dtype policy `sub` is built with, as far as the check knows it (dsl/precision.py)."""
        holder = self.param_values.get(POLICY_PARAM)
        holder_policy = holder if isinstance(holder, str) else declared_policy(self.info.decl)
        given = self.analysis.sub_arguments.get(sub, {}).get(POLICY_PARAM)
        return sub_policy(given, holder_policy, target.decl, self.param_values)

    def _for_this_instance(self, name: str, kind: str, declared: TensorT) -> TensorT:
        """A parameter or variable in a body typed for one call: its value and sizes as this instance has them."""
        dims = self.param_dims or {}
        if kind == "static_param":
            return static_value(self.param_values.get(name)) or declared
        if declared.shape is None:
            return declared
        return TensorT(declared.dtype, tuple(substitute(d, lambda p: dims.get(p)) for d in declared.shape))

    def call_value_method(self, node: n.Call, info) -> Type:
        func = node.func
        assert isinstance(func, n.Attribute)  # a value method is called as `receiver.method(...)`
        receiver = self.expr(func.value)
        positional, _ = self.arg_types(node)
        ref = self.analysis.refs.get(func.value)
        if ref is not None and ref.kind == "variable":
            assert isinstance(ref.decl, n.VarDecl)  # the checker pairs each kind with its declaration
            target = declared_type(ref.decl.type)
            if info.method in VARIABLE_UPDATES and positional:
                check_fits(self.report, positional[0], target, node.args[0], f"variable `{ref.decl.name}` is {target}")
            return target
        if ref is not None and isinstance(ref.decl, Member) and isinstance(receiver, TensorT):
            if info.method in VARIABLE_UPDATES and positional:
                check_fits(self.report, positional[0], receiver, node.args[0], f"`{ref.decl.dotted}` is {receiver}")
            return receiver
        if info.method == "watch":
            return NO_VALUE
        if isinstance(receiver, ArrayT):
            element = receiver.element
            if info.method == "read":
                return element
            if info.method == "size":
                return TensorT("i32", ())
            if info.method in ("stack", "concat", "gather"):
                rest = element.shape if element.shape is not None else None
                if info.method == "concat" and rest:
                    return TensorT(element.dtype, (None, *rest[1:]))
                return TensorT(element.dtype, None if rest is None else (None, *rest))
        return UNKNOWN

    def call_array_update(self, node: n.Call, info) -> Type:
        receiver = self.scope.env.get(info.receiver)
        if info.method == ARRAY_POP:  # the last element
            return receiver.element if isinstance(receiver, ArrayT) and receiver.element.dtype is not None else UNKNOWN
        positional, _ = self.arg_types(node)
        if isinstance(receiver, ArrayT) and positional:
            value = positional[-1]
            element = receiver.element
            if element.dtype is None and isinstance(value, TensorT):
                self.scope.env[info.receiver] = ArrayT(TensorT(value.dtype, value.shape))
            else:
                check_fits(self.report, value, element, node.args[-1], f"`{info.receiver}` holds {element}")
            if info.method == "write":
                require_int(self.report, positional[0], node.args[0])
        return NO_VALUE

    def call_tape_gradient(self, node: n.Call, info) -> Type:
        return gradient_type(self.report, self, node)

    def call_optimizer_apply(self, node: n.Call, info) -> Type:
        return apply_type(self.report, self, node)

    def call_optimizer_minimize(self, node: n.Call, info) -> Type:
        positional = [self.expr(a) for a in node.args]
        for keyword in node.keywords:
            sources_type(self, keyword.value)
        if positional and isinstance(positional[0], TensorT):
            loss = positional[0]
            if loss.dtype is not None and loss.dtype not in FLOATS:
                self.report("E051", node.args[0], f"the loss is {loss}; gradients need a floating-point loss",
                            "cast it: cast(loss, f32)")
        return NO_VALUE
