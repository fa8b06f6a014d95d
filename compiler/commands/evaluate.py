"""`tfm evaluate FILE MODULE.METHOD --data PATH`: a method's scalar outputs averaged over a dataset."""

from __future__ import annotations

from tfm.commands.common import EXIT_OK, add_use_arguments, checked_use, using
from tfm.commands.options import add_runtime, add_source

HELP_ORDER = 50  # where `tfm --help` lists it
EXAMPLES = ["tfm evaluate examples/mean_squared_error.tfm MeanSquaredError.call --data runs/pairs.npz",
            "tfm evaluate model.tfm MLP.loss --checkpoint runs/ckpt --data runs/test.npz --format json"]


def add_parser(commands):
    evaluate = commands.add_parser(
        "evaluate", help="average a method's scalar outputs over a dataset, with trained weights",
        description="Build MODULE with the weights of --checkpoint, call METHOD (one that does not train) on "
                    "every batch of --data in the file's order, and print each scalar output averaged over the "
                    "examples. Data is read and matched to METHOD's inputs as `tfm train` reads it.")
    add_use_arguments(evaluate)
    evaluate.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    add_runtime(evaluate)
    add_source(evaluate)
    return evaluate


def run(args) -> int:
    import tfm

    compiled = checked_use(args, "evaluate")
    result = using(args, lambda progress: tfm.evaluate(
        compiled, args.target, args.data, checkpoint=args.checkpoint, init=args.init_values,
        batch_size=args.batch_size, progress=progress))
    if args.format == "json":
        import json

        print(json.dumps({"examples": result.examples, "scalars": result.scalars}))
    else:
        print(f"evaluated {args.target} on {result.examples} examples: " +
              "  ".join(f"{name}={value:.6g}" for name, value in result.scalars.items()))
    return EXIT_OK
