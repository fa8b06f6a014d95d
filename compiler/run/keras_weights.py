"""Fine-tuning from Keras weights: a `.weights.h5` file (`model.save_weights`) or a `.keras` archive
(`model.save`) of a Keras model built from the Keras layers tfm's library mirrors, loaded into a
built tfm module layer by layer.

Keras 3 names a layer's weights by its class, not its own name (`layers/dense_1/vars/0`, in the order
`layer.weights` has them), and HDF5 lists groups alphabetically: which Dense came first is in the
number (`dense`, `dense_1`, ...), not in the order of the file. So the k-th tfm layer of a kind (in
submodule declaration order, depth first) takes the k-th Keras layer of that kind, unless the names
agree (every tfm layer of the kind is named as a Keras layer of that kind: then by name), or
`--init-map KERAS=TFM` pairs them. Each Keras array is checked (a plain float dataset, in this file,
of the shape the tfm layer needs) before any is read, and every value is read before any is assigned.

The file is treated as hostile: it is opened once, by descriptor, and must be a regular file; a
`.keras` archive is read only for its `model.weights.h5` member (bounded in size, read into memory,
never extracted), never for its config and never running its code; HDF5 links to other files,
external or virtual datasets and anything but float arrays are refused; nothing is unpickled.
"""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tfm.dsl.diagnostics import first_line, printable
from tfm.run.checkpoints import InitReport, fine_tuning_targets

SUFFIXES = (".keras", ".h5", ".hdf5")
WEIGHTS_MEMBER = "model.weights.h5"  # the weights inside a .keras archive
MAX_MEMBER_BYTES = 1 << 30  # a .keras archive's weights are read into memory: at most this many bytes
_MAX_GROUPS = 10_000  # groups visited in one file
_MAX_DEPTH = 16
_ZIP_MAGIC = b"PK\x03\x04"
_NAME = re.compile(r"^(.+?)(?:_(\d{1,9}))?$")  # `dense_12`: Keras' class and number


class KerasWeightsError(Exception):
    """The file is not Keras weights tfm can read, or --init-map pairs what cannot be paired."""


def is_keras_weights(path) -> bool:
    """Whether --init-from names Keras weights (by its suffix) rather than a checkpoint."""
    return str(path).lower().endswith(SUFFIXES)


# --- what each tfm layer takes from its Keras twin ------------------------------------------------


@dataclass(frozen=True)
class Weight:
    """One Keras variable (in `layer.weights` order) and the tfm variables it fills: one, or several
    side by side along `axis` (an LSTM's kernel is its four gates' kernels), or `rows` stacked rows
    of them (a GRU's bias: the input biases, then the recurrent ones)."""

    targets: tuple[str, ...]
    axis: int = 0
    rows: int = 1


@dataclass(frozen=True)
class Kind:
    keras: str  # the Keras class, as Keras 3 names its weights (`batch_normalization`)
    weights: tuple[Weight, ...]


def _plain(keras: str, *names: str) -> Kind:
    return Kind(keras, tuple(Weight((name,)) for name in names))


def _gates(prefix: str, gates: str, axis: int, at: str = "") -> Weight:
    return Weight(tuple(f"{at}cell/{prefix}_{gate}" for gate in gates), axis)


def _lstm(at: str = "") -> tuple[Weight, ...]:
    return _gates("w", "ifco", 1, at), _gates("u", "ifco", 1, at), _gates("b", "ifco", 0, at)


def _gru(at: str = "") -> tuple[Weight, ...]:
    biases = Weight(tuple(f"{at}cell/{b}_{g}" for b in ("b", "rb") for g in "zrh"), 0, rows=2)
    return _gates("w", "zrh", 1, at), _gates("u", "zrh", 1, at), biases


def _simple_rnn(at: str = "") -> tuple[Weight, ...]:
    return tuple(Weight((f"{at}{name}",)) for name in ("kernel", "recurrent_kernel", "bias"))


def _bidirectional(layer) -> Kind:
    """Keras' Bidirectional: its `backward_layer`'s weights, then its `forward_layer`'s (the file's
    order: the reader takes a layer's parts by name)."""
    return Kind("bidirectional", (*layer("backward/"), *layer("forward/")))


# By the class of tfm's library layer (dsl/library/*.tfm).
KINDS: dict[str, Kind] = {
    "Dense": _plain("dense", "kernel", "bias"),
    "Conv1D": _plain("conv1d", "kernel", "bias"),
    "Conv2D": _plain("conv2d", "kernel", "bias"),
    "Conv1DTranspose": _plain("conv1d_transpose", "kernel", "bias"),
    "Conv2DTranspose": _plain("conv2d_transpose", "kernel", "bias"),
    "DepthwiseConv2D": _plain("depthwise_conv2d", "kernel", "bias"),
    "SeparableConv2D": _plain("separable_conv2d", "depthwise_kernel", "pointwise_kernel", "bias"),
    "Embedding": _plain("embedding", "embeddings"),
    "BatchNormalization": _plain("batch_normalization", "gamma", "beta", "moving_mean", "moving_variance"),
    "LayerNormalization": _plain("layer_normalization", "gamma", "beta"),
    "SimpleRNN": Kind("simple_rnn", _simple_rnn()),
    # Keras' fused kernels hold the gates side by side (LSTM: i, f, c, o; GRU: z, r, h).
    "LSTM": Kind("lstm", _lstm()),
    "GRU": Kind("gru", _gru()),
    "BidirectionalLSTM": _bidirectional(_lstm),
    "BidirectionalGRU": _bidirectional(_gru),
    "BidirectionalSimpleRNN": _bidirectional(_simple_rnn),
}


# --- the two sides ---------------------------------------------------------------------------------


@dataclass
class TfmLayer:
    path: str  # `encoder/dense`
    module: Any
    kind: Kind


@dataclass
class KerasLayer:
    name: str  # `dense_1`, or `sequential/dense` inside a nested model
    kind: str
    number: int
    arrays: list[tuple[str, Any]] = field(default_factory=list)  # (HDF5 path, dataset), in Keras' order


def tfm_layers(tf, instance, skip=()) -> list[TfmLayer]:
    """The library layers of a built module (in KINDS), in submodule declaration order, depth first."""
    found: list[TfmLayer] = []
    seen = {id(instance), *(id(s) for s in skip)}

    def walk(module, prefix: str, depth: int) -> None:
        for name, value in vars(module).items():
            if name.startswith("_") or depth > _MAX_DEPTH:
                continue
            items = enumerate(value) if isinstance(value, (list, tuple)) else [(None, value)]
            for index, item in items:
                if not isinstance(item, tf.Module) or id(item) in seen:
                    continue
                seen.add(id(item))
                path = f"{prefix}{name}" if index is None else f"{prefix}{name}/{index}"
                kind = KINDS.get(type(item).__name__)
                if kind is not None:
                    found.append(TfmLayer(path, item, kind))
                else:
                    walk(item, path + "/", depth + 1)

    walk(instance, "", 0)
    return found


class _Reader:
    """Walks the HDF5 file by hard links only, counting what it visits."""

    def __init__(self, h5py, source: str):
        self.h5py, self.source, self.visited = h5py, source, 0

    def child(self, group: Any, name: str) -> Any:
        """`group[name]` if it is a hard link to a group or dataset in this file, else None."""
        self.visited += 1
        if self.visited > _MAX_GROUPS:
            raise KerasWeightsError(f"{self.source}: more than {_MAX_GROUPS} groups; not Keras weights")
        link = group.get(name, getlink=True)
        if not isinstance(link, self.h5py.HardLink):
            raise KerasWeightsError(f"{self.source}: {printable(group.name)}/{printable(name)} is a link "
                                    f"({type(link).__name__}); Keras weights hold none")
        item = group[name]
        return item if isinstance(item, (self.h5py.Group, self.h5py.Dataset)) else None

    def layers(self, group, prefix: str = "", depth: int = 0) -> list[KerasLayer]:
        """The layers with weights under a `layers` group; a nested model's layers under its name."""
        found: list[KerasLayer] = []
        for name in group:
            item = self.child(group, name)
            if not isinstance(item, self.h5py.Group):
                continue
            if "layers" in item and depth < _MAX_DEPTH:
                inner = self.child(item, "layers")
                if isinstance(inner, self.h5py.Group):
                    found += self.layers(inner, f"{prefix}{name}/", depth + 1)
                    continue
            arrays = self.arrays(item, 0)
            if arrays:
                match = _NAME.match(name)
                assert match is not None  # the pattern matches any non-empty name
                found.append(KerasLayer(prefix + name, match.group(1), int(match.group(2) or 0), arrays))
        return found

    def arrays(self, group, depth: int) -> list[tuple[str, Any]]:
        """A layer's variables: its `vars/0`, `vars/1`, ..., then those of its parts (an LSTM's `cell`)."""
        found: list[tuple[str, Any]] = []
        if depth > _MAX_DEPTH:
            return found
        names = sorted(group, key=lambda n: (n != "vars", n))
        for name in names:
            item = self.child(group, name)
            if name == "vars" and isinstance(item, self.h5py.Group):
                numbered = sorted((n for n in item if n.isdigit()), key=int)
                for number in numbered:
                    array = self.child(item, number)
                    if isinstance(array, self.h5py.Dataset):
                        found.append((array.name, array))
            elif isinstance(item, self.h5py.Group):
                found += self.arrays(item, depth + 1)
        return found

    def count(self, group, depth: int = 0) -> int:
        """How many datasets a group (the optimizer's state) holds, without reading them."""
        counted = 0
        for name in group:
            item = self.child(group, name)
            if isinstance(item, self.h5py.Dataset):
                counted += 1
            elif isinstance(item, self.h5py.Group) and depth < _MAX_DEPTH:
                counted += self.count(item, depth + 1)
        return counted


# --- opening the file --------------------------------------------------------------------------------


def _open_bytes(path) -> io.BufferedReader:
    """The file, opened once by descriptor: a regular file, never waiting on a FIFO."""
    shown = printable(str(path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise KerasWeightsError(f"{shown}: cannot be read: {exc.strerror or exc}") from None
    handle = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        raise KerasWeightsError(f"{shown}: not a regular file")
    return handle


def _weights_member(handle, shown: str) -> io.BytesIO:
    """A .keras archive's `model.weights.h5`, read into memory (at most MAX_MEMBER_BYTES), never extracted."""
    try:
        archive = zipfile.ZipFile(handle)
    except zipfile.BadZipFile as exc:
        raise KerasWeightsError(f"{shown}: not a .keras archive ({first_line(exc)})") from None
    with archive:
        members = [info for info in archive.infolist() if info.filename == WEIGHTS_MEMBER]
        if len(members) != 1:
            why = "holds it twice" if members else "has no such member (is it sharded, or not a Keras 3 file?)"
            raise KerasWeightsError(f"{shown}: no single {WEIGHTS_MEMBER}: the archive {why}")
        if members[0].file_size > MAX_MEMBER_BYTES:
            raise KerasWeightsError(f"{shown}: {WEIGHTS_MEMBER} is larger than {MAX_MEMBER_BYTES} bytes")
        try:
            with archive.open(members[0]) as member:
                data = member.read(MAX_MEMBER_BYTES + 1)  # the size in the header may lie
        except (zipfile.BadZipFile, RuntimeError, OSError, EOFError) as exc:
            raise KerasWeightsError(f"{shown}: {WEIGHTS_MEMBER} cannot be read: {first_line(exc)}") from None
    if len(data) > MAX_MEMBER_BYTES:
        raise KerasWeightsError(f"{shown}: {WEIGHTS_MEMBER} is larger than {MAX_MEMBER_BYTES} bytes")
    return io.BytesIO(data)


def _open_h5(h5py, source, shown: str):
    try:
        return h5py.File(source, "r")
    except Exception as exc:  # OSError from HDF5: not an HDF5 file, or damaged
        raise KerasWeightsError(f"{shown}: not readable as Keras weights (HDF5): {first_line(exc)}") from None


# --- pairing and loading ---------------------------------------------------------------------------------


def load_keras_weights(tf, instance, path, mapping=(), optimizers=()) -> InitReport:
    """Assign the tfm module's library layers the weights of their Keras twins in `path` (a
    `.weights.h5` or `.keras` file), as the module docstring describes. `mapping`: (Keras layer
    name, tfm submodule path) pairs, both with `/`. Returns what was loaded, skipped and left fresh."""
    import h5py  # Keras' own dependency, installed with it

    shown = printable(str(path))
    with _open_bytes(path) as handle:
        head = handle.read(len(_ZIP_MAGIC))
        handle.seek(0)
        source = _weights_member(handle, shown) if head == _ZIP_MAGIC else handle
        with _open_h5(h5py, source, shown) as h5:
            try:
                report, planned, values = _load(tf, instance, h5py, h5, str(path), mapping, optimizers)
            except (OSError, KeyError, ValueError, RuntimeError, RecursionError) as exc:  # HDF5 on a damaged file
                raise KerasWeightsError(f"{shown} is damaged: {first_line(exc)}") from None
    _assign(tf, instance, planned, values, optimizers, report)
    return report


def _load(tf, instance, h5py, h5, source: str, mapping, optimizers) -> tuple[InitReport, list[_Load], list]:
    """The report so far, the loads planned and their values, read from the open file."""
    shown = printable(source)
    reader = _Reader(h5py, shown)
    layers_group = reader.child(h5, "layers") if "layers" in h5 else None
    if not isinstance(layers_group, h5py.Group):
        raise KerasWeightsError(f"{shown}: no `layers` group: not the weights of a Keras 3 model "
                                "(model.save_weights(\"x.weights.h5\") or model.save(\"x.keras\"))")
    report = InitReport(source=source)
    pairs = _pairs(tfm_layers(tf, instance, optimizers), reader.layers(layers_group), mapping, report)
    planned = _planned(pairs, report)
    values = [np.asarray(load.dataset[()]) for load in planned]
    optimizer = reader.child(h5, "optimizer") if "optimizer" in h5 else None
    if isinstance(optimizer, h5py.Group):
        report.skipped.append(("optimizer/*", f"optimizer state ({reader.count(optimizer)} variables): "
                                              "the optimizer starts afresh"))
    return report, planned, values


def _pairs(mine: list[TfmLayer], keras: list[KerasLayer], mapping, report: InitReport) \
        -> list[tuple[TfmLayer, KerasLayer]]:
    """Each tfm layer with the Keras layer it takes: --init-map's pairs, then by kind, by name where
    every name agrees, else in order. A Keras layer left over is reported skipped."""
    by_name = {layer.name: layer for layer in keras}
    by_path = {layer.path: layer for layer in mine}
    pairs: list[tuple[TfmLayer, KerasLayer]] = []
    for old, new in mapping:
        theirs, ours = by_name.get(old), by_path.get(new)
        if theirs is None:
            raise KerasWeightsError(f"--init-map {printable(old)}={printable(new)}: the file has no Keras layer "
                                    f"{printable(old)} with weights (it has: {', '.join(sorted(by_name)) or 'none'})")
        if ours is None:
            raise KerasWeightsError(f"--init-map {printable(old)}={printable(new)}: this module has no library layer "
                                    f"{printable(new)} (it has: {', '.join(sorted(by_path)) or 'none'})")
        pairs.append((ours, theirs))
    paired = {id(x) for pair in pairs for x in pair}
    for kind in dict.fromkeys(layer.kind.keras for layer in mine):
        ours = [layer for layer in mine if layer.kind.keras == kind and id(layer) not in paired]
        theirs = sorted((layer for layer in keras if layer.kind == kind and id(layer) not in paired),
                        key=lambda layer: (layer.name.rpartition("/")[0], layer.number))
        names = {layer.name: layer for layer in theirs}
        if ours and all(layer.path in names for layer in ours):
            found = [(layer, names[layer.path]) for layer in ours]
        else:
            found = list(zip(ours, theirs))
        pairs += found
        paired |= {id(x) for pair in found for x in pair}
    for layer in keras:
        if id(layer) not in paired:
            report.skipped.append((f"layers/{layer.name}", f"missing: this module has no {layer.kind} layer left "
                                                           "to take it"))
    return pairs


@dataclass
class _Load:
    targets: list[tuple[str, Any]]  # (tfm path, variable)
    source: str  # the HDF5 path
    dataset: Any
    weight: Weight


def _planned(pairs, report: InitReport) -> list[_Load]:
    """What each pair loads: every Keras array checked against the shapes the tfm layer needs."""
    planned: list[_Load] = []
    for ours, theirs in pairs:
        for index, weight in enumerate(ours.kind.weights):
            targets = [(f"{ours.path}/{name}", _attribute(ours.module, name)) for name in weight.targets]
            if index >= len(theirs.arrays):
                continue  # fewer weights in Keras (use_bias=False): the rest stay fresh
            source, dataset = theirs.arrays[index]
            expected = _keras_shape(weight, [variable.shape.as_list() for _, variable in targets])
            dtype = np.dtype(targets[0][1].dtype.as_numpy_dtype)
            why = _unfit(dataset, expected, dtype)
            if why:
                report.skipped.append((source, f"{why}, {_shown(dtype, expected)} in this module's "
                                               f"{', '.join(path for path, _ in targets)}"))
                continue
            planned.append(_Load(targets, source, dataset, weight))
        for extra, _ in theirs.arrays[len(ours.kind.weights):]:
            report.skipped.append((extra, f"missing: this module's {ours.path} has no variable for it"))
    return planned


def _attribute(module, path: str):
    for part in path.split("/"):
        module = getattr(module, part)
    return module


def _keras_shape(weight: Weight, shapes: list[list[int]]) -> list[int]:
    """The shape of the Keras array holding the tfm variables of `shapes` (side by side, or in rows)."""
    if len(shapes) == 1:
        return shapes[0]
    per_row = len(shapes) // weight.rows
    joined = list(shapes[0])
    joined[weight.axis] = sum(shape[weight.axis] for shape in shapes[:per_row])
    return [weight.rows, *joined] if weight.rows > 1 else joined


def _unfit(dataset, expected: list[int], dtype: np.dtype) -> str | None:
    """Why a dataset cannot be read into variables of `expected` shape and `dtype`, or None."""
    if dataset.is_virtual or dataset.external:
        return "refused: its data lies outside this file"
    if dataset.dtype.kind != "f":
        return f"not a float array ({printable(str(dataset.dtype))})"
    shape = list(dataset.shape)
    if shape != expected or np.dtype(dataset.dtype) != dtype:
        return f"shape mismatch: {_shown(np.dtype(dataset.dtype), shape)} in the file"
    return None


def _shown(dtype: np.dtype, shape) -> str:
    return f"{dtype.name}[{', '.join(str(d) for d in shape)}]"


def _assign(tf, instance, planned: list[_Load], values, optimizers, report: InitReport) -> None:
    """Split each array among its tfm variables, assign them, and list what was loaded and left fresh."""
    loaded: set[int] = set()
    for load, value in zip(planned, values):
        parts = [value]
        if len(load.targets) > 1:
            flat = value.reshape(-1) if load.weight.rows > 1 else value
            parts = np.split(flat, len(load.targets), axis=0 if load.weight.rows > 1 else load.weight.axis)
        for (path, variable), part in zip(load.targets, parts):
            variable.assign(part)
            loaded.add(id(variable))
            where = load.source if len(load.targets) == 1 else f"{load.source} (part {path.rpartition('/')[2]})"
            report.loaded.append((path, where))
    report.fresh += [path for path, variable in fine_tuning_targets(tf, instance, optimizers).items()
                     if id(variable) not in loaded]
