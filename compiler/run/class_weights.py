"""Class weights for sparse labels (`--class-weight`), with Keras `fit(class_weight=...)`'s meaning:
each example's weight is its label's class weight (1.0 for a class not listed), handed to the
training method as its `sample_weight` input, which the method's loss multiplies (Keras's
`reduce_mean(sample_weight * loss)`, its "sum over batch size").

The method names the parts: its one integer input of one value per example (`y: i32[N]`) is the
label, and an input `sample_weight: f32[N]` takes the weights; the data does not hold it. Nothing
here imports TensorFlow: the weights are parsed (and a file read) before it loads.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from tfm.dsl.diagnostics import printable

WEIGHT_INPUT = "sample_weight"
_INLINE = re.compile(r"\s*\d+\s*:\s*[-+0-9.eE]+\s*(,\s*\d+\s*:\s*[-+0-9.eE]+\s*)*,?\s*")
_MAX_BYTES = 1 << 20


class ClassWeightError(Exception):
    """Class weights that cannot be used; the message says why."""


def parse_class_weight(value: Any) -> dict[int, float]:
    """`{class: weight}` from a mapping, the text `0:1.0,1:2.5`, or a file holding that text or a JSON
    object (`{"0": 1.0, "1": 2.5}`). Classes are integers from 0, weights finite and not negative."""
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, str) and _INLINE.fullmatch(value):
        pairs = [part.split(":") for part in value.split(",") if part.strip()]
    else:
        return parse_class_weight(_read(Path(value)))
    weights: dict[int, float] = {}
    for key, weight in pairs:
        try:
            number, amount = int(str(key).strip()), float(str(weight).strip())
        except ValueError:
            raise ClassWeightError(f"--class-weight: {printable(str(key))}:{printable(str(weight))} is not "
                                   "CLASS:WEIGHT (an integer and a number)") from None
        if number < 0 or not amount >= 0 or amount == float("inf"):
            raise ClassWeightError(f"--class-weight: class {number} weight {amount}: classes count from 0 and "
                                   "weights are finite and not negative")
        weights[number] = amount
    if not weights:
        raise ClassWeightError("--class-weight: no CLASS:WEIGHT given")
    return weights


def _read(path: Path) -> dict | str:
    """A class-weight file's text (CLASS:WEIGHT,...) or JSON object; a regular file, read once."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ClassWeightError(f"--class-weight {printable(str(path))}: neither CLASS:WEIGHT,... nor a file "
                               f"that can be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ClassWeightError(f"--class-weight {printable(str(path))}: not a regular file")
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(_MAX_BYTES + 1)
    if len(data) > _MAX_BYTES:
        raise ClassWeightError(f"--class-weight {printable(str(path))}: larger than {_MAX_BYTES} bytes")
    text = data.decode("utf-8", errors="replace").strip()
    if _INLINE.fullmatch(text):
        return text
    try:
        found = json.loads(text)
    except json.JSONDecodeError:
        found = None
    if not isinstance(found, dict):
        raise ClassWeightError(f"--class-weight {printable(str(path))}: expected CLASS:WEIGHT,... or a JSON "
                               'object like {"0": 1.0, "1": 2.5}')
    return found


def weighted_inputs(specs: list, label: str) -> tuple[Any, Any]:
    """(the label's spec, the weights' spec) among a method's input specs (tfm.run.datasets.InputSpec)."""
    weight = next((spec for spec in specs if spec.name == WEIGHT_INPUT), None)
    if weight is None or weight.example_shape != () or not weight.dtype.is_floating:
        raise ClassWeightError(f"--class-weight: {label} needs an input `{WEIGHT_INPUT}: f32[N]` for the "
                               "weights (its loss multiplies them: reduce_mean(sample_weight * loss))")
    labels = [spec for spec in specs if spec.dtype.is_integer and spec.example_shape == ()]
    if len(labels) != 1:
        found = ", ".join(spec.name for spec in labels) or "none"
        raise ClassWeightError(f"--class-weight: {label} must take one sparse label (an integer input of one "
                               f"value per example, like y: i32[N]) to weigh by; it takes {found}")
    return labels[0], weight


def add_weights(tf, dataset, weights: dict[int, float], label_name: str, weight_spec):
    """`dataset` (of dicts, examples or batches) with each element's `sample_weight`: its label's weight."""
    table = tf.constant([weights.get(number, 1.0) for number in range(max(weights) + 1)], weight_spec.dtype)
    size = int(table.shape[0])

    def weighed(element):
        label = tf.cast(element[label_name], tf.int64)
        inside = tf.logical_and(label >= 0, label < size)
        found = tf.gather(table, tf.clip_by_value(label, 0, size - 1))
        return {**element, WEIGHT_INPUT: tf.where(inside, found, tf.ones_like(found))}

    return dataset.map(weighed)


__all__ = ["WEIGHT_INPUT", "ClassWeightError", "add_weights", "parse_class_weight", "weighted_inputs"]
