"""The op registry: every operation a `.tfm` body may call, as data.

Each entry says what the op is called in `.tfm`, the TensorFlow callable it lowers to, its parameters
(named as TensorFlow names them, so keyword arguments pass through unchanged), and its category. Ops
that need a few lines of TF code lower to a helper function that the generator emits into the
generated file (see `compiler/generate/templates/runtime.py.j2`), so generated code still imports only TF.

Nothing here reaches files, the network or Python callbacks: `tf.io.write_file`, `tf.py_function`,
`tf.numpy_function` and their kind are deliberately absent, so a model compiled from an untrusted
`.tfm` can only compute on tensors.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

ParamKind = Literal["tensor", "static", "dtype", "tensors"]
REQUIRED = object()


@dataclass(frozen=True)
class OpParam:
    name: str
    kind: ParamKind = "tensor"
    default: object = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Op:
    """One registry entry. `variadic` ops (print) take any number of positional tensors."""

    name: str
    lowering: str
    params: tuple[OpParam, ...]
    category: str
    helper: str | None = None
    variadic: bool = False
    result: str = "tensor"
    tfm_defaults: tuple[str, ...] = ()  # defaults TensorFlow lacks: the generator always passes these
    # When the lowering takes some parameters in another order or under another name than the op:
    # op parameter -> the lowering's keyword. Those parameters are always passed by keyword.
    keywords: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> OpParam | None:
        return next((p for p in self.params if p.name == name), None)

    def keyword(self, name: str) -> str | None:
        """The lowering's keyword for parameter `name` when it must be passed by keyword, else None."""
        return next((lowered for param, lowered in self.keywords if param == name), None)


def _params(spec: str) -> tuple[OpParam, ...]:
    """'x, axis:static=None, dtype:dtype' -> OpParams. Defaults are Python literals."""
    params = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name_kind, _, default_text = item.partition("=")
        name, _, kind = name_kind.partition(":")
        default = _literal(default_text) if default_text else REQUIRED
        params.append(OpParam(name=name, kind=kind or "tensor", default=default))  # type: ignore[arg-type]
    return tuple(params)


@functools.cache
def _literal(text: str) -> object:
    """A default's value; the same few texts recur (None, False, 0), each parsed once."""
    import ast

    return ast.literal_eval(text)


_TABLE: list[tuple[str, str, str, str]] = [
    # name, lowering, params, category
    # elementwise math
    ("abs", "tf.math.abs", "x", "math"),
    ("exp", "tf.math.exp", "x", "math"),
    ("log", "tf.math.log", "x", "math"),
    ("log1p", "tf.math.log1p", "x", "math"),
    ("sqrt", "tf.math.sqrt", "x", "math"),
    ("rsqrt", "tf.math.rsqrt", "x", "math"),
    ("square", "tf.math.square", "x", "math"),
    ("pow", "tf.math.pow", "x, y", "math"),
    ("sin", "tf.math.sin", "x", "math"),
    ("cos", "tf.math.cos", "x", "math"),
    ("tan", "tf.math.tan", "x", "math"),
    ("tanh", "tf.math.tanh", "x", "math"),
    ("sigmoid", "tf.math.sigmoid", "x", "math"),
    ("floor", "tf.math.floor", "x", "math"),
    ("ceil", "tf.math.ceil", "x", "math"),
    ("round", "tf.math.round", "x", "math"),
    ("sign", "tf.math.sign", "x", "math"),
    ("add", "tf.math.add", "x, y", "math"),
    ("subtract", "tf.math.subtract", "x, y", "math"),
    ("multiply", "tf.math.multiply", "x, y", "math"),
    ("divide", "tf.math.divide", "x, y", "math"),
    ("negative", "tf.math.negative", "x", "math"),
    ("maximum", "tf.math.maximum", "x, y", "math"),
    ("minimum", "tf.math.minimum", "x, y", "math"),
    ("floordiv", "tf.math.floordiv", "x, y", "math"),
    ("mod", "tf.math.floormod", "x, y", "math"),
    ("clip", "tf.clip_by_value", "t, clip_value_min, clip_value_max", "math"),
    ("matmul", "tf.linalg.matmul", "a, b, transpose_a:static=False, transpose_b:static=False", "math"),
    ("cumsum", "tf.math.cumsum", "x, axis:static=0", "math"),
    ("cumprod", "tf.math.cumprod", "x, axis:static=0", "math"),
    ("batch_matmul", "tf.linalg.matmul", "a, b, transpose_a:static=False, transpose_b:static=False", "math"),
    ("erf", "tf.math.erf", "x", "math"),
    ("asin", "tf.math.asin", "x", "math"),
    ("acos", "tf.math.acos", "x", "math"),
    ("atan", "tf.math.atan", "x", "math"),
    ("sinh", "tf.math.sinh", "x", "math"),
    ("cosh", "tf.math.cosh", "x", "math"),
    ("expm1", "tf.math.expm1", "x", "math"),
    ("reciprocal", "tf.math.reciprocal", "x", "math"),
    ("atan2", "tf.math.atan2", "y, x", "math"),
    ("squared_difference", "tf.math.squared_difference", "x, y", "math"),
    ("logical_xor", "tf.math.logical_xor", "x, y", "compare"),
    ("is_finite", "tf.math.is_finite", "x", "compare"),
    ("is_inf", "tf.math.is_inf", "x", "compare"),
    ("reduce_variance", "tf.math.reduce_variance", "input_tensor, axis:static=None, keepdims:static=False",
     "reduce"),
    ("reduce_std", "tf.math.reduce_std", "input_tensor, axis:static=None, keepdims:static=False", "reduce"),
    ("norm", "tf.norm", "tensor, ord:static='euclidean', axis:static=None, keepdims:static=None", "math"),
    ("l2_normalize", "tf.math.l2_normalize", "x, axis:static=None, epsilon:static=1e-12", "math"),
    ("equal", "tf.math.equal", "x, y", "compare"),
    ("not_equal", "tf.math.not_equal", "x, y", "compare"),
    ("greater", "tf.math.greater", "x, y", "compare"),
    ("greater_equal", "tf.math.greater_equal", "x, y", "compare"),
    ("less", "tf.math.less", "x, y", "compare"),
    ("less_equal", "tf.math.less_equal", "x, y", "compare"),
    ("logical_and", "tf.math.logical_and", "x, y", "compare"),
    ("logical_or", "tf.math.logical_or", "x, y", "compare"),
    ("logical_not", "tf.math.logical_not", "x", "compare"),
    ("is_nan", "tf.math.is_nan", "x", "compare"),
    # reductions
    ("reduce_sum", "tf.math.reduce_sum", "input_tensor, axis:static=None, keepdims:static=False", "reduce"),
    ("reduce_mean", "tf.math.reduce_mean", "input_tensor, axis:static=None, keepdims:static=False", "reduce"),
    ("reduce_max", "tf.math.reduce_max", "input_tensor, axis:static=None, keepdims:static=False", "reduce"),
    ("reduce_min", "tf.math.reduce_min", "input_tensor, axis:static=None, keepdims:static=False", "reduce"),
    ("reduce_prod", "tf.math.reduce_prod", "input_tensor, axis:static=None, keepdims:static=False", "reduce"),
    ("reduce_any", "tf.math.reduce_any", "input_tensor, axis:static=None, keepdims:static=False", "reduce"),
    ("reduce_all", "tf.math.reduce_all", "input_tensor, axis:static=None, keepdims:static=False", "reduce"),
    ("reduce_logsumexp", "tf.math.reduce_logsumexp", "input_tensor, axis:static=None, keepdims:static=False",
     "reduce"),
    ("argmax", "tf.math.argmax", "input, axis:static=None, output_type:dtype=None", "reduce"),
    ("argmin", "tf.math.argmin", "input, axis:static=None, output_type:dtype=None", "reduce"),
    # segments
    ("segment_sum", "tf.math.segment_sum", "data, segment_ids", "segment"),
    ("segment_mean", "tf.math.segment_mean", "data, segment_ids", "segment"),
    ("segment_max", "tf.math.segment_max", "data, segment_ids", "segment"),
    ("unsorted_segment_sum", "tf.math.unsorted_segment_sum", "data, segment_ids, num_segments", "segment"),
    ("unsorted_segment_mean", "tf.math.unsorted_segment_mean", "data, segment_ids, num_segments", "segment"),
    ("unsorted_segment_max", "tf.math.unsorted_segment_max", "data, segment_ids, num_segments", "segment"),
    # shapes and construction
    ("cast", "tf.cast", "x, dtype:dtype", "shape"),
    ("reshape", "tf.reshape", "tensor, shape", "shape"),
    ("transpose", "tf.transpose", "a, perm:static=None", "shape"),
    ("concat", "tf.concat", "values:tensors, axis:static=0", "shape"),
    ("stack", "tf.stack", "values:tensors, axis:static=0", "shape"),
    ("expand_dims", "tf.expand_dims", "input, axis:static", "shape"),
    ("squeeze", "tf.squeeze", "input, axis:static=None", "shape"),
    ("tile", "tf.tile", "input, multiples", "shape"),
    ("broadcast_to", "tf.broadcast_to", "input, shape", "shape"),
    ("shape", "tf.shape", "input, out_type:dtype=None", "shape"),
    ("size", "tf.size", "input, out_type:dtype=None", "shape"),
    ("rank", "tf.rank", "input", "shape"),
    ("fill", "tf.fill", "dims, value", "shape"),
    ("zeros", "tf.zeros", "shape, dtype:dtype=None", "shape"),
    ("ones", "tf.ones", "shape, dtype:dtype=None", "shape"),
    ("zeros_like", "tf.zeros_like", "input, dtype:dtype=None", "shape"),
    ("ones_like", "tf.ones_like", "input, dtype:dtype=None", "shape"),
    ("constant", "tf.constant", "value:static, dtype:dtype=None", "shape"),
    ("range", "tf.range", "start, limit=None, delta=1, dtype:dtype=None", "shape"),
    ("linspace", "tf.linspace", "start, stop, num", "shape"),
    ("one_hot", "tf.one_hot", "indices, depth, on_value=None, off_value=None, axis:static=None, dtype:dtype=None",
     "shape"),
    ("gather", "tf.gather", "params, indices, axis:static=None, batch_dims:static=0", "shape"),
    ("gather_nd", "tf.gather_nd", "params, indices", "shape"),
    ("where", "tf.where", "condition, x=None, y=None", "shape"),
    ("sort", "tf.sort", "values, axis:static=-1, direction:static='ASCENDING'", "shape"),
    ("argsort", "tf.argsort", "values, axis:static=-1, direction:static='ASCENDING'", "shape"),
    ("reverse", "tf.reverse", "tensor, axis:static", "shape"),
    ("pad", "tf.pad", "tensor, paddings:static, mode:static='CONSTANT', constant_values=0", "shape"),
    ("identity", "tf.identity", "input", "shape"),
    ("stop_gradient", "tf.stop_gradient", "input", "shape"),
    # nn activations and helpers
    ("relu", "tf.nn.relu", "features", "nn"),
    ("relu6", "tf.nn.relu6", "features", "nn"),
    ("elu", "tf.nn.elu", "features", "nn"),
    ("selu", "tf.nn.selu", "features", "nn"),
    ("gelu", "tf.nn.gelu", "features, approximate:static=False", "nn"),
    ("leaky_relu", "tf.nn.leaky_relu", "features, alpha:static=0.2", "nn"),
    ("softplus", "tf.math.softplus", "features", "nn"),
    ("silu", "tf.nn.silu", "features", "nn"),
    ("softmax", "tf.nn.softmax", "logits, axis:static=None", "nn"),
    ("log_softmax", "tf.nn.log_softmax", "logits, axis:static=None", "nn"),
    ("dropout", "tf.nn.dropout", "x, rate:static, seed:static=None", "nn"),
    ("softsign", "tf.nn.softsign", "features", "nn"),
    ("log_sigmoid", "tf.math.log_sigmoid", "x", "nn"),
    ("bias_add", "tf.nn.bias_add", "value, bias", "nn"),
    ("batch_normalization", "tf.nn.batch_normalization",
     "x, mean, variance, offset, scale, variance_epsilon:static", "nn"),
    # Convolutions lower to tf.nn.convolution: the one convolution whose gradient TensorFlow computes with
    # dilations > 1 on every CPU (tf.nn.conv1d/conv2d's backprop kernels refuse dilations without
    # oneDNN, e.g. on AMD processors); with dilation 1 it runs the same Conv2D op. See _KEYWORDS.
    ("conv1d", "tf.nn.convolution",
     "input, filters, stride:static=1, padding:static='VALID', dilations:static=None", "nn"),
    ("conv2d", "tf.nn.convolution",
     "input, filters, strides:static=1, padding:static='VALID', dilations:static=None", "nn"),
    ("max_pool1d", "tf.nn.max_pool1d", "input, ksize:static, strides:static=None, padding:static='VALID'", "nn"),
    ("max_pool2d", "tf.nn.max_pool2d", "input, ksize:static, strides:static=None, padding:static='VALID'", "nn"),
    ("avg_pool1d", "tf.nn.avg_pool1d", "input, ksize:static, strides:static=None, padding:static='VALID'", "nn"),
    ("avg_pool2d", "tf.nn.avg_pool2d", "input, ksize:static, strides:static=None, padding:static='VALID'", "nn"),
    ("embedding_lookup", "tf.nn.embedding_lookup", "params, ids", "nn"),
    ("resize", "tf.image.resize", "images, size:static, method:static='bilinear'", "image"),
    ("softmax_cross_entropy_with_logits", "tf.nn.softmax_cross_entropy_with_logits", "labels, logits",
     "loss"),
    ("sparse_softmax_cross_entropy_with_logits", "tf.nn.sparse_softmax_cross_entropy_with_logits",
     "labels, logits", "loss"),
    ("sigmoid_cross_entropy_with_logits", "tf.nn.sigmoid_cross_entropy_with_logits", "labels, logits", "loss"),
    # random (stateful TF ops: a fresh value on every call, unlike numpy inside a tf.function)
    ("random_normal", "tf.random.normal", "shape, mean=0.0, stddev=1.0, dtype:dtype=None, seed:static=None",
     "random"),
    ("random_uniform", "tf.random.uniform", "shape, minval=0, maxval=None, dtype:dtype=None, seed:static=None",
     "random"),
    ("truncated_normal", "tf.random.truncated_normal",
     "shape, mean=0.0, stddev=1.0, dtype:dtype=None, seed:static=None", "random"),
    ("random_shuffle", "tf.random.shuffle", "value, seed:static=None", "random"),
    ("categorical_sample", "tf.random.categorical", "logits, num_samples, dtype:dtype=None, seed:static=None",
     "random"),
    # strings
    ("string_join", "tf.strings.join", "inputs:tensors, separator:static=''", "string"),
    ("string_length", "tf.strings.length", "input", "string"),
    ("upper", "tf.strings.upper", "input", "string"),
    ("lower", "tf.strings.lower", "input", "string"),
    ("substr", "tf.strings.substr", "input, pos, len", "string"),
    ("as_string", "tf.strings.as_string", "input", "string"),
    ("string_to_number", "tf.strings.to_number", "input, out_type:dtype=None", "string"),
    ("regex_replace", "tf.strings.regex_replace", "input, pattern:static, rewrite:static", "string"),
    ("reduce_join", "tf.strings.reduce_join", "inputs, axis:static=None, separator:static=''", "string"),
    ("strip", "tf.strings.strip", "input", "string"),
    # assertions
    ("assert_equal", "tf.debugging.assert_equal", "x, y, message:static=None", "assert"),
    ("assert_positive", "tf.debugging.assert_positive", "x, message:static=None", "assert"),
    ("check_numerics", "tf.debugging.check_numerics", "tensor, message:static", "assert"),
]

_HELPERS: list[tuple[str, str, str, str]] = [
    # name, helper function, params, category
    ("activate", "_activate", "x, name:static", "nn"),
    ("categorical_crossentropy", "_categorical_crossentropy",
     "y_true, y_pred, from_logits:static=False, axis:static=-1", "loss"),
    ("sparse_categorical_crossentropy", "_sparse_categorical_crossentropy",
     "y_true, y_pred, from_logits:static=False", "loss"),
    ("binary_crossentropy", "_binary_crossentropy", "y_true, y_pred, from_logits:static=False", "loss"),
    ("mean_squared_error", "_mean_squared_error", "y_true, y_pred", "loss"),
    ("mean_absolute_error", "_mean_absolute_error", "y_true, y_pred", "loss"),
    ("top_k", "_top_k_values", "input, k:static=1", "nn"),
    ("top_k_indices", "_top_k_indices", "input, k:static=1", "nn"),
]

# Parameters whose registry default TensorFlow's function does not have (it requires the argument).
# tests/test_language.py checks every other default against TensorFlow's signature.
_TFM_DEFAULTS = {"concat": ("axis",), "conv1d": ("stride", "padding"), "conv2d": ("strides", "padding"),
                 "max_pool1d": ("strides", "padding"),
                 "max_pool2d": ("strides", "padding"), "avg_pool1d": ("strides", "padding"),
                 "avg_pool2d": ("strides", "padding")}

# Parameters the lowering takes under another name or at another position (tf.nn.convolution's fifth
# positional parameter is data_format, tf.gather's third validate_indices): passed by keyword, as
# "param=keyword" or "param" (same name). tests/test_language.py holds every other position to TensorFlow's.
_KEYWORDS = {"conv1d": "stride=strides padding dilations", "conv2d": "strides padding dilations",
             "gather": "axis batch_dims", "dropout": "seed", "reduce_join": "separator",
             "TensorArray": "element_shape"}


def _keywords(spec: str) -> tuple[tuple[str, str], ...]:
    pairs = (item.partition("=") for item in spec.split())
    return tuple((param, keyword or param) for param, _, keyword in pairs)


OPS: dict[str, Op] = {
    name: Op(name=name, lowering=lowering, params=_params(spec), category=category,
             tfm_defaults=_TFM_DEFAULTS.get(name, ()), keywords=_keywords(_KEYWORDS.get(name, "")))
    for name, lowering, spec, category in _TABLE
}
OPS.update({
    name: Op(name=name, lowering=helper, params=_params(spec), category=category, helper=helper)
    for name, helper, spec, category in _HELPERS
})
OPS["einsum"] = Op(name="einsum", lowering="tf.einsum", params=_params("equation:static"), category="math",
                   variadic=True)
OPS["print"] = Op(name="print", lowering="tf.print", params=(), category="io", variadic=True, result="none")
OPS["TensorArray"] = Op(
    name="TensorArray", lowering="tf.TensorArray",
    params=_params("dtype:dtype, size, dynamic_size:static=None, element_shape:static=None"),
    category="array", result="array",  # TensorFlow requires a size (0 with dynamic_size=True to grow)
    keywords=_keywords(_KEYWORDS["TensorArray"]),
)
OPS["GradientTape"] = Op(
    name="GradientTape", lowering="tf.GradientTape", params=_params("persistent:static=False"),
    category="autodiff", result="tape",
)

# Variable initializers: valid only as a `var`/`state` initial value; shape and dtype come from the
# declaration. Each lowers to a helper taking (shape, dtype, ...).
INITIALIZERS: dict[str, Op] = {
    name: Op(name=name, lowering=helper, params=_params(spec), category="initializer", helper=helper)
    for name, helper, spec in [
        ("zeros", "_init_zeros", ""),
        ("ones", "_init_ones", ""),
        ("full", "_init_full", "value:static"),
        ("normal", "_init_normal", "mean:static=0.0, stddev:static=1.0, seed:static=-1"),
        ("uniform", "_init_uniform", "minval:static=-0.05, maxval:static=0.05, seed:static=-1"),
        ("truncated_normal", "_init_truncated_normal", "mean:static=0.0, stddev:static=1.0, seed:static=-1"),
        ("glorot", "_init_glorot_uniform", "seed:static=-1"),
        ("glorot_uniform", "_init_glorot_uniform", "seed:static=-1"),
        ("glorot_normal", "_init_glorot_normal", "seed:static=-1"),
        ("he_normal", "_init_he_normal", "seed:static=-1"),
    ]
}

# Methods callable on values of each kind, and whether the call must stand as its own statement
# (TensorArray writes return a new array that must be assigned back: `arr = arr.write(i, v)`).
VALUE_METHODS: dict[str, dict[str, tuple[int, int]]] = {
    # method: (min positional args, max positional args)
    "variable": {"assign": (1, 1), "assign_add": (1, 1), "assign_sub": (1, 1), "read_value": (0, 0)},
    "array": {"write": (2, 2), "append": (1, 1), "read": (1, 1), "stack": (0, 0), "size": (0, 0),
              "concat": (0, 0), "gather": (1, 1), "pop": (0, 0)},
    "tape": {},
    "optimizer": {"minimize": (2, 2)},
}
ARRAY_UPDATES = frozenset({"write", "append"})
# `v = xs.pop()`: updates the list and has a value, so it stands alone or as an assignment's value.
ARRAY_POP = "pop"

DTYPES: dict[str, str] = {
    "f16": "tf.float16", "bf16": "tf.bfloat16", "f32": "tf.float32", "f64": "tf.float64",
    "i8": "tf.int8", "i16": "tf.int16", "i32": "tf.int32", "i64": "tf.int64",
    "u8": "tf.uint8", "u16": "tf.uint16", "u32": "tf.uint32", "u64": "tf.uint64",
    "bool": "tf.bool", "string": "tf.string", "c64": "tf.complex64", "c128": "tf.complex128",
}
# Types of constructor parameters that are plain Python values (usable in shapes and static loops).
STATIC_TYPES: dict[str, type] = {"int": int, "float": float, "bool": bool, "str": str}


def static_python_type(type_) -> type | None:
    """The Python type of a static parameter type (`int`, but not `bool[3]`, a tensor), else None."""
    return STATIC_TYPES.get(type_.dtype) if type_.shape is None else None

# Names a `.tfm` user may reach for that are Python-only inside a tf.function: a specific error each.
PYTHON_ONLY: dict[str, str] = {
    "np": "numpy runs once at trace time, so its values freeze into the graph; use the TF op",
    "numpy": "numpy runs once at trace time, so its values freeze into the graph; use the TF op",
    "random": "Python's random runs once at trace time; use random_normal or random_uniform",
    "len": "len() of a tensor is fixed at trace time; use shape(x)[0] or size(x)",
    "open": "file access is not available in .tfm",
    "input": "reading standard input is not available in .tfm",
    "eval": "tfm bodies can only call TF ops",
    "exec": "tfm bodies can only call TF ops",
    "__import__": "tfm bodies can only call TF ops",
    "Variable": "variables cannot be created inside a method; declare `var NAME: TYPE = INIT` in the module",
    "tf": "tfm bodies call ops by name (e.g. reduce_sum), not through the tf namespace",
    "list": "use a typed list: `xs: list[f32[]] = []`",
    "dict": "methods return named outputs: `-> (a: f32[], b: f32[])`",
    "float": "use cast(x, f32)",
    "int": "use cast(x, i32)",
    "isinstance": "tfm is statically typed; no runtime type tests",
}


# What `activate(x, name)` and the layer library's `activation` accept (the runtime helper's table).
ACTIVATIONS = ("linear", "relu", "relu6", "elu", "selu", "gelu", "sigmoid", "tanh", "softmax", "softplus", "silu")

# What a static argument must be, beyond known at trace time: "param: rule [words]" per op, checked
# by dsl/static_args.py (rules: axis and axes of the first argument, one_of WORDS, probability, regex,
# str, bool, number, int, positive, size, norm_order, activation).
_STATIC_RULES: dict[str, str] = {
    "cumsum softmax log_softmax l2_normalize sort argsort": "axis: axis",
    "reverse norm": "axis: axes",
    "norm": "ord: norm_order",
    "sort argsort": "direction: one_of ASCENDING DESCENDING",
    "dropout": "rate: probability, seed: int",
    "regex_replace": "pattern: regex, rewrite: str",
    "activate": "name: activation",
    "check_numerics assert_equal assert_positive": "message: str",
    "leaky_relu": "alpha: number",
    "l2_normalize": "epsilon: number",
    "gelu": "approximate: bool",
    "string_join reduce_join": "separator: str",
    "matmul": "transpose_a transpose_b: bool",
    "categorical_crossentropy sparse_categorical_crossentropy binary_crossentropy": "from_logits: bool",
    "reduce_sum reduce_mean reduce_max reduce_min reduce_prod reduce_any reduce_all reduce_logsumexp norm "
    "reduce_join": "keepdims: bool",
    "random_normal random_uniform truncated_normal random_shuffle categorical_sample": "seed: int",
    "one_hot": "depth: positive",
    "unsorted_segment_sum unsorted_segment_mean unsorted_segment_max": "num_segments: positive",
    "gather": "batch_dims: int",
    "cumprod": "axis: axis",
    "reduce_variance reduce_std": "keepdims: bool",
    "batch_normalization": "variance_epsilon: number",
    "GradientTape": "persistent: bool",
    "linspace": "num: size",
    "categorical_sample": "num_samples: size",
}


def _static_rules() -> dict[str, dict[str, tuple[str, tuple]]]:
    table: dict[str, dict[str, tuple[str, tuple]]] = {}
    for op_names, spec in _STATIC_RULES.items():
        ops = [OPS[op] for op in op_names.split()]
        for clause in spec.split(","):
            params, _, rule_text = clause.partition(":")
            rule, *words = rule_text.split()
            for param in params.split():
                assert any(op.param(param) for op in ops), f"no op in {op_names!r} has {param}"
                for op in ops:
                    if op.param(param):
                        table.setdefault(op.name, {})[param] = (rule, tuple(words))
    return table


# Operators lower to these ops (their dtype rules and kernels are the ops').
OPERATOR_OPS: dict[str, str] = {
    "+": "add", "-": "subtract", "*": "multiply", "/": "divide", "//": "floordiv", "%": "mod", "**": "pow",
    "@": "matmul", "<": "less", "<=": "less_equal", ">": "greater", ">=": "greater_equal", "==": "equal",
    "!=": "not_equal", "neg": "negative",
}

# The dtypes TensorFlow has CPU kernels for, per op parameter: a dtype outside the set passes
# TensorFlow's Python layer at best and fails at trace or run time. Classes: float (f16 bf16 f32 f64),
# sint (i8..i64), uint (u8..u64), int (both), complex, real (float int), numeric (real complex), any;
# `-NAME` removes a class or dtype. Kept true by tests/test_differential.py, which runs every op with
# every dtype in TensorFlow. Parameters not listed take any dtype.
_KERNEL_DTYPES: dict[str, str] = {
    "abs sign": "x: float sint complex",
    "square cumsum": "x: numeric",
    "pow": "x y: float sint complex",
    "floor ceil": "x: float",
    "round": "x: real",
    "add": "x y: numeric string",
    "multiply divide": "x y: numeric",
    "subtract": "x y: numeric -u8 -u16",  # (x - x passes: grappler folds it to zeros)
    "negative": "x: float sint complex",
    "maximum minimum floordiv mod greater less greater_equal less_equal": "x y: real",
    "clip": "t clip_value_min clip_value_max: real",
    "matmul": "a b: float i32 i64 complex",
    "norm l2_normalize": "tensor x: float",
    "reduce_sum reduce_mean reduce_prod": "input_tensor: numeric",
    "reduce_max reduce_min": "input_tensor: real",
    "reduce_logsumexp": "input_tensor: float",
    "argmax argmin": "input: real bool",
    "segment_sum segment_mean unsorted_segment_sum": "data: numeric",
    "segment_max unsorted_segment_max": "data: real",
    "unsorted_segment_mean": "data: float",
    "segment_sum segment_mean segment_max unsorted_segment_sum unsorted_segment_mean unsorted_segment_max":
        "segment_ids num_segments: i32 i64",
    "gather": "indices: i32 i64",
    "one_hot": "indices: u8 i8 i32 i64, dtype on_value off_value: numeric",
    "sort argsort": "values: real",
    "relu relu6": "features: real",
    "leaky_relu": "features: float",
    "linspace": "start stop: float, num: i32 i64",
    "range": "start limit delta dtype: f32 f64 bf16 i32 i64",
    "categorical_sample": "logits: float",
    "check_numerics": "tensor: float",
    "assert_positive": "x: real",
    "tile stack": "input values: any -u16",
    "cast": "x dtype: any -string",
    "ones ones_like": "dtype input: any -string",
    "string_join": "inputs: string",
    "categorical_crossentropy binary_crossentropy": "y_true y_pred: float",
    "sparse_categorical_crossentropy": "y_true: i32 i64, y_pred: float",
    "softmax_cross_entropy_with_logits sigmoid_cross_entropy_with_logits": "labels logits: float",
    "sparse_softmax_cross_entropy_with_logits": "labels: i32 i64, logits: float",
    "mean_squared_error": "y_true y_pred: float i32 i64 complex",
    "mean_absolute_error": "y_true y_pred: float sint",
    "random_normal truncated_normal": "dtype: float",
    "random_uniform": "dtype: float i32 i64",
    "einsum": "*: float i32 i64 complex",
    "erf asin acos atan sinh cosh expm1 log_sigmoid softsign": "x features: float",
    "atan2": "y x: float",
    "reciprocal": "x: float complex",
    "squared_difference": "x y: float i32 i64 complex",
    "cumprod": "x: numeric",
    "batch_matmul": "a b: float i32 i64 complex",
    "reduce_variance reduce_std": "input_tensor: float",
    "is_finite is_inf": "x: float",
    "logical_xor": "x y: bool",
    "bias_add": "value bias: numeric",
    "batch_normalization": "x mean variance offset scale: float",
    "conv1d conv2d": "input filters: f16 bf16 f32 f64",
    "resize": "images: real -u32 -u64",
    "max_pool1d max_pool2d avg_pool1d avg_pool2d": "input: f16 bf16 f32 f64",
    "embedding_lookup": "ids: i32 i64",
    "top_k top_k_indices": "input: real -u32 -u64",
    "pad": "tensor: any",
}
_DTYPE_CLASSES: dict[str, frozenset[str]] = {
    "float": frozenset({"f16", "bf16", "f32", "f64"}),
    "sint": frozenset({"i8", "i16", "i32", "i64"}),
    "uint": frozenset({"u8", "u16", "u32", "u64"}),
    "complex": frozenset({"c64", "c128"}),
}
_DTYPE_CLASSES["int"] = _DTYPE_CLASSES["sint"] | _DTYPE_CLASSES["uint"]
_DTYPE_CLASSES["real"] = _DTYPE_CLASSES["float"] | _DTYPE_CLASSES["int"]
_DTYPE_CLASSES["numeric"] = _DTYPE_CLASSES["real"] | _DTYPE_CLASSES["complex"]


def _dtype_set(spec: str) -> frozenset[str]:
    accepted: set[str] = set()
    for token in spec.split():
        name = token.removeprefix("-")
        members = set(DTYPES) if name == "any" else _DTYPE_CLASSES.get(name, {name})
        accepted = accepted - members if token.startswith("-") else accepted | members
    unknown = accepted - set(DTYPES)
    assert not unknown, f"unknown dtypes in the kernel table: {unknown}"
    return frozenset(accepted)


def _kernel_dtypes() -> dict[str, dict[str, frozenset[str]]]:
    table: dict[str, dict[str, frozenset[str]]] = {}
    for op_names, spec in _KERNEL_DTYPES.items():
        for clause in spec.split(","):
            params, _, dtypes = clause.partition(":")
            ops = [OPS[op] for op in op_names.split()]
            for param in params.split():  # a parameter named for a group applies where it exists
                assert param == "*" or any(op.param(param) for op in ops), f"no op in {op_names!r} has {param}"
                for op in ops:
                    if param == "*" or op.param(param):
                        table.setdefault(op.name, {})[param] = _dtype_set(dtypes)
    return table


# Parameters TensorFlow converts to one dtype, in the order it converts them. A Python value met
# before any tensor of its group becomes a tensor of TensorFlow's default dtype (int32, float32), not of
# its partner's: `maximum(1, x)` of an f64 `x` fails in a graph, `maximum(x, 1)` runs. Helpers (ops
# lowered to a function of the generated file) convert every Python value on its own.
_SHARED_DTYPE: dict[str, str] = {
    "pow maximum minimum floordiv mod add subtract multiply divide squared_difference equal not_equal "
    "greater greater_equal less less_equal logical_and logical_or logical_xor assert_equal": "x y",
    "atan2": "y x",
    "clip": "t clip_value_min clip_value_max",
    "where": "x y",
    "linspace": "start stop",
    "matmul batch_matmul": "a b",
    "bias_add": "value bias",
}
# Ops whose TensorFlow function converts each argument on its own, as helpers do: a Python value never
# takes its partner's dtype (`sigmoid_cross_entropy_with_logits(x, [[1, 2]])` is int32 logits).
CONVERTED_ALONE = frozenset({"softmax_cross_entropy_with_logits", "sigmoid_cross_entropy_with_logits"})
# The ranks TensorFlow accepts, per op parameter ("N": exactly N, "N+": at least N); for a list of
# tensors (concat's values), per item. Parameters not listed take any rank the type rule allows.
_RANKS: dict[str, str] = {
    "gather embedding_lookup": "params: 1+",
    "segment_sum segment_mean segment_max unsorted_segment_sum unsorted_segment_mean unsorted_segment_max":
        "data segment_ids: 1+",
    "segment_sum segment_mean segment_max": "segment_ids: 1",
    "softmax log_softmax": "logits: 1+",
    "sort argsort": "values: 1+",
    "cumsum cumprod": "x: 1+",
    "argmax argmin": "input: 1+",
    "concat": "values: 1+",
    "fill": "dims: 1, value: 0",
    "linspace": "start stop: 0",
    "one_hot": "on_value off_value: 0",
    "range": "start limit delta: 0",
    "bias_add": "value: 2+, bias: 1",
    "categorical_sample": "logits: 2",
    "top_k top_k_indices": "input: 1+",
    "softmax_cross_entropy_with_logits": "labels logits: 1+",
    "sparse_softmax_cross_entropy_with_logits": "logits: 1+",
    "categorical_crossentropy binary_crossentropy": "y_pred: 1+",
    "sparse_categorical_crossentropy": "y_pred: 2+",
}
# Parameters whose TensorFlow function reads the argument's dtype without converting it: a Python value
# there fails (`tf.nn.batch_normalization(2, ...)`: 'int' object has no attribute 'dtype').
_TENSOR_ONLY: dict[str, str] = {
    "batch_normalization": "x mean variance offset scale",
    "embedding_lookup": "params",
}


def _param_table(spec_table: dict[str, str], parse=lambda words: words) -> dict[str, dict[str, object]]:
    """{"op op": "p q: words, r: words"} -> op -> parameter -> parse(words), each parameter checked."""
    table: dict[str, dict[str, object]] = {}
    for op_names, spec in spec_table.items():
        for clause in spec.split(","):
            params, _, words = clause.partition(":")
            for name in op_names.split():
                assert all(OPS[name].param(p) for p in params.split()), f"{name} lacks one of {params}"
                for param in params.split():
                    table.setdefault(name, {})[param] = parse(words.strip())
    return table


# op -> parameters sharing one dtype, in TensorFlow's order of conversion.
SHARED_DTYPE: dict[str, tuple[str, ...]] = {
    name: tuple(params.split()) for op_names, params in _SHARED_DTYPE.items() for name in op_names.split()}
assert all(OPS[op].param(p) for op, params in SHARED_DTYPE.items() for p in params)
# op -> parameter -> (least rank, exact): the ranks TensorFlow accepts.
RANKS: dict[str, dict[str, tuple[int, bool]]] = _param_table(  # type: ignore[assignment]
    _RANKS, lambda words: (int(words.rstrip("+")), not words.endswith("+")))
# op -> parameters that must be tensors, not Python values.
TENSOR_ONLY: dict[str, frozenset[str]] = {
    name: frozenset(params.split()) for op_names, params in _TENSOR_ONLY.items() for name in op_names.split()}

# op -> parameter -> the dtypes it has kernels for ("*": every variadic argument).
KERNEL_DTYPES = _kernel_dtypes()
# op -> parameter -> (rule, words): what a static argument must be.
STATIC_RULES = _static_rules()


# How each op's result type follows from its arguments: a rule name per op, implemented once in
# dsl/inference.py. Ops not listed produce a tensor whose dtype and shape are not inferred.
_RULE_OPS: dict[str, str] = {
    "float_unary": "exp log log1p sqrt rsqrt sin cos tan tanh sigmoid softplus elu selu gelu silu softmax "
                   "log_softmax l2_normalize activate dropout erf asin acos atan sinh cosh expm1 softsign "
                   "log_sigmoid",
    "abs": "abs",
    "constant": "constant",
    "unary": "negative square floor ceil round sign relu relu6 leaky_relu cumsum identity stop_gradient sort "
             "reverse random_shuffle check_numerics reciprocal cumprod",
    "binary": "maximum minimum floordiv mod add subtract multiply atan2 squared_difference",
    "divide": "divide",
    "compare": "equal not_equal greater less greater_equal less_equal",
    "logical": "logical_and logical_or logical_xor",
    "logical_not": "logical_not",
    "is_nan": "is_nan is_finite is_inf",
    "reduce": "reduce_sum reduce_mean reduce_max reduce_min reduce_prod reduce_logsumexp norm",
    "reduce_bool": "reduce_any reduce_all",
    "argreduce": "argmax argmin",
    "cast": "cast",
    "matmul": "matmul batch_matmul",
    "shape_of": "shape",
    "scalar_int": "size rank",
    "filled": "zeros ones",
    "fill": "fill",
    "like": "zeros_like ones_like",
    "range": "range",
    "concat": "concat",
    "stack": "stack",
    "expand_dims": "expand_dims",
    "squeeze": "squeeze",
    "reshape": "reshape",
    "transpose": "transpose",
    "one_hot": "one_hot",
    "gather": "gather",
    "where": "where",
    "segment": "segment_sum segment_mean segment_max",
    "unsorted_segment": "unsorted_segment_sum unsorted_segment_mean unsorted_segment_max",
    "per_example_loss": "categorical_crossentropy binary_crossentropy softmax_cross_entropy_with_logits",
    "sparse_loss": "sparse_categorical_crossentropy sparse_softmax_cross_entropy_with_logits",
    "scalar_loss": "mean_squared_error mean_absolute_error",
    "random": "random_normal random_uniform truncated_normal",
    "string_unary": "upper lower strip regex_replace substr",
    "string_length": "string_length",
    "as_string": "as_string",
    "string_to_number": "string_to_number",
    "string_join": "string_join",
    "reduce_join": "reduce_join",
    "no_value": "print assert_equal assert_positive",
    "tile": "tile",
    "broadcast_to": "broadcast_to",
    "argsort": "argsort",
    "gather_nd": "gather_nd",
    "einsum": "einsum",
    "linspace": "linspace",
    "categorical_sample": "categorical_sample",
    "elementwise_loss": "sigmoid_cross_entropy_with_logits",
    "conv": "conv1d conv2d",
    "pool": "max_pool1d max_pool2d avg_pool1d avg_pool2d",
    "pad": "pad",
    "resize": "resize",
    "top_k": "top_k top_k_indices",
    "embedding": "embedding_lookup",
    "moments_like": "reduce_variance reduce_std",
    "bias_add": "bias_add",
    "clip": "clip",
    "pow": "pow",
    "broadcast_all": "batch_normalization",
}
TYPE_RULES: dict[str, str] = {op: rule for rule, names in _RULE_OPS.items() for op in names.split()}
