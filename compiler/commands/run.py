"""`tfm run FILE MODULE.METHOD`: build a module, call one method, print its outputs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tfm.commands.common import EXIT_OK, InputError, check_checkpoint_path, checked_call, split_target, using
from tfm.commands.options import add_init, add_runtime, add_source, add_target

HELP_ORDER = 30  # where `tfm --help` lists it
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
    import tfm

    module_name, method_name = split_target(args.target)
    check_checkpoint_path(args.checkpoint)
    if args.save and os.path.lexists(args.save):  # never replace a file tfm did not write; say so before running
        raise InputError(f"{args.save} exists; choose another path for --save")
    source, inputs, init = checked_call(args, module_name, method_name)
    arrays = using(args, lambda progress: tfm.call(source, args.target, inputs, init=init, checkpoint=args.checkpoint))
    _print_outputs(arrays, args.format, args.save)
    return EXIT_OK


def _print_outputs(arrays: dict, output_format: str = "text", save: str | None = None) -> None:
    """Each output whole (no truncation), as text or one JSON object; `save` writes them to an .npz."""
    import numpy as np

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
