"""What the checker learns about a program: modules by name, and what each name and call resolves to.

Stages after checking (the generator, the exporter, limits, warnings, the language server) read this
result, never the syntax again: what each name refers to and its declaration (`refs`; a declaration's
own name is a node with its span, `decl.identifier.span`), what each call is (`calls`), the type of
every expression and of every declared type (`types`, declared ones recorded by
dsl.declarations.record_declared_types), the value of every parameter default (`param_defaults`,
with `parameter_values`, `sub_argument_values` and `declared_shape` for one instance), and each
submodule's arguments bound to parameters (`sub_arguments`). Nodes are never changed: tables are
keyed by node.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from . import nodes as n
from .folding import UNKNOWN_VALUE, evaluate
from .diagnostics import Diagnostic, Reporter, error
from .library import BuiltinModule
from .limits import Limits
from .ops import Op, static_tuple_length, static_tuple_value
from .tensor_types import Dim, DimExpr, TensorT, substitute

RefKind = Literal["static_param", "tensor_param", "variable", "submodule", "method", "local", "input",
                  "array", "tape", "dtype", "named_dim", "member", "local_function"]
CallKind = Literal["op", "initializer", "self_method", "sub_method", "value_method", "array_update",
                   "optimizer_minimize", "optimizer_apply", "tape_gradient", "local_function",
                   "regularization_losses"]


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
    # Methods declared with several signatures: the name callers use -> one method name per signature.
    overloads: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def is_optimizer(self) -> bool:
        return self.builtin is not None and self.builtin.kind == "optimizer"

    def member(self, name: str) -> object | None:
        for table in (self.params, self.variables, self.submodules, self.methods):
            if name in table:
                return table[name]
        return self.callable_method(name)  # an overloaded method, by its first signature

    def callable_method(self, name: str) -> n.Method | None:
        """The method a call by `name` reaches: the first signature of an overloaded one (every
        signature has the same inputs)."""
        signatures = self.signatures_of(name)
        return self.methods[signatures[0]] if signatures else None

    def signatures_of(self, name: str) -> tuple[str, ...]:
        """The methods a call by `name` may run: one, or each signature of an overloaded one."""
        return self.overloads.get(name, (name,) if name in self.methods else ())


@dataclass
class Analysis:
    """The checker's result: the program, every module by name, and how each name/call resolved."""

    program: n.Program
    modules: dict[str, ModuleInfo]
    library: tuple[n.ModuleDef, ...] = ()
    refs: dict[n.Node, Ref] = field(default_factory=dict)
    calls: dict[n.Node, CallInfo] = field(default_factory=dict)
    types: dict[n.Node, object] = field(default_factory=dict)
    diagnostics: list[Diagnostic] | tuple[Diagnostic, ...] = field(default_factory=list)  # a tuple once frozen
    limits: Limits = field(default_factory=Limits)
    # Each submodule's arguments bound to its module's parameters (by the checker, once): name -> node.
    sub_arguments: dict[n.SubDecl, dict[str, n.Node]] = field(default_factory=dict)
    # Graph loops whose carried values have a declared relaxed shape: loop -> ((name, dims), ...), dims
    # an int where fixed, None where the size may change (lowered to set_loop_options).
    loop_invariants: dict[n.Node, tuple[tuple[str, tuple[int | None, ...]], ...]] = field(default_factory=dict)
    # Graph loops that provably run, with the names first bound inside them and read after:
    # loop -> ((name, dtype, shape), ...), each given a zero of its type before the loop.
    loop_predefined: dict[n.Node, tuple[tuple[str, str, tuple[int, ...]], ...]] = field(default_factory=dict)
    warnings: tuple[Diagnostic, ...] = ()  # dsl.warnings: legal, probably a mistake; never stop a compile
    # A call of an overloaded method -> the signature its arguments fit (absent: decided at trace time).
    chosen_signatures: dict[n.Node, str] = field(default_factory=dict)
    # Each module's parameter defaults, evaluated (dsl.folding.evaluate; a default that is not a
    # construction-time constant is left out): module name -> parameter name -> value.
    param_defaults: dict[str, dict[str, object]] = field(default_factory=dict)
    # Where each name local to a method is defined (by the checker): method -> name -> its input, or the
    # first statement binding it (an assignment, a `for`, a `with ... as`), in the order a reader meets them.
    local_definitions: dict[n.Method, dict[str, n.Node]] = field(default_factory=dict)
    # While one signature of an overloaded method is checked: its name and all its group's names.
    # Diagnostics found meanwhile wait in signature_reports until the group is done (flush_signatures).
    signature: tuple[str, tuple[str, ...]] | None = None
    signature_reports: list[tuple[Diagnostic, str, tuple[str, ...]]] = field(default_factory=list)
    report: Reporter = field(init=False, repr=False, compare=False)
    # Each method body's nodes, walked once for every stage that reads them (a cache of this analysis).
    _body_nodes: dict[n.Method, tuple[n.Node, ...]] = field(default_factory=dict, repr=False, compare=False)

    def body_nodes(self, method: n.Method) -> tuple[n.Node, ...]:
        """Every node in `method`'s body (`walk` order). The checker, inference, warnings and the
        generator each read every body: it is walked once per analysis, not once per reader."""
        found = self._body_nodes.get(method)
        if found is None:
            found = self._body_nodes[method] = walk(method.body)
        return found

    def shadow(self) -> Analysis:
        """An analysis to type a body once more in (a call at its caller's sizes) and throw away: the
        same program, names and calls; its own types, loop tables and diagnostics, which nobody reads."""
        return Analysis(program=self.program, modules=self.modules, library=self.library, refs=self.refs,
                        calls=self.calls, limits=self.limits, sub_arguments=self.sub_arguments,
                        chosen_signatures=dict(self.chosen_signatures), param_defaults=self.param_defaults,
                        local_definitions=self.local_definitions, _body_nodes=self._body_nodes)

    def freeze(self) -> Analysis:
        """Make the tables read-only: after analysis, later stages read the result and never change it."""
        for name in ("modules", "refs", "calls", "types", "sub_arguments", "loop_invariants", "loop_predefined",
                     "chosen_signatures", "param_defaults", "local_definitions"):
            setattr(self, name, MappingProxyType(dict(getattr(self, name))))
        self.diagnostics = tuple(self.diagnostics)
        return self

    def __post_init__(self) -> None:
        # The one reporter every stage is handed: report(code, where (a node or a span), what, how to fix it).
        self.report = Reporter(self.receive)

    def receive(self, diagnostic: Diagnostic) -> None:
        """Where the reporter's diagnostics go: the list, or held back while a signature is checked."""
        if self.signature is None:
            assert isinstance(self.diagnostics, list)  # not frozen: diagnostics come only while analysing
            self.diagnostics.append(diagnostic)
        else:
            self.signature_reports.append((diagnostic, *self.signature))

    @contextmanager
    def checking_signature(self, method: n.Method, info: ModuleInfo):
        """Within: diagnostics belong to this signature of an overloaded method (nothing for others)."""
        if method.overload is None:
            yield
            return
        self.signature = (method.name, info.overloads[method.overload])
        try:
            yield
        finally:
            self.signature = None
            if method.name == info.overloads[method.overload][-1]:
                self.flush_signatures()

    def flush_signatures(self) -> None:
        """Each diagnostic found in the signatures of an overloaded method once: as it is where every
        signature has it (the body is the same), else naming the signatures that have it."""
        found: dict[tuple, tuple[Diagnostic, list[str], tuple[str, ...]]] = {}
        for diagnostic, name, group in self.signature_reports:
            key = (diagnostic.code, diagnostic.span, diagnostic.message, diagnostic.hint)
            found.setdefault(key, (diagnostic, [], group))[1].append(name)
        self.signature_reports = []
        for diagnostic, names, group in found.values():
            if len(names) < len(group):
                listed = ", ".join(f"`{name}`" for name in names)
                where = f"in signature{'s' if len(names) > 1 else ''} {listed}"
                diagnostic = error(diagnostic.code, diagnostic.span, f"{diagnostic.message} ({where})", diagnostic.hint)
            assert isinstance(self.diagnostics, list)  # not frozen: diagnostics come only while analysing
            self.diagnostics.append(diagnostic)

    def parameter_values(self, module: str, given: dict[str, object] | None = None) -> dict[str, object]:
        """The values module `module`'s parameters take in one instance: `given` over its evaluated
        defaults (what a caller passes, else what the declaration says). A tuple parameter's value is
        the list of its items (an int given stands for each), and each item is there by the name a
        dimension reads it by (`kernel_size[0]`)."""
        return self._with_items(module, {**self.param_defaults.get(module, {}), **(given or {})})

    def _with_items(self, module: str, values: dict[str, object]) -> dict[str, object]:
        """`values` of module `module`'s parameters with each tuple parameter's value as the list of its
        items (an int given stands for each), and each item by the name a dim reads it by (`kernel_size[0]`)."""
        info = self.modules.get(module)
        for param in info.decl.params if info is not None and info.decl is not None else ():
            length = static_tuple_length(param.type)
            if length is not None and values.get(param.name) is not None:
                items = values[param.name] = static_tuple_value(values[param.name], length)
                if isinstance(items, list) and len(items) == length:
                    values.update({f"{param.name}[{i}]": item for i, item in enumerate(items)})
        return values

    def sub_argument_values(self, sub: n.SubDecl, params: dict[str, object]) -> dict[str, object]:
        """The values a submodule's arguments take when its holder's parameters are `params`
        (None for an argument whose value is not a construction-time constant)."""
        values = {name: evaluate(arg, params) for name, arg in self.sub_arguments.get(sub, {}).items()}
        return self._with_items(sub.module, {name: None if value is UNKNOWN_VALUE else value
                                             for name, value in values.items()})

    def declared_shape(self, type_: n.TensorType, params: dict[str, object]) -> tuple[int | None, ...]:
        """The dims of a declared type in one instance: sizes, constructor parameters' values from
        `params` (parameter_values), None where unknown until a call (`N`, `?`)."""
        declared = self.types[type_]
        assert isinstance(declared, TensorT)  # a declared TensorType's type (declarations.declared_type)
        return tuple(_size(d, params) for d in declared.shape or ())

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


def _size(dim: Dim, params: dict[str, object]) -> int | None:
    """A dim's size in one instance: known, an int constructor parameter's value, or None."""
    if isinstance(dim, int):
        return dim
    if isinstance(dim, DimExpr):  # `4 * 4 * g`: folded at these parameters' values
        folded = substitute(dim, lambda name: _size(name, params))
        return folded if isinstance(folded, int) else None
    value = None if dim is None else params.get(dim)
    return value if isinstance(value, int) else None


def bind_arguments(names: list[str], args: tuple, keywords: tuple) -> dict[str, n.Node]:
    """Arguments matched to parameter `names`: positional in order, then keywords by name (arity and
    unknown names are the checker's to report; what does not bind is left out)."""
    bound = dict(zip(names, args))
    bound.update((k.name, k.value) for k in keywords if k.name in names)
    return bound


def positional_parameters(params: tuple[n.ModuleParam, ...], given: int) -> list[n.ModuleParam]:
    """The parameters a constructor call's `given` positional arguments fill, in order: all of them; but
    when fewer are given than the parameters up to the last required one, not the inferred ones
    (`in_dim: int = ?`), so `Dense(10)` is `Dense(out_dim=10)` and `Dense(32, 10)` sets both."""
    required = [i for i, p in enumerate(params) if p.default is None and not p.inferred]
    if given < (required[-1] + 1 if required else 0):
        return [p for p in params if not p.inferred]
    return list(params)


def outputs_of(method: n.Method) -> tuple:
    if method.returns is None:
        return ()
    if isinstance(method.returns, tuple):
        return method.returns
    name = n.Identifier(span=method.returns.span, text="output_0")
    return (n.NamedOutput(span=method.returns.span, identifier=name, type=method.returns),)



def method_signature(method: n.Method) -> str:
    """`fn name(x: f32[N]) -> f32[N]`: how hovers and messages show a method."""
    inputs = ", ".join(f"{i.name}: {type_text(i.type)}" for i in method.inputs)
    outputs = outputs_of(method)
    if not outputs:
        return f"fn {method.name}({inputs})"
    if isinstance(method.returns, tuple):
        return f"fn {method.name}({inputs}) -> ({', '.join(f'{o.name}: {type_text(o.type)}' for o in outputs)})"
    return f"fn {method.name}({inputs}) -> {type_text(outputs[0].type)}"


def type_text(type_) -> str:
    """A declared type as the user writes it: `f32[N, ?]`, `list[f32[]]`, `f32[N] | f32[N, T]`."""
    if isinstance(type_, n.TypeChoice):
        return " | ".join(type_text(option) for option in type_.options)
    if isinstance(type_, n.ListType):
        return f"list[{type_text(type_.element)}]"
    if type_.shape is None:
        return type_.dtype
    dims = ", ".join(str(d.size) if d.kind == "fixed" else d.name if d.kind in ("named", "expr") else "..." if d.kind == "rest" else "?"
                     for d in type_.shape)
    return f"{type_.dtype}[{dims}]"


def called_methods(analysis: Analysis, info, node: n.Call, call) -> list[tuple[n.ModuleDef, n.Method]]:
    """The methods a call of a method may run: the one it names, the signature its arguments fit,
    or, where those do not decide, every signature of the method."""
    if call.kind == "self_method":
        owner = info
    elif call.kind == "sub_method" and call.receiver in info.submodules:
        owner = analysis.modules.get(info.submodules[call.receiver].module)
    else:
        return []
    if owner is None or owner.decl is None:
        return []
    chosen = analysis.chosen_signatures.get(node)
    names = (chosen,) if chosen is not None else owner.signatures_of(call.method)
    return [(owner.decl, owner.methods[name]) for name in names]


def dimension_params(analysis: Analysis, module: n.ModuleDef) -> list[n.ModuleParam]:
    """`int` parameters that are themselves the size of a variable's or a signature's dimension: they must
    be at least 1. One that only takes part in a dimension expression (`H - 2 * cropping`) may be any
    int: the expression's value is what must be a size (checked when the module is built). Read from the
    declared types the analysis recorded (dsl.declarations.record_declared_types)."""
    types = [v.type for v in module.variables]
    for method in module.methods:
        types += [i.type for i in method.inputs] + [o.type for o in outputs_of(method)]
    dims = [d for t in types for d in getattr(analysis.types.get(t), "shape", None) or ()]
    used = {d for d in dims if isinstance(d, str)}
    return [p for p in module.params if p.name in used and p.type.dtype == "int" and p.type.shape is None]


def walk(node: object) -> tuple[n.Node, ...]:
    """Every node under `node`, itself first, then each field's nodes in order (depth first)."""
    return _nodes(node, None)


def own_nodes(body: object) -> tuple[n.Node, ...]:
    """`walk`, but not into the bodies of local functions (`fn` inside a method): what binds the names
    of the method itself. (`walk` and `Analysis.body_nodes` go everywhere: what runs when it runs.)"""
    return _nodes(body, n.LocalFunction)


def _nodes(root: object, not_into: type | None) -> tuple[n.Node, ...]:
    found = []
    stack = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, n.Node):
            found.append(item)
            if not_into is None or not isinstance(item, not_into):
                stack.extend(reversed(n.child_values(item)))
        elif isinstance(item, tuple):
            stack.extend(reversed(item))
    return tuple(found)


def children(value):
    if isinstance(value, n.Node):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from children(item)


def root_name(node: n.Node) -> str | None:
    """`np` for `np.random.randn`: the name an attribute chain starts from."""
    while isinstance(node, (n.Attribute, n.Call, n.Subscript)):
        node = node.func if isinstance(node, n.Call) else node.value
    return node.id if isinstance(node, n.Name) else None


def is_call_to(expr: object, name: str) -> bool:
    return isinstance(expr, n.Call) and isinstance(expr.func, n.Name) and expr.func.id == name
