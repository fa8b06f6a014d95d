"""Values given on the command line (`--init NAME=VALUE`, `--arg NAME=VALUE`), checked against the
`.tfm` declarations before TensorFlow sees them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfm.dsl import nodes as n
from tfm.dsl.analysis import Analysis
from tfm.dsl.diagnostics import printable
from tfm.dsl.ops import static_python_type
from tfm.dsl.tensor_types import TensorT
from tfm.run.datasets import DataError, check_npz_expansion, check_regular_file, npy_claimed_bytes


class BadValue(Exception):
    """A command-line value that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class RawValue:
    name: str
    value: Any  # a JSON value, or a numpy array from `@file.npy`


def parse_assignments(items: list[str], flag: str) -> dict[str, RawValue]:
    """`["a=1.5", "x=@x.npy"]` -> {"a": RawValue("a", 1.5), ...}."""
    values: dict[str, RawValue] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.isidentifier():
            raise BadValue(f"{flag} {item!r}: expected NAME=VALUE (VALUE is JSON or @file.npy)")
        if name in values:
            raise BadValue(f"{flag} {name} is given twice")
        values[name] = RawValue(name, _parse_value(text, f"{flag} {name}"))
    return values


def _parse_value(text: str, what: str) -> object:
    """JSON, a bare word (a string), or `@FILE`: `.npy`, `.npz:KEY` (or an .npz of one array), `.json`."""
    if text.startswith("@"):
        return _read_value_file(text[1:], what)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        # A bare word is taken as a string, so `--arg a=hello` works without shell-quoted JSON quotes.
        return text


def _read_value_file(spec: str, what: str) -> object:
    import numpy as np

    head, colon, key = spec.rpartition(":")
    if not (colon and head.endswith(".npz")):
        head, colon, key = spec, "", ""
    name = head
    path = Path(name)
    try:
        _check_value_file(path, key if colon else None)
    except DataError as exc:
        raise BadValue(f"{what}: {exc}") from None
    try:
        if path.suffix == ".json":
            return json.loads(path.read_text(encoding="utf-8"))
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise BadValue(f"{what}: cannot read {str(path)!r}: {exc}") from None
    if not hasattr(loaded, "files"):
        return loaded
    with loaded:
        if not colon and len(loaded.files) == 1:
            key = loaded.files[0]
        if key not in loaded.files:
            raise BadValue(f"{what}: name the array as @{name}:KEY; {str(path)!r} holds: {', '.join(loaded.files)}")
        return loaded[key]


def _check_value_file(path: Path, key: str | None) -> None:
    """A regular file (a FIFO is named as one, never waited on) whose arrays, as their headers and zip
    directory say, fit in memory: checked before NumPy allocates them."""
    check_regular_file(path, "value file")
    if path.suffix == ".npz":
        check_npz_expansion(path, [key] if key else None)
    elif path.suffix == ".npy":
        with open(path, "rb") as handle:
            claimed = npy_claimed_bytes(handle, printable(str(path)))
            held = os.fstat(handle.fileno()).st_size - handle.tell()
        if claimed > held:
            raise DataError(f"{printable(str(path))} is damaged: its header claims {claimed:,} bytes of data, but the "
                            f"file holds {held:,}")


def constructor_kwargs(module: n.ModuleDef, values: dict[str, RawValue]) -> dict[str, object]:
    """Check `--init` values against the module's parameters; static ones become Python values."""
    params = {p.name: p for p in module.params}
    unknown = sorted(set(values) - set(params))
    if unknown:
        raise BadValue(f"module {module.name} has no parameter {unknown[0]!r}; "
                          f"parameters: {', '.join(params) or 'none'}")
    missing = [p.name for p in module.params if p.default is None and p.name not in values]
    if missing:
        raise BadValue(f"module {module.name} needs --init {missing[0]}=VALUE")
    kwargs = {}
    for name, raw in values.items():
        kwargs[name] = _static_value(params[name], raw.value)
    return kwargs


def _static_value(param: n.ModuleParam, value: object) -> object:
    kind = static_python_type(param.type)
    if kind is None:
        return value  # a tensor parameter: TensorFlow converts it to the declared dtype
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is tuple and (isinstance(value, int) or isinstance(value, list)) and not isinstance(value, bool):
        return value  # `int[2]`: an int or a list of ints, which the module's constructor checks and makes a tuple
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadValue(f"--init {param.name}: expected {param.type.dtype}, got {json.dumps(value)}")
    return value


def method_tensors(method: n.Method, values: dict[str, RawValue], analysis: Analysis) -> list:
    """Check `--arg` values against the method's inputs and make tensors of the declared dtypes (as the
    analysis resolved them)."""
    import tensorflow as tf

    from tfm.generate.codegen import dtype_expr

    inputs = {i.name: i for i in method.inputs}
    unknown = sorted(set(values) - set(inputs))
    if unknown:
        raise BadValue(f"method {method.name} has no input {unknown[0]!r}; inputs: {', '.join(inputs) or 'none'}")
    tensors = []
    for inp in method.inputs:
        if inp.name not in values:
            raise BadValue(f"method {method.name} needs --arg {inp.name}=VALUE")
        declared_type = analysis.types[inp.type]
        assert isinstance(declared_type, TensorT)  # an input's declared type (one signature's: no choice)
        declared = declared_type.dtype
        dtype = getattr(tf, dtype_expr(declared).removeprefix("tf."))
        try:
            tensors.append(tf.constant(values[inp.name].value, dtype=dtype))
        except (TypeError, ValueError) as exc:
            raise BadValue(f"--arg {inp.name}: cannot make a {declared} tensor: {exc}") from None
    return tensors
