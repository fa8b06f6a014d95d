"""Name and structure checks, and the resolution table the generator reads.

`check(program)` walks every module once. It never mutates nodes: what it learns (what each name and
call refers to) goes into `Analysis.refs` and `Analysis.calls`, keyed by node identity.
"""

from __future__ import annotations

import math
from typing import Iterable

from . import nodes as n
from .members import Member
from .nodes import child_values
from .analysis import Analysis, CallInfo, ModuleInfo, Ref, bind_arguments, outputs_of, positional_parameters, walk
from .body_checker import BodyChecker
from .folding import UNKNOWN_VALUE, evaluate, fold_failure
from .declarations import check_dim_expr, record_declared_types
from .regularizers import REGULARIZATION_LOSSES, parse_regularizer, uses_regularizers
from .library import CLIPPING, OPTIMIZERS, SCHEDULES, library_index
from .limits import MAX_SUBMODULE_DEPTH, DiagnosticList, Limits, nesting_depths, over_limit
from .ops import DTYPES, INITIALIZERS, OPS, Op, any_length_tuple, static_python_type, static_tuple_length, \
    static_tuple_value
from .precision import POLICY_PARAM, policy_problem
from .names import METHOD_ATTRS, check_call_shape, check_declared_name, report_duplicate, suggest

def check(program: n.Program, library: tuple[n.ModuleDef, ...] = (), limits: Limits | None = None,
          diagnostics: list | None = None) -> Analysis:
    """Check `program` (with the library modules it may use) and resolve its names and calls.
    Diagnostics go to `diagnostics`; a DiagnosticList stops the check with TooManyErrors at its limit."""
    limits = limits or Limits()
    analysis = Analysis(program=program, modules={}, limits=limits,
                        diagnostics=DiagnosticList(limits.errors) if diagnostics is None else diagnostics)
    _collect_modules(analysis, program.modules, library)
    _evaluate_defaults(analysis)
    for info in analysis.modules.values():
        if info.decl is not None:
            record_declared_types(analysis, info.decl)
    for module in program.modules:
        ModuleChecker(analysis, analysis.modules[module.name]).run()
    if _check_nesting(analysis, limits.submodule_depth):
        return analysis  # the passes below recurse once per level: a deeper chain is refused first
    used = set()
    for module in program.modules:
        used.update(analysis.dependencies(module))
    analysis.library = tuple(m for m in library if m.name in used and m.name not in _names(program.modules))
    for module in analysis.library:
        ModuleChecker(analysis, analysis.modules[module.name]).run()
    _check_cycles(analysis)
    _check_literals(analysis)
    _check_regularization_name(analysis)
    return analysis


def _check_regularization_name(analysis: Analysis) -> None:
    """In a program that uses regularizers every module gets the method `regularization_losses()`
    (dsl/regularizers.py): a variable or submodule of that name would hide it (E014)."""
    if not uses_regularizers(analysis):
        return
    for module in analysis.program.modules:
        for member in (*module.variables, *module.submodules):
            if member.name == REGULARIZATION_LOSSES:
                analysis.report("E014", member.identifier, f"`{REGULARIZATION_LOSSES}` names the method this program's "
                                "regularizers give every module", "rename the member")
        own = _module_method(module, REGULARIZATION_LOSSES)
        if own is not None and own.inputs:  # a holding module's sum calls it with no arguments
            analysis.report("E014", own.identifier, f"a module's own `{REGULARIZATION_LOSSES}` replaces the generated "
                            "one and takes no inputs", "drop its inputs, or rename it")


def _regularizer_params(analysis: Analysis, module: str, seen: frozenset[str],
                        memo: dict[str, set[str]]) -> set[str]:
    """The parameters of `module` that end up in a `regularizer=` clause: named there, or passed on to
    such a parameter of a submodule (LSTM's kernel_regularizer reaches its cell's variables). `memo`
    holds each module's answer: a module holding another twice, at every level, is still one visit each."""
    info = analysis.modules.get(module)
    if info is None or info.decl is None or module in seen or len(seen) > MAX_SUBMODULE_DEPTH:
        return set()  # past the depth limit, E056 refuses the program anyway
    if module in memo:
        return memo[module]
    found = {v.regularizer.id for v in info.decl.variables if isinstance(v.regularizer, n.Name)}
    for sub in info.decl.submodules:
        inner = _regularizer_params(analysis, sub.module, seen | {module}, memo)
        bound = analysis.sub_arguments.get(sub)
        if bound is None:
            target = analysis.modules.get(sub.module)
            names = [p.name for p in target.decl.params] if target is not None and target.decl is not None else []
            bound = bind_arguments(names, sub.args, sub.keywords) if names else {}
        found |= {arg.id for name, arg in bound.items() if name in inner and isinstance(arg, n.Name)}
    memo[module] = found & set(info.params)
    return memo[module]


def _module_method(module: n.ModuleDef, name: str) -> n.Method | None:
    return next((m for m in module.methods if m.name == name), None)


_I64_MAX = 2**63 - 1


def _check_literals(analysis: Analysis) -> None:
    """Numbers TensorFlow cannot hold are errors here, not overflow surprises at trace time.
    (Method bodies are walked on their own: later stages walk them again and get the same walk.)"""
    wider = _wider_literals(analysis.program)
    for node in _literal_holders(analysis.program):
        if isinstance(node, n.IntLit) and node.value > wider.get(id(node), _I64_MAX):
            analysis.report("E023", node, "integer literal does not fit in 64 bits",
                                              f"the largest i64 is {_I64_MAX}")
        elif isinstance(node, n.FloatLit) and not math.isfinite(node.value):
            analysis.report("E023", node, "number literal is too large for a float",
                                              "the largest f64 is about 1.8e308")
        elif isinstance(node, n.Dim) and node.kind == "fixed" and node.size is not None and node.size > _I64_MAX:
            analysis.report("E018", node, "dimension does not fit in 64 bits")


def _wider_literals(program: n.Program) -> dict[int, int]:
    """Integer literals allowed past the i64 maximum, by id: the operand of a unary minus reaches
    -2**63 (`-9223372036854775808` is the smallest i64), and a u64 variable's or parameter's initial
    value holds up to 2**64 - 1."""
    wider: dict[int, int] = {}
    for module in program.modules:
        typed = [(p.type, p.default) for p in module.params if p.default is not None]
        typed += [(v.type, v.init) for v in module.variables]
        for type_, value in typed:
            if type_.dtype == "u64":
                wider.update((id(node), 2**64 - 1) for node in walk(value) if isinstance(node, n.IntLit))
    for node in _literal_holders(program):
        if isinstance(node, n.UnaryOp) and node.op == "-" and isinstance(node.operand, n.IntLit):
            wider.setdefault(id(node.operand), _I64_MAX + 1)
    return wider


def _literal_holders(program: n.Program):
    for module in program.modules:
        yield from walk(module.params)
        for member in module.members:
            if isinstance(member, n.Method):
                yield from walk((member.inputs, member.returns))
                yield from walk(member.body)
            else:
                yield from walk(member)


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
            report_duplicate(analysis.report, module.name, "module", module, seen[module.name])
            continue
        if module.name in OPTIMIZERS:
            analysis.report("E014", module, f"`{module.name}` is a built-in optimizer",
                                              "choose another module name")
        check_declared_name(analysis.report, module.name, module, "module")
        seen[module.name] = module
        analysis.modules[module.name] = _module_info(module)


def _evaluate_defaults(analysis: Analysis) -> None:
    """Every parameter default's value, once, for the stages after checking (the generator, limits,
    export) to read instead of re-reading the default's syntax (declared types are recorded beside
    it, dsl.declarations.record_declared_types)."""
    for name, info in analysis.modules.items():
        if info.decl is not None:
            values = {p.name: _static_value(p, evaluate(p.default)) for p in info.decl.params if p.default is not None}
            analysis.param_defaults[name] = {k: v for k, v in values.items() if v is not UNKNOWN_VALUE}


def _tested_param(test: n.Node) -> tuple[str, bool] | None:
    """`use_bias` -> ("use_bias", True), `not use_bias` -> ("use_bias", False); None for other tests."""
    if isinstance(test, n.Name):
        return test.id, True
    if isinstance(test, n.UnaryOp) and test.op == "not" and isinstance(test.operand, n.Name):
        return test.operand.id, False
    return None


def _static_value(param: n.ModuleParam, value: object) -> object:
    """A default's value as the parameter holds it (a tuple parameter's int is each of its items)."""
    length = static_tuple_length(param.type)
    return value if length is None or value is UNKNOWN_VALUE else static_tuple_value(value, length)


def _module_info(module: n.ModuleDef) -> ModuleInfo:
    info = ModuleInfo(name=module.name, decl=module)
    for param in module.params:
        info.params.setdefault(param.name, param)
    for member in module.members:
        table = {n.VarDecl: info.variables, n.SubDecl: info.submodules, n.Method: info.methods}[type(member)]
        table.setdefault(member.name, member)
        if isinstance(member, n.Method) and member.overload is not None:
            info.overloads[member.overload] = (*info.overloads.get(member.overload, ()), member.name)
    return info


def _check_nesting(analysis: Analysis, limit: int) -> bool:
    """E056 where a chain of submodules first goes deeper than `limit` levels; True if one does."""
    depths = nesting_depths(analysis)
    over = False
    for module in analysis.program.modules:
        if depths.get(module.name, 0) > limit:
            over = True
            deepest = max(module.submodules, key=lambda sub: depths.get(sub.module, 0))
            if depths.get(deepest.module, 0) <= limit:  # where the limit is crossed: one report per chain
                analysis.report("E056", deepest, *over_limit(f"module `{module.name}` nests submodules this "
                                                            "many levels deep", limit + 1, "submodule_depth", limit))
    return over


def _check_cycles(analysis: Analysis) -> None:
    for module in analysis.program.modules:
        if _reaches(analysis, module.name, module.name, set()):
            analysis.report("E038", module, f"module `{module.name}` contains itself",
                                              "a module cannot hold itself through its submodules")


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


class ModuleChecker:
    """Checks one module: its declarations, then each method body."""

    def __init__(self, analysis: Analysis, info: ModuleInfo):
        self.analysis = analysis
        self.info = info
        assert info.decl is not None  # built-in (optimizer) modules have no declarations to check
        self.module = info.decl
        self.report = analysis.report  # one reporter: (code, node or span, message, hint)
        self._regularizer_flows: dict[str, set[str]] = {}  # _regularizer_params' answers, by module

    def run(self) -> None:
        self._check_member_names()
        for param in self.module.params:
            self._check_param(param)
        for member in self.module.members:
            {n.VarDecl: self._check_var, n.SubDecl: self._check_sub, n.Method: self._check_method}[type(member)](member)
        self._check_serving()
        for method in self.module.methods:
            self._check_conditional_reads(method.body, frozenset())

    def _check_conditional_reads(self, node: object, holding: frozenset[str]) -> None:
        """A variable declared under `if use_bias:` is read only where `use_bias` holds: in the body of an
        `if use_bias:` (or a `... if use_bias else ...`), or in the `else` of an `if not use_bias:`."""
        if isinstance(node, (tuple, list)):
            for item in node:
                self._check_conditional_reads(item, holding)
            return
        if not isinstance(node, n.Node):
            return
        if isinstance(node, (n.If, n.IfExp)):
            tested = _tested_param(node.test)
            self._check_conditional_reads(node.test, holding)
            then, otherwise = (holding, holding) if tested is None else (
                (holding | {tested[0]}, holding) if tested[1] else (holding, holding | {tested[0]}))
            self._check_conditional_reads(node.body, then)
            self._check_conditional_reads(node.orelse, otherwise)
            return
        if isinstance(node, n.Attribute):
            self._check_member_exists(node)
        ref = self.analysis.refs.get(node) if isinstance(node, n.Name) else None
        if ref is not None and isinstance(ref.decl, n.VarDecl) and ref.decl.condition is not None \
                and ref.decl.condition.id not in holding:
            condition = ref.decl.condition.id
            self.report("E047", node, f"`{ref.decl.name}` exists only when `{condition}` is true "
                        f"(it is declared under `if {condition}:`)",
                        f"read it inside `if {condition}:` (or `... if {condition} else ...`)")
        for child in child_values(node):
            self._check_conditional_reads(child, holding)

    def _check_serving(self) -> None:
        """One serving method; `serving_default` is its signature key, so no other method may be called so."""
        methods = self.module.methods
        marked = [m for m in methods if "serving" in m.attr_names]
        for extra in marked[1:]:
            self.report("E035", extra, f"`@serving` on `{extra.name}` too; `{marked[0].name}` is already the serving method",
                     "mark one method @serving")
        serving = marked[0] if marked else (methods[0] if methods else None)
        for method in methods:
            if method.name == "serving_default" and method is not serving:
                assert serving is not None  # `methods` is not empty
                self.report("E035", method, "a method named `serving_default` must be the serving method",
                         f"`serving_default` is the SavedModel signature of `{serving.name}`; rename this method")

    # declarations ------------------------------------------------------------------------------

    def _check_member_names(self) -> None:
        seen: dict[str, n.Node] = {}
        for decl in (*self.module.params, *self.module.members):
            kind = {n.ModuleParam: "parameter", n.VarDecl: "variable", n.SubDecl: "submodule",
                    n.Method: "method"}[type(decl)]
            names = [decl.name]
            if isinstance(decl, n.Method) and decl.overload is not None:
                # the name callers use is declared once, by its first signature
                names = [decl.overload] if decl.name == self.info.overloads[decl.overload][0] else []
            for name in names:
                if name in seen:
                    report_duplicate(self.report, name, kind, decl, seen[name])
                else:
                    seen[name] = decl
                check_declared_name(self.report, name, decl, kind)

    def _check_param(self, param: n.ModuleParam) -> None:
        type_ = param.type
        if static_tuple_length(type_) is not None:
            for dim in type_.shape or ():
                self._check_dim(dim, allow_named=False)  # a length of 1 or more
        elif any_length_tuple(type_):
            pass  # `int[...]`: a tuple of any length, known per instance
        elif type_.dtype == "int" and type_.shape is not None:
            self.report("E017", type_, "a tuple parameter has one fixed length: `int[2]`",
                        "write `int[2]` for two ints (an int given stands for both), `int[...]` for any number of ints, "
                        "or `i32[...]` for a tensor")
        elif static_python_type(type_):
            if type_.shape is not None:
                self.report("E017", type_, f"`{type_.dtype}` is a Python value type and takes no shape",
                         f"for a tensor parameter write e.g. `f32{_shape_text(type_)}`")
        else:
            self._check_tensor_type(type_, allow_named=False)
        if param.default is not None:
            self._check_static_expr(param.default, allow_params=False)
        if param.name == POLICY_PARAM:
            self._check_policy_param(param)
        if param.inferred and (type_.dtype != "int" or type_.shape is not None):
            self.report("E018", param, f"only an `int` parameter can be inferred (`{param.name}: int = ?`)",
                        "a holding module infers a size from its calls; give other parameters a value")

    def _check_policy_param(self, param: n.ModuleParam) -> None:
        """A module's own `dtype` parameter declares its dtype policy (dsl/precision.py): a `str`
        whose default is a policy."""
        if param.type.dtype != "str" or param.type.shape is not None:
            self.report("E023", param.type, f"`{POLICY_PARAM}` is the module's dtype policy, a `str`, not `{param.type.dtype}`",
                        f"declare `{POLICY_PARAM}: str = \"mixed_bfloat16\"`, or rename the parameter")
            return
        problem = policy_problem(evaluate(param.default)) if param.default is not None else None
        if problem:
            assert param.default is not None
            self.report("E023", param.default, problem, "Keras' policy names: float32, mixed_float16, mixed_bfloat16")

    def _check_var(self, var: n.VarDecl) -> None:
        if var.regularizer is not None:
            self._check_regularizer(var, var.regularizer)
        if var.condition is not None:
            self._check_var_condition(var.condition)
        if var.type.shape is None:
            self.report("E017", var.type, f"a variable needs a tensor type, not `{var.type.dtype}`",
                     "write e.g. `f32[]` for a scalar or `f32[3, 4]`")
        else:
            self._check_tensor_type(var.type, allow_named=False)
        init = var.init
        if isinstance(init, n.Call) and isinstance(init.func, n.Name) and init.func.id in INITIALIZERS:
            op = INITIALIZERS[init.func.id]
            self.analysis.calls[init] = CallInfo(kind="initializer", op=op)
            self.check_arguments(init, op, static_only=True)
            unknown = [d for d in var.type.shape or () if d.kind == "unknown"]
            if unknown:  # the initializer makes a tensor of the declared shape: every dim must be known
                self.report("E018", unknown[0], f"`{init.func.id}()` makes the variable's value from its declared "
                         f"shape, and `?` is not known when the module is built",
                         "give the dim a size or an `int` constructor parameter")
            return
        if isinstance(init, n.Call) and isinstance(init.func, n.Name) and init.func.id not in OPS:
            self.report("E034", init.func, f"unknown initializer `{init.func.id}`",
                     suggest(init.func.id, INITIALIZERS) or f"initializers: {', '.join(sorted(INITIALIZERS))}")
            return
        self._check_static_expr(init, allow_params=True, allow_tensor_params=True)

    def _check_regularizer(self, var: n.VarDecl, spec: n.Expr) -> None:
        """`, regularizer=SPEC`: a str known when the module is built, Keras' text (dsl/regularizers.py)."""
        self._check_static_expr(spec, allow_params=True)
        if var.type.dtype not in ("f16", "bf16", "f32", "f64"):
            self.report("E051", var.type, f"a regularizer penalizes a floating-point variable, not `{var.type.dtype}`",
                        "regularize a float variable, or drop `regularizer=`")
        value = evaluate(spec)
        param = self.info.params.get(spec.id) if isinstance(spec, n.Name) else None
        if param is not None and param.type.dtype != "str":
            self.report("E023", spec, f"`regularizer=`: parameter `{param.name}` is `{param.type.dtype}`, not a `str`",
                        'declare it `str`, e.g. `kernel_regularizer: str = ""`')
            return
        if value is UNKNOWN_VALUE:
            return  # a constructor parameter: the generated code checks it when the module is built
        try:
            if not isinstance(value, str):
                raise ValueError("a regularizer is a string")
            parse_regularizer(value)
        except ValueError as problem:
            self.report("E023", spec, f"`regularizer=`: {problem}",
                        'Keras\' regularizers: "l1(0.01)", "l2(0.01)", "l1_l2(l1=0.01, l2=0.01)", or "" for none')

    def _check_regularizer_arguments(self, sub: n.SubDecl, target: ModuleInfo) -> None:
        """A literal given to a parameter that ends in a `regularizer=` clause (`Dense(..., kernel_regularizer="l3")`)
        is checked here, where it is written, not when the module is built."""
        flows = _regularizer_params(self.analysis, target.name, frozenset(), self._regularizer_flows)
        for name, arg in self.analysis.sub_arguments[sub].items():
            value = evaluate(arg) if name in flows else UNKNOWN_VALUE
            if value is UNKNOWN_VALUE:
                continue
            try:
                if not isinstance(value, str):
                    raise ValueError("a regularizer is a string")
                parse_regularizer(value)
            except ValueError as problem:
                self.report("E023", arg, f"`{name}`: {problem}",
                            'Keras\' regularizers: "l1(0.01)", "l2(0.01)", "l1_l2(l1=0.01, l2=0.01)", or "" for none')

    def _check_member_exists(self, node: n.Attribute) -> None:
        """`dense.bias` of a submodule built without it (`Dense(4, use_bias=False)`): E047 where the
        submodule's arguments decide it (a value of this module's parameters leaves it to run time)."""
        ref = self.analysis.refs.get(node)
        member = ref.decl if ref is not None else None
        var = member.var if isinstance(member, Member) else None
        if not isinstance(member, Member) or var is None or var.condition is None:
            return
        values = self.analysis.parameter_values(self.module.name)
        for sub in member.path:
            values = self.analysis.parameter_values(sub.module, self.analysis.sub_argument_values(sub, values))
        if values.get(var.condition.id) is False:
            self.report("E047", node, f"`{member.dotted}` does not exist: `{'.'.join(s.name for s in member.path)}` "
                        f"is built with `{var.condition.id}` false", f"build it with `{var.condition.id}=True`")

    def _check_var_condition(self, condition: n.Name) -> None:
        """`if use_bias:` around variables tests a `bool` constructor parameter, known when the module is built."""
        param = self.info.params.get(condition.id)
        if param is None or static_python_type(param.type) is not bool:
            what = "a parameter of another type" if param is not None else "not a constructor parameter"
            self.report("E022", condition, f"`if {condition.id}:` around variables: `{condition.id}` is {what}",
                        "variables exist or not when the module is built: test a `bool` constructor parameter")
            return
        self.analysis.refs[condition] = Ref("static_param", param)

    def _check_sub(self, sub: n.SubDecl) -> None:
        target = self.analysis.modules.get(sub.module)
        if target is None:
            self.report("E013", sub, f"unknown module `{sub.module}`",
                     suggest(sub.module, [*self.analysis.modules, *library_index()])
                     or "declare it in this file or use a library module")
            return
        if sub.frozen and target.is_optimizer:
            self.report("E031", sub, f"an optimizer cannot be frozen (`frozen sub {sub.name} = {sub.module}(...)`)",
                        "freeze the submodules whose variables it must leave alone: `frozen sub encoder = ...`")
        params = _module_params(target, len(sub.args))
        check_call_shape(self.report, sub, sub.module, params, sub.args, sub.keywords)
        self.analysis.sub_arguments[sub] = bind_arguments([name for name, _ in params], sub.args, sub.keywords)
        self._check_regularizer_arguments(sub, target)
        clipping = [name for name in CLIPPING if name in self.analysis.sub_arguments[sub]]
        if target.is_optimizer and len(clipping) > 1:
            self.report("E023", sub, f"`{sub.module}` takes one of {', '.join(CLIPPING)}, got {' and '.join(clipping)}",
                     "clip by one rule: per variable (clipnorm, clipvalue) or over all gradients (global_clipnorm)")
        policy = self.analysis.sub_arguments[sub].get(POLICY_PARAM) if not target.is_optimizer else None
        problem = policy_problem(evaluate(policy)) if policy is not None else None
        if policy is not None and problem:  # a parameter's value is checked when the module is built
            self.report("E023", policy, problem, "Keras' policy names: float32, mixed_float16, mixed_bfloat16")
        schedule = self.analysis.sub_arguments[sub].get("learning_rate") if target.is_optimizer else None
        for arg in (*sub.args, *(k.value for k in sub.keywords)):
            if arg is schedule and isinstance(arg, n.Call):
                self._check_schedule(arg)
            else:
                self._check_static_expr(arg, allow_params=True, allow_tensor_params=True)

    def _check_schedule(self, call: n.Call) -> None:
        """An optimizer's learning_rate given as a schedule: `ExponentialDecay(0.1, 1000, 0.96)`."""
        name = call.func.id if isinstance(call.func, n.Name) else None
        if name not in SCHEDULES:
            self.report("E013", call.func, f"`{name or 'this'}` is not a learning-rate schedule",
                     suggest(name or "", SCHEDULES) or f"schedules: {', '.join(SCHEDULES)}")
            return
        params = SCHEDULES[name].params
        check_call_shape(self.report, call, name, [(p.name, p.required) for p in params], call.args, call.keywords)
        types = {p.name: p.type for p in params}
        for param, arg in bind_arguments(list(types), call.args, call.keywords).items():
            self._check_static_expr(arg, allow_params=True)
            value = evaluate(arg)
            if value is not UNKNOWN_VALUE and not _fits_builtin_type(value, types[param]):
                self.report("E023", arg, f"`{name}` parameter `{param}` is {types[param]}, got {value!r}",
                         "a list of numbers" if types[param] == "list" else f"pass a {types[param]}")

    def _check_method(self, method: n.Method) -> None:
        with self.analysis.checking_signature(method, self.info):
            self._check_one_method(method)

    def _check_one_method(self, method: n.Method) -> None:
        for attr in method.attrs:
            if attr.id not in METHOD_ATTRS:
                self.report("E035", attr, f"unknown method attribute `@{attr.id}`",
                         suggest(attr.id, METHOD_ATTRS) or f"known: {', '.join('@' + a for a in METHOD_ATTRS)}")
        seen: dict[str, n.MethodInput] = {}
        for inp in method.inputs:
            if inp.name in seen:
                report_duplicate(self.report, inp.name, "input", inp, seen[inp.name])
            seen[inp.name] = inp
            check_declared_name(self.report, inp.name, inp, "input")
            if inp.name in self.info.params or self.info.member(inp.name) is not None:
                self.report("E011", inp, f"input `{inp.name}` hides the module member of the same name",
                         "rename the input")
            assert isinstance(inp.type, n.TensorType)  # node_builder split each `|` into its own method
            self._check_signature_type(inp.type)
        for out in outputs_of(method):
            self._check_signature_type(out.type, output=True)
        if isinstance(method.returns, tuple):
            names: dict[str, n.NamedOutput] = {}
            for out in method.returns:
                check_declared_name(self.report, out.name, out, "output")
                if out.name in names:
                    report_duplicate(self.report, out.name, "output", out, names[out.name])
                names[out.name] = out
        BodyChecker(self, method).run()

    # types -------------------------------------------------------------------------------------

    def _check_signature_type(self, type_: n.TensorType, output: bool = False) -> None:
        if type_.shape is None and output and type_.dtype in DTYPES:
            return  # `-> f32`: any rank, each call typed from the body at its arguments (`Reshape.call`)
        if type_.shape is None:
            self.report("E017", type_, f"a method input or output needs a tensor type, not `{type_.dtype}`",
                     "write e.g. `f32[]` for a scalar or `f32[N, 3]`")
            return
        self._check_tensor_type(type_, allow_named=True)

    def _check_tensor_type(self, type_: n.TensorType, allow_named: bool) -> None:
        if type_.dtype not in DTYPES:
            self.report("E017", type_, f"unknown dtype `{type_.dtype}`",
                     suggest(type_.dtype, DTYPES) or f"dtypes: {', '.join(DTYPES)}")
        for dim in type_.shape or ():
            self._check_dim(dim, allow_named)

    def _check_dim(self, dim: n.Dim, allow_named: bool) -> None:
        if dim.kind == "expr":
            check_dim_expr(self.report, dim, lambda leaf: self._check_dim(leaf, allow_named))
            return
        if dim.kind == "fixed" and dim.size is not None and dim.size < 1:
            self.report("E018", dim, "a dimension of size 0 holds nothing", "give a size of 1 or more, or `?`")
        if dim.kind == "item":
            self._check_item_dim(dim)
            return
        if dim.kind != "named":
            return
        assert dim.name is not None  # a named dimension has its name
        param = self.info.params.get(dim.name)
        if param is not None:
            if static_python_type(param.type) is not int:
                self.report("E018", dim, f"dimension `{dim.name}` is a `{param.type.dtype}` parameter",
                         "only `int` constructor parameters can size a dimension")
            else:
                self.analysis.refs[dim] = Ref("static_param", param)
            return
        if not allow_named:
            self.report("E018", dim, f"dimension `{dim.name}` is not a constructor parameter",
                     "a variable's shape is fixed at construction: use a number or an `int` parameter")
        else:
            self.analysis.refs[dim] = Ref("named_dim")

    def _check_item_dim(self, dim: n.Dim) -> None:
        """`kernel_size[0]`: an item of a tuple parameter (`kernel_size: int[2]`), as a size."""
        assert dim.of is not None and dim.size is not None  # node_builder.item_dim
        param = self.info.params.get(dim.of)
        length = static_tuple_length(param.type) if param is not None else None
        if param is not None and any_length_tuple(param.type):
            self.report("E018", dim, f"`{dim.of}` is `int[...]`, whose length comes with each instance: "
                        f"`{dim.name}` sizes no dimension", f"declare `{dim.of}: int[2]` (a fixed length) to size "
                        "dimensions with its items")
        elif param is None or length is None:
            self.report("E018", dim, f"`{dim.of}` is not a tuple parameter, so `{dim.name}` is no size",
                        f"declare `{dim.of}: int[2]` (a tuple of two ints) in the constructor")
        elif dim.size >= length:
            self.report("E018", dim, f"`{dim.of}` holds {length} ints: `{dim.name}` is out of range",
                        f"index it from 0 to {length - 1}")
        else:
            self.analysis.refs[dim] = Ref("static_param", param)

    # static expressions ------------------------------------------------------------------------

    def _check_static_expr(self, expr: n.Node, allow_params: bool, allow_tensor_params: bool = False) -> None:
        """Literals, arithmetic, and (where allowed) constructor parameters: values known at construction."""
        for node in walk(expr):
            if isinstance(node, n.Name):
                param = self.info.params.get(node.id) if allow_params else None
                if param is None:
                    where = "constructor parameters and literals" if allow_params else "literals"
                    self.report("E022", node, f"`{node.id}` is not known at construction", f"use {where} here")
                elif not static_python_type(param.type) and not allow_tensor_params:
                    self.report("E022", node, f"tensor parameter `{node.id}` cannot be used here",
                             "only `int`, `float`, `bool` and `str` parameters are static")
                else:
                    kind = "static_param" if static_python_type(param.type) else "tensor_param"
                    self.analysis.refs[node] = Ref(kind, param)
            elif isinstance(node, (n.Call, n.Subscript, n.Attribute)):
                self.report("E022", node, "only literals and constructor parameters can be used here",
                         "compute values in a method, or pass them as constructor parameters")
                return
        failure = fold_failure(expr)
        if failure is not None:
            where, why = failure
            assert isinstance(where, n.Node)  # fold_failure returns a sub-expression of `expr`
            self.report("E023", where, why, "compute with smaller numbers")

    # calls -------------------------------------------------------------------------------------

    def check_arguments(self, call: n.Call, op: Op, static_only: bool = False) -> None:
        params = [(p.name, p.required) for p in op.params]
        check_call_shape(self.report, call, op.name, params, call.args, call.keywords, variadic=op.variadic)
        if static_only:
            for arg in (*call.args, *(k.value for k in call.keywords)):
                self._check_static_expr(arg, allow_params=True)


def _fits_builtin_type(value: object, type_: str) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_ == "list":
        return isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    return {"float": number, "int": isinstance(value, int) and not isinstance(value, bool),
            "bool": isinstance(value, bool)}.get(type_, True)


def _module_params(info: ModuleInfo, positional: int) -> list[tuple[str, bool]]:
    """(name, required) of a constructor's parameters in the order `positional` arguments fill them;
    an inferred parameter left out of that order can still be named (it comes last) and is never required."""
    if info.builtin is not None:
        return [(p.name, False) for p in info.builtin.params]
    assert info.decl is not None  # a module is built in or declared
    order = positional_parameters(info.decl.params, positional)
    order += [p for p in info.decl.params if p not in order]
    named = [(p.name, p.default is None and not p.inferred) for p in order]
    if all(p.name != POLICY_PARAM for p in order):
        named.append((POLICY_PARAM, False))  # every module takes a dtype policy (dsl/precision.py)
    return named


def _shape_text(type_: n.TensorType) -> str:
    return "[" + ", ".join(str(d.size) if d.kind == "fixed" else (d.name or "?") for d in type_.shape or ()) + "]"


