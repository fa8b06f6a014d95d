"""Name and structure checks, and the resolution table the generator reads.

`check(program)` walks every module once. It never mutates nodes: what it learns (what each name and
call refers to) goes into `Analysis.refs` and `Analysis.calls`, keyed by node identity.
"""

from __future__ import annotations

import difflib
import keyword
import math
from dataclasses import dataclass, field
from typing import Iterable, Literal

from . import nodes as n
from .diagnostics import Diagnostic, error
from .library import OPTIMIZERS, BuiltinModule
from .ops import ARRAY_UPDATES, DTYPES, INITIALIZERS, OPS, PYTHON_ONLY, REQUIRED, VALUE_METHODS, Op, static_python_type

RefKind = Literal["static_param", "tensor_param", "variable", "submodule", "method", "local", "input",
                  "array", "tape", "dtype", "named_dim"]
CallKind = Literal["op", "initializer", "self_method", "sub_method", "value_method", "array_update",
                   "optimizer_minimize"]

METHOD_ATTRS = {"serving": "make this method the SavedModel's serving_default signature",
                "jit": "compile this method with XLA (tf.function(jit_compile=True))"}

# Names generated code relies on, and tf.Module's own attributes: a declaration may not take them.
RESERVED = frozenset({"self", "tf", "np", "super", "range", "name", "name_scope", "variables",
                      "trainable_variables", "non_trainable_variables", "submodules", "with_name_scope"})


@dataclass(frozen=True)
class Ref:
    kind: RefKind
    decl: object = None


@dataclass(frozen=True)
class CallInfo:
    kind: CallKind
    op: Op | None = None
    method: str | None = None
    receiver: str | None = None


@dataclass
class ModuleInfo:
    """What a module declares, by name; `decl` is None for built-in (optimizer) modules."""

    name: str
    decl: n.ModuleDef | None
    builtin: BuiltinModule | None = None
    params: dict[str, n.ModuleParam] = field(default_factory=dict)
    variables: dict[str, n.VarDecl] = field(default_factory=dict)
    submodules: dict[str, n.SubDecl] = field(default_factory=dict)
    methods: dict[str, n.Method] = field(default_factory=dict)

    @property
    def is_optimizer(self) -> bool:
        return self.builtin is not None and self.builtin.kind == "optimizer"

    def member(self, name: str) -> object | None:
        for table in (self.params, self.variables, self.submodules, self.methods):
            if name in table:
                return table[name]
        return None


@dataclass
class Analysis:
    """The checker's result: the program, every module by name, and how each name/call resolved."""

    program: n.Program
    modules: dict[str, ModuleInfo]
    library: tuple[n.ModuleDef, ...] = ()
    refs: dict[n.Node, Ref] = field(default_factory=dict)
    calls: dict[n.Node, CallInfo] = field(default_factory=dict)
    types: dict[n.Node, object] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def user_modules(self) -> tuple[n.ModuleDef, ...]:
        return self.program.modules

    def dependencies(self, module: n.ModuleDef) -> list[str]:
        """Names of modules `module` holds, directly or not, in construction order."""
        order: list[str] = []
        self._visit_deps(module.name, order, set())
        return [m for m in order if m != module.name]

    def _visit_deps(self, name: str, order: list[str], seen: set[str]) -> None:
        if name in seen or name not in self.modules:
            return
        seen.add(name)
        info = self.modules[name]
        for sub in info.submodules.values():
            self._visit_deps(sub.module, order, seen)
        order.append(name)


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.7)
    return f"did you mean `{matches[0]}`?" if matches else None


def check(program: n.Program, library: tuple[n.ModuleDef, ...] = ()) -> Analysis:
    """Check `program` (with the library modules it may use) and resolve its names and calls."""
    analysis = Analysis(program=program, modules={})
    _collect_modules(analysis, program.modules, library)
    for module in program.modules:
        _ModuleChecker(analysis, analysis.modules[module.name]).run()
    used = set()
    for module in program.modules:
        used.update(analysis.dependencies(module))
    analysis.library = tuple(m for m in library if m.name in used and m.name not in _names(program.modules))
    for module in analysis.library:
        _ModuleChecker(analysis, analysis.modules[module.name]).run()
    _check_cycles(analysis)
    _check_literals(analysis)
    return analysis


_I64_MAX = 2**63 - 1


def _check_literals(analysis: Analysis) -> None:
    """Numbers TensorFlow cannot hold are errors here, not overflow surprises at trace time."""
    for node in walk(analysis.program):
        if isinstance(node, n.IntLit) and node.value > _I64_MAX:
            analysis.diagnostics.append(error("E023", node.span, "integer literal does not fit in 64 bits",
                                              f"the largest i64 is {_I64_MAX}"))
        elif isinstance(node, n.FloatLit) and not math.isfinite(node.value):
            analysis.diagnostics.append(error("E023", node.span, "number literal is too large for a float",
                                              "the largest f64 is about 1.8e308"))
        elif isinstance(node, n.Dim) and node.kind == "fixed" and node.size > _I64_MAX:
            analysis.diagnostics.append(error("E018", node.span, "dimension does not fit in 64 bits"))


def _names(modules: Iterable[n.ModuleDef]) -> set[str]:
    return {m.name for m in modules}


def _collect_modules(analysis: Analysis, user: tuple[n.ModuleDef, ...], library: tuple[n.ModuleDef, ...]) -> None:
    for builtin in OPTIMIZERS.values():
        analysis.modules[builtin.name] = ModuleInfo(name=builtin.name, decl=None, builtin=builtin)
    for module in library:
        analysis.modules[module.name] = _module_info(module)
    seen: dict[str, n.ModuleDef] = {}
    for module in user:
        if module.name in seen:
            analysis.diagnostics.append(_duplicate(module.name, "module", module.span, seen[module.name].span))
            continue
        if module.name in OPTIMIZERS:
            analysis.diagnostics.append(error("E014", module.span, f"`{module.name}` is a built-in optimizer",
                                              "choose another module name"))
        _check_declared_name(analysis.diagnostics, module.name, module.span, "module")
        seen[module.name] = module
        analysis.modules[module.name] = _module_info(module)


def _module_info(module: n.ModuleDef) -> ModuleInfo:
    info = ModuleInfo(name=module.name, decl=module)
    for param in module.params:
        info.params.setdefault(param.name, param)
    for member in module.members:
        table = {n.VarDecl: info.variables, n.SubDecl: info.submodules, n.Method: info.methods}[type(member)]
        table.setdefault(member.name, member)
    return info


def _duplicate(name: str, what: str, span: n.Span, first: n.Span) -> Diagnostic:
    return error("E011", span, f"duplicate {what} `{name}`", f"first declared at line {first.line}")


def _check_declared_name(out: list[Diagnostic], name: str, span: n.Span, what: str) -> None:
    if name.startswith("_"):
        out.append(error("E014", span, f"{what} name `{name}` starts with an underscore",
                         "names starting with `_` are reserved for generated code"))
    elif keyword.iskeyword(name) or keyword.issoftkeyword(name):
        out.append(error("E014", span, f"`{name}` is a Python keyword and cannot name a {what}",
                         f"choose another name, e.g. `{name}_value`"))
    elif name in RESERVED:
        out.append(error("E014", span, f"`{name}` is reserved and cannot name a {what}",
                         f"choose another name, e.g. `{name}_value`"))
    elif not name.isascii():
        out.append(error("E014", span, f"{what} name `{name}` is not ASCII", "use ASCII letters, digits and `_`"))


def _check_cycles(analysis: Analysis) -> None:
    for module in analysis.program.modules:
        if _reaches(analysis, module.name, module.name, set()):
            analysis.diagnostics.append(error("E038", module.span, f"module `{module.name}` contains itself",
                                              "a module cannot hold itself through its submodules"))


def _reaches(analysis: Analysis, start: str, target: str, seen: set[str]) -> bool:
    info = analysis.modules.get(start)
    if info is None:
        return False
    for sub in info.submodules.values():
        if sub.module == target:
            return True
        if sub.module not in seen:
            seen.add(sub.module)
            if _reaches(analysis, sub.module, target, seen):
                return True
    return False


class _ModuleChecker:
    """Checks one module: its declarations, then each method body."""

    def __init__(self, analysis: Analysis, info: ModuleInfo):
        self.analysis = analysis
        self.info = info
        self.module = info.decl
        self.out = analysis.diagnostics

    def err(self, code: str, node: n.Node | n.Span, message: str, hint: str | None = None) -> None:
        span = node if isinstance(node, n.Span) else node.span
        self.out.append(error(code, span, message, hint))

    def run(self) -> None:
        self._check_member_names()
        for param in self.module.params:
            self._check_param(param)
        for member in self.module.members:
            {n.VarDecl: self._check_var, n.SubDecl: self._check_sub, n.Method: self._check_method}[type(member)](member)

    # declarations ------------------------------------------------------------------------------

    def _check_member_names(self) -> None:
        seen: dict[str, n.Node] = {}
        for decl in (*self.module.params, *self.module.members):
            kind = {n.ModuleParam: "parameter", n.VarDecl: "variable", n.SubDecl: "submodule",
                    n.Method: "method"}[type(decl)]
            if decl.name in seen:
                self.out.append(_duplicate(decl.name, kind, decl.span, seen[decl.name].span))
            else:
                seen[decl.name] = decl
            _check_declared_name(self.out, decl.name, decl.span, kind)

    def _check_param(self, param: n.ModuleParam) -> None:
        type_ = param.type
        if static_python_type(type_):
            if type_.shape is not None:
                self.err("E017", type_, f"`{type_.dtype}` is a Python value type and takes no shape",
                         f"for a tensor parameter write e.g. `f32{_shape_text(type_)}`")
        else:
            self._check_tensor_type(type_, allow_named=False)
        if param.default is not None:
            self._check_static_expr(param.default, allow_params=False)

    def _check_var(self, var: n.VarDecl) -> None:
        if var.type.shape is None:
            self.err("E017", var.type, f"a variable needs a tensor type, not `{var.type.dtype}`",
                     "write e.g. `f32[]` for a scalar or `f32[3, 4]`")
        else:
            self._check_tensor_type(var.type, allow_named=False)
        init = var.init
        if isinstance(init, n.Call) and isinstance(init.func, n.Name) and init.func.id in INITIALIZERS:
            op = INITIALIZERS[init.func.id]
            self.analysis.calls[init] = CallInfo(kind="initializer", op=op)
            self._check_arguments(init, op, static_only=True)
            return
        if isinstance(init, n.Call) and isinstance(init.func, n.Name) and init.func.id not in OPS:
            self.err("E034", init.func, f"unknown initializer `{init.func.id}`",
                     suggest(init.func.id, INITIALIZERS) or f"initializers: {', '.join(sorted(INITIALIZERS))}")
            return
        self._check_static_expr(init, allow_params=True, allow_tensor_params=True)

    def _check_sub(self, sub: n.SubDecl) -> None:
        target = self.analysis.modules.get(sub.module)
        if target is None:
            self.err("E013", sub, f"unknown module `{sub.module}`",
                     suggest(sub.module, self.analysis.modules) or "declare it in this file or use a library module")
            return
        params = _module_params(target)
        self._check_call_shape(sub, sub.module, params, sub.args, sub.keywords)
        for arg in (*sub.args, *(k.value for k in sub.keywords)):
            self._check_static_expr(arg, allow_params=True, allow_tensor_params=True)

    def _check_method(self, method: n.Method) -> None:
        for attr in method.attrs:
            if attr.id not in METHOD_ATTRS:
                self.err("E035", attr, f"unknown method attribute `@{attr.id}`",
                         suggest(attr.id, METHOD_ATTRS) or f"known: {', '.join('@' + a for a in METHOD_ATTRS)}")
        seen: dict[str, n.MethodInput] = {}
        for inp in method.inputs:
            if inp.name in seen:
                self.out.append(_duplicate(inp.name, "input", inp.span, seen[inp.name].span))
            seen[inp.name] = inp
            _check_declared_name(self.out, inp.name, inp.span, "input")
            if inp.name in self.info.params or self.info.member(inp.name) is not None:
                self.err("E011", inp, f"input `{inp.name}` hides the module member of the same name",
                         "rename the input")
            self._check_signature_type(inp.type)
        for out in outputs_of(method):
            self._check_signature_type(out.type)
        if isinstance(method.returns, tuple):
            names: dict[str, n.NamedOutput] = {}
            for out in method.returns:
                if out.name in names:
                    self.out.append(_duplicate(out.name, "output", out.span, names[out.name].span))
                names[out.name] = out
        _BodyChecker(self, method).run()

    # types -------------------------------------------------------------------------------------

    def _check_signature_type(self, type_: n.TensorType) -> None:
        if type_.shape is None:
            self.err("E017", type_, f"a method input or output needs a tensor type, not `{type_.dtype}`",
                     "write e.g. `f32[]` for a scalar or `f32[N, 3]`")
            return
        self._check_tensor_type(type_, allow_named=True)

    def _check_tensor_type(self, type_: n.TensorType, allow_named: bool) -> None:
        if type_.dtype not in DTYPES:
            self.err("E017", type_, f"unknown dtype `{type_.dtype}`",
                     suggest(type_.dtype, DTYPES) or f"dtypes: {', '.join(DTYPES)}")
        for dim in type_.shape or ():
            self._check_dim(dim, allow_named)

    def _check_dim(self, dim: n.Dim, allow_named: bool) -> None:
        if dim.kind != "named":
            return
        param = self.info.params.get(dim.name)
        if param is not None:
            if static_python_type(param.type) is not int:
                self.err("E018", dim, f"dimension `{dim.name}` is a `{param.type.dtype}` parameter",
                         "only `int` constructor parameters can size a dimension")
            else:
                self.analysis.refs[dim] = Ref("static_param", param)
            return
        if not allow_named:
            self.err("E018", dim, f"dimension `{dim.name}` is not a constructor parameter",
                     "a variable's shape is fixed at construction: use a number or an `int` parameter")
        else:
            self.analysis.refs[dim] = Ref("named_dim")

    # static expressions ------------------------------------------------------------------------

    def _check_static_expr(self, expr: n.Node, allow_params: bool, allow_tensor_params: bool = False) -> None:
        """Literals, arithmetic, and (where allowed) constructor parameters: values known at construction."""
        for node in walk(expr):
            if isinstance(node, n.Name):
                param = self.info.params.get(node.id) if allow_params else None
                if param is None:
                    where = "constructor parameters and literals" if allow_params else "literals"
                    self.err("E022", node, f"`{node.id}` is not known at construction", f"use {where} here")
                elif not static_python_type(param.type) and not allow_tensor_params:
                    self.err("E022", node, f"tensor parameter `{node.id}` cannot be used here",
                             "only `int`, `float`, `bool` and `str` parameters are static")
                else:
                    kind = "static_param" if static_python_type(param.type) else "tensor_param"
                    self.analysis.refs[node] = Ref(kind, param)
            elif isinstance(node, (n.Call, n.Subscript, n.Attribute)):
                self.err("E022", node, "only literals and constructor parameters can be used here",
                         "compute values in a method, or pass them as constructor parameters")
                return

    # calls -------------------------------------------------------------------------------------

    def _check_call_shape(self, node: n.Node, what: str, params: list[tuple[str, bool]],
                          args: tuple, keywords: tuple, variadic: bool = False) -> None:
        """Arity and keyword names, for ops, methods and module constructors alike."""
        names = [p for p, _ in params]
        if len(args) > len(params) and not variadic:
            self.err("E020", node, f"`{what}` takes at most {len(params)} positional argument"
                     f"{'s' if len(params) != 1 else ''}, got {len(args)}",
                     f"parameters: {', '.join(names) or 'none'}")
        given = set(names[: len(args)])
        for kw in keywords:
            if kw.name not in names:
                self.err("E021", kw, f"`{what}` has no parameter `{kw.name}`",
                         suggest(kw.name, names) or f"parameters: {', '.join(names) or 'none'}")
            elif kw.name in given:
                self.err("E020", kw, f"`{kw.name}` is given twice", "pass it by position or by name, not both")
            given.add(kw.name)
        missing = [p for p, required in params if required and p not in given]
        if missing:
            self.err("E020", node, f"`{what}` is missing argument{'s' if len(missing) > 1 else ''} "
                     f"{', '.join(f'`{m}`' for m in missing)}", f"parameters: {', '.join(names)}")

    def _check_arguments(self, call: n.Call, op: Op, static_only: bool = False) -> None:
        params = [(p.name, p.required) for p in op.params]
        self._check_call_shape(call, op.name, params, call.args, call.keywords, variadic=op.variadic)
        if static_only:
            for arg in (*call.args, *(k.value for k in call.keywords)):
                self._check_static_expr(arg, allow_params=True)


def _module_params(info: ModuleInfo) -> list[tuple[str, bool]]:
    if info.builtin is not None:
        return [(p.name, False) for p in info.builtin.params]
    return [(p.name, p.default is None) for p in info.decl.params]


def outputs_of(method: n.Method) -> tuple:
    if method.returns is None:
        return ()
    if isinstance(method.returns, tuple):
        return method.returns
    return (n.NamedOutput(span=method.returns.span, name="output_0", type=method.returns),)


def _shape_text(type_: n.TensorType) -> str:
    return "[" + ", ".join(str(d.size) if d.kind == "fixed" else (d.name or "?") for d in type_.shape or ()) + "]"


def walk(node: object):
    """Every node under `node`, itself first."""
    if isinstance(node, n.Node):
        yield node
        for name in type(node).model_fields:
            if name != "span":
                yield from walk(getattr(node, name))
    elif isinstance(node, tuple):
        for item in node:
            yield from walk(item)


class _BodyChecker:
    """Resolves every name and call in one method body; reports what cannot run in a tf.function."""

    def __init__(self, parent: _ModuleChecker, method: n.Method):
        self.p = parent
        self.info = parent.info
        self.analysis = parent.analysis
        self.method = method
        self.inputs = {i.name: i for i in method.inputs}
        self.locals: dict[str, RefKind] = {}
        self.loop_depth = 0
        self._collect_locals(method.body)

    def run(self) -> None:
        self.statements(self.method.body)
        if self.method.returns is not None and not any(isinstance(s, n.Return) for s in walk(self.method.body)):
            self.p.err("E039", self.method, f"method `{self.method.name}` declares outputs but never returns",
                       "end the body with `return ...`")

    def _collect_locals(self, body: tuple) -> None:
        # Flow-insensitive on purpose: AutoGraph decides definedness per branch at trace time.
        for stmt in walk(body):
            if isinstance(stmt, n.Assign):
                kind: RefKind = "local"
                if isinstance(stmt.declared, n.ListType) or _is_call_to(stmt.value, "TensorArray"):
                    kind = "array"
                self.locals.setdefault(stmt.target, kind)
            elif isinstance(stmt, n.For):
                self.locals.setdefault(stmt.target, "local")
            elif isinstance(stmt, n.With):
                self.locals.setdefault(stmt.name, "tape")

    # statements --------------------------------------------------------------------------------

    def statements(self, body: tuple) -> None:
        for stmt in body:
            getattr(self, "stmt_" + type(stmt).__name__)(stmt)

    def stmt_Assign(self, stmt: n.Assign) -> None:
        self._check_target(stmt, stmt.target)
        if stmt.declared is not None:
            self._check_local_type(stmt)
        if isinstance(stmt.value, n.ListLit) and isinstance(stmt.declared, n.ListType):
            if stmt.value.items:
                self.p.err("E031", stmt.value, "a typed list starts empty", "append items with `.append(x)`")
            return
        self.expr(stmt.value)

    def _check_local_type(self, stmt: n.Assign) -> None:
        declared = stmt.declared
        element = declared.element if isinstance(declared, n.ListType) else declared
        if element.dtype not in DTYPES or element.shape is None:
            self.p.err("E017", element, f"unknown dtype `{element.dtype}`",
                       suggest(element.dtype, DTYPES) or f"dtypes: {', '.join(DTYPES)}")
        elif isinstance(declared, n.ListType) and not isinstance(stmt.value, n.ListLit):
            self.p.err("E031", stmt.value, "a typed list must start as `[]`", "write `xs: list[f32[]] = []`")

    def _check_target(self, node: n.Node, target: str) -> None:
        _check_declared_name(self.p.out, target, node.span, "local")
        if target in self.inputs:
            self.p.err("E015", node, f"cannot assign to input `{target}`", f"assign to a new name, e.g. `{target}_2`")
            return
        member = self.info.member(target)
        if isinstance(member, n.ModuleParam):
            self.p.err("E015", node, f"cannot assign to constructor parameter `{target}`",
                       "constructor parameters are fixed; store changing state in a `var`")
        elif isinstance(member, n.VarDecl):
            self.p.err("E015", node, f"`{target}` is a variable: `=` would replace it",
                       f"update it in place with `{target}.assign(...)`")
        elif member is not None:
            self.p.err("E015", node, f"cannot assign to `{target}`", "it is a member of the module")

    def stmt_AugAssign(self, stmt: n.AugAssign) -> None:
        member = self.info.member(stmt.target)
        if isinstance(member, n.VarDecl):
            self.analysis.refs[stmt] = Ref("variable", member)
            if stmt.op not in "+-":
                self.p.err("E015", stmt, f"`{stmt.op}=` is not an in-place variable update",
                           f"write `{stmt.target}.assign({stmt.target} {stmt.op} ...)`")
        elif stmt.target in self.locals:
            self.analysis.refs[stmt] = Ref("local")
        else:
            self._check_target(stmt, stmt.target)
            if stmt.target not in self.inputs and member is None:
                self.p.err("E010", stmt, f"unknown name `{stmt.target}`", "assign it before updating it")
        self.expr(stmt.value)

    def stmt_Return(self, stmt: n.Return) -> None:
        expected = len(outputs_of(self.method))
        if expected == 0 and stmt.values:
            self.p.err("E032", stmt, f"method `{self.method.name}` declares no outputs but returns a value",
                       "declare the output type: `fn name(...) -> f32[]:`")
        elif expected and len(stmt.values) != expected:
            self.p.err("E032", stmt, f"`{self.method.name}` declares {expected} output{'s' if expected > 1 else ''}"
                       f" but returns {len(stmt.values)}", "return one value per declared output, in order")
        for value in stmt.values:
            self.expr(value)

    def stmt_ExprStmt(self, stmt: n.ExprStmt) -> None:
        expr = stmt.expr
        if not isinstance(expr, n.Call):
            self.p.err("E031", stmt, "this expression does nothing", "assign it to a name, or remove it")
        self.expr(expr, statement=True)

    def stmt_Pass(self, stmt) -> None:
        pass

    def stmt_Break(self, stmt) -> None:
        if not self.loop_depth:
            self.p.err("E031", stmt, "`break` outside a loop")

    stmt_Continue = stmt_Break

    def stmt_If(self, stmt: n.If) -> None:
        self.expr(stmt.test)
        self.statements(stmt.body)
        self.statements(stmt.orelse)

    def stmt_For(self, stmt: n.For) -> None:
        self._check_target(stmt, stmt.target)
        if not _is_call_to(stmt.iter, "range"):
            self.p.err("E031", stmt.iter, "a `for` loop runs over `range(...)`",
                       "write `for i in range(n):`; to loop over a tensor's rows use `range(shape(x)[0])`")
        else:
            self.expr(stmt.iter)
            if stmt.static:
                for arg in (*stmt.iter.args, *(k.value for k in stmt.iter.keywords)):
                    self._check_static_range_arg(arg)
        self.loop_depth += 1
        self.statements(stmt.body)
        self.loop_depth -= 1

    def _check_static_range_arg(self, arg: n.Node) -> None:
        for node in walk(arg):
            if isinstance(node, n.Name) and self.analysis.refs.get(node, Ref("local")).kind != "static_param":
                self.p.err("E033", node, f"`static for` needs bounds known at construction; `{node.id}` is not",
                           "use an `int` constructor parameter or a literal, or drop `static` for a graph loop")

    def stmt_While(self, stmt: n.While) -> None:
        self.expr(stmt.test)
        self.loop_depth += 1
        self.statements(stmt.body)
        self.loop_depth -= 1

    def stmt_With(self, stmt: n.With) -> None:
        if not _is_call_to(stmt.context, "GradientTape"):
            self.p.err("E031", stmt.context, "`with` opens a gradient tape",
                       "write `with GradientTape() as tape:`")
        else:
            self.expr(stmt.context)
        self.statements(stmt.body)

    # expressions -------------------------------------------------------------------------------

    def expr(self, node: n.Node, statement: bool = False) -> None:
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is not None:
            method(node, statement) if isinstance(node, n.Call) else method(node)
            return
        for name in type(node).model_fields:
            if name == "span":
                continue
            for child in _children(getattr(node, name)):
                self.expr(child)

    def expr_Name(self, node: n.Name) -> None:
        ref = self.resolve(node.id)
        if ref is None:
            self._unknown_name(node)
            return
        if ref.kind == "submodule":
            self.p.err("E016", node, f"submodule `{node.id}` is not a value",
                       f"call it: `{node.id}(x)` or `{node.id}.method(x)`")
        elif ref.kind == "method":
            self.p.err("E016", node, f"method `{node.id}` is not a value", f"call it: `{node.id}(...)`")
        self.analysis.refs[node] = ref

    def _unknown_name(self, node: n.Name) -> None:
        if node.id in PYTHON_ONLY:
            self.p.err("E037", node, f"`{node.id}` is Python, not a TF op", PYTHON_ONLY[node.id])
            return
        candidates = [*self.locals, *self.inputs, *self.info.params, *self.info.variables, *DTYPES]
        hint = suggest(node.id, candidates)
        if node.id in OPS or node.id in INITIALIZERS:
            hint = f"`{node.id}` is an operation: call it, e.g. `{node.id}(...)`"
        self.p.err("E010", node, f"unknown name `{node.id}`", hint)

    def resolve(self, name: str) -> Ref | None:
        if name in self.inputs:
            return Ref("input", self.inputs[name])
        if name in self.locals:
            return Ref(self.locals[name])
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

    def expr_Call(self, call: n.Call, statement: bool = False) -> None:
        func = call.func
        if isinstance(func, n.Name):
            self._call_name(call, func, statement)
        elif isinstance(func, n.Attribute) and isinstance(func.value, n.Name):
            self._call_method(call, func.value, func.attr, statement)
        elif _root_name(func) in PYTHON_ONLY:
            root = _root_name(func)
            self.p.err("E037", func, f"`{root}` is Python, not a TF op", PYTHON_ONLY[root])
        else:
            self.p.err("E031", func, "only named operations and methods can be called",
                       "call an op by name, e.g. `reduce_sum(x)`, or a method, e.g. `x.assign(v)`")
        for arg in call.args:
            self._argument(arg)
        for kw in call.keywords:
            self._argument(kw.value)

    def _argument(self, arg: n.Node) -> None:
        if isinstance(arg, n.Name) and arg.id in DTYPES and self.resolve(arg.id).kind == "dtype":
            self.analysis.refs[arg] = Ref("dtype")
            return
        self.expr(arg)

    def _call_name(self, call: n.Call, func: n.Name, statement: bool) -> None:
        ref = self.resolve(func.id)
        if ref is not None and ref.kind == "method":
            target = ref.decl
            self._check_method_call(call, func.id, target)
            self.analysis.calls[call] = CallInfo(kind="self_method", method=func.id)
            return
        if ref is not None and ref.kind == "submodule":
            self._call_submodule(call, ref.decl, "call")
            return
        if ref is not None:
            self.p.err("E031", func, f"`{func.id}` is a {ref.kind.replace('_', ' ')}, not an operation",
                       "only ops, methods and submodules can be called")
            return
        op = OPS.get(func.id)
        if op is None:
            self._unknown_op(func)
            return
        self.p._check_arguments(call, op)
        self.analysis.calls[call] = CallInfo(kind="op", op=op)

    def _unknown_op(self, func: n.Name) -> None:
        if func.id in PYTHON_ONLY:
            self.p.err("E037", func, f"`{func.id}` is Python, not a TF op", PYTHON_ONLY[func.id])
        elif func.id in INITIALIZERS:
            self.p.err("E036", func, f"`{func.id}` is a variable initializer",
                       "declare a variable in the module (`var w: f32[3] = normal()`); methods cannot create them")
        elif func.id in self.analysis.modules:
            self.p.err("E036", func, f"cannot build module `{func.id}` inside a method",
                       f"declare it in the module: `sub {func.id.lower()} = {func.id}(...)`")
        else:
            self.p.err("E012", func, f"unknown operation `{func.id}`",
                       suggest(func.id, OPS) or "see the op reference in docs/language.md")

    def _check_method_call(self, call: n.Call, label: str, target: n.Method) -> None:
        params = [(i.name, True) for i in target.inputs]
        self.p._check_call_shape(call, label, params, call.args, call.keywords)
        if target is self.method:
            self.p.err("E031", call, f"method `{target.name}` calls itself", "tf.function methods cannot recurse")

    def _call_submodule(self, call: n.Call, sub: n.SubDecl, method_name: str) -> None:
        target = self.analysis.modules.get(sub.module)
        if target is None:
            return
        if target.is_optimizer:
            self._call_optimizer(call, sub, method_name)
            return
        method = target.methods.get(method_name)
        if method is None:
            self.p.err("E030", call, f"module `{sub.module}` has no method `{method_name}`",
                       suggest(method_name, target.methods) or f"methods: {', '.join(target.methods) or 'none'}")
            return
        self._check_method_call(call, f"{sub.name}.{method_name}", method)
        self.analysis.calls[call] = CallInfo(kind="sub_method", method=method_name, receiver=sub.name)

    def _call_optimizer(self, call: n.Call, sub: n.SubDecl, method_name: str) -> None:
        if method_name != "minimize":
            self.p.err("E030", call, f"optimizer `{sub.name}` has no method `{method_name}`",
                       f"write `{sub.name}.minimize(loss, tape)`")
            return
        self.p._check_call_shape(call, f"{sub.name}.minimize", [("loss", True), ("tape", True)],
                                 call.args, call.keywords)
        tape = call.args[1] if len(call.args) > 1 else None
        if tape is not None and not (isinstance(tape, n.Name) and self.locals.get(tape.id) == "tape"):
            self.p.err("E023", tape, "the second argument of `minimize` is a gradient tape",
                       "compute the loss under `with GradientTape() as tape:` and pass `tape`")
        self.analysis.calls[call] = CallInfo(kind="optimizer_minimize", receiver=sub.name)

    def _call_method(self, call: n.Call, receiver: n.Name, attr: str, statement: bool) -> None:
        ref = self.resolve(receiver.id)
        if ref is None:
            self._unknown_name(receiver)
            return
        self.analysis.refs[receiver] = ref
        if ref.kind == "submodule":
            self._call_submodule(call, ref.decl, attr)
            return
        kind = {"variable": "variable", "array": "array", "tape": "tape"}.get(ref.kind)
        methods = VALUE_METHODS.get(kind or "", {})
        if attr not in methods:
            what = kind or ref.kind.replace("_", " ")
            article = "an" if what[0] in "aeiou" else "a"
            self.p.err("E030", call.func, f"{article} {what} has no method `{attr}`",
                       suggest(attr, methods) or (f"methods: {', '.join(methods)}" if methods
                                                  else "call an op on it instead, e.g. `reduce_sum(x)`"))
            return
        low, high = methods[attr]
        if not low <= len(call.args) <= high or call.keywords:
            self.p.err("E020", call, f"`{receiver.id}.{attr}` takes {low if low == high else f'{low}-{high}'}"
                       f" positional argument{'s' if high != 1 else ''}", None)
        if kind == "array" and attr in ARRAY_UPDATES:
            if not statement:
                self.p.err("E031", call, f"`{receiver.id}.{attr}(...)` updates the list and has no value",
                           "use it as a statement of its own")
            self.analysis.calls[call] = CallInfo(kind="array_update", method=attr, receiver=receiver.id)
            return
        self.analysis.calls[call] = CallInfo(kind="value_method", method=attr, receiver=receiver.id)

    def expr_Attribute(self, node: n.Attribute) -> None:
        root = _root_name(node)
        if root in PYTHON_ONLY and self.resolve(root) is None:
            self.p.err("E037", node, f"`{root}` is Python, not a TF op", PYTHON_ONLY[root])
            return
        self.p.err("E030", node, f"`.{node.attr}` is not available on values",
                   "call a method (`x.assign(v)`) or an op (`shape(x)`)")

    def expr_ListLit(self, node: n.ListLit) -> None:
        for item in node.items:
            self.expr(item)


def _children(value):
    if isinstance(value, n.Node):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _children(item)


def _root_name(node: n.Node) -> str | None:
    """`np` for `np.random.randn`: the name an attribute chain starts from."""
    while isinstance(node, (n.Attribute, n.Call, n.Subscript)):
        node = node.func if isinstance(node, n.Call) else node.value
    return node.id if isinstance(node, n.Name) else None


def _is_call_to(expr: object, name: str) -> bool:
    return isinstance(expr, n.Call) and isinstance(expr.func, n.Name) and expr.func.id == name
