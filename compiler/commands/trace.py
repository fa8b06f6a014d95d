"""`tfm trace FILE MODULE.METHOD --logdir DIR`: a method's traced graph, for TensorBoard."""

from __future__ import annotations

from tfm.commands.common import EXIT_OK, checked_call, refuse_several_signatures, split_target, using
from tfm.commands.options import add_init, add_runtime, add_source, add_target

HELP_ORDER = 70  # where `tfm --help` lists it
EXAMPLES = ["tfm trace examples/my_model.tfm MyModel.call --logdir runs/trace"]


def add_parser(commands):
    trace = commands.add_parser(
        "trace", help="write a method's traced graph for TensorBoard",
        description="Build MODULE, trace METHOD once with tf.summary.trace_on, and write the graph to --logdir "
                    "(`tensorboard --logdir DIR`, Graphs tab). Ops are grouped by the modules' name scopes. "
                    "Inputs not given with --arg are zeros, with 1 for each unknown dimension.")
    add_target(trace, "the method to trace")
    trace.add_argument("--logdir", required=True, metavar="DIR", help="where to write the trace")
    add_init(trace)
    trace.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE", help="a method input (repeatable)")
    trace.add_argument("--profile", action="store_true", help="also record the profiler's timings")
    add_runtime(trace)
    add_source(trace)
    return trace


def run(args) -> int:
    import tfm

    module_name, method_name = split_target(args.target)
    source, inputs, init = checked_call(args, module_name, method_name,
                                        lambda module: refuse_several_signatures(module, method_name, "trace"))
    path = using(args, lambda progress: tfm.trace(source, args.target, args.logdir, inputs, init=init,
                                                  profile=args.profile))
    print(f"wrote the graph of {module_name}.{method_name} to {path}; view it with: tensorboard --logdir {args.logdir}")
    return EXIT_OK
