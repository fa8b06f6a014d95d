"""The runtime helpers are a real module (`tfm.generate.runtime`): importable, and agreeing with the
registry's facts about them. The generator copies what a program uses, dependencies computed."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import tensorflow as tf

from tfm.dsl.library import OPTIMIZERS
from tfm.dsl.ops import ACTIVATIONS, INITIALIZERS, OPS
from tfm.generate import runtime
from tfm.generate.helpers import definitions, helpers_text, with_dependencies


def test_activations_are_the_registrys():
    assert tuple(runtime._ACTIVATIONS) == ACTIVATIONS


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_each_activation_runs(name):
    x = tf.constant([[-1.0, 0.5, 2.0]])
    assert runtime._activate(x, name).shape == (1, 3)


def test_every_registry_helper_is_defined():
    used = {op.helper for op in (*OPS.values(), *INITIALIZERS.values()) if op.helper}
    assert used <= definitions().keys(), used - definitions().keys()


def test_optimizers_are_tensorflows_with_their_parameters_and_defaults():
    """Each optimizer a .tfm may hold is tf.keras.optimizers' own, and tfm check knows its parameters
    and defaults exactly as TensorFlow declares them."""
    for name, builtin in OPTIMIZERS.items():
        params = inspect.signature(getattr(tf.keras.optimizers, name).__init__).parameters
        for param in builtin.params:
            assert params[param.name].default == param.default, (name, param.name)
        optimizer = runtime._optimizer(getattr(tf.keras.optimizers, name), [tf.Variable([1.0])], name="opt")
        assert isinstance(optimizer, getattr(tf.keras.optimizers, name)) and optimizer.built


def test_schedules_are_tensorflows_with_their_parameters_and_defaults():
    from tfm.dsl.library import SCHEDULES

    for name, builtin in SCHEDULES.items():
        params = inspect.signature(getattr(tf.keras.optimizers.schedules, name).__init__).parameters
        declared = [p.name for p in builtin.params]
        assert declared == [k for k in params if k not in ("self", "name")], name
        for param in builtin.params:
            expected = params[param.name].default
            assert param.required if expected is inspect.Parameter.empty else param.default == expected


def test_dependencies_are_computed_from_the_source():
    names = [d.name for d in with_dependencies({"_init_glorot_uniform"})]
    assert set(names) == {"_init_glorot_uniform", "_init_uniform", "_seed_pair", "_fans"}
    assert names == sorted(names, key=lambda n: definitions()[n].order)
    with pytest.raises(KeyError):
        with_dependencies({"_no_such_helper"})


def test_copied_helpers_run_alone():
    """The copied text is self-contained given the generated header's names."""
    namespace = {"tf": tf, "_len": len, "_ValueError": ValueError}
    exec(helpers_text({"_init_glorot_uniform"}), namespace)  # noqa: S102 - tfm's own source
    value = namespace["_init_glorot_uniform"]([3, 4], tf.float32, seed=1)
    np.testing.assert_array_equal(value.numpy(), runtime._init_glorot_uniform([3, 4], tf.float32, seed=1).numpy())
