"""Generate Python from a checked program: one `tf.Module` class per `.tfm` module.

The class skeleton is a jinja2 template (`templates/`), the runtime helpers a real module
(`runtime.py`, copied in by `helpers.py` as a program needs them); statements and
expressions are emitted here, one `emit_<Node>` per node type. Hygiene: every name, literal, comment
and docstring goes out through `tfm.generate.hygiene`, and every statement is marked with its `.tfm` span
through `tfm.generate.linemap`, which writes the line map into the generated file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeGuard, overload

import jinja2

from tfm.dsl import nodes as n
from tfm.dsl.analysis import (Analysis, CallInfo, ModuleInfo, bind_arguments, dimension_params, method_signature,
                              outputs_of, type_text)
from tfm.dsl.library import SCHEDULES
from tfm.dsl.members import Member
from tfm.dsl.diagnostics import locate_bugs
from tfm.dsl.ops import ARRAY_POP, DTYPES, OPS, Op, any_length_tuple, static_python_type, static_tuple_length
from tfm.dsl.ops.names import VARIABLE_UPDATES
from tfm.dsl.precision import casts_to_float32
from tfm.dsl.signatures import has_outputs, signature_plan
from tfm.dsl.regularizers import REGULARIZATION_LOSSES, uses_regularizers
from tfm.dsl.inference.indexing import output_name
from tfm.dsl.tensor_types import FLOATS, ArrayT, Dim, DimExpr, OutputsT, TensorT, dim_parameter, unify_dtype
from tfm.dsl.visitor import CALL_KINDS, EXPRESSIONS, STATEMENTS, NodeVisitor

from tfm.generate import hygiene, precision
from tfm.generate.hygiene import identifier as ident
from tfm.generate.helpers import helpers_text
from tfm.generate.linemap import LineMap, source_label
from tfm.version import tfm_version

__all__ = ["generate", "GENERATOR_VERSION", "SCAFFOLD_TF_PATHS"]

# The installed package's version (pyproject.toml holds it): every generated file's header names it.
GENERATOR_VERSION = tfm_version()

# The attribute holding a module's random state (runtime helper `_RandomState`): no declared name
# starts with `_` (tfm.dsl.names), so it never collides with one.
RANDOM_STATE = "_random"


# The TensorFlow names the generator writes itself (the class skeleton, signatures, variables); every
# other `tf.` path in generated code is an op's lowering from the registry or a runtime helper's.
SCAFFOLD_TF_PATHS = frozenset({"tf.Module", "tf.Module.__init__", "tf.function", "tf.TensorSpec", "tf.Variable",
                               "tf.newaxis", "tf.name_scope", "tf.debugging.Assert", "tf.TensorShape",
                               "tf.autograph.experimental.set_loop_options", "tf.UnconnectedGradients.ZERO"})


def _lowering(op: str) -> str:
    """The TensorFlow callable the registry lowers `op` to: operators and statements use it too."""
    return OPS[op].lowering

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)

# Python operator precedence, for parenthesizing only where needed.
_PRECEDENCE = {"**": 14, "unary": 13, "*": 12, "/": 12, "//": 12, "%": 12, "@": 12, "+": 11, "-": 11,
               "compare": 8, "not": 7, "and": 6, "or": 5}


@dataclass
class _Method:
    name: str
    python_name: str
    inputs: list[str]
    specs: list[str]
    signature: str
    bound_in_init: bool
    jit: bool
    body: list[str]
    doc: str
    checks: list[str] = field(default_factory=list)  # run-time named-dim checks: at the entry point only
    entry_call: str = ""  # after the checks, the call of the unchecked body


@dataclass
class _Dispatcher:
    """The Python method callers use for a method of several signatures: it runs the one that fits."""
    name: str
    inputs: list[str]
    doc: str
    call: str


@dataclass
class _Class:
    name: str
    doc: str
    init_params: str
    param_lines: list[str] = field(default_factory=list)
    scope_lines: list[str] = field(default_factory=list)
    bind_lines: list[str] = field(default_factory=list)
    methods: list[_Method] = field(default_factory=list)
    dispatchers: list[_Dispatcher] = field(default_factory=list)
    signatures: str = "{}"  # key -> (bound method, has outputs), as Python text
    left_out: list[str] = field(default_factory=list)  # comment lines: methods not served, and why


def generate(analysis: Analysis, source_text: str, source_name: str) -> str:
    """The generated module's text: deterministic for a given source and generator version."""
    helpers: set[str] = set()
    linemap = LineMap()
    modules = [*analysis.library, *analysis.program.modules]
    classes = [_ClassEmitter(analysis, m, helpers, linemap).emit() for m in _construction_order(analysis, modules)]
    label = source_label(source_name)
    digest = source_digest(source_text)
    exports = [ident(m.name) for m in analysis.program.modules]
    text = _ENV.get_template("module.py.j2").render(
        header=hygiene.comment(f"Generated by tfm {GENERATOR_VERSION} from {label} (sha256 {digest})."),
        docstring=hygiene.docstring(f"TensorFlow modules compiled from {label}: {', '.join(exports)}."),
        source_literal=hygiene.literal(label),
        digest_literal=hygiene.literal(digest),
        exports_literal=hygiene.literal(exports),
        runtime=helpers_text({h for h in helpers if not h.startswith("class:")}),
        class_aliases=sorted(h.removeprefix("class:") for h in helpers if h.startswith("class:")),
        classes=classes,
    )
    return linemap.finish(text)


def source_digest(source_text: str) -> str:
    """The hash a generated file records of its source (normalized text), to tell when it is stale."""
    return hashlib.sha256(source_text.encode("utf-8")).hexdigest()


def _construction_order(analysis: Analysis, modules: list[n.ModuleDef]) -> list[n.ModuleDef]:
    """Modules before the modules that hold them, otherwise in source order (library first)."""
    by_name = {m.name: m for m in modules}
    ordered: list[n.ModuleDef] = []
    for module in modules:
        for name in [*analysis.dependencies(module), module.name]:
            if name in by_name and by_name[name] not in ordered:
                ordered.append(by_name[name])
    return ordered


def impl_name(method: str) -> str:
    """`_impl_NAME`: a .tfm name never starts with `_`, and may end with one (`_NAME_impl` would hold `__`)."""
    return f"_impl_{ident(method)}"


def dtype_expr(dtype: str | None) -> str:
    """The TensorFlow dtype (`tf.float32`) of a .tfm dtype name. A declared type always names its dtype;
    an inferred one the generator writes has been made known by the checker."""
    assert dtype is not None, "an unknown dtype reached the generator"
    return DTYPES[dtype]


class _ClassEmitter:
    def __init__(self, analysis: Analysis, module: n.ModuleDef, helpers: set[str], linemap: LineMap):
        self.analysis = analysis
        self.module = module
        self.info = analysis.modules[module.name]
        self.helpers = helpers
        self.linemap = linemap
        self.uses_random = False  # a random op was emitted: the module gets its random state

    def loc(self, node: n.Node) -> str:
        """The mark that ties a generated line to `node`'s span (see tfm.generate.linemap)."""
        return self.linemap.mark(node.span)

    def with_loc(self, statement: str, node: n.Node) -> str:
        """The mark goes on a statement's first line, which is the line tracebacks show."""
        first, newline, rest = statement.partition("\n")
        return first + self.loc(node) + newline + rest

    def emit(self) -> _Class:
        cls = _Class(name=ident(self.module.name), doc=self._doc(), init_params=self._init_params())
        init_expr = _ExprEmitter(self, in_init=True)
        # A zero or negative size fails deep in TensorFlow (oneDNN aborts the process on a zero).
        for param in dimension_params(self.analysis, self.module):
            self.helpers.add("_dimension")
            name = ident(param.name)
            cls.param_lines.append(f"{name} = _dimension({hygiene.literal(param.name)}, {name}){self.loc(param)}")
        for param in self.module.params:
            cls.param_lines += self._param(param)
        self.helpers.update(precision.HELPERS)
        cls.param_lines.append(precision.policy_line() + self.loc(self.module))
        for var in self.module.variables:
            cls.scope_lines.append(self._variable(var, init_expr))
            if var.regularizer is not None:  # a bad regularizer fails here, when the module is built
                self.helpers.add("_regularizer")
                cls.scope_lines.append(f"_regularizer({init_expr.expr(var.regularizer)}){self.loc(var.regularizer)}")
        for sub in sorted(self.module.submodules, key=lambda s: self.analysis.modules[s.module].is_optimizer):
            cls.scope_lines.append(self._submodule(sub, init_expr))
        for method in self.module.methods:
            emitted = self._method(method)
            cls.methods.append(emitted)
            if emitted.bound_in_init:
                jit = ", jit_compile=True" if emitted.jit else ""
                signature = _signature_text(emitted.specs, indent=8)
                entry = emitted.name if emitted.checks else emitted.python_name  # checked at the entry only
                cls.bind_lines.append(self.with_loc(f"self.{ident(method.name)} = tf.function("
                                                    f"self.{entry}, input_signature={signature}{jit})",
                                                    method))
        if self.uses_random:  # first: a variable's initial value may call a random op
            self.helpers.add("_RandomState")
            cls.scope_lines.insert(0, f"self.{RANDOM_STATE} = _RandomState()")
        cls.dispatchers = [self._dispatcher(name, signatures) for name, signatures in self.info.overloads.items()]
        if uses_regularizers(self.analysis) and REGULARIZATION_LOSSES not in self.info.methods:
            cls.dispatchers.append(self._regularization_losses())
        self._signature_table(cls)
        return cls

    def _regularization_losses(self) -> _Dispatcher:
        """The generated `regularization_losses()`: the penalties of this module's regularized variables
        and its submodules' regularization_losses(), summed (Keras' sum of `model.losses` for weights)."""
        self.helpers.add("_regularization_sum")
        emitter = _ExprEmitter(self)
        own = [f"(self.{ident(v.name)}, {emitter.expr(v.regularizer)})" for v in self.module.variables
               if v.regularizer is not None]
        subs = [f"self.{ident(s.name)}" for s in self.module.submodules
                if not self.analysis.modules[s.module].is_optimizer]
        doc = hygiene.docstring(f"{source_label(self.module.span.file)}:{self.module.span.line}. The regularizers' "
                                f"penalties of this module's variables and its submodules', summed: f32[].")
        return _Dispatcher(name=REGULARIZATION_LOSSES, inputs=[], doc=doc,
                           call=f"return _regularization_sum({_tuple_text(own)}, {_tuple_text(subs)}){self.loc(self.module)}")

    def _dispatcher(self, name: str, signatures: tuple[str, ...]) -> _Dispatcher:
        self.helpers.add("_dispatch")
        first = self.info.methods[signatures[0]]
        inputs = [ident(i.name) for i in first.inputs]
        functions = _tuple_text([f"self.{ident(s)}" for s in signatures])
        arguments = _tuple_text(inputs)
        label = hygiene.literal(f"{self.module.name}.{name}")
        shown = "; ".join(method_signature(self.info.methods[s]) for s in signatures)
        doc = hygiene.docstring(f"{source_label(first.span.file)}:{first.span.line}. Runs the signature the "
                                f"inputs fit: {shown}.")
        return _Dispatcher(name=ident(name), inputs=inputs, doc=doc,
                           call=f"return _dispatch({label}, {functions}, {arguments}){self.loc(first)}")

    def _signature_table(self, cls: _Class) -> None:
        """What the instance serves (`signatures`, and plain `tf.saved_model.save`): the default plan."""
        plan = signature_plan(self.analysis, self.module)
        entries = [f"{hygiene.literal(key)}: (self.{ident(method)}, {has_outputs(self.module, method)})"
                   for key, method in plan.signatures.items()]
        cls.signatures = "{" + ", ".join(entries) + "}"
        cls.left_out = [hygiene.comment(f"Not served: {name}: {why}.") for name, why in plan.left_out.items()]
        self.helpers.update({"_signatures", "_default_signature"})

    def _param(self, param: n.ModuleParam) -> list[str]:
        """Static parameters are kept as Python attributes; tensor ones only if a method reads them."""
        name = ident(param.name)
        length = static_tuple_length(param.type)
        if length is not None or any_length_tuple(param.type):  # `kernel_size=3` is (3, 3): the local too,
            # for the shapes that read its items; `int[...]` (length None) takes a tuple or list of any length
            self.helpers.add("_int_tuple")
            return [f"{name} = _int_tuple({hygiene.literal(param.name)}, {name}, {hygiene.literal(length)}){self.loc(param)}",
                    f"self.{name} = {name}"]
        if static_python_type(param.type):
            return [f"self.{name} = {name}{self.loc(param)}"]
        used = any(ref.decl is param for node, ref in self.analysis.refs.items() if isinstance(node, n.Name))
        if not used or not self._read_in_method(param):
            return []
        dtype = dtype_expr(self._declared(param.type).dtype)
        return [f"self.{name} = {_lowering('constant')}({name}, dtype={dtype}){self.loc(param)}"]

    def _read_in_method(self, param: n.ModuleParam) -> bool:
        return any(isinstance(node, n.Name) and self.analysis.refs.get(node) is not None
                   and self.analysis.refs[node].decl is param
                   for method in self.module.methods for node in self.analysis.body_nodes(method))

    def _doc(self) -> str:
        return hygiene.docstring(f"Compiled from {source_label(self.module.span.file)}:{self.module.span.line}.")

    def _init_params(self) -> str:
        parts = ["self"]
        for param in self.module.params:
            if param.default is None:
                parts.append(ident(param.name))
            else:
                parts.append(f"{ident(param.name)}={_ExprEmitter(self, in_init=True).static_literal(param.default)}")
        parts.append("*")
        parts.append("name=None")
        parts += precision.init_keyword(self.module)
        return ", ".join(parts)

    def _variable(self, var: n.VarDecl, init_expr: _ExprEmitter) -> str:
        declared = self._declared(var.type)
        dtype = dtype_expr(declared.dtype)
        info = self.analysis.calls.get(var.init)
        if info is not None and info.kind == "initializer":
            # `calls` holds calls only, and an initializer resolves to its op; it fills a declared shape.
            assert isinstance(var.init, n.Call) and info.op is not None and declared.shape is not None
            self.helpers.add(info.op.lowering)
            shape = "[" + ", ".join(init_expr.dim(d) for d in declared.shape) + "]"
            args = [shape, dtype] + [init_expr.expr(a) for a in var.init.args]
            args += [f"{k.name}={init_expr.expr(k.value)}" for k in var.init.keywords]
            args += [f"{name}={hygiene.literal(_tfm_default(info.op, name))}"
                     for name in _passed_defaults(info.op, var.init)]
            value = f"{info.op.lowering}({', '.join(args)})"
        else:
            value = init_expr.expr(var.init)
        dtype_argument = "" if info is not None and info.kind == "initializer" else f", dtype={dtype}"
        made = f"tf.Variable({value}{dtype_argument}, trainable={var.trainable}, name={hygiene.literal(var.name)})"
        if var.condition is not None:  # `if use_bias:` around it: no variable otherwise (None, as Keras' layer.bias)
            made = f"{made} if {init_expr.expr(var.condition)} else None"
        return f"self.{ident(var.name)} = {made}{self.loc(var)}"

    def _submodule(self, sub: n.SubDecl, init_expr: _ExprEmitter) -> str:
        target = self.analysis.modules[sub.module]
        if target.is_optimizer:
            # TensorFlow's optimizer, its slots made now for the variables declared above.
            self.helpers.add("_optimizer")
            keywords = [f"{ident(name)}={self._optimizer_argument(arg, init_expr)}"
                        for name, arg in self.analysis.sub_arguments[sub].items()]
            args = [f"tf.keras.optimizers.{ident(sub.module)}", self._optimizer_var_list(sub, init_expr),
                    f"name={hygiene.literal(sub.name)}", f"policy=self.{precision.POLICY_ATTRIBUTE}", *keywords]
            return f"self.{ident(sub.name)} = _optimizer({', '.join(args)}){self.loc(sub)}"
        # By name, from the analysis: the arguments as bound (an inferred size among them, `in_dim=64`).
        given = self.analysis.sub_arguments[sub]
        args = [f"{ident(name)}={init_expr.expr(arg)}" for name, arg in given.items()]
        args.append(f"name={hygiene.literal(sub.name)}")
        inherited = precision.inherited_keyword(given, target)
        if inherited:
            args.append(inherited)
        if sub.frozen:
            self.helpers.add("_frozen")
            return f"self.{ident(sub.name)} = _frozen({self._class_ref(sub.module)}, {', '.join(args)}){self.loc(sub)}"
        return f"self.{ident(sub.name)} = {self._class_ref(sub.module)}({', '.join(args)}){self.loc(sub)}"

    def _optimizer_var_list(self, sub: n.SubDecl, init_expr: _ExprEmitter) -> str:
        """What an optimizer is built for (its slots): the one var list every call of it names
        (`var_list=critic.trainable_variables`, `apply_gradients(grads, [w, b])`), else the module's
        trainable variables. Variables and other submodules exist by then: optimizers are built last."""
        named: set[str] = set()
        for method in self.module.methods:
            for node in self.analysis.body_nodes(method):
                info = self.analysis.calls.get(node) if isinstance(node, n.Call) else None
                if info is None or info.receiver != sub.name or info.kind not in ("optimizer_minimize", "optimizer_apply"):
                    continue
                assert isinstance(node, n.Call)  # `calls` holds calls only
                variables = _var_list(node, info)
                if variables is None:
                    return "self.trainable_variables"
                named.add(init_expr.expr(variables))
        return named.pop() if len(named) == 1 else "self.trainable_variables"

    def _optimizer_argument(self, arg: n.Node, init_expr: _ExprEmitter) -> str:
        """A value, or a learning-rate schedule (the only call an optimizer argument may be)."""
        if not isinstance(arg, n.Call):
            return init_expr.expr(arg)
        self.helpers.add("_schedule")
        schedule = arg.func
        assert isinstance(schedule, n.Name)  # the checker resolved it to a schedule by name
        params = [p.name for p in SCHEDULES[schedule.id].params]
        settings = [f"{ident(name)}={init_expr.expr(value)}"
                    for name, value in bind_arguments(params, arg.args, arg.keywords).items()]
        return f"_schedule({', '.join([f'tf.keras.optimizers.schedules.{ident(schedule.id)}', *settings])})"

    def _class_ref(self, module: str) -> str:
        """A module class, seen from `__init__`: through its `_`-alias where a local of `__init__` (a
        parameter, or the `name` and `dtype` keywords every module takes) shadows it."""
        if module in self.info.params or module in ("name", precision.POLICY_PARAM):
            self.helpers.add(f"class:{module}")
            return f"_class_{ident(module)}"
        return ident(module)

    def _method(self, method: n.Method) -> _Method:
        """Every method is a plain method (aliased `_impl_NAME`) bound as a tf.function per instance in `__init__`:
        calls between methods go to the `_impl` and are traced into their caller, as hand-written
        code does (one trace per entry point, not one per nested method), and
        `module.NAME.python_function` is always the bound method `strategy.run` can take."""
        specs = [self._tensor_spec(i.type, i.name) for i in method.inputs]
        bound = True
        checks, body = _BodyEmitter(self, method).emit()
        return _Method(
            name=ident(method.name),
            python_name=impl_name(method.name),
            inputs=[ident(i.name) for i in method.inputs],
            specs=specs,
            signature=_signature_text(specs, indent=4),
            bound_in_init=bound,
            jit="jit" in method.attr_names,
            body=body,
            doc=self._method_doc(method),
            checks=checks,
            entry_call=(f"return self.{impl_name(method.name)}({', '.join(ident(i.name) for i in method.inputs)})"
                        + self.loc(method)),
        )

    def _doc_type(self, type_: n.Node) -> str:
        """A declared type as the analysis has it, or as written where that says more (`f32[N, ..., D]`,
        which the analysis keeps as a tensor of unknown rank)."""
        declared = self.analysis.types[type_]
        if isinstance(declared, TensorT) and declared.shape is None and getattr(type_, "shape", None) is not None:
            return type_text(type_)
        return str(declared)

    def _method_doc(self, method: n.Method) -> str:
        outputs = outputs_of(method)
        shown = ", ".join(f"{o.name}: {self._doc_type(o.type)}" for o in outputs) or "nothing"
        inputs = ", ".join(f"{i.name}: {self._doc_type(i.type)}" for i in method.inputs) or "none"
        return hygiene.docstring(f"{source_label(method.span.file)}:{method.span.line}. Inputs {inputs}. "
                                 f"Returns {shown}.")

    @overload
    def _declared(self, type_: n.TensorType | n.TypeChoice) -> TensorT: ...
    @overload
    def _declared(self, type_: n.ListType) -> ArrayT: ...
    @overload
    def _declared(self, type_: n.TypeExpr) -> TensorT | ArrayT: ...

    def _declared(self, type_: n.TensorType | n.ListType | n.TypeChoice) -> TensorT | ArrayT:
        """A declared type as the analysis recorded it (dsl.declarations.record_declared_types): a
        TensorT for a tensor type, an ArrayT for a list type. dsl.overloads has replaced each
        TypeChoice of a generated method with one of its options."""
        declared = self.analysis.types[type_]
        assert isinstance(declared, (TensorT, ArrayT))
        return declared

    def _uses_params(self, type_: n.TensorType) -> bool:
        return any(isinstance(d, str) and dim_parameter(d) in self.info.params
                   or isinstance(d, DimExpr) and {dim_parameter(name) for name in d.names} & set(self.info.params)
                   for d in self._declared(type_).shape or ())

    def _tensor_spec(self, type_: n.TensorType | n.TypeChoice, name: str) -> str:
        declared = self._declared(type_)
        if isinstance(type_, n.TensorType) and any(d.kind == "rest" for d in type_.shape or ()):
            shape = "None"  # `...`: any rank (the checker binds the dims at each call)
        else:
            shape = f"[{', '.join(self._spec_dim(d) for d in declared.shape or ())}]"
        return f"tf.TensorSpec(shape={shape}, dtype={dtype_expr(declared.dtype)}, name={hygiene.literal(name)})"

    def _spec_dim(self, dim: Dim) -> str:
        """A known size, a constructor parameter's name (or an expression of them), or None (unknown,
        or a named dim like N, or an expression of one)."""
        if isinstance(dim, DimExpr):
            return dim_python(dim) if {dim_parameter(name) for name in dim.names} <= set(self.info.params) else "None"
        if isinstance(dim, int):
            return hygiene.literal(dim)
        return param_dim_python(dim) if isinstance(dim, str) and dim_parameter(dim) in self.info.params else "None"


def dim_python(dim: Dim, outer: str | None = None, right: bool = False) -> str:
    """A dimension expression as Python over the constructor parameters' names (locals of `__init__`),
    parenthesised as the checker reads it (`16 * g`, `t - k + 1`, `t - (k + 1)`); Python's `//` and `%`
    are the checker's folding rules."""
    if isinstance(dim, DimExpr):
        text = f"{dim_python(dim.left, dim.op)} {dim.op} {dim_python(dim.right, dim.op, right=True)}"
        binds = {"+": 1, "-": 1}.get
        looser = outer is not None and (binds(dim.op, 2) < binds(outer, 2) or right and binds(dim.op, 2) == binds(outer, 2))
        return f"({text})" if looser else text
    assert dim is not None  # a dim expression of an unknown part folds to unknown (tensor_types.dim_binary)
    return hygiene.literal(dim) if isinstance(dim, int) else param_dim_python(dim)


def param_dim_python(name: str) -> str:
    """A dim named by a constructor parameter, as Python over `__init__`'s locals: `units`, or an item of a
    tuple parameter (`kernel_size[0]`, its index checked by the checker)."""
    parameter, bracket, index = name.partition("[")
    return f"{ident(parameter)}[{hygiene.literal(int(index.rstrip(']')))}]" if bracket else ident(name)


def _tuple_text(items: list[str]) -> str:
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


def _signature_text(specs: list[str], indent: int) -> str:
    """`[spec]` when it fits on the line, else one spec per line, as a person would format it."""
    inline = "[" + ", ".join(specs) + "]"
    if len(specs) <= 1 and len(inline) + indent < 90:
        return inline
    inner = " " * (indent + 4)
    return "[\n" + "".join(f"{inner}{spec},\n" for spec in specs) + " " * indent + "]"


class _ExprEmitter(NodeVisitor):
    """Expressions to Python source. `in_init`: constructor parameters are locals, not attributes."""

    FAMILIES = {"emit_": EXPRESSIONS, "call_": CALL_KINDS}

    def __init__(self, cls: _ClassEmitter, in_init: bool = False):
        self.cls = cls
        self.analysis = cls.analysis
        self.in_init = in_init
        self.raw_variables = False  # emitting where a variable itself is meant, not its value

    def expr(self, node: n.Node) -> str:
        return self.dispatch("emit_", type(node), node)

    def dim(self, dim: Dim) -> str:
        """A declared dim the analysis knows: a size, a constructor parameter's name, or an expression
        of them (checked to be a size when the module is built)."""
        assert dim is not None  # an initializer fills a known shape (the checker's E018)
        if isinstance(dim, DimExpr):
            self.cls.helpers.add("_dimension_of")
            return f"_dimension_of({hygiene.literal(str(dim))}, {dim_python(dim)})"
        if isinstance(dim, str) and dim != dim_parameter(dim):  # an item of a tuple parameter: a size too
            self.cls.helpers.add("_dimension_of")
            return f"_dimension_of({hygiene.literal(dim)}, {param_dim_python(dim)})"
        return hygiene.literal(dim) if isinstance(dim, int) else ident(dim)

    def static_literal(self, node: n.Node) -> str:
        """A constructor default: a Python literal (lists become tuples, so defaults stay immutable)."""
        if isinstance(node, n.ListLit):
            items = [self.static_literal(i) for i in node.items]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        return self.expr(node)

    # leaves
    def emit_Name(self, node: n.Name) -> str:
        ref = self.analysis.refs.get(node)
        kind = ref.kind if ref else "local"
        name = ident(node.id) if kind != "dtype" else node.id
        if kind == "dtype":
            return dtype_expr(node.id)
        if kind in ("static_param", "tensor_param"):
            return name if self.in_init else f"self.{name}"
        if kind == "variable":
            if self.in_init or self.raw_variables or not self._float32_variable(ref):
                return f"self.{name}"
            return precision.variable_read(node.id)  # in the policy's compute dtype
        return name

    @staticmethod
    def _float32_variable(ref) -> bool:
        return isinstance(ref.decl, n.VarDecl) and ref.decl.type.dtype == "f32"

    def raw(self, node: n.Node) -> str:
        """`node` with any variable in it as the variable (a receiver, a gradient source, a var list)."""
        before, self.raw_variables = self.raw_variables, True
        try:
            return self.expr(node)
        finally:
            self.raw_variables = before

    def emit_IntLit(self, node: n.IntLit) -> str:
        return hygiene.literal(int(node.value))

    def emit_FloatLit(self, node: n.FloatLit) -> str:
        return hygiene.literal(float(node.value))

    def emit_StringLit(self, node: n.StringLit) -> str:
        return hygiene.literal(str(node.value))

    def emit_BoolLit(self, node: n.BoolLit) -> str:
        return hygiene.literal(bool(node.value))

    def emit_ListLit(self, node: n.ListLit) -> str:
        return "[" + ", ".join(self.expr(i) for i in node.items) + "]"

    # operators
    def emit_BinOp(self, node: n.BinOp) -> str:
        prec = _PRECEDENCE[node.op]
        right_assoc = node.op == "**"
        left = self._paren(node.left, prec, strict=right_assoc, partner=node.right)
        right = self._paren(node.right, prec, strict=not right_assoc, partner=node.left)
        return f"{left} {node.op} {right}"

    def emit_Compare(self, node: n.Compare) -> str:
        prec = _PRECEDENCE["compare"]
        left = self._paren(node.left, prec, True, partner=node.right)
        return f"{left} {node.op} {self._paren(node.right, prec, True, partner=node.left)}"

    def emit_UnaryOp(self, node: n.UnaryOp) -> str:
        if node.op == "not":
            if _is_python_value(self.analysis.types.get(node.operand)):
                return f"not {self._paren(node.operand, _PRECEDENCE['not'], strict=False)}"
            return f"{_lowering('logical_not')}({self.expr(node.operand)})"
        return f"{node.op}{self._paren(node.operand, _PRECEDENCE['unary'], strict=False)}"

    def emit_IfExp(self, node: n.IfExp) -> str:
        """`(a if c else b)`: AutoGraph makes it a tf.cond when c is a tensor. A Python-number branch
        becomes a tensor of the result's dtype, so both branches of the cond agree."""
        result = self.analysis.types.get(node)
        branches = []
        for branch in (node.body, node.orelse):
            text = self.expr(branch)
            if not _is_python_value(result) and _is_python_value(self.analysis.types.get(branch)):
                text = _as_constant(text, result.dtype if isinstance(result, TensorT) else None)
            branches.append(text)
        return f"({branches[0]} if {self.expr(node.test)} else {branches[1]})"

    def emit_BoolOp(self, node: n.BoolOp) -> str:
        types = [self.analysis.types.get(v) for v in node.values]
        # a list literal is a tensor (decided by TensorFlow); only scalars are decided in Python
        scalar = all(isinstance(t, TensorT) and t.shape == () for t in types)
        links = _comparison_links(node)
        if links is not None:
            return self._comparison_chain(links, scalar)
        if scalar:
            # Python values are decided in Python, as the checker did; scalar tensors short-circuit as
            # Python's `and`/`or` do (AutoGraph makes them a tf.cond): `i < n and x[i] > 0` never reads x[n].
            parts = [self._paren(v, _PRECEDENCE[node.op], strict=True) for v in node.values]
            return f" {node.op} ".join(parts)
        fn = _lowering("logical_and") if node.op == "and" else _lowering("logical_or")
        result = self.expr(node.values[0])
        for value in node.values[1:]:
            result = f"{fn}({result}, {self.expr(value)})"
        return result

    def _comparison_chain(self, links: tuple[n.Compare, ...], scalar: bool) -> str:
        """`a < b < c` evaluates `b` once, as Python does: each operand another link shares is bound
        to a lambda's parameter (`_c1`), which AutoGraph converts like the code around it. Scalars
        short-circuit in Python's order (`c` is evaluated only if `a < b`); tensors are compared
        element by element, every operand evaluated once."""
        operands = [links[0].left, *(link.right for link in links)]
        texts = [self._paren(o, 0, False, partner=operands[i + 1] if i == 0 else operands[i - 1])
                 for i, o in enumerate(operands)]
        last = len(links)
        if not scalar:
            fn = _lowering("logical_and")
            result = f"_c0 {links[0].op} _c1"
            for i in range(1, last):
                result = f"{fn}({result}, _c{i} {links[i].op} _c{i + 1})"
            names = ", ".join(f"_c{i}" for i in range(last + 1))
            return f"(lambda {names}: {result})({', '.join(texts)})"
        inner = f"_c{last - 1} {links[-1].op} {texts[-1]}"
        for j in range(last - 1, 1, -1):
            inner = f"(lambda _c{j}: _c{j - 1} {links[j - 1].op} _c{j} and {inner})({texts[j]})"
        return f"(lambda _c0, _c1: _c0 {links[0].op} _c1 and {inner})({texts[0]}, {texts[1]})"

    def _paren(self, node: n.Node, parent: int, strict: bool, partner: n.Node | None = None) -> str:
        tensor = self._list_as_tensor(node, partner)
        if tensor is not None:
            return tensor
        text = self.expr(node)
        mine = _node_precedence(node)
        if mine < parent or (strict and mine == parent):
            return f"({text})"
        return text

    def _list_as_tensor(self, node: n.Node, partner: n.Node | None) -> str | None:
        """A list literal under a Python operator or index is made a tensor first (Python would
        concatenate, repeat or index the list): of its partner's dtype if that is a tensor, else of the
        pair's; a list holding tensors is stacked."""
        own = self.analysis.types.get(node)
        if not isinstance(node, n.ListLit):
            return None
        if not _is_python_value(own):
            return f"{_lowering('stack')}({self.expr(node)})"
        other = self.analysis.types.get(partner) if partner is not None else None
        dtype = own.dtype
        if isinstance(other, TensorT) and other.dtype is not None:
            dtype = other.dtype if not other.weak else (unify_dtype(own, other)[0] or own.dtype)
        return f"{_lowering('constant')}({self.expr(node)}, dtype={dtype_expr(dtype)})"

    # postfix
    def emit_Subscript(self, node: n.Subscript) -> str:
        held = self.analysis.types.get(node.value)
        if isinstance(held, OutputsT):
            return self.output_read(node.value, output_name(self.analysis.types, node, held))
        if isinstance(self.analysis.types.get(node.value), ArrayT):  # a typed list: `xs[i]` reads element i
            return f"{self._paren(node.value, 15, False, partner=None)}.read({self.expr(node.items[0])})"
        items = ", ".join(self._subscript_item(i) for i in node.items)
        return f"{self._paren(node.value, 15, False, partner=None)}[{items}]"

    def _subscript_item(self, item: n.Node) -> str:
        if isinstance(item, n.Slice):
            parts = [self.expr(p) if p is not None else "" for p in (item.lower, item.upper)]
            text = ":".join(parts)
            return text + (f":{self.expr(item.step)}" if item.step is not None else "")
        if isinstance(item, n.NewAxis):
            return "tf.newaxis"
        if isinstance(item, n.EllipsisItem):
            return "..."
        return self.expr(item)

    def emit_Call(self, node: n.Call) -> str:
        info: CallInfo = self.analysis.calls[node]
        return self.dispatch("call_", info.kind, node, info)

    def _args(self, node: n.Call) -> str:
        parts = [self.expr(a) for a in node.args]
        parts += [f"{ident(k.name)}={self.expr(k.value)}" for k in node.keywords]
        return ", ".join(parts)

    def _loss_arg(self, node: n.Node) -> str:
        """An argument of a Keras-style loss: a float tensor computed in f32, as Keras' losses cast it."""
        text = self.expr(node)
        type_ = self.analysis.types.get(node)
        if not isinstance(type_, TensorT) or type_.weak or type_.dtype not in FLOATS:
            return text  # a Python number converts to f32 as it is
        self.cls.helpers.add("_float32")
        return precision.float32_input(text)

    def call_op(self, node: n.Call, info: CallInfo) -> str:
        op = info.op
        assert op is not None  # an `op` call resolves to its registry entry
        if op.helper:
            self.cls.helpers.add(op.helper)
        defaults = [f"{self._keyword(op, name)}={hygiene.literal(_tfm_default(op, name))}"
                    for name in _passed_defaults(op, node)]
        state = []
        if "random" in op.effects:  # its helper draws from the module's random state
            self.cls.uses_random = True
            state = [f"self.{RANDOM_STATE}"]
        return f"{op.lowering}({', '.join(filter(None, [*state, self._op_args(op, node), *defaults]))})"

    def _op_args(self, op: Op, node: n.Call) -> str:
        """An op's arguments as its lowering takes them: by position up to the first parameter the
        lowering takes under another name or position (`Op.keywords`), by keyword from there on."""
        arg = self._loss_arg if casts_to_float32(op) else self.expr
        if not op.keywords:
            parts = [arg(a) for a in node.args] + [f"{ident(k.name)}={arg(k.value)}" for k in node.keywords]
            return ", ".join(parts)
        parts, by_keyword = [], False
        for param, value in zip(op.params, node.args):
            by_keyword = by_keyword or op.keyword(param.name) is not None
            parts.append(f"{self._keyword(op, param.name)}={arg(value)}" if by_keyword else arg(value))
        parts += [f"{self._keyword(op, k.name)}={arg(k.value)}" for k in node.keywords]
        return ", ".join(parts)

    @staticmethod
    def _keyword(op: Op, name: str) -> str:
        return ident(op.keyword(name) or name)

    def call_initializer(self, node: n.Call, info: CallInfo) -> str:
        raise AssertionError("initializers are emitted by _ClassEmitter._variable")

    def call_self_method(self, node: n.Call, info: CallInfo) -> str:
        return f"self.{self._method_ref(self.cls.info, node, _method(info))}({self._args(node)})"

    def call_local_function(self, node: n.Call, info: CallInfo) -> str:
        return f"{ident(_method(info))}({self._args(node)})"

    def call_regularization_losses(self, node: n.Call, info: CallInfo) -> str:
        owner = "self" if info.receiver is None else f"self.{ident(info.receiver)}"
        return f"{owner}.{REGULARIZATION_LOSSES}()"

    def call_sub_method(self, node: n.Call, info: CallInfo) -> str:
        receiver = _receiver(info)
        target = self.cls.analysis.modules[self.cls.info.submodules[receiver].module]
        return f"self.{ident(receiver)}.{self._method_ref(target, node, _method(info))}({self._args(node)})"

    def _method_ref(self, module: ModuleInfo, node: n.Call, name: str) -> str:
        """The method a call runs: the signature its arguments fit, or, for a method of several
        signatures that the argument types here do not decide, its dispatcher (picks when traced)."""
        chosen = self.analysis.chosen_signatures.get(node)
        if chosen is None and name in module.overloads:
            return ident(name)
        return self._callee(module, chosen or name)

    @staticmethod
    def _callee(module: ModuleInfo, method: str) -> str:
        """The `_impl_` (traced into the caller), or the tf.function of an `@jit` method (XLA keeps it whole)."""
        return ident(method) if "jit" in module.methods[method].attr_names else impl_name(method)

    def call_value_method(self, node: n.Call, info: CallInfo) -> str:
        method = node.func
        assert isinstance(method, n.Attribute)  # `receiver.method(...)`
        receiver = self.raw(method.value)
        ref = self.analysis.refs.get(method.value)
        if _method(info) in VARIABLE_UPDATES and ref is not None and ref.kind == "variable" \
                and self._float32_variable(ref) and len(node.args) == 1 and not node.keywords:
            return f"{receiver}.{ident(_method(info))}({precision.stored(self.expr(node.args[0]), receiver)})"
        args = ", ".join(self.raw(a) for a in node.args) if _method(info) == "watch" else self._args(node)
        return f"{receiver}.{ident(_method(info))}({args})"

    def call_array_update(self, node: n.Call, info: CallInfo) -> str:
        array = ident(_receiver(info))
        if info.method == ARRAY_POP:  # a statement of its own: the element is dropped
            return f"{array} = {self.array_pop(node, info)}[0]"
        args = [self.expr(a) for a in node.args]
        if info.method == "append":
            args.insert(0, f"{array}.size()")
        return f"{array} = {array}.write({', '.join(args)})"

    def array_pop(self, node: n.Call, info: CallInfo) -> str:
        """`(rest, last)`: a TensorArray cannot shrink, so the rest is a new one (O(length))."""
        self.cls.helpers.add("_array_pop")
        receiver = _receiver(info)
        message = f"pop from an empty list `{receiver}` ({source_label(node.span.file)}:{node.span.line})"
        return f"_array_pop({ident(receiver)}, {hygiene.literal(message)})"

    def call_optimizer_minimize(self, node: n.Call, info: CallInfo) -> str:
        """`_minimize(optimizer, loss, tape, var_list)`: the module's trainable variables unless the call names them."""
        self.cls.helpers.add("_minimize")
        var_list = next((k.value for k in node.keywords if k.name == "var_list"), None)
        variables = self.raw(var_list) if var_list is not None else "self.trainable_variables"
        args = ", ".join(self.expr(a) for a in node.args)
        return f"_minimize(self.{ident(_receiver(info))}, {args}, {variables})"

    # gradients (dsl.gradients) and members of submodules (dsl.members)
    def call_tape_gradient(self, node: n.Call, info: CallInfo) -> str:
        """`tape.gradient(target, sources)`, as TensorFlow spells it; "zero" for unconnected gradients
        becomes TensorFlow's enum (the default, None, is left out)."""
        parts = [self.expr(a) if i == 0 else self.raw(a) for i, a in enumerate(node.args)]  # sources: the variables
        for keyword in node.keywords:
            if keyword.name != "unconnected_gradients":
                parts.append(f"{ident(keyword.name)}={self.expr(keyword.value)}")
            elif isinstance(keyword.value, n.StringLit) and keyword.value.value == "zero":
                parts.append("unconnected_gradients=tf.UnconnectedGradients.ZERO")
        return f"{ident(_receiver(info))}.gradient({', '.join(parts)})"

    def call_optimizer_apply(self, node: n.Call, info: CallInfo) -> str:
        self.cls.helpers.add("_apply_gradients")
        args = ", ".join(self.expr(a) if i == 0 else self.raw(a) for i, a in enumerate(node.args))
        return f"_apply_gradients(self.{ident(_receiver(info))}, {args})"

    def emit_Attribute(self, node: n.Attribute) -> str:
        """A member of a submodule (`self.dense.kernel`, `self.optimizer.learning_rate`), or `out.mean`: one
        of a method's several outputs held by a local (the checker allows no other attribute value)."""
        ref = self.analysis.refs.get(node)
        if ref is not None and isinstance(ref.decl, Member):
            member = ref.decl
            return ".".join(["self", *(ident(s.name) for s in member.path), ident(member.name)])
        return self.output_read(node.value, node.attr)

    # a method's several outputs (a dict by output name, as its SavedModel signature returns them) ---

    def output_read(self, held: n.Node, name: str | None) -> str:
        """One output of several by name: the checker resolved `out.mean`, `out[0]` or `out["mean"]`."""
        assert name is not None  # inference reports an index that names no output
        return f"{self._paren(held, 15, False, partner=None)}[{hygiene.literal(name)}]"

    def outputs_tuple(self, node: n.Node, outputs: OutputsT) -> str:
        """A value holding several outputs as a tuple, in declaration order (for unpacking)."""
        self.cls.helpers.add("_outputs")
        return f"_outputs({self.expr(node)}, {hygiene.literal(outputs.names)})"


def _var_list(call: n.Call, info: CallInfo) -> n.Node | None:
    """The variables an optimizer call names: `apply_gradients`' second argument, `minimize`'s `var_list=`."""
    if info.kind == "optimizer_apply" and len(call.args) > 1:
        return call.args[1]
    return next((k.value for k in call.keywords if k.name == "var_list"), None)


def _method(info: CallInfo) -> str:
    """The method a method call runs (the checker records it for every kind but op, initializer, minimize)."""
    assert info.method is not None
    return info.method


def _receiver(info: CallInfo) -> str:
    """The submodule or local a call goes through (recorded for every kind but op, initializer, self_method)."""
    assert info.receiver is not None
    return info.receiver


def _passed_defaults(op: Op, call: n.Call) -> list[str]:
    """The defaulted parameters `call` leaves out that the generator passes itself: an op's
    `tfm_defaults` (defaults TensorFlow lacks), and every default of an op or initializer lowered to a
    runtime helper (helpers declare none: the registry entry is the one place a default is written)."""
    given = {p.name for p, _ in zip(op.params, call.args)} | {k.name for k in call.keywords}
    passed = [p.name for p in op.params if not p.required] if op.helper else op.tfm_defaults
    return [name for name in passed if name not in given]


def _tfm_default(op: Op, name: str) -> object:
    """The default the registry entry declares for parameter `name` (one `_passed_defaults` names)."""
    param = op.param(name)
    assert param is not None
    return param.default


def _comparison_links(node: n.BoolOp) -> tuple[n.Compare, ...] | None:
    """The links of `a < b <= c`, which the parser builds as `a < b and b <= c` sharing the node `b`;
    None when `node` is no such chain."""
    if node.op != "and":
        return None
    links = tuple(v for v in node.values if isinstance(v, n.Compare))
    if len(links) < len(node.values):
        return None
    return links if all(a.right is b.left for a, b in zip(links, links[1:])) else None


def _node_precedence(node: n.Node) -> int:
    if isinstance(node, n.BinOp):
        return _PRECEDENCE[node.op]
    if isinstance(node, n.Compare):
        return _PRECEDENCE["compare"]
    if isinstance(node, n.UnaryOp) and node.op != "not":
        return _PRECEDENCE["unary"]
    if isinstance(node, (n.IntLit, n.FloatLit)) and node.value < 0:
        return _PRECEDENCE["unary"]
    return 16


class _BodyEmitter(NodeVisitor):
    """Statements of one method body, as indented lines."""

    FAMILIES = {"stmt_": STATEMENTS}

    INDENT = "    "

    def __init__(self, cls: _ClassEmitter, method: n.Method):
        self.cls = cls
        self.method = method
        self.expressions = _ExprEmitter(cls)
        self.lines: list[str] = []
        self.depth = 0

    def emit(self) -> tuple[list[str], list[str]]:
        """(the entry point's run-time checks, the body). Only a call from outside runs the checks:
        a call from another method passes values the checker has already matched to the signature."""
        self.depth = 1
        self.named_dim_checks()
        checks, self.lines = self.lines, []
        self.depth = 0
        self.block(self.method.body)
        if any("self." in line for line in self.lines):
            # the policy's casts on entry (compiler/generate/precision.py); a body that uses nothing
            # of its module has no policy to read and computes in its inputs' dtype
            floats = [i.name for i in self.method.inputs if self.cls._declared(i.type).dtype == "f32"]
            casts = [self.INDENT + cast + self.cls.loc(self.method) for cast in precision.input_casts(floats)]
            self.lines = casts + self.lines
            # A body that uses the module runs under its name scope, as the seeds write it: the traced
            # graph groups each module's ops under its name in TensorBoard. (A body that does not is
            # left alone: a tf.function method holds its instance weakly, and `M().f()` must work.)
            self.lines = [self.INDENT + "with self.name_scope:"] + [self.INDENT + line for line in self.lines]
        return checks, self.lines

    def named_dim_checks(self) -> None:
        """A named dim used by several inputs (`N` in x: f32[N, 3] and y: f32[N]) must be one size:
        one check per pair of inputs, covering every dim they share."""
        first_seen: dict[str, tuple[str, int]] = {}
        pairs: dict[tuple[str, str], list[tuple[int, int, str, n.Dim]]] = {}  # (axis, axis, dim, as written)
        for inp in self.method.inputs:
            assert isinstance(inp.type, n.TensorType)  # dsl.overloads made one method per signature
            declared = self.cls._declared(inp.type).shape or ()
            for axis, (dim, written) in enumerate(zip(declared, inp.type.shape or ())):
                if not isinstance(dim, str) or dim_parameter(dim) in self.cls.info.params:
                    continue
                if dim not in first_seen:
                    first_seen[dim] = (inp.name, axis)
                    continue
                other, other_axis = first_seen[dim]
                pairs.setdefault((other, inp.name), []).append((other_axis, axis, dim, written))
        for (other, name), shared in pairs.items():
            dims = ", ".join(dim for _, _, dim, _ in shared)
            message = f"inputs {other} and {name} must agree on dimension{'s' if len(shared) > 1 else ''} {dims}"
            self.cls.helpers.add("_same_dims")
            other_axes = tuple(a for a, _, _, _ in shared)
            axes = tuple(b for _, b, _, _ in shared)
            self.line(f"{ident(name)} = _same_dims({ident(other)}, {other_axes!r}, {ident(name)}, {axes!r}, "
                      f"{hygiene.literal(message)})", shared[0][3])

    def line(self, text: str, node: n.Node) -> None:
        self.lines.append(self.INDENT * self.depth + text + self.cls.loc(node))

    def block(self, body: tuple) -> None:
        self.depth += 1
        for stmt in body:
            with locate_bugs(stmt):
                self.dispatch("stmt_", type(stmt), stmt)
        self.depth -= 1

    def value(self, node: n.Node, dtype: str | None = None) -> str:
        """A value that becomes a local or an output: always a tensor, never a Python number, and of
        `dtype` (the declared one) where that is given.

        A Python number bound to a local would make AutoGraph run a loop over it in Python,
        unrolled at trace time; tfm never unrolls by accident.
        """
        text = self.expressions.expr(node)
        type_ = self.cls.analysis.types.get(node)
        if _is_python_value(type_):
            return _as_constant(text, dtype or type_.dtype)
        if isinstance(node, n.ListLit):
            return f"{_lowering('stack')}({text})"
        return text

    def stmt_Assign(self, stmt: n.Assign) -> None:
        declared = self.cls._declared(stmt.declared) if stmt.declared is not None else None
        if isinstance(declared, ArrayT):
            element = declared.element
            dims = ", ".join(self.expressions.dim(d) if isinstance(d, int) else "None" for d in element.shape or ())
            self.line(f"{ident(stmt.target)} = {_lowering('TensorArray')}({dtype_expr(element.dtype)}, size=0, dynamic_size=True, "
                      f"element_shape=[{dims}])", stmt)
            return
        info = self.cls.analysis.calls.get(stmt.value)
        if info is not None and info.kind == "array_update" and info.method == ARRAY_POP:
            assert isinstance(stmt.value, n.Call)  # `calls` holds calls only
            popped = self.expressions.array_pop(stmt.value, info)
            self.line(f"{ident(_receiver(info))}, {ident(stmt.target)} = {popped}", stmt)
            return
        value = self.value(stmt.value, declared.dtype if declared is not None else None)
        self.line(f"{ident(stmt.target)} = {value}", stmt)

    def stmt_AugAssign(self, stmt: n.AugAssign) -> None:
        ref = self.cls.analysis.refs.get(stmt)
        value = self.expressions.expr(stmt.value)
        if ref is not None and ref.kind == "variable":
            method = "assign_add" if stmt.op == "+" else "assign_sub"
            if isinstance(ref.decl, n.VarDecl) and ref.decl.type.dtype == "f32":
                value = precision.stored(value, f"self.{ident(stmt.target)}")
            self.line(f"self.{ident(stmt.target)}.{method}({value})", stmt)
        else:
            self.line(f"{ident(stmt.target)} {stmt.op}= {value}", stmt)

    def stmt_Return(self, stmt: n.Return) -> None:
        returns = self.method.returns
        if not stmt.values:
            self.line("return", stmt)
        elif isinstance(returns, tuple) and len(stmt.values) == 1 and len(returns) > 1:
            self.return_outputs(stmt, returns)
        elif isinstance(returns, tuple):
            items = ", ".join(f"{hygiene.literal(o.name)}: {self.value(v, self.cls._declared(o.type).dtype)}"
                              for o, v in zip(returns, stmt.values))
            self.line(f"return {{{items}}}", stmt)
        else:
            assert returns is not None  # the checker allows a value only where the method declares one
            self.line(f"return {self.value(stmt.values[0], self.cls._declared(returns).dtype)}", stmt)

    def stmt_Unpack(self, stmt: n.Unpack) -> None:
        """`a, b = enc(x)`: the outputs taken by name in declaration order; `a, b = b, a` as Python does."""
        targets = ", ".join(ident(t) for t in stmt.names)
        held = self.cls.analysis.types.get(stmt.values[0])
        if len(stmt.values) == 1 and isinstance(held, OutputsT):
            self.line(f"{targets} = {self.expressions.outputs_tuple(stmt.values[0], held)}", stmt)
        else:
            self.line(f"{targets} = {', '.join(self.value(v) for v in stmt.values)}", stmt)

    def return_outputs(self, stmt: n.Return, returns: tuple[n.NamedOutput, ...]) -> None:
        """`return enc(x)` from a method of several outputs: the callee's dict, renamed if its names differ."""
        held = self.cls.analysis.types.get(stmt.values[0])
        assert isinstance(held, OutputsT)  # inference reports any other single value for several outputs
        names = tuple(o.name for o in returns)
        value = self.expressions.expr(stmt.values[0])
        if held.names != names:
            self.cls.helpers.add("_renamed")
            value = f"_renamed({value}, {hygiene.literal(held.names)}, {hygiene.literal(names)})"
        self.line(f"return {value}", stmt)

    def stmt_ExprStmt(self, stmt: n.ExprStmt) -> None:
        self.line(self.expressions.expr(stmt.expr), stmt)

    def stmt_Pass(self, stmt: n.Pass) -> None:
        self.line("pass", stmt)

    def stmt_Break(self, stmt: n.Break) -> None:
        self.line("break", stmt)

    def stmt_Continue(self, stmt: n.Continue) -> None:
        self.line("continue", stmt)

    def stmt_If(self, stmt: n.If, keyword: str = "if") -> None:
        self.line(f"{keyword} {self.condition(stmt.test)}:", stmt)
        self.block(stmt.body)
        if len(stmt.orelse) == 1 and isinstance(stmt.orelse[0], n.If):
            self.stmt_If(stmt.orelse[0], "elif")
        elif stmt.orelse:
            self.lines.append(self.INDENT * self.depth + "else:")
            self.block(stmt.orelse)

    def condition(self, node: n.Node) -> str:
        """An `if` on Python values is decided at trace time, as the checker assumed; a tensor
        condition becomes graph control flow through AutoGraph."""
        return self.expressions.expr(node) if _is_python_value(self.cls.analysis.types.get(node)) else self.value(node)

    def stmt_For(self, stmt: n.For) -> None:
        call = stmt.iter
        info = self.cls.analysis.calls.get(call)
        if not isinstance(call, n.Call) or info is None or info.op is not OPS["range"]:
            # `for row in x:`: AutoGraph loops over x's first axis
            self.line(f"for {ident(stmt.target)} in {self.value(call)}:", stmt)
            self.loop_options(stmt)
            self.block(stmt.body)
            return
        args = self.expressions._args(call)
        loop = f"_range({args})" if stmt.static else f"{_lowering('range')}({args})"
        for name, dtype, shape in self.cls.analysis.loop_predefined.get(stmt, ()):
            # AutoGraph needs a loop variable defined before the loop; this loop provably runs.
            self.line(f"{ident(name)} = {_lowering('zeros')}({list(shape)!r}, dtype={dtype_expr(dtype)})", stmt)
        self.line(f"for {ident(stmt.target)} in {loop}:", stmt)
        self.loop_options(stmt)
        self.block(stmt.body)

    def stmt_While(self, stmt: n.While) -> None:
        self.line(f"while {self.value(stmt.test)}:", stmt)  # never a Python loop unrolled at trace time
        self.loop_options(stmt)
        self.block(stmt.body)

    def loop_options(self, loop: n.Node) -> None:
        """Shape invariants for the locals a loop may grow (declared `v: f32[?]`), as AutoGraph takes them."""
        relaxed = self.cls.analysis.loop_invariants.get(loop)
        if not relaxed:
            return
        pairs = ", ".join(f"({ident(name)}, tf.TensorShape([{', '.join(repr(d) for d in dims)}]))"
                          for name, dims in relaxed)
        self.depth += 1
        self.line(f"tf.autograph.experimental.set_loop_options(shape_invariants=[{pairs}])", loop)
        self.depth -= 1

    def stmt_ItemAssign(self, stmt: n.ItemAssign) -> None:
        """`xs[i] = v` on a typed list: a TensorArray write returns the new array."""
        array = stmt.target.value
        assert isinstance(array, n.Name)  # the checker allows a typed list's name only
        name = ident(array.id)
        element = self.cls.analysis.types.get(array)
        dtype = element.element.dtype if isinstance(element, ArrayT) else None
        self.line(f"{name} = {name}.write({self.value(stmt.target.items[0])}, {self.value(stmt.value, dtype)})", stmt)

    def stmt_With(self, stmt: n.With) -> None:
        if stmt.name is None:  # `with name_scope("block"):`; the checker allows only a string literal
            scope = stmt.context
            assert isinstance(scope, n.Call) and isinstance(scope.args[0], n.StringLit)
            self.line(f"with tf.name_scope({hygiene.literal(scope.args[0].value)}):", stmt)
        else:
            self.line(f"with {self.expressions.expr(stmt.context)} as {ident(stmt.name)}:", stmt)
        self.block(stmt.body)

    def stmt_LocalFunction(self, stmt: n.LocalFunction) -> None:
        """A nested Python function: AutoGraph converts it with the method that defines it."""
        function = stmt.function
        self.line(f"def {ident(function.name)}({', '.join(ident(i.name) for i in function.inputs)}):", stmt)
        body = _BodyEmitter(self.cls, function)
        body.depth = self.depth
        body.block(function.body)
        self.lines.extend(body.lines)

    def stmt_Assert(self, stmt: n.Assert) -> None:
        """A run-time check in the graph (what AutoGraph makes of Python's `assert` on a tensor)."""
        written = stmt.message
        assert written is None or isinstance(written, n.StringLit)  # the checker allows a string literal only
        message = written.value if written is not None else f"assertion failed: {stmt.span.line}"
        self.line(f"tf.debugging.Assert({self.value(stmt.test)}, [{hygiene.literal(message)}])", stmt)


def _as_constant(text: str, dtype: str | None) -> str:
    """A Python value's text made a tensor, of `dtype` where one is known."""
    return f"{_lowering('constant')}({text}" + (f", dtype={dtype_expr(dtype)})" if dtype else ")")


def _is_python_value(type_: object) -> TypeGuard[TensorT]:
    """A literal or a static parameter, or an expression of them: Python computes it at trace time."""
    return isinstance(type_, TensorT) and type_.weak
