"""What a module is made of, as Keras's `model.summary()` and `plot_model` show a model: its submodules
with their parameter counts (trainable and not) and variables, and the shapes flowing through each
method's calls; and a picture of that data flow as SVG.

Everything comes from the static analysis (`tfm.dsl.analysis`): declared variable shapes with the
constructor values, and the types the checker inferred for every call. No TensorFlow is imported; a
dimension the analysis cannot know statically (a convolution's output size, a batch size `N`) is shown
by name or as `?`, and a parameter count that depends on one is `?`.

The SVG is drawn with drawsvg (a kept, pure-Python drawing library on PyPI, imported only when a
picture is asked for): it escapes every text and attribute, places the arrow marker in `<defs>` and
writes plain SVG any browser shows. (Not `tfm/summary.py`: importing it
would replace the function `tfm.summary` with the module.)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from tfm.dsl import nodes as n
from tfm.dsl.analysis import Analysis, children, outputs_of, type_text, walk
from tfm.dsl.tensor_types import TensorT

__all__ = ["CallRow", "MethodFlow", "Submodule", "Summary", "Variable", "summarize"]


@dataclass(frozen=True)
class Variable:
    name: str
    dtype: str
    shape: tuple[int | None, ...]
    trainable: bool

    @property
    def size(self) -> int | None:
        return None if any(d is None for d in self.shape) else math.prod(self.shape)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.name} {self.dtype}[{', '.join('?' if d is None else str(d) for d in self.shape)}]"


@dataclass(frozen=True)
class Submodule:
    """One submodule (`lstm/cell` nested under `lstm`); its counts include its own submodules'."""

    path: str
    module: str
    depth: int
    variables: tuple[Variable, ...]  # declared in this submodule itself
    trainable: int | None
    non_trainable: int | None
    optimizer: bool = False  # a built-in optimizer: its variables are made by the first training step
    frozen: bool = False  # declared `frozen sub` (or inside one): every variable non-trainable


@dataclass(frozen=True)
class CallRow:
    """One call of a submodule's (or this module's own) method inside a method, with its shapes."""

    node: str  # the flow's node id
    callee: str  # `dense_1` (its `call`), `encoder.encode`, or an own method's name
    module: str  # the callee's module
    inputs: tuple[str, ...]
    output: str
    line: int


@dataclass(frozen=True)
class MethodFlow:
    name: str
    signature: str
    inputs: tuple[tuple[str, str], ...]  # (name, type)
    outputs: tuple[tuple[str, str], ...]
    calls: tuple[CallRow, ...]
    edges: tuple[tuple[str, str, str], ...]  # (from node, to node, the shape flowing)


@dataclass(frozen=True)
class Summary:
    """`str(summary)` is the table; `summary.svg()` the picture; `summary.as_dict()` the data."""

    module: str
    file: str
    init: dict[str, object]
    own_variables: tuple[Variable, ...]
    submodules: tuple[Submodule, ...]
    methods: tuple[MethodFlow, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def trainable(self) -> int | None:
        return _total([*(s.trainable for s in self.submodules if s.depth == 0),
                       _count(self.own_variables, True)])

    @property
    def non_trainable(self) -> int | None:
        return _total([*(s.non_trainable for s in self.submodules if s.depth == 0),
                       _count(self.own_variables, False)])

    def __str__(self) -> str:
        return render_table(self)

    def svg(self) -> str:
        return render_svg(self)

    def as_dict(self) -> dict:
        return {**asdict(self), "trainable": self.trainable, "non_trainable": self.non_trainable}


def _count(variables, trainable: bool) -> int | None:
    return _total([v.size for v in variables if v.trainable == trainable])


def _total(sizes) -> int | None:
    return None if any(s is None for s in sizes) else sum(sizes)


# --- from the analysis ---------------------------------------------------------------------------


def summarize(analysis: Analysis, module_name: str, init: dict[str, object] | None = None,
              traced: Traced | None = None) -> Summary:
    """The summary of `module_name` built with `init` (its constructor values; defaults elsewhere).
    `traced` (see `trace_calls`): the shapes TensorFlow found for each call, filling in the dims the
    analysis leaves unknown."""
    info = analysis.modules.get(module_name)
    if info is None or info.decl is None:
        known = ", ".join(m.name for m in analysis.program.modules)
        raise ValueError(f"no module {module_name!r} in this file; modules: {known}")
    module = info.decl
    params = analysis.parameter_values(module.name, init or {})
    own = _variables(analysis, module, params)
    rows = _submodules(analysis, module, params, "", 0)
    methods = tuple(_flow(analysis, module, method, params, (traced or {}).get(method.name, []))
                    for method in module.methods)
    notes = []
    if any(row.optimizer for row in rows):
        notes.append("an optimizer's variables (its step count, slots) are made by the first training step")
    if any(v.size is None for row in rows for v in row.variables) or any(v.size is None for v in own):
        notes.append("`?`: a size that depends on a value not known before the module is built")
    return Summary(module=module.name, file=module.span.file, init=dict(init or {}), own_variables=own,
                   submodules=tuple(rows), methods=methods, notes=tuple(notes))


def _variables(analysis: Analysis, module: n.ModuleDef, params: dict[str, object]) -> tuple[Variable, ...]:
    found = []
    for var in module.variables:
        if var.condition is not None and params.get(var.condition.id) is False:
            continue  # declared under `if use_bias:`, and this instance is built without it
        declared = analysis.types.get(var.type)
        dtype = declared.dtype if isinstance(declared, TensorT) and declared.dtype else "?"
        found.append(Variable(var.name, dtype, analysis.declared_shape(var.type, params), var.trainable))
    if _draws_random_numbers(analysis, module):  # the generated module's random state: a seed and a count of draws
        found += [Variable("_random/seed", "i64", (), False), Variable("_random/draws", "i64", (), False)]
    return tuple(found)


def _draws_random_numbers(analysis: Analysis, module: n.ModuleDef) -> bool:
    """Whether a method or a variable's value calls a random op: the generator then gives the module a
    random state (two i64 variables), which checkpoints hold so that training resumes exactly."""
    nodes = [node for method in module.methods for node in analysis.body_nodes(method)]
    nodes += [node for var in module.variables for node in walk(var.init)]
    return any(isinstance(node, n.Call) and (call := analysis.calls.get(node)) is not None and call.kind == "op"
               and call.op is not None and "random" in call.op.effects for node in nodes)


def _submodules(analysis: Analysis, module: n.ModuleDef, params: dict[str, object], prefix: str,
                depth: int, frozen: bool = False) -> list[Submodule]:
    rows: list[Submodule] = []
    for sub in module.submodules:
        info = analysis.modules[sub.module]
        path = prefix + sub.name
        if info.decl is None:
            rows.append(Submodule(path, sub.module, depth, (), 0, 0, optimizer=True))
            continue
        sub_params = analysis.parameter_values(sub.module, analysis.sub_argument_values(sub, params))  # defaults too
        cold = frozen or sub.frozen  # a frozen submodule's variables, its submodules' too, are built non-trainable
        variables = tuple(replace(v, trainable=False) if cold else v
                          for v in _variables(analysis, info.decl, sub_params))
        nested = _submodules(analysis, info.decl, sub_params, path + "/", depth + 1, cold)
        direct = [r for r in nested if r.depth == depth + 1]
        rows.append(Submodule(path, sub.module, depth, variables,
                              _total([_count(variables, True), *(r.trainable for r in direct)]),
                              _total([_count(variables, False), *(r.non_trainable for r in direct)]), frozen=cold))
        rows.extend(nested)
    return rows


def _flow(analysis: Analysis, module: n.ModuleDef, method: n.Method, params: dict[str, object],
          traced: list[TracedCall]) -> MethodFlow:
    """The calls of `method` in source order, and the data flowing into each, from the method's
    inputs, through locals, to its outputs."""
    info = analysis.modules[module.name]
    tracked: dict[n.Node, str] = {}
    shown: dict[n.Node, str] = {}
    rows: list[CallRow] = []
    seen: dict[str, int] = {}
    for node in _walk_calls(method.body):
        call = analysis.calls.get(node)
        if call is None or call.kind not in ("sub_method", "self_method"):
            continue
        tracked[node] = f"call{len(tracked)}"
        if call.kind == "self_method":
            callee, owner = call.method or "?", module.name
        else:
            sub = info.submodules.get(call.receiver or "")
            owner = sub.module if sub is not None else "?"
            callee = call.receiver if call.method == "call" else f"{call.receiver}.{call.method}"
        key = f"{call.receiver}.{call.method}" if call.kind == "sub_method" else f".{call.method}"
        found = [t for t in traced if t[0] == key]
        index, seen[key] = seen.get(key, 0), seen.get(key, 0) + 1
        _, traced_inputs, traced_output = found[index] if index < len(found) else (key, (), None)
        arguments = _arguments(node)
        shown[node] = _shape(analysis.types.get(node), params, traced_output)
        rows.append(CallRow(node=tracked[node], callee=callee or "?", module=owner,
                            inputs=tuple(_shape(analysis.types.get(a), params,
                                                traced_inputs[i] if i < len(traced_inputs) else None)
                                         for i, a in enumerate(arguments)),
                            output=shown[node], line=node.span.line))
    flows = _Flows(analysis, tracked, method, params, shown)
    flows.block(method.body, {})
    outputs = outputs_of(method)
    return MethodFlow(name=method.name, signature=f"{method.name}({', '.join(i.name for i in method.inputs)})",
                      inputs=tuple((i.name, _declared(analysis, i.type, params)) for i in method.inputs),
                      outputs=tuple((o.name, _declared(analysis, o.type, params)) for o in outputs),
                      calls=tuple(rows), edges=tuple(dict.fromkeys(flows.edges)))


Producers = list[tuple[str, str]]  # (flow node, the shape it hands on)
_STATEMENTS = (n.Assign, n.ItemAssign, n.AugAssign, n.Return, n.ExprStmt, n.Pass, n.Break, n.Continue, n.If, n.For,
               n.While, n.With, n.Assert)


class _Flows:
    """The edges of a method's data flow, from one pass over its statements in order: each local
    holds the nodes (inputs, calls) its current value comes from, so `x = f(x)` flows forward."""

    def __init__(self, analysis: Analysis, tracked: dict[n.Node, str], method: n.Method, params: dict[str, object],
                 shown: dict[n.Node, str]):
        self.analysis, self.tracked, self.params, self.shown = analysis, tracked, params, shown
        self.inputs = {i.name: _declared(analysis, i.type, params) for i in method.inputs}
        self.outputs = [o.name for o in outputs_of(method)]
        self.edges: list[tuple[str, str, str]] = []

    def block(self, statements, env: dict[str, Producers]) -> dict[str, Producers]:
        for statement in children(statements):
            env = self.statement(statement, env)
        return env

    def statement(self, node: n.Node, env: dict[str, Producers]) -> dict[str, Producers]:
        if isinstance(node, n.Assign):
            env = {**env, node.target: self.expr(node.value, env)}
        elif isinstance(node, n.AugAssign):
            env = {**env, node.target: _union(env.get(node.target, []), self.expr(node.value, env))}
        elif isinstance(node, n.Return):
            for index, value in enumerate(node.values):
                name = self.outputs[index] if index < len(self.outputs) else f"output_{index}"
                self.edges.extend((source, f"out:{name}", shape) for source, shape in self.expr(value, env))
        elif isinstance(node, n.If):
            self.expr(node.test, env)
            env = _merge(self.block(node.body, env), self.block(node.orelse, env))
        elif isinstance(node, (n.For, n.While)):
            if isinstance(node, n.For):
                env = {**env, node.target: self.expr(node.iter, env)}
            for _ in range(2):  # once more for what the first pass's assignments carry round the loop
                if isinstance(node, n.While):
                    self.expr(node.test, env)
                env = _merge(env, self.block(node.body, env))
        else:  # `with` (its context, then its body), an expression statement, `assert`, ...
            for child in children(n.child_values(node)):
                if isinstance(child, _STATEMENTS):
                    env = self.statement(child, env)
                else:
                    self.expr(child, env)
        return env

    def expr(self, node: n.Node, env: dict[str, Producers]) -> Producers:
        if node in self.tracked:
            assert isinstance(node, n.Call)
            for argument in _arguments(node):
                self.edges.extend((source, self.tracked[node], shape) for source, shape in self.expr(argument, env))
            return [(self.tracked[node], self.shown[node])]
        if isinstance(node, n.Name):
            if node.id in env:
                return env[node.id]
            return [(f"in:{node.id}", self.inputs[node.id])] if node.id in self.inputs else []
        parts = _arguments(node) if isinstance(node, n.Call) else list(children(n.child_values(node)))
        found: Producers = []
        for part in parts:
            found = _union(found, self.expr(part, env))
        return found


def _union(a: Producers, b: Producers) -> Producers:
    return list(dict.fromkeys([*a, *b]))


def _merge(a: dict[str, Producers], b: dict[str, Producers]) -> dict[str, Producers]:
    return {name: _union(a.get(name, []), b.get(name, [])) for name in {**a, **b}}


def _arguments(call: n.Call) -> list[n.Node]:
    return [*call.args, *(k.value for k in call.keywords)]


def _walk_calls(body) -> list[n.Call]:
    """Calls in the order they run: arguments before the call that takes them."""
    ordered: list[n.Call] = []

    def visit(node: n.Node) -> None:
        for child in children(n.child_values(node)):
            visit(child)
        if isinstance(node, n.Call):
            ordered.append(node)

    for statement in children(body):
        visit(statement)
    return ordered


def _shape(type_, params: dict[str, object], traced: tuple[int | None, ...] | None = None) -> str:
    """A type as shown, its dims named after constructor parameters replaced by their values, and
    dims it leaves unknown (`?`) by the sizes TensorFlow traced, if given."""
    if not isinstance(type_, TensorT):
        return str(type_) if type_ is not None else "?"
    if type_.shape is None:
        return str(type_)
    dims = [params.get(d, d) if isinstance(d, str) and isinstance(params.get(d), int) else d for d in type_.shape]
    if traced is not None and len(traced) == len(dims):
        dims = [t if d is None and t is not None else d for d, t in zip(dims, traced)]
    return str(TensorT(type_.dtype, tuple(dims)))  # type: ignore[arg-type]


def _declared(analysis: Analysis, type_, params: dict[str, object]) -> str:
    inferred = analysis.types.get(type_)
    return _shape(inferred, params) if isinstance(inferred, TensorT) else type_text(type_)


# --- shapes TensorFlow knows better -----------------------------------------------------------------

TracedCall = tuple[str, tuple, "tuple[int | None, ...] | None"]  # (`sub.method` or `.method`, input dims, output dims)
Traced = dict[str, list[TracedCall]]  # method -> its calls in the order they were traced


def trace_calls(instance, module: n.ModuleDef) -> Traced:
    """Trace each method of a built module (`instance`, of generated code) with its input signature,
    recording every call of a submodule's or its own method with the static shapes TensorFlow finds
    (a convolution's output size, which the analysis leaves `?`). Imports TensorFlow."""
    import tensorflow as tf

    log: list[TracedCall] = []
    originals: list[tuple[object, str, object]] = []

    def record(owner, attribute: str, key: str) -> None:
        original = getattr(owner, attribute)

        def recorded(*args):
            result = original(*args)
            log.append((key, tuple(_dims(a) for a in args), _dims(result)))
            return result

        originals.append((owner, attribute, original))
        setattr(owner, attribute, recorded)

    for sub in module.submodules:
        child = getattr(instance, sub.name, None)
        for attribute in [a for a in dir(type(child)) if a.startswith("_impl_")] if child is not None else []:
            record(child, attribute, f"{sub.name}.{attribute.removeprefix('_impl_')}")
    for method in module.methods:
        record(instance, f"_impl_{method.name}", f".{method.name}")
    traced: Traced = {}
    try:
        for method in module.methods:
            served = getattr(instance, method.name)
            function = getattr(type(instance), method.name)
            log.clear()
            try:
                tf.function(lambda *args: function(instance, *args), input_signature=served.input_signature,
                            autograph=True).get_concrete_function()
            except Exception:  # a method that cannot be traced alone keeps its static shapes
                continue
            traced[method.name] = list(log)
    finally:
        for owner, attribute, original in reversed(originals):
            if attribute in vars(owner):
                delattr(owner, attribute)
    return traced


def _dims(value) -> tuple[int | None, ...] | None:
    shape = getattr(value, "shape", None)
    if shape is None or getattr(shape, "rank", None) is None:
        return None
    return tuple(shape.as_list())


# --- the table -----------------------------------------------------------------------------------


def _number(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def render_table(summary: Summary) -> str:
    """The summary as `model.summary()` prints one: submodules, then each method's calls."""
    init = ", ".join(f"{k}={v!r}" for k, v in summary.init.items())
    lines = [f"module {summary.module} ({summary.file}{'; ' + init if init else ''})", ""]
    table: list[tuple[str, ...]] = [("submodule", "module", "trainable", "non-trainable", "variables")]
    for row in summary.submodules:
        variables = "(made when training)" if row.optimizer else ", ".join(map(str, row.variables)) or "-"
        table.append(("  " * row.depth + row.path.rsplit("/", 1)[-1], row.module + (" (frozen)" if row.frozen else ""),
                      "-" if row.optimizer else _number(row.trainable),
                      "-" if row.optimizer else _number(row.non_trainable), variables))
    if summary.own_variables:
        table.append(("(own)", summary.module, _number(_count(summary.own_variables, True)),
                      _number(_count(summary.own_variables, False)), ", ".join(map(str, summary.own_variables))))
    table.append(("total", "", _number(summary.trainable), _number(summary.non_trainable), ""))
    lines.extend(_columns(table, right=(2, 3)))
    for flow in summary.methods:
        inputs = ", ".join(f"{name}: {type_}" for name, type_ in flow.inputs)
        outputs = ", ".join(f"{name}: {type_}" for name, type_ in flow.outputs)
        lines += ["", f"fn {flow.name}({inputs})" + (f" -> {outputs}" if outputs else "")]
        calls: list[tuple[str, ...]] = [("  call", "module", "inputs", "output", "line")]
        calls += [(f"  {c.callee}", c.module, ", ".join(c.inputs), c.output, str(c.line)) for c in flow.calls]
        lines.extend(_columns(calls, right=(4,)) if flow.calls else ["  (no submodule calls)"])
    lines += [""] + [f"note: {note}" for note in summary.notes] if summary.notes else []
    return "\n".join(lines).rstrip() + "\n"


def _columns(rows: list[tuple[str, ...]], right: tuple[int, ...] = ()) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    rendered = []
    for index, row in enumerate(rows):
        cells = [cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        rendered.append("  ".join(cells).rstrip())
        if index == 0:
            rendered.append("-" * len(rendered[0]))
    return rendered


# --- the picture ---------------------------------------------------------------------------------

_BOX_W, _BOX_H, _GAP_X, _GAP_Y, _MARGIN, _FONT = 200, 40, 30, 70, 30, 12
_STYLE = {"input": "#e8f1fb", "call": "#fff4dd", "output": "#e9f7e9"}


def render_svg(summary: Summary) -> str:
    """One panel per method: its inputs at the top, each call of a submodule (or of its own method)
    below what feeds it, its outputs at the bottom; arrows carry the shapes that flow."""
    import drawsvg as draw  # only when a picture is asked for

    arrow = draw.Marker(0, 0, 10, 10, orient="auto", id="arrow", refX=10, refY=5)
    arrow.append(draw.Path(d="M 0 0 L 10 5 L 0 10 z", fill="#555"))
    x, height, panels = _MARGIN, 0, []
    for flow in summary.methods:
        group, width, panel_height = _panel(draw, arrow, flow, x)
        panels.append(group)
        x += width + 2 * _GAP_X
        height = max(height, panel_height)
    drawing = draw.Drawing(x, height + _MARGIN, font_family="monospace", font_size=_FONT)
    drawing.append(draw.Title(f"{summary.module}: submodules and data flow"))
    for group in panels:
        drawing.append(group)
    return (drawing.as_svg() or "") + "\n"  # None only when it writes to a file itself


def _panel(draw, arrow, flow: MethodFlow, left: int) -> tuple[object, int, int]:
    """The method's panel as a group of boxes and arrows, its width and its bottom edge."""
    labels = {f"in:{name}": (f"input {name}", "input") for name, _ in flow.inputs}
    labels.update({c.node: (c.callee if c.module in ("?", "") else f"{c.callee}: {c.module}", "call")
                   for c in flow.calls})
    labels.update({f"out:{name}": (f"output {name}", "output") for name, _ in flow.outputs})
    layers = _layers(list(labels), flow.edges)
    rows: dict[int, list[str]] = {}
    for node in labels:
        rows.setdefault(layers[node], []).append(node)
    widest = max((len(nodes) for nodes in rows.values()), default=1)
    width = widest * (_BOX_W + _GAP_X) - _GAP_X
    group = draw.Group(class_="method", data_method=flow.name)
    group.append(draw.Text(f"fn {flow.signature}", _FONT, left, _MARGIN, font_weight="bold"))
    places: dict[str, tuple[int, int]] = {}
    for layer, nodes in sorted(rows.items()):
        row_width = len(nodes) * (_BOX_W + _GAP_X) - _GAP_X
        for index, node in enumerate(nodes):
            places[node] = (left + (width - row_width) // 2 + index * (_BOX_W + _GAP_X),
                            _MARGIN + 20 + layer * (_BOX_H + _GAP_Y))
    for source, target, shape in flow.edges:
        if source in places and target in places:
            group.append(_edge(draw, arrow, places[source], places[target], shape))
    for node, (text, kind) in labels.items():
        x, y = places[node]
        box = draw.Group(class_=kind, data_node=node)
        box.append(draw.Rectangle(x, y, _BOX_W, _BOX_H, rx=6, fill=_STYLE[kind], stroke="#555"))
        box.append(draw.Text(text, _FONT, x + _BOX_W // 2, y + _BOX_H // 2 + 4, text_anchor="middle"))
        group.append(box)
    bottom = max((y for _, y in places.values()), default=_MARGIN) + _BOX_H
    return group, width, bottom


def _edge(draw, arrow, source: tuple[int, int], target: tuple[int, int], shape: str):
    """An arrow from the bottom of one box to the top of another (a path `M x1,y1 L x2,y2`), its shape beside it."""
    x1, y1 = source[0] + _BOX_W // 2, source[1] + _BOX_H
    x2, y2 = target[0] + _BOX_W // 2, target[1]
    edge = draw.Group(class_="edge")
    edge.append(draw.Line(x1, y1, x2, y2, stroke="#555", marker_end=arrow))
    edge.append(draw.Text(shape, _FONT, (x1 + x2) // 2 + 6, (y1 + y2) // 2 + 4, fill="#333"))
    return edge


def _layers(nodes: list[str], edges: tuple[tuple[str, str, str], ...]) -> dict[str, int]:
    """Inputs on layer 0, each call one below the lowest node feeding it, outputs on the last layer."""
    layer = {node: 0 for node in nodes}
    for _ in range(len(nodes)):  # relax: the flow has no cycles, so this settles within len(nodes) rounds
        changed = False
        for source, target, _shape_text in edges:
            if source in layer and target in layer and layer[target] < layer[source] + 1:
                layer[target] = layer[source] + 1
                changed = True
        if not changed:
            break
    last = max((layer[node] for node in nodes if not node.startswith("out:")), default=0) + 1
    for node in nodes:
        if node.startswith("out:"):
            layer[node] = last
    return layer
