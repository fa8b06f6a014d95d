"""Result rules for the neural-network ops (convolution, pooling, padding, resizing, top_k, embedding
lookup): the same contract as `dsl.shape_rules`, kept apart because their shape arithmetic is its own.

Spatial sizes follow TensorFlow's formulas: `SAME` gives ceil(size / stride), `VALID` gives
ceil((size - (kernel - 1) * dilation) / stride); a size that is not a known int stays unknown.
"""

from __future__ import annotations

from . import nodes as n
from .shape_rules import RuleContext, reduce
from .tensor_types import FLOATS, INTS, UNKNOWN, Dim, TensorT, Type

# op -> (spatial dims, the parameter naming its window or filters, the stride parameter)
_SPATIAL = {"conv1d": 1, "conv2d": 2, "max_pool1d": 1, "max_pool2d": 2, "avg_pool1d": 1, "avg_pool2d": 2}


def _ranked(ctx: RuleContext, name: str, rank: int, what: str) -> TensorT | None:
    """The argument `name` if it has rank `rank` (or an unknown shape); reported and None otherwise."""
    value = ctx.tensor(name)
    if value is None:
        return None
    if value.shape is not None and len(value.shape) != rank:
        ctx.err("E057", ctx.arg_node(name), f"`{ctx.op.name}`: {name} must be {what} (rank {rank}), got {value}",
                "reshape or expand_dims it to that rank")
        return None
    return value


def _float(ctx: RuleContext, name: str, value: TensorT) -> bool:
    if value.dtype is not None and value.dtype not in FLOATS:
        ctx.err("E051", ctx.arg_node(name), f"`{ctx.op.name}` needs a floating-point {name}, got {value}",
                "cast it: cast(x, f32)")
        return False
    return True


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
        ctx.err("E023", ctx.arg_node(name),
                f"`{ctx.op.name}`: {name} must be a positive int or a list of {spatial} of them, got {value!r}",
                f"e.g. {name}=2 or {name}={[2] * spatial}")
        return None
    return values


def _padding(ctx: RuleContext) -> str | None:
    padding = ctx.static("padding", _UNSEEN)
    if padding is _UNSEEN:
        return "unknown"
    if padding not in ("SAME", "VALID"):
        ctx.err("E023", ctx.arg_node("padding"), f"`{ctx.op.name}`: padding must be 'SAME' or 'VALID', got {padding!r}",
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
        ctx.err("E042", None, f"`{ctx.op.name}`: the {window} is larger than the input {x} (padding 'VALID')",
                "use a smaller window, or padding='SAME'")
        return None
    return out


def _strided_and_dilated(strides: list | None, dilations: list | None) -> bool:
    """tf.nn.convolution refuses a stride > 1 with a dilation > 1 on any axes (so does Keras)."""
    known = strides is not None and dilations is not None
    return known and any(isinstance(s, int) and s > 1 for s in strides) and any(
        isinstance(d, int) and d > 1 for d in dilations)


def conv(ctx: RuleContext) -> Type:
    """conv1d/conv2d: input [N, *spatial, C_in], filters [*window, C_in, C_out] -> [N, *out, C_out]."""
    spatial = _SPATIAL[ctx.op.name]
    x = _ranked(ctx, "input", spatial + 2, "a batch of " + ("sequences [N, W, C]" if spatial == 1 else "images [N, H, W, C]"))
    filters = _ranked(ctx, "filters", spatial + 2,
                      f"a kernel [{', '.join(['k'] * spatial)}, C_in, C_out]")
    stride_name = "stride" if spatial == 1 else "strides"
    strides = _per_axis(ctx, stride_name, spatial)
    dilations = _per_axis(ctx, "dilations", spatial)
    if _strided_and_dilated(strides, dilations):
        ctx.err("E023", ctx.arg_node("dilations"),
                f"`{ctx.op.name}`: a stride above 1 cannot be combined with a dilation above 1 "
                f"(got {stride_name}={ctx.static(stride_name)!r}, dilations={ctx.static('dilations')!r})",
                "TensorFlow's convolution, like Keras', refuses it: use stride 1 and subsample the result, "
                "or dilation 1")
        dilations = None
    padding = _padding(ctx)
    if x is None or filters is None or not (_float(ctx, "input", x) and _float(ctx, "filters", filters)):
        return UNKNOWN
    if x.dtype and filters.dtype and x.dtype != filters.dtype:
        ctx.err("E040", None, f"`{ctx.op.name}` mixes {x.dtype} input and {filters.dtype} filters",
                "cast one to the other's dtype")
        return UNKNOWN
    if x.shape is None or filters.shape is None or None in (strides, dilations, padding):
        return TensorT(x.dtype, None)
    channels, in_channels = x.shape[-1], filters.shape[-2]
    if isinstance(channels, int) and isinstance(in_channels, int) and channels != in_channels:
        ctx.err("E042", None, f"`{ctx.op.name}`: input has {channels} channels, the filters expect {in_channels}",
                "the filters' second-to-last dim is the input's channel count")
        return TensorT(x.dtype, None)
    out = _spatial(ctx, x, [_out_size(x.shape[1 + i], filters.shape[i], strides[i], dilations[i], padding)
                            for i in range(spatial)], "filter")
    return UNKNOWN if out is None else TensorT(x.dtype, (x.shape[0], *out, filters.shape[-1]))


def pool(ctx: RuleContext) -> Type:
    """max/avg pooling: [N, *spatial, C] -> [N, *out, C]."""
    spatial = _SPATIAL[ctx.op.name]
    x = _ranked(ctx, "input", spatial + 2, "a batch of " + ("sequences [N, W, C]" if spatial == 1 else "images [N, H, W, C]"))
    window = _per_axis(ctx, "ksize", spatial)
    strides = _per_axis(ctx, "strides", spatial)
    padding = _padding(ctx)
    if x is None or not _float(ctx, "input", x):
        return UNKNOWN
    if x.shape is None or None in (window, strides, padding):
        return TensorT(x.dtype, None)
    out = _spatial(ctx, x, [_out_size(x.shape[1 + i], window[i], strides[i], 1, padding) for i in range(spatial)],
                   "window")
    return UNKNOWN if out is None else TensorT(x.dtype, (x.shape[0], *out, x.shape[-1]))


def pad(ctx: RuleContext) -> Type:
    """`pad(x, [[before, after], ...])`: one pair of non-negative ints per axis."""
    x = ctx.first()
    paddings = ctx.static("paddings")
    mode = ctx.static("mode", "CONSTANT")
    if not isinstance(mode, str) or mode.upper() not in ("CONSTANT", "REFLECT", "SYMMETRIC"):
        ctx.err("E023", ctx.arg_node("mode"), f"`pad`: mode must be 'CONSTANT', 'REFLECT' or 'SYMMETRIC', got {mode!r}")
        return UNKNOWN
    pairs_ok = isinstance(paddings, list) and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in p)
        for p in paddings)
    if not pairs_ok:
        ctx.err("E023", ctx.arg_node("paddings"), f"`pad`: paddings must be a literal list of [before, after] "
                f"pairs of non-negative ints, got {paddings!r}", "e.g. [[0, 0], [1, 1]] for a matrix")
        return UNKNOWN
    if x.shape is None:
        return TensorT(x.dtype, None)
    if len(paddings) != len(x.shape):
        ctx.err("E023", ctx.arg_node("paddings"), f"`pad`: {len(paddings)} [before, after] pairs for {x}, "
                f"which has rank {len(x.shape)}", "give one pair per axis")
        return UNKNOWN
    mirrored = {"REFLECT": 1, "SYMMETRIC": 0}.get(mode.upper())  # a mirror pads from within the axis
    for axis, (d, pair) in enumerate(zip(x.shape, paddings)):
        if mirrored is not None and isinstance(d, int) and max(pair) > d - mirrored:
            ctx.err("E023", ctx.arg_node("paddings"), f"`pad`: {mode} padding of {max(pair)} on axis {axis} of {x}",
                    f"{mode} pads at most {d - mirrored} there (the axis size{' less one' if mirrored else ''})")
            return UNKNOWN
    return TensorT(x.dtype, tuple(d + a + b if isinstance(d, int) else None for d, (a, b) in zip(x.shape, paddings)))


def resize(ctx: RuleContext) -> Type:
    """`resize(images, [h, w])`: [N, H, W, C] -> f32[N, h, w, C] (nearest keeps the dtype)."""
    x = _ranked(ctx, "images", 4, "a batch of images [N, H, W, C]")
    size = ctx.static("size")
    method = ctx.static("method", _UNSEEN)
    methods = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic")
    if method is not _UNSEEN and method not in methods:
        ctx.err("E023", ctx.arg_node("method"), f"`resize`: method must be one of {', '.join(methods)}, got {method!r}")
        return UNKNOWN
    if not (isinstance(size, list) and len(size) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in size)):
        ctx.err("E023", ctx.arg_node("size"), f"`resize`: size must be a literal [height, width] of positive ints, got {size!r}")
        return UNKNOWN
    if x is None:
        return UNKNOWN
    if x.dtype is not None and x.dtype not in FLOATS | INTS:
        ctx.err("E023", ctx.arg_node("images"), f"`resize` needs numeric images, got {x}")
        return UNKNOWN
    dtype = x.dtype if method == "nearest" else None if method is _UNSEEN else "f32"
    return TensorT(dtype, None if x.shape is None else (x.shape[0], size[0], size[1], x.shape[3]))


def top_k(ctx: RuleContext) -> Type:
    """`top_k(x, k)`: the k largest along the last axis (values; `top_k_indices` gives i32 indices)."""
    x = ctx.first()
    k = ctx.static("k", _UNSEEN)
    node = ctx.arg_node("k")
    if k is _UNSEEN and isinstance(node, n.Name) and node.id in ctx.params:
        k = node.id  # a constructor parameter: the dim is named after it
    elif k is _UNSEEN:
        k = None
    elif not isinstance(k, int) or isinstance(k, bool) or k < 1:
        ctx.err("E023", ctx.arg_node("k"), f"`{ctx.op.name}`: k must be a positive int known at trace time, got {k!r}")
        return UNKNOWN
    if x.dtype is not None and x.dtype not in FLOATS | INTS:
        ctx.err("E023", ctx.arg_node("input"), f"`{ctx.op.name}` needs a numeric tensor, got {x}")
        return UNKNOWN
    if k is None:
        return TensorT("i32" if ctx.op.name == "top_k_indices" else x.dtype, None)
    dtype = "i32" if ctx.op.name == "top_k_indices" else x.dtype
    if x.shape is None:
        return TensorT(dtype, None)
    if not x.shape:
        ctx.err("E057", ctx.arg_node("input"), f"`{ctx.op.name}` needs at least one axis, got {x}")
        return UNKNOWN
    last = x.shape[-1]
    if isinstance(last, int) and isinstance(k, int) and k > last:
        ctx.err("E023", ctx.arg_node("k"), f"`{ctx.op.name}`: k = {k} is more than the last dim of {x}")
        return UNKNOWN
    return TensorT(dtype, (*x.shape[:-1], k))


def embedding(ctx: RuleContext) -> Type:
    """`embedding_lookup(table [V, D], ids)`: ids' shape + [D]."""
    table, ids = ctx.tensor("params") or UNKNOWN, ctx.tensor("ids") or UNKNOWN
    if ids.dtype is not None and ids.dtype not in INTS:
        ctx.err("E044", ctx.arg_node("ids"), f"`embedding_lookup` ids must be integers, got {ids}", "cast them: cast(i, i32)")
        return UNKNOWN
    if table.shape is None or ids.shape is None:
        return TensorT(table.dtype, None)
    if not table.shape:
        ctx.err("E057", ctx.arg_node("params"), f"`embedding_lookup` needs a table of rank >= 1, got {table}")
        return UNKNOWN
    return TensorT(table.dtype, (*ids.shape, *table.shape[1:]))


def moments_like(ctx: RuleContext) -> Type:
    """reduce_variance / reduce_std: a float reduction."""
    x = ctx.first()
    if not _float(ctx, ctx.op.params[0].name, x):
        return UNKNOWN
    return reduce(ctx)


def bias_add(ctx: RuleContext) -> Type:
    value, bias = ctx.tensor("value") or UNKNOWN, ctx.tensor("bias") or UNKNOWN
    if bias.shape is not None and len(bias.shape) != 1:
        ctx.err("E057", ctx.arg_node("bias"), f"`bias_add`: bias must be a vector (rank 1), got {bias}")
        return UNKNOWN
    if value.shape is not None and bias.shape is not None and value.shape:
        last, size = value.shape[-1], bias.shape[0]
        if isinstance(last, int) and isinstance(size, int) and last != size:
            ctx.err("E041", None, f"`bias_add`: bias of {size} for a last dim of {last}")
            return UNKNOWN
    if value.dtype and bias.dtype and value.dtype != bias.dtype:
        ctx.err("E040", None, f"`bias_add` mixes {value.dtype} and {bias.dtype}", "cast one to the other's dtype")
        return UNKNOWN
    return TensorT(value.dtype, value.shape)


NN_RULES = {"conv": conv, "pool": pool, "pad": pad, "resize": resize, "top_k": top_k, "embedding": embedding,
            "moments_like": moments_like, "bias_add": bias_add}
