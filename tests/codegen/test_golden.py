"""Golden snapshots of the generated Python for every example, and determinism.

Regenerate after an intended change with:  python -m pytest tests/codegen/test_golden.py --update-golden
then review the diff of tests/codegen/golden/ like any code change.
"""

from __future__ import annotations

import ast
import json

import pytest

from tfm import compile_file
from support import DIAGNOSTICS, EXAMPLES, ROOT, run_python

GOLDEN = ROOT / "tests" / "codegen" / "golden"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.tfm"))


@pytest.mark.parametrize("source", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_generated_code_matches_golden(source, update_golden):
    generated = compile_file(source).python
    golden = GOLDEN / f"{source.stem}.py"
    if update_golden:
        golden.write_text(generated, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}; run pytest with --update-golden"
    assert generated == golden.read_text(encoding="utf-8"), (
        f"generated code for {source.name} differs from {golden.name}; "
        "if intended, rerun with --update-golden and review the diff")


# Compiles every example and every diagnostic case in a fresh interpreter; prints what each gave.
_OUTPUTS = """
import json, sys
from pathlib import Path
from tfm import compile_file, dsl
outputs = {}
for path in map(Path, sys.argv[1:]):
    try:
        compiled = compile_file(path)
        outputs[path.name] = compiled.python + dsl.render_json(compiled.analysis.warnings)
    except dsl.TfmError as exc:
        outputs[path.name] = dsl.render_text(exc.diagnostics, exc.sources) + dsl.render_json(exc.diagnostics)
print(json.dumps(outputs))
"""
# Different string hashes reorder sets and dicts keyed by them; PYTHONHASHSEED=0 turns the randomness off.
_HASH_SEEDS = ("0", "1", "2", "3", "4", "5")


def test_compiling_is_byte_identical_across_processes_and_hash_seeds():
    """Each example's generated code, and each diagnostic case's rendering, is the same text in every
    process, whatever the hash seed (Jinja2's tests hold its generated code to the same)."""
    sources = [*EXAMPLE_FILES, *sorted(DIAGNOSTICS.glob("*.tfm"))]
    runs = {}
    for seed in _HASH_SEEDS:
        result = run_python(_OUTPUTS, env={"PYTHONHASHSEED": seed}, args=[str(path) for path in sources])
        assert result.returncode == 0, result.stderr[-3000:]
        runs[seed] = json.loads(result.stdout)
    first = runs[_HASH_SEEDS[0]]
    assert sorted(first) == sorted(path.name for path in sources)
    for seed, outputs in runs.items():
        differ = [name for name in first if outputs[name] != first[name]]
        assert not differ, f"PYTHONHASHSEED={seed} compiled these differently from PYTHONHASHSEED=0: {differ}"
    for source in EXAMPLE_FILES:
        assert first[source.name].startswith(compile_file(source).python), f"{source.name}: this process differs"


@pytest.mark.parametrize("source", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_generated_code_imports_only_tensorflow(source):
    tree = ast.parse(compile_file(source).python)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert imported == {"tensorflow"}
    assert not any(isinstance(node, ast.ImportFrom) for node in ast.walk(tree))


@pytest.mark.parametrize("source", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_every_statement_maps_to_a_tfm_line(source):
    """Each statement tfm generates from the source is in the line map, and its comment says so."""
    python = compile_file(source).python
    lines = python.splitlines()
    namespace: dict = {}
    exec(compile(_line_map_text(python), "<line map>", "exec"), namespace)
    tree = ast.parse(python)
    checked = 0
    for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
        if cls.name not in {m.name for m in _modules(source)}:
            continue  # runtime helpers (optimizers) come from templates, not from the source
        for function in (node for node in cls.body if isinstance(node, ast.FunctionDef)):
            if function.name in SIGNATURE_SCAFFOLDING:
                continue
            for statement in _statements(function.body):
                if _is_scaffolding(statement):
                    continue
                index, line, column = namespace["_TFM_LINE_MAP"][statement.lineno]
                assert namespace["_TFM_SOURCES"][index] == source.name
                assert lines[statement.lineno - 1].endswith(f"# {source.name}:{line}:{column}")
                checked += 1
    assert checked


# The class skeleton's signature attributes: the same in every class, from no line of the source.
SIGNATURE_SCAFFOLDING = {"signatures", "_default_save_signature", "_signature_table"}


def _line_map_text(python: str) -> str:
    return python[python.index("_TFM_SOURCES = "):]


def _statements(body):
    """Statements of a function body, with those inside `with self.name_scope:` taken out of it."""
    for statement in body:
        if isinstance(statement, ast.With) and ast.unparse(statement).startswith("with self.name_scope"):
            yield from statement.body
        else:
            yield statement


def _modules(source):
    return compile_file(source).analysis.program.modules


def _is_scaffolding(statement: ast.stmt) -> bool:
    """Docstrings, tf.Module.__init__ and the name-scope block hold no statement of the source."""
    text = ast.unparse(statement)
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)) or \
        text.startswith(("tf.Module.__init__", "with self.name_scope"))


def test_header_names_source_and_hash():
    import hashlib

    source = EXAMPLES / "demo_module.tfm"
    python = compile_file(source).python
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert python.splitlines()[0] == f"# Generated by tfm 0.1.0 from demo_module.tfm (sha256 {digest})."
