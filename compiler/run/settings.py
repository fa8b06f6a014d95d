"""Runtime settings: which devices TensorFlow sees and how, and how training is distributed.

One pydantic-settings model, read from (lowest to highest precedence) its defaults, `tfm.toml` or
`[tool.tfm]` in `pyproject.toml` (the nearest one, looking up from the working directory), the
environment (`TFM_MEMORY_GROWTH=true`), and command-line flags (or keyword arguments in Python).
`resolve` also says where each value came from, so an error names the setting, the value and its
source. Nothing here imports TensorFlow; `tfm.run.devices` applies the settings.
"""

from __future__ import annotations

import os
import stat
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from tfm.dsl.diagnostics import printable

ENV_PREFIX = "TFM_"
FILE_NAMES = ("tfm.toml", "pyproject.toml")
_MAX_CONFIG_BYTES = 1 << 20
# Settings that make this process listen on, or connect to, network ports: a file found by walking up
# from the working directory may have been put there by someone else, so these come only from flags
# or TFM_* variables, which the user set.
NETWORK_SETTINGS = ("strategy", "workers", "task_index")


class SettingsError(Exception):
    """A setting that cannot be used: the message names it, its value and where it came from."""


class RuntimeSettings(BaseSettings):
    """How compiled modules run. `RuntimeSettings()` reads the config file and the environment;
    keyword arguments override both."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    visible_gpus: list[int] | None = Field(None, description="GPU indices TensorFlow may use (default: all)",
                                           json_schema_extra={"metavar": "I,J"})
    memory_growth: bool | None = Field(None, description="allocate GPU memory as needed instead of all at once")
    memory_limit_mb: int | None = Field(None, ge=1, description="memory cap per logical GPU, in MB",
                                        json_schema_extra={"metavar": "MB"})
    logical_devices: int | None = Field(None, ge=1, le=64, json_schema_extra={"metavar": "N"},
                                        description="split the first GPU (or the CPU) into this many logical devices")
    device: str | None = Field(None, description="where variables and ops go, e.g. CPU:0 or GPU:1",
                               json_schema_extra={"metavar": "DEVICE"})
    soft_placement: bool | None = Field(None, description="fall back to a device that can run an op")
    strategy: Literal["default", "mirrored", "multiworker"] = Field(
        "default", description="tf.distribute strategy (tfm train)")
    workers: list[str] | None = Field(None, description="multiworker: every worker's host:port (else TF_CONFIG)",
                                      json_schema_extra={"metavar": "HOST:PORT,..."})
    task_index: int | None = Field(None, ge=0, description="multiworker: this worker's index in workers",
                                   json_schema_extra={"metavar": "I"})
    seed: int | None = Field(None, ge=0, description="seed tf.random, Python and NumPy (tf.keras.utils.set_random_seed)",
                             json_schema_extra={"metavar": "S"})
    deterministic: bool = Field(False, description="deterministic ops (tf.config.experimental.enable_op_determinism)")
    jit: bool | Literal["auto"] = Field(
        False, description="compile with XLA: tfm train's whole step (tf.function(jit_compile=True)), and every "
                           "method as TensorFlow's auto-clustering can (tf.config.optimizer.set_jit); `auto`, tfm "
                           "train's default when jit is not set: time its step with and without XLA before training "
                           "and keep the faster")
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
                                   file_secret_settings) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, NearestFileSource(settings_cls)

    @property
    def wants_gpu(self) -> bool:
        return bool(self.visible_gpus) or self.memory_growth is not None or self.memory_limit_mb is not None \
            or (self.device or "").startswith("GPU") or self.require_gpu


class NearestFileSource(PydanticBaseSettingsSource):
    """`tfm.toml`, or `[tool.tfm]` of `pyproject.toml`: the nearest trusted one, from `start` up."""

    def __init__(self, settings_cls, start: Path | None = None):
        super().__init__(settings_cls)
        found = find_config(start or Path.cwd())
        for note in found.all_notes():
            warnings.warn(note, stacklevel=2)
        self.path, self.values = found.path, found.table

    def get_field_value(self, field, field_name):  # the whole table is returned by __call__
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


@dataclass(frozen=True)
class FoundConfig:
    """The nearest trusted config file, its settings (network ones left out), and what was passed
    over and why (printed as warnings)."""

    path: Path | None = None
    table: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    withheld: dict[str, Any] = field(default_factory=dict)  # network settings the file gave, not used

    def all_notes(self, overridden=()) -> tuple[str, ...]:
        """The notes, and one per withheld setting not `overridden` by a flag or variable anyway."""
        return self.notes + tuple(_withheld_note(self.path, name, value) for name, value in self.withheld.items()
                                  if name not in overridden)


def find_config(start: Path) -> FoundConfig:
    """The nearest config file with tfm settings, looking up from `start`. Only files and directories
    owned by this user (or root) are trusted: the walk stops at a directory someone else owns, or at a
    file someone else owns or may write (it is named in a note, and not read)."""
    for directory in [start.resolve(), *start.resolve().parents]:
        if not _trusted_owner(_owner(directory)):
            return FoundConfig(notes=_untrusted_directory_notes(directory))
        for name in FILE_NAMES:
            table, problem = _read_trusted(directory / name)
            if problem is not None:
                return FoundConfig(notes=(problem,))
            if table is not None:
                return _without_network_settings(FoundConfig(directory / name, table))
    return FoundConfig()


def _owner(path: Path) -> int | None:
    try:
        return os.stat(path).st_uid
    except OSError:
        return None


def _trusted_owner(uid: int | None) -> bool:
    return uid is not None and uid in (os.geteuid(), 0)


def _untrusted_directory_notes(directory: Path) -> tuple[str, ...]:
    """A note only where the walk passes over a config file it would otherwise have read."""
    return tuple(f"tfm: warning: {printable(str(directory / name))} ignored: {printable(str(directory))} belongs to "
                 f"user {_owner(directory)}, not to you; tfm reads settings only from your own files"
                 for name in FILE_NAMES if os.path.lexists(directory / name))


def _read_trusted(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(the tfm table of `path` or None, None), or (None, why it is not read). The file is opened once,
    without following a symbolic link and without blocking on a FIFO, and the open descriptor is checked."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        if os.path.islink(path):
            return None, _skipped(path, "it is a symbolic link (not followed)")
        raise SettingsError(f"{printable(str(path))}: cannot be read: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        problem = _untrusted_file(info)
        if problem is not None:
            return None, _skipped(path, problem)
        data = handle.read(_MAX_CONFIG_BYTES + 1)
    if len(data) > _MAX_CONFIG_BYTES:
        raise SettingsError(f"{printable(str(path))}: larger than {_MAX_CONFIG_BYTES} bytes; not a settings file")
    return _parse_table(path, data), None


def _untrusted_file(info: os.stat_result) -> str | None:
    if not stat.S_ISREG(info.st_mode):
        return "it is not a regular file"
    if not _trusted_owner(info.st_uid):
        return f"it belongs to user {info.st_uid}, not to you"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "others may write to it (chmod go-w to use it)"
    return None


def _skipped(path: Path, why: str) -> str:
    return f"tfm: warning: {printable(str(path))} ignored: {why}; tfm reads settings only from your own files"


def _parse_table(path: Path, data: bytes) -> dict[str, Any] | None:
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{printable(str(path))}: not readable TOML: {exc}") from None
    if path.name == "tfm.toml":
        table = document.get("tfm", document)
    else:
        table = document.get("tool", {}).get("tfm") if isinstance(document.get("tool"), dict) else None
    if table is not None and not isinstance(table, dict):
        raise SettingsError(f"{printable(str(path))}: the tfm settings must be a table")
    return table


def _without_network_settings(found: FoundConfig) -> FoundConfig:
    """The file's settings less those that open network ports (a `strategy` other than multiworker stays)."""
    withheld = {name: found.table[name] for name in NETWORK_SETTINGS if name in found.table
                and (name != "strategy" or found.table[name] == "multiworker")}
    table = {k: v for k, v in found.table.items() if k not in withheld}
    return FoundConfig(found.path, table, found.notes, withheld)


def _withheld_note(path: Path | None, name: str, value: Any) -> str:
    return (f"tfm: warning: {printable(name)} = {printable(repr(value))} in {printable(str(path))} ignored: a "
            f"setting that opens network ports is taken only from the command line ({flag(name)}) or a "
            f"{ENV_PREFIX}{name.upper()} variable, never from a settings file found in a parent directory")


@dataclass(frozen=True)
class ResolvedSettings:
    """The effective settings and, for each field, where its value came from."""

    settings: RuntimeSettings
    sources: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # config files or settings passed over, and why

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
    found = find_config(start or Path.cwd())
    if found.path is not None:
        where = f"[tool.tfm] in {found.path}" if found.path.name == "pyproject.toml" else str(found.path)
        layers.append((found.table, lambda key, where=where: f"{printable(key)} in {printable(where)}"))
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    environment = _environment(environ)
    layers.append((environment, lambda key: f"environment variable {ENV_PREFIX}{key.upper()}"))
    layers.append((given, lambda key: flag(key)))
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for values, label in layers:
        for key, value in values.items():
            merged[key] = value
            sources[key] = label(key)
    try:
        checked = _Merged.model_validate(merged)
    except ValidationError as exc:
        raise SettingsError(_first_problem(exc, merged, sources)) from None
    settings = RuntimeSettings.model_construct(_fields_set=checked.model_fields_set, **dict(checked))
    return ResolvedSettings(settings, sources, found.all_notes(overridden={*given, *environment}))


class _Merged(RuntimeSettings):
    """RuntimeSettings validated from the values `resolve` merged: the file and the environment are not
    read a second time (from another directory, with the network settings back in)."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


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


@pydantic_dataclass(config=ConfigDict(extra="forbid"))
class TrainSettings:
    """What `tfm train` is asked for; None means "the default, or what the checkpointed run used".
    Each field is a flag of `tfm train` (its description the flag's help) and a keyword argument of
    `tfm.train`: written here once. (A pydantic dataclass, not a model: a field is named `validate`.)"""

    data: Path = Field(description="training data: .npz, .csv or .tfrecord", json_schema_extra={"metavar": "PATH"})
    epochs: int | None = Field(None, ge=1, lt=2**31, description="passes over the data (default 1)",
                               json_schema_extra={"metavar": "N", "exclusive": "length"})
    steps: int | None = Field(None, ge=1, lt=2**31, description="train until this many steps in all",
                              json_schema_extra={"metavar": "N", "exclusive": "length"})
    batch_size: int | None = Field(None, ge=1, lt=2**31, description="examples per step (default 32)",
                                   json_schema_extra={"metavar": "B"})
    shuffle: int | None = Field(None, ge=0, lt=2**31, json_schema_extra={"metavar": "N"},
                                description="shuffle buffer size in examples; 0 keeps the file's order (default 1024)")
    seed: int | None = Field(None, ge=0, lt=2**31, json_schema_extra={"metavar": "S"},
                             description="seed of the data order and of tf.random (default: drawn at random and "
                                         "saved with the checkpoints)")
    checkpoint_dir: Path | None = Field(None, description="save checkpoints here and resume from them",
                                        json_schema_extra={"metavar": "DIR"})
    max_to_keep: int = Field(5, ge=1, lt=2**31, description="checkpoints kept (default 5)",
                             json_schema_extra={"metavar": "N"})
    save_every: int | None = Field(None, ge=1, lt=2**31, json_schema_extra={"metavar": "N"},
                                   description="also save every N steps (a checkpoint is always saved after each "
                                               "epoch and at the end)")
    restart: bool = Field(False, description="begin anew: remove the checkpoints tfm wrote in --checkpoint-dir "
                                             "instead of resuming")
    logdir: Path | None = Field(None, description="write TensorBoard summaries here (each run in its own run-N "
                                                  "directory; a resumed run goes on in its own)",
                                json_schema_extra={"metavar": "DIR"})
    log_every: int | None = Field(None, ge=1, lt=2**31, json_schema_extra={"metavar": "N"},
                                  description="with --logdir, write the step's scalar outputs and the learning rate "
                                              "every N steps (default 100); each epoch's means are always written")
    steps_per_call: int | None = Field(None, ge=1, le=10_000, json_schema_extra={"metavar": "N"},
                                       description="run N training steps inside one tf.function call over the "
                                                   "dataset (progress, epoch means and summaries stay per step; "
                                                   "callbacks' batch hooks, checks for Ctrl-C and saves come between "
                                                   "calls). Default 16; 1 when a callback has batch hooks, and "
                                                   "with a distribution strategy")
    accumulate: int | None = Field(None, ge=1, le=10_000, json_schema_extra={"metavar": "K"},
                                   description="gradient accumulation: the optimizers apply the mean of K steps' "
                                               "gradients every K steps (for a mean loss, one step on K batches "
                                               "together); --steps and --save-every count batches")
    class_weight: str | dict[int, float] | None = Field(
        None, json_schema_extra={"metavar": "CLASS:WEIGHT,...|FILE"},
        description="weigh each example by its sparse label's class weight, as Keras fit's class_weight (classes "
                    "not listed weigh 1): the method takes the label as its one integer input of one value per "
                    "example and the weights as an input sample_weight: f32[N]; a file holds the same text or a "
                    "JSON object")
    histograms: bool = Field(False, description="with --logdir, also write a histogram of every variable at each "
                                                "epoch's end, and of every gradient every --log-every steps")
    validate: str | None = Field(None, description="a method of the same module returning scalars, run at each "
                                                   "epoch's end", json_schema_extra={"metavar": "MODULE.METHOD"})
    validation_data: Path | None = Field(None, description="data for --validate", json_schema_extra={"metavar": "PATH"})
    early_stopping: str | None = Field(None, json_schema_extra={"metavar": "METRIC[:PATIENCE[:MIN_DELTA]]"},
                                       description="stop once METRIC (an epoch mean: loss, val_loss, ...) has not "
                                                   "improved by more than MIN_DELTA (default 0) for PATIENCE epochs in "
                                                   "a row (default 1)")
    keep_best: str | None = Field(None, json_schema_extra={"metavar": "METRIC"},
                                  description="also keep the checkpoint of the epoch with the best METRIC, in "
                                              "CHECKPOINT_DIR/best")
    reduce_lr_on_plateau: str | None = Field(None, json_schema_extra={"metavar": "METRIC[:FACTOR[:PATIENCE]]"},
                                             description="multiply the learning rate by FACTOR (default 0.1) once "
                                                         "METRIC has not improved for PATIENCE epochs in a row "
                                                         "(default 10)")
    allow_nonfinite: bool = Field(False, description="go on when the data holds NaN or inf, or a step's outputs do "
                                                     "(by default training stops there, naming the step)")
    freeze: list[str] | None = Field(None, json_schema_extra={"metavar": "SUBMODULE"},
                                     description="leave this submodule's variables as they are (a path like encoder "
                                                 "or encoder.dense; repeatable): the optimizers skip them")
    init_from: Path | None = Field(None, json_schema_extra={"metavar": "CHECKPOINT"},
                                   description="a new run starts from this checkpoint (a directory or a prefix, of "
                                               "this or another module): every variable whose path and shape match "
                                               "is loaded, the rest are left fresh (a report says which); or from "
                                               "Keras weights (.weights.h5, .keras), layer by layer")
    mixed_precision: Literal["bf16", "f16"] | None = Field(
        None, description="build the module with the dtype policy mixed_bfloat16 (bf16) or mixed_float16 (f16, its "
                          "optimizers with dynamic loss scaling): variables stay float32, layers compute in bf16/f16, "
                          "as Keras' mixed precision")
    init_map: list[str] | None = Field(None, json_schema_extra={"metavar": "OLD=NEW"},
                                       description="with --init-from, the checkpoint's path OLD (a submodule or "
                                                   "variable, like encoder; of Keras weights, a layer like dense_1) "
                                                   "loads into this module's NEW; repeatable")


__all__ = ["FoundConfig", "ResolvedSettings", "RuntimeSettings", "SettingsError", "TrainSettings", "find_config", "flag",
           "resolve"]
