"""What the TFLite format checks with: sample inputs made from each signature, the SavedModel's outputs
on them, a run of the `.tflite` in a separate LiteRT process (`litert_check.py`), and the `.tfm` lines
behind ops TFLite's builtins lack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tfm.dsl import nodes as n
from tfm.dsl.analysis import called_methods, walk
from tfm.dsl.diagnostics import first_line, printable

from tfm.exports.formats import ExportError, ExportJob, SignatureContract
from tfm.generate.linemap import TABLE_NAME, Location, lookup

LITERT_CHECK = Path(__file__).with_name("litert_check.py")
SAMPLE_SIZES = (1, 3)  # every unknown (named) dim takes each size in turn


def sample_inputs(contract: SignatureContract, size: int, rng) -> dict:
    """Inputs for one call: normal floats, zeros for integers (safe as indices), random bools."""
    import numpy as np

    inputs = {}
    for name, dtype, dims in contract.inputs:
        assert dims is not None  # an input of any rank has no .tflite (tflite_export refuses it before converting)
        shape = [size if d is None else d for d in dims]
        if dtype.startswith(("float", "bfloat", "half")):
            value = rng.normal(size=shape).astype(np.dtype(dtype) if dtype != "bfloat16" else np.float32)
        elif dtype == "bool":
            value = rng.integers(0, 2, size=shape).astype(bool)
        elif dtype == "string":
            value = np.full(shape, b"tfm", dtype=object)
        else:
            value = np.zeros(shape, dtype=np.dtype(dtype))
        inputs[name] = value
    return inputs


def run_samples(job: ExportJob, tflite: Path) -> dict:
    """Call every signature of the staged SavedModel on the samples, then the same calls, in the same
    order, on the `.tflite` in a separate process; that process's JSON verdict."""
    import numpy as np

    tf = job.tf
    loaded = tf.saved_model.load(str(job.saved_model))  # tfm's own staged export, not untrusted input
    rng = np.random.default_rng(0)
    arrays, order, random = {}, [], set()
    for size in SAMPLE_SIZES:
        case = f"dims{size}"
        for contract in job.contracts:
            inputs = sample_inputs(contract, size, rng)
            outputs = _call(tf, loaded, contract.key, inputs)
            if contract.random_op and _differs(outputs, _call(tf, loaded, contract.key, inputs)):
                random.add(contract.key)  # it draws random numbers on these inputs: values cannot match
            order.append([case, contract.key])
            arrays.update({f"{case}/{contract.key}/in/{k}": v for k, v in inputs.items()})
            arrays.update({f"{case}/{contract.key}/out/{k}": v.numpy() for k, v in outputs.items()})
    with tempfile.TemporaryDirectory(prefix="tfm-litert-") as scratch:
        cases = Path(scratch) / "cases.npz"
        np.savez(cases, order=np.array(json.dumps(order)), **arrays)
        return {**_check_in_subprocess(tflite, cases), "random": sorted(random)}


def _call(tf, loaded, key: str, inputs: dict) -> dict:
    try:
        return loaded.signatures[key](**{k: tf.constant(v) for k, v in inputs.items()})
    except Exception as exc:
        raise ExportError(f"signature {key} fails on sample inputs in TensorFlow: {first_line(exc)}") from None


def _differs(first: dict, second: dict) -> bool:
    import numpy as np

    return any(not np.array_equal(first[k].numpy(), second[k].numpy(), equal_nan=True) for k in first)


def _check_in_subprocess(tflite: Path, cases: Path) -> dict:
    command = [sys.executable, str(LITERT_CHECK), str(tflite), str(cases)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    except subprocess.TimeoutExpired:
        raise ExportError("running the .tflite on sample inputs took over 10 minutes") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        if "No module named 'ai_edge_litert'" in done.stderr:
            last = "LiteRT is not installed (pip install ai-edge-litert)"
        raise ExportError(f"the .tflite could not be run on sample inputs: {last}")
    return json.loads(lines[-1])


# --- ops TFLite's builtins lack, traced back to the .tfm ----------------------------------------

# TensorFlow op types that come from a .tfm construct, by type name (or prefix).
_CONSTRUCTS = {"PrintV2": "print", "StringFormat": "print", "TensorList": "TensorArray", "TensorArray": "TensorArray"}


def flex_message(ops: list[str], job: ExportJob) -> str:
    described = []
    for op in ops:
        construct = next((c for prefix, c in _CONSTRUCTS.items() if op.startswith(prefix)), None)
        sites = _sites(job, construct) if construct else []
        sites = sites or op_sites(job, op)
        where = f" from {', '.join(sites)}" if sites else ""
        described.append(f"{op}{where}")
    return ("TFLite's builtin ops cannot run this model: it needs the TensorFlow op"
            f"{'s' if len(ops) > 1 else ''} " + "; ".join(described) +
            ". Rewrite those lines, or pass --allow-flex to allow Select-TF (Flex) ops (an app must then link "
            "TensorFlow's Flex delegate: LiteRT alone refuses them)")


def _sites(job: ExportJob, construct: str) -> list[str]:
    """`print at demo_module.tfm:10 (addprint)` for each use of `construct` in a served method, or in a
    method one calls."""
    if job.analysis is None or job.module is None:
        return []
    found: list[str] = []
    seen: set[tuple[str, str]] = set()
    for contract in job.contracts:
        _visit(job.analysis, job.module, contract.method, construct, found, seen)
    return found


def _visit(analysis, module: n.ModuleDef, method_name: str, construct: str, found: list[str], seen: set) -> None:
    if (module.name, method_name) in seen:
        return
    seen.add((module.name, method_name))
    info = analysis.modules[module.name]
    method = info.methods[method_name]
    for node in walk(method.body):
        call = analysis.calls.get(node) if isinstance(node, n.Call) else None
        typed_list = construct == "TensorArray" and isinstance(node, n.Assign) and isinstance(node.declared, n.ListType)
        if typed_list or (call is not None and call.kind == "op" and call.op.name == construct):
            label = "a typed list" if typed_list else construct
            found.append(f"{label} at {printable(node.span.file)}:{node.span.line} ({method_name})")
        elif isinstance(node, n.Call) and call is not None and call.kind in ("self_method", "sub_method"):
            for owner, called in called_methods(analysis, info, node, call):  # each signature it may run
                _visit(analysis, owner, called.name, construct, found, seen)


def op_sites(job: ExportJob, op_type: str) -> list[str]:
    """`evaluate at model.tfm:9:16` for each served method whose graph has an op of `op_type` (a
    TensorFlow op type, `SparseSoftmaxCrossEntropyWithLogits`), at the `.tfm` line that made it when
    its traceback leads there, else the method alone (an op inside a loop's or branch's function)."""
    if job.instance is None:
        return []
    found: list[str] = []
    for method in dict.fromkeys(c.method for c in job.contracts):
        try:
            graph = getattr(job.instance, method).get_concrete_function().graph
        except Exception:  # not traceable alone here: the conversion error stands without a site
            continue
        lines = sorted({str(where) for op in graph.get_operations() if op.type == op_type
                        if (where := _made_at(op)) is not None})
        if lines:
            found.extend(f"{method} at {where}" for where in lines)
        elif any(node.op == op_type for function in graph.as_graph_def().library.function
                 for node in function.node_def):
            found.append(method)
    return found


def _made_at(op) -> Location | None:
    """The user's `.tfm` location that made graph op `op` (through the library's if it was made there)."""
    tables = {module.__file__: module.__dict__ for module in list(sys.modules.values())
              if getattr(module, "__file__", None) and TABLE_NAME in getattr(module, "__dict__", {})}
    found = [where for frame in reversed(list(op.traceback)) if frame.filename in tables
             if (where := lookup(tables[frame.filename], frame.lineno)) is not None]
    return next((w for w in found if not w.in_library), found[0] if found else None)
