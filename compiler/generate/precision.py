"""The generated code of dtype policies (dsl/precision.py): the casts one rule derives for every module.

Each module class takes `dtype=None` (or its own `dtype` parameter) and keeps `self._dtype_policy`;
a submodule without its own `dtype` is built with its holder's. In a method that uses its module, a
float32 input is cast to the compute dtype on entry and a float32 variable is read through
`_autocast` (the runtime helpers in compiler/generate/runtime.py), except where the variable itself is
meant (an update's receiver, a gradient source, an optimizer's variables); a value stored into a
float32 variable is cast back (`_stored`). Under float32 the helpers add no op: the traced graph is the
one the module had before policies.
"""

from __future__ import annotations

from dataclasses import replace

from tfm.dsl import nodes as n
from tfm.dsl.analysis import ModuleInfo
from tfm.dsl.precision import POLICY_PARAM, declares_policy, is_metric

__all__ = ["POLICY_PARAM", "HELPERS", "init_keyword", "policy_line", "inherited_keyword", "input_casts",
           "variable_read", "float32_input", "stored", "served_contracts", "tflite_refusal"]
from tfm.generate.hygiene import identifier as ident

POLICY_ATTRIBUTE = "_dtype_policy"
HELPERS = ("_dtype_policy", "_autocast", "_stored")


def init_keyword(module: n.ModuleDef) -> list[str]:
    """The keyword-only `dtype=None` every module's `__init__` takes, unless it declares the parameter."""
    return [] if declares_policy(module) else [f"{POLICY_PARAM}=None"]


def policy_line() -> str:
    """`__init__`'s line that settles the instance's policy (checked: one of the three names)."""
    return f"self.{POLICY_ATTRIBUTE} = _dtype_policy({POLICY_PARAM})"


def inherited_keyword(given: dict[str, n.Node], target: ModuleInfo) -> str | None:
    """The keyword a holder adds to a submodule's construction: its own policy, unless the `sub`
    passes `dtype=` or the submodule declares its own default."""
    if POLICY_PARAM in given or declares_policy(target.decl) or is_metric(target.decl):
        return None  # a metric is float32 as Keras' (dsl.precision.is_metric)
    return f"{POLICY_PARAM}=self.{POLICY_ATTRIBUTE}"


def input_casts(float32_inputs: list[str]) -> list[str]:
    """`x = _autocast(x, self._dtype_policy)` for each input declared f32: a mixed policy casts it on entry."""
    return [f"{ident(name)} = _autocast({ident(name)}, self.{POLICY_ATTRIBUTE})" for name in float32_inputs]


def variable_read(name: str) -> str:
    """A float32 variable read as a value: in the compute dtype."""
    return f"_autocast(self.{ident(name)}, self.{POLICY_ATTRIBUTE})"


def float32_input(value: str) -> str:
    """A float argument of a Keras-style loss (dsl.precision.casts_to_float32): computed in f32."""
    return f"_float32({value})"


def stored(value: str, variable: str) -> str:
    """A value assigned to a float32 variable, cast back to the variable's dtype."""
    return f"_stored({value}, {variable})"


# A policy's compute dtype as TensorFlow names it (the dtype of a float32 result under the policy).
_TF_COMPUTE = {"float32": "float32", "mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}


def served_contracts(contracts: list, policy: str | None) -> list:
    """Exported signatures' contracts (compiler/exports) for an instance under `policy`: inputs as
    declared (a float32 input is cast inside), float32 outputs in the compute dtype."""
    compute = _TF_COMPUTE.get(policy or "float32", "float32")
    if compute == "float32":
        return contracts
    return [replace(c, outputs=tuple((name, compute if dtype == "float32" else dtype, rank)
                                     for name, dtype, rank in c.outputs)) for c in contracts]


def tflite_refusal(policy: str | None, allow_flex: bool) -> str | None:
    """Why a module under a mixed policy is not converted to TFLite (None if it may be): TFLite's builtin
    ops compute in float32, and the policy's f16/bf16 ops would each need a Select-TF op."""
    if policy in (None, "float32") or allow_flex:
        return None
    return (f"TFLite's builtin ops compute in float32, and this module computes in {_TF_COMPUTE[policy]} (its dtype "
            f"policy is {policy}): export a float32 build of it given its trained weights (its variables are "
            f"float32 under every policy, so they load as they are), with --quantize float16 for a smaller model, "
            f"or pass --allow-flex to convert the {_TF_COMPUTE[policy]} "
            f"ops as Select-TF ops")
