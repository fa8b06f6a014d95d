"""Dtype and shape inference over method bodies, and the checks it makes possible.

Runs after the name checker (so every name and call is resolved) and before any TensorFlow import.
It only reports what is surely wrong: an unknown dtype or dim never produces an error. Each
expression's type is kept in `Analysis.types`, keyed by node.
"""

from __future__ import annotations

import math

from . import nodes as n
from .analysis import Analysis, ModuleInfo, method_signature, outputs_of, walk
from .diagnostics import locate_bugs
from .limits import over_limit
from .declarations import check_declarations, declared_type, shape_text
from .ops import (ARRAY_POP, CONVERTED_ALONE, DTYPES, KERNEL_DTYPES, OPERATOR_OPS, OPS, RANKS, SHARED_DTYPE,
                  TENSOR_ONLY, TYPE_RULES, Op)
from .tensor_types import (FLOATS, INTS, NO_VALUE, UNKNOWN, ArrayT, Dim, OtherT, TensorT, Type, broadcast_dims,
                           dims_conflict, join, literal_type, same_type, unify_dtype)
from .folding import UNKNOWN_VALUE, FoldError, evaluate, fold_binary, fold_compare, fold_unary
from .nn_rules import NN_RULES
from .shape_rules import RULES as _SHAPE_RULES, RuleContext, negative_int_power

RULES = {**_SHAPE_RULES, **NN_RULES}
from .static_args import check_static_args
from .visitor import CALL_KINDS, EXPRESSIONS, STATEMENTS, NodeVisitor


def infer(analysis: Analysis) -> None:
    """Infer types in every user and library module; add diagnostics to `analysis`. The declared type
    of every parameter, variable, input and output is recorded too (keyed by its type node), so the
    generator and the exporter read types from the analysis instead of from syntax."""
    for module in (*analysis.library, *analysis.program.modules):
        info = analysis.modules[module.name]
        _record_declared_types(analysis, module)
        check_declarations(analysis, info)
        for method in module.methods:
            with analysis.checking_signature(method, info):
                _MethodInference(analysis, info, method).run()


def _record_declared_types(analysis: Analysis, module: n.ModuleDef) -> None:
    declared = [p.type for p in module.params] + [v.type for v in module.variables]
    for method in module.methods:
        declared += [i.type for i in method.inputs] + [o.type for o in outputs_of(method)]
    for type_ in declared:
        if isinstance(type_, n.TensorType):
            analysis.types[type_] = declared_type(type_)


class _MethodInference(NodeVisitor):
    """Walks one method body in order, tracking each local's type through branches and loops."""

    FAMILIES = {"stmt_": STATEMENTS, "expr_": EXPRESSIONS, "call_": CALL_KINDS}

    def __init__(self, analysis: Analysis, info: ModuleInfo, method: n.Method):
        self.analysis = analysis
        self.info = info
        self.method = method
        self.env: dict[str, Type] = {i.name: declared_type(i.type) for i in method.inputs}
        # Names defined only on some paths (one branch of a tensor `if`, inside a graph loop): where.
        self.partial: dict[str, tuple[str, n.Node]] = {}
        # Locals given a type (`v: f32[?] = ...`): every later value must fit it, and it is their type.
        self.declared: dict[str, TensorT] = {}

    def err(self, code: str, node: n.Node, message: str, hint: str | None = None) -> None:
        self.analysis.report(code, node, message, hint)

    def run(self) -> None:
        self.block(self.method.body)

    # statements -------------------------------------------------------------------------------

    def block(self, body: tuple) -> None:
        for stmt in body:
            with locate_bugs(stmt):
                self.dispatch("stmt_", type(stmt), stmt)

    def bind(self, name: str, value: Type, node: n.Node) -> None:
        self.env[name] = value
        self.partial.pop(name, None)

    def stmt_Assign(self, stmt: n.Assign) -> None:
        if isinstance(stmt.declared, n.ListType):
            self.bind(stmt.target, ArrayT(declared_type(stmt.declared.element)), stmt)
            return
        value = self.expr(stmt.value)
        if stmt.declared is not None and isinstance(value, TensorT):
            declared = declared_type(stmt.declared)
            self._check_fits(value, declared, stmt.value, f"`{stmt.target}` is declared {declared}")
            self.declared[stmt.target] = declared
            value = declared  # the declaration is the local's type: `v: f32[?]` may grow in a loop
        elif stmt.target in self.declared and isinstance(value, TensorT):
            declared = self.declared[stmt.target]
            self._check_fits(value, declared, stmt.value, f"`{stmt.target}` is declared {declared}")
            value = declared
        if isinstance(value, TensorT) and value.weak:
            value = TensorT(value.dtype, value.shape)  # the generator makes it a tensor of this dtype
        self.bind(stmt.target, value, stmt)

    def stmt_ItemAssign(self, stmt: n.ItemAssign) -> None:
        array = self.expr(stmt.target.value)
        for item in stmt.target.items:
            self._index_item(item)
        value = self.expr(stmt.value)
        if isinstance(array, ArrayT):
            self._check_fits(value, array.element, stmt.value, f"elements of `{stmt.target.value.id}` are "
                                                               f"{array.element}")

    def stmt_AugAssign(self, stmt: n.AugAssign) -> None:
        ref = self.analysis.refs.get(stmt)
        value = self.expr(stmt.value)
        if ref is not None and ref.kind == "variable":
            target = declared_type(ref.decl.type)
            self._check_fits(value, target, stmt.value, f"variable `{stmt.target}` is {target}")
            return
        if stmt.target not in self.env and stmt.target not in self.partial:
            self._used_before_assignment(stmt, stmt.target)
        current = self.env.get(stmt.target, UNKNOWN)
        result = self._arith(stmt, stmt.op, current, value)
        self._check_loop_stable(stmt.target, current, result, stmt)
        self.bind(stmt.target, result, stmt)

    def stmt_Return(self, stmt: n.Return) -> None:
        outputs = outputs_of(self.method)
        for value_node, output in zip(stmt.values, outputs):
            value = self.expr(value_node)
            self._check_fits(value, declared_type(output.type), value_node,
                             f"output `{output.name}` is declared {declared_type(output.type)}", code="E032")
        for value_node in stmt.values[len(outputs):]:
            self.expr(value_node)

    def stmt_ExprStmt(self, stmt: n.ExprStmt) -> None:
        self.expr(stmt.expr)

    def stmt_Pass(self, stmt) -> None:
        pass

    stmt_Break = stmt_Continue = stmt_Pass

    def stmt_If(self, stmt: n.If) -> None:
        test = self.expr(stmt.test)
        if _is_python_condition(test):
            self._python_if(stmt, test)
            return
        self._check_condition(test, stmt.test, "if")
        before = dict(self.env)
        self.block(stmt.body)
        after_body = self.env
        self.env = dict(before)
        self.block(stmt.orelse)
        self.env = self._merge_branches(stmt, before, after_body, self.env)

    def _python_if(self, stmt: n.If, test: TensorT) -> None:
        """A condition on Python values is decided at trace time: only one branch becomes graph code.
        When the value is known the other branch is dead; else a name typed differently by the two
        branches is left unknown (either may run), never an error."""
        before = dict(self.env)
        self.block(stmt.body)
        after_body = self.env
        self.env = dict(before)
        self.block(stmt.orelse)
        if test.value is not None:
            self.env = after_body if test.value else self.env
            return
        merged = dict(before)
        for name in sorted(set(after_body) | set(self.env)):
            a, b = after_body.get(name), self.env.get(name)
            if a is None or b is None:
                merged[name] = a if b is None else b
                self.partial[name] = ("one branch of an `if` on a constructor parameter", stmt)
            else:
                merged[name] = join(a, b) if same_type(a, b) else UNKNOWN
        self.env = merged

    def _merge_branches(self, stmt: n.If, before: dict, left: dict, right: dict) -> dict:
        merged = dict(before)
        for name in sorted(set(left) | set(right)):
            a, b = left.get(name), right.get(name)
            if a is not None and b is not None:
                if not same_type(a, b) and (left.get(name) is not before.get(name) or
                                            right.get(name) is not before.get(name)):
                    self.err("E046", stmt, f"`{name}` is {a} in one branch and {b} in the other",
                             "AutoGraph turns an `if` on a tensor into tf.cond, whose branches must give a "
                             "value of the same dtype and shape; cast or reshape one branch")
                merged[name] = join(a, b)
            else:
                merged[name] = a if a is not None else b
                self.partial[name] = ("one branch of an `if` on a tensor", stmt)
        return merged

    def stmt_For(self, stmt: n.For) -> None:
        over_range = isinstance(stmt.iter, n.Call) and self.analysis.calls.get(stmt.iter) is not None \
            and self.analysis.calls[stmt.iter].op is OPS["range"]
        if over_range:
            for arg in (*stmt.iter.args, *(k.value for k in stmt.iter.keywords)):
                self._check_range_bound(self.expr(arg), arg)
        if stmt.static:
            self.env[stmt.target] = TensorT("i32", (), weak=True)
            self.block(stmt.body)
            return
        self.env[stmt.target] = TensorT("i32", ()) if over_range else self._row_of(stmt.iter)
        self._graph_loop(stmt, stmt.body)

    def _row_of(self, node: n.Node) -> Type:
        """What `for row in x:` binds: x without its first axis (AutoGraph loops over that axis)."""
        value = self.expr(node)
        if not isinstance(value, TensorT):
            if value is not UNKNOWN:
                self.err("E031", node, f"a `for` loop runs over `range(...)` or a tensor's rows, not {value}",
                         "for a typed list, loop over `range(xs.size())` and read `xs.read(i)`")
            return UNKNOWN
        if value.shape == ():
            self.err("E031", node, f"`for` over a scalar ({value}): it has no rows",
                     "loop over `range(n)`, or over a tensor with at least one axis")
            return UNKNOWN
        return TensorT(value.dtype, None if value.shape is None else value.shape[1:])

    def stmt_While(self, stmt: n.While) -> None:
        test = self.expr(stmt.test)
        if not _is_python_condition(test):
            self._check_condition(test, stmt.test, "while")
        self._graph_loop(stmt, stmt.body)
        self.expr(stmt.test)  # names the condition reads must keep their type

    def _check_range_bound(self, bound: Type, node: n.Node) -> None:
        if not isinstance(bound, TensorT) or bound.dtype is None:
            return
        if bound.dtype not in INTS | FLOATS:
            self.err("E023", node, f"a range bound must be a number, got {bound}", "cast it: cast(n, i32)")
        elif bound.rank not in (None, 0):
            self.err("E023", node, f"a range bound must be a scalar, got {bound}",
                     "use one number, e.g. shape(x)[0] for a tensor's length")

    def _graph_loop(self, stmt: n.Node, body: tuple) -> None:
        before = dict(self.env)
        self.block(body)
        self._relaxed_shapes(stmt, body)
        for name, value in list(self.env.items()):
            if name not in before and self._defined_before(stmt, name, value):
                continue  # the loop runs at least once: its value after the loop is the last iteration's
            if name not in before and self._checked_by_autograph(stmt, value):
                continue  # AutoGraph asserts at run time that the loop ran, so the name is defined after it
            if name not in before:
                self.partial[name] = ("a graph loop", stmt)
            else:
                self._check_loop_stable(name, before[name], value, stmt)
                self.env[name] = join(before[name], value) if same_type(before[name], value) else before[name]

    def _checked_by_autograph(self, loop: n.Node, value: Type) -> bool:
        """A tensor first bound in a `while` on a tensor condition: AutoGraph makes it a loop variable
        and asserts at run time that the loop ran at least once."""
        test = self.analysis.types.get(loop.test) if isinstance(loop, n.While) else None
        return isinstance(test, TensorT) and not _is_python_value(test) and isinstance(value, TensorT) \
            and value.dtype is not None

    def _defined_before(self, loop: n.Node, name: str, value: Type) -> bool:
        """A name first bound inside a graph loop can be read after it if the loop provably runs (a
        `range` of literal bounds with at least one step) and its type is fully known: tfm then
        gives it a zero of that type before the loop, which AutoGraph requires of a loop variable."""
        if not (_runs_at_least_once(loop) and isinstance(value, TensorT) and value.dtype is not None
                and value.shape is not None and all(isinstance(d, int) for d in value.shape)):
            return False
        self.analysis.loop_predefined[loop] = (*self.analysis.loop_predefined.get(loop, ()),
                                               (name, value.dtype, tuple(value.shape)))
        return True

    def _relaxed_shapes(self, loop: n.Node, body: tuple) -> None:
        """Declared locals the loop reassigns whose declared shape leaves sizes open: their shape may
        change from one iteration to the next (AutoGraph's shape invariants)."""
        assigned = {s.target for s in walk(body) if isinstance(s, (n.Assign, n.AugAssign))}
        relaxed = []
        for name in sorted(assigned & set(self.declared)):
            shape = self.declared[name].shape
            if shape is not None and any(not isinstance(d, int) for d in shape):
                relaxed.append((name, tuple(d if isinstance(d, int) else None for d in shape)))
        if relaxed:
            self.analysis.loop_invariants[loop] = tuple(relaxed)

    def _check_loop_stable(self, name: str, before: Type, after: Type, node: n.Node) -> None:
        if not same_type(before, after):
            self.err("E048", node, f"`{name}` is {before} before the loop and {after} after an iteration",
                     f"a graph loop keeps each value's dtype and shape: to let a shape change, declare it before "
                     f"the loop with `?` for the sizes that change (`{name}: f32[?] = ...`), or collect values in "
                     f"a typed list (`xs: list[f32[]] = []`)")

    def stmt_With(self, stmt: n.With) -> None:
        if stmt.name is not None:  # a gradient tape; a name scope (no name) is syntax, not a value
            self.expr(stmt.context)
            self.bind(stmt.name, OtherT("tape"), stmt)
        self.block(stmt.body)

    def stmt_Assert(self, stmt: n.Assert) -> None:
        test = self.expr(stmt.test)
        if not _is_python_condition(test):
            self._check_condition(test, stmt.test, "assert")

    def expr_IfExp(self, node: n.IfExp) -> Type:
        """`a if c else b`: c a scalar bool (or a Python value); a and b of one dtype (tf.cond's
        branches), the shape where they agree."""
        test = self.expr(node.test)
        if isinstance(test, TensorT) and test.dtype == "bool" and test.rank not in (None, 0):
            self.err("E045", node.test, f"`if` condition is {test}, not a scalar",
                     "for an elementwise choice write `where(cond, a, b)`")
        elif not _is_python_condition(test):
            self._check_condition(test, node.test, "if")
        body, orelse = self.expr(node.body), self.expr(node.orelse)
        if not (isinstance(body, TensorT) and isinstance(orelse, TensorT)):
            return body if same_type(body, orelse) else UNKNOWN
        dtype, problem = unify_dtype(body, orelse)
        if problem:
            self.err("E046", node, f"the two values of `... if ... else ...` are {body} and {orelse}",
                     "cast one to the other's dtype")
            return UNKNOWN
        if body.shape is None or orelse.shape is None or len(body.shape) != len(orelse.shape):
            return TensorT(dtype, None, weak=body.weak and orelse.weak)
        shape = tuple(a if a == b else None for a, b in zip(body.shape, orelse.shape))
        return TensorT(dtype, shape, weak=body.weak and orelse.weak)

    def _check_condition(self, test: Type, node: n.Node, keyword: str) -> None:
        if not isinstance(test, TensorT) or test.dtype is None:
            return
        if test.dtype != "bool":
            self.err("E045", node, f"`{keyword}` condition is {test}, not a bool",
                     "compare it, e.g. `x > 0.0`, or use reduce_any/reduce_all")
        elif test.rank not in (None, 0):
            self.err("E045", node, f"`{keyword}` condition is {test}, not a scalar",
                     "reduce it to one value with reduce_any(...) or reduce_all(...)")

    def _check_fits(self, value: Type, target: TensorT, node: n.Node, what: str, code: str = "E049") -> None:
        if not isinstance(value, TensorT):
            if isinstance(value, (ArrayT, OtherT)) and value is not NO_VALUE:
                hint = "stack the list with `.stack()`" if isinstance(value, ArrayT) else None
                self.err(code, node, f"{what}, got a {value}", hint)
            elif value is NO_VALUE:
                self.err(code, node, f"{what}, but this has no value")
            return
        if value.dtype and target.dtype:
            _, problem = unify_dtype(TensorT(target.dtype, target.shape), value)
            if problem:
                self.err(code, node, f"{what}, got {value}", f"cast it: cast(..., {target.dtype})")
                return
        if value.shape is None or target.shape is None:
            return
        if len(value.shape) != len(target.shape):
            self.err(code, node, f"{what}, got rank {len(value.shape)} ({value})",
                     "reshape, squeeze or expand_dims to the declared rank")
        elif any(dims_conflict(a, b) for a, b in zip(value.shape, target.shape)):
            self.err(code, node, f"{what}, got {value}", "the fixed dimensions must match")

    # expressions ------------------------------------------------------------------------------

    def expr(self, node: n.Node) -> Type:
        result = self.dispatch("expr_", type(node), node)
        self.analysis.types[node] = result
        return result

    def expr_Name(self, node: n.Name) -> Type:
        ref = self.analysis.refs.get(node)
        kind = ref.kind if ref else None
        if kind == "dtype":
            return OtherT("dtype", node.id)
        if kind == "static_param":
            return declared_type(ref.decl.type)
        if kind in ("tensor_param", "variable"):
            return declared_type(ref.decl.type)
        if node.id in self.partial:
            where, stmt = self.partial[node.id]
            hint = ("give it a value before the `if` or loop, so every path defines it" if where != "a graph loop"
                    else f"the loop may run zero times: give `{node.id}` a value before it (a `range` of "
                         "literal bounds is known to run, and its values need no such start)")
            self.err("E047", node, f"`{node.id}` is defined only in {where} (line {stmt.span.line})", hint)
            self.partial.pop(node.id)
        elif kind in ("local", "array", "tape") and node.id not in self.env:
            self._used_before_assignment(node, node.id)
        return self.env.get(node.id, UNKNOWN)

    def _used_before_assignment(self, node: n.Node, name: str) -> None:
        self.err("E010", node, f"`{name}` is used before it is assigned", f"assign `{name}` first")
        self.env[name] = UNKNOWN  # once is enough

    def expr_IntLit(self, node: n.IntLit) -> Type:
        return literal_type(node.value)

    def expr_FloatLit(self, node: n.FloatLit) -> Type:
        return literal_type(node.value)

    def expr_StringLit(self, node: n.StringLit) -> Type:
        return literal_type(node.value)

    def expr_BoolLit(self, node: n.BoolLit) -> Type:
        return literal_type(node.value)

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
                self.err("E040", item_node, f"list items mix {problem}", "cast the items to one dtype")
                return UNKNOWN
            result = TensorT(dtype, result.shape if result.shape == item.shape else None,
                             result.weak and item.weak)
        inner = result.shape
        values = tuple(t.value for t in tensors)
        known = result.weak and all(v is not None for v in values)
        return TensorT(result.dtype, None if inner is None else (len(items), *inner), weak=result.weak,
                       value=values if known else None)

    def expr_BinOp(self, node: n.BinOp) -> Type:
        left, right = self.expr(node.left), self.expr(node.right)
        if node.op == "@":
            return self._matmul(node, left, right)
        return self._arith(node, node.op, left, right)

    def _arith(self, node: n.Node, op: str, left: Type, right: Type) -> Type:
        if not (isinstance(left, TensorT) and isinstance(right, TensorT)):
            self._not_a_tensor(node, left, right)
            return UNKNOWN
        dtype, problem = unify_dtype(left, right)
        if problem:
            self.err("E040", node, f"`{op}` mixes {problem}",
                     f"TensorFlow does not convert between dtypes; cast one side, e.g. cast(x, {left.dtype or 'f32'})")
            return UNKNOWN
        if dtype == "string" and op != "+":
            self.err("E040", node, f"`{op}` is not defined on strings", "only `+` joins strings")
            return UNKNOWN
        if dtype == "bool" and op in "+-*/%@" and op != "**":
            self.err("E040", node, f"`{op}` is not defined on bool tensors", "cast to a number first")
            return UNKNOWN
        shape = self._broadcast(node, left, right)
        if left.weak and right.weak and shape == ():
            return self._python_arith(node, op, left, right, dtype)
        if not self._operator_has_kernel(node, op, dtype):
            return UNKNOWN
        if op == "**" and negative_int_power(dtype, right):
            self.err("E023", node.right if isinstance(node, n.BinOp) else node, f"an integer to the power {right.value}",
                     "TensorFlow has no negative integer powers: cast to a float first")
            return UNKNOWN
        if op == "/" and dtype in INTS:
            dtype = "f64" if dtype in ("i32", "i64", "u32", "u64") else "f32"
        # A list literal combined with another Python value is a tensor of its own dtype from here on.
        return TensorT(dtype, shape)

    def _python_arith(self, node: n.Node, op: str, left: TensorT, right: TensorT, dtype: str | None) -> Type:
        """Two Python scalars: Python computes the result at trace time, so the checker folds it."""
        if left.value is None or right.value is None:  # a static parameter: known at construction
            return TensorT("f32" if op == "/" else dtype, (), weak=True)
        try:
            return literal_type(fold_binary(op, left.value, right.value))
        except FoldError as exc:
            self.err("E023", node, f"`{op}` of Python values: {exc}", "compute with smaller numbers")
            return UNKNOWN

    def _broadcast(self, node: n.Node, left: TensorT, right: TensorT):
        if left.shape is None or right.shape is None:
            return None
        shape, problem = broadcast_dims(left.shape, right.shape)
        if problem:
            self.err("E041", node, f"shapes {shape_text(left)} and {shape_text(right)} do not broadcast (dims {problem})",
                     "dims must be equal or 1; reshape or expand_dims one side")
        return shape

    def _not_a_tensor(self, node: n.Node, *values: Type) -> None:
        for value in values:
            if isinstance(value, ArrayT):
                self.err("E031", node, f"a {value} is not a tensor", "use `.stack()` to make it one")
                return
            if value is NO_VALUE:
                self.err("E031", node, "this call has no value", "it is a statement of its own")
                return

    def _matmul(self, node: n.Node, left: Type, right: Type, transpose_a=False, transpose_b=False) -> Type:
        if not (isinstance(left, TensorT) and isinstance(right, TensorT)):
            self._not_a_tensor(node, left, right)
            return UNKNOWN
        dtype, problem = unify_dtype(left, right)
        if problem:
            self.err("E040", node, f"matrix product mixes {problem}", "cast one side")
            return UNKNOWN
        if not self._operator_has_kernel(node, "@", dtype):
            return UNKNOWN
        if left.shape is None or right.shape is None:
            return TensorT(dtype, None)
        for side, value in (("left", left), ("right", right)):
            if len(value.shape) < 2:
                self.err("E042", node, f"the {side} side of a matrix product has rank {len(value.shape)} ({value})",
                         "matmul needs rank 2 or more; use x[None, :] or expand_dims")
                return TensorT(dtype, None)
        a = list(left.shape)
        b = list(right.shape)
        if transpose_a:
            a[-2:] = a[-1], a[-2]
        if transpose_b:
            b[-2:] = b[-1], b[-2]
        if dims_conflict(a[-1], b[-2]):
            self.err("E042", node, f"matrix product of {left} and {right}: inner dims {a[-1]} and {b[-2]} differ",
                     "the left operand's last dim must equal the right operand's second-to-last")
        batch, problem = broadcast_dims(tuple(a[:-2]), tuple(b[:-2]))
        return TensorT(dtype, None if batch is None else (*batch, a[-2], b[-1]))

    def expr_Compare(self, node: n.Compare) -> Type:
        left, right = self.expr(node.left), self.expr(node.right)
        if not (isinstance(left, TensorT) and isinstance(right, TensorT)):
            self._not_a_tensor(node, left, right)
            return UNKNOWN
        dtype, problem = unify_dtype(left, right)
        if problem:
            self.err("E040", node, f"`{node.op}` compares {problem}", "cast one side to the other's dtype")
        shape = self._broadcast(node, left, right)
        if not problem and not (left.weak and right.weak and shape == ()):  # else Python compares them
            self._operator_has_kernel(node, node.op, dtype)
        if left.weak and right.weak and shape == ():
            if left.value is None or right.value is None:
                return TensorT("bool", (), weak=True)
            try:
                return literal_type(fold_compare(node.op, left.value, right.value))
            except FoldError as exc:
                self.err("E040", node, str(exc))
                return UNKNOWN
        return TensorT("bool", shape)

    def expr_BoolOp(self, node: n.BoolOp) -> Type:
        values = [self.expr(v) for v in node.values]
        result = values[0]
        for value, value_node in zip(values, node.values):
            self._require_bool(value, value_node, f"`{node.op}`")
        for value in values[1:]:
            if isinstance(result, TensorT) and isinstance(value, TensorT):
                shape = self._broadcast(node, result, value)
                result = TensorT("bool", shape, weak=result.weak and value.weak and shape == ())
        return result

    def _require_bool(self, value: Type, node: n.Node, what: str) -> None:
        if isinstance(value, TensorT) and value.dtype is not None and value.dtype != "bool":
            self.err("E043", node, f"{what} needs bool tensors, got {value}", "compare first, e.g. `x > 0.0`")

    def expr_UnaryOp(self, node: n.UnaryOp) -> Type:
        if node.op == "-" and isinstance(node.operand, n.IntLit):  # -9223372036854775808: 2**63 alone is no i64
            return literal_type(-node.operand.value)
        value = self.expr(node.operand)
        if node.op == "not":
            self._require_bool(value, node.operand, "`not`")
        elif isinstance(value, TensorT) and value.dtype in ("bool", "string"):
            self.err("E040", node, f"unary `{node.op}` is not defined on {value.dtype}", "cast to a number first")
            return UNKNOWN
        elif node.op == "-" and isinstance(value, TensorT) and not value.weak:
            if not self._operator_has_kernel(node, "neg", value.dtype):
                return UNKNOWN
        if not isinstance(value, TensorT) or not value.weak:
            return value
        if value.shape != ():
            return TensorT(value.dtype, value.shape)  # `-[1, 2]`: a tensor, as a list has no `-`
        if value.value is None:
            return value
        try:
            return literal_type(fold_unary(node.op, value.value))
        except FoldError as exc:
            self.err("E023", node, f"unary `{node.op}` of a Python value: {exc}")
            return UNKNOWN

    def expr_Subscript(self, node: n.Subscript) -> Type:
        value = self.expr(node.value)
        for item in node.items:
            self._index_item(item)
        if isinstance(value, ArrayT):  # `xs[i]` reads one element of a typed list (`xs.read(i)`)
            if len(node.items) != 1 or isinstance(node.items[0], (n.Slice, n.NewAxis, n.EllipsisItem)):
                self.err("E044", node, f"a {value} is indexed by one integer, `xs[i]`",
                         "for several elements use `xs.gather(indices)`, or `xs.stack()` then slice")
                return UNKNOWN
            return value.element
        if not isinstance(value, TensorT):
            self._not_a_tensor(node, value)
            return UNKNOWN
        if value.shape is None:
            return TensorT(value.dtype, None)
        return TensorT(value.dtype, self._index_shape(node, value))

    def _index_item(self, item: n.Node) -> None:
        if isinstance(item, n.Slice):
            for part in (item.lower, item.upper, item.step):
                if part is not None:
                    self._require_int(self.expr(part), part)
        elif not isinstance(item, (n.NewAxis, n.EllipsisItem)):
            self._require_int(self.expr(item), item)

    def _require_int(self, value: Type, node: n.Node) -> None:
        if isinstance(value, TensorT) and value.dtype is not None and value.dtype not in INTS:
            self.err("E044", node, f"an index must be an integer, got {value}", "cast it: cast(i, i32)")
        elif isinstance(value, TensorT) and value.rank not in (None, 0):
            self.err("E044", node, f"an index must be a scalar, got {value}", "use gather(x, indices) for many")

    def _index_shape(self, node: n.Subscript, value: TensorT):
        consuming = sum(1 for i in node.items if not isinstance(i, (n.NewAxis, n.EllipsisItem)))
        if consuming > len(value.shape):
            self.err("E044", node, f"{consuming} indices for a tensor of rank {len(value.shape)} ({value})",
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
                result.append(self._slice_length(item, dims[position]))
                position += 1
            else:
                self._check_index_in_range(item, dims[position], position)
                position += 1
        result.extend(dims[position:])
        return tuple(result)

    def _static_int(self, node: n.Node | None) -> int | None:
        value = self.analysis.types.get(node) if node is not None else None
        known = isinstance(value, TensorT) and value.weak and isinstance(value.value, int)
        return value.value if known and not isinstance(value.value, bool) else None

    def _check_index_in_range(self, item: n.Node, dim: Dim, position: int) -> None:
        index = self._static_int(item)
        if index is not None and isinstance(dim, int) and not -dim <= index < dim:
            self.err("E044", item, f"index {index} is out of range for dim {position}, of size {dim}",
                     f"use an index from {-dim} to {dim - 1}")

    def _slice_length(self, item: n.Slice, dim: Dim) -> Dim:
        """A slice's length where its bounds and the dim are known (Python's clamping, as TensorFlow's)."""
        bounds = [self._static_int(part) for part in (item.lower, item.upper, item.step)]
        if bounds[2] == 0:
            self.err("E044", item.step, "a slice step cannot be 0", "use 1, or -1 to reverse")
            return None
        if item.lower is None and item.upper is None and item.step is None:
            return dim
        given = [part is None or bound is not None for part, bound in zip((item.lower, item.upper, item.step), bounds)]
        if not isinstance(dim, int) or not all(given):
            return None
        length = len(range(*slice(*bounds).indices(dim)))
        return length or None

    def expr_Call(self, node: n.Call) -> Type:
        info = self.analysis.calls.get(node)
        if info is None:
            for arg in (*node.args, *(k.value for k in node.keywords)):
                self.expr(arg)
            return UNKNOWN
        return self.dispatch("call_", info.kind, node, info)

    def expr_Attribute(self, node: n.Attribute) -> Type:
        return UNKNOWN

    def _arg_types(self, node: n.Call) -> tuple[list[Type], dict[str, Type]]:
        positional = [self.expr(a) for a in node.args]
        keywords = {k.name: self.expr(k.value) for k in node.keywords}
        return positional, keywords

    def call_op(self, node: n.Call, info) -> Type:
        op: Op = info.op
        positional, keywords = self._arg_types(node)
        given = _bind(op, node, positional, keywords)
        self._check_arg_kinds(op, given)
        bound = _as_converted(op, given)
        self._check_kernel_dtypes(op, bound)
        check_static_args(op, bound, self.err)
        if not self._check_ranks(op, bound):
            return UNKNOWN
        if op.name == "TensorArray":
            dtype, shape = bound.get("dtype"), evaluate(bound["element_shape"][1]) if "element_shape" in bound else None
            known = isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
            return ArrayT(TensorT(dtype[0].name if dtype and isinstance(dtype[0], OtherT) else None,
                                  tuple(shape) if known else None))
        if op.name == "GradientTape":
            return OtherT("tape")
        rule = RULES.get(TYPE_RULES.get(op.name, ""))
        if rule is None:
            return UNKNOWN
        result = rule(RuleContext(node, op, bound, types=self.analysis.types, params=self.info.params,
                                  report=self.err, matmul=self._matmul))
        if isinstance(result, TensorT) and result.shape and all(isinstance(d, int) for d in result.shape):
            self._check_tensor_size(node, result)
        # An op returns a tensor even of Python values (abs(3) is an int32 tensor), never a Python value.
        return TensorT(result.dtype, result.shape) if isinstance(result, TensorT) and result.weak else result

    def _check_tensor_size(self, node: n.Node, value: TensorT) -> None:
        elements, limit = math.prod(value.shape), self.analysis.limits.tensor_elements
        if elements > limit:
            self.analysis.report("E056", node, *over_limit(f"this {value} tensor has too many elements",
                                                        elements, "tensor_elements", limit))

    def _check_arg_kinds(self, op: Op, bound: dict[str, tuple[Type, n.Node]]) -> None:
        for param in op.params:
            if param.name not in bound:
                continue
            value, arg = bound[param.name]
            if param.kind == "dtype" and not (isinstance(value, OtherT) and value.kind == "dtype"):
                self.err("E054", arg, f"`{op.name}` argument `{param.name}` must be a dtype such as f32, got {value}",
                         "write the dtype name: f32, i32, bool, string, ...")
            elif param.kind == "static" and not _is_python_value(value) and value is not UNKNOWN \
                    and evaluate(arg) is UNKNOWN_VALUE:  # a literal list (`element_shape=[]`) is known
                self.err("E022", arg, f"`{op.name}` argument `{param.name}` must be known at trace time",
                         "use a literal or a constructor parameter")
            elif param.kind == "tensors" and not isinstance(arg, n.ListLit):
                self.err("E023", arg, f"`{op.name}` argument `{param.name}` is a list of tensors",
                         "write the tensors in brackets: [a, b]")
            elif param.kind == "tensor" and (_is_python_value(value) or isinstance(arg, n.ListLit)) and (
                    param.name in TENSOR_ONLY.get(op.name, ()) or op.helper and value.shape != ()):
                self.err("E023", arg, f"`{op.name}` argument `{param.name}` must be a tensor, not a Python value "
                                      "or list", "make it one: constant(...) or stack([...])")
            elif param.kind == "tensor" and isinstance(value, (ArrayT, OtherT)) and value is not UNKNOWN:
                what = "a dtype" if isinstance(value, OtherT) and value.kind == "dtype" else f"a {value}"
                hint = "use `.stack()` to make a tensor" if isinstance(value, ArrayT) else None
                self.err("E023", arg, f"`{op.name}` argument `{param.name}` is a tensor, not {what}", hint)

    def _check_ranks(self, op: Op, bound: dict[str, tuple[Type, n.Node]]) -> bool:
        """Every argument has a rank TensorFlow accepts for it (the registry's RANKS); False if one has not."""
        fits = True
        for name, (least, exact) in RANKS.get(op.name, {}).items():
            value, arg = bound.get(name, (None, None))
            items = [(self.analysis.types.get(i), i) for i in arg.items] if op.param(name).kind == "tensors" \
                and isinstance(arg, n.ListLit) else [(value, arg)]
            for item, item_node in items:
                if isinstance(item, TensorT) and item.rank is not None and (
                        item.rank < least or exact and item.rank != least):
                    wanted = f"rank {least}" if exact else f"rank {least} or more"
                    self.err("E057", item_node, f"`{op.name}` argument `{name}` must have {wanted}, got {item}",
                             "reshape or expand_dims it" if item.rank < least else "reduce or reshape it")
                    fits = False
        return fits

    def _operator_has_kernel(self, node: n.Node, symbol: str, dtype: str | None) -> bool:
        """An operator on tensors of `dtype` lowers to a registry op; that op must have a kernel for it."""
        op = OPS[OPERATOR_OPS[symbol]]
        allowed = KERNEL_DTYPES.get(op.name, {}).get(op.params[0].name)
        if dtype is None or allowed is None or dtype in allowed:
            return True
        shown = "unary -" if symbol == "neg" else symbol
        listed = ", ".join(d for d in DTYPES if d in allowed)
        self.err("E055", node, f"`{shown}` on {dtype} tensors has no TensorFlow kernel (it takes {listed})",
                 f"cast it first: cast(x, {'f32' if 'f32' in allowed else 'i32'})")
        return False

    def _check_kernel_dtypes(self, op: Op, bound: dict[str, tuple[Type, n.Node]]) -> None:
        """Every argument's dtype has a TensorFlow kernel for this op (the registry's KERNEL_DTYPES).
        A Python value left after `_as_converted` in a dtype group takes its partner's dtype, which is
        checked; any other Python value is converted on its own, so its own dtype is checked."""
        accepted = KERNEL_DTYPES.get(op.name, {})
        if not accepted:
            return
        arguments = [(name, value, arg) for name, value, arg in _argument_types(self.analysis, bound)
                     if name in accepted or "*" in accepted and name == "*"]
        for name, value, arg in arguments:
            dtype = value.name if isinstance(value, OtherT) else value.dtype if isinstance(value, TensorT) else None
            param = op.param(name)
            if dtype is None or isinstance(value, TensorT) and (
                    value.weak and name in SHARED_DTYPE.get(op.name, ()) or param and param.kind == "dtype"):
                continue  # a value where a dtype belongs is E054's
            allowed = accepted[name]
            if dtype not in allowed:
                listed = ", ".join(d for d in DTYPES if d in allowed)
                target = "f32" if "f32" in allowed else next(d for d in DTYPES if d in allowed)
                self.err("E055", arg, f"`{op.name}` has no TensorFlow kernel for {dtype} "
                                      f"(argument `{name}` takes {listed})",
                         f"cast it first: cast(x, {target})")

    def call_initializer(self, node: n.Call, info) -> Type:
        return UNKNOWN

    def call_self_method(self, node: n.Call, info) -> Type:
        return self._method_call(node, self.info, info.method, {})

    def call_sub_method(self, node: n.Call, info) -> Type:
        sub = self.info.submodules[info.receiver]
        target = self.analysis.modules[sub.module]
        return self._method_call(node, target, info.method, self._sub_params(sub, target))

    def _sub_params(self, sub: n.SubDecl, target: ModuleInfo) -> dict[str, Dim]:
        """What the submodule's `int` parameters are, seen from here: numbers or our own parameter names."""
        given = self.analysis.sub_arguments.get(sub, {})
        result: dict[str, Dim] = {}
        for param in target.decl.params:
            arg = given.get(param.name, param.default)
            if isinstance(arg, n.IntLit):
                result[param.name] = arg.value
            elif isinstance(arg, n.Name) and arg.id in self.info.params:
                result[param.name] = arg.id
            else:
                result[param.name] = None
        return result

    def _method_call(self, node: n.Call, owner: ModuleInfo, name: str, params: dict[str, Dim]) -> Type:
        """The call's type, its arguments checked against the method's signature; for a method of
        several signatures, against each, and the one they fit is the one called."""
        arguments = self._arg_types(node)
        signatures = owner.signatures_of(name)
        if len(signatures) == 1:
            return self._bind_call(node, owner, owner.methods[signatures[0]], params, arguments)
        fitting: list[tuple[str, Type]] = []
        for signature in signatures:
            problems: list = []
            self.err = lambda *report, **options: problems.append(report)  # a trial: nothing reported
            try:
                result = self._bind_call(node, owner, owner.methods[signature], params, arguments)
            finally:
                del self.err
            if not problems:
                fitting.append((signature, result))
        if not fitting:
            listed = "; ".join(method_signature(owner.methods[s]) for s in signatures)
            self.err("E050", node, f"no signature of `{name}` takes these arguments ({self._described(arguments)})",
                     f"its signatures: {listed}")
            return UNKNOWN
        if len(fitting) == 1:  # else the argument types do not decide: the generated call picks at trace time
            self.analysis.chosen_signatures[node] = fitting[0][0]
        results = {result for _, result in fitting}
        return results.pop() if len(results) == 1 else UNKNOWN

    @staticmethod
    def _described(arguments) -> str:
        positional, keywords = arguments
        return ", ".join([str(t) for t in positional] + [f"{k}={t}" for k, t in keywords.items()])

    def _bind_call(self, node: n.Call, owner: ModuleInfo, method: n.Method, params: dict[str, Dim],
                   arguments) -> Type:
        positional, keywords = arguments
        names = [i.name for i in method.inputs]
        given = dict(zip(names, zip(positional, node.args)))
        given |= {k.name: (keywords[k.name], k.value) for k in node.keywords}
        bindings: dict[str, Dim] = dict(params)
        for inp in method.inputs:
            if inp.name in given:
                value, arg = given[inp.name]
                self._bind_input(node, method, inp, value, arg, bindings, owner)
        outputs = outputs_of(method)
        if not outputs:
            return NO_VALUE
        if isinstance(method.returns, tuple):
            return OtherT("outputs")
        declared = declared_type(outputs[0].type)
        return TensorT(declared.dtype, None if declared.shape is None else tuple(
            bindings.get(d, None if d not in owner.params else d) if isinstance(d, str) else d
            for d in declared.shape))

    def _bind_input(self, node, method, inp, value, arg, bindings: dict[str, Dim], owner: ModuleInfo) -> None:
        expected = declared_type(inp.type)
        label = f"input `{inp.name}` of `{method.name}`"
        if not isinstance(value, TensorT):
            self._check_fits(value, expected, arg, f"{label} is {expected}", code="E050")
            return
        if value.dtype and expected.dtype:
            _, problem = unify_dtype(TensorT(expected.dtype, expected.shape), value)
            if problem:
                self.err("E050", arg, f"{label} is {expected}, got {value}", f"cast it: cast(..., {expected.dtype})")
                return
        if value.shape is None or expected.shape is None:
            return
        if len(value.shape) != len(expected.shape):
            self.err("E050", arg, f"{label} is {expected}, got rank {len(value.shape)} ({value})",
                     "the signature fixes the rank")
            return
        for want, got in zip(expected.shape, value.shape):
            if isinstance(want, str):
                bound = bindings.get(want)
                if want in bindings and dims_conflict(bound, got):
                    self.err("E050", arg, f"{label}: dim `{want}` is {got} here but {bound} elsewhere",
                             f"every `{want}` in a signature is the same size")
                elif got is not None and want not in bindings:
                    bindings[want] = got
            elif dims_conflict(want, got):
                self.err("E050", arg, f"{label} is {expected}, got {value}", "the fixed dimensions must match")

    def call_value_method(self, node: n.Call, info) -> Type:
        receiver = self.expr(node.func.value)
        positional, _ = self._arg_types(node)
        ref = self.analysis.refs.get(node.func.value)
        if ref is not None and ref.kind == "variable":
            target = declared_type(ref.decl.type)
            if info.method in ("assign", "assign_add", "assign_sub") and positional:
                self._check_fits(positional[0], target, node.args[0], f"variable `{ref.decl.name}` is {target}")
            return target
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
        receiver = self.env.get(info.receiver)
        if info.method == ARRAY_POP:  # the last element
            return receiver.element if isinstance(receiver, ArrayT) and receiver.element.dtype is not None else UNKNOWN
        positional, _ = self._arg_types(node)
        if isinstance(receiver, ArrayT) and positional:
            value = positional[-1]
            element = receiver.element
            if element.dtype is None and isinstance(value, TensorT):
                self.env[info.receiver] = ArrayT(TensorT(value.dtype, value.shape))
            else:
                self._check_fits(value, element, node.args[-1], f"`{info.receiver}` holds {element}")
            if info.method == "write":
                self._require_int(positional[0], node.args[0])
        return NO_VALUE

    def call_optimizer_minimize(self, node: n.Call, info) -> Type:
        positional, _ = self._arg_types(node)
        if positional and isinstance(positional[0], TensorT):
            loss = positional[0]
            if loss.dtype is not None and loss.dtype not in FLOATS:
                self.err("E051", node.args[0], f"the loss is {loss}; gradients need a floating-point loss",
                         "cast it: cast(loss, f32)")
        return NO_VALUE


def _consumed_before(items: tuple, stop: n.Node) -> int:
    count = 0
    for item in items:
        if item is stop:
            break
        if not isinstance(item, (n.NewAxis, n.EllipsisItem)):
            count += 1
    return count


def _runs_at_least_once(loop: n.Node) -> bool:
    """`for i in range(3)`, `range(1, 5)`, `range(0, 10, 3)`: literal bounds with a non-empty range."""
    if not (isinstance(loop, n.For) and isinstance(loop.iter, n.Call) and isinstance(loop.iter.func, n.Name)
            and loop.iter.func.id == "range" and not loop.iter.keywords):
        return False
    bounds = [evaluate(arg) for arg in loop.iter.args]
    if not bounds or not all(isinstance(b, int) and not isinstance(b, bool) for b in bounds):
        return False
    start, stop, step = (0, bounds[0], 1) if len(bounds) == 1 else (*bounds, 1)[:3]
    return (step > 0 and start < stop) or (step < 0 and start > stop)  # no len(range): bounds may be huge


def _is_python_value(value: Type) -> bool:
    return isinstance(value, TensorT) and value.weak


def _is_python_condition(value: Type) -> bool:
    """A condition Python decides at trace time: a Python scalar. A list literal is a tensor, as everywhere."""
    return _is_python_value(value) and value.shape == ()


def _argument_types(analysis: Analysis, bound: dict) -> list[tuple[str, Type, n.Node]]:
    """(parameter, type, node) for each argument; a list of tensors (concat, stack) and the variadic
    arguments ("*") give one entry per item."""
    found = []
    for name, (value, arg) in bound.items():
        if name == "*":
            found.extend(("*", v, a) for v, a in zip(value, arg))
        elif isinstance(arg, n.ListLit) and not isinstance(value, TensorT):
            found.extend((name, analysis.types.get(item, UNKNOWN), item) for item in arg.items)
        else:
            found.append((name, value, arg))
    return found


def _as_converted(op: Op, bound: dict[str, tuple[Type, n.Node]]) -> dict[str, tuple[Type, n.Node]]:
    """The arguments as TensorFlow converts them. A Python value converted before any tensor of its dtype
    group (SHARED_DTYPE), or any Python value of a helper or of CONVERTED_ALONE, becomes a tensor of
    its own default dtype rather than taking its partner's: `maximum(1, x)` is maximum of an i32 and `x`."""
    alone = op.helper or op.name in CONVERTED_ALONE
    names = [p.name for p in op.params if p.kind == "tensor"] if alone else SHARED_DTYPE.get(op.name, ())
    converted = dict(bound)
    for name in names:
        value, arg = bound.get(name, (None, None))
        if isinstance(value, TensorT) and value.weak:
            converted[name] = (TensorT(value.dtype, value.shape), arg)
        if isinstance(value, TensorT) and value.dtype is not None and not alone:
            break  # the group's dtype is set: later Python values take it
    return converted


def _bind(op: Op, node: n.Call, positional: list[Type], keywords: dict[str, Type]):
    """Argument name -> (type, node), positional arguments matched to the registry's parameters."""
    bound: dict[str, tuple[Type, n.Node]] = {}
    for param, value, arg in zip(op.params, positional, node.args):
        bound[param.name] = (value, arg)
    extra = positional[len(op.params):]
    if extra:
        bound["*"] = (extra, node.args[len(op.params):])  # type: ignore[assignment]
    for keyword in node.keywords:
        bound[keyword.name] = (keywords[keyword.name], keyword.value)
    return bound

