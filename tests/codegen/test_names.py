"""Any name the checker accepts builds and runs, in every role a name can have.

Names are drawn from Python's builtins, keyword-adjacent words, AutoGraph's and tf.Module's own names,
and tfm's helper names; each is tried as a module, parameter, variable, submodule, method, input, local,
loop and tape target, output and typed list. A name is either refused with a located diagnostic or
compiled, built and called in TensorFlow. CI tries a deterministic sample; `--run-slow` tries all.
"""

from __future__ import annotations

import builtins
import keyword
import math
import random

import pytest
import tensorflow as tf

import tfm
from tfm import dsl
from tfm.dsl.names import MODULE_ATTRIBUTES

HELPER_NAMES = ["activate", "same_dim", "range", "len", "zip", "enumerate", "ValueError", "super", "SGD_", "Adam_",
                "Dense", "call", "minimize", "write", "stack", "TFM_SOURCE", "TFM_LINE_MAP", "class_Inner",
                "tfm_generated", "M", "get", "x", "tensorflow", "np", "numpy", "Module", "function", "TensorSpec"]
AUTOGRAPH_NAMES = ["ag", "ag__", "fscope", "retval_", "do_return", "loop_body", "get_state", "set_state", "itr",
                   "cond", "body", "if_body", "else_body", "iterate_names", "undefined", "ld", "converted_call",
                   "autograph", "STD", "ConversionOptions", "tf_", "self_", "input", "open", "vars", "compile",
                   "exit", "globals", "getattr", "exec", "eval", "print", "name", "signatures", "variables"]
KEYWORD_ADJACENT = ["match", "case", "type", "lambda_", "None_", "True_", "async_", "await_", "nonlocal_", "Ellipsis",
                    "NotImplemented", "__debug__", "_", "a__b", "self", "tf", "cls", "kwargs", "args", "key", "value"]
ALL_NAMES = sorted(set(dir(builtins)) | set(HELPER_NAMES) | set(AUTOGRAPH_NAMES) | set(KEYWORD_ADJACENT)
                   | set(MODULE_ATTRIBUTES) | set(keyword.softkwlist))

ROLES = {
    "module": "module {n}:\n    var v: f32[] = 1.0\n\n    fn get() -> f32[]:\n        return v\n\n"
              "module HolderOf:\n    sub inner = {n}()\n\n    fn get() -> f32[]:\n        return inner.get() + 1.0\n",
    "param": "module RoleParam({n}: int = 2):\n    var w: f32[{n}] = ones()\n\n"
             "    fn get() -> f32[]:\n        return reduce_sum(w) * cast({n}, f32)\n",
    "param_like_module": "module {n}:\n    var v: f32[] = 1.0\n\n    fn get() -> f32[]:\n        return v\n\n"
                         "module Shadowing({n}: int = 3):\n    sub inner = {n}()\n    var w: f32[{n}] = ones()\n\n"
                         "    fn get() -> f32[]:\n        return inner.get() + reduce_sum(w)\n",
    "variable": "module RoleVar:\n    var {n}: f32[] = 1.0\n\n    fn get() -> f32[]:\n        {n}.assign_add(1.0)\n"
                "        return {n}\n",
    "state": "module RoleState:\n    state {n}: i32[] = 0\n\n    fn get() -> f32[]:\n        {n} += 1\n"
             "        return cast({n}, f32)\n",
    "submodule": "module RoleSub:\n    sub {n} = Dense(2, 2, seed=1)\n\n    fn get() -> f32[]:\n"
                 "        return reduce_sum({n}(ones([1, 2])))\n",
    "method": "module RoleMethod:\n    fn {n}(a: f32[]) -> f32[]:\n        return a * 2.0\n\n"
              "    fn get() -> f32[]:\n        return {n}(1.5)\n",
    "input": "module RoleInput:\n    fn twice({n}: f32[]) -> f32[]:\n        return reduce_sum({n} * ones([2]), axis=0)\n\n"
             "    fn get() -> f32[]:\n        return twice(1.5)\n",
    "local": "module RoleLocal:\n    fn get() -> f32[]:\n        {n} = reduce_mean(ones([2]), axis=0)\n        if {n} > 0.0:\n"
             "            {n} = {n} + 1.0\n        return {n}\n",
    "loop_target": "module RoleLoop:\n    fn get() -> f32[]:\n        total = 0\n        for {n} in range(3):\n"
                   "            total += {n}\n        return cast(total, f32)\n",
    "tape": "module RoleTape:\n    var v: f32[] = 1.0\n    sub opt = SGD(learning_rate=0.1)\n\n"
            "    fn get() -> f32[]:\n        with GradientTape() as {n}:\n            loss = v * v\n"
            "        opt.minimize(loss, {n})\n        return v\n",
    "output": "module RoleOutput:\n    fn get() -> ({n}: f32[], other: f32[]):\n        return 1.0, 2.0\n",
    "typed_list": "module RoleList:\n    fn get() -> f32[]:\n        {n}: list[f32[]] = []\n"
                  "        for i in range(2):\n            {n}.append(cast(i, f32))\n        return reduce_sum({n}.stack())\n",
}


def _sample() -> list[str]:
    rng = random.Random(6)
    must = ["len", "zip", "enumerate", "ValueError", "ag__", "self", "signatures", "input", "open", "vars",
            "compile", "exit", "globals", "getattr", "range", "name", "super", "Inner", "print", "type", "match",
            "dict", "tuple"]
    return sorted(set(must) | set(rng.sample(ALL_NAMES, 30)))


def _try(name: str, tmp_path) -> tuple[int, int]:
    accepted = []
    for role, template in ROLES.items():
        text = template.format(n=name)
        try:
            tfm.compile_text(text, f"{role}.tfm")
        except dsl.InternalError as exc:
            raise AssertionError(f"internal error for `{name}` as {role}:\n{exc}") from exc
        except dsl.TfmError as exc:
            assert all(d.code != "E099" and d.span.line >= 1 for d in exc.diagnostics)
            continue
        accepted.append((role, text))
    for role, text in accepted:
        source = tmp_path / f"{role}_{abs(hash(name))}.tfm"
        source.write_text(text)
        module = tfm.load(source)
        try:
            for class_name in module.__all__:
                instance = getattr(module, class_name)()
                result = instance.get()
                values = result.values() if isinstance(result, dict) else [result]
                assert all(math.isfinite(float(v)) for v in values)
        except Exception as exc:
            raise AssertionError(f"`{name}` as {role} passed the checks but failed in TensorFlow:\n{text}\n"
                                 f"{type(exc).__name__}: {str(exc)[:1500]}") from exc
    return len(accepted), len(ROLES) - len(accepted)


@pytest.mark.parametrize("name", _sample())
def test_a_name_in_every_role_is_refused_or_runs(name, tmp_path):
    _try(name, tmp_path)


@pytest.mark.slow
def test_every_name_in_every_role(tmp_path):
    totals, failures = [0, 0], []
    for name in ALL_NAMES:
        try:
            accepted, refused = _try(name, tmp_path)
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0])
            continue
        totals[0] += accepted
        totals[1] += refused
    assert not failures, "\n".join(failures)
    print(f"\nnames: {len(ALL_NAMES)} names x {len(ROLES)} roles: {totals[0]} built and ran, {totals[1]} refused")


def test_module_attributes_match_tensorflow():
    """The member names tfm refuses are exactly tf.Module's public attributes and SavedModel's own."""
    public = {name for name in dir(tf.Module) if not name.startswith("_")}
    assert MODULE_ATTRIBUTES == public | {"signatures"}


def test_signatures_is_refused_as_a_member():
    with pytest.raises(dsl.TfmError, match="E014"):
        tfm.compile_text("module M:\n    var signatures: f32[] = 1.0\n", "m.tfm")
