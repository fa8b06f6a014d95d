"""The registry's entry type: one `Op` per operation, every fact about it in one declaration.

An entry says what the op is called in `.tfm`, the TensorFlow callable it lowers to (or the runtime
helper in `compiler/generate/runtime.py`), its parameters as TensorFlow names them (so keyword arguments
pass through unchanged) with their defaults, the dtypes each argument has kernels for, the ranks it
takes, what its static arguments must be, and the function that types its result. Family files
(`math_ops.py`, `nn_ops.py`, ...) declare the entries with `op(...)`, beside their type rules.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Literal, Mapping

from .dtypes import dtype_set
from .static_checks import STATIC_CHECKS

if TYPE_CHECKING:
    from ..tensor_types import Type
    from .result_typing import RuleContext

ParamKind = Literal["tensor", "static", "dtype", "tensors"]
_PARAM_KINDS: dict[str, ParamKind] = {"": "tensor", "tensor": "tensor", "static": "static", "dtype": "dtype",
                                      "tensors": "tensors"}  # a spec's `name:kind`, no kind meaning a tensor
REQUIRED = object()
TypeRule = Callable[["RuleContext"], "Type"]
# What running an op does besides computing its value.
EFFECTS = frozenset({"random", "prints", "asserts"})


@dataclass(frozen=True)
class OpParam:
    name: str
    kind: ParamKind = "tensor"
    default: object = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True, eq=False)
class Op:
    """One registry entry. `variadic` ops (print, einsum) take any number of positional tensors."""

    name: str
    lowering: str
    params: tuple[OpParam, ...]
    category: str
    type_rule: TypeRule | None = None  # the result's type from the arguments'; None: not inferred
    helper: str | None = None  # the runtime helper it lowers to (compiler/generate/runtime.py)
    variadic: bool = False
    result: str = "tensor"
    tfm_defaults: tuple[str, ...] = ()  # defaults TensorFlow lacks: the generator always passes these
    # When the lowering takes some parameters in another order or under another name than the op:
    # op parameter -> the lowering's keyword. Those parameters are always passed by keyword.
    keywords: tuple[tuple[str, str], ...] = ()
    # parameter -> the dtypes TensorFlow has CPU kernels for ("*": every variadic argument); a dtype outside
    # passes TensorFlow's Python layer at best and fails at trace or run time. Parameters not listed take
    # any dtype. Kept true by tests/ops/test_differential.py, which runs every op with every dtype.
    kernel_dtypes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # parameters TensorFlow converts to one dtype, in its order of conversion: a Python value met before
    # any tensor of the group becomes a tensor of TensorFlow's default dtype (int32, float32), not its
    # partner's (`maximum(1, x)` of an f64 `x` fails in a graph, `maximum(x, 1)` runs)
    shared_dtype: tuple[str, ...] = ()
    # the TensorFlow function converts each argument on its own (as helpers do): a Python value never
    # takes its partner's dtype
    converted_alone: bool = False
    ranks: Mapping[str, tuple[int, bool]] = field(default_factory=dict)  # parameter -> (least rank, exact)
    tensor_only: frozenset[str] = frozenset()  # parameters where a Python value fails in TensorFlow
    # parameter -> (check, words): what a static argument must be (dsl/ops/static_checks.py)
    static_checks: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    effects: frozenset[str] = frozenset()
    operator: str | None = None  # the operator that lowers to this op (`+`; unary minus is "neg")
    # the differential fuzzer's typical and known-bad arguments, where they cannot be derived
    examples: tuple[str, ...] = ()
    refused_examples: tuple[str, ...] = ()

    def param(self, name: str) -> OpParam | None:
        return next((p for p in self.params if p.name == name), None)

    def keyword(self, name: str) -> str | None:
        """The lowering's keyword for parameter `name` when it must be passed by keyword, else None."""
        return next((lowered for param, lowered in self.keywords if param == name), None)


def op(name: str, lowering: str, params: str, category: str, rule: TypeRule | None = None, *,
       dtypes: str = "", shared: str = "", ranks: str = "", tensor_only: str = "", static: str = "",
       keywords: str = "", tfm_defaults: str = "", effects: str = "", converted_alone: bool = False,
       variadic: bool = False, result: str = "tensor", operator: str | None = None, examples: tuple[str, ...] = (),
       refused: tuple[str, ...] = ()) -> Op:
    """One entry, its facts written as short specs, each checked against the parameters:

    - params `"x, axis:static=None, dtype:dtype"`: name, kind (tensor by default), Python-literal default;
    - dtypes `"x y: float sint, dtype: any -string"`: dtype classes per parameter (see dtypes.py);
    - ranks `"data: 1+, segment_ids: 1"`: an exact rank or a least one ("N+");
    - static `"axis: axis, direction: one_of ASCENDING DESCENDING"`: a check of static_checks.py;
    - shared, tensor_only, tfm_defaults, effects: names separated by spaces;
    - keywords `"stride=strides padding"`: parameters passed by keyword (under another name after `=`).

    A lowering starting with `_` is a runtime helper."""
    parsed = _params(params)
    names = {p.name for p in parsed} | ({"*"} if variadic else set())

    def checked(spec_names: str) -> tuple[str, ...]:
        found = tuple(spec_names.split())
        assert set(found) <= names, f"{name}: no parameter {sorted(set(found) - names)}"
        return found

    keyword_pairs = tuple((param, lowered or param) for param, _, lowered in
                          (item.partition("=") for item in keywords.split()))
    checked(" ".join(param for param, _ in keyword_pairs))
    static_checks = {param: (words.split()[0], tuple(words.split()[1:])) for params_, words in _clauses(static)
                     for param in checked(params_)}
    assert {check for check, _ in static_checks.values()} <= STATIC_CHECKS.keys(), f"{name}: unknown static check"
    assert set(effects.split()) <= EFFECTS, f"{name}: unknown effect"
    return Op(
        name=name, lowering=lowering, params=parsed, category=category, type_rule=rule,
        helper=lowering if lowering.startswith("_") else None, variadic=variadic, result=result,
        tfm_defaults=checked(tfm_defaults), keywords=keyword_pairs,
        kernel_dtypes={param: dtype_set(words) for params_, words in _clauses(dtypes) for param in checked(params_)},
        shared_dtype=checked(shared), converted_alone=converted_alone,
        ranks={param: (int(words.rstrip("+")), not words.endswith("+")) for params_, words in _clauses(ranks)
               for param in checked(params_)},
        tensor_only=frozenset(checked(tensor_only)), static_checks=static_checks,
        effects=frozenset(effects.split()), operator=operator, examples=examples, refused_examples=refused)


def _clauses(spec: str) -> list[tuple[str, str]]:
    """'p q: words, r: words' -> [('p q', 'words'), ('r', 'words')]."""
    return [(params, words.strip()) for params, _, words in
            (clause.partition(":") for clause in filter(None, (c.strip() for c in spec.split(","))))]


@functools.cache
def _params(spec: str) -> tuple[OpParam, ...]:
    """'x, axis:static=None, dtype:dtype' -> OpParams. Defaults are Python literals; the same specs
    recur (`x`, `x, y`), each parsed once."""
    params = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name_kind, _, default_text = item.partition("=")
        name, _, kind = name_kind.partition(":")
        default = _literal(default_text) if default_text else REQUIRED
        params.append(OpParam(name=name, kind=_PARAM_KINDS[kind], default=default))
    return tuple(params)


@functools.cache
def _literal(text: str) -> object:
    """A default's value; the same few texts recur (None, False, 0), each parsed once."""
    import ast

    return ast.literal_eval(text)
