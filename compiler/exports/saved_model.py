"""The SavedModel export format: save the built module with one signature per contract, then reload
the staged directory and compare it with the `.tfm` declarations (signature names, input names, dtypes,
ranks, fixed and unknown dims; output names and dtypes; the variable inventory)."""

from __future__ import annotations

from pathlib import Path

from tfm.exports.formats import ExportError, ExportJob, SignatureContract


class SavedModelFormat:
    name = "SavedModel"

    def write(self, job: ExportJob, path: Path) -> None:
        from tfm.generate.runtime import _signatures  # the helper generated classes carry

        table = {c.key: (getattr(job.instance, c.method), bool(c.outputs)) for c in job.contracts}
        job.tf.saved_model.save(job.instance, str(path), signatures=_signatures(table))

    def verify(self, job: ExportJob, path: Path) -> None:
        job.variables = verify_export(path, job.contracts, job.declared_variables)
        _verify_values(path, job.expected_values)
        job.saved_model = path


def _verify_values(directory: Path, expected: dict) -> None:
    """The exported variables hold exactly the values they must (the trained or restored weights)."""
    import numpy as np
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(Path(directory) / "variables" / "variables"))
    differ = [path for path, value in expected.items()
              if not np.array_equal(reader.get_tensor(path + "/.ATTRIBUTES/VARIABLE_VALUE"), value)]
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
            problems.append(f"{contract.key}: input {name} is {spec.dtype.name}{list(actual or [])}, "
                            f"expected {dtype}{list(dims)}")
    outputs = function.structured_outputs
    if not isinstance(outputs, dict):
        outputs = {"output_0": outputs}
    if sorted(outputs) != sorted(name for name, _, _ in contract.outputs):
        problems.append(f"{contract.key}: outputs {sorted(outputs)}, expected {[o[0] for o in contract.outputs]}")
        return problems
    for name, dtype, rank in contract.outputs:
        spec = outputs[name]
        if spec.dtype.name != dtype or (spec.shape.rank is not None and spec.shape.rank != rank):
            problems.append(f"{contract.key}: output {name} is {spec.dtype.name} of rank {spec.shape.rank}, "
                            f"expected {dtype} of rank {rank}")
    return problems


def variable_inventory(directory: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Every saved variable by object path (`dense_1/kernel`): its dtype name and shape."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(Path(directory) / "variables" / "variables"))
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    suffix = "/.ATTRIBUTES/VARIABLE_VALUE"
    return {key.removesuffix(suffix): (dtypes[key].name, tuple(shapes[key]))
            for key in shapes if key.endswith(suffix)}


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
