"""A served method with an input of any rank (`x: f32[N, ..., 3]`, issue 22 item 9) exports: its
SavedModel signature is a TensorSpec of unknown rank that serves every rank and is verified against
the `.tfm`; a `.tflite`, whose tensors have a fixed rank, is refused naming the method, and a method
of fixed rank that calls the same layers converts and runs in LiteRT."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tfm
from tfm.exports.formats import ExportError

tf = pytest.importorskip("tensorflow")

SOURCE = """\
module Features:
    sub norm = LayerNormalization(3)
    sub proj = Dense(3, 4, seed=0)

    @serving
    fn call(x: f32[N, ..., 3]) -> f32[N, ..., 4]:
        return proj(norm(x))

    fn call_sequence(x: f32[N, T, 3]) -> f32[N, T, 4]:
        return call(x)
"""
RNG = np.random.default_rng(3)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "features.tfm"
    path.write_text(SOURCE)
    return path


def test_the_saved_model_serves_every_rank_through_one_signature(tmp_path, source):
    model = tfm.load(source).Features()
    report = tfm.export(source, "Features", tmp_path / "saved", instance=model)
    assert report.signatures[0].inputs == (("x", "float32", None),)  # the contract: unknown rank
    assert report.signatures[0].outputs == (("output_0", "float32", None),)
    served = tf.saved_model.load(str(tmp_path / "saved"))
    signature = served.signatures["serving_default"]
    assert signature.structured_input_signature[1]["x"].shape.rank is None
    for shape in [(2, 3), (2, 5, 3), (2, 5, 7, 3)]:
        x = RNG.normal(size=shape).astype(np.float32)
        out = signature(x=tf.constant(x))["output_0"].numpy()
        assert out.shape == (*shape[:-1], 4)
        np.testing.assert_allclose(out, model.call(x).numpy(), rtol=1e-6, atol=1e-6)
    manifest = json.loads((tmp_path / "saved" / "tfm-export.json").read_text())
    assert manifest["declared"]["serving_default"] == {"inputs": [["x", "f32[N, ..., 3]"]],
                                                       "outputs": [["output_0", "f32[N, ..., 4]"]]}


def test_the_tflite_is_refused_naming_the_method_and_nothing_is_left_behind(tmp_path, source):
    with pytest.raises(ExportError) as caught:
        tfm.export(source, "Features", tmp_path / "saved", tflite=tmp_path / "features.tflite")
    message = str(caught.value)
    assert "`call` (signature serving_default) takes `x` of any rank" in message
    assert "a .tflite needs a fixed rank" in message and "without --tflite" in message
    assert not (tmp_path / "saved").exists() and not (tmp_path / "features.tflite").exists()


def test_a_fixed_rank_method_calling_any_rank_layers_converts_to_tflite(tmp_path, source):
    source.write_text(SOURCE.replace("    @serving\n", "").replace("    fn call_sequence", "    @serving\n    fn call_sequence"))
    report = tfm.export(source, "Features", tmp_path / "saved", tflite=tmp_path / "features.tflite")
    lite = report.tflite_report
    assert lite is not None and lite.runtime == "LiteRT" and not lite.flex_ops
    assert lite.max_abs_diff["serving_default"] < 1e-5
    assert report.signatures[0].inputs == (("x", "float32", (None, None, 3)),)
