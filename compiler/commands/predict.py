"""`tfm predict FILE MODULE.METHOD --data PATH --out FILE`: a method's outputs for every example."""

from __future__ import annotations

from tfm.commands.common import EXIT_OK, add_use_arguments, checked_use, using
from tfm.commands.options import add_runtime, add_source

HELP_ORDER = 60  # where `tfm --help` lists it
EXAMPLES = ["tfm predict examples/my_model.tfm MyModel.call --checkpoint runs/ckpt --data runs/my_model.npz "
            "--out runs/preds.npz"]


def add_parser(commands):
    predict = commands.add_parser(
        "predict", help="write a method's outputs for every example of a dataset, with trained weights",
        description="Build MODULE with the weights of --checkpoint, call METHOD on every batch of --data in the "
                    "file's order, and stream its outputs, one row per example, to --out: .npz (an array per "
                    "output), .npy (the one output) or .csv (a column per value). --out must not exist: it is "
                    "written beside itself and appears whole, never replacing a file.")
    add_use_arguments(predict)
    predict.add_argument("--out", required=True, metavar="OUT.npz|.npy|.csv", help="the new file to write")
    add_runtime(predict)
    add_source(predict)
    return predict


def run(args) -> int:
    import tfm

    compiled = checked_use(args, "predict")
    result = using(args, lambda progress: tfm.predict(
        compiled, args.target, args.data, args.out, checkpoint=args.checkpoint, init=args.init_values,
        batch_size=args.batch_size, progress=progress))
    outputs = ", ".join(f"{name} {shape}" for name, shape in result.outputs.items())
    print(f"wrote predictions of {args.target} for {result.examples} examples to {result.path}: {outputs}")
    return EXIT_OK
