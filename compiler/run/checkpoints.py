"""Checkpoints of compiled modules: the layout `tfm train` writes and `tfm export --checkpoint` reads.

A checkpoint is `tf.train.Checkpoint(model=MODULE, progress=...)`: the module (its variables, its
optimizers' step counts and slots) under `model`, the training position under `progress`. A
checkpoint written by hand with `tf.train.Checkpoint(model=module)` is read the same way.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfm.dsl.diagnostics import first_line, printable

MODEL_KEY = "model"
INDEX_NAME = "checkpoint"  # CheckpointManager's index of the checkpoints in a directory
_VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_MAX_INDEX_BYTES = 1 << 20
_INDEX_NAMES = ("model_checkpoint_path", "all_model_checkpoint_paths")
_INDEX_NUMBERS = ("all_model_checkpoint_timestamps", "last_preserved_timestamp")
_PLAIN_STRING = re.compile(r'^"([^"\\]*)"$')


class CheckpointError(Exception):
    """The checkpoint cannot be found or does not fit the module; the message says which and why."""


def resolve_checkpoint(tf, path: str | Path) -> str:
    """The checkpoint prefix `path` names: a directory (its latest checkpoint) or a prefix (`dir/ckpt-3`).
    A directory's index is read here, not by TensorFlow, and may name only files inside it."""
    path = str(path)
    if os.path.isdir(path):
        latest = checked_index(Path(path))[0]
        if latest is None:
            raise CheckpointError(f"{printable(path)} holds no checkpoint (no `checkpoint` index file naming one)")
        prefix = os.path.join(path, latest)
        if not os.path.exists(prefix + ".index"):
            raise CheckpointError(f"{printable(path)}: its index names {printable(latest)}, but there is no "
                                  f"{printable(latest)}.index")
        return prefix
    if not os.path.exists(path + ".index"):
        raise CheckpointError(f"no checkpoint at {printable(path)} (expected a directory or a prefix with a .index file)")
    return path


# --- the index file ------------------------------------------------------------------------------


def checked_index(directory: Path) -> tuple[str | None, list[str]]:
    """(the latest checkpoint's name, every name) that `directory`'s index lists, or (None, []) without
    one. TensorFlow deletes, when it rotates, whatever the index lists, wherever it is: a name that is
    absolute, climbs out with `..`, or leads out through a symbolic link is refused, as is an index that
    is not CheckpointManager's plain text."""
    text = _read_index(directory / INDEX_NAME)
    if text is None:
        return None, []
    latest, names = None, []
    for number, line in enumerate(text.splitlines(), 1):
        key, _, value = (part.strip() for part in line.partition(":"))
        if not key or key in _INDEX_NUMBERS:
            continue
        match = _PLAIN_STRING.match(value)
        if key not in _INDEX_NAMES or match is None:
            raise CheckpointError(f"{_index_shown(directory)}, line {number}: not a checkpoint index entry "
                                  f"({printable(line.strip()[:80])})")
        _check_inside(directory, match.group(1), number)
        names.append(match.group(1))
        latest = match.group(1) if key == "model_checkpoint_path" else latest
    return latest, names


def _read_index(path: Path) -> str | None:
    """The index's text: opened once, never through a symbolic link, never blocking on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        why = "it is a symbolic link" if os.path.islink(path) else exc.strerror or str(exc)
        raise CheckpointError(f"{printable(str(path))}: not read: {why}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CheckpointError(f"{printable(str(path))}: not read: it is not a regular file")
        data = handle.read(_MAX_INDEX_BYTES + 1)
    if len(data) > _MAX_INDEX_BYTES:
        raise CheckpointError(f"{printable(str(path))}: larger than {_MAX_INDEX_BYTES} bytes; not a checkpoint index")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError(f"{printable(str(path))}: not a checkpoint index (not text)") from None


def _check_inside(directory: Path, name: str, number: int) -> None:
    where = f"{_index_shown(directory)}, line {number}: {printable(name)}"
    if not name or os.path.isabs(name) or ".." in Path(name).parts or "\0" in name:
        raise CheckpointError(f"{where}: a checkpoint must be named by a path inside the directory")
    root = os.path.realpath(directory)
    prefix = directory / name
    candidates = [prefix, *prefix.parent.glob(f"{_glob_escaped(prefix.name)}.*")] if prefix.parent.is_dir() else [prefix]
    for candidate in candidates:
        if not Path(os.path.realpath(candidate)).is_relative_to(root):
            raise CheckpointError(f"{where}: {printable(str(candidate))} leads out of the directory through a "
                                  "symbolic link")


def _glob_escaped(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _index_shown(directory: Path) -> str:
    return printable(str(directory / INDEX_NAME))


# --- fitting a module ----------------------------------------------------------------------------


def restore_model(tf, instance, prefix: str) -> None:
    """Load the module's variables and optimizer state from `prefix`; every one must be found there,
    with its shape and dtype (checked before anything is restored)."""
    check_fits(tf, instance, prefix)
    try:
        status = tf.train.Checkpoint(**{MODEL_KEY: instance}).read(prefix)
        status.assert_existing_objects_matched()
    except AssertionError as exc:
        raise CheckpointError(f"{printable(prefix)} does not fit this module: {first_line(exc)}") from None
    except Exception as exc:  # a damaged data file, or a clash in state the module builds later
        raise CheckpointError(unreadable(tf, instance, prefix, exc)) from None
    status.expect_partial()  # the training position is not the module's


def unreadable(tf, instance, prefix: str, exc: BaseException, root_key: str = MODEL_KEY) -> str:
    """Why restoring `prefix` failed: the first of the module's variables whose value cannot be read
    (a truncated or damaged data file), else TensorFlow's one-line reason."""
    reader = open_reader(tf, prefix)
    for path in module_variables(tf, instance):
        try:
            reader.get_tensor(f"{root_key}/{path}{_VALUE_SUFFIX}")
        except Exception as inner:
            return (f"{printable(prefix)} is damaged: the value of variable {printable(path)} cannot be read "
                    f"({first_line(inner)})")
    return f"{printable(prefix)} cannot be restored (damaged, or not this module's): {first_line(exc)}"


def open_reader(tf, prefix: str):
    """TensorFlow's reader of `prefix`; a damaged or missing checkpoint is a CheckpointError."""
    try:
        return tf.train.load_checkpoint(prefix)
    except Exception as exc:  # DataLossError, NotFoundError, a truncated file
        raise CheckpointError(f"{printable(prefix)} is not a readable checkpoint: {first_line(exc)}") from None


def check_fits(tf, instance, prefix: str, root_key: str = MODEL_KEY) -> None:
    """Compare the checkpoint's variable list with the module's: each variable must be there with the
    module's shape and dtype, and readable. The first mismatch names the variable, expected and found."""
    reader = open_reader(tf, prefix)
    shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    problems = []
    for path, variable in module_variables(tf, instance).items():
        key = f"{root_key}/{path}{_VALUE_SUFFIX}"
        expected = _shown_type(variable.dtype, variable.shape.as_list())
        if key not in shapes:
            problems.append(f"it has no variable {printable(path)} ({expected})")
        elif list(shapes[key]) != variable.shape.as_list() or dtypes[key] != variable.dtype.base_dtype:
            problems.append(f"variable {printable(path)} is {expected} in this module, but "
                            f"{_shown_type(dtypes[key], shapes[key])} in the checkpoint")
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CheckpointError(f"{printable(prefix)} does not fit this module: {problems[0]}{more}")


def module_variables(tf, instance) -> dict[str, Any]:
    """The module's variables by checkpoint path (`dense_1/kernel`), as tf.train.Checkpoint names them."""
    found: dict[str, Any] = {}
    _walk(tf, instance, "", found, {id(instance)})
    return found


def _walk(tf, node, path: str, found: dict, seen: set) -> None:
    for name, child in tf.train.TrackableView(node).children(node).items():
        if id(child) in seen:
            continue
        seen.add(id(child))
        child_path = f"{path}/{_escaped(name)}" if path else _escaped(name)
        if isinstance(child, tf.Variable):
            found[child_path] = child
        _walk(tf, child, child_path, found, seen)


def _escaped(name: str) -> str:
    """A name as a checkpoint key spells it (TensorFlow escapes `.` and `/`)."""
    return name.replace(".", "..").replace("/", ".S")


def _shown_type(dtype, shape) -> str:
    return f"{dtype.name}[{', '.join(str(d) for d in shape)}]"


def model_values(tf, prefix: str, paths) -> dict[str, object]:
    """The values `prefix` holds for the module variables at object `paths` (`dense_1/kernel`)."""
    reader = tf.train.load_checkpoint(prefix)
    values = {}
    for path in paths:
        key = f"{MODEL_KEY}/{path}{_VALUE_SUFFIX}"
        if reader.has_tensor(key):
            values[path] = reader.get_tensor(key)
    return values


def instance_values(instance, paths) -> dict[str, object]:
    """The current values of the module variables at object `paths` of a built instance."""
    values = {}
    for path in paths:
        target = instance
        for part in path.split("/"):
            target = getattr(target, part, None)
        if target is not None and hasattr(target, "numpy"):
            values[path] = target.numpy()
    return values



# --- starting from another run's checkpoint (fine-tuning) ----------------------------------------------


@dataclass
class InitReport:
    """What `load_matching` did: module variables loaded (path <- checkpoint path), checkpoint
    variables skipped with why, and module variables left as built."""

    source: str
    loaded: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        shown = [f"tfm: --init-from {printable(self.source)}: {len(self.loaded)} loaded, {len(self.skipped)} skipped, "
                 f"{len(self.fresh)} left fresh"]
        shown += [f"  loaded  {printable(path)}" + (f" (from {printable(old)})" if old != path else "")
                  for path, old in self.loaded]
        shown += [f"  skipped {printable(path)}: {printable(why)}" for path, why in self.skipped]
        shown += [f"  fresh   {printable(path)}" for path in self.fresh]
        return shown


def parse_init_map(pairs) -> list[tuple[str, str]]:
    """`OLD=NEW` submodule or variable paths (dotted, `encoder.dense`) as (old, new) checkpoint paths."""
    mapping = []
    for pair in pairs or ():
        old, equals, new = str(pair).partition("=")
        if not equals or not _PATH.match(old) or not _PATH.match(new):
            raise CheckpointError(f"--init-map {printable(str(pair))}: expected OLD=NEW, two dotted paths like "
                                  "encoder=backbone")
        mapping.append((old.replace(".", "/"), new.replace(".", "/")))
    return mapping


_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def load_matching(tf, instance, prefix: str, mapping=(), optimizers=()) -> InitReport:
    """Assign each variable of `instance` the value `prefix` holds at its path (renamed by `mapping`'s
    (old, new) pairs), where the shape and dtype match. The `optimizers`' state (their variables, and
    whatever is saved under the attribute of the instance holding one) starts afresh. Every value is
    read and checked before any is assigned."""
    reader = open_reader(tf, prefix)
    shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    root = f"{MODEL_KEY}/" if any(key.startswith(f"{MODEL_KEY}/") for key in shapes) else ""
    stored = {key[len(root):-len(_VALUE_SUFFIX)]: key for key in shapes
              if key.startswith(root) and key.endswith(_VALUE_SUFFIX) and "/.OPTIMIZER_SLOT/" not in key}
    optimizer_names = _optimizer_names(instance, optimizers)

    def optimizer_state(path: str) -> bool:
        return path.split("/")[0] in optimizer_names

    targets = fine_tuning_targets(tf, instance, optimizers)
    report = InitReport(source=prefix)
    wanted: dict[str, tuple[Any, str]] = {}
    for path, variable in targets.items():
        old = _renamed(path, mapping)
        key = stored.get(old)
        if key is None:
            report.fresh.append(path)
            continue
        shape, expected = list(shapes[key]), variable.shape.as_list()
        if shape != expected or dtypes[key] != variable.dtype.base_dtype:
            report.skipped.append((old, f"shape mismatch: {_shown_type(dtypes[key], shape)} in the checkpoint, "
                                        f"{_shown_type(variable.dtype, expected)} in this module's {path}"))
            report.fresh.append(path)
            continue
        wanted[path] = (variable, key)
        report.loaded.append((path, old))
    used = {_renamed(path, mapping) for path in targets}
    unused = [path for path in sorted(stored) if path not in used]
    report.skipped += [(path, "missing: this module has no such variable") for path in unused
                       if not optimizer_state(path)]
    for name in sorted(optimizer_names):  # one line per optimizer, not one per slot
        count = sum(1 for path in unused if path.split("/")[0] == name)
        if count:
            report.skipped.append((f"{name}/*", f"optimizer state ({count} variables): the optimizer starts afresh"))
    try:
        values = {path: reader.get_tensor(key) for path, (_, key) in wanted.items()}
    except Exception as exc:
        raise CheckpointError(f"{printable(prefix)} is damaged: {first_line(exc)}") from None
    for path, (variable, _) in wanted.items():
        variable.assign(values[path])
    return report


def fine_tuning_targets(tf, instance, optimizers=()) -> dict[str, Any]:
    """The module's variables by checkpoint path that fine-tuning may load: all but the `optimizers'`
    state (their variables, and whatever is saved under the attribute of the instance holding one)."""
    left_out = {id(v) for optimizer in optimizers for v in optimizer.variables}
    optimizer_names = _optimizer_names(instance, optimizers)
    return {path: v for path, v in module_variables(tf, instance).items()
            if id(v) not in left_out and path.split("/")[0] not in optimizer_names}


def _optimizer_names(instance, optimizers) -> set[str]:
    held = {id(optimizer) for optimizer in optimizers}
    return {_escaped(name) for name, value in vars(instance).items() if id(value) in held}


def _renamed(path: str, mapping) -> str:
    """The checkpoint path a module variable at `path` is loaded from: the first mapping whose NEW is
    `path` or a prefix of it (by whole parts) puts OLD in its place."""
    for old, new in mapping:
        if path == new or path.startswith(new + "/"):
            return old + path[len(new):]
    return path
