"""The SavedModel export format: save what the module serves with one signature per contract, then
reload the staged directory and compare it with the `.tfm` declarations (signature names, input names,
dtypes, ranks, fixed and unknown dims; output names and dtypes; the variable inventory).

What is saved is not the built module itself but an export root holding what serving needs: the
module's variables and submodules (by their own names, so variable paths are the module's), the served
methods, and TensorFlow's reusable SavedModel attributes (`variables`, `trainable_variables`,
`regularization_losses`, `__call__`: the serving method), so `tf.saved_model.load(path)(x)` works and
a loaded model can be fine-tuned. Methods that are not served (`train_step`) and optimizers no served
method uses are left out: a deployed model cannot be trained by its clients, and loading it does not
meet the training step's gradient functions (absl's "unsaved custom gradients" warning).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfm.dsl import nodes as n
from tfm.dsl.analysis import Analysis, called_methods, walk
from tfm.exports.formats import ExportError, ExportJob, SignatureContract


class SavedModelFormat:
    name = "SavedModel"

    def write(self, job: ExportJob, path: Path) -> None:
        from tfm.generate.runtime import _signatures  # the helper generated classes carry

        table = {c.key: (getattr(job.instance, c.method), bool(c.outputs)) for c in job.contracts}
        job.tf.saved_model.save(export_root(job), str(path), signatures=_signatures(table))

    def verify(self, job: ExportJob, path: Path) -> None:
        job.variables = verify_export(path, job.contracts, job.declared_variables)
        _verify_values(path, job.expected_values)
        job.saved_model = path


def export_root(job: ExportJob):
    """The object saved: the served part of `job.instance`, as TensorFlow's reusable SavedModel."""
    tf, instance, module = job.tf, job.instance, job.module

    class ExportRoot(tf.Module):
        # tf.Module computes these on the fly, and a SavedModel keeps no properties: the convention
        # wants them as saved lists, so the root holds them as plain attributes.
        variables: Any = None
        trainable_variables: Any = None

    taken = {m.name for m in module.methods} | {v.name for v in module.variables} | {s.name for s in module.submodules}
    if "regularization_losses" in taken:
        raise ExportError("`regularization_losses` names a member of the module, and the reusable SavedModel "
                          "convention gives that name to a list of loss functions; rename the member")
    root = ExportRoot(name=module.name)
    served = list(dict.fromkeys(c.method for c in job.contracts))
    kept = _members_used(job.analysis, module, served)
    for member in [*(v.name for v in module.variables), *(s.name for s in module.submodules if s.name in kept)]:
        setattr(root, member, getattr(instance, member))
    for method in served:
        setattr(root, method, getattr(instance, method))
    serving = next((c.method for c in job.contracts if c.key == "serving_default"), None)
    if serving is not None:
        root.__call__ = _callable(tf, instance, module, serving)
    variables, trainable = tf.Module.variables.fget(root), tf.Module.trainable_variables.fget(root)
    root.variables, root.trainable_variables = list(variables), list(trainable)
    root.regularization_losses = []  # the convention's list of loss functions; penalties are not served
    return root


def _members_used(analysis: Analysis, module: n.ModuleDef, methods: list[str]) -> set[str]:
    """The submodules kept: every declared one, except built-in ones (optimizers) that none of
    `methods`, nor a method of this module they call, names."""
    info = analysis.modules[module.name]
    builtin = {s.name for s in module.submodules if analysis.modules[s.module].decl is None}
    named: set[str] = set()
    pending, seen = [info.methods[m] for m in methods], set()
    while pending:
        method = pending.pop()
        if method.name in seen:
            continue
        seen.add(method.name)
        for node in walk(method.body):
            ref = analysis.refs.get(node)
            if ref is not None and ref.kind == "submodule" and isinstance(node, n.Name):
                named.add(node.id)
            call = analysis.calls.get(node) if isinstance(node, n.Call) else None
            if call is not None and isinstance(node, n.Call):
                if call.receiver is not None:
                    named.add(call.receiver)
                if call.kind == "self_method":
                    pending.extend(m for _, m in called_methods(analysis, info, node, call))
    return {s.name for s in module.submodules} - (builtin - named)


def _callable(tf, instance, module: n.ModuleDef, serving: str):
    """`__call__`: the serving method; for a method of several signatures, one function traced for
    each, so a call runs the one its inputs fit."""
    group = next((m.overload for m in module.methods if m.name == serving and m.overload), None)
    if group is None:
        return getattr(instance, serving)
    dispatch = tf.function(getattr(instance, group))
    for method in module.methods:
        if method.overload == group:
            dispatch.get_concrete_function(*getattr(instance, method.name).input_signature)
    return dispatch


def _verify_values(directory: Path, expected: dict) -> None:
    """The exported variables hold exactly the values they must (the trained or restored weights)."""
    import numpy as np
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(Path(directory) / "variables" / "variables"))
    keys = variable_keys(reader)
    differ = [path for path, value in expected.items()
              if path not in keys or not np.array_equal(reader.get_tensor(keys[path]), value)]
    if differ:
        raise ExportError(f"the exported values of {', '.join(differ)} differ from the weights being exported")


# --- verification ----------------------------------------------------------------------------


def verify_export(directory: Path, expected: list[SignatureContract],
                  declared: dict[str, tuple[str, tuple[int | None, ...]]]) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Reload `directory` and compare it with the contracts; raise ExportError listing every drift."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(directory))
    problems: list[str] = []
    found = set(loaded.signatures.keys())
    wanted = {c.key for c in expected}
    if found != wanted:
        problems.append(f"signatures are {sorted(found)}, expected {sorted(wanted)}")
    for contract in expected:
        if contract.key in found:
            problems.extend(_signature_drift(loaded.signatures[contract.key], contract))
    inventory = variable_inventory(directory)
    problems.extend(_variable_drift(inventory, declared))
    if problems:
        raise ExportError("the export does not match its .tfm declarations:\n  " + "\n  ".join(problems))
    return inventory


def _signature_drift(function, contract: SignatureContract) -> list[str]:
    problems = []
    _, specs = function.structured_input_signature
    if sorted(specs) != sorted(name for name, _, _ in contract.inputs):
        problems.append(f"{contract.key}: inputs {sorted(specs)}, expected {[i[0] for i in contract.inputs]}")
        return problems
    for name, dtype, dims in contract.inputs:
        spec = specs[name]
        actual = tuple(spec.shape.as_list()) if spec.shape.rank is not None else None
        if spec.dtype.name != dtype or actual != dims:
            problems.append(f"{contract.key}: input {name} is {spec.dtype.name}{_shape_text(actual)}, "
                            f"expected {dtype}{_shape_text(dims)}")
    outputs = function.structured_outputs
    if not isinstance(outputs, dict):
        outputs = {"output_0": outputs}
    if sorted(outputs) != sorted(name for name, _, _ in contract.outputs):
        problems.append(f"{contract.key}: outputs {sorted(outputs)}, expected {[o[0] for o in contract.outputs]}")
        return problems
    for name, dtype, rank in contract.outputs:
        spec = outputs[name]
        if spec.dtype.name != dtype or (spec.shape.rank is not None and rank is not None and spec.shape.rank != rank):
            problems.append(f"{contract.key}: output {name} is {spec.dtype.name} of rank {spec.shape.rank}, "
                            f"expected {dtype} of rank {rank}")
    return problems


def _shape_text(dims: tuple[int | None, ...] | None) -> str:
    return "[...] (any rank)" if dims is None else str(list(dims))


def variable_inventory(directory: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Every saved variable by object path (`dense_1/kernel`): its dtype name and shape."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(Path(directory) / "variables" / "variables"))
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    return {path: (dtypes[key].name, tuple(shapes[key])) for path, key in variable_keys(reader).items()}


# The export root's lists of the reusable SavedModel convention: another way to every variable.
CONVENTION_LISTS = frozenset({"variables", "trainable_variables", "regularization_losses"})


def variable_keys(reader) -> dict[str, str]:
    """Each saved variable's object path in the module (`lstm/cell/w_i`) -> its checkpoint key.

    The key is the variable's shortest path from the root, which for a variable deeper than two
    levels is through the convention's `variables` list (`variables/5/...`); the module path is
    found in the checkpoint's object graph, not counting those lists."""
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    paths: dict[int, str] = {0: ""}
    pending = [0]
    while pending:  # breadth first: the shortest module path of each object
        node = pending.pop(0)
        for child in graph.nodes[node].children:
            if child.node_id in paths or (node == 0 and child.local_name in CONVENTION_LISTS):
                continue
            paths[child.node_id] = f"{paths[node]}/{child.local_name}".lstrip("/")
            pending.append(child.node_id)
    return {paths[node]: attribute.checkpoint_key for node, path in paths.items()
            for attribute in graph.nodes[node].attributes if attribute.name == "VARIABLE_VALUE"}


def _variable_drift(inventory: dict[str, tuple[str, tuple[int, ...]]],
                    declared: dict[str, tuple[str, tuple[int | None, ...]]]) -> list[str]:
    problems = []
    optimizer_prefixes = tuple(key[:-1] for key in declared if key.endswith("/*"))
    for path, (dtype, shape) in declared.items():
        if path.endswith("/*"):
            continue
        if path not in inventory:
            problems.append(f"variable {path} is declared but not saved")
            continue
        saved_dtype, saved_shape = inventory[path]
        if saved_dtype != dtype or any(d is not None and d != s for d, s in zip(shape, saved_shape)) \
                or len(shape) != len(saved_shape):
            problems.append(f"variable {path} is saved as {saved_dtype}{list(saved_shape)}, "
                            f"declared {dtype}{[d if d is not None else '?' for d in shape]}")
    for path in inventory:
        if path not in declared and not path.startswith(optimizer_prefixes):
            problems.append(f"variable {path} is saved but not declared")
    return problems
