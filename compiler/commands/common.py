"""What several commands' handlers share: the exit codes and the two errors a handler raises, reading
and compiling FILE with the source options, printing diagnostics, the runtime settings (resolved,
applied), and building MODULE from MODULE.METHOD with every check done before TensorFlow loads."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from tfm.dsl import TfmError, render_text
from tfm.terminal import colourize, use_colour

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A usage error: `tfm: error: ...`, exit 2."""


class InputError(Exception):
    """A problem in the input: `tfm: error: ...`, exit 1."""


def limits(args):
    from tfm.dsl.limits import Limits

    try:
        return Limits().with_overrides(args.limit)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def compiled(args, text: str | None = None):
    """FILE compiled through the public API (`tfm.compile_text`) with the source options (-I, --limit)."""
    import tfm

    return tfm.compile_text(read(args.file) if text is None else text, args.file, limits(args), include=args.include)


def read(path: str) -> str:
    from tfm.pipeline import read_source

    if not Path(path).is_file():
        raise UsageError(f"no such file: {path}")
    return read_source(path)


def read_for_check(path: str) -> str:
    """The text of `path` (`-`: standard input); a file that cannot be read is a diagnostic, E006."""
    from tfm.dsl import decode_source
    from tfm.dsl.diagnostics import error
    from tfm.dsl.nodes import Span
    from tfm.pipeline import read_source

    if path == "-":
        return decode_source(sys.stdin.buffer.read(), "<stdin>")
    try:
        if not Path(path).is_file():
            raise FileNotFoundError("no such file" if not Path(path).exists() else "not a regular file")
        return read_source(path)
    except OSError as exc:
        span = Span(file=path, line=1, column=1, end_line=1, end_column=1)
        why = exc.strerror or str(exc)
        raise TfmError([error("E006", span, f"cannot read {path}: {why.lower()}", "check the path")], {path: ""}) from None


def print_diagnostics(diagnostics, sources) -> None:
    """Diagnostics on stderr: coloured on a terminal (never when NO_COLOR is set or output is piped)."""
    text = render_text(diagnostics, sources)
    print(colourize(text) if use_colour(sys.stderr) else text, file=sys.stderr)


def count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def split_target(target: str) -> tuple[str, str]:
    module_name, dot, method_name = target.partition(".")
    if not dot or not method_name:
        raise UsageError(f"expected MODULE.METHOD, got {target!r}")
    return module_name, method_name


def check_checkpoint_path(path: str | None) -> None:
    """--checkpoint names a checkpoint directory whose index is sound, or a prefix: checked before
    TensorFlow loads (the restore checks it again, with the variables)."""
    from tfm.run.checkpoints import CheckpointError, resolve_checkpoint

    if path is not None:
        try:
            resolve_checkpoint(None, path)
        except CheckpointError as exc:
            raise InputError(str(exc)) from None


def check_data_file(path: str, what: str) -> None:
    from tfm.run.datasets import DataError, check_regular_file

    try:
        check_regular_file(Path(path), what)
    except DataError as exc:
        raise InputError(str(exc)) from None


def module_decl(analysis, name: str):
    for module in analysis.program.modules:
        if module.name == name:
            return module
    names = [m.name for m in analysis.program.modules]
    raise InputError(f"no module {name!r} in this file{did_you_mean(name, names)}; modules: {', '.join(names)}")


def method_decl(module, name: str):
    """The method `name` names: a method, or the first signature of a method declared with several."""
    method = next((m for m in module.methods if m.name == name), None)
    method = method or next((m for m in module.methods if m.overload == name), None)
    if method is None:
        names = list(dict.fromkeys(m.overload or m.name for m in module.methods))
        raise InputError(f"module {module.name} has no method {name!r}{did_you_mean(name, names)}; "
                         f"methods: {', '.join(names)}")
    return method


def did_you_mean(name: str, choices) -> str:
    """` (did you mean 'train_step'?)` for a near miss (difflib), else nothing."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def refuse_several_signatures(module, name: str, purpose: str) -> None:
    """`train` and `trace` work on one tf.function: a method of several signatures is named by one of them."""
    signatures = [m.name for m in module.methods if m.overload == name]
    if signatures:
        raise InputError(f"{module.name}.{name} has {len(signatures)} signatures ({', '.join(signatures)}); "
                         f"name the one to {purpose}")


# --- runtime settings ---------------------------------------------------------------------------


def resolved(args):
    """The runtime settings: flags over TFM_* variables over the config file over the defaults."""
    from tfm.run.settings import RuntimeSettings, SettingsError, resolve

    flags = {name: getattr(args, name) for name in RuntimeSettings.model_fields if hasattr(args, name)}
    try:
        settings = resolve(flags)
    except SettingsError as exc:
        raise InputError(str(exc)) from None
    for note in settings.notes:  # a settings file or setting passed over: say which and why
        print(note, file=sys.stderr)
    return settings


def apply_runtime(args):
    """Resolve the runtime settings and apply them, before TensorFlow makes any tensor."""
    from tfm.run.devices import apply_settings
    from tfm.run.quiet import native_stderr_captured, quiet_python_logs
    from tfm.run.settings import SettingsError

    settings = resolved(args)
    if settings.settings.strategy == "multiworker" and args.command in ("train", "trace"):
        from tfm.run.supervise import supervise_cluster_run

        supervise_cluster_run(_cluster_addresses(settings))  # so SIGINT and SIGTERM stop a waiting worker
    verbose = getattr(args, "verbose", False)
    if not verbose:
        quiet_python_logs()
    notes: list[str] = []
    with native_stderr_captured(enabled=not verbose) as captured:  # TensorFlow's start-up noise
        try:
            importlib.import_module("tensorflow")  # here, so its start-up lines are captured
            apply_settings(settings, log=notes.append)
        except SettingsError as exc:
            failure: Exception | None = InputError(str(exc))
        except Exception as exc:
            failure = exc
        else:
            failure = None
    if failure is not None and not isinstance(failure, InputError) and captured.text.strip():
        print(captured.text.rstrip(), file=sys.stderr)  # TensorFlow failed to start: its own words help
    for note in notes:
        print(note, file=sys.stderr)
    if failure is not None:
        raise failure
    args.runtime = settings
    return settings


def _cluster_addresses(settings) -> list[str]:
    """The workers' addresses, for messages: the `workers` setting, else TF_CONFIG's."""
    import json

    if settings.settings.workers:
        return list(settings.settings.workers)
    try:
        workers = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {}).get("worker", [])
    except (ValueError, AttributeError):
        return []
    return [str(w) for w in workers] if isinstance(workers, list) else []


# --- MODULE.METHOD of FILE, built -----------------------------------------------------------------


def prepared(args, module_name: str, method_name: str, checks=None):
    """Compile FILE; check MODULE, METHOD and --init, and `checks(compiled, module)` if given, all before
    TensorFlow loads: (compiled, module, method, init, Python module)."""
    from tfm.run.values import BadValue, constructor_kwargs, parse_assignments

    text = read(args.file)
    quiet_tensorflow()
    from tfm.loading.loader import import_compiled

    source = compiled(args, text)
    module = module_decl(source.analysis, module_name)
    method = method_decl(module, method_name)
    try:
        init = constructor_kwargs(module, parse_assignments(args.init, "--init"))
    except BadValue as exc:
        raise InputError(str(exc)) from None
    if checks is not None:
        checks(source, module)
    apply_runtime(args)
    return source, module, method, init, import_compiled(source)


def built(args, module_name: str, method_name: str, checks=None):
    """`prepared`, then MODULE built under the strategy and device the settings name:
    (compiled, module, init, Python module, instance, strategy)."""
    from tfm.dsl.precision import with_policy
    from tfm.run.devices import make_strategy, placement
    from tfm.run.runtime_errors import describe_failure
    from tfm.run.settings import SettingsError

    source, module, _, init, python_module = prepared(args, module_name, method_name, checks)
    try:
        strategy = make_strategy(args.runtime)
    except SettingsError as exc:
        raise InputError(str(exc)) from None
    try:
        with placement(args.runtime, strategy):
            instance = getattr(python_module, module_name)(**with_policy(init, getattr(args, "mixed_precision", None)))
    except Exception as exc:
        raise InputError(describe_failure(exc)) from None
    if strategy is not None:
        from tfm.run.supervise import cluster_formed

        cluster_formed()
    return source, module, init, python_module, instance, strategy


def settings_lines(settings) -> list[str]:
    """Each runtime setting, its value and where it came from, in aligned columns."""
    import json

    rows = [(name, json.dumps(value), source) for name, value, source in settings.describe()]
    width = max(len(name) for name, _, _ in rows)
    value_width = max(len(value) for _, value, _ in rows)
    return [f"  {name:<{width}}  {value:<{value_width}}  ({source})" for name, value, source in rows]


# --- evaluate and predict: a method over a dataset, with trained weights ---------------------------


def add_use_arguments(parser) -> None:
    """The arguments `evaluate` and `predict` share, before their own."""
    from tfm.commands.options import add_init, add_target, positive_int

    add_target(parser, "the method to call")
    parser.add_argument("--data", required=True, metavar="PATH", help="the examples: .npz, .csv or .tfrecord")
    parser.add_argument("--checkpoint", metavar="PATH",
                        help="the weights: a checkpoint directory (its latest) or prefix (DIR/ckpt-3); "
                             "without it, the constructor's")
    add_init(parser)
    parser.add_argument("--batch-size", type=positive_int, metavar="B", help="examples per call (default 32)")


def checked_use(args, purpose: str):
    """Everything about `evaluate`/`predict` that needs no TensorFlow: the file compiles, MODULE.METHOD
    and --init fit it, --data is a regular file, --checkpoint is sound, --out is new."""
    from tfm.run.datasets import DataError, check_regular_file
    from tfm.run.using import UseError, check_prediction_path, refuse_training
    from tfm.run.values import BadValue, constructor_kwargs, parse_assignments

    module_name, method_name = split_target(args.target)
    source = compiled(args)
    module = module_decl(source.analysis, module_name)
    method_decl(module, method_name)
    try:
        args.init_values = constructor_kwargs(module, parse_assignments(args.init, "--init"))
        if purpose == "evaluate":
            refuse_training(source.analysis, module, method_name, purpose)
        else:
            check_prediction_path(args.out)
        check_regular_file(Path(args.data), "data file")
    except (BadValue, DataError, UseError) as exc:
        raise InputError(str(exc)) from None
    check_checkpoint_path(args.checkpoint)
    return source


def checked_call(args, module_name: str, method_name: str, checks=None) -> tuple:
    """Everything about `run`/`trace` that needs no TensorFlow: the file compiles, MODULE.METHOD fits
    it (and `checks(module)`), --init and --arg are well formed (@files read): (compiled, inputs by
    name, constructor values by name), the values as given, for tfm.call/tfm.trace."""
    from tfm.run.values import BadValue, constructor_kwargs, parse_assignments

    source = compiled(args)
    module = module_decl(source.analysis, module_name)
    method_decl(module, method_name)
    if checks is not None:
        checks(module)
    try:
        init = parse_assignments(args.init, "--init")
        constructor_kwargs(module, init)
        inputs = parse_assignments(args.arg, "--arg")
    except BadValue as exc:
        raise InputError(str(exc)) from None
    return source, {name: raw.value for name, raw in inputs.items()}, {name: raw.value for name, raw in init.items()}


def using(args, call):
    """Apply the runtime settings, then `call(progress)` under their device; its failures are input errors."""
    from tfm.run.devices import placement
    from tfm.run.progress import progress_for
    from tfm.run.runtime_errors import describe_failure
    from tfm.run.using import UseError

    quiet_tensorflow()
    apply_runtime(args)
    progress = None if args.quiet else progress_for(sys.stderr)
    try:
        with placement(args.runtime):
            return call(progress)
    except UseError as exc:
        raise InputError(str(exc)) from None
    except (TfmError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise InputError(describe_failure(exc)) from None
    finally:
        if progress is not None:
            progress.close()
