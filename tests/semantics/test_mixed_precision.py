"""Dtype policies as the checker types them (dsl/precision.py): under a mixed policy a layer takes any
float and gives its float results in the compute dtype (bf16, f16); a float32 layer still refuses a bf16
value (E050); submodules take their holder's policy, a module declares its own with a `dtype`
parameter, and an unknown policy name is E023. No TensorFlow here."""

from __future__ import annotations

from support import diagnostics_of
from tfm.dsl import analyze, nodes as n
from tfm.dsl.analysis import walk


def _sub_call_types(text: str) -> dict[str, str]:
    analysis = analyze(text, "p.tfm")
    return {analysis.calls[node].receiver or "": str(analysis.types[node])
            for module in analysis.program.modules for method in module.methods for node in walk(method.body)
            if isinstance(node, n.Call) and node in analysis.calls and analysis.calls[node].kind == "sub_method"}


def _errors(text: str) -> list:
    return [d for d in diagnostics_of(text, analyze_only=True) if d.severity == "error"]


MIXED = """\
module Net:
    sub conv = Conv2D(4, 3, padding="SAME", activation="relu", dtype="mixed_bfloat16")
    sub pool = MaxPool2D(2, dtype="mixed_bfloat16")
    sub flat = Flatten(dtype="mixed_bfloat16")
    sub head = Dense(10, dtype="mixed_float16")

    fn call(x: f32[N, 8, 8, 1]) -> f16[N, 10]:
        return head(flat(pool(conv(x))))
"""


def test_a_mixed_layers_float_results_are_in_its_compute_dtype():
    assert _errors(MIXED) == []
    types = _sub_call_types(MIXED)
    assert types["conv"] == "bf16[N, 8, 8, 4]"  # shapes still flow through the body
    assert types["pool"] == "bf16[N, 4, 4, 4]"
    assert types["flat"] == "bf16[N, 64]"
    assert types["head"] == "f16[N, 10]"  # a bf16 value into an f16 layer: its policy casts it


def test_a_declared_f32_result_is_an_error_for_a_bf16_value():
    found = _errors(MIXED.replace("-> f16[N, 10]", "-> f32[N, 10]"))
    assert [d.code for d in found] == ["E032"] and "got f16[N, 10]" in found[0].message


def test_a_bf16_value_into_a_float32_layer_is_still_e050():
    text = MIXED.replace('sub head = Dense(10, dtype="mixed_float16")', "sub head = Dense(10)").replace(
        "-> f16[N, 10]", "-> f32[N, 10]")
    found = _errors(text)
    assert [d.code for d in found] == ["E050"]
    assert "got bf16[N, 64]" in found[0].message and "cast(..., f32)" in (found[0].hint or "")
    assert 'dtype="mixed_bfloat16"' in (found[0].hint or "")
    # the explicit cast the hint names checks
    assert _errors(text.replace("head(flat(pool(conv(x))))", "head(cast(flat(pool(conv(x))), f32))")) == []


WIDE = """\
module Block:
    sub dense = Dense(4, 4)

    fn call(x: f32[N, 4]) -> f32[N, 4]:
        return dense(x)

module Net(dtype: str = "mixed_bfloat16"):
    sub block = Block()
    sub plain = Dense(4, 4, dtype="float32")

    fn call(x: f32[N, 4]) -> bf16[N, 4]:
        return block(x)

    fn full(x: f32[N, 4]) -> f32[N, 4]:
        return plain(x)
"""


def test_a_module_wide_policy_reaches_its_submodules_and_an_explicit_one_wins():
    assert _errors(WIDE) == []
    types = _sub_call_types(WIDE)
    assert types["block"] == "bf16[N, 4]"  # Block (and its Dense) take Net's policy
    assert types["plain"] == "f32[N, 4]"


def test_an_unknown_policy_is_e023():
    found = _errors(MIXED.replace('dtype="mixed_float16"', 'dtype="float16"'))
    assert found[0].code == "E023" and "mixed_float16" in found[0].message  # (then typed as no policy)
    found = _errors(WIDE.replace('dtype: str = "mixed_bfloat16"', 'dtype: str = "bf16"'))
    assert found[0].code == "E023" and "'bf16'" in found[0].message  # (then typed as float32)
    found = _errors(WIDE.replace('dtype: str = "mixed_bfloat16"', "dtype: int = 3"))
    assert found[0].code == "E023" and "dtype policy, a `str`" in found[0].message


LOSS = """\
module Classifier:
    sub head = Dense(4, 3, dtype="mixed_bfloat16")

    fn loss(x: f32[N, 4], labels: i32[N], targets: f32[N, 3]) -> (xent: f32[], mse: f32[], raw: bf16[N]):
        xent = reduce_mean(sparse_categorical_crossentropy(labels, head(x), from_logits=True))
        mse = mean_squared_error(targets, head(x))
        return xent, mse, sparse_softmax_cross_entropy_with_logits(labels, head(x))
"""


def test_keras_losses_compute_a_mixed_output_in_f32_and_tf_nn_losses_do_not():
    """keras.losses cast to their dtype, float32 (labels of another float dtype too); tf.nn's do not."""
    assert _errors(LOSS) == []
    analysis = analyze(LOSS, "p.tfm")
    ops = {analysis.calls[node].op.name: str(analysis.types[node])  # type: ignore[union-attr]
           for method in analysis.program.modules[0].methods for node in walk(method.body)
           if isinstance(node, n.Call) and analysis.calls.get(node) and analysis.calls[node].kind == "op"}
    assert ops["sparse_categorical_crossentropy"] == "f32[N]"
    assert ops["mean_squared_error"] == "f32[]"
    assert ops["sparse_softmax_cross_entropy_with_logits"] == "bf16[N]"


METRIC = """\
module Scored(dtype: str = "mixed_bfloat16"):
    sub head = Dense(4, 3)
    sub accuracy = SparseCategoricalAccuracy()

    fn evaluate(x: f32[N, 4], labels: i32[N]) -> f32[]:
        accuracy.update_state(labels, head(x))
        return accuracy.result()
"""


def test_a_metric_stays_float32_and_takes_a_bf16_prediction():
    """As a Keras Metric (dtype float32): it casts its float inputs, and its result is f32."""
    assert _errors(METRIC) == []
    types = _sub_call_types(METRIC)
    assert types["head"] == "bf16[N, 3]" and types["accuracy"] == "f32[]"


def test_a_method_that_returns_an_explicit_f32_cast_stays_f32_under_a_mixed_policy():
    """`activity_loss` casts its penalty to f32 at every return, so its call is f32 under a module-wide mixed
    policy (as the generated code computes it), while `call`'s result is in the compute dtype."""
    text = ('module Net(dtype: str = "mixed_bfloat16"):\n'
            '    sub dense = Dense(4, 2, activity_regularizer="l2(0.01)")\n\n'
            '    fn loss(x: f32[N, 4]) -> f32[]:\n'
            '        y = dense(x)\n'
            '        return reduce_mean(cast(y, f32)) + dense.activity_loss(y)\n')
    assert _errors(text) == []
    assert _sub_call_types(text) == {"dense": "f32[]"}  # the last call of dense read: activity_loss
    widened = text.replace("reduce_mean(cast(y, f32)) + dense.activity_loss(y)", "reduce_mean(y)")
    assert [d.code for d in _errors(widened)] == ["E032"]  # `call`'s result is bf16: returning it as f32 is refused
