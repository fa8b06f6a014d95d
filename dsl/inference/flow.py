"""Control flow: one method body walked in order, each local's type tracked through assignments,
branches and loops (the `Scope` forked at an `if` and merged after it, a graph loop's carried values
held to one type), with the checks AutoGraph's tf.cond and tf.while_loop make necessary."""

from __future__ import annotations

from .. import nodes as n
from ..analysis import Analysis, ModuleInfo, outputs_of, walk
from ..declarations import declared_type, known_shape, signature_type
from ..diagnostics import locate_bugs
from ..folding import evaluate
from ..ops import OPS
from ..tensor_types import FLOATS, INTS, UNKNOWN, ArrayT, OtherT, OutputsT, TensorT, Type, join, same_type
from ..visitor import STATEMENTS, NodeVisitor
from .expressions import ExpressionTyping
from ..ops.operators import type_operator
from .value_checks import check_condition, check_fits, is_python_condition, is_python_value
from .scope import Scope


class MethodInference(NodeVisitor):
    """Walks one method body in order, tracking each local's type through branches and loops;
    expressions are typed by an `ExpressionTyping` over the same scope."""

    FAMILIES = {"stmt_": STATEMENTS}

    def __init__(self, analysis: Analysis, info: ModuleInfo, method: n.Method):
        self.analysis = analysis
        self.method = method
        self.report = analysis.report
        self.scope = Scope({i.name: declared_type(signature_type(i.type)) for i in method.inputs})
        self.typing = ExpressionTyping(analysis, info, self.scope)
        self.expr = self.typing.expr

    def run(self) -> None:
        self.block(self.method.body)

    def block(self, body: tuple) -> None:
        for stmt in body:
            with locate_bugs(stmt):
                self.dispatch("stmt_", type(stmt), stmt)

    def stmt_LocalFunction(self, stmt: n.LocalFunction) -> None:
        """Typed as a method is, over a scope of its own inputs; calls are typed from its signature."""
        MethodInference(self.analysis, self.typing.info, stmt.function).run()

    # assignments and simple statements ---------------------------------------------------------

    def stmt_Assign(self, stmt: n.Assign) -> None:
        scope = self.scope
        if isinstance(stmt.declared, n.ListType):
            scope.bind(stmt.target, ArrayT(declared_type(stmt.declared.element)))
            return
        value = self.expr(stmt.value)
        if stmt.declared is not None and isinstance(value, TensorT):
            declared = declared_type(stmt.declared)
            check_fits(self.report, value, declared, stmt.value, f"`{stmt.target}` is declared {declared}")
            scope.declared[stmt.target] = declared
            value = declared  # the declaration is the local's type: `v: f32[?]` may grow in a loop
        elif stmt.target in scope.declared and isinstance(value, TensorT):
            declared = scope.declared[stmt.target]
            check_fits(self.report, value, declared, stmt.value, f"`{stmt.target}` is declared {declared}")
            value = declared
        if isinstance(value, TensorT) and value.weak:
            value = TensorT(value.dtype, value.shape)  # the generator makes it a tensor of this dtype
        scope.bind(stmt.target, value)

    def stmt_Unpack(self, stmt: n.Unpack) -> None:
        """`a, b = enc(x)` binds a method's outputs in order; `a, b = b, a` reads every value first."""
        values = [self.expr(v) for v in stmt.values]
        if len(values) == 1:
            values = self._unpacked(stmt, values[0])
        if len(values) != len(stmt.names):
            return  # the checker reported the counts
        for identifier, value in zip(stmt.targets, values):
            target = identifier.text
            if target == "_":
                continue
            if target in self.scope.declared and isinstance(value, TensorT):
                declared = self.scope.declared[target]
                check_fits(self.report, value, declared, stmt, f"`{target}` is declared {declared}")
                value = declared
            elif isinstance(value, TensorT) and value.weak:
                value = TensorT(value.dtype, value.shape)
            self.analysis.types[identifier] = value  # what an editor shows on the name
            self.scope.bind(target, value)

    def _unpacked(self, stmt: n.Unpack, value: Type) -> list[Type]:
        """The values one value unpacks into: a method's several outputs, one per name."""
        count = len(stmt.names)
        if isinstance(value, OutputsT):
            if len(value.outputs) != count:
                self.report("E031", stmt, f"{count} names for {len(value.outputs)} outputs {value}",
                            f"name each output: `{', '.join(value.names)} = ...`")
                return [UNKNOWN] * count
            return [t for _, t in value.outputs]
        if value is not UNKNOWN:
            self.report("E031", stmt.values[0], f"only a method's several outputs unpack into names, not {value}",
                        "unpack a call of a method declared `-> (a: ..., b: ...)`, or give one value per name")
        return [UNKNOWN] * count

    def stmt_ItemAssign(self, stmt: n.ItemAssign) -> None:
        array = self.expr(stmt.target.value)
        for item in stmt.target.items:
            self.typing.index_item(item)
        value = self.expr(stmt.value)
        if isinstance(array, ArrayT):
            name = stmt.target.value
            assert isinstance(name, n.Name)  # only a local holds a typed list
            check_fits(self.report, value, array.element, stmt.value, f"elements of `{name.id}` are {array.element}")

    def stmt_AugAssign(self, stmt: n.AugAssign) -> None:
        ref = self.analysis.refs.get(stmt)
        value = self.expr(stmt.value)
        if ref is not None and ref.kind == "variable":
            assert isinstance(ref.decl, n.VarDecl)  # the checker pairs each kind with its declaration
            target = declared_type(ref.decl.type)
            check_fits(self.report, value, target, stmt.value, f"variable `{stmt.target}` is {target}")
            return
        if stmt.target not in self.scope.env and stmt.target not in self.scope.partial:
            self.typing.used_before_assignment(stmt, stmt.target)
        current = self.scope.env.get(stmt.target, UNKNOWN)
        result = type_operator(stmt.op, (current, value), stmt, self.report)
        self._check_loop_stable(stmt.target, current, result, stmt)
        self.scope.bind(stmt.target, result)

    def stmt_Return(self, stmt: n.Return) -> None:
        outputs = outputs_of(self.method)
        if len(stmt.values) == 1 and len(outputs) > 1:
            self._return_outputs(stmt.values[0], outputs)
            return
        for value_node, output in zip(stmt.values, outputs):
            value = self.expr(value_node)
            check_fits(self.report, value, declared_type(output.type), value_node,
                       f"output `{output.name}` is declared {declared_type(output.type)}", code="E032")
        for value_node in stmt.values[len(outputs):]:
            self.expr(value_node)

    def _return_outputs(self, node: n.Node, outputs: tuple[n.NamedOutput, ...]) -> None:
        """`return enc(x)` from a method of several outputs: the callee's outputs, in order, fit them."""
        value = self.expr(node)
        if not isinstance(value, OutputsT):
            if value is not UNKNOWN:
                self.report("E032", node, f"`{self.method.name}` declares {len(outputs)} outputs but returns {value}",
                            "return one value per declared output, or a call of a method with as many outputs")
            return
        if len(value.outputs) != len(outputs):
            self.report("E032", node, f"`{self.method.name}` declares {len(outputs)} outputs but returns "
                        f"the {len(value.outputs)} outputs {value}", "return one value per declared output")
            return
        for (name, got), output in zip(value.outputs, outputs):
            expected = declared_type(signature_type(output.type))
            check_fits(self.report, got, expected, node,
                       f"output `{output.name}` is declared {expected} (the call's `{name}`)", code="E032")

    def stmt_ExprStmt(self, stmt: n.ExprStmt) -> None:
        self.expr(stmt.expr)

    def stmt_Pass(self, stmt) -> None:
        pass

    stmt_Break = stmt_Continue = stmt_Pass

    def stmt_With(self, stmt: n.With) -> None:
        if stmt.name is not None:  # a gradient tape; a name scope (no name) is syntax, not a value
            self.expr(stmt.context)
            self.scope.bind(stmt.name, OtherT("tape"))
        self.block(stmt.body)

    def stmt_Assert(self, stmt: n.Assert) -> None:
        test = self.expr(stmt.test)
        if not is_python_condition(test):
            check_condition(self.report, test, stmt.test, "assert")

    # branches ----------------------------------------------------------------------------------

    def stmt_If(self, stmt: n.If) -> None:
        test = self.expr(stmt.test)
        if is_python_condition(test):
            self._python_if(stmt, test)
            return
        check_condition(self.report, test, stmt.test, "if")
        before, after_body, after_else = self._branches(stmt)
        self.scope.env = self._merge_branches(stmt, before, after_body, after_else)

    def _branches(self, stmt: n.If) -> tuple[dict, dict, dict]:
        """Walk both branches from the same environment: (before, after the body, after the else)."""
        before = dict(self.scope.env)
        self.block(stmt.body)
        after_body = self.scope.env
        self.scope.env = dict(before)
        self.block(stmt.orelse)
        return before, after_body, self.scope.env

    def _python_if(self, stmt: n.If, test: TensorT) -> None:
        """A condition on Python values is decided at trace time: only one branch becomes graph code.
        When the value is known the other branch is dead; else a name typed differently by the two
        branches is left unknown (either may run), never an error."""
        before, after_body, after_else = self._branches(stmt)
        if test.value is not None:
            self.scope.env = after_body if test.value else after_else
            return
        merged = dict(before)
        for name in sorted(set(after_body) | set(after_else)):
            a, b = after_body.get(name), after_else.get(name)
            if a is None or b is None:
                merged[name] = a if b is None else b
                self.scope.partial[name] = ("one branch of an `if` on a constructor parameter", stmt)
            else:
                merged[name] = join(a, b) if same_type(a, b) else UNKNOWN
        self.scope.env = merged

    def _merge_branches(self, stmt: n.If, before: dict, left: dict, right: dict) -> dict:
        merged = dict(before)
        for name in sorted(set(left) | set(right)):
            a, b = left.get(name), right.get(name)
            if a is not None and b is not None:
                if not same_type(a, b) and (left.get(name) is not before.get(name) or
                                            right.get(name) is not before.get(name)):
                    self.report("E046", stmt, f"`{name}` is {a} in one branch and {b} in the other",
                                "AutoGraph turns an `if` on a tensor into tf.cond, whose branches must give a "
                                "value of the same dtype and shape; cast or reshape one branch")
                merged[name] = join(a, b)
            else:
                merged[name] = a if a is not None else b
                self.scope.partial[name] = ("one branch of an `if` on a tensor", stmt)
        return merged

    # loops -------------------------------------------------------------------------------------

    def stmt_For(self, stmt: n.For) -> None:
        call = self.analysis.calls.get(stmt.iter) if isinstance(stmt.iter, n.Call) else None
        over_range = call is not None and call.op is OPS["range"]
        if over_range:
            assert isinstance(stmt.iter, n.Call)  # a call was found for it
            for arg in (*stmt.iter.args, *(k.value for k in stmt.iter.keywords)):
                self._check_range_bound(self.expr(arg), arg)
        if stmt.static:
            self.scope.env[stmt.target] = TensorT("i32", (), weak=True)
            self._forget_sizes(stmt.body)
            self.block(stmt.body)
            return
        self.scope.env[stmt.target] = TensorT("i32", ()) if over_range else self._row_of(stmt.iter)
        self._graph_loop(stmt, stmt.body)

    def _row_of(self, node: n.Node) -> Type:
        """What `for row in x:` binds: x without its first axis (AutoGraph loops over that axis)."""
        value = self.expr(node)
        if not isinstance(value, TensorT):
            if value is not UNKNOWN:
                self.report("E031", node, f"a `for` loop runs over `range(...)` or a tensor's rows, not {value}",
                            "for a typed list, loop over `range(xs.size())` and read `xs.read(i)`")
            return UNKNOWN
        if value.shape == ():
            self.report("E031", node, f"`for` over a scalar ({value}): it has no rows",
                        "loop over `range(n)`, or over a tensor with at least one axis")
            return UNKNOWN
        return TensorT(value.dtype, None if value.shape is None else value.shape[1:])

    def stmt_While(self, stmt: n.While) -> None:
        test = self.expr(stmt.test)
        if not is_python_condition(test):
            check_condition(self.report, test, stmt.test, "while")
        self._graph_loop(stmt, stmt.body)
        self.expr(stmt.test)  # names the condition reads must keep their type

    def _check_range_bound(self, bound: Type, node: n.Node) -> None:
        if not isinstance(bound, TensorT) or bound.dtype is None:
            return
        if bound.dtype not in INTS | FLOATS:
            self.report("E023", node, f"a range bound must be a number, got {bound}", "cast it: cast(n, i32)")
        elif bound.rank not in (None, 0):
            self.report("E023", node, f"a range bound must be a scalar, got {bound}",
                        "use one number, e.g. shape(x)[0] for a tensor's length")

    def _graph_loop(self, stmt: n.Node, body: tuple) -> None:
        self._forget_sizes(body)
        before = dict(self.scope.env)
        self.block(body)
        env = self.scope.env  # a branch in the body may have replaced it
        self._relaxed_shapes(stmt, body)
        for name, value in list(env.items()):
            if name not in before and self._defined_before(stmt, name, value):
                continue  # the loop runs at least once: its value after the loop is the last iteration's
            if name not in before and self._checked_by_autograph(stmt, value):
                continue  # AutoGraph asserts at run time that the loop ran, so the name is defined after it
            if name not in before:
                self.scope.partial[name] = ("a graph loop", stmt)
            else:
                self._check_loop_stable(name, before[name], value, stmt)
                env[name] = join(before[name], value) if same_type(before[name], value) else before[name]

    def _forget_sizes(self, body: tuple) -> None:
        """A size a name holds (`t = shape(x)[1]`) is its first iteration's only, if the loop assigns it."""
        env = self.scope.env
        for node in walk(body):
            targets = node.names if isinstance(node, n.Unpack) else \
                (node.target,) if isinstance(node, (n.Assign, n.AugAssign)) else ()
            for name in targets:
                value = env.get(name)
                if isinstance(value, TensorT) and value.sizes is not None:
                    env[name] = TensorT(value.dtype, value.shape, value.weak, value.value)

    def _checked_by_autograph(self, loop: n.Node, value: Type) -> bool:
        """A tensor first bound in a `while` on a tensor condition: AutoGraph makes it a loop variable
        and asserts at run time that the loop ran at least once."""
        test = self.analysis.types.get(loop.test) if isinstance(loop, n.While) else None
        return isinstance(test, TensorT) and not is_python_value(test) and isinstance(value, TensorT) \
            and value.dtype is not None

    def _defined_before(self, loop: n.Node, name: str, value: Type) -> bool:
        """A name first bound inside a graph loop can be read after it if the loop provably runs (a
        `range` of literal bounds with at least one step) and its type is fully known: tfm then
        gives it a zero of that type before the loop, which AutoGraph requires of a loop variable."""
        if not (_runs_at_least_once(loop) and isinstance(value, TensorT) and value.dtype is not None
                and known_shape(value.shape)):
            return False
        self.analysis.loop_predefined[loop] = (*self.analysis.loop_predefined.get(loop, ()),
                                               (name, value.dtype, tuple(value.shape)))
        return True

    def _relaxed_shapes(self, loop: n.Node, body: tuple) -> None:
        """Declared locals the loop reassigns whose declared shape leaves sizes open: their shape may
        change from one iteration to the next (AutoGraph's shape invariants)."""
        assigned = {s.target for s in walk(body) if isinstance(s, (n.Assign, n.AugAssign))}
        relaxed = []
        for name in sorted(assigned & set(self.scope.declared)):
            shape = self.scope.declared[name].shape
            if shape is not None and any(not isinstance(d, int) for d in shape):
                relaxed.append((name, tuple(d if isinstance(d, int) else None for d in shape)))
        if relaxed:
            self.analysis.loop_invariants[loop] = tuple(relaxed)

    def _check_loop_stable(self, name: str, before: Type, after: Type, node: n.Node) -> None:
        if not same_type(before, after):
            self.report("E048", node, f"`{name}` is {before} before the loop and {after} after an iteration",
                        f"a graph loop keeps each value's dtype and shape: to let a shape change, declare it "
                        f"before the loop with `?` for the sizes that change (`{name}: f32[?] = ...`), or collect "
                        f"values in a typed list (`xs: list[f32[]] = []`)")


def _runs_at_least_once(loop: n.Node) -> bool:
    """`for i in range(3)`, `range(1, 5)`, `range(0, 10, 3)`: literal bounds with a non-empty range."""
    if not (isinstance(loop, n.For) and isinstance(loop.iter, n.Call) and isinstance(loop.iter.func, n.Name)
            and loop.iter.func.id == "range" and not loop.iter.keywords):
        return False
    values = [evaluate(arg) for arg in loop.iter.args]
    bounds = [b for b in values if isinstance(b, int) and not isinstance(b, bool)]
    if not bounds or len(bounds) < len(values):
        return False
    start, stop, step = (0, bounds[0], 1) if len(bounds) == 1 else (*bounds, 1)[:3]
    return (step > 0 and start < stop) or (step < 0 and start > stop)  # no len(range): bounds may be huge
