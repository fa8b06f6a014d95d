"""The options several commands share: the source options (-I, --limit), --init, the runtime settings
as flags (generated from tfm.run.settings' models), -q/-v after the command name, and the argument
types. Only argparse is imported here: building `tfm check`'s parser loads no settings library."""

from __future__ import annotations

import argparse
from typing import Any


def add_output_level(parser: argparse.ArgumentParser) -> None:
    """-q and -v after the command name too (`tfm train ... -q`); not given there, tfm's own stand."""
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="show TensorFlow's own log lines (absl, oneDNN, CUDA), hidden by default")
    parser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="print only errors and results: no warnings, no progress lines")


class ExamplesKeptFormatter(argparse.HelpFormatter):
    """Wraps descriptions as usual, but prints the examples epilog line for line."""

    def _fill_text(self, text, width, indent):
        if text.startswith("examples:"):
            return "\n".join(indent + line for line in text.splitlines())
        return super()._fill_text(text, width, indent)


def add_examples(parser: argparse.ArgumentParser, lines: list[str]) -> None:
    """`lines` as the `examples:` epilog of a command's --help."""
    if lines:
        parser.epilog = "examples:\n" + "\n".join(f"  {line}" for line in lines)
        parser.formatter_class = ExamplesKeptFormatter


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
    from tfm.run.settings import RuntimeSettings

    group = parser.add_argument_group(
        "runtime settings", "also read from TFM_<NAME> variables and [tool.tfm] in pyproject.toml or tfm.toml; "
                            "flags win (see `tfm config`)")
    add_model_options(group, RuntimeSettings, skip=() if seed else ("seed",), booleans="optional", checked=False)


def add_model_options(parser, model, skip=(), booleans: str = "store_true", checked: bool = True) -> None:
    """One flag per field of the pydantic `model`, `--field-name`, its description the help, its
    `metavar` and `exclusive` group from the field's extra schema. A flag not given is None (the
    model's default applies). A boolean is `--name` (store_true) or, with `booleans="optional"`,
    `--name/--no-name`. `checked`: integers are checked as the field's bounds say (>= 1 or >= 0) when
    the flags are parsed; otherwise the model reports them, naming where the value came from."""
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


def int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}") from None


def add_init(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--init", action="append", default=[], metavar="NAME=VALUE",
                        help="a constructor parameter (repeatable)")


def add_source(parser: argparse.ArgumentParser) -> None:
    """The source options, the same on every command that compiles a source (tfm.compile_file's
    `include` and `limits`)."""
    add_include(parser)
    add_limits(parser)


def add_include(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-I", "--include", action="append", default=[], metavar="DIR",
                        help="look for imported .tfm files in DIR too, after the importing file's own directory "
                             "(repeatable; the TFM_PATH directories come after these)")


def add_limits(parser: argparse.ArgumentParser) -> None:
    from tfm.dsl.limits import Limits

    known = ", ".join(f"{name} ({default:,})" for name, default, _ in Limits.describe())
    parser.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                        help=f"raise a limit on what the source may build (repeatable): {known}; "
                             "VALUE may end in k, M, G, KiB, MiB or GiB")


def add_target(parser: argparse.ArgumentParser, purpose: str) -> None:
    """FILE and MODULE.METHOD, as `run`, `train`, `evaluate`, `predict` and `trace` take them."""
    parser.add_argument("file", metavar="FILE", help="the .tfm source")
    parser.add_argument("target", metavar="MODULE.METHOD", help=f"the module to build and {purpose}")
