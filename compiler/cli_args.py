"""The `tfm` command line's options: every command, its arguments and its help text (argparse).
What the commands do is in `tfm.cli`; this file only describes them, so `tfm --help` stays readable
in one place."""

from __future__ import annotations

import argparse
from typing import Any


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`: of its commands only the one named there gets its options (the rest
    are named, with their help, as `tfm --help` lists them): setting up every command's options was
    a few milliseconds of every start. No argv, or no command in it: every command, whole."""
    running = command_in(argv) if argv is not None else None
    parser = argparse.ArgumentParser(
        prog="tfm", description="Compile .tfm files into TensorFlow tf.Module Python, run and export them.",
        epilog="Run `tfm COMMAND --help` for a command's options.")
    parser.add_argument("--version", action=_ShowVersion, help="show tfm's, TensorFlow's and Python's versions")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show TensorFlow's own log lines (absl, oneDNN, CUDA), hidden by default")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only errors and results: no warnings, no progress lines")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=_command_parsers(running))

    check = commands.add_parser("check", help="parse and check .tfm files (no TensorFlow import)",
                                description="Parse and check each file; print diagnostics. Exit 0 if none, 1 if any.")
    check.add_argument("files", nargs="+", metavar="FILE", help=".tfm files to check")
    check.add_argument("--format", choices=["text", "json"], default="text", help="diagnostic output format")
    check.add_argument("--werror", action="store_true", help="report warnings as errors (exit 1 if there are any)")
    add_source(check)

    comp = commands.add_parser("compile", help="write the generated Python for a .tfm file",
                               description="Compile FILE to Python (no TensorFlow import). "
                                           "Writes FILE with a .py suffix unless -o is given; `-o -` prints it.")
    comp.add_argument("file", metavar="FILE", help="the .tfm source")
    comp.add_argument("-o", "--output", metavar="OUT.py", help="where to write the generated module")
    add_source(comp)

    run = commands.add_parser("run", help="build a module and call one of its methods",
                              description="Build MODULE with its constructor values, call METHOD, print outputs. "
                                          "VALUE is a JSON literal (3, 2.5, [1, 2], \"text\") or @file.npy.")
    run.add_argument("file", metavar="FILE", help="the .tfm source")
    run.add_argument("target", metavar="MODULE.METHOD", help="the module to build and the method to call")
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

    add_train(commands)
    add_use(commands)
    add_trace(commands)

    devices = commands.add_parser("devices", help="list devices and the effective runtime settings",
                                  description="Apply the runtime settings, then list TensorFlow's physical and "
                                              "logical devices and each setting with where its value came from.")
    add_runtime(devices)

    config = commands.add_parser("config", help="show the effective runtime settings (no TensorFlow import)",
                                 description="Each runtime setting, its value and where it came from: a flag, a "
                                             "TFM_<NAME> variable, the config file, or the default.")
    config.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    add_runtime(config)

    export = commands.add_parser("export", help="export a module as a verified SavedModel (and TFLite)",
                                 description="Build MODULE (with the weights of --checkpoint, if given) and save it "
                                             "with one signature per served method: serving_default is the @serving "
                                             "method, else the first served one. Methods that update trainable "
                                             "variables (train_step) are not served unless marked @signature or "
                                             "named in --signatures. The export is reloaded and checked against the "
                                             ".tfm, variable values included, before it is moved into place.")
    export.add_argument("file", metavar="FILE", help="the .tfm source")
    export.add_argument("target", nargs="?", metavar="MODULE",
                        help="the module to export (as in `tfm run FILE MODULE.METHOD`; --module also works)")
    export.add_argument("--module", metavar="MODULE", help="the module to export (the same as MODULE)")
    add_init(export)
    export.add_argument("--checkpoint", metavar="PATH",
                        help="export these weights: a checkpoint directory (its latest) or prefix (DIR/ckpt-3)")
    export.add_argument("--signatures", metavar="METHOD,...",
                        help="serve exactly these methods (comma-separated), training methods included")
    export.add_argument("--out", required=True, metavar="DIR", help="the SavedModel directory to write")
    export.add_argument("--version", nargs="?", const="next", type=version_number, metavar="N",
                        help="write the SavedModel to DIR/N, as TensorFlow Serving expects (no N: the next free)")
    add_export_formats(export)
    export.add_argument("--force", action="store_true", help="replace an existing export")
    add_runtime(export)
    add_source(export)

    inspect = commands.add_parser("inspect", help="show the signatures of an exported SavedModel or .tflite",
                                  description="Print each signature's inputs and outputs with dtype and shape (and "
                                              "the .tfm's declared types and output order), where the export came "
                                              "from, and which methods it does not serve. Reads the files as data: "
                                              "nothing in the export is run, and TensorFlow is not imported.")
    inspect.add_argument("directory", metavar="PATH", help="a SavedModel directory or a .tflite file")
    inspect.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    fmt = commands.add_parser("fmt", help="format .tfm files in one canonical layout (comments kept)",
                              description="Rewrite each FILE in tfm's canonical layout, in place and atomically, "
                                          "keeping every comment; a file is only rewritten if it changes. The "
                                          "result always parses to the same program. `-` formats standard input "
                                          "to standard output. Exit 1 if a file does not parse (or, with --check, "
                                          "would change).")
    fmt.add_argument("files", nargs="+", metavar="FILE", help=".tfm files to format")
    fmt.add_argument("--check", action="store_true", help="write nothing; list the files that would change")
    fmt.add_argument("--diff", action="store_true", help="write nothing; print what would change as a unified diff")
    commands.add_parser("lsp", help="run the language server over stdio (for editors; see docs/editors.md)",
                        description="Speak the Language Server Protocol on stdin/stdout: diagnostics as you type, "
                                    "hover with inferred types, definitions, completion, outline, rename. "
                                    "No TensorFlow import.")
    _add_examples(commands)
    return parser


def command_in(argv: list[str]) -> str | None:
    """The command `argv` names (tfm's own options come before it and take no values), if any."""
    return next((word for word in argv if not word.startswith("-")), None)


class _CommandParser(argparse.ArgumentParser):
    """One command's parser. A command other than the one being run needs a name and help, not its
    options: it takes none (setting up every command's options was a few milliseconds of every start)."""

    running: str | None = None  # the command being run (None: build every command), set by _command_parsers

    def __init__(self, *args: Any, **kwargs: Any):
        name = str(kwargs.get("prog", "")).rsplit(" ", 1)[-1]
        self.built = self.running in (None, name) or self.running not in EXAMPLES  # not a command: argparse says so
        super().__init__(*args, **kwargs)
        add_output_level(self)

    def add_argument(self, *args: Any, **kwargs: Any) -> Any:
        return super().add_argument(*args, **kwargs) if self.built else None

    def add_mutually_exclusive_group(self, *args: Any, **kwargs: Any) -> Any:
        return super().add_mutually_exclusive_group(*args, **kwargs) if self.built else self

    def add_argument_group(self, *args: Any, **kwargs: Any) -> Any:
        return super().add_argument_group(*args, **kwargs) if self.built else self


def _command_parsers(running: str | None) -> type[_CommandParser]:
    """The parser class of the commands when `running` is the command run."""

    class CommandParser(_CommandParser):
        pass

    CommandParser.running = running
    return CommandParser


def _unbuilt(parser: Any) -> bool:
    return isinstance(parser, _CommandParser) and not parser.built


def add_output_level(parser: argparse.ArgumentParser) -> None:
    """-q and -v after the command name too (`tfm train ... -q`); not given there, tfm's own stand."""
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="show TensorFlow's own log lines (absl, oneDNN, CUDA), hidden by default")
    parser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="print only errors and results: no warnings, no progress lines")


# One or two lines a user can copy, shown at the end of each command's --help.
EXAMPLES = {
    "check": ["tfm check examples/*.tfm", "tfm check --format json --werror model.tfm", "cat model.tfm | tfm check -"],
    "compile": ["tfm compile examples/my_model.tfm -o my_model.py", "tfm compile model.tfm -o - | less"],
    "run": ["tfm run examples/demo_module.tfm DemoModule.addprint --init init_value=1 --arg a=5",
            "tfm run model.tfm MLP.predict --arg x=@batch.npy --format json --save out.npz",
            "tfm run model.tfm MLP.predict --checkpoint runs/ckpt --arg x=@batch.npy"],
    "train": ["tfm train examples/my_model.tfm MyModel.train_step --data runs/data.npz --epochs 3 "
              "--checkpoint-dir runs/ckpt"],
    "evaluate": ["tfm evaluate examples/mean_squared_error.tfm MeanSquaredError.call --data runs/pairs.npz",
                 "tfm evaluate model.tfm MLP.loss --checkpoint runs/ckpt --data runs/test.npz --format json"],
    "predict": ["tfm predict examples/my_model.tfm MyModel.call --checkpoint runs/ckpt --data runs/my_model.npz "
                "--out runs/preds.npz"],
    "trace": ["tfm trace examples/my_model.tfm MyModel.call --logdir runs/trace"],
    "devices": ["tfm devices --logical-devices 2"],
    "config": ["tfm config", "TFM_DEVICE=CPU:0 tfm config --format json"],
    "export": ["tfm export examples/my_model.tfm MyModel --out serving/my_model --version",
               "tfm export model.tfm MLP --out out/mlp --tflite out/mlp.tflite --quantize dynamic"],
    "inspect": ["tfm inspect serving/my_model/1", "tfm inspect out/mlp.tflite --format json"],
    "fmt": ["tfm fmt examples/*.tfm", "tfm fmt --check --diff model.tfm"],
    "lsp": ["tfm lsp    # started by the editor: see docs/editors.md for VS Code and Neovim"],
}


class _ExamplesKeptFormatter(argparse.HelpFormatter):
    """Wraps descriptions as usual, but prints the examples epilog line for line."""

    def _fill_text(self, text, width, indent):
        if text.startswith("examples:"):
            return "\n".join(indent + line for line in text.splitlines())
        return super()._fill_text(text, width, indent)


def _add_examples(commands) -> None:
    for name, parser in commands.choices.items():
        lines = EXAMPLES.get(name)
        if lines:
            parser.epilog = "examples:\n" + "\n".join(f"  {line}" for line in lines)
            parser.formatter_class = _ExamplesKeptFormatter


def add_train(commands) -> None:
    train = commands.add_parser(
        "train", help="train a module with one of its methods over a dataset",
        description="Build MODULE and call METHOD on batches of --data, epoch after epoch, showing its scalar "
                    "outputs. With --checkpoint-dir a run saves checkpoints and a second run resumes from the "
                    "latest (same batches, same result as an uninterrupted run); with --logdir every scalar "
                    "output is written for TensorBoard. Data is matched to METHOD's inputs by name: .npz arrays, "
                    "CSV columns (x, or x_0, x_1, ... for a vector input), or TFRecord features.")
    train.add_argument("file", metavar="FILE", help="the .tfm source")
    train.add_argument("target", metavar="MODULE.METHOD", help="the module to build and its training method")
    add_init(train)
    if not _unbuilt(train):  # the settings library loads only for `tfm train` itself
        add_model_options(train, _train_settings(), booleans="store_true")
    add_runtime(train, seed=False)
    add_source(train)


def add_use(commands) -> None:
    """`evaluate` and `predict`: a method over a dataset, with trained weights."""
    evaluate = commands.add_parser(
        "evaluate", help="average a method's scalar outputs over a dataset, with trained weights",
        description="Build MODULE with the weights of --checkpoint, call METHOD (one that does not train) on "
                    "every batch of --data in the file's order, and print each scalar output averaged over the "
                    "examples. Data is read and matched to METHOD's inputs as `tfm train` reads it.")
    predict = commands.add_parser(
        "predict", help="write a method's outputs for every example of a dataset, with trained weights",
        description="Build MODULE with the weights of --checkpoint, call METHOD on every batch of --data in the "
                    "file's order, and stream its outputs, one row per example, to --out: .npz (an array per "
                    "output), .npy (the one output) or .csv (a column per value). --out must not exist: it is "
                    "written beside itself and appears whole, never replacing a file.")
    for parser in (evaluate, predict):
        parser.add_argument("file", metavar="FILE", help="the .tfm source")
        parser.add_argument("target", metavar="MODULE.METHOD", help="the module to build and the method to call")
        parser.add_argument("--data", required=True, metavar="PATH", help="the examples: .npz, .csv or .tfrecord")
        parser.add_argument("--checkpoint", metavar="PATH",
                            help="the weights: a checkpoint directory (its latest) or prefix (DIR/ckpt-3); "
                                 "without it, the constructor's")
        add_init(parser)
        parser.add_argument("--batch-size", type=positive_int, metavar="B", help="examples per call (default 32)")
    evaluate.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    predict.add_argument("--out", required=True, metavar="OUT.npz|.npy|.csv", help="the new file to write")
    for parser in (evaluate, predict):
        add_runtime(parser)
        add_source(parser)


def add_trace(commands) -> None:
    trace = commands.add_parser(
        "trace", help="write a method's traced graph for TensorBoard",
        description="Build MODULE, trace METHOD once with tf.summary.trace_on, and write the graph to --logdir "
                    "(`tensorboard --logdir DIR`, Graphs tab). Ops are grouped by the modules' name scopes. "
                    "Inputs not given with --arg are zeros, with 1 for each unknown dimension.")
    trace.add_argument("file", metavar="FILE", help="the .tfm source")
    trace.add_argument("target", metavar="MODULE.METHOD", help="the module to build and the method to trace")
    trace.add_argument("--logdir", required=True, metavar="DIR", help="where to write the trace")
    add_init(trace)
    trace.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE", help="a method input (repeatable)")
    trace.add_argument("--profile", action="store_true", help="also record the profiler's timings")
    add_runtime(trace)
    add_source(trace)


def positive_int(text: str) -> int:
    value = natural_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def natural_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0 or value >= 2**31:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to {2**31 - 1}, got {text!r}")
    return value


def add_runtime(parser: argparse.ArgumentParser, seed: bool = True) -> None:
    """The runtime settings as flags; a flag not given leaves the value of TFM_* or the config file."""
    if _unbuilt(parser):
        return
    from tfm.run.settings import RuntimeSettings

    group = parser.add_argument_group(
        "runtime settings", "also read from TFM_<NAME> variables and [tool.tfm] in pyproject.toml or tfm.toml; "
                            "flags win (see `tfm config`)")
    add_model_options(group, RuntimeSettings, skip=() if seed else ("seed",), booleans="optional", checked=False)


def add_export_formats(parser) -> None:
    """`--NAME FILE` for each export format of the registry (tfm.exports.formats), and its options."""
    if _unbuilt(parser):
        return
    import dataclasses

    from tfm.exports.formats import FORMATS, format_class

    for name in FORMATS:
        kind = format_class(name)
        parser.add_argument(flag_of(name), metavar=f"FILE{kind.suffix}", help=kind.help)
        for option in dataclasses.fields(kind.options_type):
            choices = option.metadata.get("choices")
            described = {"help": option.metadata.get("help"), **({"choices": list(choices)} if choices else {}),
                         **({"metavar": option.metadata["metavar"]} if "metavar" in option.metadata else {})}
            if option.type in (bool, "bool"):
                parser.add_argument(flag_of(option.name), action="store_true", **described)
            else:
                parser.add_argument(flag_of(option.name), **described)


def _train_settings() -> type:
    from tfm.run.settings import TrainSettings

    return TrainSettings


def add_model_options(parser, model, skip=(), booleans: str = "store_true", checked: bool = True) -> None:
    """One flag per field of the pydantic `model`, `--field-name`, its description the help, its
    `metavar` and `exclusive` group from the field's extra schema. A flag not given is None (the
    model's default applies). A boolean is `--name` (store_true) or, with `booleans="optional"`,
    `--name/--no-name`. `checked`: integers are checked as the field's bounds say (>= 1 or >= 0) when
    the flags are parsed; otherwise the model reports them, naming where the value came from."""
    if _unbuilt(parser):
        return
    groups: dict[str, Any] = {}
    for name, info in model_fields(model).items():
        if name in skip:
            continue
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        target = parser
        if "exclusive" in extra:
            if extra["exclusive"] not in groups:
                groups[str(extra["exclusive"])] = parser.add_mutually_exclusive_group()
            target = groups[str(extra["exclusive"])]
        required = info.is_required()
        target.add_argument(flag_of(name), help=info.description, required=required,
                            **_argument_kind(info, booleans, checked), **({"metavar": extra["metavar"]}
                                                                        if "metavar" in extra else {}))


def model_fields(model) -> dict[str, Any]:
    """The fields of a pydantic model or pydantic dataclass: name -> FieldInfo."""
    return model.model_fields if hasattr(model, "model_fields") else model.__pydantic_fields__


def flag_of(name: str) -> str:
    return "--" + name.replace("_", "-")


def _argument_kind(info, booleans: str, checked: bool) -> dict[str, Any]:
    """argparse's action, type, choices and default for one field."""
    import types
    import typing

    kind = info.annotation
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:  # `X | None`: X
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if kind is bool:
        return {"action": argparse.BooleanOptionalAction if booleans == "optional" else "store_true", "default": None}
    if typing.get_origin(kind) is typing.Literal:
        return {"choices": list(typing.get_args(kind)), "default": None}
    if typing.get_origin(kind) is list:
        return {"type": int_list if typing.get_args(kind) == (int,) else word_list, "default": None}
    if kind is int:
        lowest = next((getattr(m, "ge") for m in info.metadata if hasattr(m, "ge")), None)
        bounded = positive_int if lowest == 1 else natural_int if lowest == 0 else int
        return {"type": bounded if checked else int, "default": None}
    return {"default": None}


def word_list(text: str) -> list[str]:
    return [word for word in text.split(",") if word]


def version_number(text: str):
    if text == "next":
        return text
    value = positive_int(text)
    return value


def int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}") from None


def add_init(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--init", action="append", default=[], metavar="NAME=VALUE",
                        help="a constructor parameter (repeatable)")


def add_include(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-I", "--include", action="append", default=[], metavar="DIR",
                        help="look for imported .tfm files in DIR too, after the importing file's own directory "
                             "(repeatable; the TFM_PATH directories come after these)")


def add_source(parser: argparse.ArgumentParser) -> None:
    """The source options, the same on every command that compiles a source (tfm.compile_file's
    `include` and `limits`)."""
    add_include(parser)
    add_limits(parser)


def add_limits(parser: argparse.ArgumentParser) -> None:
    from tfm.dsl.limits import Limits

    known = ", ".join(f"{name} ({default:,})" for name, default, _ in Limits.describe())
    parser.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                        help=f"raise a limit on what the source may build (repeatable): {known}; "
                             "VALUE may end in k, M, G, KiB, MiB or GiB")


class _ShowVersion(argparse.Action):
    """`--version`, whose line is worked out only when asked for: every other command starts faster."""

    def __init__(self, option_strings, dest, help=None):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_line())
        parser.exit()


def version_line() -> str:
    """`tfm 0.1.0 (TensorFlow 2.21.0, Python 3.11.7)`, without importing TensorFlow."""
    import importlib.metadata
    import platform

    try:
        tensorflow = importlib.metadata.version("tensorflow")
    except importlib.metadata.PackageNotFoundError:
        tensorflow = "not installed"
    return f"tfm {version()} (TensorFlow {tensorflow}, Python {platform.python_version()})"


def version() -> str:
    """tfm's version, from the installed distribution's metadata (pyproject.toml's `version`)."""
    import importlib.metadata

    return importlib.metadata.version("tfm")
