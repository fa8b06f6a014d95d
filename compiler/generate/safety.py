"""The last lock on generated code: parse it back and allow only what the generator can emit.

A true allowlist, derived from what tfm itself writes:
- syntax: only the statement and expression kinds in `_NODES`; printable ASCII only;
- imports: `import tensorflow as tf`, nothing else;
- `tf.` paths: an op's lowering from the registry, a dtype, a runtime helper's, or the class skeleton's
  (`codegen.SCAFFOLD_TF_PATHS`); nothing else, however it is spelled;
- names read: a function's own locals and parameters, or a module-level definition; Python builtins
  only in the one statement that binds them to `_` names, before any class or function;
- attributes: `self.NAME` for a name the class defines, then only methods of values (the registry's
  value methods, the helpers', the generated classes'); no `_` attribute outside the module's own
  names and no double-underscore name anywhere, except `tf.Module.__init__`, `__init__` and `__all__`;
- decorators: `tf.function(...)`, and `property` on the class skeleton's attributes;
- in a class body: methods, a docstring, and `_impl_NAME = NAME` aliases of its own methods.

Names and literals are escaped before they reach the generator (`tfm.generate.hygiene`); this pass is the
second lock, so a slip in the generator (of the kind of CVE-2024-56201 in Jinja2) cannot turn a hostile
`.tfm` into Python that reaches files, processes or arbitrary callables.
"""

from __future__ import annotations

import ast
import functools
import re

from tfm.dsl.diagnostics import InternalError, error
from tfm.dsl.nodes import Span
from tfm.dsl.ops import DTYPES, INITIALIZERS, OPS, VALUE_METHODS

_NODES = frozenset({
    ast.Module, ast.Import, ast.alias, ast.Assign, ast.AugAssign, ast.FunctionDef, ast.ClassDef, ast.arguments,
    ast.arg, ast.Expr, ast.Constant, ast.Name, ast.Attribute, ast.Call, ast.keyword, ast.Subscript, ast.Slice,
    ast.Tuple, ast.List, ast.Dict, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.If, ast.For, ast.While,
    ast.Break, ast.Continue, ast.Pass, ast.Return, ast.With, ast.withitem, ast.Raise, ast.JoinedStr,
    ast.FormattedValue, ast.ListComp, ast.comprehension, ast.Starred, ast.Load, ast.Store,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.MatMult, ast.USub, ast.UAdd,
    ast.Lambda, ast.BoolOp, ast.And, ast.Or, ast.Not, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
})
_TOP_LEVEL = (ast.Import, ast.Assign, ast.FunctionDef, ast.ClassDef, ast.Expr)
_BUILTINS = frozenset({"range", "len", "zip", "enumerate", "isinstance", "int", "bool", "ValueError"})
_MODULE_API = frozenset({"name_scope", "trainable_variables", "variables"})
_DUNDERS = frozenset({"__init__", "__all__"})


class _Unsafe(Exception):
    def __init__(self, node: ast.AST | SyntaxError | None, message: str):
        super().__init__(f"generated code {message} (generated line {getattr(node, 'lineno', '?')})")


def verify_generated(python: str, file: str) -> None:
    """Raise InternalError (E099) if generated code steps outside what tfm emits."""
    try:
        if not python.isascii():
            raise _Unsafe(None, "is not ASCII")
        try:
            tree = ast.parse(python)
        except SyntaxError as exc:
            raise _Unsafe(exc, f"does not parse: {exc.msg}") from None
        _Checker(tree).run()
    except _Unsafe as exc:
        span = Span(file=file, line=1, column=1, end_line=1, end_column=1)
        raise InternalError([error("E099", span, str(exc), "this is a bug in tfm; please report it with the source")])


@functools.cache
def allowed_tf_paths() -> frozenset[str]:
    """Every `tf.` path tfm can emit: registry lowerings, dtypes, the skeleton's, the helpers'."""
    from tfm.generate.codegen import SCAFFOLD_TF_PATHS

    from tfm.dsl.library import OPTIMIZERS, SCHEDULES

    paths = {op.lowering for op in (*OPS.values(), *INITIALIZERS.values()) if op.lowering.startswith("tf.")}
    paths |= {f"tf.keras.optimizers.{name}" for name in OPTIMIZERS}
    paths |= {f"tf.keras.optimizers.schedules.{name}" for name in SCHEDULES}
    return frozenset(paths | set(DTYPES.values()) | SCAFFOLD_TF_PATHS | _helper_attributes()[0])


@functools.cache
def allowed_value_attributes() -> frozenset[str]:
    """Attributes read on values (a variable, a TensorArray, a tape, a result): the registry's value
    methods and what the runtime helpers call."""
    from tfm.dsl.members import OPTIMIZER_MEMBERS, TRAINABLE_VARIABLES  # members of submodules a parent reads

    methods = {name for table in VALUE_METHODS.values() for name in table}
    return frozenset(methods | _helper_attributes()[1] | set(OPTIMIZER_MEMBERS) | {TRAINABLE_VARIABLES})


@functools.cache
def _helper_attributes() -> tuple[frozenset[str], frozenset[str]]:
    """(tf paths, other attribute names) used by the runtime helpers, read from runtime.py."""
    from tfm.generate.helpers import runtime_source

    tree = ast.parse(runtime_source())
    paths, names = set(), set()
    inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in inner:
            dotted = _dotted(node)
            if dotted and dotted.startswith("tf."):
                paths.add(dotted)
            elif dotted is None or not dotted.startswith("self."):
                names |= set(_chain(node))
    return frozenset(paths), frozenset(names)


def _plain_nested(function: ast.FunctionDef) -> bool:
    """A `.tfm` local function as generated: no decorators, and plain positional arguments only (its body
    is among the enclosing method's nodes, checked with them)."""
    args = function.args
    return not function.decorator_list and not (args.defaults or args.kwonlyargs or args.kw_defaults or args.vararg
                                                or args.kwarg or args.posonlyargs)


def _nested_function_names(body: list[ast.AST]) -> set[str]:
    """The names a method's local functions bind: their own and their arguments."""
    found: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef):
            _check_name(node, node.name)
            found.add(node.name)
            found.update(a.arg for a in node.args.args)
    return found


def _walk(root: ast.AST, but_function_bodies: bool = False) -> list[ast.AST]:
    """Every node under `root`, `root` first: what `ast.walk` yields, as a list and about twice as
    fast (no generators); this pass reads every node of the generated module several times.
    `but_function_bodies`: not into functions' bodies (walked on their own, once)."""
    found, index = [root], 0
    while index < len(found):
        node = found[index]
        index += 1
        for name in node._fields:
            if but_function_bodies and name == "body" and type(node) is ast.FunctionDef:
                continue
            value = getattr(node, name, None)
            if isinstance(value, ast.AST):
                found.append(value)
            elif type(value) is list:
                found.extend(item for item in value if isinstance(item, ast.AST))
    return found


def _allowed_kinds(nodes: list[ast.AST]) -> list[ast.AST]:
    for node in nodes:
        if type(node) not in _NODES:
            raise _Unsafe(node, f"contains `{type(node).__name__}`")
    return nodes


def _chain(node: ast.AST) -> list[str]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return parts[::-1]


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _Checker:
    def __init__(self, tree: ast.Module):
        self.tree = tree
        self.globals = _module_names(tree)
        self.bodies: dict[int, list[ast.AST]] = {}  # each function body walked once, read twice
        self.own_names = {id(c): self._own_names(c) for c in tree.body if isinstance(c, ast.ClassDef)}
        # What a submodule offers: any generated class's methods and the attributes it binds.
        self.class_methods = set().union(*self.own_names.values())

    def run(self) -> None:
        for node in _allowed_kinds(_walk(self.tree, but_function_bodies=True)):  # the bodies: in `_body`
            if isinstance(node, ast.Lambda):  # a comparison chain's, only ever in a method body
                raise _Unsafe(node, "contains `Lambda` outside a method")
        seen_definition = False
        for statement in self.tree.body:
            self._top_level(statement, seen_definition)
            seen_definition = seen_definition or isinstance(statement, (ast.FunctionDef, ast.ClassDef))

    def _top_level(self, statement: ast.stmt, after_definitions: bool) -> None:
        if not isinstance(statement, _TOP_LEVEL):
            raise _Unsafe(statement, f"has a top-level {type(statement).__name__}")
        if isinstance(statement, ast.Import):
            if [(a.name, a.asname) for a in statement.names] != [("tensorflow", "tf")]:
                raise _Unsafe(statement, f"imports {', '.join(a.name for a in statement.names)}")
            return
        if isinstance(statement, ast.Expr) and not isinstance(statement.value, ast.Constant):
            raise _Unsafe(statement, "has a top-level expression")
        if isinstance(statement, ast.ClassDef):
            self._class(statement)
        elif isinstance(statement, ast.FunctionDef):
            self._function(statement, own_names=set())
        elif _binds_builtins(statement):
            if after_definitions:
                raise _Unsafe(statement, "reads Python builtins after its definitions")
        else:
            self._expressions(statement, local=set(), own_names=set())

    def _class(self, cls: ast.ClassDef) -> None:
        if [ast.unparse(b) for b in cls.bases] != ["tf.Module"] or cls.keywords or cls.decorator_list:
            raise _Unsafe(cls, f"defines class {cls.name} other than as a tf.Module")
        own = self.own_names[id(cls)] | _MODULE_API
        for item in cls.body:
            if isinstance(item, ast.FunctionDef):
                self._function(item, own)
            elif _method_alias(item, own) is not None:
                continue  # `_impl_call = call`: the name other methods call it by
            elif not (isinstance(item, ast.Expr) and isinstance(item.value, ast.Constant)):
                raise _Unsafe(item, f"has a {type(item).__name__} in class {cls.name}")

    def _function(self, function: ast.FunctionDef, own_names: set[str]) -> None:
        for decorator in function.decorator_list:
            if isinstance(decorator, ast.Name) and decorator.id == "property":
                continue  # the class skeleton's read-only attributes (`signatures`)
            if not (isinstance(decorator, ast.Call) and ast.unparse(decorator.func) == "tf.function"):
                raise _Unsafe(decorator, "has a decorator other than tf.function")
            self._expressions(decorator, set(), own_names)
        arguments = [*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs,
                     *(a for a in (function.args.vararg, function.args.kwarg) if a is not None)]
        body = self._body(function)
        local = {a.arg for a in arguments}
        local |= {n.id for n in body if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        local |= _chain_parameters(body)
        local |= _nested_function_names(body)
        _check_name(function, function.name)
        for default in (*function.args.defaults, *function.args.kw_defaults):
            if default is not None:
                self._expressions(default, set(), own_names)
        for argument in arguments:
            _check_name(argument, argument.arg)
        self._check_nodes(body, local, own_names)

    def _body(self, function: ast.FunctionDef) -> list[ast.AST]:
        """Every node of the function's body (not its arguments or decorators)."""
        if id(function) not in self.bodies:
            nodes = [node for statement in function.body for node in _walk(statement)]
            self.bodies[id(function)] = _allowed_kinds(nodes)
        return self.bodies[id(function)]

    def _own_names(self, cls: ast.ClassDef) -> set[str]:
        """The class's methods, their `_impl_` aliases, and the attributes its methods assign on `self`
        (statements sit only in method bodies: anything else in a class body is refused)."""
        functions = [f for f in cls.body if isinstance(f, ast.FunctionDef)]
        methods = {f.name for f in functions}
        aliases = {alias for item in cls.body if (alias := _method_alias(item, methods)) is not None}
        assigned = {t.attr for f in functions for n in self._body(f) if isinstance(n, ast.Assign) for t in n.targets
                    if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"}
        return methods | aliases | assigned

    def _expressions(self, node: ast.AST, local: set[str], own_names: set[str]) -> None:
        self._check_nodes(_walk(node), local, own_names)

    def _check_nodes(self, nodes: list[ast.AST], local: set[str], own_names: set[str]) -> None:
        # An attribute chain is judged whole (`tf.math.reduce_sum`), not by its inner parts.
        inner = {id(n.value) for n in nodes if isinstance(n, ast.Attribute)}
        for child in nodes:
            if isinstance(child, ast.Name):
                _check_name(child, child.id)
                if isinstance(child.ctx, ast.Load) and child.id not in local and child.id not in self.globals:
                    raise _Unsafe(child, f"reads `{child.id}`, which it neither defines nor may use")
            elif isinstance(child, ast.Attribute) and id(child) not in inner:
                self._attribute(child, own_names)
            elif isinstance(child, ast.ClassDef) or isinstance(child, ast.FunctionDef) and not _plain_nested(child):
                raise _Unsafe(child, "nests a definition")

    def _attribute(self, node: ast.Attribute, own_names: set[str]) -> None:
        chain, root = [], node
        while isinstance(root, ast.Attribute):
            chain.append(root.attr)
            root = root.value
        chain.reverse()
        if isinstance(root, ast.Name) and root.id == "tf":
            if ".".join(["tf", *chain]) not in allowed_tf_paths():
                raise _Unsafe(node, f"uses `tf.{'.'.join(chain)}`, which tfm does not emit")
            return
        rest = chain
        if isinstance(root, ast.Name) and root.id == "self":
            if chain[0] not in own_names:
                raise _Unsafe(node, f"reads `self.{chain[0]}`, which its class does not define")
            rest = chain[1:]
        for attr in rest:
            if (attr not in allowed_value_attributes() and attr not in self.class_methods) or "__" in attr:
                raise _Unsafe(node, f"reads the attribute `.{attr}`, which tfm does not emit")


def _chain_parameters(body: list[ast.AST]) -> set[str]:
    """The parameters of the lambdas a comparison chain binds its operands to (`_c0`, `_c1`, ...):
    positional only, no defaults, named as the generator names them."""
    names = set()
    for node in body:
        if isinstance(node, ast.Lambda):
            args = node.args
            if (args.posonlyargs or args.kwonlyargs or args.vararg or args.kwarg or args.defaults
                    or not args.args or not all(re.fullmatch(r"_c[0-9]+", a.arg) for a in args.args)):
                raise _Unsafe(node, "has a lambda the generator does not write")
            names |= {a.arg for a in args.args}
    return names


def _check_name(node: ast.AST, name: str) -> None:
    if "__" in name and name not in _DUNDERS:
        raise _Unsafe(node, f"uses the name `{name}`")


def _module_names(tree: ast.Module) -> set[str]:
    names = {"tf"}
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
            names.add(statement.name)
        elif isinstance(statement, ast.Assign):
            names |= {n.id for t in statement.targets for n in _walk(t) if isinstance(n, ast.Name)}
    return names


def _binds_builtins(statement: ast.stmt) -> bool:
    """`_range, _len = range, len`: the one statement that reads builtins, by bare name only."""
    if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
        return False
    target, value = statement.targets[0], statement.value
    targets = target.elts if isinstance(target, ast.Tuple) else [target]
    values = value.elts if isinstance(value, ast.Tuple) else [value]
    read = [v.id for v in values if isinstance(v, ast.Name) and v.id in _BUILTINS]
    bound = [t.id for t in targets if isinstance(t, ast.Name)]
    return (len(read) == len(values) == len(bound) == len(targets)
            and all(name == "_" + builtin for name, builtin in zip(bound, read)))


def _method_alias(item: ast.stmt, own_names: set[str]) -> str | None:
    """`_impl_NAME` where `item` is `_impl_NAME = NAME` for a method the class defines, else None."""
    if not (isinstance(item, ast.Assign) and len(item.targets) == 1 and isinstance(item.value, ast.Name)):
        return None
    alias = item.targets[0]
    if isinstance(alias, ast.Name) and alias.id == f"_impl_{item.value.id}" and item.value.id in own_names:
        return alias.id
    return None
