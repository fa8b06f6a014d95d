"""The checks of one method body: every name and call resolved, and what cannot run in a tf.function."""

from __future__ import annotations

import re
from typing import NamedTuple, Protocol

from . import nodes as n
from .analysis import (Analysis, CallInfo, ModuleInfo, Ref, RefKind, children, is_call_to, outputs_of, own_nodes,
                       root_name, walk)
from .ops import ARRAY_POP, ARRAY_UPDATES, DTYPES, INITIALIZERS, OPS, PYTHON_ONLY, VALUE_METHODS, Op, static_python_type
from .diagnostics import locate_bugs
from .gradients import check_gradient, check_optimizer_call
from .members import check_member_call, record_member
from .library import library_index
from .names import check_call_shape, check_declared_name, suggest
from .regularizers import REGULARIZATION_LOSSES
from .visitor import EXPRESSIONS, STATEMENTS, NodeVisitor


# What tf.name_scope accepts (TensorFlow's _VALID_SCOPE_NAME_REGEX, trailing `/` aside).
THROWAWAY = "_"  # `for _ in range(n):` binds nothing: it is never read
_SCOPE_NAME = re.compile(r"([A-Za-z0-9.][A-Za-z0-9_.\-/>]*)?")  # "" too: TensorFlow takes it (the root scope)


class ModuleScope(Protocol):
    """What a body checker needs of the module around it (dsl.checker.ModuleChecker provides it)."""

    analysis: Analysis
    info: ModuleInfo

    def check_arguments(self, call: n.Call, op: Op, static_only: bool = False) -> None: ...


class BodyChecker(NodeVisitor):
    """Resolves every name and call in one method body; reports what cannot run in a tf.function."""

    FAMILIES = {"stmt_": STATEMENTS, "expr_": EXPRESSIONS}

    def __init__(self, parent: ModuleScope, method: n.Method):
        self.module_scope = parent
        self.info = parent.info
        self.analysis = parent.analysis
        self.report = parent.analysis.report
        self.method = method
        self.inputs = {i.name: i for i in method.inputs}
        self.locals: dict[str, RefKind] = {}
        # the method's local functions defined so far (a call must follow the definition), by name
        self.local_functions: dict[str, n.Method] = {}
        # in a local function: the enclosing method's own names, which it does not see (for the message)
        self.outer_names: frozenset[str] = frozenset()
        self.loop_depth = 0
        # per enclosing graph loop (AutoGraph's tf.while_loop, not `static for`): does every path through its
        # body return? AutoGraph's condition for a `return` inside it
        self.graph_loops: list[_GraphLoop] = []
        self.if_depth = 0
        self._collect_locals(method.body)
        self.analysis.local_definitions[method] = self._local_definitions(method)

    def run(self) -> None:
        self.statements(self.method.body)
        if self.method.returns is None or always_returns(self.method.body):
            return
        if not any(isinstance(s, n.Return) for s in self.analysis.body_nodes(self.method)):
            self.report("E039", self.method, f"method `{self.method.name}` declares outputs but never returns",
                        "end the body with `return ...`")
        else:  # AutoGraph refuses a method that returns on some paths and falls off the end on others
            self.report("E039", self.method, f"not every path through `{self.method.name}` returns",
                        "give each `if` an `else` that returns, or end the body with `return ...`")

    def _collect_locals(self, body: tuple) -> None:
        # Flow-insensitive on purpose: AutoGraph decides definedness per branch at trace time.
        for name, stmt in _bindings(body):
            kind: RefKind = "tape" if isinstance(stmt, n.With) else "local"
            if isinstance(stmt, n.Assign) and (isinstance(stmt.declared, n.ListType)
                                              or is_call_to(stmt.value, "TensorArray")):
                kind = "array"
            if not (isinstance(stmt, n.For) and name == THROWAWAY):
                self.locals.setdefault(name, kind)

    @staticmethod
    def _local_definitions(method: n.Method) -> dict[str, n.Node]:
        """Each local name's input, or the first statement that binds it."""
        found: dict[str, n.Node] = {i.name: i for i in method.inputs}
        for name, stmt in _bindings(method.body):
            found.setdefault(name, stmt)
        return found

    # statements --------------------------------------------------------------------------------

    def statements(self, body: tuple) -> None:
        for stmt in body:
            with locate_bugs(stmt):
                self.dispatch("stmt_", type(stmt), stmt)

    def stmt_Assign(self, stmt: n.Assign) -> None:
        self._check_target(stmt, stmt.target)
        if stmt.declared is not None:
            self._check_local_type(stmt)
        if isinstance(stmt.value, n.ListLit) and isinstance(stmt.declared, n.ListType):
            if stmt.value.items:
                self.report("E031", stmt.value, "a typed list starts empty", "append items with `.append(x)`")
            return
        if isinstance(stmt.value, n.Call):
            self.expr_Call(stmt.value, assigned_to=stmt.target)
        else:
            self.expr(stmt.value)

    def _check_local_type(self, stmt: n.Assign) -> None:
        declared = stmt.declared
        assert declared is not None  # stmt_Assign calls this only for a declared type
        element = declared.element if isinstance(declared, n.ListType) else declared
        if element.dtype not in DTYPES or element.shape is None:
            self.report("E017", element, f"unknown dtype `{element.dtype}`",
                        suggest(element.dtype, DTYPES) or f"dtypes: {', '.join(DTYPES)}")
        elif isinstance(declared, n.ListType) and not isinstance(stmt.value, n.ListLit):
            self.report("E031", stmt.value, "a typed list must start as `[]`", "write `xs: list[f32[]] = []`")

    def _check_target(self, node: n.Node, target: str) -> None:
        check_declared_name(self.report, target, node, "local")
        if target in self.inputs:
            return  # an input is a local of the method: `n = n // 2` rebinds it, as Python and tf.function allow
        member = self.info.member(target)
        if isinstance(member, n.ModuleParam):
            self.report("E015", node, f"cannot assign to constructor parameter `{target}`",
                        "constructor parameters are fixed; store changing state in a `var`")
        elif isinstance(member, n.VarDecl):
            self.report("E015", node, f"`{target}` is a variable: `=` would replace it",
                        f"update it in place with `{target}.assign(...)`")
        elif member is not None:
            self.report("E015", node, f"cannot assign to `{target}`", "it is a member of the module")

    def stmt_Unpack(self, stmt: n.Unpack) -> None:
        """`a, b = enc(x)` or `a, b = b, a`: each name a local (`_` binds nothing), bound once."""
        for index, target in enumerate(stmt.targets):
            if target.text == THROWAWAY:
                continue
            self._check_target(target, target.text)
            if target.text in stmt.names[:index]:
                self.report("E031", target, f"`{target.text}` is bound twice by one assignment",
                            "give each value its own name")
        if len(stmt.values) > 1 and len(stmt.values) != len(stmt.names):
            self.report("E031", stmt, f"{len(stmt.names)} names for {len(stmt.values)} values",
                        "give one value per name, or one call of a method with that many outputs")
        for value in stmt.values:
            self.expr(value)

    def stmt_LocalFunction(self, stmt: n.LocalFunction) -> None:
        """Checked as a method of its own: its inputs and the module's members are its names."""
        function = stmt.function
        name = function.name
        check_declared_name(self.report, name, function.identifier, "local function")
        if name in self.local_functions or name in self.locals or name in self.inputs:
            self.report("E011", function.identifier, f"`{name}` is already a name of `{self.method.name}`",
                        "give the local function a name of its own")
        elif self.info.member(name) is not None or name in OPS:
            what = "an op" if name in OPS else "a member of the module"
            self.report("E011", function.identifier, f"local function `{name}` would hide {what}",
                        "give the local function a name of its own")
        checker = BodyChecker(self.module_scope, function)
        checker.local_functions.update(self.local_functions)  # it may call those defined before it
        checker.outer_names = frozenset((*self.locals, *self.inputs, *self.outer_names))
        checker.run()
        self.local_functions[name] = function

    def stmt_ItemAssign(self, stmt: n.ItemAssign) -> None:
        """`xs[i] = v` writes a typed list's element; a tensor cannot be written in place."""
        target = stmt.target
        self.expr(target)
        self.expr(stmt.value)
        array = isinstance(target.value, n.Name) and self.locals.get(target.value.id) == "array"
        if not array:
            self.report("E031", target, "only an element of a typed list can be assigned (`xs[i] = v`)",
                        "tensors are immutable: build a new one (`where(mask, v, x)`, `concat`), or update a "
                        "variable with `.assign(...)`")
        elif len(target.items) != 1 or isinstance(target.items[0], (n.Slice, n.NewAxis, n.EllipsisItem)):
            self.report("E044", target, "a typed list element is written at one integer index, `xs[i] = v`")

    def stmt_AugAssign(self, stmt: n.AugAssign) -> None:
        member = self.info.member(stmt.target)
        if isinstance(member, n.VarDecl):
            self.analysis.refs[stmt] = Ref("variable", member)
            if stmt.op not in "+-":
                self.report("E015", stmt, f"`{stmt.op}=` is not an in-place variable update",
                            f"write `{stmt.target}.assign({stmt.target} {stmt.op} ...)`")
        elif stmt.target in self.locals or stmt.target in self.inputs:
            self.analysis.refs[stmt] = Ref("local", self.analysis.local_definitions[self.method][stmt.target])
        else:
            self._check_target(stmt, stmt.target)
            if stmt.target not in self.inputs and member is None:
                self.report("E010", stmt, f"unknown name `{stmt.target}`", "assign it before updating it")
        self.expr(stmt.value)

    def stmt_Return(self, stmt: n.Return) -> None:
        if self.graph_loops and not _autograph_returns(self.graph_loops):
            self.report("E031", stmt, "`return` on only some paths through a loop on tensors",
                        "AutoGraph returns from a graph loop only when every path through the loop's body ends in "
                        "`return` (an outer loop holding it outside any `if`); otherwise `break` out of the loop "
                        "and return after it")
        expected = len(outputs_of(self.method))
        if expected == 0 and stmt.values:
            self.report("E032", stmt, f"method `{self.method.name}` declares no outputs but returns a value",
                        "declare the output type: `fn name(...) -> f32[]:`")
        elif expected and len(stmt.values) != expected and not (expected > 1 and len(stmt.values) == 1):
            # one value for several outputs: a call's several outputs, which inference checks
            self.report("E032", stmt, f"`{self.method.name}` declares {expected} output{'s' if expected > 1 else ''}"
                        f" but returns {len(stmt.values)}", "return one value per declared output, in order")
        for value in stmt.values:
            self.expr(value)

    def stmt_ExprStmt(self, stmt: n.ExprStmt) -> None:
        expr = stmt.expr
        if not isinstance(expr, n.Call):
            self.report("E031", stmt, "this expression does nothing", "assign it to a name, or remove it")
        self.expr(expr, statement=True)

    def stmt_Pass(self, stmt) -> None:
        pass

    def stmt_Break(self, stmt) -> None:
        if not self.loop_depth:
            self.report("E031", stmt, "`break` outside a loop")

    stmt_Continue = stmt_Break

    def stmt_If(self, stmt: n.If) -> None:
        self.expr(stmt.test)
        self.if_depth += 1
        self.statements(stmt.body)
        self.statements(stmt.orelse)
        self.if_depth -= 1

    def stmt_For(self, stmt: n.For) -> None:
        if stmt.target != THROWAWAY:
            self._check_target(stmt, stmt.target)
        if not is_call_to(stmt.iter, "range"):
            if stmt.static:
                self.report("E033", stmt.iter, "a `static for` runs over `range(...)` of construction-time bounds",
                            "drop `static` to loop over a tensor's rows in the graph")
            self.expr(stmt.iter)  # `for row in x:` runs over x's first axis, as a graph loop
        else:
            # `range` in a loop header is syntax: a local called `range` does not change it.
            call = stmt.iter
            assert isinstance(call, n.Call)  # is_call_to said so
            self.module_scope.check_arguments(call, OPS["range"])
            self.analysis.calls[call] = CallInfo(kind="op", op=OPS["range"])
            for arg in (*call.args, *(k.value for k in call.keywords)):
                self._argument(arg)
            if stmt.static:
                for arg in (*call.args, *(k.value for k in call.keywords)):
                    self._check_static_range_arg(arg)
        self._loop_body(stmt.body, graph=not stmt.static)

    def _loop_body(self, body: tuple, graph: bool) -> None:
        self.loop_depth += 1
        if graph:
            jumps = any(isinstance(s, (n.Break, n.Continue)) for s in walk(body))
            self.graph_loops.append(_GraphLoop(always_returns(body) and not jumps, jumps, self.if_depth))
        self.statements(body)
        del self.graph_loops[len(self.graph_loops) - graph:]
        self.loop_depth -= 1

    def _check_static_range_arg(self, arg: n.Node) -> None:
        for node in walk(arg):
            if isinstance(node, n.Name) and self.analysis.refs.get(node, Ref("local")).kind != "static_param":
                self.report("E033", node, f"`static for` needs bounds known at construction; `{node.id}` is not",
                            "use an `int` constructor parameter or a literal, or drop `static` for a graph loop")

    def stmt_While(self, stmt: n.While) -> None:
        self.expr(stmt.test)
        self._loop_body(stmt.body, graph=True)

    def stmt_With(self, stmt: n.With) -> None:
        if is_call_to(stmt.context, "name_scope"):
            self._name_scope(stmt)
        elif not is_call_to(stmt.context, "GradientTape"):
            self.report("E031", stmt.context, "`with` opens a gradient tape or a name scope",
                        'write `with GradientTape() as tape:` or `with name_scope("block"):`')
        elif stmt.name is None:
            self.report("E031", stmt, "a gradient tape needs a name", "write `with GradientTape() as tape:`")
        else:
            self._check_target(stmt, stmt.name)
            self.expr(stmt.context)
        self.statements(stmt.body)

    def _name_scope(self, stmt: n.With) -> None:
        """`with name_scope("block"):` groups the ops of its body under `block` (tf.name_scope)."""
        call = stmt.context
        assert isinstance(call, n.Call)  # stmt_With comes here for a call to `name_scope`
        arg = call.args[0] if len(call.args) == 1 and not call.keywords else None
        if not isinstance(arg, n.StringLit):
            self.report("E023", call, "`name_scope` takes one string literal", 'write `with name_scope("block"):`')
        elif not _SCOPE_NAME.fullmatch(arg.value):
            self.report("E023", arg, f"{arg.value!r} is not a name TensorFlow takes for a scope",
                        "use letters, digits and `_ . - / >`, starting with a letter, digit or `.`")
        elif stmt.name is not None:
            self.report("E031", stmt, "a name scope is not a value", 'write `with name_scope("block"):` without `as`')

    def stmt_Assert(self, stmt: n.Assert) -> None:
        self.expr(stmt.test)
        if stmt.message is not None and not isinstance(stmt.message, n.StringLit):
            self.report("E023", stmt.message, "an `assert` message is a string literal",
                        'write `assert x > 0.0, "x must be positive"`')

    # expressions -------------------------------------------------------------------------------

    def expr(self, node: n.Node, statement: bool = False) -> None:
        if isinstance(node, n.Call):
            self.expr_Call(node, statement)
        elif type(node) in EXPRESSIONS:
            self.dispatch("expr_", type(node), node)
        else:  # slices, new axes and ellipses inside a subscript
            self._children(node)

    def _children(self, node: n.Node) -> None:
        """The names and calls in an expression that needs no check of its own."""
        for name in n.child_fields(node):
            for child in children(getattr(node, name)):
                self.expr(child)

    expr_IntLit = expr_FloatLit = expr_StringLit = expr_BoolLit = _children
    expr_BinOp = expr_Compare = expr_BoolOp = expr_UnaryOp = expr_Subscript = expr_IfExp = _children

    def expr_Name(self, node: n.Name) -> None:
        ref = self.resolve(node.id)
        if ref is None:
            self._unknown_name(node)
            return
        if ref.kind == "submodule":
            self.report("E016", node, f"submodule `{node.id}` is not a value",
                        f"call it: `{node.id}(x)` or `{node.id}.method(x)`")
        elif ref.kind == "dtype":
            self.report("E016", node, f"`{node.id}` is a dtype, not a value",
                        f"dtypes are arguments of ops, e.g. cast(x, {node.id}) or zeros([3], dtype={node.id})")
        elif ref.kind == "method":
            self.report("E016", node, f"method `{node.id}` is not a value", f"call it: `{node.id}(...)`")
        self.analysis.refs[node] = ref

    def _unknown_name(self, node: n.Name) -> None:
        if node.id in PYTHON_ONLY:
            self.report("E037", node, f"`{node.id}` is Python, not a TF op", PYTHON_ONLY[node.id])
            return
        if node.id == THROWAWAY:
            self.report("E010", node, "`_` is a throwaway name: it is never read", "name the loop variable to read it")
            return
        if node.id in self.outer_names:
            self.report("E010", node, f"`{node.id}` is a name of the enclosing method, not of local function "
                        f"`{self.method.name}`", f"pass it in as an input: `fn {self.method.name}(..., {node.id}: ...)`")
            return
        candidates = [*self.locals, *self.inputs, *self.info.params, *self.info.variables, *DTYPES]
        hint = suggest(node.id, candidates)
        if node.id in OPS or node.id in INITIALIZERS:
            hint = f"`{node.id}` is an operation: call it, e.g. `{node.id}(...)`"
        self.report("E010", node, f"unknown name `{node.id}`", hint)

    def resolve(self, name: str) -> Ref | None:
        if name in self.inputs:
            return Ref("input", self.inputs[name])
        if name in self.locals:  # with where it is first bound (`_`, never read, has none)
            return Ref(self.locals[name], self.analysis.local_definitions[self.method].get(name))
        member = self.info.member(name)
        if isinstance(member, n.ModuleParam):
            return Ref("static_param" if static_python_type(member.type) else "tensor_param", member)
        if isinstance(member, n.VarDecl):
            return Ref("variable", member)
        if isinstance(member, n.SubDecl):
            return Ref("submodule", member)
        if isinstance(member, n.Method):
            return Ref("method", member)
        if name in DTYPES:
            return Ref("dtype")
        return None

    def expr_Call(self, call: n.Call, statement: bool = False, assigned_to: str | None = None) -> None:
        """`statement`: the call is a statement of its own; `assigned_to`: it is the whole value of an
        assignment to that name (where `v = xs.pop()` may stand)."""
        func = call.func
        if isinstance(func, n.Name):
            self._call_name(call, func, statement)
        elif isinstance(func, n.Attribute) and isinstance(func.value, n.Name):
            self._call_method(call, func.value, func.attr, statement, assigned_to)
        elif isinstance(func, n.Attribute) and isinstance(func.value, n.Attribute) and record_member(self, func.value):
            check_member_call(self, call, func.value, func.attr)
        elif (root := root_name(func)) in PYTHON_ONLY:
            self.report("E037", func, f"`{root}` is Python, not a TF op", PYTHON_ONLY[root])
        else:
            self.report("E031", func, "only named operations and methods can be called",
                        "call an op by name, e.g. `reduce_sum(x)`, or a method, e.g. `x.assign(v)`")
        for arg in call.args:
            self._argument(arg)
        for kw in call.keywords:
            self._argument(kw.value)

    def _argument(self, arg: n.Node) -> None:
        if isinstance(arg, n.Name) and arg.id in DTYPES and (ref := self.resolve(arg.id)) is not None and ref.kind == "dtype":
            self.analysis.refs[arg] = Ref("dtype")
            return
        self.expr(arg)

    def _call_name(self, call: n.Call, func: n.Name, statement: bool) -> None:
        function = self.local_functions.get(func.id)
        if function is not None:
            self._check_method_call(call, func.id, function)
            self.analysis.calls[call] = CallInfo(kind="local_function", method=func.id)
            self.analysis.refs[func] = Ref("local_function", function)
            return
        if any(isinstance(s, n.LocalFunction) and s.function.name == func.id for s in own_nodes(self.method.body)):
            self.report("E010", func, f"local function `{func.id}` is called before its definition",
                        f"define `fn {func.id}(...)` above its first call")
            return
        ref = self.resolve(func.id)
        if ref is not None and ref.kind == "method":
            assert isinstance(ref.decl, n.Method)  # resolve pairs each kind with its declaration
            self._check_method_call(call, func.id, ref.decl)
            self.analysis.calls[call] = CallInfo(kind="self_method", method=func.id)
            return
        if ref is not None and ref.kind == "submodule":
            assert isinstance(ref.decl, n.SubDecl)
            self._call_submodule(call, ref.decl, "call")
            return
        if ref is not None:
            self.report("E031", func, f"`{func.id}` is a {ref.kind.replace('_', ' ')}, not an operation",
                        "only ops, methods and submodules can be called")
            return
        if ref is None and func.id == REGULARIZATION_LOSSES:
            self._regularization_losses(call, None)
            return
        op = OPS.get(func.id)
        if op is None:
            self._unknown_op(func)
            return
        self.module_scope.check_arguments(call, op)
        self.analysis.calls[call] = CallInfo(kind="op", op=op)

    def _unknown_op(self, func: n.Name) -> None:
        if func.id in PYTHON_ONLY:
            self.report("E037", func, f"`{func.id}` is Python, not a TF op", PYTHON_ONLY[func.id])
        elif func.id in INITIALIZERS:
            self.report("E036", func, f"`{func.id}` is a variable initializer",
                        "declare a variable in the module (`var w: f32[3] = normal()`); methods cannot create them")
        elif func.id in self.analysis.modules or func.id in library_index():
            self.report("E036", func, f"cannot build module `{func.id}` inside a method",
                        f"declare it in the module: `sub {func.id.lower()} = {func.id}(...)`")
        else:
            self.report("E012", func, f"unknown operation `{func.id}`",
                        suggest(func.id, OPS) or "see the op reference in docs/language.md")

    def _check_method_call(self, call: n.Call, label: str, target: n.Method) -> None:
        params = [(i.name, True) for i in target.inputs]
        check_call_shape(self.report, call, label, params, call.args, call.keywords)
        if target is self.method or (target.overload is not None and target.overload == self.method.overload):
            self.report("E031", call, f"method `{target.overload or target.name}` calls itself",
                        "tf.function methods cannot recurse")

    def _call_submodule(self, call: n.Call, sub: n.SubDecl, method_name: str) -> None:
        target = self.analysis.modules.get(sub.module)
        if target is None:
            return
        if target.is_optimizer:
            self._call_optimizer(call, sub, method_name)
            return
        method = target.callable_method(method_name)
        if method is None and method_name == REGULARIZATION_LOSSES:
            self._regularization_losses(call, sub.name)
            return
        if method is None:
            self.report("E030", call, f"module `{sub.module}` has no method `{method_name}`",
                        suggest(method_name, target.methods) or f"methods: {', '.join(target.methods) or 'none'}")
            return
        self._check_method_call(call, f"{sub.name}.{method_name}", method)
        self.analysis.calls[call] = CallInfo(kind="sub_method", method=method_name, receiver=sub.name)

    def _regularization_losses(self, call: n.Call, receiver: str | None) -> None:
        """`regularization_losses()`, `sub.regularization_losses()`: the generated sum of penalties."""
        check_call_shape(self.report, call, REGULARIZATION_LOSSES, [], call.args, call.keywords)
        self.analysis.calls[call] = CallInfo(kind="regularization_losses", receiver=receiver)

    def _call_optimizer(self, call: n.Call, sub: n.SubDecl, method_name: str) -> None:
        info = check_optimizer_call(self, call, sub.name, method_name)
        if info is not None:
            self.analysis.calls[call] = info

    def _call_method(self, call: n.Call, receiver: n.Name, attr: str, statement: bool,
                     assigned_to: str | None = None) -> None:
        ref = self.resolve(receiver.id)
        if ref is None:
            self._unknown_name(receiver)
            return
        self.analysis.refs[receiver] = ref
        if ref.kind == "submodule":
            assert isinstance(ref.decl, n.SubDecl)  # resolve pairs each kind with its declaration
            self._call_submodule(call, ref.decl, attr)
            return
        if ref.kind == "tape" and attr == "gradient":
            self.analysis.calls[call] = check_gradient(self, call, receiver.id)
            return
        kind = {"variable": "variable", "array": "array", "tape": "tape"}.get(ref.kind)
        methods = VALUE_METHODS.get(kind or "", {})
        if attr not in methods:
            what = kind or ref.kind.replace("_", " ")
            article = "an" if what[0] in "aeiou" else "a"
            hint = suggest(attr, methods) or (f"methods: {', '.join(methods)}" if methods
                                              else "call an op on it instead, e.g. `reduce_sum(x)`")
            if attr in VALUE_METHODS["array"] and kind is None:  # a Python list habit: `xs = []; xs.append(v)`
                hint = f"declare a typed list to append to: `{receiver.id}: list[f32[]] = []` (a TensorArray)"
            self.report("E030", call.func, f"{article} {what} has no method `{attr}`", hint)
            return
        low, high = methods[attr]
        if not low <= len(call.args) <= high or call.keywords:
            self.report("E020", call, f"`{receiver.id}.{attr}` takes {low if low == high else f'{low}-{high}'}"
                        f" positional argument{'s' if high != 1 else ''}", None)
        if kind == "array" and attr in ARRAY_UPDATES:
            if not statement:
                self.report("E031", call, f"`{receiver.id}.{attr}(...)` updates the list and has no value",
                            "use it as a statement of its own")
            self.analysis.calls[call] = CallInfo(kind="array_update", method=attr, receiver=receiver.id)
            return
        if kind == "array" and attr == ARRAY_POP:
            self._check_pop(call, receiver.id, statement, assigned_to)
            self.analysis.calls[call] = CallInfo(kind="array_update", method=attr, receiver=receiver.id)
            return
        self.analysis.calls[call] = CallInfo(kind="value_method", method=attr, receiver=receiver.id)

    def _check_pop(self, call: n.Call, array: str, statement: bool, assigned_to: str | None) -> None:
        """`xs.pop()` changes `xs`, so it is a statement or the whole value of an assignment (the
        generated code rebinds the list and the name together), never inside a larger expression."""
        if not statement and assigned_to is None:
            self.report("E031", call, f"`{array}.pop()` changes the list: it cannot be part of an expression",
                        f"take the element first, on a line of its own: `last = {array}.pop()`")
        elif assigned_to == array:
            self.report("E031", call, f"`{array} = {array}.pop()` would replace the list with its last element",
                        f"assign the element to another name: `last = {array}.pop()`")

    def expr_Attribute(self, node: n.Attribute) -> None:
        if record_member(self, node):
            return
        root = root_name(node)
        if root in PYTHON_ONLY and self.resolve(root) is None:
            self.report("E037", node, f"`{root}` is Python, not a TF op", PYTHON_ONLY[root])
            return
        if isinstance(node.value, n.Name) and (ref := self.resolve(node.value.id)) is not None \
                and ref.kind in ("local", "input"):
            self.expr(node.value)  # `out.mean`: an output of a method's several, typed by inference
            return
        self.report("E030", node, f"`.{node.attr}` is not available on values",
                    "call a method (`x.assign(v)`) or an op (`shape(x)`)")

    def expr_ListLit(self, node: n.ListLit) -> None:
        for item in node.items:
            self.expr(item)


class _GraphLoop(NamedTuple):
    returns: bool  # every path through the body ends in `return`, none by `break` or `continue`
    jumps: bool  # the body holds a `break` or `continue`
    if_depth: int  # how many `if`s hold the loop


def _autograph_returns(loops: list[_GraphLoop]) -> bool:
    """Whether AutoGraph takes a `return` inside these graph loops (outermost first), as measured: the
    innermost loop's body returns on every path (a `break` or `continue` is a branch that does not,
    and so is an `if` with a `return` in one branch only); each outer loop holds the next one outside
    any `if` and has no `break` or `continue`. A loop that returns must run at least once (AutoGraph
    asserts it at run time)."""
    nested_plainly = all(outer.if_depth == inner.if_depth and not outer.jumps for outer, inner in zip(loops, loops[1:]))
    return loops[-1].returns and nested_plainly


def always_returns(body: tuple) -> bool:
    """True if every path through `body` ends in a `return` (a loop may run zero times)."""
    for stmt in body:
        if isinstance(stmt, n.Return):
            return True
        if isinstance(stmt, n.If) and always_returns(stmt.body) and always_returns(stmt.orelse):
            return True
        if isinstance(stmt, n.With) and always_returns(stmt.body):
            return True
    return False


def _bindings(body: tuple):
    """(name, where it is bound) for each statement in `body` that binds a local name, in the order a
    reader meets them: an assignment, a `for` target, a `with ... as` name (the statement), or a name
    unpacked into (`a, b = ...`: its identifier)."""
    for stmt in own_nodes(body):
        if isinstance(stmt, (n.Assign, n.For)):
            yield stmt.target, stmt
        elif isinstance(stmt, n.Unpack):
            yield from ((target.text, target) for target in stmt.targets if target.text != THROWAWAY)
        elif isinstance(stmt, n.With) and stmt.name is not None:
            yield stmt.name, stmt
