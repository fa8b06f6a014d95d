"""What the library-layer tests share (tests/ops/test_*layers.py): a one-layer module compiled from
`.tfm`, random weights, and outputs with gradients for the inputs and the weights, compared with Keras'."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

import tfm


def build_layer(tmp_path, construct: str, signature: str, body: str):
    """An instance of `module M: sub layer = <construct>; fn f(<signature>: return <body>`."""
    source = tmp_path / "layer.tfm"
    source.write_text(f"module M:\n    sub layer = {construct}\n\n    fn f({signature}:\n        return {body}\n")
    return tfm.load(source).M()


def randomize(module, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random values for a module's variables (by short name), assigned in place."""
    values = {}
    for variable in module.variables:
        name = variable.name.split("/")[-1].split(":")[0]
        values[name] = rng.normal(0.0, 0.5, variable.shape).astype(np.float32)
        variable.assign(values[name])
    return values


def forward_and_grads(call, inputs: list[np.ndarray], variables, cotangent_seed: int = 0):
    """(the output, the gradients of a random projection of it for each floating input and variable)."""
    tensors = [tf.constant(x) for x in inputs]
    with tf.GradientTape() as tape:
        for t in tensors:
            if t.dtype.is_floating:
                tape.watch(t)
        out = call(*tensors)
        cotangent = tf.constant(np.random.default_rng(cotangent_seed).normal(size=out.shape).astype(np.float32))
        loss = tf.reduce_sum(out * cotangent)
    sources = [*(t for t in tensors if t.dtype.is_floating), *variables]
    grads = tape.gradient(loss, sources)
    return out.numpy(), [np.zeros(v.shape) if g is None else tf.convert_to_tensor(g).numpy()
                         for g, v in zip(grads, sources)]


def compare(ours, theirs, atol=1e-4) -> None:
    """Outputs to rtol 1e-4, gradients to rtol 1e-3 (float32 sums in another order)."""
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-4, atol=atol)
    assert len(ours[1]) == len(theirs[1])
    for a, b in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=atol)


def keras_built(layer, *shapes):
    """A Keras layer built for `shapes`, so its weights exist to be set."""
    layer.build(*shapes)
    return layer
