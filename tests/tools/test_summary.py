"""`tfm summary`: parameter counts as TensorFlow counts them, shapes through each method's calls, an
SVG picture parsed back, all without importing TensorFlow."""

from __future__ import annotations

import json
import math
import re
from xml.etree import ElementTree as ET

import pytest

import tfm
from tfm.cli import main
from support import EXAMPLES, run_python

SVG = "{http://www.w3.org/2000/svg}"


def _sizes(variables) -> int:
    return sum(math.prod(v.shape.as_list()) for v in variables)


@pytest.mark.parametrize("name, module, init", [("cnn_classifier", "CNNClassifier", {"num_classes": 7}),
                                                ("lstm_sequence", "LSTMRegressor", {}),
                                                ("my_model", "MyModel", {"num_classes": 3})])
def test_parameter_counts_match_the_built_module(name, module, init):
    summary = tfm.summary(EXAMPLES / f"{name}.tfm", module, init)
    built = getattr(tfm.load(EXAMPLES / f"{name}.tfm", module_name=f"summary_{name}"), module)(**init)
    for row in summary.submodules:
        if row.optimizer:
            continue
        sub = built
        for part in row.path.split("/"):
            sub = getattr(sub, part)
        assert row.trainable == _sizes(sub.trainable_variables), row.path
        assert row.non_trainable == _sizes(sub.variables) - _sizes(sub.trainable_variables), row.path
    assert summary.trainable == _sizes(built.trainable_variables)
    assert summary.non_trainable == _sizes(built.variables) - _sizes(built.trainable_variables)


FROZEN = """\
module Encoder:
    sub dense = Dense(4, 8, seed=1)

    fn encode(x: f32[N, 4]) -> f32[N, 8]:
        return dense(x)

module Tuned:
    frozen sub encoder = Encoder()
    sub head = Dense(8, 2, seed=2)

    fn call(x: f32[N, 4]) -> f32[N, 2]:
        return head(encoder.encode(x))
"""


def test_a_frozen_submodule_counts_as_non_trainable_as_tensorflow_counts_it(tmp_path):
    (tmp_path / "tuned.tfm").write_text(FROZEN)
    summary = tfm.summary(tmp_path / "tuned.tfm", "Tuned")
    built = tfm.load(tmp_path / "tuned.tfm").Tuned()
    assert (summary.trainable, summary.non_trainable) == (18, 40)
    assert summary.trainable == _sizes(built.trainable_variables)
    assert summary.non_trainable == _sizes(built.variables) - _sizes(built.trainable_variables)
    frozen = {row.path: row.frozen for row in summary.submodules}
    assert frozen == {"encoder": True, "encoder/dense": True, "head": False}
    assert "encoder    Encoder (frozen)          0             40" in str(summary)


def test_the_table_shows_variables_and_the_shapes_through_each_call():
    text = str(tfm.summary(EXAMPLES / "my_model.tfm", "MyModel", {"num_classes": 3}))
    assert "dense_2    Dense          99              0  kernel f32[32, 3], bias f32[3]" in text
    assert "optimizer  SGD             -              -  (made when training)" in text
    assert "total                  1,155              0" in text
    assert "fn call(inputs: f32[N, 32]) -> output_0: f32[N, 3]" in text
    assert "  dense_2  Dense   f32[N, 32]  f32[N, 3]     13" in text


def test_the_command_prints_the_table_without_importing_tensorflow(tmp_path):
    done = run_python("import sys\nfrom tfm.cli import main\n"
                      "code = main(['summary', 'examples/cnn_classifier.tfm', 'CNNClassifier', '--svg', sys.argv[1]])\n"
                      "print('tensorflow' in sys.modules, code)\n", args=[str(tmp_path / "cnn.svg")])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("False 0")
    assert "norm       BatchNormalization             64             64" in done.stdout
    assert (tmp_path / "cnn.svg").is_file()


def test_the_svg_draws_each_method_with_shapes_on_its_arrows(tmp_path, capsys):
    out = tmp_path / "cnn.svg"
    assert main(["summary", str(EXAMPLES / "cnn_classifier.tfm"), "CNNClassifier", "--svg", str(out)]) == 0
    root = ET.parse(out).getroot()
    assert root.tag == f"{SVG}svg"
    width, height = int(root.get("width", "0")), int(root.get("height", "0"))
    panels = {g.get("data-method"): g for g in root.iter(f"{SVG}g") if g.get("class") == "method"}
    assert set(panels) == {"logits", "predict", "train_step"}
    logits = panels["logits"]
    boxes = {g.get("data-node"): "".join(g.itertext()).strip() for g in logits.iter(f"{SVG}g")
             if g.get("class") in ("input", "call", "output")}
    assert {"conv_1: Conv2D", "pool_1: MaxPool2D", "head: Dense", "input images", "output output_0"} \
        <= set(boxes.values())
    edges = [(_ends(_found(e.find(f"{SVG}path"))), e.findtext(f"{SVG}text")) for e in logits.iter(f"{SVG}g")
             if e.get("class") == "edge"]
    labels = {label for _, label in edges}
    assert {"f32[N, 28, 28, 1]", "f32[N, 32]", "f32[N, 10]", "bool[]"} <= labels
    for (x1, y1, x2, y2), _ in edges:  # every arrow inside the picture, pointing down the flow
        assert 0 <= min(x1, x2) and max(x1, x2) <= width and 0 <= y1 < y2 <= height
    # conv_1 feeds pool_1: an arrow from the one box to the other carries conv_1's output shape
    places = {g.get("data-node"): _found(g.find(f"{SVG}rect")) for g in logits.iter(f"{SVG}g") if g.get("data-node")}
    conv = next(node for node, text in boxes.items() if text == "conv_1: Conv2D")
    pool = next(node for node, text in boxes.items() if text == "pool_1: MaxPool2D")
    bottom = float(places[conv].get("y", "0")) + float(places[conv].get("height", "0"))
    top = float(places[pool].get("y", "0"))
    assert any(y1 == bottom and y2 == top and label == "f32[N, 28, 28, 16]" for (_, y1, _, y2), label in edges)
    assert all(_found(e.find(f"{SVG}path")).get("marker-end") == "url(#arrow)"
               for e in logits.iter(f"{SVG}g") if e.get("class") == "edge")
    assert root.find(f"{SVG}defs/{SVG}marker[@id='arrow']") is not None


def _ends(path: ET.Element) -> tuple[float, float, float, float]:
    """An arrow's two ends, from its path `M x1,y1 L x2,y2`."""
    match = re.fullmatch(r"M([-\d.]+),([-\d.]+) L([-\d.]+),([-\d.]+)", path.get("d", ""))
    assert match, path.get("d")
    x1, y1, x2, y2 = (float(v) for v in match.groups())
    return x1, y1, x2, y2


def _found(element: ET.Element | None) -> ET.Element:
    assert element is not None
    return element


def test_an_existing_svg_is_replaced_only_with_force(tmp_path, capsys):
    out = tmp_path / "mine.svg"
    out.write_text("<svg/>")
    assert main(["summary", str(EXAMPLES / "my_model.tfm"), "MyModel", "--svg", str(out)]) == 1
    assert "exists; pass --force" in capsys.readouterr().err and out.read_text() == "<svg/>"
    assert main(["summary", str(EXAMPLES / "my_model.tfm"), "MyModel", "--svg", str(out), "--force"]) == 0
    assert "dense_1: Dense" in out.read_text()
    assert main(["summary", str(EXAMPLES / "my_model.tfm"), "MyModel", "--svg", str(tmp_path / "m.png")]) == 2


def test_json_and_errors(capsys):
    assert main(["summary", str(EXAMPLES / "lstm_sequence.tfm"), "LSTMRegressor", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [row["path"] for row in data["submodules"]] == ["embed", "lstm", "lstm/cell", "head", "optimizer"]
    assert data["trainable"] == 7105 and data["non_trainable"] == 0
    assert main(["summary", str(EXAMPLES / "my_model.tfm"), "MyModle"]) == 1
    assert "did you mean 'MyModel'" in capsys.readouterr().err
    assert main(["summary", str(EXAMPLES / "my_model.tfm"), "MyModel", "--init", "classes=3"]) == 1
    assert "no parameter 'classes'" in capsys.readouterr().err


def test_trace_gives_the_sizes_the_analysis_gives(capsys):
    """The analysis types calls through library layers (their bodies at the caller's sizes), so the
    static table already has the sizes a trace finds."""
    static = tfm.summary(EXAMPLES / "cnn_classifier.tfm", "CNNClassifier")
    logits = next(m for m in static.methods if m.name == "logits")
    assert [c.output for c in logits.calls[:2]] == ["f32[N, 28, 28, 16]", "f32[N, 14, 14, 16]"]
    assert main(["summary", str(EXAMPLES / "cnn_classifier.tfm"), "CNNClassifier", "--trace"]) == 0
    captured = capsys.readouterr()
    assert "  pool_1  MaxPool2D               f32[N, 28, 28, 16]        f32[N, 14, 14, 16]    16" in captured.out
    assert "  norm    BatchNormalization      f32[N, 7, 7, 32], bool[]  f32[N, 7, 7, 32]      18" in captured.out
    assert "oneDNN" not in captured.err  # TensorFlow's start-up lines stay hidden


def test_trace_fills_in_a_size_the_analysis_leaves_unknown(tmp_path, capsys):
    """A slice bounded by a tensor's values (`x[:, :reduce_max(range(5))]`) has a size the checker does
    not compute (a size it knows, `shape(x)[1] // 2`, it does); TensorFlow's graph folds that constant,
    and --trace shows it."""
    source = tmp_path / "half.tfm"
    source.write_text("module Half:\n    fn call(x: f32[N, 8]) -> f32[N, ?]:\n        return x[:, :reduce_max(range(5))]\n\n"
                      "module Net:\n    sub half = Half()\n\n    fn call(x: f32[N, 8]) -> f32[N, ?]:\n"
                      "        return half(x)\n")
    static = tfm.summary(source, "Net")
    assert [c.output for c in static.methods[0].calls] == ["f32[N, ?]"]
    assert main(["summary", str(source), "Net", "--trace"]) == 0
    assert "  half  Half    f32[N, 8]  f32[N, 4]     9" in capsys.readouterr().out
