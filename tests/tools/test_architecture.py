"""The dependency rules of the layout, read from the source: grammar <- dsl <- the rest of tfm, no
import cycle inside dsl, and TensorFlow imported at module level only by the runtime helpers."""

from __future__ import annotations

import ast

from support import ROOT


def _module_imports(path, everywhere: bool = False) -> set[str]:
    """Absolute names of what `path` imports at module level (or `everywhere`: inside functions too),
    relative imports resolved from the file's own package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree) if everywhere else tree.body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.add(node.module)
            else:
                base = ".".join(_package(path)[:len(_package(path)) - node.level + 1])
                found |= {f"{base}.{node.module}"} if node.module else {f"{base}.{a.name}" for a in node.names}
    return found


def _package(path) -> list[str]:
    """The import name of the package holding `path`: compiler/ is `tfm`, dsl/ is `tfm.dsl`."""
    folder, *rest = path.relative_to(ROOT).parent.parts
    return ["tfm", *([] if folder == "compiler" else [folder]), *rest]


def _module_name(path) -> str:
    """`dsl/ops/nn_ops.py` -> tfm.dsl.ops.nn_ops (a package's __init__ is the package)."""
    package = _package(path)
    return ".".join(package if path.name == "__init__.py" else [*package, path.stem])


def test_dsl_imports_only_itself_and_the_grammar():
    """Not at module level, and not inside a function either."""
    for path in (ROOT / "dsl").rglob("*.py"):
        for name in _module_imports(path, everywhere=True):
            if name.split(".")[0] == "tfm":
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
            assert not {n for n in _module_imports(path) if n.split(".")[0] == "tensorflow"}, path


def _reporter_swaps(folder) -> list[str]:
    """Assignments to (or deletions of) an attribute `report` or `err` outside a constructor."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) or \
                    function.name in ("__init__", "__post_init__"):
                continue
            for node in ast.walk(function):
                targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target] \
                    if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
                found += [f"{path.name}:{node.lineno}" for target in targets
                          if isinstance(target, ast.Attribute) and target.attr in ("report", "err")]
    return found


def test_the_reporter_is_handed_down_never_swapped():
    """One reporter per analysis, set when a checker is made: a check that only tries something
    (binding a call to one signature of several) returns its problems instead of replacing it."""
    assert not _reporter_swaps(ROOT / "dsl")
