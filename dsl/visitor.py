"""One dispatch for every pass that walks statements, expressions or resolved calls.

A pass declares the families it handles (`FAMILIES`: a method prefix -> the complete family) and
names its handlers `<prefix><Key>` (`stmt_If`, `expr_Call`, `call_sub_method`). The dispatch table is
built once, when the class is defined, and a missing handler is a TypeError there: a new node type
cannot reach users as an internal error the first time a program uses it.
"""

from __future__ import annotations

import typing
from typing import Any, ClassVar

from . import nodes as n
from .analysis import CallKind

STATEMENTS: tuple[type, ...] = typing.get_args(n.Stmt)
EXPRESSIONS: tuple[type, ...] = typing.get_args(n.Expr)
CALL_KINDS: tuple[str, ...] = typing.get_args(CallKind)
# The families a pass may declare: each must be declared whole.
FAMILIES_KNOWN: dict[str, tuple] = {"statements": STATEMENTS, "expressions": EXPRESSIONS, "calls": CALL_KINDS}


class NodeVisitor:
    """Base of the passes over method bodies: `self.dispatch(prefix, key, *args)` calls the handler."""

    FAMILIES: ClassVar[dict[str, tuple]] = {}
    _handlers: ClassVar[dict[tuple[str, Any], str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[tuple[str, Any], str] = {}
        for prefix, family in cls.FAMILIES.items():
            if family not in FAMILIES_KNOWN.values():
                raise TypeError(f"{cls.__name__}: `{prefix}` must declare a whole family from dsl.visitor")
            for key in family:
                name = prefix + (key if isinstance(key, str) else key.__name__)
                if not callable(getattr(cls, name, None)):
                    raise TypeError(f"{cls.__name__} has no handler {name}")
                handlers[(prefix, key)] = name
        cls._handlers = handlers

    def dispatch(self, prefix: str, key: Any, *args: Any) -> Any:
        """Call `<prefix><key>` with `args`; `key` is a node's type or a call kind."""
        return getattr(self, self._handlers[(prefix, key)])(*args)
