"""The dependency rules of the layout, read from the source: grammar <- dsl <- the rest of tfm, no
import cycle inside dsl, and TensorFlow imported at module level only by the runtime helpers."""

from __future__ import annotations

import ast

from conftest import ROOT


def _module_name(path) -> str:
    """`dsl/ops/nn_ops.py` -> tfm.dsl.ops.nn_ops (a package's __init__ is the package)."""
    parts = list(path.relative_to(ROOT / "dsl").with_suffix("").parts)
    return ".".join(["tfm", "dsl", *parts[:-1], *([] if parts[-1] == "__init__" else parts[-1:])])


def _absolute_imports(path) -> set[str]:
    """What `path` imports at module level by absolute name."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.add(node.module)
    return found


def _module_imports(path) -> set[str]:
    """Absolute names of what `path` (in dsl/) imports at module level, relative imports resolved."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.add(node.module)
                continue
            base = package[:len(package) - node.level + 1]
            if node.module:
                found.add(".".join([*base, node.module]))
            else:
                found |= {".".join([*base, a.name]) for a in node.names}
    return found


def test_dsl_imports_only_itself_and_the_grammar():
    for path in (ROOT / "dsl").rglob("*.py"):
        for name in _module_imports(path):
            if name.startswith("tfm."):
                assert name.startswith(("tfm.dsl", "tfm.grammar")), (path.name, name)


def test_no_import_cycle_inside_dsl():
    graph = {_module_name(p): {m for m in _module_imports(p) if m.startswith("tfm.dsl.")}
             for p in (ROOT / "dsl").rglob("*.py")}

    def reaches(start, target, seen):
        for dep in graph.get(start, ()):
            if dep == target or dep not in seen and (seen.add(dep) or reaches(dep, target, seen)):
                return True
        return False

    cycles = [name for name in graph if reaches(name, name, set())]
    assert not cycles, cycles


def test_tensorflow_is_imported_at_module_level_only_by_the_runtime_helpers():
    for folder in ("dsl", "compiler", "grammar"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "runtime.py":
                continue
            assert not {n for n in _absolute_imports(path) if n.split(".")[0] == "tensorflow"}, path
