"""The runtime helpers a generated module needs, copied from `runtime.py` with what they use.

`runtime.py` is read as text and parsed, never imported (no TensorFlow at compile time). Each
top-level function, class or single-name assignment is a definition; its dependencies are the other
definitions whose names it reads. A generated file gets the definitions its program asks for, their
dependencies computed, in the order of `runtime.py`.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

RUNTIME_PATH = Path(__file__).with_name("runtime.py")


@dataclass(frozen=True)
class Definition:
    name: str
    order: int
    text: str
    uses: frozenset[str]


@functools.cache
def runtime_source() -> str:
    return RUNTIME_PATH.read_text(encoding="utf-8")


@functools.cache
def definitions() -> dict[str, Definition]:
    source = runtime_source()
    tree = ast.parse(source)
    lines = source.splitlines()  # once: ast.get_source_segment splits the whole file on every call
    found: dict[str, Definition] = {}
    for order, node in enumerate(tree.body):
        name = _defined_name(node)
        if name is not None:
            reads = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            end = node.end_lineno
            assert end is not None  # ast.parse sets every statement's end
            text = "\n".join([*lines[node.lineno - 1:end - 1], lines[end - 1][:node.end_col_offset]])
            found[name] = Definition(name, order, text[node.col_offset:], frozenset(reads))
    # Only reads of other definitions are dependencies (not locals, builtins or `tf`).
    return {name: Definition(d.name, d.order, d.text, d.uses & found.keys() - {name}) for name, d in found.items()}


def _defined_name(node: ast.stmt) -> str | None:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return node.name
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    return None


def with_dependencies(names: set[str]) -> list[Definition]:
    """The definitions for `names` and everything they use, in runtime.py's order."""
    table = definitions()
    unknown = names - table.keys()
    if unknown:
        raise KeyError(f"no runtime helper {sorted(unknown)} in {RUNTIME_PATH.name}")
    needed: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            pending.extend(table[name].uses)
    return sorted((table[name] for name in needed), key=lambda d: d.order)


def helpers_text(names: set[str]) -> str:
    """Python text of the helpers for `names`, each preceded by two blank lines (PEP 8)."""
    return "".join(f"\n\n{d.text}\n" for d in with_dependencies(names))
