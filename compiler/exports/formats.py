"""The export format interface and the registry of file formats. A format writes its artifact at a
staging path and verifies what it wrote; `exporter.py` builds the module once, runs every format asked
for, and publishes all of them or none.

The SavedModel is always written; the other formats are files written beside it when asked for, by
name: `tfm.export(..., formats={"tflite": "m.tflite"})`, `tfm export ... --tflite m.tflite`. A new
format is one module in `tfm/exports/` with a class like `TFLiteFormat` and one line in `FORMATS`;
its options (a dataclass whose fields carry their help) become keyword arguments of `tfm.export` and
flags of `tfm export` with no change to either.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping, Protocol

# Name -> "module:class" of each file format, imported only when asked for (LiteRT is not cheap).
FORMATS: dict[str, str] = {
    "tflite": "tfm.exports.tflite_export:TFLiteFormat",
}


class ExportError(Exception):
    """The export could not be made or did not match its declarations; nothing was written."""


@dataclass(frozen=True)
class SignatureContract:
    """What one signature must look like, derived from the `.tfm` method."""

    key: str
    method: str
    inputs: tuple[tuple[str, str, tuple[int | None, ...] | None], ...]  # (name, tf dtype name, dims; None: any rank)
    outputs: tuple[tuple[str, str, int | None], ...]  # (name, tf dtype name, rank; None: any rank)
    random_op: str | None = None  # a random op the method runs: its values cannot be compared

    @property
    def any_rank_inputs(self) -> list[str]:
        """The inputs written with `...` (`x: f32[N, ..., 3]`): a TensorSpec of unknown rank."""
        return [name for name, _, dims in self.inputs if dims is None]


@dataclass
class ExportJob:
    """What every format sees: the built module, what its export must hold, and its manifest."""

    tf: Any
    instance: Any
    contracts: list[SignatureContract]
    declared_variables: dict[str, tuple[str, tuple[int | None, ...]]]
    manifest: dict
    expected_values: dict[str, Any] = field(default_factory=dict)  # variable path -> the value it must have
    analysis: Any = None  # the checked program and the module's declaration, to name .tfm lines
    module: Any = None
    saved_model: Path | None = None  # the staged, verified SavedModel, which other formats convert
    variables: dict[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)  # as saved


class ExportFormat(Protocol):
    """One export format: `write` the artifact at `path` (a staging location), then `verify` it."""

    name: str

    def write(self, job: ExportJob, path: Path) -> None: ...

    def verify(self, job: ExportJob, path: Path) -> None: ...


class FileFormat(ExportFormat, Protocol):
    """A format written as one file beside the SavedModel: what `FORMATS` names."""

    suffix: ClassVar[str]  # the file name's ending, e.g. ".tflite"
    help: ClassVar[str]  # what asking for it does, for `tfm export --help`
    options_type: ClassVar[type]  # a dataclass of the format's options; each field's metadata has its "help"

    def __init__(self, options: Any = None) -> None: ...

    def check_replaceable(self, path: Path, force: bool) -> None:
        """Raise PublishError unless `path` is absent or (with `force`) a file of this format tfm wrote."""
        ...

    def summary(self, path: Path) -> str:
        """One line for `tfm export` about what was written and how it was checked."""
        ...


@dataclass(frozen=True)
class FileRequest:
    """One file format asked for: written to `path` with `options`."""

    name: str
    path: Path
    options: Any


def format_class(name: str) -> type[FileFormat]:
    module, _, attribute = FORMATS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


def format_options(name: str) -> list[dataclasses.Field]:
    """The options a format takes: its `options_type`'s fields (their metadata holds their help)."""
    return list(dataclasses.fields(format_class(name).options_type))


def file_requests(formats: Mapping[str, Any] | None = None, **options: Any) -> list[FileRequest]:
    """The file formats asked for: `formats` maps a format's name to its path, or to a dict with its
    "path" and options; a keyword argument named after a format is its path, any other is an option of
    the one format that has it (`tflite="m.tflite", quantize="dynamic"`). A TypeError names an unknown
    keyword; an ExportError an option whose format was not asked for."""
    wanted: dict[str, dict[str, Any]] = {}
    for name, value in {**(formats or {}), **{k: v for k, v in options.items() if k in FORMATS}}.items():
        if name not in FORMATS:
            raise TypeError(f"unknown export format {name!r}; formats: {', '.join(FORMATS)}")
        wanted[name] = dict(value) if isinstance(value, Mapping) else {"path": value}
    for key, value in options.items():
        if key in FORMATS:
            continue
        owner = next((name for name in FORMATS if key in {f.name for f in format_options(name)}), None)
        if owner is None:
            raise TypeError(f"export() got an unexpected keyword argument {key!r}")
        if value in (None, False):
            continue
        if owner not in wanted or wanted[owner].get("path") is None:
            raise ExportError(f"{key} is an option of the {owner} format, which was not asked for")
        wanted[owner][key] = value
    return [FileRequest(name, Path(values.pop("path")), format_class(name).options_type(**values))
            for name, values in wanted.items() if values.get("path") is not None]
