"""The .tfm syntax tree: one small frozen pydantic model per construct, each with its source span.

Nodes are never mutated after parsing; later stages keep what they learn (kinds, types) in their own
tables keyed by node identity, or build new nodes.
"""

from __future__ import annotations

import operator
from typing import Callable, Literal, Union

from pydantic import BaseModel, ConfigDict

_DEFAULTS: dict[type, dict[str, object]] = {}
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
_CHILD_VALUES: dict[type, Callable[[object], tuple]] = {}


def child_fields(node: Node) -> tuple[str, ...]:
    """The names of a node's fields other than its span, in declaration order: what a tree walk
    visits. Cached per class (pydantic's `model_fields` lookup is slow on a walk over every node)."""
    cls = type(node)
    names = _CHILD_FIELDS.get(cls)
    if names is None:
        names = _CHILD_FIELDS[cls] = tuple(name for name in cls.model_fields if name != "span")
    return names


def child_values(node: Node) -> tuple:
    """The values of `child_fields(node)`, in order: one C-level call per node on a hot walk."""
    read = _CHILD_VALUES.get(type(node))
    if read is None:
        names = child_fields(node)
        getter = operator.attrgetter(*names) if names else (lambda _: ())
        read = _CHILD_VALUES[type(node)] = getter if len(names) != 1 else (lambda value: (getter(value),))
    return read(node)


def _trusted(cls, values: dict[str, object]):
    """What `model_construct` makes, without its per-call bookkeeping (a third of the parse time on
    large sources): for the parser, whose values are correct by construction."""
    defaults = _DEFAULTS.get(cls)
    if defaults is None:
        defaults = _DEFAULTS[cls] = {name: field.default for name, field in cls.model_fields.items()
                                     if not field.is_required()}
    node = cls.__new__(cls)
    object.__setattr__(node, "__dict__", {**defaults, **values} if defaults else values)
    object.__setattr__(node, "__pydantic_fields_set__", set(values))
    object.__setattr__(node, "__pydantic_extra__", None)
    object.__setattr__(node, "__pydantic_private__", None)
    return node


class Span(BaseModel):
    """Where a construct stands in its source: 1-based lines and columns, end exclusive."""

    # Schemas are built on first validation, not at import: the parser builds nodes with `build`
    # (its values are correct by construction), so `tfm check` never pays for them.
    model_config = ConfigDict(frozen=True, defer_build=True)

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    @classmethod
    def build(cls, **values) -> Span:
        return _trusted(cls, values)


class Node(BaseModel):
    # Identity matters: checkers key tables by id(node), so equal-looking nodes stay distinct.
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, defer_build=True)

    span: Span

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    @classmethod
    def build(cls, **values):
        """A node from trusted values, unvalidated (the parser's); anything else should validate."""
        return _trusted(cls, values)


# --- types -------------------------------------------------------------------------------------


class Dim(Node):
    """One dimension of a declared shape: a fixed size, a named size (`N`), or unknown (`?`)."""

    kind: Literal["fixed", "named", "unknown"]
    size: int | None = None
    name: str | None = None


class TensorType(Node):
    """`f32[N, 3]`, `i32[]`, or a static parameter type such as `int` (then `shape` is None)."""

    dtype: str
    shape: tuple[Dim, ...] | None = None


class ListType(Node):
    """`list[f32[]]`: a growable list of tensors, lowered to a `tf.TensorArray`."""

    element: TensorType


TypeExpr = Union[TensorType, ListType]


class TypeChoice(Node):
    """`f32[N, D] | f32[N, T, D]`: the type of a method input or output in each of the method's
    signatures, in order (dsl/overloads.py makes one method per signature)."""

    options: tuple[TensorType, ...]


# --- expressions -------------------------------------------------------------------------------


class Name(Node):
    id: str


class IntLit(Node):
    value: int


class FloatLit(Node):
    value: float


class StringLit(Node):
    value: str


class BoolLit(Node):
    value: bool


class ListLit(Node):
    items: tuple[Expr, ...]


class BinOp(Node):
    op: str
    left: Expr
    right: Expr


class Compare(Node):
    op: str
    left: Expr
    right: Expr


class BoolOp(Node):
    op: Literal["and", "or"]
    values: tuple[Expr, ...]


class UnaryOp(Node):
    op: Literal["-", "+", "not"]
    operand: Expr


class IfExp(Node):
    """`body if test else orelse`: a tf.cond when `test` is a tensor (AutoGraph), else decided in Python."""

    test: Expr
    body: Expr
    orelse: Expr


class Keyword(Node):
    name: str
    value: Expr


class Call(Node):
    func: Expr
    args: tuple[Expr, ...] = ()
    keywords: tuple[Keyword, ...] = ()


class Attribute(Node):
    value: Expr
    attr: str


class Slice(Node):
    lower: Expr | None = None
    upper: Expr | None = None
    step: Expr | None = None


class NewAxis(Node):
    pass


class EllipsisItem(Node):
    pass


class Subscript(Node):
    value: Expr
    items: tuple[Union[Expr, Slice, NewAxis, EllipsisItem], ...]


Expr = Union[
    Name, IntLit, FloatLit, StringLit, BoolLit, ListLit, BinOp, Compare, BoolOp, UnaryOp, IfExp, Call,
    Attribute, Subscript,
]


# --- statements --------------------------------------------------------------------------------


class Assign(Node):
    target: str
    value: Expr
    declared: TypeExpr | None = None


class ItemAssign(Node):
    """`xs[i] = v`: writes element `i` of a typed list (tensors are immutable)."""

    target: Subscript
    value: Expr


class AugAssign(Node):
    target: str
    op: str
    value: Expr


class Return(Node):
    values: tuple[Expr, ...] = ()


class ExprStmt(Node):
    expr: Expr


class Pass(Node):
    pass


class Break(Node):
    pass


class Continue(Node):
    pass


class If(Node):
    test: Expr
    body: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...] = ()


class For(Node):
    target: str
    iter: Expr
    body: tuple[Stmt, ...]
    static: bool = False


class While(Node):
    test: Expr
    body: tuple[Stmt, ...]


class With(Node):
    """`with GradientTape() as tape:` or `with name_scope("block"):` (no name)."""

    context: Expr
    name: str | None
    body: tuple[Stmt, ...]


class Assert(Node):
    """`assert test, "message"`: a run-time check (tf.Assert) that `test` holds."""

    test: Expr
    message: Expr | None = None


Stmt = Union[Assign, ItemAssign, AugAssign, Return, ExprStmt, Pass, Break, Continue, If, For, While, With, Assert]


# --- declarations ------------------------------------------------------------------------------


class ModuleParam(Node):
    name: str
    type: TensorType
    default: Expr | None = None


class VarDecl(Node):
    name: str
    type: TensorType
    init: Expr
    trainable: bool


class SubDecl(Node):
    name: str
    module: str
    args: tuple[Expr, ...] = ()
    keywords: tuple[Keyword, ...] = ()


class MethodInput(Node):
    name: str
    type: TensorType | TypeChoice


class NamedOutput(Node):
    name: str
    type: TensorType | TypeChoice


class Method(Node):
    name: str
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


class ModuleDef(Node):
    name: str
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


class Import(Node):
    """`import blocks`: `target` is the relative path it names (`blocks.tfm`)."""

    target: str


class Program(Node):
    """A parsed `.tfm` file."""

    modules: tuple[ModuleDef, ...]
    imports: tuple[Import, ...] = ()

