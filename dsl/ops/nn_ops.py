"""Neural-network ops (activations, convolution, pooling, resizing, top_k, embedding lookup): entries, type rules.

Spatial sizes follow TensorFlow's formulas: `SAME` gives ceil(size / stride), `VALID` gives
ceil((size - (kernel - 1) * dilation) / stride); a size that is not a known int stays unknown."""

from __future__ import annotations

from .. import nodes as n
from ..tensor_types import FLOATS, INTS, UNKNOWN, Dim, TensorT, Type, dim_binary, unify_dtype
from .registry import TypeRule, op
from .result_typing import RuleContext, broadcast, float_unary, require_float, same, shape_argument


def penalty(ctx: RuleContext) -> Type:
    """`regularize(x, regularizer)`: Keras' L1L2 penalty of a floating tensor, a scalar of its dtype."""
    x = float_unary(ctx)
    return TensorT(x.dtype, ()) if isinstance(x, TensorT) else x


def broadcast_all(ctx: RuleContext) -> Type:
    """Every tensor argument of one dtype, broadcast together (batch_normalization's five)."""
    result: TensorT | None = None
    for param in ctx.op.params:
        value = ctx.tensor(param.name)
        if param.kind != "tensor" or value is None:
            continue
        if result is None:
            result = value
            continue
        dtype, problem = unify_dtype(result, value)
        if problem:
            ctx.report("E040", ctx.arg_node(param.name), f"`{ctx.op.name}` mixes {problem}", "cast to one dtype")
            return UNKNOWN
        result = TensorT(dtype, broadcast(ctx, result, value), result.weak and value.weak)
    return UNKNOWN if result is None else TensorT(result.dtype, result.shape)


# op -> (spatial dims, the parameter naming its window or filters, the stride parameter)
def _ranked(ctx: RuleContext, name: str, rank: int, what: str) -> TensorT | None:
    """The argument `name` if it has rank `rank` (or an unknown shape); reported and None otherwise."""
    value = ctx.tensor(name)
    if value is None:
        return None
    if value.shape is not None and len(value.shape) != rank:
        ctx.report("E057", ctx.arg_node(name), f"`{ctx.op.name}`: {name} must be {what} (rank {rank}), got {value}",
                "reshape or expand_dims it to that rank")
        return None
    return value


_UNSEEN = object()


def _per_axis(ctx: RuleContext, name: str, spatial: int, default: int = 1) -> list | None:
    """A stride/dilation/window argument as one positive int per spatial axis (an int, or a list of
    `spatial` ints, or of `spatial + 2` ints with 1 for batch and channels), else reported and None.
    A value known only at construction (a parameter) gives None per axis: sizes stay unknown."""
    value = ctx.static(name, _UNSEEN)
    if value is _UNSEEN:
        return [None] * spatial
    if value is None:
        value = default
    if isinstance(value, int) and not isinstance(value, bool):
        values = [value] * spatial
    elif isinstance(value, list) and len(value) == spatial + 2 and value[0] == value[-1] == 1:
        values = value[1:-1]
    elif isinstance(value, list) and len(value) == spatial:
        values = value
    else:
        values = None
    if values is None or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
        ctx.report("E023", ctx.arg_node(name),
                f"`{ctx.op.name}`: {name} must be a positive int or a list of {spatial} of them, got {value!r}",
                f"e.g. {name}=2 or {name}={[2] * spatial}")
        return None
    return values


def _padding(ctx: RuleContext) -> str | None:
    padding = ctx.static("padding", _UNSEEN)
    if padding is _UNSEEN:
        return "unknown"
    if padding not in ("SAME", "VALID"):
        ctx.report("E023", ctx.arg_node("padding"), f"`{ctx.op.name}`: padding must be 'SAME' or 'VALID', got {padding!r}",
                "padding='SAME' keeps the size at stride 1; 'VALID' uses only whole windows")
        return None
    return padding


def _out_size(size: Dim, kernel: Dim, stride: int | None, dilation: int | None, padding: str) -> Dim:
    if not isinstance(size, int) or stride is None or dilation is None or padding == "unknown":
        return None
    if padding == "SAME":
        return -(-size // stride)
    if not isinstance(kernel, int):
        return None
    effective = (kernel - 1) * dilation + 1
    return -(-(size - effective + 1) // stride) if size >= effective else -1  # -1: reported by _spatial


def _spatial(ctx: RuleContext, x: TensorT, out: list[Dim], window: str) -> list[Dim] | None:
    """The output sizes, or None (reported) where a VALID window is larger than the input."""
    if any(d == -1 for d in out):
        ctx.report("E042", None, f"`{ctx.op.name}`: the {window} is larger than the input {x} (padding 'VALID')",
                "use a smaller window, or padding='SAME'")
        return None
    return out


def _strided_and_dilated(strides: list | None, dilations: list | None) -> bool:
    """tf.nn.convolution refuses a stride > 1 with a dilation > 1 on any axes (so does Keras)."""
    if strides is None or dilations is None:
        return False
    return any(isinstance(s, int) and s > 1 for s in strides) and any(
        isinstance(d, int) and d > 1 for d in dilations)


_BATCH_OF = {1: "sequences [N, W, C]", 2: "images [N, H, W, C]", 3: "volumes [N, D, H, W, C]"}


def convolution(spatial: int) -> TypeRule:
    """The type rule of a convolution over `spatial` axes (conv1d: 1, conv2d: 2, conv3d: 3)."""
    return lambda ctx: _convolution(ctx, spatial)


def _convolution(ctx: RuleContext, spatial: int) -> Type:
    """input [N, *spatial, C_in], filters [*window, C_in, C_out] -> [N, *out, C_out]."""
    x = _ranked(ctx, "input", spatial + 2, "a batch of " + _BATCH_OF[spatial])
    filters = _ranked(ctx, "filters", spatial + 2,
                      f"a kernel [{', '.join(['k'] * spatial)}, C_in, C_out]")
    stride_name = "stride" if spatial == 1 else "strides"
    strides = _per_axis(ctx, stride_name, spatial)
    dilations = _per_axis(ctx, "dilations", spatial)
    if _strided_and_dilated(strides, dilations):
        ctx.report("E023", ctx.arg_node("dilations"),
                f"`{ctx.op.name}`: a stride above 1 cannot be combined with a dilation above 1 "
                f"(got {stride_name}={ctx.static(stride_name)!r}, dilations={ctx.static('dilations')!r})",
                "TensorFlow's convolution, like Keras', refuses it: use stride 1 and subsample the result, "
                "or dilation 1")
        dilations = None
    padding = _padding(ctx)
    if x is None or filters is None or not _float_operands(ctx, x, filters):
        return UNKNOWN
    if x.shape is None or filters.shape is None or strides is None or dilations is None or padding is None:
        return TensorT(x.dtype, None)
    channels, in_channels = x.shape[-1], filters.shape[-2]
    if not _channels_fit(ctx, channels, in_channels):
        return TensorT(x.dtype, None)
    out = _spatial(ctx, x, [_out_size(x.shape[1 + i], filters.shape[i], strides[i], dilations[i], padding)
                            for i in range(spatial)], "filter")
    return UNKNOWN if out is None else TensorT(x.dtype, (x.shape[0], *out, filters.shape[-1]))


def _float_operands(ctx: RuleContext, x: TensorT, filters: TensorT) -> bool:
    """A convolution's input and filters: floats, of one dtype (reported, False, otherwise)."""
    if not (require_float(ctx, "input", x) and require_float(ctx, "filters", filters)):
        return False
    if x.dtype and filters.dtype and x.dtype != filters.dtype:
        ctx.report("E040", None, f"`{ctx.op.name}` mixes {x.dtype} input and {filters.dtype} filters",
                   "cast one to the other's dtype")
        return False
    return True


def _channels_fit(ctx: RuleContext, channels: object, in_channels: object,
                  hint: str = "the filters' second-to-last dim is the input's channel count") -> bool:
    if isinstance(channels, int) and isinstance(in_channels, int) and channels != in_channels:
        ctx.report("E042", None, f"`{ctx.op.name}`: input has {channels} channels, the filters expect {in_channels}",
                   hint)
        return False
    return True


def depthwise_convolution(ctx: RuleContext) -> Type:
    """input [N, H, W, C], filters [kh, kw, C, M] -> [N, H', W', C * M] (each channel its own M filters)."""
    x = _ranked(ctx, "input", 4, "a batch of images [N, H, W, C]")
    filters = _ranked(ctx, "filters", 4, "a kernel [k, k, C, depth_multiplier]")
    strides = _per_axis(ctx, "strides", 2)
    dilations = _per_axis(ctx, "dilations", 2)
    if _strided_and_dilated(strides, dilations):
        ctx.report("E023", ctx.arg_node("dilations"),
                f"`{ctx.op.name}`: a stride above 1 cannot be combined with a dilation above 1 "
                f"(got strides={ctx.static('strides')!r}, dilations={ctx.static('dilations')!r})",
                "TensorFlow's depthwise convolution, like Keras', refuses it: use stride 1 or dilation 1")
        dilations = None
    padding = _padding(ctx)
    if x is None or filters is None or not _float_operands(ctx, x, filters):
        return UNKNOWN
    if x.shape is None or filters.shape is None or strides is None or dilations is None or padding is None:
        return TensorT(x.dtype, None)
    channels, in_channels, multiplier = x.shape[-1], filters.shape[-2], filters.shape[-1]
    if not _channels_fit(ctx, channels, in_channels):
        return TensorT(x.dtype, None)
    out = _spatial(ctx, x, [_out_size(x.shape[1 + i], filters.shape[i], strides[i], dilations[i], padding)
                            for i in range(2)], "filter")
    if out is None:
        return UNKNOWN
    return TensorT(x.dtype, (x.shape[0], *out, dim_binary("*", in_channels if channels is None else channels,
                                                         multiplier)))


def convolution_transpose(spatial: int) -> TypeRule:
    """The type rule of a transposed convolution over `spatial` axes (conv1d_transpose: 1, conv2d_transpose: 2)."""
    return lambda ctx: _convolution_transpose(ctx, spatial)


def _transposed_size(size: Dim, kernel: Dim, stride: int | None, padding: str) -> Dim:
    """Keras' output size of a transposed convolution: SAME size * stride, VALID
    size * stride + max(kernel - stride, 0) (which is (size - 1) * stride + kernel when kernel >= stride)."""
    if stride is None or padding == "unknown":
        return None
    if padding == "SAME":
        return dim_binary("*", size, stride)
    return dim_binary("+", dim_binary("*", size, stride), max(kernel - stride, 0)) if isinstance(kernel, int) else None


def _convolution_transpose(ctx: RuleContext, spatial: int) -> Type:
    """input [N, *spatial, C_in], filters [*window, C_out, C_in] (Keras' kernel layout) -> [N, *out, C_out]."""
    x = _ranked(ctx, "input", spatial + 2, "a batch of " + ("sequences [N, W, C]" if spatial == 1 else "images [N, H, W, C]"))
    filters = _ranked(ctx, "filters", spatial + 2, f"a kernel [{', '.join(['k'] * spatial)}, C_out, C_in]")
    strides = _per_axis(ctx, "stride" if spatial == 1 else "strides", spatial)
    padding = _padding(ctx)
    if x is None or filters is None or not _float_operands(ctx, x, filters):
        return UNKNOWN
    if x.shape is None or filters.shape is None or strides is None or padding is None:
        return TensorT(x.dtype, None)
    if not _channels_fit(ctx, x.shape[-1], filters.shape[-1], "a transposed convolution's filters are "
                         "[..., C_out, C_in]: their last dim is the input's channels"):
        return TensorT(x.dtype, None)
    out = [_transposed_size(x.shape[1 + i], filters.shape[i], strides[i], padding) for i in range(spatial)]
    return TensorT(x.dtype, (x.shape[0], *out, filters.shape[-2]))


def pooling(spatial: int) -> TypeRule:
    """The type rule of max/avg pooling over `spatial` axes."""
    return lambda ctx: _pooling(ctx, spatial)


def _pooling(ctx: RuleContext, spatial: int) -> Type:
    """[N, *spatial, C] -> [N, *out, C]."""
    x = _ranked(ctx, "input", spatial + 2, "a batch of " + ("sequences [N, W, C]" if spatial == 1 else "images [N, H, W, C]"))
    window = _per_axis(ctx, "ksize", spatial)
    strides = _per_axis(ctx, "strides", spatial)
    padding = _padding(ctx)
    if x is None or not require_float(ctx, "input", x):
        return UNKNOWN
    if x.shape is None or window is None or strides is None or padding is None:
        return TensorT(x.dtype, None)
    out = _spatial(ctx, x, [_out_size(x.shape[1 + i], window[i], strides[i], 1, padding) for i in range(spatial)],
                   "window")
    return UNKNOWN if out is None else TensorT(x.dtype, (x.shape[0], *out, x.shape[-1]))


def resize(ctx: RuleContext) -> Type:
    """`resize(images, [h, w])`: [N, H, W, C] -> f32[N, h, w, C] (nearest keeps the dtype). The sizes are
    literals, constructor parameters or dim expressions (`[shape(x)[1] * 2, width]`), or a tuple
    parameter `size: int[2]`; a size the checker cannot see stays unknown."""
    x = _ranked(ctx, "images", 4, "a batch of images [N, H, W, C]")
    method = ctx.static("method", _UNSEEN)
    methods = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic")
    if method is not _UNSEEN and method not in methods:
        ctx.report("E023", ctx.arg_node("method"), f"`resize`: method must be one of {', '.join(methods)}, got {method!r}")
        return UNKNOWN
    size = _resize_size(ctx)
    if size is None:
        return UNKNOWN
    if x is None:
        return UNKNOWN
    if x.dtype is not None and x.dtype not in FLOATS | INTS:
        ctx.report("E023", ctx.arg_node("images"), f"`resize` needs numeric images, got {x}")
        return UNKNOWN
    dtype = x.dtype if method == "nearest" else None if method is _UNSEEN else "f32"
    return TensorT(dtype, None if x.shape is None else (x.shape[0], size[0], size[1], x.shape[3]))


def _resize_size(ctx: RuleContext) -> tuple[Dim, Dim] | None:
    """`resize`'s [height, width] as dims, or None (reported) where it is not 2 sizes of at least 1."""
    node = ctx.arg_node("size")
    dims = shape_argument(ctx, "size")
    if dims is None:
        value = ctx.static("size", _UNSEEN)  # a tuple parameter's items, in a body typed for one call
        known = ctx.tensor("size")
        dims = tuple(value) if isinstance(value, list) else (
            (None, None) if known is not None and known.shape in ((2,), (None,)) else None)
    if dims is None or len(dims) != 2 or any(isinstance(d, bool) or isinstance(d, int) and d < 1 for d in dims):
        shown = ctx.static("size", _UNSEEN)
        ctx.report("E023", node, "`resize`: size must be [height, width], 2 sizes of at least 1, got "
                   + (repr(shown) if shown is not _UNSEEN else "a value of another kind"),
                   "e.g. [64, 64], [shape(x)[1] * 2, shape(x)[2] * 2] or [height, width] (int parameters)")
        return None
    return dims[0], dims[1]


def top_k_values(ctx: RuleContext) -> Type:
    return _top_k(ctx, indices=False)


def top_k_indices(ctx: RuleContext) -> Type:
    return _top_k(ctx, indices=True)


def _top_k(ctx: RuleContext, indices: bool) -> Type:
    """`top_k(x, k)`: the k largest along the last axis (values; `top_k_indices` gives i32 indices)."""
    x = ctx.first()
    k = ctx.static("k", _UNSEEN)
    node = ctx.arg_node("k")
    if k is _UNSEEN and isinstance(node, n.Name) and node.id in ctx.params:
        k = node.id  # a constructor parameter: the dim is named after it
    elif k is _UNSEEN:
        k = None
    elif not isinstance(k, int) or isinstance(k, bool) or k < 1:
        ctx.report("E023", ctx.arg_node("k"), f"`{ctx.op.name}`: k must be a positive int known at trace time, got {k!r}")
        return UNKNOWN
    if x.dtype is not None and x.dtype not in FLOATS | INTS:
        ctx.report("E023", ctx.arg_node("input"), f"`{ctx.op.name}` needs a numeric tensor, got {x}")
        return UNKNOWN
    if k is None:
        return TensorT("i32" if indices else x.dtype, None)
    dtype = "i32" if indices else x.dtype
    if x.shape is None:
        return TensorT(dtype, None)
    if not x.shape:
        ctx.report("E057", ctx.arg_node("input"), f"`{ctx.op.name}` needs at least one axis, got {x}")
        return UNKNOWN
    last = x.shape[-1]
    if isinstance(last, int) and isinstance(k, int) and k > last:
        ctx.report("E023", ctx.arg_node("k"), f"`{ctx.op.name}`: k = {k} is more than the last dim of {x}")
        return UNKNOWN
    return TensorT(dtype, (*x.shape[:-1], k))


def embedding(ctx: RuleContext) -> Type:
    """`embedding_lookup(table [V, D], ids)`: ids' shape + [D]."""
    table, ids = ctx.tensor("params") or UNKNOWN, ctx.tensor("ids") or UNKNOWN
    if ids.dtype is not None and ids.dtype not in INTS:
        ctx.report("E044", ctx.arg_node("ids"), f"`embedding_lookup` ids must be integers, got {ids}", "cast them: cast(i, i32)")
        return UNKNOWN
    if table.shape is None or ids.shape is None:
        return TensorT(table.dtype, None)
    if not table.shape:
        ctx.report("E057", ctx.arg_node("params"), f"`embedding_lookup` needs a table of rank >= 1, got {table}")
        return UNKNOWN
    return TensorT(table.dtype, (*ids.shape, *table.shape[1:]))


def bias_add(ctx: RuleContext) -> Type:
    value, bias = ctx.tensor("value") or UNKNOWN, ctx.tensor("bias") or UNKNOWN
    if bias.shape is not None and len(bias.shape) != 1:
        ctx.report("E057", ctx.arg_node("bias"), f"`bias_add`: bias must be a vector (rank 1), got {bias}")
        return UNKNOWN
    if value.shape is not None and bias.shape is not None and value.shape:
        last, size = value.shape[-1], bias.shape[0]
        if isinstance(last, int) and isinstance(size, int) and last != size:
            ctx.report("E041", None, f"`bias_add`: bias of {size} for a last dim of {last}")
            return UNKNOWN
    if value.dtype and bias.dtype and value.dtype != bias.dtype:
        ctx.report("E040", None, f"`bias_add` mixes {value.dtype} and {bias.dtype}", "cast one to the other's dtype")
        return UNKNOWN
    return TensorT(value.dtype, value.shape)


_CONV = "convolution and pooling"  # a category of its own in the docs' op table

OPS = (
    op("relu", "tf.nn.relu", "features", "nn", same, dtypes="features: real"),
    op("relu6", "tf.nn.relu6", "features", "nn", same, dtypes="features: real"),
    op("elu", "tf.nn.elu", "features", "nn", float_unary),
    op("selu", "tf.nn.selu", "features", "nn", float_unary),
    op("gelu", "tf.nn.gelu", "features, approximate:static=False", "nn", float_unary, static="approximate: bool"),
    op("leaky_relu", "tf.nn.leaky_relu", "features, alpha:static=0.2", "nn", same, dtypes="features: float",
       static="alpha: number", examples=("x", "x, alpha=0.1"), refused=("x, alpha='big'",)),
    op("softplus", "tf.math.softplus", "features", "nn", float_unary),
    op("silu", "tf.nn.silu", "features", "nn", float_unary),
    op("softmax", "tf.nn.softmax", "logits, axis:static=None", "nn", float_unary, ranks="logits: 1+",
       static="axis: axis", examples=("x", "x, axis=0")),
    op("log_softmax", "tf.nn.log_softmax", "logits, axis:static=None", "nn", float_unary, ranks="logits: 1+",
       static="axis: axis", refused=("x, axis=-3",)),
    op("dropout", "_dropout", "x, rate:static, seed:static=None", "nn", float_unary,
       static="rate: probability, seed: int", effects="random",
       examples=("x, 0.5", "x, 0.0, seed=1"), refused=("x, -0.1", "x, 1.0")),
    op("softsign", "tf.nn.softsign", "features", "nn", float_unary, dtypes="features: float"),
    op("log_sigmoid", "tf.math.log_sigmoid", "x", "nn", float_unary, dtypes="x: float"),
    op("bias_add", "tf.nn.bias_add", "value, bias", "nn", bias_add, dtypes="value bias: numeric",
       shared="value bias", ranks="value: 2+, bias: 1", examples=("x, x[0]",)),
    op("batch_normalization", "tf.nn.batch_normalization",
       "x, mean, variance, offset, scale, variance_epsilon:static", "nn", broadcast_all,
       dtypes="x mean variance offset scale: float", tensor_only="x mean variance offset scale",
       static="variance_epsilon: number", examples=("x, x, x, x, x, 0.001",)),
    # Convolutions lower to tf.nn.convolution: the one convolution whose gradient TensorFlow computes with
    # dilations > 1 on every CPU (tf.nn.conv1d/conv2d's backprop kernels refuse dilations without
    # oneDNN, e.g. on AMD processors); with dilation 1 it runs the same Conv2D op. Its fifth positional
    # parameter is data_format, so strides, padding and dilations go by keyword.
    op("conv1d", "tf.nn.convolution",
       "input, filters, stride:static=1, padding:static='VALID', dilations:static=None", _CONV, convolution(1),
       dtypes="input filters: f16 bf16 f32 f64", keywords="stride=strides padding dilations",
       tfm_defaults="stride padding",
       examples=("reshape(x, [1, 6, 1]), reshape(x, [2, 1, 3]), dilations=2",
                 "reshape(x, [1, 6, 1]), reshape(x, [2, 1, 3])",
                 "reshape(x, [1, 6, 1]), reshape(x, [2, 1, 3]), stride=2, padding='SAME'"),
       refused=("reshape(x, [1, 6, 1]), reshape(x, [2, 1, 3]), stride=2, dilations=2",)),
    op("conv2d", "tf.nn.convolution",
       "input, filters, strides:static=1, padding:static='VALID', dilations:static=None", _CONV, convolution(2),
       dtypes="input filters: f16 bf16 f32 f64", keywords="strides padding dilations",
       tfm_defaults="strides padding",
       examples=("reshape(x, [1, 3, 2, 1]), reshape(x, [2, 1, 1, 3]), padding='SAME', dilations=[2, 1]",
                 "reshape(x, [1, 2, 3, 1]), reshape(x, [1, 1, 1, 6])",
                 "reshape(x, [1, 2, 3, 1]), reshape(x, [2, 1, 1, 3]), strides=2, padding='SAME'",
                 "reshape(x, [1, 3, 2, 1]), reshape(x, [1, 2, 1, 3]), strides=[1, 2]"),
       refused=("x, x",
                "reshape(x, [1, 2, 3, 1]), reshape(x, [1, 1, 2, 3])",
                "reshape(x, [1, 2, 3, 1]), reshape(x, [1, 1, 1, 6]), padding='FULL'",
                "reshape(x, [1, 2, 3, 1]), reshape(x, [1, 1, 1, 6]), strides=0",
                "reshape(x, [1, 3, 2, 1]), reshape(x, [1, 1, 1, 6]), strides=[2, 1], dilations=[1, 2]")),
    op("conv3d", "tf.nn.convolution",
       "input, filters, strides:static=1, padding:static='VALID', dilations:static=None", _CONV, convolution(3),
       dtypes="input filters: f16 bf16 f32 f64", keywords="strides padding dilations",
       tfm_defaults="strides padding",
       examples=("reshape(x, [1, 1, 2, 3, 1]), reshape(x, [1, 1, 1, 1, 6])",
                 "reshape(x, [1, 1, 3, 2, 1]), reshape(x, [1, 2, 1, 1, 3]), strides=[1, 2, 1], padding='SAME'",
                 "reshape(x, [1, 1, 3, 2, 1]), reshape(x, [1, 2, 1, 1, 3]), padding='SAME', dilations=[1, 2, 1]"),
       refused=("x, x", "reshape(x, [1, 1, 2, 3, 1]), reshape(x, [1, 1, 1, 2, 3])",
                "reshape(x, [1, 1, 3, 2, 1]), reshape(x, [1, 1, 1, 1, 6]), strides=[1, 2], padding='SAME'")),
    op("depthwise_conv2d", "_depthwise_conv2d",
       "input, filters, strides:static=1, padding:static='VALID', dilations:static=None", _CONV, depthwise_convolution,
       dtypes="input filters: f16 bf16 f32 f64", tfm_defaults="strides padding",
       examples=("reshape(x, [1, 2, 3, 1]), reshape(x, [1, 1, 1, 6])",
                 "reshape(x, [1, 3, 2, 1]), reshape(x, [2, 1, 1, 3]), strides=2, padding='SAME'",
                 "reshape(x, [1, 3, 2, 1]), reshape(x, [2, 1, 1, 3]), padding='SAME', dilations=2"),
       refused=("x, x", "reshape(x, [1, 2, 3, 1]), reshape(x, [1, 1, 2, 3])",
                "reshape(x, [1, 3, 2, 1]), reshape(x, [1, 1, 1, 6]), strides=2, dilations=2")),
    # Transposed convolutions as Keras computes them (no output_padding, no dilation): the output size
    # comes from the input's, so the runtime helper builds the output_shape tensor tf.nn.conv_transpose needs.
    op("conv1d_transpose", "_conv1d_transpose", "input, filters, stride:static=1, padding:static='VALID'", _CONV,
       convolution_transpose(1), dtypes="input filters: f16 bf16 f32 f64", tfm_defaults="stride padding",
       examples=("reshape(x, [1, 6, 1]), reshape(x, [2, 3, 1])",
                 "reshape(x, [1, 6, 1]), reshape(x, [3, 2, 1]), stride=2",
                 "reshape(x, [1, 6, 1]), reshape(x, [2, 3, 1]), stride=3, padding='SAME'"),
       refused=("reshape(x, [1, 6, 1]), reshape(x, [2, 1, 3])",)),
    op("conv2d_transpose", "_conv2d_transpose", "input, filters, strides:static=1, padding:static='VALID'", _CONV,
       convolution_transpose(2), dtypes="input filters: f16 bf16 f32 f64", tfm_defaults="strides padding",
       examples=("reshape(x, [1, 2, 3, 1]), reshape(x, [1, 2, 3, 1])",
                 "reshape(x, [1, 3, 2, 1]), reshape(x, [2, 1, 3, 1]), strides=2, padding='SAME'",
                 "reshape(x, [1, 2, 3, 1]), reshape(x, [3, 1, 2, 1]), strides=[1, 2]"),
       refused=("x, x", "reshape(x, [1, 2, 3, 1]), reshape(x, [1, 1, 1, 6]), padding='FULL'",
                "reshape(x, [1, 2, 3, 1]), reshape(x, [1, 1, 1, 6]), strides=0")),
    op("max_pool1d", "tf.nn.max_pool1d", "input, ksize:static, strides:static=None, padding:static='VALID'", _CONV,
       pooling(1), dtypes="input: f16 bf16 f32 f64", tfm_defaults="strides padding",
       examples=("reshape(x, [1, 6, 1]), 2", "reshape(x, [1, 6, 1]), 3, strides=2, padding='SAME'")),
    op("max_pool2d", "tf.nn.max_pool2d", "input, ksize:static, strides:static=None, padding:static='VALID'", _CONV,
       pooling(2), dtypes="input: f16 bf16 f32 f64", tfm_defaults="strides padding",
       examples=("reshape(x, [1, 2, 3, 1]), 2",
                 "reshape(x, [1, 2, 3, 1]), 2, padding='SAME'",
                 "reshape(x, [1, 2, 3, 1]), [1, 2], strides=1"),
       refused=("x, 2", "reshape(x, [1, 2, 3, 1]), [2, 2, 2]")),
    op("avg_pool1d", "tf.nn.avg_pool1d", "input, ksize:static, strides:static=None, padding:static='VALID'", _CONV,
       pooling(1), dtypes="input: f16 bf16 f32 f64", tfm_defaults="strides padding",
       examples=("reshape(x, [1, 6, 1]), 2", "reshape(x, [1, 6, 1]), 4, strides=1, padding='SAME'")),
    op("avg_pool2d", "tf.nn.avg_pool2d", "input, ksize:static, strides:static=None, padding:static='VALID'", _CONV,
       pooling(2), dtypes="input: f16 bf16 f32 f64", tfm_defaults="strides padding",
       examples=("reshape(x, [1, 2, 3, 1]), 2", "reshape(x, [1, 2, 3, 1]), [2, 3], strides=[1, 1, 1, 1]")),
    op("embedding_lookup", "tf.nn.embedding_lookup", "params, ids", "nn", embedding, dtypes="ids: i32 i64",
       ranks="params: 1+", tensor_only="params", examples=("x, v", "x, i")),
    op("resize", "tf.image.resize", "images, size, method:static='bilinear'", "image", resize,
       dtypes="images: real -u32 -u64",
       examples=("reshape(x, [1, 2, 3, 1]), [4, 5]", "reshape(x, [1, 2, 3, 1]), [1, 1], method='nearest'"),
       refused=("reshape(x, [1, 2, 3, 1]), [0, 2]",)),
    op("regularize", "_penalty", "x, regularizer:static", "nn", penalty, static="regularizer: regularizer",
       examples=("x, 'l2(0.01)'", "x, 'l1_l2(l1=0.001, l2=0.01)'", "x, 'l1'", "x, ''"), refused=("x, 'l3'",)),
    op("activate", "_activate", "x, name:static", "nn", float_unary, static="name: activation",
       examples=("x, 'relu'", "x, 'gelu'", "x, 'softmax'", "x, 'linear'", "x, 'sparsemax'", "x, 'celu'",
                 "x, 'hard_silu'", "x, 'sparse_plus'", "x, 'soft_shrink'", "x, 'gelu_approximate'")),
    op("top_k", "_top_k_values", "input, k:static=1", "nn", top_k_values, dtypes="input: real -u32 -u64",
       ranks="input: 1+", examples=("x", "x, 2"), refused=("x, 4", "x, 0")),
    op("top_k_indices", "_top_k_indices", "input, k:static=1", "nn", top_k_indices,
       dtypes="input: real -u32 -u64", ranks="input: 1+", examples=("x", "x, 3")),
)
