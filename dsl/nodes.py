"""The .tfm syntax tree: one small frozen, slotted dataclass per construct, each with its source span.

Nodes are never mutated after parsing; later stages keep what they learn (kinds, types) in their own
tables keyed by node identity, or build new nodes. Nodes compare and hash by identity (two `x`s are
two nodes); spans compare by value. Declared names (of modules, parameters, variables, submodules,
methods, inputs, outputs) are `Identifier` nodes with their own span; `.name` gives their text.

Why dataclasses and not pydantic models: the parser builds every node from values that are correct
by construction, so validation would only cost. Measured on CPython 3.11 (see the commit): a slotted
dataclass is about 2x faster to build than a pydantic model built without validation, and a Span,
a Name and a BinOp take 224 bytes against 1,736.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from dataclasses import dataclass
from typing import Callable, Literal, TypeVar, Union, dataclass_transform

_NodeClass = TypeVar("_NodeClass", bound=type)


# Every node class: immutable, no per-instance dict, keyword-only fields, and identity equality
# (checkers key tables by node, so equal-looking nodes stay distinct). `dataclass_transform` tells
# type checkers what the decorator makes of a class (they cannot see through a bound `dataclass(...)`).
@dataclass_transform(eq_default=False, frozen_default=True, kw_only_default=True)
def node(cls: _NodeClass) -> _NodeClass:
    return dataclass(frozen=True, slots=True, eq=False, kw_only=True)(cls)


_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
_CHILD_VALUES: dict[type, Callable[[object], tuple]] = {}
# Fields a tree walk does not visit: where a node is, the name it declares (a leaf of text), and the
# condition a variable is declared under (one `if use_bias:` node, shared by its variables, outside each).
_NOT_CHILDREN = frozenset({"span", "identifier", "condition"})


def child_fields(node: Node) -> tuple[str, ...]:
    """The names of a node's fields other than its span and declared name, in declaration order:
    what a tree walk visits. Cached per class."""
    cls = type(node)
    names = _CHILD_FIELDS.get(cls)
    if names is None:
        names = _CHILD_FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.name not in _NOT_CHILDREN)
    return names


def child_values(node: Node) -> tuple:
    """The values of `child_fields(node)`, in order: one C-level call per node on a hot walk."""
    read = _CHILD_VALUES.get(type(node))
    if read is None:
        names = child_fields(node)
        getter = operator.attrgetter(*names) if names else (lambda _: ())
        read = _CHILD_VALUES[type(node)] = getter if len(names) != 1 else (lambda value: (getter(value),))
    return read(node)


# Grammar rules whose node is built from the rule's parts alone (dsl/node_builder.py's generic rule):
# rule name -> node class. A rule listed here needs no method of its own in the node builder.
BUILT_FROM_RULE: dict[str, type] = {}


@functools.cache
def rule_fields(cls: type) -> tuple[str, ...]:
    """The fields a rule's parts fill (`built_from`): every field but the span, in declaration order.
    Read on every reduction of such a rule: cached per class."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.name != "span")


def built_from(rule: str) -> Callable[[_NodeClass], _NodeClass]:
    """Declare that grammar rule `rule` builds this node from its parts: the rule's value parts (its
    nodes, named tokens as text, and None for an absent `[optional]` part), in order, fill the node's
    fields after its span. Keywords and punctuation (the grammar's quoted strings) are left out, so
    an optional part must be one value (`"raise" [expr]`, not `["," expr]`)."""
    def register(cls: _NodeClass) -> _NodeClass:
        assert rule not in BUILT_FROM_RULE, f"grammar rule {rule!r} builds two node classes"
        BUILT_FROM_RULE[rule] = cls
        return cls
    return register


@dataclass(frozen=True, slots=True)
class Span:
    """Where a construct stands in its source: 1-based lines and columns, end exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@node
class Node:
    span: Span


@node
class Identifier(Node):
    """A name as a declaration writes it (`w` in `var w: f32[3] = zeros()`), with its own span."""

    text: str


class _Declared:
    """A declaration's name, as text: `decl.name` is `decl.identifier.text`."""

    __slots__ = ()
    identifier: Identifier  # a field of each declaration class (this mixin is no dataclass)

    @property
    def name(self) -> str:
        return self.identifier.text


# --- types -------------------------------------------------------------------------------------


@node
class Dim(Node):
    """One dimension of a declared shape: a fixed size, a named size (`N`), or unknown (`?`); or an
    expression of sizes and names (`4 * 4 * g`: kind "expr", `name` its text, `op` joining `left` and
    `right`); or `...` (kind "rest": any run of dims, in a method signature); or an item of a tuple
    parameter (`kernel_size[0]`: kind "item", `of` the parameter, `size` the index, `name` as written)."""

    kind: Literal["fixed", "named", "unknown", "expr", "rest", "item"]
    size: int | None = None
    name: str | None = None
    op: str | None = None
    left: Dim | None = None
    right: Dim | None = None
    of: str | None = None


@node
class TensorType(Node):
    """`f32[N, 3]`, `i32[]`, or a static parameter type such as `int` (then `shape` is None)."""

    dtype: str
    shape: tuple[Dim, ...] | None = None


@node
class ListType(Node):
    """`list[f32[]]`: a growable list of tensors, lowered to a `tf.TensorArray`."""

    element: TensorType


TypeExpr = Union[TensorType, ListType]


@node
class TypeChoice(Node):
    """`f32[N, D] | f32[N, T, D]`: the type of a method input or output in each of the method's
    signatures, in order (dsl/overloads.py makes one method per signature)."""

    options: tuple[TensorType, ...]


# --- expressions -------------------------------------------------------------------------------


@node
class Name(Node):
    id: str


@node
class IntLit(Node):
    value: int


@node
class FloatLit(Node):
    value: float


@node
class StringLit(Node):
    value: str


@node
class BoolLit(Node):
    value: bool


@node
class ListLit(Node):
    items: tuple[Expr, ...]


@node
class BinOp(Node):
    op: str
    left: Expr
    right: Expr


@node
class Compare(Node):
    op: str
    left: Expr
    right: Expr


@node
class BoolOp(Node):
    op: Literal["and", "or"]
    values: tuple[Expr, ...]


UnaryOperator = Literal["-", "+", "not"]


@node
class UnaryOp(Node):
    op: UnaryOperator
    operand: Expr


@node
class IfExp(Node):
    """`body if test else orelse`: a tf.cond when `test` is a tensor (AutoGraph), else decided in Python."""

    test: Expr
    body: Expr
    orelse: Expr


@node
class Keyword(Node):
    name: str
    value: Expr


@node
class Call(Node):
    func: Expr
    args: tuple[Expr, ...] = ()
    keywords: tuple[Keyword, ...] = ()


@node
class Attribute(Node):
    value: Expr
    attr: str


@node
class Slice(Node):
    lower: Expr | None = None
    upper: Expr | None = None
    step: Expr | None = None


@node
class NewAxis(Node):
    pass


@node
class EllipsisItem(Node):
    pass


@node
class Subscript(Node):
    value: Expr
    items: tuple[Union[Expr, Slice, NewAxis, EllipsisItem], ...]


Expr = Union[
    Name, IntLit, FloatLit, StringLit, BoolLit, ListLit, BinOp, Compare, BoolOp, UnaryOp, IfExp, Call,
    Attribute, Subscript,
]


# --- statements --------------------------------------------------------------------------------


@node
class Assign(Node):
    target: str
    value: Expr
    declared: TypeExpr | None = None


@node
class ItemAssign(Node):
    """`xs[i] = v`: writes element `i` of a typed list (tensors are immutable)."""

    target: Subscript
    value: Expr


@node
class AugAssign(Node):
    target: str
    op: str
    value: Expr


@node
class Return(Node):
    values: tuple[Expr, ...] = ()


@built_from("expr_stmt")
@node
class ExprStmt(Node):
    expr: Expr


@built_from("pass_stmt")
@node
class Pass(Node):
    pass


@built_from("break_stmt")
@node
class Break(Node):
    pass


@built_from("continue_stmt")
@node
class Continue(Node):
    pass


@node
class If(Node):
    test: Expr
    body: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...] = ()


@node
class For(Node):
    target: str
    iter: Expr
    body: tuple[Stmt, ...]
    static: bool = False


@built_from("while_stmt")
@node
class While(Node):
    test: Expr
    body: tuple[Stmt, ...]


@node
class With(Node):
    """`with GradientTape() as tape:` or `with name_scope("block"):` (no name)."""

    context: Expr
    name: str | None
    body: tuple[Stmt, ...]


@node
class Assert(Node):
    """`assert test, "message"`: a run-time check (tf.Assert) that `test` holds."""

    test: Expr
    message: Expr | None = None


# --- several values at once (issue 22, composition) ------------------------------------------------


@node
class Unpack(Node):
    """`a, b = enc(x)`: a method's several outputs (or a local holding them), one name each, in order;
    `a, b = b, a`: one value per name, every value read before any name is bound. `_` binds nothing."""

    targets: tuple[Identifier, ...]
    values: tuple[Expr, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(target.text for target in self.targets)


@node
class LocalFunction(Node):
    """`fn helper(v: f32[N]) -> f32[N]:` inside a method: a function of that method only, called by name
    after it. Its names are its inputs and the module's members (not the method's locals: pass them in);
    typed and checked as a method is, generated as a nested Python function AutoGraph converts."""

    function: Method


Stmt = Union[Assign, ItemAssign, AugAssign, Return, ExprStmt, Pass, Break, Continue, If, For, While, With, Assert,
             Unpack, LocalFunction]


# --- declarations ------------------------------------------------------------------------------


@node
class ModuleParam(_Declared, Node):
    identifier: Identifier
    type: TensorType
    default: Expr | None = None
    # `in_dim: int = ?`: a holding module may leave it out; its value is taken from the sizes its calls get
    inferred: bool = False


@node
class VarDecl(_Declared, Node):
    identifier: Identifier
    type: TensorType
    init: Expr
    trainable: bool
    regularizer: Expr | None = None  # `, regularizer=SPEC`: a str, Keras' "l2(0.01)" (dsl/regularizers.py)
    # `if use_bias:` around the declaration: the `bool` parameter without which the variable does not exist
    condition: Name | None = None


@node
class SubDecl(_Declared, Node):
    identifier: Identifier
    module: str
    args: tuple[Expr, ...] = ()
    keywords: tuple[Keyword, ...] = ()
    frozen: bool = False  # `frozen sub`: its variables are built non-trainable (Keras' trainable=False)


@node
class MethodInput(_Declared, Node):
    identifier: Identifier
    type: TensorType | TypeChoice


@node
class NamedOutput(_Declared, Node):
    identifier: Identifier
    type: TensorType | TypeChoice


@node
class Method(_Declared, Node):
    identifier: Identifier
    inputs: tuple[MethodInput, ...]
    returns: TensorType | TypeChoice | tuple[NamedOutput, ...] | None
    attrs: tuple[Name, ...] = ()
    body: tuple[Stmt, ...]
    # One signature of a method declared with several: the name callers use (`call` for `call_2`).
    overload: str | None = None

    @property
    def attr_names(self) -> frozenset[str]:
        return frozenset(a.id for a in self.attrs)


Member = Union[VarDecl, SubDecl, Method]


@node
class ModuleDef(_Declared, Node):
    identifier: Identifier
    params: tuple[ModuleParam, ...]
    members: tuple[Member, ...]

    @property
    def variables(self) -> tuple[VarDecl, ...]:
        return tuple(m for m in self.members if isinstance(m, VarDecl))

    @property
    def submodules(self) -> tuple[SubDecl, ...]:
        return tuple(m for m in self.members if isinstance(m, SubDecl))

    @property
    def methods(self) -> tuple[Method, ...]:
        return tuple(m for m in self.members if isinstance(m, Method))


@node
class Import(Node):
    """`import blocks`: `target` is the relative path it names (`blocks.tfm`)."""

    target: str


@node
class Program(Node):
    """A parsed `.tfm` file."""

    modules: tuple[ModuleDef, ...]
    imports: tuple[Import, ...] = ()

