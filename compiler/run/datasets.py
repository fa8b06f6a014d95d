"""Training data for `tfm train`: `.npz`, CSV (with a header) and TFRecord (of `tf.train.Example`),
read through `tf.data` and matched to a method's inputs by name.

Every file is checked against the method's signature before the first step: each input has its
array, columns or feature; dtypes convert without losing their kind (an int may feed a float input,
a float never an int one); each example has the input's shape; every record parses. A problem is a
DataError naming the file, the column and the input, never a TensorFlow traceback.

CSV columns: an input `x: f32[N]` reads column `x`; an input `x: f32[N, 3]` reads `x_0`, `x_1`, `x_2`
(and `y: f32[N, 1]` reads `y_0`, or `y` if there is no `y_0`).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from tfm.dsl.diagnostics import first_line, printable

FORMATS = {".npz": "npz", ".csv": "csv", ".tfrecord": "tfrecord", ".tfrecords": "tfrecord", ".tfr": "tfrecord"}


class DataError(Exception):
    """Data that cannot feed the method; the message names the file, the column and the input."""


@dataclass(frozen=True)
class InputSpec:
    """One method input as the data must provide it: the batch dim first, then one example's dims."""

    name: str
    dtype: object  # tf.DType
    example_shape: tuple[int | None, ...]
    batch: int | None  # a fixed batch size the signature demands, or None

    def shown(self) -> str:
        dims = ["?" if self.batch is None else str(self.batch)] + ["?" if d is None else str(d)
                                                                   for d in self.example_shape]
        return f"{self.dtype.name}[{', '.join(dims)}]"


@dataclass
class TrainingData:
    """Examples (an unbatched dataset of dicts keyed by input name) and how many there are."""

    path: Path
    examples: object  # tf.data.Dataset
    count: int

    def batches(self, tf, batch_size: int, drop_remainder: bool, shuffle: int = 0, seed: int = 0, skip: int = 0):
        """One epoch's batches. The order depends only on (seed, shuffle): a resumed run sees the
        same batches as an uninterrupted one, and `skip` steps over those already trained on."""
        dataset = self.examples
        if shuffle > 1:
            dataset = dataset.shuffle(shuffle, seed=seed, reshuffle_each_iteration=False)
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
        if skip:
            dataset = dataset.skip(skip)
        return dataset.prefetch(tf.data.AUTOTUNE)

    def steps_per_epoch(self, batch_size: int, drop_remainder: bool) -> int:
        return self.count // batch_size if drop_remainder else math.ceil(self.count / batch_size)


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


def open_data(tf, path: str | Path, specs: list[InputSpec], label: str) -> TrainingData:
    """Read `path` for the inputs `specs` of method `label`; every problem is a DataError."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{_shown(path)}: unknown data format {printable(path.suffix) or '(no suffix)'}; "
                        f"tfm reads {', '.join(sorted(FORMATS))}")
    if not path.is_file():
        raise DataError(f"no such data file: {_shown(path)}")
    reader = {"npz": _read_npz, "csv": _read_csv, "tfrecord": _read_tfrecord}[kind]
    data = reader(tf, path, specs, label)
    if data.count == 0:
        raise DataError(f"{_shown(path)} holds no examples")
    return data


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


def _read_npz(tf, path: Path, specs: list[InputSpec], label: str) -> TrainingData:
    import numpy as np

    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise DataError(f"{_shown(path)} is not a readable .npz archive: {first_line(exc)}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{_shown(path)} is a single .npy array, not a .npz archive of named arrays")
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
            if array.ndim == 0:
                raise DataError(f"array {printable(spec.name)} in {_shown(path)} is a scalar; input {spec.name} "
                                f"of {label} needs one example per row ({spec.shown()})")
            _check_kind(path, f"array {spec.name}", array.dtype, spec, label)
            _check_example_shape(path, f"array {spec.name}", array.shape[1:], spec, label)
            if count is not None and array.shape[0] != count:
                raise DataError(f"array {printable(spec.name)} in {_shown(path)} has {array.shape[0]} rows, but "
                                f"array {printable(specs[0].name)} has {count}")
            count = array.shape[0]
            columns[spec.name] = array if spec.dtype.name == "string" else array.astype(spec.dtype.as_numpy_dtype)
    return TrainingData(path, tf.data.Dataset.from_tensor_slices(columns), int(count))


# --- CSV ---------------------------------------------------------------------------------------


def _read_csv(tf, path: Path, specs: list[InputSpec], label: str) -> TrainingData:
    header = _csv_header(path)
    index = {name: i for i, name in enumerate(header)}
    selected: list[tuple[InputSpec, list[int]]] = []
    for spec in specs:
        if len(spec.example_shape) > 1 or None in spec.example_shape:
            raise DataError(f"input {spec.name} of {label} is {spec.shown()}: a CSV row holds scalars and "
                            "fixed-size vectors only; use .npz or TFRecord")
        names = [spec.name] if not spec.example_shape else [f"{spec.name}_{i}" for i in range(spec.example_shape[0])]
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
    return TrainingData(path, examples, _count(tf, examples, path))


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


def _read_tfrecord(tf, path: Path, specs: list[InputSpec], label: str) -> TrainingData:
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
        size = math.prod(spec.example_shape)
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
    return TrainingData(path, examples, _count(tf, examples, path))


def _first_example(tf, path: Path):
    try:
        raw = next(iter(tf.data.TFRecordDataset(str(path)).take(1)), None)
    except Exception as exc:
        raise DataError(f"{_shown(path)} is not a readable TFRecord file: {first_line(exc)}") from None
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


def _count(tf, examples, path: Path) -> int:
    """Read every record once: count them, and find a malformed one before training starts."""
    try:
        return int(examples.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))
    except Exception as exc:
        raise DataError(f"{_shown(path)}: a record cannot be read: {first_line(exc)}") from None

