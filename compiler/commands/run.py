"""`tfm run FILE MODULE.METHOD`: build a module, call one method, print its outputs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tfm.commands.common import EXIT_OK, InputError, check_checkpoint_path, prepared, split_target
from tfm.commands.options import add_init, add_runtime, add_source, add_target

EXAMPLES = ["tfm run examples/demo_module.tfm DemoModule.addprint --init init_value=1 --arg a=5",
            "tfm run model.tfm MLP.predict --arg x=@batch.npy --format json --save out.npz",
            "tfm run model.tfm MLP.predict --checkpoint runs/ckpt --arg x=@batch.npy"]


def add_parser(commands):
    run = commands.add_parser("run", help="build a module and call one of its methods",
                              description="Build MODULE with its constructor values, call METHOD, print outputs. "
                                          "VALUE is a JSON literal (3, 2.5, [1, 2], \"text\") or @file.npy.")
    add_target(run, "the method to call")
    add_init(run)
    run.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                     help="a method input (repeatable); VALUE is JSON, a bare word, or @FILE (.npy, .npz:KEY, .json)")
    run.add_argument("--format", choices=["text", "json"], default="text",
                     help="outputs as text (whole arrays) or one JSON object")
    run.add_argument("--save", metavar="OUT.npz", help="also save the outputs as arrays in an .npz")
    run.add_argument("--checkpoint", metavar="PATH",
                     help="restore these weights before the call: a checkpoint directory (its latest) or prefix")
    add_runtime(run)
    add_source(run)
    return run


def run(args) -> int:
    module_name, method_name = split_target(args.target)
    check_checkpoint_path(args.checkpoint)
    if args.save and os.path.lexists(args.save):  # never replace a file tfm did not write; say so before running
        raise InputError(f"{args.save} exists; choose another path for --save")
    from tfm.run.values import BadValue, parse_assignments

    try:
        values = parse_assignments(args.arg, "--arg")  # @files read before TensorFlow loads
    except BadValue as exc:
        raise InputError(str(exc)) from None
    compiled, module, method, init, python_module = prepared(args, module_name, method_name)
    from tfm.run.devices import placement
    from tfm.run.runtime_errors import describe_failure

    try:
        method, tensors = _fitting_signature(module, method_name, method, values, compiled.analysis)
    except BadValue as exc:
        raise InputError(str(exc)) from None
    try:
        with placement(args.runtime):
            instance = getattr(python_module, module_name)(**init)
            if args.checkpoint is not None:
                _restore(instance, args.checkpoint)
            outputs = getattr(instance, method.name)(*tensors)
    except InputError:
        raise
    except Exception as exc:  # building, tracing or running the model: the .tfm line and TF's reason
        raise InputError(describe_failure(exc)) from None
    _print_outputs(outputs, args.format, args.save)
    return EXIT_OK


def _restore(instance, checkpoint: str) -> None:
    import tensorflow as tf

    from tfm.run.checkpoints import CheckpointError, resolve_checkpoint, restore_model

    try:
        restore_model(tf, instance, resolve_checkpoint(tf, checkpoint))
    except CheckpointError as exc:
        raise InputError(str(exc)) from None


def _fitting_signature(module, called: str, method, values, analysis):
    """(method, tensors): `--arg` values made tensors for `method`, or, for a method declared with
    several signatures and `called` by its name, for the first signature whose shapes they fit."""
    from tfm.dsl.analysis import method_signature
    from tfm.run.values import BadValue, method_tensors

    if method.overload is None or called != method.overload:
        return method, method_tensors(method, values, analysis)
    signatures = [m for m in module.methods if m.overload == method.overload]
    for signature in signatures:
        try:
            tensors = method_tensors(signature, values, analysis)
        except BadValue:
            continue
        declared = [analysis.types[i.type].shape for i in signature.inputs]
        if all(_shape_fits(tensor.shape, shape) for tensor, shape in zip(tensors, declared)):
            return signature, tensors
    shown = "; ".join(method_signature(m) for m in signatures)
    raise BadValue(f"no signature of {method.overload} takes these --arg values; its signatures: {shown}")


def _shape_fits(shape, declared) -> bool:
    """A value's shape against a declared one: the same rank, every fixed size equal."""
    return len(shape) == len(declared) and all(not isinstance(d, int) or d == s for d, s in zip(declared, shape))


def _print_outputs(outputs, output_format: str = "text", save: str | None = None) -> None:
    """Each output whole (no truncation), as text or one JSON object; `save` writes them to an .npz."""
    import numpy as np

    items = [] if outputs is None else outputs.items() if isinstance(outputs, dict) else [("output_0", outputs)]
    arrays = {name: np.asarray(value.numpy()) for name, value in items}
    if save:
        import io

        from tfm.files import write_new_bytes

        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=True, **arrays)  # numpy's default, named: no output is taken for it
        try:
            write_new_bytes(Path(save), buffer.getvalue())  # never replaces what appeared since the check
        except FileExistsError:
            raise InputError(f"{save} exists; choose another path for --save") from None
        except OSError as exc:
            raise InputError(f"cannot write {save}: {exc.strerror or exc}") from None
    if output_format == "json":
        import json

        print(json.dumps({name: _jsonable(array) for name, array in arrays.items()}))
        return
    for name, array in arrays.items():
        text = array.item().decode("utf-8", "replace") if array.dtype.kind in "OS" and array.ndim == 0 \
            else np.array2string(array, threshold=sys.maxsize)
        print(f"{name}: {text}")


def _jsonable(array) -> object:
    import numpy as np

    if array.dtype.kind in "OS":
        return np.vectorize(lambda b: b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b),
                            otypes=[object])(array).tolist()
    if array.dtype.kind == "c":
        return {"real": array.real.tolist(), "imag": array.imag.tolist()}
    return array.tolist()
