"""Layer input sizes inferred from use (`Dense(10)`, `Conv2D(8, 3)`): a parameter declared
`in_dim: int = ?` that a holding module leaves out takes its value from the static size of the argument
at the first call; the variables are still made in `__init__` with that shape, and the module computes
exactly what the same module with every size written out computes."""

from __future__ import annotations

import numpy as np
import pytest

import tfm

tf = pytest.importorskip("tensorflow")

INFERRED = """\
module CNN:
    sub conv = Conv2D(8, 3, padding="SAME", activation="relu", seed=1)
    sub pool = MaxPool2D(2)
    sub flat = Flatten()
    sub hidden = Dense(32, activation="relu", seed=2)
    sub ln = LayerNormalization()
    sub head = Dense(10, seed=3)

    fn call(images: f32[N, 28, 28, 1]) -> f32[N, 10]:
        return head(ln(hidden(flat(pool(conv(images))))))
"""

EXPLICIT = INFERRED.replace("Conv2D(8, 3,", "Conv2D(1, 8, 3,").replace("Dense(32,", "Dense(1568, 32,") \
    .replace("LayerNormalization()", "LayerNormalization(32)").replace("Dense(10,", "Dense(32, 10,")

# TensorFlow's intro_to_modules guide: a dense layer whose weights are sized by its first input.
FLEXIBLE = """\
module FlexibleDense(in_features: int = ?, out_features: int):
    var w: f32[in_features, out_features] = normal(seed=0)
    var b: f32[out_features] = zeros()

    fn call(x: f32[N, in_features]) -> f32[N, out_features]:
        return x @ w + b

module MySequentialModule:
    sub dense_1 = FlexibleDense(out_features=3)
    sub dense_2 = FlexibleDense(out_features=2)

    fn call(x: f32[N, 3]) -> f32[N, 2]:
        return dense_2(relu(dense_1(x)))
"""


def _load(tmp_path, name, text):
    path = tmp_path / f"{name}.tfm"
    path.write_text(text)
    return tfm.load(path)


def test_inferred_sizes_build_the_same_variables_and_outputs(tmp_path):
    inferred = _load(tmp_path, "inferred", INFERRED).CNN()
    explicit = _load(tmp_path, "explicit", EXPLICIT).CNN()
    shapes = sorted((v.name, tuple(v.shape)) for v in inferred.trainable_variables)
    assert shapes == sorted((v.name, tuple(v.shape)) for v in explicit.trainable_variables)
    assert ("cnn/hidden/kernel:0", (1568, 32)) in shapes  # 14 * 14 * 8 features, known before TensorFlow ran
    for ours, theirs in zip(sorted(inferred.trainable_variables, key=lambda v: v.name),
                            sorted(explicit.trainable_variables, key=lambda v: v.name)):
        ours.assign(theirs)
    images = np.random.default_rng(0).normal(size=(2, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(inferred.call(images).numpy(), explicit.call(images).numpy(), rtol=1e-6)


def test_the_generated_constructor_passes_the_inferred_sizes(tmp_path):
    path = tmp_path / "inferred.tfm"
    path.write_text(INFERRED)
    python = tfm.compile_file(path).python
    assert "self.hidden = Dense(out_dim=32, activation='relu', seed=2, in_dim=1568, name='hidden', dtype=self._dtype_policy)" in python
    assert "self.ln = LayerNormalization(dim=32, name='ln', dtype=self._dtype_policy)" in python


def test_the_intro_to_modules_flexible_dense_is_expressible(tmp_path):
    model = _load(tmp_path, "flexible", FLEXIBLE).MySequentialModule()
    assert sorted(tuple(v.shape) for v in model.dense_1.variables) == [(3,), (3, 3)]
    assert sorted(tuple(v.shape) for v in model.dense_2.variables) == [(2,), (3, 2)]
    x = tf.constant([[2.0, 2.0, 2.0]])
    d1, d2 = model.dense_1, model.dense_2
    expected = tf.nn.relu(x @ d1.w + d1.b) @ d2.w + d2.b
    np.testing.assert_allclose(model.call(x).numpy(), expected.numpy(), rtol=1e-6)


def test_hover_shows_the_inferred_sizes():
    """The editor shows a layer as this instance has it, its inferred input size included (issue 25)."""
    from tfm.dsl import analyze
    from tfm.dsl.queries import hover

    analysis = analyze(INFERRED, "cnn.tfm")
    lines = INFERRED.split("\n")
    line = next(i for i, text in enumerate(lines, 1) if "sub hidden" in text)
    assert "Dense(in_dim=1568, out_dim=32" in hover(analysis, "cnn.tfm", line, lines[line - 1].index("hidden") + 2)
    line = next(i for i, text in enumerate(lines, 1) if "return head" in text)
    shown = hover(analysis, "cnn.tfm", line, lines[line - 1].index("hidden(") + 2)
    assert "fn call(x: f32[N, ..., 1568]) -> f32[N, ..., 32]" in shown
