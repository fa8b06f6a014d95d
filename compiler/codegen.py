"""Generate Python from a checked program: one `tf.Module` class per `.tfm` module.

The class skeleton and the runtime helpers are jinja2 templates (`templates/`); statements and
expressions are emitted here, one `emit_<Node>` per node type. Hygiene: names reach the output only
after the checker validated them as ASCII identifiers that are not keywords or reserved names, and
every literal goes out through `repr()`. Each statement ends with a `# FILE:LINE` comment, the line map
back to the `.tfm` source.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from dsl import nodes as n
from dsl.analysis import Analysis, CallInfo, outputs_of, walk
from dsl.diagnostics import locate_bugs
from dsl.ops import DTYPES, static_python_type

__all__ = ["generate", "GENERATOR_VERSION"]

GENERATOR_VERSION = "0.1.0"

# Helpers that other helpers call: emitted together.
_HELPER_DEPS = {
    "_init_normal": {"_seed_pair"},
    "_init_truncated_normal": {"_seed_pair"},
    "_init_uniform": {"_seed_pair"},
    "_init_glorot_uniform": {"_init_uniform", "_seed_pair", "_fans"},
    "_init_glorot_normal": {"_scaled_truncated_normal", "_seed_pair", "_fans"},
    "_init_he_normal": {"_scaled_truncated_normal", "_seed_pair", "_fans"},
}

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)
_ENV.filters["pyrepr"] = repr

# Python operator precedence, for parenthesizing only where needed.
_PRECEDENCE = {"**": 14, "unary": 13, "*": 12, "/": 12, "//": 12, "%": 12, "@": 12, "+": 11, "-": 11,
               "compare": 8}


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


@dataclass
class _Class:
    name: str
    doc: str
    init_params: str
    param_lines: list[str] = field(default_factory=list)
    scope_lines: list[str] = field(default_factory=list)
    bind_lines: list[str] = field(default_factory=list)
    methods: list[_Method] = field(default_factory=list)


def generate(analysis: Analysis, source_text: str, source_name: str) -> str:
    """The generated module's text: deterministic for a given source and generator version."""
    helpers: set[str] = set()
    modules = [*analysis.library, *analysis.program.modules]
    classes = [_ClassEmitter(analysis, m, helpers).emit() for m in _construction_order(analysis, modules)]
    builtins = sorted({sub.module for m in modules for sub in m.submodules if analysis.modules[sub.module].builtin})
    return _ENV.get_template("module.py.j2").render(
        version=GENERATOR_VERSION,
        source_name=source_name,
        sha256=hashlib.sha256(source_text.encode("utf-8")).hexdigest(),
        exports=[m.name for m in analysis.program.modules],
        helpers=_with_dependencies(helpers),
        builtins=builtins,
        classes=classes,
    )


def _with_dependencies(helpers: set[str]) -> list[str]:
    closed = set(helpers)
    for helper in helpers:
        closed |= _HELPER_DEPS.get(helper, set())
    return sorted(closed)


def _construction_order(analysis: Analysis, modules: list[n.ModuleDef]) -> list[n.ModuleDef]:
    """Modules before the modules that hold them, otherwise in source order (library first)."""
    by_name = {m.name: m for m in modules}
    ordered: list[n.ModuleDef] = []
    for module in modules:
        for name in [*analysis.dependencies(module), module.name]:
            if name in by_name and by_name[name] not in ordered:
                ordered.append(by_name[name])
    return ordered


def _loc(node: n.Node) -> str:
    return f"  # {Path(node.span.file).name}:{node.span.line}:{node.span.column}"


def _with_loc(statement: str, node: n.Node) -> str:
    """The location comment goes on a statement's first line, which is the line tracebacks show."""
    first, newline, rest = statement.partition("\n")
    return first + _loc(node) + newline + rest


def dtype_expr(dtype: str) -> str:
    return DTYPES[dtype]


class _ClassEmitter:
    def __init__(self, analysis: Analysis, module: n.ModuleDef, helpers: set[str]):
        self.analysis = analysis
        self.module = module
        self.info = analysis.modules[module.name]
        self.helpers = helpers

    def emit(self) -> _Class:
        cls = _Class(name=self.module.name, doc=self._doc(), init_params=self._init_params())
        init_expr = _ExprEmitter(self, in_init=True)
        for param in self.module.params:
            line = self._param(param)
            if line:
                cls.param_lines.append(line)
        for var in self.module.variables:
            cls.scope_lines.append(self._variable(var, init_expr))
        for sub in sorted(self.module.submodules, key=lambda s: self.analysis.modules[s.module].is_optimizer):
            cls.scope_lines.append(self._submodule(sub, init_expr))
        for method in self.module.methods:
            emitted = self._method(method)
            cls.methods.append(emitted)
            if emitted.bound_in_init:
                jit = ", jit_compile=True" if emitted.jit else ""
                signature = _signature_text(emitted.specs, indent=8)
                cls.bind_lines.append(_with_loc(f"self.{method.name} = tf.function(self.{emitted.python_name}, "
                                                f"input_signature={signature}{jit})", method))
        return cls

    def _param(self, param: n.ModuleParam) -> str | None:
        """Static parameters are kept as Python attributes; tensor ones only if a method reads them."""
        if static_python_type(param.type):
            return f"self.{param.name} = {param.name}{_loc(param)}"
        used = any(ref.decl is param for node, ref in self.analysis.refs.items() if isinstance(node, n.Name))
        if not used or not self._read_in_method(param):
            return None
        return f"self.{param.name} = tf.constant({param.name}, dtype={dtype_expr(param.type.dtype)}){_loc(param)}"

    def _read_in_method(self, param: n.ModuleParam) -> bool:
        return any(isinstance(node, n.Name) and self.analysis.refs.get(node) is not None
                   and self.analysis.refs[node].decl is param
                   for method in self.module.methods for node in walk(method.body))

    def _doc(self) -> str:
        where = Path(self.module.span.file).name
        return f"Compiled from {where}:{self.module.span.line}."

    def _init_params(self) -> str:
        parts = ["self"]
        for param in self.module.params:
            if param.default is None:
                parts.append(param.name)
            else:
                parts.append(f"{param.name}={_ExprEmitter(self, in_init=True).static_literal(param.default)}")
        parts.append("*")
        parts.append("name=None")
        return ", ".join(parts)

    def _variable(self, var: n.VarDecl, init_expr: _ExprEmitter) -> str:
        dtype = dtype_expr(var.type.dtype)
        info = self.analysis.calls.get(var.init)
        if info is not None and info.kind == "initializer":
            self.helpers.add(info.op.lowering)
            shape = "[" + ", ".join(init_expr.dim(d) for d in var.type.shape) + "]"
            args = [shape, dtype] + [init_expr.expr(a) for a in var.init.args]
            args += [f"{k.name}={init_expr.expr(k.value)}" for k in var.init.keywords]
            value = f"{info.op.lowering}({', '.join(args)})"
        else:
            value = init_expr.expr(var.init)
        dtype_argument = "" if info is not None and info.kind == "initializer" else f", dtype={dtype}"
        return (f"self.{var.name} = tf.Variable({value}{dtype_argument}, trainable={var.trainable}, "
                f"name={var.name!r}){_loc(var)}")

    def _submodule(self, sub: n.SubDecl, init_expr: _ExprEmitter) -> str:
        args = [init_expr.expr(a) for a in sub.args]
        args += [f"{k.name}={init_expr.expr(k.value)}" for k in sub.keywords]
        target = self.analysis.modules[sub.module]
        if target.is_optimizer:
            # Slots are made now, for the variables declared above: never inside a tf.function.
            args.insert(0, "self.trainable_variables")
        args.append(f"name={sub.name!r}")
        return f"self.{sub.name} = {sub.module}({', '.join(args)}){_loc(sub)}"

    def _method(self, method: n.Method) -> _Method:
        specs = [self._tensor_spec(i.type, i.name) for i in method.inputs]
        bound = any(self._uses_params(i.type) for i in method.inputs)
        body = _BodyEmitter(self, method).emit()
        return _Method(
            name=method.name,
            python_name=f"_{method.name}_impl" if bound else method.name,
            inputs=[i.name for i in method.inputs],
            specs=specs,
            signature=_signature_text(specs, indent=4),
            bound_in_init=bound,
            jit="jit" in method.attr_names,
            body=body,
            doc=self._method_doc(method),
        )

    def _method_doc(self, method: n.Method) -> str:
        outputs = outputs_of(method)
        shown = ", ".join(f"{o.name}: {_type_text(o.type)}" for o in outputs) or "nothing"
        return f"{Path(method.span.file).name}:{method.span.line}. Returns {shown}."

    def _uses_params(self, type_: n.TensorType) -> bool:
        return any(d.kind == "named" and d.name in self.info.params for d in type_.shape or ())

    def _tensor_spec(self, type_: n.TensorType, name: str) -> str:
        dims = ", ".join(self._spec_dim(d) for d in type_.shape or ())
        return f"tf.TensorSpec(shape=[{dims}], dtype={dtype_expr(type_.dtype)}, name={name!r})"

    def _spec_dim(self, dim: n.Dim) -> str:
        if dim.kind == "fixed":
            return repr(dim.size)
        if dim.kind == "named" and dim.name in self.info.params:
            return dim.name
        return "None"


def _signature_text(specs: list[str], indent: int) -> str:
    """`[spec]` when it fits on the line, else one spec per line, as a person would format it."""
    inline = "[" + ", ".join(specs) + "]"
    if len(specs) <= 1 and len(inline) + indent < 90:
        return inline
    inner = " " * (indent + 4)
    return "[\n" + "".join(f"{inner}{spec},\n" for spec in specs) + " " * indent + "]"


def _type_text(type_: n.TensorType) -> str:
    dims = ", ".join(str(d.size) if d.kind == "fixed" else (d.name or "?") for d in type_.shape or ())
    return f"{type_.dtype}[{dims}]"


class _ExprEmitter:
    """Expressions to Python source. `in_init`: constructor parameters are locals, not attributes."""

    def __init__(self, cls: _ClassEmitter, in_init: bool = False):
        self.cls = cls
        self.analysis = cls.analysis
        self.in_init = in_init

    def expr(self, node: n.Node) -> str:
        return getattr(self, "emit_" + type(node).__name__)(node)

    def dim(self, dim: n.Dim) -> str:
        return repr(dim.size) if dim.kind == "fixed" else str(dim.name)

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
        if kind == "dtype":
            return dtype_expr(node.id)
        if kind in ("static_param", "tensor_param"):
            return node.id if self.in_init else f"self.{node.id}"
        if kind == "variable":
            return f"self.{node.id}"
        return node.id

    def emit_IntLit(self, node: n.IntLit) -> str:
        return repr(int(node.value))

    def emit_FloatLit(self, node: n.FloatLit) -> str:
        value = float(node.value)
        if not math.isfinite(value):
            raise ValueError(f"non-finite literal at {node.span}")
        return repr(value)

    def emit_StringLit(self, node: n.StringLit) -> str:
        return repr(str(node.value))

    def emit_BoolLit(self, node: n.BoolLit) -> str:
        return repr(bool(node.value))

    def emit_ListLit(self, node: n.ListLit) -> str:
        return "[" + ", ".join(self.expr(i) for i in node.items) + "]"

    # operators
    def emit_BinOp(self, node: n.BinOp) -> str:
        prec = _PRECEDENCE[node.op]
        right_assoc = node.op == "**"
        left = self._paren(node.left, prec, strict=right_assoc)
        right = self._paren(node.right, prec, strict=not right_assoc)
        return f"{left} {node.op} {right}"

    def emit_Compare(self, node: n.Compare) -> str:
        prec = _PRECEDENCE["compare"]
        return f"{self._paren(node.left, prec, True)} {node.op} {self._paren(node.right, prec, True)}"

    def emit_UnaryOp(self, node: n.UnaryOp) -> str:
        if node.op == "not":
            return f"tf.math.logical_not({self.expr(node.operand)})"
        return f"{node.op}{self._paren(node.operand, _PRECEDENCE['unary'], strict=False)}"

    def emit_BoolOp(self, node: n.BoolOp) -> str:
        fn = "tf.math.logical_and" if node.op == "and" else "tf.math.logical_or"
        result = self.expr(node.values[0])
        for value in node.values[1:]:
            result = f"{fn}({result}, {self.expr(value)})"
        return result

    def _paren(self, node: n.Node, parent: int, strict: bool) -> str:
        text = self.expr(node)
        mine = _node_precedence(node)
        if mine < parent or (strict and mine == parent):
            return f"({text})"
        return text

    # postfix
    def emit_Subscript(self, node: n.Subscript) -> str:
        items = ", ".join(self._subscript_item(i) for i in node.items)
        return f"{self._paren(node.value, 15, False)}[{items}]"

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
        return getattr(self, "call_" + info.kind)(node, info)

    def _args(self, node: n.Call) -> str:
        parts = [self.expr(a) for a in node.args]
        parts += [f"{k.name}={self.expr(k.value)}" for k in node.keywords]
        return ", ".join(parts)

    def call_op(self, node: n.Call, info: CallInfo) -> str:
        if info.op.helper:
            self.cls.helpers.add(info.op.helper)
        return f"{info.op.lowering}({self._args(node)})"

    def call_initializer(self, node: n.Call, info: CallInfo) -> str:
        raise AssertionError("initializers are emitted by _ClassEmitter._variable")

    def call_self_method(self, node: n.Call, info: CallInfo) -> str:
        return f"self.{info.method}({self._args(node)})"

    def call_sub_method(self, node: n.Call, info: CallInfo) -> str:
        return f"self.{info.receiver}.{info.method}({self._args(node)})"

    def call_value_method(self, node: n.Call, info: CallInfo) -> str:
        receiver = self.expr(node.func.value)
        return f"{receiver}.{info.method}({self._args(node)})"

    def call_array_update(self, node: n.Call, info: CallInfo) -> str:
        array = info.receiver
        args = [self.expr(a) for a in node.args]
        if info.method == "append":
            args.insert(0, f"{array}.size()")
        return f"{array} = {array}.write({', '.join(args)})"

    def call_optimizer_minimize(self, node: n.Call, info: CallInfo) -> str:
        return f"self.{info.receiver}.minimize({self._args(node)}, self.trainable_variables)"

    def emit_Attribute(self, node: n.Attribute) -> str:
        raise AssertionError("the checker rejects attribute values")


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


class _BodyEmitter:
    """Statements of one method body, as indented lines."""

    INDENT = "    "

    def __init__(self, cls: _ClassEmitter, method: n.Method):
        self.cls = cls
        self.method = method
        self.x = _ExprEmitter(cls)
        self.lines: list[str] = []
        self.depth = 0

    def emit(self) -> list[str]:
        self.depth = 1
        self.named_dim_checks()
        self.depth = 0
        self.block(self.method.body)
        return self.lines

    def named_dim_checks(self) -> None:
        """A named dim used by several inputs (`N` in x: f32[N, 3] and y: f32[N]) must be one size."""
        first_seen: dict[str, tuple[str, int]] = {}
        for inp in self.method.inputs:
            for axis, dim in enumerate(inp.type.shape or ()):
                if dim.kind != "named" or dim.name in self.cls.info.params:
                    continue
                if dim.name not in first_seen:
                    first_seen[dim.name] = (inp.name, axis)
                    continue
                other, other_axis = first_seen[dim.name]
                message = f"inputs {other} and {inp.name} must agree on dimension {dim.name}"
                self.cls.helpers.add("_same_dim")
                self.line(f"{inp.name} = _same_dim({other}, {other_axis}, {inp.name}, {axis}, {message!r})", dim)

    def line(self, text: str, node: n.Node) -> None:
        self.lines.append(self.INDENT * self.depth + text + _loc(node))

    def block(self, body: tuple) -> None:
        self.depth += 1
        for stmt in body:
            with locate_bugs(stmt):
                getattr(self, "stmt_" + type(stmt).__name__)(stmt)
        self.depth -= 1

    def value(self, node: n.Node) -> str:
        """A value that becomes a local or an output: always a tensor, never a Python number.

        A Python number bound to a local would make AutoGraph run a loop over it in Python,
        unrolled at trace time; tfm never unrolls by accident.
        """
        text = self.x.expr(node)
        if not _is_static(self.cls.analysis, node):
            if isinstance(node, n.ListLit):
                return f"tf.stack({text})"
            return text
        return f"tf.constant({text})"

    def stmt_Assign(self, stmt: n.Assign) -> None:
        if isinstance(stmt.declared, n.ListType):
            element = stmt.declared.element
            dims = ", ".join(self.x.dim(d) if d.kind == "fixed" else "None" for d in element.shape or ())
            self.line(f"{stmt.target} = tf.TensorArray({dtype_expr(element.dtype)}, size=0, dynamic_size=True, "
                      f"element_shape=[{dims}])", stmt)
            return
        value = self.value(stmt.value)
        if stmt.declared is not None:
            value = f"tf.cast({value}, {dtype_expr(stmt.declared.dtype)})" if _is_static(
                self.cls.analysis, stmt.value) else value
        self.line(f"{stmt.target} = {value}", stmt)

    def stmt_AugAssign(self, stmt: n.AugAssign) -> None:
        ref = self.cls.analysis.refs.get(stmt)
        value = self.x.expr(stmt.value)
        if ref is not None and ref.kind == "variable":
            method = "assign_add" if stmt.op == "+" else "assign_sub"
            self.line(f"self.{stmt.target}.{method}({value})", stmt)
        else:
            self.line(f"{stmt.target} {stmt.op}= {value}", stmt)

    def stmt_Return(self, stmt: n.Return) -> None:
        returns = self.method.returns
        if not stmt.values:
            self.line("return", stmt)
        elif isinstance(returns, tuple):
            items = ", ".join(f"{o.name!r}: {self.value(v)}" for o, v in zip(returns, stmt.values))
            self.line(f"return {{{items}}}", stmt)
        else:
            self.line(f"return {self.value(stmt.values[0])}", stmt)

    def stmt_ExprStmt(self, stmt: n.ExprStmt) -> None:
        self.line(self.x.expr(stmt.expr), stmt)

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
        return self.value(node)

    def stmt_For(self, stmt: n.For) -> None:
        call = stmt.iter
        args = self.x._args(call)
        loop = f"range({args})" if stmt.static else f"tf.range({args})"
        self.line(f"for {stmt.target} in {loop}:", stmt)
        self.block(stmt.body)

    def stmt_While(self, stmt: n.While) -> None:
        self.line(f"while {self.condition(stmt.test)}:", stmt)
        self.block(stmt.body)

    def stmt_With(self, stmt: n.With) -> None:
        self.line(f"with {self.x.expr(stmt.context)} as {stmt.name}:", stmt)
        self.block(stmt.body)


def _is_static(analysis: Analysis, node: n.Node) -> bool:
    """True when `node` is made only of literals and Python-valued constructor parameters."""
    for child in walk(node):
        if isinstance(child, n.Name):
            ref = analysis.refs.get(child)
            if ref is None or ref.kind != "static_param":
                return False
        elif isinstance(child, (n.Call, n.Subscript, n.Attribute)):
            return False
    return True

