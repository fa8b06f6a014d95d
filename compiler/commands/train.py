"""`tfm train FILE MODULE.METHOD --data PATH`: train a module over a dataset, through `tfm.train`."""

from __future__ import annotations

import argparse
import sys
import time

from tfm.commands.common import (EXIT_OK, InputError, UsageError, built, check_data_file, method_decl,
                                 refuse_several_signatures, split_target)
from tfm.commands.options import add_init, add_model_options, add_runtime, add_source, add_target, model_fields

HELP_ORDER = 40  # where `tfm --help` lists it
EXAMPLES = ["tfm train examples/my_model.tfm MyModel.train_step --data runs/data.npz --epochs 3 "
            "--checkpoint-dir runs/ckpt"]


def add_parser(commands):
    from tfm.run.settings import RuntimeSettings, TrainSettings

    train = commands.add_parser(
        "train", help="train a module with one of its methods over a dataset", conflict_handler="resolve",
        description="Build MODULE and call METHOD on batches of --data, epoch after epoch, showing its scalar "
                    "outputs. With --checkpoint-dir a run saves checkpoints and a second run resumes from the "
                    "latest (same batches, same result as an uninterrupted run); with --logdir every scalar "
                    "output is written for TensorBoard. Data is matched to METHOD's inputs by name: .npz arrays, "
                    "CSV columns (x, or x_0, x_1, ... for a vector input), or TFRecord features.")
    add_target(train, "its training method")
    add_init(train)
    add_model_options(train, TrainSettings, booleans="store_true", skip=_REPEATED)
    fields = model_fields(TrainSettings)
    for name in _REPEATED:  # repeatable: --freeze encoder --freeze head
        train.add_argument("--" + name.replace("_", "-"), action="append", default=None, help=fields[name].description,
                           metavar=fields[name].json_schema_extra["metavar"])
    add_runtime(train, seed=False)
    # --jit takes `auto` here (replacing the runtime group's plain --jit; --no-jit stays as it is).
    train.add_argument("--jit", nargs="?", const=True, default=None, type=_jit_value, metavar="auto",
                       help=RuntimeSettings.model_fields["jit"].description)
    add_source(train)
    return train


_REPEATED = ("freeze", "init_map")


def run(args) -> int:
    module_name, method_name = split_target(args.target)
    args.validate = _validate_method(args.validate, module_name)
    check_data_file(args.data, "data file")
    _check_callbacks(args)
    if args.validation_data is not None:
        check_data_file(args.validation_data, "validation data file")

    def checks(compiled, module):
        from tfm.dsl.signatures import variable_updates
        from tfm.run.fine_tuning import check_fine_tuning
        from tfm.run.training_errors import TrainingError

        try:
            check_fine_tuning(compiled.analysis, module_name, args.freeze, args.init_from, args.init_map)
        except TrainingError as exc:
            raise InputError(str(exc)) from None
        refuse_several_signatures(module, method_name, "train")
        updates = variable_updates(compiled.analysis, module)
        if method_name not in updates and not args.quiet:
            print(f"tfm: warning: {module_name}.{method_name} updates no trainable variable: training will not "
                  "change the weights", file=sys.stderr)
        if args.validate is not None:
            method_decl(module, args.validate)
            refuse_several_signatures(module, args.validate, "validate with")
            if args.validate in updates:
                raise InputError(f"--validate {module_name}.{args.validate}: it updates trainable variables "
                                 f"({updates[args.validate]}); validation must not train")

    compiled, _, init, _, instance, strategy = built(args, module_name, method_name, checks)
    import tfm
    from tfm.dsl.diagnostics import printable
    from tfm.run.runtime_errors import describe_failure
    from tfm.run.training import TrainingError, TrainingInterrupted, TrainSettings, elapsed

    given = {name: getattr(args, name) for name in model_fields(TrainSettings)
             if name != "data" and getattr(args, name, None) is not None}
    started = time.perf_counter()
    try:
        result = tfm.train(compiled, args.target, args.data, init=init, settings=args.runtime, instance=instance,
                           strategy=strategy, progress=not args.quiet, log=_quiet_log if args.quiet else None,
                           **given)
    except TrainingError as exc:
        raise InputError(str(exc)) from None
    except TrainingInterrupted as stopped:
        print(f"tfm: {stopped}", file=sys.stderr)
        return 128 + stopped.signum
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a TensorFlow error in the step: the .tfm line and TF's reason
        raise InputError(describe_failure(exc)) from None
    scalars = "  ".join(f"{k}={v:.6g}" for k, v in result.scalars.items())
    print(f"trained {module_name}.{method_name}: {result.steps} steps, {result.epochs} epochs done in "
          f"{elapsed(started)}" + (f"; last epoch's means: {scalars}" if scalars else ""))
    if result.stopped_early:
        print(f"stopped early after epoch {result.epochs}")
    if result.checkpoint:
        print(f"checkpoint: {printable(result.checkpoint)}")
    if result.best_checkpoint:
        print(f"best checkpoint: {printable(result.best_checkpoint)}")
    if result.logdir:
        print(f"summaries: {printable(result.logdir)}")
    return EXIT_OK


def _check_callbacks(args) -> None:
    """The callback flags' forms, before TensorFlow loads (the metrics are known only after an epoch)."""
    from tfm.run import callbacks

    try:
        for flag, parse in (("early_stopping", callbacks.early_stopping), ("keep_best", callbacks.keep_best),
                            ("reduce_lr_on_plateau", callbacks.reduce_lr_on_plateau)):
            if getattr(args, flag, None) is not None:
                parse(getattr(args, flag))
    except callbacks.CallbackError as exc:
        raise UsageError(str(exc)) from None
    if args.class_weight is not None:
        from tfm.run.class_weights import ClassWeightError, parse_class_weight

        try:
            parse_class_weight(args.class_weight)
        except ClassWeightError as exc:
            raise UsageError(str(exc)) from None
    if args.keep_best is not None and args.checkpoint_dir is None:
        raise UsageError("--keep-best saves checkpoints: it needs --checkpoint-dir")


def _validate_method(name: str | None, module_name: str) -> str | None:
    """--validate names a method of the trained module, as MODULE.METHOD (or METHOD alone)."""
    if name is None or "." not in name:
        return name
    module, method = split_target(name)
    if module != module_name:
        raise UsageError(f"--validate {name}: the method must be one of {module_name}, the module trained")
    return method


def _jit_value(text: str) -> str:
    if text != "auto":
        raise argparse.ArgumentTypeError(f"--jit takes no value or `auto`, not {text!r}")
    return text


def _quiet_log(message: str) -> None:
    """-q: the header, resuming and warning lines are not shown (errors are raised, results printed)."""
