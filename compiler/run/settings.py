"""Runtime settings: which devices TensorFlow sees and how, and how training is distributed.

One pydantic-settings model, read from (lowest to highest precedence) its defaults, `tfm.toml` or
`[tool.tfm]` in `pyproject.toml` (the nearest one, looking up from the working directory), the
environment (`TFM_MEMORY_GROWTH=true`), and command-line flags (or keyword arguments in Python).
`resolve` also says where each value came from, so an error names the setting, the value and its
source. Nothing here imports TensorFlow; `tfm.run.devices` applies the settings.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from tfm.dsl.diagnostics import printable

ENV_PREFIX = "TFM_"
FILE_NAMES = ("tfm.toml", "pyproject.toml")


class SettingsError(Exception):
    """A setting that cannot be used: the message names it, its value and where it came from."""


class RuntimeSettings(BaseSettings):
    """How compiled modules run. `RuntimeSettings()` reads the config file and the environment;
    keyword arguments override both."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    visible_gpus: list[int] | None = Field(None, description="GPU indices TensorFlow may use (default: all)")
    memory_growth: bool | None = Field(None, description="allocate GPU memory as needed instead of all at once")
    memory_limit_mb: int | None = Field(None, ge=1, description="memory cap per logical GPU, in MB")
    logical_devices: int | None = Field(None, ge=1, le=64,
                                        description="split the first GPU (or the CPU) into this many logical devices")
    device: str | None = Field(None, description="where variables and ops go, e.g. CPU:0 or GPU:1")
    soft_placement: bool | None = Field(None, description="fall back to a device that can run an op")
    strategy: Literal["default", "mirrored", "multiworker"] = Field(
        "default", description="tf.distribute strategy for tfm train")
    workers: list[str] | None = Field(None, description="multiworker: every worker's host:port (else TF_CONFIG)")
    task_index: int | None = Field(None, ge=0, description="multiworker: this worker's index in workers")
    seed: int | None = Field(None, ge=0, description="tf.random / Python / NumPy seed (tf.keras.utils.set_random_seed)")
    deterministic: bool = Field(False, description="tf.config.experimental.enable_op_determinism")
    jit: bool = Field(False, description="compile every method with XLA (tf.config.optimizer.set_jit)")
    require_gpu: bool = Field(False, description="fail instead of running on the CPU when no GPU is found")

    @field_validator("device")
    @classmethod
    def _device_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        kind, colon, index = value.removeprefix("/device:").partition(":")
        if kind.upper() not in {"CPU", "GPU", "TPU"} or not colon or not index.isdigit():
            raise ValueError("expected a device like CPU:0 or GPU:1")
        return f"{kind.upper()}:{int(index)}"

    @field_validator("workers")
    @classmethod
    def _worker_addresses(cls, value: list[str] | None) -> list[str] | None:
        for address in value or []:
            host, colon, port = address.rpartition(":")
            if not host or not colon or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"expected host:port, got {address!r}")
        return value

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return init_settings, env_settings, NearestFileSource(settings_cls)

    @property
    def wants_gpu(self) -> bool:
        return bool(self.visible_gpus) or self.memory_growth is not None or self.memory_limit_mb is not None \
            or (self.device or "").startswith("GPU") or self.require_gpu


class NearestFileSource(PydanticBaseSettingsSource):
    """`tfm.toml`, or `[tool.tfm]` of `pyproject.toml`: the nearest, from `start` up to the root."""

    def __init__(self, settings_cls, start: Path | None = None):
        super().__init__(settings_cls)
        self.path, self.values = find_config(start or Path.cwd())

    def get_field_value(self, field, field_name):  # the whole table is returned by __call__
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


def find_config(start: Path) -> tuple[Path | None, dict[str, Any]]:
    """The nearest config file with tfm settings, and its settings table."""
    for directory in [start.resolve(), *start.resolve().parents]:
        for name in FILE_NAMES:
            path = directory / name
            if not path.is_file():
                continue
            table = _read_table(path)
            if table is not None:
                return path, table
    return None, {}


def _read_table(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{printable(str(path))}: not readable TOML: {exc}") from None
    if path.name == "tfm.toml":
        table = data.get("tfm", data)
    else:
        table = data.get("tool", {}).get("tfm") if isinstance(data.get("tool"), dict) else None
    if table is not None and not isinstance(table, dict):
        raise SettingsError(f"{printable(str(path))}: the tfm settings must be a table")
    return table


@dataclass(frozen=True)
class ResolvedSettings:
    """The effective settings and, for each field, where its value came from."""

    settings: RuntimeSettings
    sources: dict[str, str] = field(default_factory=dict)

    def source(self, name: str) -> str:
        return self.sources.get(name, "default")

    def describe(self) -> list[tuple[str, object, str]]:
        return [(name, getattr(self.settings, name), self.source(name)) for name in RuntimeSettings.model_fields]


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def resolve(flags: dict[str, Any] | None = None, start: Path | None = None,
            environ: dict[str, str] | None = None) -> ResolvedSettings:
    """Defaults < config file < environment < `flags` (None values mean "not given")."""
    layers: list[tuple[dict[str, Any], Any]] = []
    path, table = find_config(start or Path.cwd())
    if path is not None:
        where = f"[tool.tfm] in {path}" if path.name == "pyproject.toml" else str(path)
        layers.append((table, lambda key, where=where: f"{printable(key)} in {printable(where)}"))
    layers.append((_environment(environ), lambda key: f"environment variable {ENV_PREFIX}{key.upper()}"))
    layers.append(({k: v for k, v in (flags or {}).items() if v is not None}, lambda key: flag(key)))
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for values, label in layers:
        for key, value in values.items():
            merged[key] = value
            sources[key] = label(key)
    try:
        settings = RuntimeSettings.model_validate(merged)
    except ValidationError as exc:
        raise SettingsError(_first_problem(exc, merged, sources)) from None
    return ResolvedSettings(settings, sources)


def _environment(environ: dict[str, str] | None) -> dict[str, Any]:
    """The TFM_ variables naming settings, parsed as pydantic-settings parses them (JSON for lists)."""
    environ = dict(os.environ if environ is None else environ)
    source = EnvSettingsSource(RuntimeSettings, env_prefix=ENV_PREFIX)
    source.env_vars = {k.lower(): v for k, v in environ.items()}
    values = {}
    for name, info in RuntimeSettings.model_fields.items():
        raw = source.env_vars.get(f"{ENV_PREFIX}{name}".lower())
        if raw is None:
            continue
        try:
            values[name] = source.prepare_field_value(name, info, raw, source.field_is_complex(info))
        except Exception:
            raise SettingsError(f"{ENV_PREFIX}{name.upper()}={printable(raw)}: {name} expects "
                                f"{_expected(name)} (from environment variable {ENV_PREFIX}{name.upper()})") from None
    return values


def _first_problem(exc: ValidationError, merged: dict[str, Any], sources: dict[str, str]) -> str:
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else "?"
    where = sources.get(name, "default")
    if error["type"] == "extra_forbidden":
        known = ", ".join(RuntimeSettings.model_fields)
        return f"unknown setting {printable(name)} ({where}); settings: {known}"
    value = merged.get(name)
    return (f"{printable(name)} = {printable(repr(value))}: {printable(error['msg'])} "
            f"(from {where})")


def _expected(name: str) -> str:
    annotation = RuntimeSettings.model_fields[name].annotation
    return {bool: "true or false", int: "an integer"}.get(annotation, "a JSON list" if "list" in str(annotation)
                                                         else str(annotation))


__all__ = ["ResolvedSettings", "RuntimeSettings", "SettingsError", "find_config", "flag", "resolve"]
