"""Each construct of docs/language.md, compiled and run on real TensorFlow."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import tfm
from tfm import compile_text, dsl
from tfm.dsl.parser import parse
from support import EXAMPLES, ROOT, doc_blocks

_counter = iter(range(10**6))
_SOURCES: Path | None = None


@pytest.fixture(autouse=True, scope="module")
def _sources(tmp_path_factory):
    global _SOURCES
    _SOURCES = tmp_path_factory.mktemp("language")


def build(source: str, module: str | None = None, **init):
    """Compile `source` (a .tfm text), import it, and build its first (or named) module."""
    path = _SOURCES / f"lang_{next(_counter)}.tfm"
    path.write_text(source)
    generated = tfm.load(path)
    name = module or generated.__all__[0]
    return getattr(generated, name)(**init)


def test_static_parameters_size_shapes_and_signatures():
    m = build("module M(n: int = 3):\n"
              "    var w: f32[n, 2] = ones()\n"
              "    fn f(x: f32[B, n]) -> f32[B, 2]:\n"
              "        return x @ w\n", n=4)
    assert m.w.shape == (4, 2)
    np.testing.assert_allclose(m.f(tf.ones([5, 4])).numpy(), np.full((5, 2), 4.0))
    with pytest.raises((TypeError, ValueError)):
        m.f(tf.ones([5, 3]))


def test_variable_initial_values_and_state():
    m = build("module M(bias0: f32 = 0.5, seed: int = 3):\n"
              "    var table: f32[2, 2] = [[1.0, 0.0], [0.0, 1.0]]\n"
              "    var b: f32[] = bias0\n"
              "    var z: f32[3] = full(7.0)\n"
              "    var r: f32[4] = normal(seed=seed)\n"
              "    var u: f32[4] = uniform(minval=2.0, maxval=3.0, seed=1)\n"
              "    var t: f32[100] = truncated_normal(seed=2)\n"
              "    var g: f32[3, 4] = glorot_normal(seed=2)\n"
              "    var h: f32[3, 4] = he_normal(seed=2)\n"
              "    state steps: i64[] = 0\n"
              "    fn tick() -> i64[]:\n"
              "        steps += 1\n"
              "        return steps\n")
    np.testing.assert_array_equal(m.table.numpy(), np.eye(2))
    assert float(m.b) == 0.5 and list(m.z.numpy()) == [7.0] * 3
    assert np.all((m.u.numpy() >= 2.0) & (m.u.numpy() < 3.0))
    assert np.all(np.abs(m.t.numpy()) <= 2.0)
    assert m.steps.dtype == tf.int64 and not m.steps.trainable
    assert int(m.tick()) == 1 and int(m.tick()) == 2
    assert len(m.trainable_variables) == 8


def test_typed_locals_and_augmented_assignment():
    m = build("module M:\n"
              "    fn f(x: f32[]) -> f32[]:\n"
              "        y: f32[] = 2\n"
              "        y *= x\n"
              "        y /= 4.0\n"
              "        y -= 1.0\n"
              "        return y\n")
    assert float(m.f(6.0)) == pytest.approx(2.0)


def test_if_elif_else_on_tensors():
    m = build("module M:\n"
              "    fn sign3(x: f32[]) -> i32[]:\n"
              "        if x > 0.0:\n"
              "            s = 1\n"
              "        elif x < 0.0:\n"
              "            s = -1\n"
              "        else:\n"
              "            s = 0\n"
              "        return s\n")
    assert [int(m.sign3(v)) for v in (2.0, -3.0, 0.0)] == [1, -1, 0]


def test_static_for_unrolls_and_for_does_not():
    m = build("module M(layers: int = 3):\n"
              "    fn unrolled(x: f32[]) -> f32[]:\n"
              "        y = x\n"
              "        static for i in range(layers):\n"
              "            y = y * 2.0\n"
              "        return y\n"
              "    fn looped(x: f32[], n: i32[]) -> f32[]:\n"
              "        y = x\n"
              "        for i in range(n):\n"
              "            y = y * 2.0\n"
              "        return y\n", layers=3)
    assert float(m.unrolled(1.0)) == 8.0
    assert float(m.looped(1.0, 5)) == 32.0
    unrolled_ops = [op.type for op in m.unrolled.get_concrete_function().graph.get_operations()]
    looped_ops = [op.type for op in m.looped.get_concrete_function().graph.get_operations()]
    assert unrolled_ops.count("Mul") == 3 and "While" not in unrolled_ops
    assert "While" in looped_ops or "StatelessWhile" in looped_ops


def test_while_break_continue():
    m = build("module M:\n"
              "    fn f(n: i32[]) -> i32[]:\n"
              "        i = 0\n"
              "        total = 0\n"
              "        while i < n:\n"
              "            i += 1\n"
              "            if i % 2 == 0:\n"
              "                continue\n"
              "            if i > 7:\n"
              "                break\n"
              "            total += i\n"
              "        return total\n")
    assert int(m.f(100)) == 1 + 3 + 5 + 7


def test_operators_indexing_and_logic():
    m = build("module M:\n"
              "    fn f(x: f32[3, 4]) -> (a: f32[3], b: f32[1, 4], c: f32[], d: bool[3, 4], e: f32[3, 4]):\n"
              "        a = x[:, 0]\n"
              "        b = x[None, 1, :]\n"
              "        c = -x[2, 3] ** 2\n"
              "        d = (x > 1.0 and x < 5.0) or not x == x\n"
              "        e = x // 2.0 + x % 2.0\n"
              "        return a, b, c, d, e\n")
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = m.f(x)
    np.testing.assert_array_equal(out["a"], x[:, 0])
    np.testing.assert_array_equal(out["b"], x[None, 1, :])
    assert float(out["c"]) == -121.0
    np.testing.assert_array_equal(out["d"], (x > 1) & (x < 5))
    np.testing.assert_array_equal(out["e"], x // 2 + x % 2)


def test_string_ops_and_dtype_arguments():
    m = build("module M:\n"
              "    fn f(s: string[N]) -> (joined: string[], lengths: i32[N], upper: string[N]):\n"
              "        return reduce_join(s, separator=\"-\"), string_length(s), upper(s)\n")
    out = m.f(tf.constant(["ab", "cde"]))
    assert out["joined"].numpy() == b"ab-cde"
    assert list(out["lengths"].numpy()) == [2, 3]
    assert list(out["upper"].numpy()) == [b"AB", b"CDE"]


def test_random_ops_differ_between_calls():
    m = build("module M:\n"
              "    fn sample() -> f32[3]:\n"
              "        return random_normal([3])\n")
    assert not np.array_equal(m.sample().numpy(), m.sample().numpy())


def test_submodule_method_call_and_self_call():
    m = build("module Encoder(units: int = 2):\n"
              "    var w: f32[3, units] = ones()\n"
              "    fn encode(x: f32[N, 3]) -> f32[N, units]:\n"
              "        return x @ w\n"
              "module Model:\n"
              "    sub enc = Encoder(units=4)\n"
              "    fn features(x: f32[N, 3]) -> f32[N, 4]:\n"
              "        return enc.encode(x)\n"
              "    fn total(x: f32[N, 3]) -> f32[]:\n"
              "        return reduce_sum(features(x))\n", module="Model")
    assert float(m.total(tf.ones([2, 3]))) == 24.0
    assert [v.name for v in m.variables] == ["model/enc/w:0"]


def test_jit_attribute_compiles_with_xla():
    m = build("module M:\n"
              "    @jit\n"
              "    fn f(x: f32[4]) -> f32[4]:\n"
              "        return relu(x) * 2.0\n")
    np.testing.assert_array_equal(m.f(tf.constant([-1.0, 0.0, 1.0, 2.0])).numpy(), [0, 0, 2, 4])
    assert m.f._jit_compile is True


def test_einsum_and_segment_ops():
    m = build("module M:\n"
              "    fn f(a: f32[2, 3], b: f32[3, 2], ids: i32[4], d: f32[4]) -> (p: f32[2, 2], s: f32[2]):\n"
              "        return einsum(\"ij,jk->ik\", a, b), segment_sum(d, ids)\n")
    a, b = np.ones((2, 3), np.float32), np.ones((3, 2), np.float32)
    out = m.f(a, b, tf.constant([0, 0, 1, 1]), tf.constant([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(out["p"], a @ b)
    np.testing.assert_array_equal(out["s"], [3.0, 7.0])


def test_device_placement_on_logical_cpus(tmp_path):
    from support import run_python

    result = run_python(
        "import numpy as np, tensorflow as tf\n"
        "import tfm\n"
        "tfm.configure(logical_devices=2)\n"
        "mod = tfm.load('examples/linear_regression.tfm')\n"
        "strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])\n"
        "assert strategy.num_replicas_in_sync == 2\n"
        "with strategy.scope():\n"
        "    model = mod.LinearRegression(learning_rate=0.1)\n"
        "x = np.random.default_rng(0).normal(size=(64, 3)).astype('float32')\n"
        "y = x @ np.array([[1.0], [2.0], [3.0]], 'float32')\n"
        "first = None\n"
        "for _ in range(60):\n"
        "    loss = strategy.run(model.train_step, args=(x, y))['loss']\n"
        "    loss = strategy.reduce('MEAN', loss, axis=None)\n"
        "    first = first if first is not None else float(loss)\n"
        "assert float(loss) < first / 10, (first, float(loss))\n"
        "with tf.device('/cpu:1'):\n"
        "    out = model.predict(x[:2])\n"
        "assert out.device.endswith('CPU:1'), out.device\n"
        "print('ok')\n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


def test_registry_defaults_are_tensorflows_or_passed_explicitly():
    """concat's axis has a registry default TensorFlow lacks: the generator passes it (see test_op_registry.py
    for every entry against TensorFlow's signature); a required TensorArray size stays required."""
    m = build("module M:\n    fn f(x: f32[2]) -> f32[4]:\n        return concat([x, x])\n")
    assert m.f(np.ones(2, np.float32)).shape == (4,)
    with pytest.raises(dsl.TfmError, match="E020"):  # TensorFlow requires a TensorArray's size
        dsl.analyze("module M:\n    fn f(x: f32[2]) -> f32[?]:\n        arr = TensorArray(f32)\n"
                    "        arr.write(0, x[0])\n        return arr.stack()\n", "m.tfm")


def test_positional_arguments_reach_the_parameter_they_name():
    """`gather(x, v, 1)` is axis 1 although tf.gather's third parameter is validate_indices, and a conv
    lowered to tf.nn.convolution gets its dilations by keyword (its fifth parameter is data_format)."""
    m = build("module M:\n    var k: f32[2, 1, 1] = ones()\n\n"
              "    fn f(x: f32[2, 3], v: i32[2], s: f32[1, 5, 1]) -> (a: f32[2, 2], c: f32[1, 3, 1]):\n"
              "        return gather(x, v, 1), conv1d(s, k, 1, 'VALID', 2)\n")
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = m.f(x, np.array([2, 0], np.int32), np.arange(5, dtype=np.float32).reshape(1, 5, 1))
    np.testing.assert_array_equal(out["a"], [[2, 0], [5, 3]])
    np.testing.assert_array_equal(out["c"][0, :, 0], [2, 4, 6])  # s[i] + s[i + 2]


# Where a docs block that is not a whole file is compiled: among a module's members, or a method's statements.
_SCAFFOLDS = ("module M:\n", "module M:\n    fn f():\n")
# A `...` line elides members or statements; one of these stands in for it.
_STAND_INS = ("var elided: f32[] = 0.0", "elided = 0")
# What a fragment may be told about names its page declares around it (and the scaffold's method, which
# declares no outputs, about the fragment's returns); nothing else.
_FROM_ELSEWHERE = {"E010", "E012", "E013", "E018", "E022", "E059"}
_LANGUAGE_BLOCKS = doc_blocks(pages=[ROOT / "README.md", ROOT / "docs" / "language.md"])


def _in_place(text: str) -> tuple[str, str]:
    """(scaffold, source): `text` as a whole file if it parses as one, else inside the first scaffold."""
    for scaffold in ("", *_SCAFFOLDS):
        for stand_in in _STAND_INS:
            source = scaffold + textwrap.indent(text.replace("...\n", stand_in + "\n"), "    " * scaffold.count("\n"))
            try:
                parse(source, "doc.tfm")
            except dsl.TfmError:
                continue
            return scaffold, source
    raise AssertionError(f"parses neither as a file, nor as members, nor as statements:\n{text}")


@pytest.mark.parametrize("where, text", _LANGUAGE_BLOCKS, ids=[where for where, _ in _LANGUAGE_BLOCKS])
def test_language_examples_in_docs_compile(where, text):
    """Each ```tfm block of the README and docs/language.md, as the page has it. A whole file without
    imports compiles; a fragment, or a file importing others, may be told only about what it uses from
    around it (unknown names, modules and dims, a missing imported file)."""
    scaffold, source = _in_place(text)
    allowed = set() if not scaffold and "import " not in text else _FROM_ELSEWHERE
    allowed |= {"E032"} if scaffold == _SCAFFOLDS[-1] else set()
    try:
        compile_text(source, "doc.tfm")
    except dsl.TfmError as exc:
        wrong = [d for d in exc.diagnostics if d.code not in allowed]
        assert not wrong, f"{where}:\n{dsl.render_text(wrong, {'doc.tfm': source})}"


def test_the_docs_open_with_whole_programs_that_compile():
    """The README's tour is examples/demo_module.tfm, and language.md opens with a module header: both
    compile as they stand (the test above allows them nothing)."""
    whole = [text for where, text in _LANGUAGE_BLOCKS if not _in_place(text)[0] and "import " not in text]
    demo = (EXAMPLES / "demo_module.tfm").read_text(encoding="utf-8")
    assert "".join(line for line in demo.splitlines(keepends=True) if not line.startswith("#")) in whole
    assert any(text.startswith("module Classifier(") for text in whole), whole


def test_tile_broadcast_to_and_argsort_shapes():
    m = build("module M:\n"
              "    fn f(x: f32[2, 3]) -> (t: f32[4, 6], b: f32[5, 2, 3], order: i32[2, 3]):\n"
              "        return tile(x, [2, 2]), broadcast_to(x, [5, 2, 3]), argsort(x)\n")
    out = m.f(np.arange(6, dtype=np.float32).reshape(2, 3)[:, ::-1].copy())
    assert out["t"].shape == (4, 6) and out["b"].shape == (5, 2, 3)
    np.testing.assert_array_equal(out["order"].numpy(), [[2, 1, 0], [2, 1, 0]])
