"""Using what was trained: `tfm evaluate` (a method's scalar outputs averaged over a dataset) and
`tfm predict` (a method's outputs for every example of a dataset, streamed to a file).

The data is read and matched to the method's inputs as `tfm train` reads it (`tfm.run.datasets`),
in the file's order, in batches. Predictions go to a new file only (`tfm.files.new_file_streamed`):
an existing file is never replaced, and the target is whole or absent.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from tfm.dsl.diagnostics import printable
from tfm.run.datasets import DataError, input_specs, open_data

PREDICTION_FORMATS = (".npz", ".npy", ".csv")
DEFAULT_BATCH_SIZE = 32


class UseError(Exception):
    """The method, the data or the output file cannot be used; the message says which and why."""


@dataclass
class EvaluateResult:
    """Each scalar output's mean over the examples (weighted by batch size), and how many there were."""

    scalars: dict[str, float]
    examples: int
    batches: int


@dataclass
class PredictResult:
    """Where the predictions went, how many examples, and each output's per-example shape and dtype."""

    path: Path
    examples: int
    outputs: dict[str, str] = field(default_factory=dict)


def split_target(target: str) -> tuple[str, str]:
    """("Module", "method") from "Module.method"."""
    module, dot, method = target.partition(".")
    if not dot or not module or not method:
        raise UseError(f"expected MODULE.METHOD, got {printable(target)}")
    return module, method


def refuse_training(analysis, module, method: str, purpose: str) -> None:
    """`purpose` ("evaluate") must not change the weights: a method that updates trainable variables is refused."""
    from tfm.dsl.signatures import variable_updates

    updates = variable_updates(analysis, module)
    if method in updates:
        raise UseError(f"{module.name}.{method}: it updates trainable variables ({updates[method]}); "
                       f"{purpose} must not train")


def restored_instance(tf, compiled, module_name: str, init: dict | None, checkpoint):
    """`module_name` of `compiled` built with `init`, with the weights of `checkpoint` (a directory,
    its latest, or a prefix) if given. A checkpoint that is missing, damaged or not this module's is a
    UseError (tfm.run.checkpoints reads the index and the variable list before TensorFlow restores)."""
    from tfm.loading.loader import import_compiled
    from tfm.run.checkpoints import CheckpointError, resolve_checkpoint, restore_model

    instance = getattr(import_compiled(compiled), module_name)(**(init or {}))
    if checkpoint is not None:
        try:
            restore_model(tf, instance, resolve_checkpoint(tf, checkpoint))
        except CheckpointError as exc:
            raise UseError(str(exc)) from None
    return instance


def check_prediction_path(path: str | Path) -> Path:
    """The output's format from its suffix, and that nothing is there yet (checked again when written)."""
    path = Path(path)
    if path.suffix.lower() not in PREDICTION_FORMATS:
        raise UseError(f"{printable(str(path))}: predictions are written as {', '.join(PREDICTION_FORMATS)}; "
                       "name the file with one of these suffixes")
    if path.is_symlink() or path.exists():
        raise UseError(f"{printable(str(path))} exists; tfm predict never replaces a file: choose another path")
    return path


def _batches(tf, instance, method: str, data_path, batch_size: int | None):
    """(function, specs, data, batches, batch size, steps): the data for `method`, in the file's order
    (a signature with a fixed batch size gets only whole batches of it)."""
    function = getattr(instance, method)
    label = f"{type(instance).__name__}.{method}"
    try:
        specs = input_specs(tf, function, label)
        data = open_data(tf, data_path, specs, label)
    except DataError as exc:
        raise UseError(str(exc)) from None
    fixed = next((s.batch for s in specs if s.batch is not None), None)
    size = fixed or batch_size or DEFAULT_BATCH_SIZE
    drop = fixed is not None
    return function, specs, data, data.batches(tf, size, drop_remainder=drop), size, data.steps_per_epoch(size, drop)


def evaluate(tf, instance, method: str, data_path, batch_size: int | None = None, progress=None) -> EvaluateResult:
    """Call `method` on every batch of `data_path`; each rank-0 output averaged over the examples."""
    from tfm.run.training import scalar_outputs

    function, specs, data, batches, size, per_epoch = _batches(tf, instance, method, data_path, batch_size)
    totals: dict[str, float] = {}
    seen = steps = 0
    _start(progress, per_epoch, f"{type(instance).__name__}.{method}")
    for batch in batches:
        count = int(batch[specs[0].name].shape[0])
        scalars = scalar_outputs(function(*[batch[s.name] for s in specs]))
        for name, value in scalars.items():
            totals[name] = totals.get(name, 0.0) + value * count
        seen, steps = seen + count, steps + 1
        if progress is not None:
            progress.step(steps, scalars)
    if not totals:
        raise UseError(f"{type(instance).__name__}.{method} returns no scalar (rank-0 number) output to average; "
                       "use tfm predict for per-example outputs")
    return EvaluateResult({name: total / max(seen, 1) for name, total in totals.items()}, seen, steps)


def predict(tf, instance, method: str, data_path, out, batch_size: int | None = None, progress=None) -> PredictResult:
    """Call `method` on every batch of `data_path` and stream its outputs, one row per example, to the
    new file `out` (.npz: an array per output; .npy: the one output; .csv: a column per value)."""
    from tfm.files import new_file_streamed

    out = check_prediction_path(out)
    function, specs, data, batches, size, per_epoch = _batches(tf, instance, method, data_path, batch_size)
    total = min(data.count, per_epoch * size)
    writer = {".npz": _NpzWriter, ".npy": _NpyWriter, ".csv": _CsvWriter}[out.suffix.lower()]
    label = f"{type(instance).__name__}.{method}"
    _start(progress, per_epoch, label)
    try:
        with new_file_streamed(out) as handle:
            sink = writer(handle, total, label)
            for step, batch in enumerate(batches, 1):
                sink.add(_per_example(function(*[batch[s.name] for s in specs]), label))
                if progress is not None:
                    progress.step(step, {})
            if sink.rows != total:  # the .npy headers promised `total` rows: never leave a file that lies
                raise UseError(f"{label} gave {sink.rows} rows for {total} examples; nothing was written")
            sink.finish()
    except FileExistsError:
        raise UseError(f"{printable(str(out))} exists; tfm predict never replaces a file: choose another path") from None
    except OSError as exc:
        raise UseError(f"cannot write {printable(str(out))}: {exc.strerror or exc}") from None
    return PredictResult(out, sink.rows, sink.described())


def _start(progress, steps: int, label: str) -> None:
    if progress is not None:
        progress.start_epoch(0, None, steps, 0, label=label)


def _per_example(outputs, label: str) -> dict:
    """The outputs as NumPy arrays by name; each must have the batch as its first dimension."""
    import numpy as np

    items = [] if outputs is None else outputs.items() if isinstance(outputs, dict) else [("output_0", outputs)]
    arrays = {name: np.asarray(value.numpy()) for name, value in items}
    if not arrays:
        raise UseError(f"{label} returns nothing to predict")
    rows = {array.shape[0] if array.ndim else None for array in arrays.values()}
    if None in rows or len(rows) > 1:
        shapes = ", ".join(f"{name} {list(array.shape)}" for name, array in arrays.items())
        raise UseError(f"{label}: every output must have one row per example (the batch first) to be predicted; "
                       f"its outputs are {shapes}")
    return arrays


class _Sink:
    """Rows of per-example outputs, checked to keep one shape and dtype per output."""

    def __init__(self, handle, total: int, label: str):
        self.handle, self.total, self.label, self.rows = handle, total, label, 0
        self.kinds: dict[str, tuple] = {}

    def add(self, arrays: dict) -> None:
        for name, array in arrays.items():
            kind = (array.shape[1:], array.dtype)
            if self.kinds.setdefault(name, kind) != kind:
                raise UseError(f"{self.label}: output {printable(name)} changed from {self.kinds[name]} to {kind} "
                               "between batches")
        self.rows += next(iter(arrays.values())).shape[0]
        self.write(arrays)

    def write(self, arrays: dict) -> None:
        """Append one batch's rows (each kind of file writes its own way)."""
        raise NotImplementedError

    def described(self) -> dict[str, str]:
        return {name: f"{dtype}[{', '.join(str(d) for d in (self.rows, *shape))}]"
                for name, (shape, dtype) in self.kinds.items()}

    def finish(self) -> None:
        pass


class _NpyStream:
    """One .npy written as rows arrive: its header (with the final row count) before the first row."""

    def __init__(self, handle, total: int):
        self.handle, self.total, self.started = handle, total, False

    def write(self, array) -> None:
        import numpy as np

        if not self.started:
            header = {"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False,
                      "shape": (self.total, *array.shape[1:])}
            np.lib.format.write_array_header_2_0(self.handle, header)
            self.started = True
        if array.dtype.hasobject:
            raise UseError("string outputs cannot be written to .npy or .npz; write them to .csv")
        self.handle.write(np.ascontiguousarray(array).tobytes())


class _NpyWriter(_Sink):
    def __init__(self, handle, total: int, label: str):
        super().__init__(handle, total, label)
        self.stream = _NpyStream(handle, total)

    def write(self, arrays: dict) -> None:
        if len(arrays) > 1:
            raise UseError(f"{self.label} has {len(arrays)} outputs ({', '.join(arrays)}); a .npy holds one: "
                           "write an .npz or a .csv")
        self.stream.write(next(iter(arrays.values())))


class _NpzWriter(_Sink):
    """Each output streamed to its own anonymous temporary .npy, then stored in the zip one by one."""

    def __init__(self, handle, total: int, label: str):
        super().__init__(handle, total, label)
        self.parts: dict[str, tuple] = {}

    def write(self, arrays: dict) -> None:
        for name, array in arrays.items():
            if name not in self.parts:
                part = tempfile.TemporaryFile()
                self.parts[name] = (part, _NpyStream(part, self.total))
            self.parts[name][1].write(array)

    def finish(self) -> None:
        with zipfile.ZipFile(self.handle, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, (part, _) in self.parts.items():
                part.seek(0)
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    shutil.copyfileobj(part, member, 1 << 20)
                part.close()


class _CsvWriter(_Sink):
    """A header (`name`, or `name_0`, `name_1`, ... for a vector output, as `tfm train` reads CSV), then
    a line per example."""

    def __init__(self, handle, total: int, label: str):
        super().__init__(handle, total, label)
        self.text = io.TextIOWrapper(handle, encoding="utf-8", newline="", write_through=True)
        self.csv = csv.writer(self.text)
        self.header = False

    def write(self, arrays: dict) -> None:
        flat = {name: array.reshape(array.shape[0], -1) for name, array in arrays.items()}
        if not self.header:
            self.csv.writerow([column for name, array in arrays.items() for column in _columns(name, array.shape[1:])])
            self.header = True
        for row in range(next(iter(flat.values())).shape[0]):
            self.csv.writerow([_cell(value) for values in flat.values() for value in values[row]])

    def finish(self) -> None:
        self.text.flush()
        self.text.detach()


def _columns(name: str, shape: tuple) -> list[str]:
    import math

    size = math.prod(shape)
    return [name] if not shape else [f"{name}_{i}" for i in range(size)]


def _cell(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value.item()) if hasattr(value, "item") else str(value)
