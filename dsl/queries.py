"""Questions an editor asks of a checked program, answered from the analysis: what is at a position,
its type, where it is defined, every place a name is used (for rename), what may be typed here, and
the program's outline. Positions are 1-based (line, column), as spans are; the language server
(tfm.lsp) converts to and from LSP's 0-based ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, TypeVar

from . import nodes as n
from .analysis import Analysis, CallInfo, ModuleInfo, children, method_signature, type_text, walk
from .ops import OPS, Op
from .tensor_types import TensorT

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
            target = _sub_method(analysis, chain, info)
            if target is not None:
                return f"```\n{method_signature(target)}\n```\nof submodule `{info.receiver}`"
        method = _method_named(analysis, chain, node.id)
        if method is not None:
            return f"```\n{method_signature(method)}\n```"
    if isinstance(node, n.Method):
        return f"```\n{method_signature(node)}\n```"
    if isinstance(node, (n.Assign, n.AugAssign)) and analysis.types.get(node.value) is not None:
        return f"`{node.target}`: `{analysis.types[node.value]}`"
    if isinstance(node, (n.VarDecl, n.SubDecl, n.ModuleParam, n.ModuleDef)):
        return f"```\n{_first_line(analysis, node)}\n```"
    type_ = analysis.types.get(node)
    if type_ is not None:
        label = node.id if isinstance(node, n.Name) else node.text if isinstance(node, n.Identifier) else "expression"
        return f"`{label}`: `{type_}`" if isinstance(type_, TensorT) else f"`{label}`: {type_}"
    ref = analysis.refs.get(node)
    if ref is not None and ref.decl is not None and isinstance(ref.decl, n.Node):
        return f"```\n{_first_line(analysis, ref.decl)}\n```"
    return None


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
        return f"sub {node.name} = {node.module}(...)"
    if isinstance(node, n.ModuleParam):
        return f"{node.name}: {type_text(node.type)} (constructor parameter)"
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


def outline(program: n.Program) -> list[Symbol]:
    symbols = []
    for module in program.modules:
        members = [Symbol(p.name, "parameter", p.span, p.identifier.span) for p in module.params]
        for member in module.members:
            if isinstance(member, n.VarDecl):
                kind = "variable" if member.trainable else "state"
            else:
                kind = "submodule" if isinstance(member, n.SubDecl) else "method"
            members.append(Symbol(member.name, kind, member.span, member.identifier.span))
        symbols.append(Symbol(module.name, "module", module.span, module.identifier.span, tuple(members)))
    return symbols
