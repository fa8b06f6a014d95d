"""Training data for `tfm train`: `.npz`, CSV (with a header) and TFRecord (of `tf.train.Example`),
read through `tf.data` and matched to a method's inputs by name.

Every file is checked against the method's signature before the first step: each input has its
array, columns or feature; dtypes convert without losing their kind (an int may feed a float input,
a float never an int one); each example has the input's shape; every record parses. A problem is a
DataError naming the file, the column and the input, never a TensorFlow traceback.

CSV columns: an input `x: f32[N]` reads column `x`; an input `x: f32[N, 3]` reads `x_0`, `x_1`, `x_2`
(and `y: f32[N, 1]` reads `y_0`, or `y` if there is no `y_0`).

Data may come from strangers: a FIFO or device is named as such and never read (nor waited on); an
`.npz` whose arrays would expand past the memory limit is refused from its zip directory and `.npy`
headers, before anything is expanded; NaN or inf in a float input is refused (naming the array or
the CSV line and column) unless the run allows it.
"""

from __future__ import annotations

import csv
import math
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfm.dsl.diagnostics import first_line, printable

FORMATS = {".npz": "npz", ".csv": "csv", ".tfrecord": "tfrecord", ".tfrecords": "tfrecord", ".tfr": "tfrecord"}


class DataError(Exception):
    """Data that cannot feed the method; the message names the file, the column and the input."""


@dataclass(frozen=True)
class InputSpec:
    """One method input as the data must provide it: the batch dim first, then one example's dims."""

    name: str
    dtype: Any  # tf.DType: typed Any, as TensorFlow's Python API has no type stubs
    example_shape: tuple[int | None, ...]
    batch: int | None  # a fixed batch size the signature demands, or None

    def shown(self) -> str:
        dims = ["?" if self.batch is None else str(self.batch)] + ["?" if d is None else str(d)
                                                                   for d in self.example_shape]
        return f"{self.dtype.name}[{', '.join(dims)}]"


@dataclass
class TrainingData:
    """Examples (an unbatched dataset of dicts keyed by input name) and how many there are; or, with
    `batched`, batches as the caller made them (a batched tf.data.Dataset): `count` is then the
    number of batches, and batch size and shuffle are the caller's."""

    path: Path  # the file, or a description of the data given in memory
    examples: Any  # tf.data.Dataset
    count: int
    batched: bool = False
    columns: dict | None = None  # the examples as tensors by input name, when they are all in memory

    def batches(self, tf, batch_size: int, drop_remainder: bool, shuffle: int = 0, seed: int = 0, skip: int = 0):
        """One epoch's batches. The order depends only on (seed, shuffle): a resumed run sees the
        same batches as an uninterrupted one, and `skip` steps over those already trained on."""
        dataset = self.examples
        if self.columns is not None and not self.batched:
            dataset = self._gathered(tf, batch_size, drop_remainder, shuffle, seed)
        elif not self.batched:
            if shuffle > 1:
                dataset = dataset.shuffle(shuffle, seed=seed, reshuffle_each_iteration=False)
            dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
        if skip:
            dataset = dataset.skip(skip)
        return dataset.prefetch(tf.data.AUTOTUNE)

    def _gathered(self, tf, batch_size: int, drop_remainder: bool, shuffle: int, seed: int):
        """Batches of examples in memory, gathered by index: the indices are shuffled and batched as
        the examples would be (a shuffle's order depends only on its seed and the number of
        elements, so the batches are the same), at a fraction of the cost per example."""
        columns = self.columns or {}
        indices = tf.data.Dataset.range(self.count)
        if shuffle > 1:
            indices = indices.shuffle(shuffle, seed=seed, reshuffle_each_iteration=False)
        return indices.batch(batch_size, drop_remainder=drop_remainder).map(
            lambda rows: {name: tf.gather(column, rows) for name, column in columns.items()})

    def steps_per_epoch(self, batch_size: int, drop_remainder: bool) -> int:
        if self.batched:
            return self.count
        return self.count // batch_size if drop_remainder else math.ceil(self.count / batch_size)


def open_source(tf, data: Any, specs: list[InputSpec], label: str, allow_nonfinite: bool = False) -> TrainingData:
    """Data for `tfm.train`: a path (open_data), a mapping of arrays with one example per row (as an
    .npz holds them), a tf.data.Dataset of dicts (of examples, or of batches: told apart by the
    inputs' ranks), or any other iterable of dicts of arrays (each a batch, or each an example)."""
    import numpy as np

    if isinstance(data, (str, os.PathLike)):
        return open_data(tf, Path(data), specs, label, allow_nonfinite)
    if isinstance(data, dict) or hasattr(data, "keys") and hasattr(data, "__getitem__"):
        where = Path("the arrays given")
        return _from_arrays(tf, where, {name: data[name] for name in data.keys()}, specs, label, allow_nonfinite)
    if isinstance(data, tf.data.Dataset):
        return _from_dataset(tf, data, specs, label, allow_nonfinite)
    try:
        items = list(iter(data))
    except TypeError:
        raise DataError(f"training data must be a path, a mapping of arrays, a tf.data.Dataset or an iterable of "
                        f"dicts of arrays, not {type(data).__name__}") from None
    if not items or not all(isinstance(item, dict) for item in items):
        raise DataError("the iterable given as training data must yield dicts of arrays keyed by input name"
                        + (" (it yielded nothing)" if not items else ""))
    where = Path("the iterable given")
    for spec in specs:
        if any(spec.name not in item for item in items):
            raise _missing(where, spec, label, "key", items[0].keys())
    first = specs[0]
    if np.ndim(items[0][first.name]) == len(first.example_shape):  # each item one example
        return _from_arrays(tf, where, {s.name: np.stack([np.asarray(i[s.name]) for i in items]) for s in specs},
                            specs, label, allow_nonfinite)
    signature = {s.name: tf.TensorSpec([None, *s.example_shape], s.dtype) for s in specs}
    dataset = tf.data.Dataset.from_generator(lambda: ({s.name: i[s.name] for s in specs} for i in items),
                                             output_signature=signature)
    return _from_dataset(tf, dataset.apply(tf.data.experimental.assert_cardinality(len(items))), specs, label,
                         allow_nonfinite, where)


def _from_dataset(tf, dataset, specs: list[InputSpec], label: str, allow_nonfinite: bool,
                  where: Path = Path("the tf.data.Dataset given")) -> TrainingData:
    """A dataset of dicts: examples if its first input has an example's rank, else batches."""
    element = dataset.element_spec
    if not isinstance(element, dict):
        raise DataError(f"{_shown(where)} must yield dicts keyed by input name, not {type(element).__name__}")
    for spec in specs:
        if spec.name not in element:
            raise _missing(where, spec, label, "key", element.keys())
    batched = element[specs[0].name].shape.rank == len(specs[0].example_shape) + 1
    for spec in specs:
        shape = element[spec.name].shape.as_list()[1 if batched else 0:]
        _check_example_shape(where, f"key {spec.name}", tuple(shape), spec, label)
        _check_kind(where, f"key {spec.name}", element[spec.name].dtype.as_numpy_dtype, spec, label)
    dataset = dataset.map(lambda item: {s.name: tf.cast(item[s.name], s.dtype) if s.dtype != tf.string
                                        else item[s.name] for s in specs})
    count = int(dataset.cardinality())
    if count == tf.data.INFINITE_CARDINALITY:
        raise DataError(f"{_shown(where)} is infinite; give an epoch's worth (dataset.take(N))")
    if count < 0 or not allow_nonfinite:  # an unknown size is counted by reading the data once
        examples, bad, name = _count(tf, dataset.unbatch() if batched else dataset)
        if bad is not None and not allow_nonfinite:
            raise _nonfinite(f"key {printable(name or '?')} of {_shown(where)} (example {bad}, counting from 0)")
        if count < 0:
            count = int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1)) if batched else examples
    if count == 0:
        raise DataError(f"{_shown(where)} holds no examples")
    return TrainingData(where, dataset, count, batched)


def _from_arrays(tf, where: Path, arrays: dict, specs: list[InputSpec], label: str,
                 allow_nonfinite: bool) -> TrainingData:
    """Arrays by input name, one example per row: checked as an .npz's arrays are."""
    import numpy as np

    columns, count = {}, None
    for spec in specs:
        if spec.name not in arrays:
            raise _missing(where, spec, label, "array", arrays.keys())
        array = np.asarray(arrays[spec.name])
        count = _checked_column(where, spec, array, count, specs[0].name, label, allow_nonfinite)
        columns[spec.name] = array if spec.dtype.name == "string" else array.astype(spec.dtype.as_numpy_dtype)
    if not count:
        raise DataError(f"{_shown(where)} holds no examples")
    return _in_memory(tf, where, columns, int(count))


def _in_memory(tf, where: Path, columns: dict, count: int) -> TrainingData:
    """Examples held in memory (arrays by input name): batched by gathering rows (TrainingData.batches)."""
    tensors = {name: tf.convert_to_tensor(array) for name, array in columns.items()}
    return TrainingData(where, tf.data.Dataset.from_tensor_slices(tensors), count, columns=tensors)


def _checked_column(path: Path, spec: InputSpec, array, count: int | None, first: str, label: str,
                    allow_nonfinite: bool) -> int:
    """The rows of `array` for input `spec`, once checked: not a scalar, the input's kind and example
    shape, as many rows as the first input's (`count`), finite unless allowed."""
    if array.ndim == 0:
        raise DataError(f"array {printable(spec.name)} in {_shown(path)} is a scalar; input {spec.name} "
                        f"of {label} needs one example per row ({spec.shown()})")
    _check_kind(path, f"array {spec.name}", array.dtype, spec, label)
    _check_example_shape(path, f"array {spec.name}", array.shape[1:], spec, label)
    if count is not None and array.shape[0] != count:
        raise DataError(f"array {printable(spec.name)} in {_shown(path)} has {array.shape[0]} rows, but "
                        f"array {printable(first)} has {count}")
    if not allow_nonfinite:
        _check_finite_rows(path, spec.name, array)
    return array.shape[0]


def input_specs(tf, function, label: str) -> list[InputSpec]:
    """The inputs of a built method, from its tf.function signature (sizes from constructor values)."""
    specs = []
    for spec in function.input_signature:
        dims = spec.shape.as_list() if spec.shape.rank is not None else None
        if not dims:
            raise DataError(f"input {spec.name} of {label} is a scalar: training data feeds batched inputs "
                            "(their first dimension is the batch)")
        specs.append(InputSpec(spec.name, spec.dtype, tuple(dims[1:]), dims[0]))
    return specs


def open_data(tf, path: str | Path, specs: list[InputSpec], label: str, allow_nonfinite: bool = False) -> TrainingData:
    """Read `path` for the inputs `specs` of method `label`; every problem is a DataError. NaN or inf
    in a float input is one too, unless `allow_nonfinite`."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{_shown(path)}: unknown data format {printable(path.suffix) or '(no suffix)'}; "
                        f"tfm reads {', '.join(sorted(FORMATS))}")
    check_regular_file(path, "data file")
    reader = {"npz": _read_npz, "csv": _read_csv, "tfrecord": _read_tfrecord}[kind]
    data = reader(tf, path, specs, label, allow_nonfinite)
    if data.count == 0:
        raise DataError(f"{_shown(path)} holds no examples")
    return data


_NOT_REGULAR = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


def check_regular_file(path: Path, what: str) -> None:
    """`path` must name a regular file (through a symbolic link the user gave, if any). Anything else
    is named as what it is; a FIFO is never opened for reading, so it cannot make tfm wait."""
    real = os.path.realpath(path)
    try:
        mode = os.stat(real).st_mode
        if stat.S_ISREG(mode):  # opened once more without following or blocking: what is there now
            fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
            try:
                mode = os.fstat(fd).st_mode
            finally:
                os.close(fd)
    except FileNotFoundError:
        raise DataError(f"no such {what}: {_shown(path)}") from None
    except OSError as exc:
        raise DataError(f"{_shown(path)}: cannot be opened: {exc.strerror or exc}") from None
    kind = next((name for test, name in _NOT_REGULAR if test(mode)), None if stat.S_ISREG(mode) else "not a regular file")
    if kind is not None:
        raise DataError(f"{_shown(path)} is {kind}, not a {what}")


def memory_limit() -> int:
    """The most bytes of data tfm expands into memory: half of this machine's memory, or of the
    container's (cgroup) limit when that is lower."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        physical = 8 << 30
    try:
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        physical = min(physical, int(text)) if text.isdigit() else physical
    except OSError:
        pass
    return physical // 2


def _nonfinite(where: str) -> DataError:
    return DataError(f"{where} holds NaN or inf; fix the data, or pass --allow-nonfinite to train on it anyway")


def _shown(path: Path) -> str:
    return printable(str(path))


def _missing(path: Path, spec: InputSpec, label: str, what: str, available) -> DataError:
    names = ", ".join(printable(str(a)) for a in sorted(available)) or "none"
    return DataError(f"{_shown(path)} has no {what} for input {spec.name} of {label} ({spec.shown()}); "
                     f"it has: {names}")


def _check_kind(path: Path, column: str, found, spec: InputSpec, label: str) -> None:
    """An int column may feed a float input; a float never feeds an int one; strings only strings."""
    import numpy as np

    wanted = np.dtype(spec.dtype.as_numpy_dtype) if spec.dtype.name != "string" else np.dtype(object)
    found = np.dtype(found)
    strings = found.kind in "OSU", wanted.kind in "OSU"
    if strings[0] != strings[1] or (not strings[0] and not np.can_cast(found, wanted, casting="same_kind")):
        raise DataError(f"{printable(column)} in {_shown(path)} is {_dtype_name(found)}, but input {spec.name} of "
                        f"{label} is {spec.shown()}")


def _dtype_name(dtype) -> str:
    return "string" if dtype.kind in "OSU" else dtype.name


def _check_example_shape(path: Path, column: str, shape: tuple[int, ...], spec: InputSpec, label: str) -> None:
    if len(shape) != len(spec.example_shape) or any(d is not None and d != s for d, s in zip(spec.example_shape, shape)):
        raise DataError(f"{printable(column)} in {_shown(path)} has examples of shape {list(shape)}, but input "
                        f"{spec.name} of {label} is {spec.shown()}: each example must be "
                        f"[{', '.join('?' if d is None else str(d) for d in spec.example_shape)}]")


# --- .npz --------------------------------------------------------------------------------------


def _read_npz(tf, path: Path, specs: list[InputSpec], label: str, allow_nonfinite: bool) -> TrainingData:
    import numpy as np

    check_npz_expansion(path, [spec.name for spec in specs])
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise DataError(f"{_shown(path)} is not a readable .npz archive: {first_line(exc)}") from None
    columns, count = {}, None
    with archive:
        for spec in specs:
            if spec.name not in archive.files:
                raise _missing(path, spec, label, "array", archive.files)
            try:
                array = archive[spec.name]
            except Exception as exc:  # pickled objects, damaged members
                raise DataError(f"array {printable(spec.name)} in {_shown(path)} cannot be read: "
                                f"{first_line(exc)}") from None
            count = _checked_column(path, spec, array, count, specs[0].name, label, allow_nonfinite)
            columns[spec.name] = array if spec.dtype.name == "string" else array.astype(spec.dtype.as_numpy_dtype)
    return _in_memory(tf, path, columns, int(count or 0))


def _check_finite_rows(path: Path, name: str, array) -> None:
    import numpy as np

    if array.dtype.kind not in "fc" or array.size == 0:
        return
    finite = np.isfinite(array.reshape(array.shape[0], -1)).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise _nonfinite(f"array {printable(name)} in {_shown(path)} (row {row}, counting from 0)")


def check_npz_expansion(path: Path, names: list[str] | None) -> None:
    """Refuse, from the zip directory and each `.npy` header, before expanding anything: arrays `names`
    (None: every one) that would not fit in memory, and headers that claim more than their member holds."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        if _starts_with_npy_magic(path):
            raise DataError(f"{_shown(path)} is a single .npy array, not a .npz archive of named arrays") from None
        raise DataError(f"{_shown(path)} is not a readable .npz archive: {first_line(exc)}") from None
    with archive:
        members = {info.filename: info for info in archive.infolist()}
        total = 0
        for name in names if names is not None else [m.removesuffix(".npy") for m in members]:
            info = members.get(name + ".npy")
            if info is None:
                continue  # named as missing once the archive is opened
            with _opened_member(archive, info, path) as member:
                claimed = npy_claimed_bytes(member, f"array {printable(name)} in {_shown(path)}")
            if claimed > info.file_size:
                raise DataError(f"array {printable(name)} in {_shown(path)} is damaged: its header claims "
                                f"{claimed:,} bytes of data, but the member holds {info.file_size:,}")
            total += info.file_size
    check_expansion(path, total)


def check_expansion(path: Path, size: int) -> None:
    limit = memory_limit()
    if size > limit:
        raise DataError(f"{_shown(path)}: the arrays to read expand to {size:,} bytes, more than the limit of "
                        f"{limit:,} (half this machine's memory); nothing was expanded")


def _opened_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path):
    try:
        return archive.open(info)
    except Exception as exc:  # an encrypted or damaged member
        raise DataError(f"{printable(info.filename)} in {_shown(path)} cannot be read: {first_line(exc)}") from None


def npy_claimed_bytes(handle, what: str) -> int:
    """The bytes of data the `.npy` header at `handle` says follow it (shape times item size)."""
    import numpy as np

    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    try:
        version = np.lib.format.read_magic(handle)
        if version not in readers:
            raise ValueError(f".npy format version {version} is not supported")
        shape, _, dtype = readers[version](handle)
    except Exception as exc:  # not .npy, a damaged header, a bad zip member
        raise DataError(f"{what} is not a readable .npy array: {first_line(exc)}") from None
    return 0 if dtype.hasobject else math.prod(shape) * dtype.itemsize


def _starts_with_npy_magic(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(6) == b"\x93NUMPY"
    except OSError:
        return False


# --- CSV ---------------------------------------------------------------------------------------


def _read_csv(tf, path: Path, specs: list[InputSpec], label: str, allow_nonfinite: bool) -> TrainingData:
    header = _csv_header(path)
    index = {name: i for i, name in enumerate(header)}
    selected: list[tuple[InputSpec, list[int]]] = []
    for spec in specs:
        if len(spec.example_shape) > 1 or None in spec.example_shape:
            raise DataError(f"input {spec.name} of {label} is {spec.shown()}: a CSV row holds scalars and "
                            "fixed-size vectors only; use .npz or TFRecord")
        names = [spec.name] if not spec.example_shape else [f"{spec.name}_{i}"
                                                             for i in range(spec.example_shape[0] or 0)]
        if spec.example_shape == (1,) and names[0] not in index and spec.name in index:
            names = [spec.name]  # a one-element vector may be its own column
        absent = [name for name in names if name not in index]
        if absent:
            raise _missing(path, spec, label, f"column {printable(absent[0])}", header)
        selected.append((spec, [index[name] for name in names]))
    order = sorted({i for _, cols in selected for i in cols})
    position = {col: k for k, col in enumerate(order)}
    defaults = [_csv_default(tf, _spec_of(selected, col)) for col in order]
    rows = tf.data.experimental.CsvDataset(str(path), record_defaults=defaults, header=True, select_cols=order)

    def to_example(*fields):
        example = {}
        for spec, cols in selected:
            values = [fields[position[c]] for c in cols]
            value = tf.stack(values) if spec.example_shape else values[0]
            example[spec.name] = tf.cast(value, spec.dtype) if spec.dtype != value.dtype else value
        return example

    examples = rows.map(to_example)
    columns = {spec.name: [header[c] for c in cols] for spec, cols in selected}
    try:
        count, bad_row, bad_input = _count(tf, examples)
    except Exception as exc:
        raise DataError(_csv_problem(path, header, selected, label) or
                        f"{_shown(path)}: a record cannot be read: {_reason(exc)}") from None
    if bad_row is not None and bad_input is not None and not allow_nonfinite:
        line, column = _csv_place(path, bad_row, columns[bad_input])
        raise _nonfinite(f"{_shown(path)}, line {line}, column {printable(column)}")
    return TrainingData(path, examples, count)


def _csv_problem(path: Path, header: list[str], selected, label: str) -> str | None:
    """Where a CSV file that tf.data could not parse goes wrong, found again with Python's csv
    module: the file, line and column, and what was expected there."""
    wanted = {col: spec for spec, cols in selected for col in cols}
    rows = None
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = csv.reader(handle, strict=True)
            next(rows, None)
            for row in rows:
                if not row:
                    continue
                if len(row) != len(header):
                    return (f"{_shown(path)}, line {rows.line_num}: {len(row)} fields, but the header names "
                            f"{len(header)}")
                for col, spec in wanted.items():
                    problem = _field_problem(row[col], spec)
                    if problem is not None:
                        return (f"{_shown(path)}, line {rows.line_num}, column {printable(header[col])}: "
                                f"{problem} (input {spec.name} of {label} is {spec.shown()})")
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        where = f", line {rows.line_num}" if rows is not None else ""
        return f"{_shown(path)}{where}: not readable as CSV: {first_line(exc)}"
    return None


def _field_problem(text: str, spec: InputSpec) -> str | None:
    if spec.dtype.name == "string":
        return None
    if not text.strip():
        return "the field is empty"
    try:
        float(text) if spec.dtype.is_floating else int(text.strip())
    except ValueError:
        kind = "a number" if spec.dtype.is_floating else "an integer"
        return f"{printable(repr(text[:40]))} is not {kind}"
    return None


def _csv_place(path: Path, record: int, columns: list[str]) -> tuple[int, str]:
    """The line of data record `record` (from 0) and the first of `columns` holding NaN or inf there."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        header = [name.strip() for name in next(rows)]
        for index, row in enumerate(rows):
            if index == record:
                for name in columns:
                    try:
                        if not math.isfinite(float(row[header.index(name)])):
                            return rows.line_num, name
                    except (ValueError, IndexError):
                        continue
                return rows.line_num, columns[0]
    return record + 2, columns[0]


def _csv_header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{_shown(path)}: cannot read its header: {first_line(exc)}") from None
    if not header:
        raise DataError(f"{_shown(path)} is empty: a CSV needs a header naming its columns")
    return [name.strip() for name in header]


def _spec_of(selected, col: int) -> InputSpec:
    return next(spec for spec, cols in selected if col in cols)


def _csv_default(tf, spec: InputSpec):
    """The type a CSV field is parsed as (CsvDataset knows four), cast to the input's dtype after."""
    if spec.dtype.is_floating:
        return tf.constant([], tf.float64 if spec.dtype == tf.float64 else tf.float32)
    if spec.dtype.is_integer or spec.dtype.is_bool:
        return tf.constant([], tf.int64)
    return tf.constant([], tf.string)


# --- TFRecord ----------------------------------------------------------------------------------

_FEATURE_KINDS = {"float_list": "float", "int64_list": "int64", "bytes_list": "bytes"}


def _read_tfrecord(tf, path: Path, specs: list[InputSpec], label: str, allow_nonfinite: bool) -> TrainingData:
    first = _first_example(tf, path)
    features = {}
    for spec in specs:
        feature = first.features.feature.get(spec.name) if spec.name in first.features.feature else None
        if feature is None:
            raise _missing(path, spec, label, "feature", first.features.feature.keys())
        kind = feature.WhichOneof("kind")
        values = getattr(feature, kind).value if kind else []
        _check_kind(path, f"feature {spec.name}", _feature_numpy_dtype(kind), spec, label)
        if None in spec.example_shape:
            raise DataError(f"input {spec.name} of {label} is {spec.shown()}: a TFRecord feature is read with a "
                            "fixed shape, so every dimension after the batch must be known")
        size = math.prod(d or 0 for d in spec.example_shape)  # every d is known (checked above)
        if len(values) != size:
            raise DataError(f"feature {printable(spec.name)} in {_shown(path)} holds {len(values)} values per "
                            f"example, but input {spec.name} of {label} is {spec.shown()} ({size} per example)")
        parse_dtype = {"float_list": tf.float32, "int64_list": tf.int64, "bytes_list": tf.string}[kind]
        features[spec.name] = tf.io.FixedLenFeature(list(spec.example_shape), parse_dtype)
    wanted = {spec.name: spec.dtype for spec in specs}

    def to_example(record):
        parsed = tf.io.parse_single_example(record, features)
        return {name: tf.cast(value, wanted[name]) if value.dtype != wanted[name] else value
                for name, value in parsed.items()}

    examples = tf.data.TFRecordDataset(str(path)).map(to_example)
    try:
        count, bad_row, bad_input = _count(tf, examples)
    except Exception as exc:
        raise DataError(f"{_shown(path)}: a record cannot be read: {_reason(exc)}") from None
    if bad_row is not None and bad_input is not None and not allow_nonfinite:
        raise _nonfinite(f"feature {printable(bad_input)} of record {bad_row} (counting from 0) in {_shown(path)}")
    return TrainingData(path, examples, count)


def _first_example(tf, path: Path):
    try:
        raw = next(iter(tf.data.TFRecordDataset(str(path)).take(1)), None)
    except Exception as exc:
        raise DataError(f"{_shown(path)} is not a readable TFRecord file: {_reason(exc)}") from None
    if raw is None:
        raise DataError(f"{_shown(path)} holds no examples")
    example = tf.train.Example()
    try:
        example.ParseFromString(raw.numpy())
    except Exception:
        raise DataError(f"{_shown(path)}: its records are not tf.train.Example protos") from None
    return example


def _feature_numpy_dtype(kind: str | None):
    import numpy as np

    return {"float_list": np.float32, "int64_list": np.int64, "bytes_list": np.object_}.get(kind or "", np.float32)


def _count(tf, examples) -> tuple[int, int | None, str | None]:
    """Read every record once: count them, and find the first whose float inputs hold NaN or inf
    (count, its record number or None, its input). A malformed record raises TensorFlow's error."""
    names = sorted(examples.element_spec)

    def step(state, example):
        count, bad_row, bad_input = state
        finite = tf.stack([tf.reduce_all(tf.math.is_finite(example[name])) if example[name].dtype.is_floating
                           else tf.constant(True) for name in names])
        first_bad = tf.logical_and(bad_row < 0, tf.logical_not(tf.reduce_all(finite)))
        return (count + 1, tf.where(first_bad, count, bad_row),
                tf.where(first_bad, tf.argmin(tf.cast(finite, tf.int32), output_type=tf.int64), bad_input))

    start = (tf.constant(0, tf.int64), tf.constant(-1, tf.int64), tf.constant(0, tf.int64))
    count, bad_row, bad_input = (int(t) for t in examples.reduce(start, step))
    return count, (bad_row if bad_row >= 0 else None), names[bad_input]


def _reason(exc: BaseException) -> str:
    """TensorFlow's reason without its plumbing (`{{function_node ...}}`, `[Op:...]`)."""
    import re

    message = getattr(exc, "message", None)  # TensorFlow's errors keep their reason here
    text = first_line(exc) if not message else printable(str(message).strip().splitlines()[0])
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text)
    return re.sub(r"\s*\[Op:[^\]]*\].*$", "", text).strip() or type(exc).__name__
