"""One pipeline, options written once: every command that compiles a source takes the same source
options; the runtime and training flags are generated from the settings models (their help text
included); export formats come from a registry, so a new format changes neither `tfm.export`'s
signature nor the command line's code."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest

import tfm
from tfm.cli import build_parser
from tfm.commands.options import model_fields
from tfm.exports import formats
from tfm.run.settings import RuntimeSettings, TrainSettings

COMPILING = ("check", "compile", "run", "train", "evaluate", "predict", "trace", "export")


def _options(command: str) -> dict[str, object]:
    parser = build_parser([command])
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]  # noqa: SLF001
    return {option: action for action in sub._actions for option in action.option_strings}  # noqa: SLF001


@pytest.mark.parametrize("command", COMPILING)
def test_every_compiling_command_takes_the_source_options(command):
    options = _options(command)
    assert {"-I", "--include", "--limit"} <= set(options)


@pytest.mark.parametrize("command", ["train", "run", "export", "devices", "config"])
def test_runtime_flags_are_the_settings_fields_with_their_descriptions(command):
    options = _options(command)
    skipped = {"seed"} if command == "train" else set()
    for name, info in RuntimeSettings.model_fields.items():
        if name not in skipped:
            assert options["--" + name.replace("_", "-")].help == info.description, name


def test_training_flags_are_the_train_settings_fields_with_their_descriptions():
    options = _options("train")
    for name, info in model_fields(TrainSettings).items():
        action = options["--" + name.replace("_", "-")]
        assert action.help == info.description and action.help, name


def test_training_flags_keep_their_bounds(capsys):
    with pytest.raises(SystemExit):
        build_parser(["train"]).parse_args(["train", "m.tfm", "M.f", "--data", "d.npz", "--epochs", "0"])
    assert "expected an integer >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser(["train"]).parse_args(["train", "m.tfm", "M.f", "--data", "d.npz", "--epochs", "1",
                                            "--steps", "2"])


def test_a_new_export_format_is_one_registry_line(monkeypatch):
    """A format registered by name gets its `--NAME FILE` flag and options on `tfm export` and is a
    keyword of `tfm.export`, whose signature stays as it is."""
    signature = str(inspect.signature(tfm.export))

    @dataclasses.dataclass(frozen=True)
    class FakeOptions:
        level: str | None = dataclasses.field(default=None, metadata={"help": "how hard to squeeze"})

    class FakeFormat:
        name, suffix, options_type, help = "fake file", ".fake", FakeOptions, "also write a fake file"

        def __init__(self, options=None):
            self.options = options

    import types

    module = types.ModuleType("fake_format")
    module.FakeFormat = FakeFormat
    monkeypatch.setitem(__import__("sys").modules, "fake_format", module)
    monkeypatch.setitem(formats.FORMATS, "fake", "fake_format:FakeFormat")
    options = _options("export")
    assert options["--fake"].help == "also write a fake file" and options["--fake"].metavar == "FILE.fake"
    assert options["--level"].help == "how hard to squeeze"
    (request,) = [r for r in formats.file_requests(fake="m.fake", level="max") if r.name == "fake"]
    assert request.path == Path("m.fake") and request.options == FakeOptions(level="max")
    assert str(inspect.signature(tfm.export)) == signature


def test_format_options_need_their_format():
    with pytest.raises(formats.ExportError, match="quantize is an option of the tflite format"):
        formats.file_requests(quantize="dynamic")
    with pytest.raises(TypeError, match="unexpected keyword argument 'tflight'"):
        formats.file_requests(tflight="m.tflite")
    (request,) = formats.file_requests({"tflite": {"path": "m.tflite", "quantize": "float16"}})
    assert request.options.quantize == "float16"


def test_export_options_without_their_format_are_a_usage_error(capsys):
    from tfm.cli import main

    assert main(["export", "m.tfm", "M", "--out", "x", "--quantize", "dynamic"]) == 2
    assert "--quantize: needs --tflite FILE" in capsys.readouterr().err


def test_the_public_api_takes_the_source_options():
    for function in (tfm.check, tfm.analyze, tfm.compile_text, tfm.compile_file, tfm.export, tfm.train,
                     tfm.evaluate, tfm.predict):
        parameters = inspect.signature(function).parameters
        assert {"limits", "include"} <= set(parameters), function.__name__


def test_building_the_check_parser_loads_no_settings_or_export_modules():
    """`tfm check` starts fast: the flags generated from the settings models and the export format
    registry are built only for the commands that take them."""
    from support import run_python

    result = run_python("import sys\nfrom tfm.cli import build_parser\nbuild_parser(['check', 'x.tfm'])\n"
                        "print(sorted(m for m in sys.modules if m.startswith(('pydantic_settings', 'tfm.run', "
                        "'tfm.exports'))))\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_building_a_commands_parser_imports_no_other_command():
    """Only the command being run is imported (its module's top level stays light: heavy imports are
    inside its handler)."""
    from support import run_python

    result = run_python("import sys\nfrom tfm.cli import build_parser\nbuild_parser(['check', 'x.tfm'])\n"
                        "print(sorted(m for m in sys.modules if m.startswith('tfm.commands.')))\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['tfm.commands.check', 'tfm.commands.common', 'tfm.commands.options']"


def test_a_command_is_one_module_named_in_commands():
    """Adding a command is one module in tfm/commands/: COMMANDS lists every module but the shared ones,
    and each holds its parser, examples, handler and place in `tfm --help`."""
    import importlib

    from tfm.commands import COMMANDS

    shared = {"__init__", "common", "options"}
    modules = {path.stem for path in Path(importlib.import_module("tfm.commands").__file__).parent.glob("*.py")}
    assert modules - shared == set(COMMANDS)
    for name in COMMANDS:
        module = importlib.import_module(f"tfm.commands.{name}")
        assert callable(module.add_parser) and callable(module.run) and module.EXAMPLES, name
        assert isinstance(module.HELP_ORDER, int), name


def test_export_format_flags_reach_the_format_options():
    from tfm.commands.export import export_files

    args = build_parser(["export"]).parse_args(["export", "m.tfm", "M", "--out", "x", "--tflite", "m.tflite",
                                                 "--quantize", "int8", "--representative-data", "r.npz",
                                                 "--allow-flex"])
    (request,) = formats.file_requests(export_files(args))
    assert request.name == "tflite" and request.path == Path("m.tflite")
    assert (request.options.quantize, request.options.representative_data, request.options.allow_flex) == \
        ("int8", Path("r.npz"), True)
