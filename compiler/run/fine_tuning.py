"""Fine-tuning: frozen submodules (their variables get no update), the checks of --freeze,
--init-from and --init-map made before TensorFlow loads, and --init-from itself (another run's
checkpoint, or Keras weights)."""

from __future__ import annotations

import os
from contextlib import contextmanager

from tfm.dsl.diagnostics import printable
from tfm.run.checkpoints import CheckpointError, InitReport, load_matching, parse_init_map, resolve_checkpoint
from tfm.run.keras_weights import KerasWeightsError, is_keras_weights
from tfm.run.optimizer_hooks import wrapped_apply_gradients
from tfm.run.training_errors import TrainingError


def check_fine_tuning(analysis, module_name: str, freeze=None, init_from=None, init_map=None) -> None:
    """--freeze's paths against the module's declarations, --init-map's form and --init-from's path,
    before TensorFlow loads. An unknown submodule path is an error with the closest known one."""
    known = submodule_paths(analysis, module_name)
    for path in freeze or ():
        if path not in known:
            import difflib

            close = difflib.get_close_matches(path, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else f"; its submodules: {', '.join(sorted(known))}" \
                if known else f"; {module_name} has no submodules"
            raise TrainingError(f"--freeze {printable(path)}: {module_name} has no submodule {printable(path)}{hint}")
    if init_map and init_from is None:
        raise TrainingError("--init-map renames the paths of --init-from's checkpoint: give --init-from too")
    try:
        parse_init_map(init_map)
    except CheckpointError as exc:
        raise TrainingError(str(exc)) from None
    where = init_from
    if where is not None and is_keras_weights(where) and not os.path.isdir(where):
        if not os.path.exists(where):
            raise TrainingError(f"--init-from {printable(str(where))}: no such file (Keras weights: a "
                                ".weights.h5 or .keras file)")
        if not os.path.isfile(where):  # checked again, on the descriptor, when it is read
            raise TrainingError(f"--init-from {printable(str(where))}: not a regular file")
    elif where is not None and not (os.path.isdir(where) or os.path.isfile(f"{where}.index")):
        raise TrainingError(f"--init-from {printable(str(where))}: no checkpoint there (expected a checkpoint "
                            "directory, a prefix with a .index file, or Keras weights: .weights.h5 or .keras)")


def initialize(tf, instance, init_from, init_map=None, optimizers=()) -> InitReport:
    """--init-from: a new run's variables from another run's checkpoint (by variable path) or from
    Keras weights (`.weights.h5`, `.keras`: by layer), renamed by --init-map; the report of both."""
    try:
        mapping = parse_init_map(init_map)
        if is_keras_weights(init_from) and not os.path.isdir(init_from):
            from tfm.run.keras_weights import load_keras_weights

            return load_keras_weights(tf, instance, init_from, mapping, optimizers)
        return load_matching(tf, instance, resolve_checkpoint(tf, init_from), mapping, optimizers)
    except (CheckpointError, KerasWeightsError) as exc:
        raise TrainingError(f"--init-from: {exc}") from None


def submodule_paths(analysis, module_name: str) -> set[str]:
    """Every submodule path of a module (`encoder`, `encoder.dense`), from its declarations."""
    found: set[str] = set()

    def walk(name: str, prefix: str, depth: int) -> None:
        info = analysis.modules.get(name)
        if info is None or depth > 32:
            return
        for sub_name, sub in info.submodules.items():
            path = f"{prefix}{sub_name}"
            found.add(path)
            walk(sub.module, path + ".", depth + 1)

    walk(module_name, "", 0)
    return found


def declared_frozen(analysis, module_name: str) -> list[str]:
    """The paths of the submodules declared `frozen sub` in a module and its submodules (`encoder`,
    `block.norm`), outermost first: tfm train skips their variables as it does --freeze's."""
    found: list[str] = []

    def walk(name: str, prefix: str, depth: int) -> None:
        info = analysis.modules.get(name)
        if info is None or depth > 32:
            return
        for sub_name, sub in info.submodules.items():
            if sub.frozen:
                found.append(f"{prefix}{sub_name}")  # everything below it is frozen with it
            else:
                walk(sub.module, f"{prefix}{sub_name}.", depth + 1)

    walk(module_name, "", 0)
    return found


def frozen_variables(instance, paths) -> set[int]:
    """The ids of the variables of the submodules at `paths` (dotted attribute paths of the instance)."""
    frozen: set[int] = set()
    for path in paths:
        target = instance
        for part in path.split("."):
            target = getattr(target, part, None)
            if target is None:
                raise TrainingError(f"--freeze {printable(path)}: {type(instance).__name__} has no submodule "
                                    f"{printable(path)}")
        frozen.update(id(v) for v in getattr(target, "variables", ()))
    return frozen


@contextmanager
def skipping(optimizers, frozen: set[int]):
    """While training, each optimizer's `apply_gradients` leaves out the `frozen` variables (by id):
    whatever the step computes, they get no update (and the optimizer keeps no moment for them).
    The generated step looks `apply_gradients` up when it is traced, inside this context."""
    if not frozen:
        yield
        return

    def wrap(original):
        def apply_gradients(grads_and_vars, *args, **kwargs):
            kept = [(grad, var) for grad, var in grads_and_vars if id(var) not in frozen]
            return original(kept, *args, **kwargs) if kept else None

        return apply_gradients

    with wrapped_apply_gradients(optimizers, wrap):
        yield
