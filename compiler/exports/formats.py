"""The export format interface. A format writes its artifact at a staging path and verifies what it
wrote; `exporter.py` builds the module once, runs every format asked for, and publishes all of them
or none. A new format is one new module with one class like `SavedModelFormat` or `TFLiteFormat`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class ExportError(Exception):
    """The export could not be made or did not match its declarations; nothing was written."""


@dataclass(frozen=True)
class SignatureContract:
    """What one signature must look like, derived from the `.tfm` method."""

    key: str
    method: str
    inputs: tuple[tuple[str, str, tuple[int | None, ...]], ...]  # (name, tf dtype name, dims)
    outputs: tuple[tuple[str, str, int], ...]  # (name, tf dtype name, rank)
    random_op: str | None = None  # a random op the method runs: its values cannot be compared


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
