"""Dtype policies (Keras' mixed precision), as the checker sees them.

Every module takes a `dtype` policy: "float32" (the default), "mixed_float16" or "mixed_bfloat16". One
rule serves every module, so no layer needs a copy per dtype: under a mixed policy a module keeps its
variables in f32 and computes in the policy's compute dtype (f16, bf16) as Keras' autocast does:
float inputs are cast to the compute dtype on entry, its float variables are read as the compute dtype
(and values stored into them cast back), so its float results are in the compute dtype. A submodule
takes its holder's policy unless its `sub` passes `dtype=`; a module declares its own default (for
itself and what it holds) as a parameter, `module Net(dtype: str = "mixed_bfloat16")`.

The checker types a call by the callee's policy: seen from the caller, a mixed-policy method takes any
float argument where it declares f32 (the policy casts it) and gives its f32 results in the compute
dtype. A float32 module casts nothing: a bf16 value into it stays E050. The generator emits the
casts (`_autocast`, `_dtype_policy` in compiler/generate/runtime.py).
"""

from __future__ import annotations

from . import nodes as n
from .folding import UNKNOWN_VALUE, evaluate
from .tensor_types import FLOATS, OutputsT, TensorT, Type

POLICY_PARAM = "dtype"
FLOAT32 = "float32"
# policy -> its compute dtype (the variables are f32 under each)
POLICIES: dict[str, str] = {FLOAT32: "f32", "mixed_float16": "f16", "mixed_bfloat16": "bf16"}
# `tfm train --mixed-precision` and `tfm.train(mixed_precision=...)`: the short names
SHORT_NAMES: dict[str, str] = {"bf16": "mixed_bfloat16", "f16": "mixed_float16", "float32": FLOAT32}


def declared_policy(module: n.ModuleDef | None) -> str:
    """A module's own default policy: its `dtype` parameter's default if it declares one (a module-wide
    declaration), else float32."""
    for param in module.params if module is not None else ():
        if param.name == POLICY_PARAM and param.default is not None:
            value = evaluate(param.default)
            return value if isinstance(value, str) and value in POLICIES else FLOAT32
    return FLOAT32


def declares_policy(module: n.ModuleDef | None) -> bool:
    return module is not None and any(p.name == POLICY_PARAM for p in module.params)


def sub_policy(argument: n.Node | None, holder_policy: str, target: n.ModuleDef | None,
               env: dict[str, object] | None = None) -> str | None:
    """The policy a submodule is built with: its `dtype=` argument (a literal, or a constructor
    parameter's value in `env`), else its own declared default, else its holder's (a metric's: float32).
    None when the argument's value is not known."""
    if argument is None:
        if is_metric(target):
            return FLOAT32
        return declared_policy(target) if declares_policy(target) else holder_policy
    value = evaluate(argument, env or {})
    if value is UNKNOWN_VALUE or not isinstance(value, str) or value not in POLICIES:
        return None
    return value


def policy_problem(value: object) -> str | None:
    """Why `value` is no dtype policy (None if it is one, or not known before the module is built)."""
    if value is UNKNOWN_VALUE or (isinstance(value, str) and value in POLICIES):
        return None
    return f"`dtype` is a policy: one of {', '.join(repr(p) for p in POLICIES)}, got {value!r}"


def mixed(policy: str | None) -> bool:
    return policy is not None and policy != FLOAT32


# A metric (a module with these methods, as `tfm train` finds them) is float32 under every holder's
# policy and casts its float inputs to f32, as a Keras Metric (its dtype is float32) does.
METRIC_METHODS = ("update_state", "result", "reset_state")


def is_metric(module: n.ModuleDef | None) -> bool:
    return module is not None and all(any(m.name == name for m in module.methods) for name in METRIC_METHODS)


def casts_inputs(policy: str | None, module: n.ModuleDef | None) -> bool:
    """A call of `module` under `policy` casts its float inputs on entry: a mixed policy, or a metric."""
    return mixed(policy) or is_metric(module)


def cast_argument(value: Type, casts: bool) -> Type:
    """An argument as the method sees it after the cast on entry: a float tensor becomes f32 for the
    check against the declared f32 input (it runs in the compute dtype)."""
    if casts and isinstance(value, TensorT) and value.dtype in FLOATS:
        return TensorT("f32", value.shape)
    return value


def computed_result(result: Type, policy: str | None, method: n.Method | None = None) -> Type:
    """A method's result as its caller gets it: declared f32 outputs in the compute dtype, unless the
    method says f32 itself (`returns_float32`)."""
    if not mixed(policy) or returns_float32(method):
        return result
    assert policy is not None
    compute = POLICIES[policy]
    if isinstance(result, TensorT) and result.dtype == "f32":
        return TensorT(compute, result.shape)
    if isinstance(result, OutputsT):
        return OutputsT(tuple((name, TensorT(compute, t.shape) if t.dtype == "f32" else t) for name, t in result.outputs))
    return result


def returns_float32(method: n.Method | None) -> bool:
    """Every `return` of `method` is an explicit `cast(..., f32)`: its result is f32 under any policy
    (a penalty a layer computes in f32, as a Keras loss), not the compute dtype its other outputs take."""
    from .analysis import own_nodes  # analysis imports the op registry, which reads this module

    if method is None:
        return False
    returns = [node for node in own_nodes(method.body) if isinstance(node, n.Return)]
    return bool(returns) and all(len(r.values) == 1 and _cast_to_float32(r.values[0]) for r in returns)


def _cast_to_float32(expr: n.Expr) -> bool:
    return (isinstance(expr, n.Call) and isinstance(expr.func, n.Name) and expr.func.id == "cast"
            and len(expr.args) == 2 and isinstance(expr.args[1], n.Name) and expr.args[1].id == "f32")


def with_policy(init: dict, mixed_precision: str | None) -> dict:
    """Constructor arguments with the policy `tfm train --mixed-precision bf16|f16` names (as `dtype`,
    the keyword every module takes); `init` as it is without one."""
    if mixed_precision not in SHORT_NAMES:
        return init  # none, or a name TrainSettings refuses
    return {**init, POLICY_PARAM: SHORT_NAMES[mixed_precision]}


def casts_to_float32(op) -> bool:
    """A Keras-style loss (a runtime helper of the "loss" category, as keras.losses computes it) casts its
    float inputs to float32, as a Keras Loss does (its dtype is float32 under every policy): a bf16
    model output gives an f32 loss. TensorFlow's own losses (tf.nn's) compute in their inputs' dtype."""
    return op.category == "loss" and op.helper is not None


def loss_input(value: Type) -> Type:
    """A half-precision argument of such a loss, as the loss computes it: in f32 (f64 stays f64)."""
    if isinstance(value, TensorT) and value.dtype in ("f16", "bf16"):
        return TensorT("f32", value.shape)
    return value


def policy_hint(value: TensorT, expected: TensorT) -> str:
    """The hint of E050 for an argument of the wrong dtype: the cast, and for a half-precision value into
    an f32 input the policy that would cast it."""
    hint = f"cast it: cast(..., {expected.dtype})"
    if expected.dtype == "f32" and value.dtype in ("bf16", "f16"):
        policy = "mixed_bfloat16" if value.dtype == "bf16" else "mixed_float16"
        hint += f", or build the module with dtype=\"{policy}\" (a mixed policy casts its float inputs)"
    return hint
