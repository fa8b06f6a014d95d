"""Read a SavedModel's signatures from `saved_model.pb` as data, as `saved_model_cli show` does.

`tf.saved_model.load` runs a model's initializers and functions, so it must never be used on an export
one does not trust. This module parses the protobuf with the `protobuf` library (a TensorFlow
dependency) against the few message types it needs, declared below with TensorFlow's field numbers;
unknown fields are skipped by the parser. Nothing is executed and TensorFlow is not imported.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

MAX_PROTO_BYTES = 2**31 - 1  # protobuf's own limit for one message

# TensorFlow's DataType enum (tensorflow/core/framework/types.proto), the values tfm can meet.
DTYPE_NAMES = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string", 8: "complex64",
    9: "int64", 10: "bool", 14: "bfloat16", 17: "uint16", 18: "complex128", 19: "float16", 20: "resource",
    21: "variant", 22: "uint32", 23: "uint64",
}


class UnreadableSavedModel(ValueError):
    """`saved_model.pb` is missing, not a regular file, too large, or not a SavedModel."""


@dataclass(frozen=True)
class TensorSpecInfo:
    name: str
    dtype: str
    shape: tuple[int | None, ...] | None  # None: unknown rank


@dataclass(frozen=True)
class SignatureInfo:
    key: str
    inputs: tuple[TensorSpecInfo, ...]
    outputs: tuple[TensorSpecInfo, ...]
    method_name: str


def read_signatures(directory: str | Path) -> list[SignatureInfo]:
    """The signatures of the first MetaGraph of the SavedModel in `directory` (not TensorFlow's own
    `__saved_model_init_op`)."""
    saved_model: Any = _message_class("SavedModel")()  # a generated protobuf class: its fields are not typed
    try:
        saved_model.ParseFromString(read_regular_file(Path(directory) / "saved_model.pb", MAX_PROTO_BYTES))
    except UnreadableSavedModel:
        raise
    except Exception as exc:  # protobuf's DecodeError and its kin
        raise UnreadableSavedModel(f"saved_model.pb is not a SavedModel protobuf ({exc})") from None
    if not saved_model.meta_graphs:
        raise UnreadableSavedModel("saved_model.pb holds no MetaGraph")
    signatures = saved_model.meta_graphs[0].signature_def
    return [SignatureInfo(key, _specs(sig.inputs), _specs(sig.outputs), sig.method_name)
            for key, sig in signatures.items() if not key.startswith("__saved_model")]


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of `path` if it is a regular file of at most `limit` bytes (never a FIFO or device,
    which could block or never end)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise UnreadableSavedModel(f"cannot open {path.name}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableSavedModel(f"{path.name} is not a regular file")
        if info.st_size > limit:
            raise UnreadableSavedModel(f"{path.name} is {info.st_size} bytes, more than {limit}")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UnreadableSavedModel(f"{path.name} is larger than {limit} bytes")
    return data


def _specs(tensor_infos) -> tuple[TensorSpecInfo, ...]:
    specs = []
    for name in sorted(tensor_infos):
        info = tensor_infos[name]
        shape = None if info.tensor_shape.unknown_rank else tuple(
            None if d.size < 0 else d.size for d in info.tensor_shape.dim)
        specs.append(TensorSpecInfo(name, DTYPE_NAMES.get(info.dtype, f"dtype#{info.dtype}"), shape))
    return tuple(specs)


# --- the schema subset ----------------------------------------------------------------------


@cache
def _message_class(name: str):
    from google.protobuf import descriptor_pool, message_factory

    pool = descriptor_pool.DescriptorPool()
    pool.Add(_file_descriptor())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"tfm_savedmodel.{name}"))


def _file_descriptor():
    from google.protobuf import descriptor_pb2 as d

    T = d.FieldDescriptorProto
    file = d.FileDescriptorProto(name="tfm_savedmodel.proto", package="tfm_savedmodel", syntax="proto3")

    def message(name, fields, nested=()):
        proto = file.message_type.add(name=name)
        _add_fields(proto, fields)
        for entry in nested:
            proto.nested_type.append(entry)
        return proto

    def map_entry(name, value_type):
        entry = d.DescriptorProto(name=name, options=d.MessageOptions(map_entry=True))
        _add_fields(entry, [("key", 1, T.TYPE_STRING, None, False),
                            ("value", 2, T.TYPE_MESSAGE, value_type, False)])
        return entry

    message("Dim", [("size", 1, T.TYPE_INT64, None, False), ("name", 2, T.TYPE_STRING, None, False)])
    message("TensorShapeProto", [("dim", 2, T.TYPE_MESSAGE, ".tfm_savedmodel.Dim", True),
                                 ("unknown_rank", 3, T.TYPE_BOOL, None, False)])
    message("TensorInfo", [("name", 1, T.TYPE_STRING, None, False), ("dtype", 2, T.TYPE_INT32, None, False),
                           ("tensor_shape", 3, T.TYPE_MESSAGE, ".tfm_savedmodel.TensorShapeProto", False)])
    message("SignatureDef", [
        ("inputs", 1, T.TYPE_MESSAGE, ".tfm_savedmodel.SignatureDef.InputsEntry", True),
        ("outputs", 2, T.TYPE_MESSAGE, ".tfm_savedmodel.SignatureDef.OutputsEntry", True),
        ("method_name", 3, T.TYPE_STRING, None, False),
    ], nested=[map_entry("InputsEntry", ".tfm_savedmodel.TensorInfo"),
               map_entry("OutputsEntry", ".tfm_savedmodel.TensorInfo")])
    message("MetaGraphDef", [
        ("signature_def", 5, T.TYPE_MESSAGE, ".tfm_savedmodel.MetaGraphDef.SignatureDefEntry", True),
    ], nested=[map_entry("SignatureDefEntry", ".tfm_savedmodel.SignatureDef")])
    message("SavedModel", [("saved_model_schema_version", 1, T.TYPE_INT64, None, False),
                           ("meta_graphs", 2, T.TYPE_MESSAGE, ".tfm_savedmodel.MetaGraphDef", True)])
    return file


def _add_fields(proto, fields) -> None:
    from google.protobuf import descriptor_pb2 as d

    for name, number, kind, type_name, repeated in fields:
        field = proto.field.add(name=name, number=number, type=kind,
                                label=d.FieldDescriptorProto.LABEL_REPEATED if repeated
                                else d.FieldDescriptorProto.LABEL_OPTIONAL)
        if type_name:
            field.type_name = type_name
