"""Questions an editor asks of a checked program, answered from the analysis: what is at a position,
its type (also as an instance with the constructor's defaults has it), where it is defined, every
place a name is used (for rename), what may be typed here (also after `name.`), the signature of the
call being typed, each local's inferred type (inlay hints), and the program's outline. The analysis
may be of a file with errors (dsl/tolerant.py, dsl/incremental.py). Positions are 1-based (line,
column), as spans are; the language server (tfm.lsp) converts to and from LSP's 0-based ones.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Sequence, TypeVar

from . import nodes as n
from .analysis import Analysis, CallInfo, ModuleInfo, children, method_signature, outputs_of, type_text, walk
from .declarations import dims_pattern
from .ops import OPS, Op
from .ops.names import VALUE_METHODS
from .regularizers import REGULARIZATION_LOSSES, uses_regularizers
from .tensor_types import Dim, TensorT

_NodeT = TypeVar("_NodeT", bound=n.Node)


@dataclass(frozen=True)
class Symbol:
    """One entry of a document outline: a module, or a member of one."""

    name: str
    kind: str  # module, variable, state, submodule, method, parameter
    span: n.Span  # the whole declaration
    name_span: n.Span  # its name: what an editor selects
    children: tuple[Symbol, ...] = ()


def _contains(span: n.Span, line: int, column: int) -> bool:
    return (span.line, span.column) <= (line, column) < (span.end_line, span.end_column) or (
        span.line == span.end_line == line and span.column <= column <= span.end_column)


def node_at(analysis: Analysis, file: str, line: int, column: int) -> tuple[n.Node | None, list[n.Node]]:
    """The innermost node at (line, column) in `file`, and its ancestors (outermost first)."""
    best: n.Node | None = None
    chain: list[n.Node] = []
    for module in analysis.program.modules:
        if module.span.file != file:
            continue
        stack: list[tuple[n.Node, list[n.Node]]] = [(module, [])]
        while stack:
            node, parents = stack.pop()
            if not _contains(node.span, line, column):
                continue
            best, chain = node, parents
            for name in n.child_fields(node):
                for child in children(getattr(node, name)):
                    stack.append((child, [*parents, node]))
    return best, chain


def _enclosing(chain: Sequence[n.Node | None], kind: type[_NodeT]) -> _NodeT | None:
    return next((node for node in reversed(chain) if isinstance(node, kind)), None)


def hover(analysis: Analysis, file: str, line: int, column: int) -> str | None:
    """Markdown for what is under the cursor: an expression's inferred type, an op's signature, a
    member's declaration, a method's signature."""
    node, chain = node_at(analysis, file, line, column)
    if node is None:
        return None
    parent = chain[-1] if chain else None
    if isinstance(node, n.Name) and isinstance(parent, n.Call) and parent.func is node:
        call = parent
        info = analysis.calls.get(call)
        if info is not None and info.op is not None:
            return f"```\n{op_signature(info.op)}\n```\n{info.op.category} op, lowers to `{info.op.lowering}`"
        if info is not None and info.kind == "sub_method":
            return _sub_call_hover(analysis, chain, info)
        method = _method_named(analysis, chain, node.id)
        if method is not None:
            return f"```\n{method_signature(method)}\n```"
    values = _instance_values(analysis, chain)
    if isinstance(node, n.Method):
        return f"```\n{method_signature(node)}\n```"
    if isinstance(node, (n.Assign, n.AugAssign)) and analysis.types.get(node.value) is not None:
        return _typed(node.target, analysis.types[node.value], values)
    if isinstance(node, n.SubDecl):
        return f"```\n{_sub_line(analysis, chain, node)}\n```"
    if isinstance(node, (n.VarDecl, n.ModuleParam, n.ModuleDef, n.MethodInput, n.NamedOutput)):
        declared = analysis.types.get(node.type) if isinstance(node, (n.VarDecl, n.MethodInput, n.NamedOutput)) else None
        instance = _instance(declared, values) if isinstance(declared, TensorT) else None
        more = f"\nin this instance: `{instance}`" if instance is not None else ""
        return f"```\n{_first_line(analysis, node)}\n```{more}"
    type_ = analysis.types.get(node)
    if type_ is not None:
        label = node.id if isinstance(node, n.Name) else node.text if isinstance(node, n.Identifier) else "expression"
        return _typed(label, type_, values)
    ref = analysis.refs.get(node)
    if ref is not None and ref.decl is not None and isinstance(ref.decl, n.Node):
        return f"```\n{_first_line(analysis, ref.decl)}\n```"
    return None


def _typed(label: str, type_: object, values: dict[str, object]) -> str:
    """`label`: its type, and the type in this instance where constructor parameters size it."""
    if not isinstance(type_, TensorT):
        return f"`{label}`: {type_}"
    instance = _instance(type_, values)
    return f"`{label}`: `{type_}`" + (f" (in this instance: `{instance}`)" if instance is not None else "")


def _instance(type_: TensorT, values: dict[str, object]) -> TensorT | None:
    """`type_` with each dim named by a constructor parameter replaced by its value in `values`; None
    if no dim changes."""
    if type_.shape is None:
        return None

    def sized(dim: Dim) -> Dim:
        value = values.get(dim) if isinstance(dim, str) else None
        return value if isinstance(value, int) and not isinstance(value, bool) else dim

    shape = tuple(sized(d) for d in type_.shape)
    return TensorT(type_.dtype, shape) if shape != type_.shape else None


def _instance_values(analysis: Analysis, chain: Sequence[n.Node | None]) -> dict[str, object]:
    """The enclosing module's parameters as one instance of it has them by default."""
    module = _enclosing(chain, n.ModuleDef)
    return analysis.parameter_values(module.name) if module is not None else {}


def sub_values(analysis: Analysis, holder: str, sub: n.SubDecl) -> dict[str, object]:
    """The parameters of submodule `sub` of module `holder` (an instance with its defaults): its
    arguments, evaluated, over its module's defaults."""
    given = analysis.sub_argument_values(sub, analysis.parameter_values(holder))
    return analysis.parameter_values(sub.module, {k: v for k, v in given.items() if v is not None})


def instance_signature(analysis: Analysis, method: n.Method, values: dict[str, object]) -> str:
    """`method_signature` (dsl/analysis.py) with each declared type as an instance whose parameters are
    `values` has it: `fn call(x: f32[N, 64]) -> f32[N, 128]` for `fn call(x: f32[N, in_dim]) -> ...`."""
    inputs = ", ".join(f"{i.name}: {_shown(analysis, i.type, values)}" for i in method.inputs)
    outputs = outputs_of(method)
    if not outputs:
        return f"fn {method.name}({inputs})"
    if isinstance(method.returns, tuple):
        named = ", ".join(f"{o.name}: {_shown(analysis, o.type, values)}" for o in outputs)
        return f"fn {method.name}({inputs}) -> ({named})"
    return f"fn {method.name}({inputs}) -> {_shown(analysis, outputs[0].type, values)}"


def _shown(analysis: Analysis, type_: n.Node, values: dict[str, object]) -> str:
    declared = analysis.types.get(type_)
    if isinstance(declared, TensorT) and isinstance(type_, n.TensorType) and (pattern := dims_pattern(type_)):
        declared = TensorT(declared.dtype, (*pattern[0], "...", *pattern[1]))  # shown as written: f32[N, ..., 64]
    if isinstance(declared, TensorT):
        return str(_instance(declared, values) or declared)
    return type_text(type_)


def _sub_call_hover(analysis: Analysis, chain: list[n.Node], info: CallInfo) -> str | None:
    module = _enclosing(chain, n.ModuleDef)
    target = _sub_method(analysis, chain, info)
    holder = analysis.modules.get(module.name) if module is not None else None
    sub = holder.submodules.get(info.receiver or "") if holder is not None else None
    if target is None or sub is None or module is None:
        return None
    values = sub_values(analysis, module.name, sub)
    return (f"```\n{instance_signature(analysis, target, values)}\n```\n"
            f"of submodule `{info.receiver}` = `{_construction(analysis, sub, values)}`; declared as\n"
            f"```\n{method_signature(target)}\n```")


def _sub_line(analysis: Analysis, chain: list[n.Node], sub: n.SubDecl) -> str:
    module = _enclosing(chain, n.ModuleDef)
    if module is None or sub.module not in analysis.modules:
        return _first_line(analysis, sub)
    frozen = "frozen " if sub.frozen else ""
    return f"{frozen}sub {sub.name} = {_construction(analysis, sub, sub_values(analysis, module.name, sub))}"


def _construction(analysis: Analysis, sub: n.SubDecl, values: dict[str, object]) -> str:
    """`Dense(in_dim=64, out_dim=128, activation="linear", seed=-1)`: every parameter, in order, with
    its value in this instance (`?` where it is not a construction-time constant)."""
    info = analysis.modules.get(sub.module)
    names = list(info.params) if info is not None else list(values)
    shown = ", ".join(f"{name}={_value_text(values.get(name))}" for name in names)
    return f"{sub.module}({shown})"


def _value_text(value: object) -> str:
    if value is None:
        return "?"
    if isinstance(value, str):
        return json.dumps(value)
    return "True" if value is True else "False" if value is False else repr(value)


def op_signature(op: Op) -> str:
    params = []
    for p in op.params:
        text = p.name + ("" if p.kind == "tensor" else f": {p.kind}")
        params.append(text if p.required else f"{text}={p.default!r}")
    if op.variadic:
        params.append("*values")
    return f"{op.name}({', '.join(params)})"


def _first_line(analysis: Analysis, node: n.Node) -> str:
    if isinstance(node, n.VarDecl):
        return f"{'var' if node.trainable else 'state'} {node.name}: {type_text(node.type)}"
    if isinstance(node, n.SubDecl):
        return f"{'frozen ' if node.frozen else ''}sub {node.name} = {node.module}(...)"
    if isinstance(node, n.ModuleParam):
        return f"{node.name}: {type_text(node.type)} (constructor parameter)"
    if isinstance(node, n.MethodInput):
        return f"{node.name}: {type_text(node.type)} (method input)"
    if isinstance(node, n.NamedOutput):
        return f"{node.name}: {type_text(node.type)} (method output)"
    if isinstance(node, n.ModuleDef):
        params = ", ".join(f"{p.name}: {type_text(p.type)}" for p in node.params)
        return f"module {node.name}({params})" if params else f"module {node.name}"
    if isinstance(node, n.Method):
        return method_signature(node)
    return type(node).__name__


def _sub_method(analysis: Analysis, chain: list[n.Node], info: CallInfo) -> n.Method | None:
    module = _enclosing(chain, n.ModuleDef)
    holder = analysis.modules.get(module.name) if module is not None else None
    sub = holder.submodules.get(info.receiver or "") if holder is not None else None
    target = analysis.modules.get(sub.module) if sub is not None else None
    return _called(analysis, target, chain[-1], info.method or "") if target is not None else None


def _method_named(analysis: Analysis, chain: list[n.Node], name: str) -> n.Method | None:
    module = _enclosing(chain, n.ModuleDef)
    info = analysis.modules.get(module.name) if module is not None else None
    return _called(analysis, info, chain[-1], name) if info is not None else None


def _called(analysis: Analysis, owner: ModuleInfo, call: n.Node, name: str) -> n.Method | None:
    """The method a call runs: for a method of several signatures, the one chosen (else the first)."""
    chosen = analysis.chosen_signatures.get(call)
    return owner.methods[chosen] if chosen is not None else owner.callable_method(name)


def definition(analysis: Analysis, file: str, line: int, column: int) -> n.Span | None:
    """Where the name under the cursor is defined: a member, a module (across imports), a local's
    first assignment, a method input."""
    node, chain = node_at(analysis, file, line, column)
    module = _enclosing(chain + ([node] if node is not None else []), n.ModuleDef)
    if isinstance(node, n.SubDecl) or (isinstance(node, n.Name) and node.id in analysis.modules and
                                       analysis.modules[node.id].decl is not None):
        name = node.module if isinstance(node, n.SubDecl) else node.id
        target = analysis.modules.get(name)
        return target.decl.span if target is not None and target.decl is not None else None
    if not isinstance(node, n.Name):
        return None
    method = _enclosing(chain, n.Method)
    if method is not None:
        local = _local_definition(analysis, method, node.id)
        if local is not None:
            return local
    info = analysis.modules.get(module.name) if module is not None else None
    member = info.member(node.id) if info is not None else None
    return member.span if isinstance(member, n.Node) else None


def _local_definition(analysis: Analysis, method: n.Method, name: str) -> n.Span | None:
    """Where `name` is defined in `method` (the checker recorded it), or None if it is no local there."""
    found = analysis.local_definitions.get(method, {}).get(name)
    return found.span if found is not None else None


def references(analysis: Analysis, file: str, line: int, column: int) -> tuple[str, list[n.Span]] | None:
    """The name under the cursor and every span where that same name is written in its scope (a
    method for a local or an input; the module for a member, skipping methods where a local of
    that name hides it), each span covering exactly the name: what a rename rewrites."""
    node, chain = node_at(analysis, file, line, column)
    name = _name_of(node)
    if name is None:
        return None
    method = _enclosing([*chain, node], n.Method)
    module = _enclosing([*chain, node], n.ModuleDef)
    if method is not None and _local_definition(analysis, method, name) is not None and not isinstance(node, n.Method):
        found = [item for item in walk(method) if item is not method and _name_of(item) == name]
    elif module is not None:
        found = []
        for member in module.members:
            if _name_of(member) == name:
                found.append(member)
            if isinstance(member, n.Method) and _local_definition(analysis, member, name) is None:
                found += [item for item in walk(member.body) if isinstance(item, (n.Name, n.AugAssign))
                          and _name_of(item) == name]
    else:
        return None
    return name, [_name_span(item, name) for item in found]


def _name_of(node: n.Node | None) -> str | None:
    if isinstance(node, n.Name):
        return node.id
    if isinstance(node, (n.Assign, n.AugAssign)):
        return node.target
    if isinstance(node, n.Identifier):  # a name an unpacking binds (`a, b = enc(x)`)
        return node.text
    if isinstance(node, (n.VarDecl, n.SubDecl, n.Method, n.MethodInput, n.ModuleParam)):
        return node.name
    return None


def _name_span(node: n.Node, name: str) -> n.Span:
    """Where `name` itself is written in `node`: a declaration's name node, or the start of a name,
    an assignment or an augmented assignment (`y` in `y += 1`)."""
    if isinstance(node, (n.VarDecl, n.SubDecl, n.Method, n.MethodInput, n.ModuleParam, n.ModuleDef)):
        return node.identifier.span
    span = node.span
    return n.Span(file=span.file, line=span.line, column=span.column, end_line=span.line,
                  end_column=span.column + len(name))


def completions(analysis: Analysis | None, keywords: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(label, kind, detail) for what may be typed: ops with their parameters, keywords, and the
    members and modules of the last good analysis."""
    items = [(name, "function", op_signature(op)) for name, op in sorted(OPS.items())]
    items += [(word, "keyword", "keyword") for word in keywords]
    if analysis is not None:
        for name, info in sorted(analysis.modules.items()):
            items.append((name, "module", "module"))
            if info.decl is not None and info.decl in analysis.program.modules:
                items += [(v, "variable", _first_line(analysis, d)) for v, d in info.variables.items()]
                items += [(s, "field", _first_line(analysis, d)) for s, d in info.submodules.items()]
                items += [(m, "method", method_signature(d)) for m, d in info.methods.items()]
                items += [(name, "method", "; ".join(method_signature(info.methods[s]) for s in signatures))
                          for name, signatures in info.overloads.items()]
    return items


_RECEIVER = re.compile(r"([A-Za-z_][A-Za-z_0-9]*)\.[A-Za-z_0-9]*$")


def member_completions(analysis: Analysis | None, file: str, text: str, line: int, column: int) \
        -> list[tuple[str, str, str]] | None:
    """After `name.`: (label, kind, detail) for what may follow: a submodule's methods (as this
    instance has them), a variable's or a typed list's methods, an optimizer's; None where the
    cursor does not follow `name.`."""
    lines = text.split("\n")
    before = lines[line - 1][: max(column - 1, 0)] if 1 <= line <= len(lines) else ""
    found = _RECEIVER.search(before)
    if found is None:
        return None
    module = _module_at(analysis, file, line) if analysis is not None else None
    info = analysis.modules.get(module.name) if analysis is not None and module is not None else None
    if analysis is None or module is None or info is None:
        return []
    receiver = found.group(1)
    sub = info.submodules.get(receiver)
    target = analysis.modules.get(sub.module) if sub is not None else None
    if sub is not None and target is not None and target.is_optimizer:
        return _value_methods("optimizer")
    if sub is not None and target is not None:
        values = sub_values(analysis, module.name, sub)
        signatures = {name for names in target.overloads.values() for name in names}
        items = [(name, "method", instance_signature(analysis, method, values))
                 for name, method in target.methods.items() if name not in signatures]
        items += [(name, "method", instance_signature(analysis, target.methods[names[0]], values))
                  for name, names in target.overloads.items()]
        if uses_regularizers(analysis) and REGULARIZATION_LOSSES not in target.methods:  # generated
            items.append((REGULARIZATION_LOSSES, "method", f"fn {REGULARIZATION_LOSSES}() -> f32[]"))
        return sorted(items)
    if receiver in info.variables:
        return _value_methods("variable")
    method = next((m for m in module.methods if m.span.line <= line <= m.span.end_line), None)
    local = analysis.local_definitions.get(method, {}).get(receiver) if method is not None else None
    if isinstance(local, n.Assign) and isinstance(local.declared, n.ListType):
        return _value_methods("array")
    return []


def _value_methods(kind: str) -> list[tuple[str, str, str]]:
    return [(name, "method", f"{kind} method, {low}-{high} arguments" if low != high else
             f"{kind} method, {low} argument{'s' if low != 1 else ''}")
            for name, (low, high) in sorted(VALUE_METHODS[kind].items())]


_MODULE_HEADER = re.compile(r"\s*module\s+([A-Za-z_][A-Za-z_0-9]*)")


def outline(program: n.Program, text: str | None = None) -> list[Symbol]:
    """The modules and their members. A module whose header was set aside for a syntax error
    (dsl/recovery.py names it `Recovered_`) takes the name its line in `text` gives, if it does."""
    symbols = []
    lines = text.split("\n") if text is not None else []
    for module in program.modules:
        name = module.name
        if name == "Recovered_" and 1 <= module.span.line <= len(lines):
            header = _MODULE_HEADER.match(lines[module.span.line - 1])
            name = header.group(1) if header else name
        members = [Symbol(p.name, "parameter", p.span, p.identifier.span) for p in module.params]
        for member in module.members:
            if isinstance(member, n.VarDecl):
                kind = "variable" if member.trainable else "state"
            else:
                kind = "submodule" if isinstance(member, n.SubDecl) else "method"
            members.append(Symbol(member.name, kind, member.span, member.identifier.span))
        symbols.append(Symbol(name, "module", module.span, module.identifier.span, tuple(members)))
    return symbols


@dataclass(frozen=True)
class Signature:
    """What signature help shows for the call being typed: the signature, each parameter's text as
    it is written in `label`, and which one the cursor is at."""

    label: str
    parameters: tuple[str, ...]
    active: int | None
    documentation: str = ""


_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*(?:\.[A-Za-z_][A-Za-z_0-9]*)*$")
_KEYWORD_TYPED = re.compile(r"([A-Za-z_][A-Za-z_0-9]*)\s*=(?!=)")
_LOOK_BACK_LINES = 30


def open_call(text: str, line: int, column: int) -> tuple[str, int, str | None] | None:
    """The call the cursor at (line, column) is inside, read from the text (which may not parse while
    it is typed): the callee as written (`relu`, `encoder.encode`), the index of the argument
    being typed, and the keyword being typed (`axis` after `axis=`), or None outside any call."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return None
    first = max(line - _LOOK_BACK_LINES, 1)
    before = "\n".join([*lines[first - 1: line - 1], lines[line - 1][: max(column - 1, 0)]])
    opened: list[tuple[int, str, list[int]]] = []  # (where, bracket, the top-level comma positions)
    quote = None
    index = 0
    while index < len(before):
        char = before[index]
        if quote is not None:
            if char == "\\":
                index += 1
            elif char == quote or char == "\n":
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            end = before.find("\n", index)
            index = len(before) if end < 0 else end
            continue
        elif char in "([":
            opened.append((index, char, []))
        elif char in ")]" and opened:
            opened.pop()
        elif char == "," and opened:
            opened[-1][2].append(index)
        index += 1
    calls = [item for item in opened if item[1] == "("]
    if not calls:
        return None
    start, _, commas = calls[-1]
    callee = _WORD.search(before[:start].rstrip())
    if callee is None:
        return None
    typed = before[(commas[-1] if commas else start) + 1:]
    keyword = _KEYWORD_TYPED.match(typed.strip())
    return callee.group(), len(commas), keyword.group(1) if keyword else None


def signature_help(analysis: Analysis | None, file: str, text: str, line: int, column: int) -> Signature | None:
    """The signature of the op, method or submodule call being typed at (line, column)."""
    found = open_call(text, line, column)
    if found is None:
        return None
    callee, argument, keyword = found
    if "." not in callee and callee in OPS:
        op = OPS[callee]
        params = tuple(_op_parameter(p) for p in op.params) + (("*values",) if op.variadic else ())
        names = [p.name for p in op.params]
        return _signature(f"{op.name}({', '.join(params)})", params, names, argument, keyword,
                          f"{op.category} op, lowers to `{op.lowering}`")
    if analysis is None:
        return None
    module = _module_at(analysis, file, line)
    info = analysis.modules.get(module.name) if module is not None else None
    if module is None or info is None:
        return None
    receiver, _, name = callee.partition(".")
    sub = info.submodules.get(receiver)
    if sub is not None and sub.module in analysis.modules:
        target = analysis.modules[sub.module].callable_method(name or "call")
        values = sub_values(analysis, module.name, sub)
        where = f"of submodule `{receiver}`"
    elif not name:
        target, values, where = info.callable_method(receiver), analysis.parameter_values(module.name), "method"
    else:
        return None
    if target is None:
        return None
    label = instance_signature(analysis, target, values)
    params = tuple(f"{i.name}: {_shown(analysis, i.type, values)}" for i in target.inputs)
    return _signature(label, params, [i.name for i in target.inputs], argument, keyword, where)


def _op_parameter(param) -> str:
    text = param.name + ("" if param.kind == "tensor" else f": {param.kind}")
    return text if param.required else f"{text}={param.default!r}"


def _signature(label: str, params: tuple[str, ...], names: list[str], argument: int, keyword: str | None,
               documentation: str) -> Signature:
    if keyword is not None:
        active = names.index(keyword) if keyword in names else None
    else:
        active = argument if argument < len(params) else (len(params) - 1 if params and params[-1] == "*values" else None)
    return Signature(label, params, active, documentation)


def _module_at(analysis: Analysis, file: str, line: int) -> n.ModuleDef | None:
    """The module whose text is at `line` (or the last one starting before it)."""
    before = [m for m in analysis.program.modules if m.span.file == file and m.span.line <= line]
    return before[-1] if before else None


def inlay_hints(analysis: Analysis, file: str, first_line: int, last_line: int) -> list[tuple[int, int, str]]:
    """(line, column just after the name, `: type`) for each local's first assignment between the
    lines: what the checker inferred for it, where the source does not declare it."""
    hints = []
    for module in analysis.program.modules:
        if module.span.file != file or module.span.end_line < first_line or module.span.line > last_line:
            continue
        values = analysis.parameter_values(module.name)
        for method in module.methods:
            for name, node in analysis.local_definitions.get(method, {}).items():
                if not isinstance(node, n.Assign) or node.declared is not None:
                    continue
                type_ = analysis.types.get(node.value)
                if isinstance(type_, TensorT) and first_line <= node.span.line <= last_line:
                    shown = _instance(type_, values) or type_
                    hints.append((node.span.line, node.span.column + len(name), f": {shown}"))
    return sorted(hints)
