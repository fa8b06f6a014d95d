"""Runtime helpers of generated modules, as a real module: tests import it, linters read it.

The generator copies into each generated file the definitions a program uses, and the definitions
those use in turn (found by reading this file's syntax tree, never by importing it), so generated
code still imports only TensorFlow. A helper is a top-level function, class or `NAME = ...` here.
"""

import tensorflow as tf

# The Python builtins the helpers use under the names generated code binds them to (the generated
# file binds the same names in its own header, before any module class could shadow them).
_range, _len, _zip, _enumerate, _isinstance = range, len, zip, enumerate, isinstance
_int, _bool, _ValueError = int, bool, ValueError


def _hard_sigmoid(x):
    return tf.nn.relu6(x + tf.constant(3.0, x.dtype)) / tf.constant(6.0, x.dtype)


def _hard_silu(x):
    return x * _hard_sigmoid(x)


def _mish(x):
    return x * tf.math.tanh(tf.math.softplus(x))


def _celu(x):
    return tf.maximum(x, 0.0) + tf.math.expm1(tf.minimum(x, 0.0))


def _hard_tanh(x):
    return tf.clip_by_value(x, -1.0, 1.0)


def _hard_shrink(x):
    return tf.where(tf.abs(x) > 0.5, x, tf.zeros_like(x))


def _soft_shrink(x):
    return tf.where(x > 0.5, x - 0.5, tf.where(x < -0.5, x + 0.5, tf.zeros_like(x)))


def _tanh_shrink(x):
    return x - tf.math.tanh(x)


def _squareplus(x):
    return (x + tf.sqrt(tf.square(x) + tf.constant(4.0, x.dtype))) / 2


def _sparse_plus(x):
    return tf.where(x <= -1, tf.zeros_like(x), tf.where(x < 1, (1 / 4) * tf.pow(x + 1, 2), x))


def _sparse_sigmoid(x):
    zero, one = tf.constant(0.0, x.dtype), tf.constant(1.0, x.dtype)
    return tf.where(x <= -1, zero, tf.where(x >= 1, one, 0.5 * (x + 1)))


def _sparsemax(x):
    """Sparsemax over the last axis (Martins & Astudillo 2016), as Keras computes it."""
    ordered = tf.sort(x, direction="DESCENDING", axis=-1)
    cumulative = tf.cumsum(ordered, axis=-1)
    r = tf.cast(tf.range(1, tf.shape(x)[-1] + 1), x.dtype)  # TensorFlow has no f16 range
    support = ordered - (cumulative - 1) / r > 0
    k = tf.reduce_sum(tf.cast(support, x.dtype), axis=-1, keepdims=True)
    tau = (tf.reduce_sum(tf.where(support, cumulative, 0.0), axis=-1, keepdims=True) - 1) / k
    return tf.maximum(x - tau, 0.0)


def _gelu_approximate(x):
    return tf.nn.gelu(x, approximate=True)


# Every activation keras.activations.get knows by name (computed as Keras 3 computes it, so values
# and gradients agree), with their Keras defaults, and gelu's tanh approximation; not `threshold`,
# which has no defaults, nor `glu`, which halves the last axis.
_ACTIVATIONS = {
    "linear": tf.convert_to_tensor,  # no op for a tensor (tf.identity added one to every linear layer)
    "relu": tf.nn.relu,
    "relu6": tf.nn.relu6,
    "leaky_relu": tf.nn.leaky_relu,
    "elu": tf.nn.elu,
    "selu": tf.nn.selu,
    "celu": _celu,
    "gelu": tf.nn.gelu,
    "gelu_approximate": _gelu_approximate,
    "sigmoid": tf.math.sigmoid,
    "hard_sigmoid": _hard_sigmoid,
    "sparse_sigmoid": _sparse_sigmoid,
    "log_sigmoid": tf.math.log_sigmoid,
    "tanh": tf.math.tanh,
    "hard_tanh": _hard_tanh,
    "tanh_shrink": _tanh_shrink,
    "softmax": tf.nn.softmax,
    "log_softmax": tf.nn.log_softmax,
    "sparsemax": _sparsemax,
    "softplus": tf.math.softplus,
    "sparse_plus": _sparse_plus,
    "squareplus": _squareplus,
    "softsign": tf.nn.softsign,
    "silu": tf.nn.silu,
    "swish": tf.nn.silu,
    "hard_silu": _hard_silu,
    "hard_swish": _hard_silu,
    "mish": _mish,
    "exponential": tf.math.exp,
    "hard_shrink": _hard_shrink,
    "soft_shrink": _soft_shrink,
}


def _activate(x, name):
    """Apply the activation called `name` (a constructor parameter, so chosen at trace time)."""
    if name not in _ACTIVATIONS:
        raise _ValueError(f"unknown activation {name!r}; known: {', '.join(_ACTIVATIONS)}")
    return _ACTIVATIONS[name](x)


def _dimension(name, value):
    """`value`, once checked to be a size a dimension can have: a zero size aborts oneDNN."""
    if not _isinstance(value, _int) or _isinstance(value, _bool) or value < 1:
        raise _ValueError(f"constructor parameter {name} = {value!r} sizes a dimension: it must be an int >= 1")
    return value


def _int_tuple(name, value, length):
    """A tuple parameter's value (`kernel_size: int[2]`) as a tuple of `length` ints: an int stands
    for every item, as in Keras (`kernel_size=3` is `(3, 3)`). A `length` of None (`int[...]`) takes a
    tuple or list of ints of any length, and no int alone."""
    wanted = "a tuple of ints" if length is None else f"an int or {length} ints"
    if _isinstance(value, _int) and length is None:
        raise _ValueError(f"constructor parameter {name} = {value!r} must be {wanted}")
    items = (value,) * (length or 0) if _isinstance(value, _int) else (*value,)
    if length is not None and _len(items) != length:
        raise _ValueError(f"constructor parameter {name} = {value!r} must be {wanted}")
    for item in items:
        if not _isinstance(item, _int) or _isinstance(item, _bool):
            raise _ValueError(f"constructor parameter {name} = {value!r} must be {wanted}")
    return items


def _dimension_of(text, value):
    """`value`, the size a dimension expression (`text`, as written) computes for this instance, once
    checked to be at least 1."""
    if value < 1:
        raise _ValueError(f"dimension {text} is {value!r} for these constructor parameters: it must be >= 1")
    return value


def _same_dims(a, a_axes, b, b_axes, message):
    """`b`, once one run-time check has passed that `a` and `b` agree on their shared named dims
    (`a.shape[a_axes[k]] == b.shape[b_axes[k]]`). One tf.Assert per pair of inputs, whole shapes
    compared when they line up: the fewest ops, so calls and tracing stay as cheap as by hand."""
    shape_a, shape_b = tf.shape(a), tf.shape(b)
    whole = a_axes == b_axes and a.shape.rank == b.shape.rank == _len(b_axes)  # b_axes ascend: all of them
    sizes_a = shape_a if whole else tf.gather(shape_a, a_axes)
    sizes_b = shape_b if whole else tf.gather(shape_b, b_axes)
    check = tf.Assert(tf.reduce_all(tf.equal(sizes_a, sizes_b)), [message, sizes_a, sizes_b])
    with tf.control_dependencies([check]):
        return tf.identity(b)


def _array_pop(array, message):
    """`(rest, last)`: the list without its last element, and that element. A TensorArray cannot
    shrink, so the rest is a new array made from the stacked elements (O(length) per pop)."""
    check = tf.Assert(array.size() > 0, [message])
    with tf.control_dependencies([check]):
        items = array.stack()
    rest = tf.TensorArray(array.dtype, size=0, dynamic_size=True, element_shape=array.element_shape)
    return rest.unstack(items[:-1]), items[-1]


def _outputs(result, names):
    """The values of a method's several outputs (a dict by output name), in the order `names` gives."""
    return [result[name] for name in names]


def _renamed(result, names, as_names):
    """A method's several outputs returned as another method's: output `names[i]` becomes `as_names[i]`."""
    renamed = {}
    for old, new in _zip(names, as_names):
        renamed[new] = result[old]
    return renamed


def _dispatch(name, functions, args):
    """Run the first of `functions` (the tf.functions of one method's signatures, in declared order)
    whose input signature `args` fit: by shape and dtype, else by shape alone (a Python number or
    list is converted to the signature's dtype, as a tf.function converts it)."""
    seen = [arg if _isinstance(arg, (tf.Tensor, tf.Variable)) else tf.convert_to_tensor(arg) for arg in args]
    for value in seen:
        if value.shape.rank is None:  # a traced tensor whose rank only the run knows: no signature can be chosen
            raise _ValueError(f"{name}: an input's rank is not known when the call is traced, so no signature "
                              "can be chosen for it; give it a known rank first (reshape to a fixed-length shape)")
    for same_dtype in (True, False):
        for function in functions:
            if _fits(function.input_signature, seen, same_dtype):
                return function(*args)
    wanted = []
    for function in functions:
        wanted.append(", ".join([f"{spec.name}: {spec.dtype.name}{spec.shape}" for spec in function.input_signature]))
    got = ", ".join([f"{value.dtype.name}{value.shape}" for value in seen])
    raise _ValueError(f"{name}: no signature surely takes inputs {got} (a size unknown when traced fits no "
                      f"fixed size); its signatures: {'; '.join(wanted)}")


def _fits(specs, values, same_dtype):
    """Whether `values` surely fit `specs`: every fixed size of a spec known and equal in the value
    (a size unknown when traced could be any, so it fits no fixed size)."""
    for spec, value in _zip(specs, values):
        if value.shape.rank != spec.shape.rank or (same_dtype and value.dtype != spec.dtype):
            return False
        for want, got in _zip(spec.shape.as_list(), value.shape.as_list()):
            if want is not None and got != want:
                return False
    return True


def _logits_of(y_pred, op_type, axis):
    """The logits `y_pred` was computed from, when the traced graph shows it is (through Identity ops)
    the output of an `op_type` op (Softmax or Sigmoid, both over the last axis) and the loss reduces
    the last axis; else None. A cross-entropy given such probabilities computes from the logits, as
    Keras 3 does, so a saturated prediction keeps its true loss and gradient instead of clipped ones."""
    if not _isinstance(y_pred, tf.Tensor) or tf.executing_eagerly() or axis not in (-1, y_pred.shape.rank - 1):
        return None
    op = y_pred.op
    while op.type == "Identity":
        op = op.inputs[0].op
    return op.inputs[0] if op.type == op_type else None


def _categorical_crossentropy(y_true, y_pred, from_logits, label_smoothing, axis, reduction):
    """Per-example categorical cross-entropy, as keras.losses.categorical_crossentropy computes it."""
    if label_smoothing:
        classes = tf.cast(tf.shape(y_true)[-1], y_pred.dtype)
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / classes
    logits = None if from_logits else _logits_of(y_pred, "Softmax", axis)
    if from_logits or logits is not None:
        losses = tf.nn.softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred if logits is None else logits,
                                                         axis=axis)
        return _reduce_loss(losses, reduction)
    y_pred = y_pred / tf.reduce_sum(y_pred, axis=axis, keepdims=True)
    y_pred = tf.clip_by_value(y_pred, 1e-7, 1.0 - 1e-7)
    return _reduce_loss(-tf.reduce_sum(y_true * tf.math.log(y_pred), axis=axis), reduction)


def _sparse_categorical_crossentropy(y_true, y_pred, from_logits, reduction):
    """Per-example sparse categorical cross-entropy (integer labels)."""
    y_true = tf.cast(y_true, tf.int64)
    logits = None if from_logits else _logits_of(y_pred, "Softmax", -1)
    if from_logits or logits is not None:
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_true,
                                                                logits=y_pred if logits is None else logits)
        return _reduce_loss(losses, reduction)
    # Keras' form: the clipped probabilities' logs as logits, so the loss (and its gradient) is that
    # of the probabilities normalized to sum to 1
    log_probabilities = tf.math.log(tf.clip_by_value(y_pred, 1e-7, 1.0 - 1e-7))
    return _reduce_loss(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_true, logits=log_probabilities),
                        reduction)


def _binary_crossentropy(y_true, y_pred, from_logits, label_smoothing, axis, reduction):
    """Per-example binary cross-entropy, averaged over `axis` (the last by default)."""
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    logits = None if from_logits else _logits_of(y_pred, "Sigmoid", -1)  # elementwise: any axis
    if from_logits or logits is not None:
        logits = y_pred if logits is None else logits
        losses = tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=logits)
        return _reduce_loss(tf.reduce_mean(losses, axis=axis), reduction)
    y_pred = tf.clip_by_value(y_pred, 1e-7, 1.0 - 1e-7)
    bce = y_true * tf.math.log(y_pred) + (1.0 - y_true) * tf.math.log(1.0 - y_pred)
    return _reduce_loss(-tf.reduce_mean(bce, axis=axis), reduction)


def _mean_squared_error(y_true, y_pred):
    """Mean of squared differences over all elements (the seed's MeanSquaredError loss)."""
    return tf.reduce_mean(tf.square(y_pred - y_true))


# Losses as keras.losses computes them: per example (over the last axis, or `axis`), then reduced as a
# Keras Loss object's `reduction` says ("none": the per-example values, the Keras function's result).
# 1e-7 is Keras' backend.epsilon().


def _reduce_loss(losses, reduction):
    """A Keras Loss object's reduction of per-example losses (without sample weights "mean" and
    "sum_over_batch_size" are both the mean)."""
    if reduction == "sum":
        return tf.reduce_sum(losses)
    if reduction == "none":
        return losses
    return tf.reduce_mean(losses)


def _huber(y_true, y_pred, delta, reduction):
    error = y_pred - y_true
    abs_error = tf.abs(error)
    delta = tf.cast(delta, y_pred.dtype)
    losses = tf.where(abs_error <= delta, 0.5 * tf.square(error), delta * abs_error - 0.5 * tf.square(delta))
    return _reduce_loss(tf.reduce_mean(losses, axis=-1), reduction)


def _log_cosh(y_true, y_pred, reduction):
    error = y_pred - y_true
    log2 = tf.cast(tf.math.log(2.0), y_pred.dtype)
    return _reduce_loss(tf.reduce_mean(error + tf.math.softplus(error * -2.0) - log2, axis=-1), reduction)


def _kl_divergence(y_true, y_pred, reduction):
    y_true = tf.clip_by_value(y_true, 1e-7, 1.0)
    y_pred = tf.clip_by_value(y_pred, 1e-7, 1.0)
    return _reduce_loss(tf.reduce_sum(y_true * tf.math.log(y_true / y_pred), axis=-1), reduction)


def _poisson(y_true, y_pred, reduction):
    return _reduce_loss(tf.reduce_mean(y_pred - y_true * tf.math.log(y_pred + 1e-7), axis=-1), reduction)


def _hinge_labels(y_true):
    """Labels all 0 or 1 become -1 or 1, as Keras converts them; others pass unchanged."""
    binary = tf.reduce_all(tf.logical_or(tf.equal(y_true, 0.0), tf.equal(y_true, 1.0)))
    return tf.where(binary, 2.0 * y_true - 1.0, y_true)


def _hinge(y_true, y_pred, reduction):
    margins = tf.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0)
    return _reduce_loss(tf.reduce_mean(margins, axis=-1), reduction)


def _squared_hinge(y_true, y_pred, reduction):
    margins = tf.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0)
    return _reduce_loss(tf.reduce_mean(tf.square(margins), axis=-1), reduction)


def _categorical_hinge(y_true, y_pred, reduction):
    positive = tf.reduce_sum(y_true * y_pred, axis=-1)
    negative = tf.reduce_max((1.0 - y_true) * y_pred, axis=-1)
    return _reduce_loss(tf.maximum(negative - positive + 1.0, 0.0), reduction)


def _l2_normalized(x, axis):
    # Keras' x * rsqrt(sum of squares), the inverse norm at most 1 / epsilon
    return x * tf.minimum(tf.math.rsqrt(tf.reduce_sum(tf.square(x), axis=axis, keepdims=True)), 1.0 / 1e-7)


def _cosine_similarity(y_true, y_pred, axis, reduction):
    similarity = tf.reduce_sum(_l2_normalized(y_true, axis) * _l2_normalized(y_pred, axis), axis=axis)
    return _reduce_loss(-similarity, reduction)


def _mean_absolute_percentage_error(y_true, y_pred, reduction):
    ratio = tf.abs((y_true - y_pred) / tf.maximum(tf.abs(y_true), 1e-7))
    return _reduce_loss(100.0 * tf.reduce_mean(ratio, axis=-1), reduction)


def _mean_squared_logarithmic_error(y_true, y_pred, reduction):
    first = tf.math.log(tf.maximum(y_pred, 1e-7) + 1.0)
    second = tf.math.log(tf.maximum(y_true, 1e-7) + 1.0)
    return _reduce_loss(tf.reduce_mean(tf.square(first - second), axis=-1), reduction)


def _binary_focal_crossentropy(y_true, y_pred, apply_class_balancing, alpha, gamma, from_logits, label_smoothing,
                               axis, reduction):
    """Keras' binary focal cross-entropy: the cross-entropy from logits when given them (or a sigmoid's
    output in the graph), as Keras computes it."""
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    logits = y_pred if from_logits else _logits_of(y_pred, "Sigmoid", -1)
    if logits is not None:
        y_pred = tf.math.sigmoid(logits)
        bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=logits)
    else:
        clipped = tf.clip_by_value(y_pred, 1e-7, 1.0 - 1e-7)
        bce = -(y_true * tf.math.log(clipped) + (1.0 - y_true) * tf.math.log(1.0 - clipped))
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal = tf.pow(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return _reduce_loss(tf.reduce_mean(focal, axis=axis), reduction)


def _categorical_focal_crossentropy(y_true, y_pred, alpha, gamma, from_logits, label_smoothing, axis, reduction):
    if label_smoothing:
        classes = tf.cast(tf.shape(y_true)[-1], y_pred.dtype)
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / classes
    if from_logits:
        y_pred = tf.nn.softmax(y_pred, axis=axis)
    output = tf.clip_by_value(y_pred / tf.reduce_sum(y_pred, axis=axis, keepdims=True), 1e-7, 1.0 - 1e-7)
    focal = alpha * tf.pow(1.0 - output, gamma) * (-y_true * tf.math.log(output))
    return _reduce_loss(tf.reduce_sum(focal, axis=axis), reduction)


def _top_k_values(input, k):
    """The k largest values along the last axis, largest first (tf.math.top_k's `values`)."""
    return tf.math.top_k(input, k=k).values


def _top_k_indices(input, k):
    """Where the k largest values along the last axis are (tf.math.top_k's `indices`, int32)."""
    return tf.math.top_k(input, k=k).indices


def _conv_transpose(input, filters, strides, padding):
    """A transposed convolution whose output size is Keras': size * stride ('SAME'), or
    size * stride + max(kernel - stride, 0) ('VALID'); filters are [*window, C_out, C_in]."""
    spatial = _len(filters.shape) - 2
    if _isinstance(strides, _int):
        strides = [strides] * spatial
    elif _len(strides) == spatial + 2:
        strides = strides[1:-1]
    sizes, kernel = tf.shape(input), tf.shape(filters)
    out = [sizes[1 + i] * strides[i] + (tf.maximum(kernel[i] - strides[i], 0) if padding == "VALID" else 0)
           for i in _range(spatial)]
    output_shape = tf.stack([sizes[0], *out, kernel[-2]])
    return tf.nn.conv_transpose(input, filters, output_shape, strides=strides, padding=padding)


def _conv1d_transpose(input, filters, stride, padding):
    """conv1d_transpose: [N, W, C_in] with filters [k, C_out, C_in] -> [N, W', C_out]."""
    return _conv_transpose(input, filters, stride, padding)


def _conv2d_transpose(input, filters, strides, padding):
    """conv2d_transpose: [N, H, W, C_in] with filters [kh, kw, C_out, C_in] -> [N, H', W', C_out]."""
    return _conv_transpose(input, filters, strides, padding)


def _depthwise_conv2d(input, filters, strides, padding, dilations):
    """tf.nn.depthwise_conv2d with tfm's strides and dilations (an int, or one per spatial axis)."""
    if _isinstance(strides, _int):
        strides = [strides, strides]
    elif _len(strides) == 4:
        strides = strides[1:-1]
    if dilations is None:
        dilations = 1
    if _isinstance(dilations, _int):
        dilations = [dilations, dilations]
    elif _len(dilations) == 4:
        dilations = dilations[1:-1]
    if strides[0] != strides[1]:
        # TensorFlow's CPU kernel without oneDNN takes one stride for rows and columns: pad as the strided
        # convolution would ('SAME'), convolve at stride 1 and keep every stride-th output (the same values).
        if padding == "SAME":
            input = _same_padded(input, filters, strides, dilations)
        full = tf.nn.depthwise_conv2d(input, filters, [1, 1, 1, 1], "VALID", dilations=dilations)
        return full[:, ::strides[0], ::strides[1], :]
    return tf.nn.depthwise_conv2d(input, filters, [1, *strides, 1], padding, dilations=dilations)


def _same_padded(input, filters, strides, dilations):
    """`input` [N, H, W, C] padded with zeros as a 'SAME' convolution of these strides pads it (more after)."""
    sizes = tf.shape(input)
    pads = [[0, 0]]
    for axis in _range(2):
        window = (filters.shape[axis] - 1) * dilations[axis] + 1
        out = (sizes[1 + axis] + strides[axis] - 1) // strides[axis]
        total = tf.maximum((out - 1) * strides[axis] + window - sizes[1 + axis], 0)
        pads.append([total // 2, total - total // 2])
    return tf.pad(input, pads + [[0, 0]])


def _mean_absolute_error(y_true, y_pred):
    """Mean of absolute differences over all elements."""
    return tf.reduce_mean(tf.abs(y_pred - y_true))


def _seed_pair(seed):
    # A negative seed asks for fresh randomness; otherwise the stateless op makes it reproducible.
    return None if seed < 0 else tf.constant([seed, 0], tf.int64)


def _init_zeros(shape, dtype):
    return tf.zeros(shape, dtype)


def _init_ones(shape, dtype):
    return tf.ones(shape, dtype)


def _init_full(shape, dtype, value):
    return tf.fill(shape, tf.cast(value, dtype))


def _init_normal(shape, dtype, mean, stddev, seed):
    pair = _seed_pair(seed)
    if pair is None:
        return tf.random.normal(shape, mean, stddev, dtype)
    return tf.random.stateless_normal(shape, pair, mean, stddev, dtype)


def _init_truncated_normal(shape, dtype, mean, stddev, seed):
    pair = _seed_pair(seed)
    if pair is None:
        return tf.random.truncated_normal(shape, mean, stddev, dtype)
    return tf.random.stateless_truncated_normal(shape, pair, mean, stddev, dtype)


def _init_uniform(shape, dtype, minval, maxval, seed):
    pair = _seed_pair(seed)
    if pair is None:
        return tf.random.uniform(shape, minval, maxval, dtype)
    return tf.random.stateless_uniform(shape, pair, minval, maxval, dtype)


def _fans(shape):
    if _len(shape) == 0:
        return 1, 1
    if _len(shape) == 1:
        return shape[0], shape[0]
    receptive = 1
    for size in shape[:-2]:
        receptive *= size
    return shape[-2] * receptive, shape[-1] * receptive


def _init_glorot_uniform(shape, dtype, seed):
    fan_in, fan_out = _fans(shape)
    limit = (6.0 / (fan_in + fan_out)) ** 0.5
    return _init_uniform(shape, dtype, -limit, limit, seed)


def _scaled_truncated_normal(shape, dtype, stddev, seed):
    # 0.8796... is the stddev of a unit normal truncated at two standard deviations.
    pair = _seed_pair(seed)
    stddev = stddev / 0.87962566103423978
    if pair is None:
        return tf.random.truncated_normal(shape, 0.0, stddev, dtype)
    return tf.random.stateless_truncated_normal(shape, pair, 0.0, stddev, dtype)


def _init_glorot_normal(shape, dtype, seed):
    fan_in, fan_out = _fans(shape)
    return _scaled_truncated_normal(shape, dtype, (2.0 / (fan_in + fan_out)) ** 0.5, seed)


def _init_he_normal(shape, dtype, seed):
    fan_in, _ = _fans(shape)
    return _scaled_truncated_normal(shape, dtype, (2.0 / fan_in) ** 0.5, seed)


def _frozen(module_class, /, **arguments):
    """A submodule declared `frozen sub`: built with every variable it makes trainable=False, as Keras'
    `layer.trainable = False`: none is in `trainable_variables`, so no gradient or optimizer reaches it."""
    with tf.variable_creator_scope(_not_trainable):
        return module_class(**arguments)


def _not_trainable(next_creator, **settings):
    settings["trainable"] = False
    return next_creator(**settings)


def _optimizer(optimizer_class, var_list, name, policy="float32", **settings):
    """TensorFlow's own optimizer (a tf.keras.optimizers class), built for `var_list` now: its step
    count and slots exist when the module is built (never inside a tf.function), and are saved and
    restored with it. Under the mixed_float16 policy it is wrapped in Keras' LossScaleOptimizer
    (dynamic loss scaling: f16 gradients would underflow), as Keras' `compile` wraps it."""
    optimizer = optimizer_class(name=name, **settings)
    if policy == "mixed_float16":
        optimizer = tf.keras.optimizers.LossScaleOptimizer(optimizer, name=name)
    optimizer.build(var_list)
    return optimizer


# A dtype policy -> the dtype its module computes in (its variables stay float32): dsl/precision.py.
_COMPUTE_DTYPES = {"float32": tf.float32, "mixed_float16": tf.float16, "mixed_bfloat16": tf.bfloat16}


def _dtype_policy(policy):
    """The policy a module is built with (its holder passes its own when the `sub` gives none), by
    default float32."""
    if policy is None:
        return "float32"
    if policy not in _COMPUTE_DTYPES:
        raise _ValueError(f"dtype is a policy: one of {', '.join(_COMPUTE_DTYPES)}, got {policy!r}")
    return policy


def _autocast(value, policy):
    """A float value (an input declared f32, a float32 variable read) in the policy's compute dtype, as
    Keras' autocast; anything else as it is. Decided when traced: an f32 value under float32 adds no op
    (a metric, float32, so casts a bf16 input to f32; the check refuses one into a float32 layer)."""
    dtype = _COMPUTE_DTYPES[policy]
    if not tf.is_tensor(value):  # a Python number or list passed for an f32 input
        value = tf.convert_to_tensor(value, tf.float32)
    if not value.dtype.is_floating or value.dtype == dtype:
        return value
    return tf.cast(value, dtype)


def _stored(value, variable):
    """A value assigned to a variable, in the variable's dtype (a mixed policy computes it in f16/bf16)."""
    if not tf.is_tensor(value) or value.dtype == variable.dtype or not value.dtype.is_floating:
        return value  # a Python number converts to the variable's dtype as it did
    return tf.cast(value, variable.dtype)


def _float32(value):
    """A loss's half-precision input in float32, as a Keras Loss (dtype float32) converts it: a bf16 or
    f16 model output gives an f32 loss. Any other dtype is left as it is (no op)."""
    return tf.cast(value, tf.float32) if tf.is_tensor(value) and value.dtype in (tf.float16, tf.bfloat16) else value


def _scaled_gradients(optimizer, loss, tape, var_list):
    """`tape.gradient(loss, var_list)`, of the loss times the loss scale under a LossScaleOptimizer
    (its `scale_loss`; its apply_gradients divides the scale out, and skips a step whose gradients are
    not finite, halving the scale)."""
    if not _isinstance(optimizer, tf.keras.optimizers.LossScaleOptimizer):
        return tape.gradient(loss, var_list)
    scale = tf.cast(optimizer.dynamic_scale, loss.dtype)
    return tape.gradient(loss, var_list, output_gradients=tf.fill(tf.shape(loss), scale))


def _minimize(optimizer, loss, tape, var_list):
    """One step down the gradient of `loss` recorded on `tape`. The optimizer reads its learning rate
    from a variable (so a new rate needs no retrace) and all-reduces gradients under tf.distribute:
    replicas stay in sync and take the step one device would take on the same global batch."""
    grads = _scaled_gradients(optimizer, loss, tape, var_list)
    # Under tf.distribute the optimizer sums the replicas' gradients; each replica's loss is a mean
    # over its share of the global batch, so their mean is the gradient of the global batch's loss.
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas > 1:
        grads = [None if grad is None else tf.math.scalar_mul(1.0 / replicas, grad) for grad in grads]
    optimizer.apply_gradients([(grad, var) for grad, var in _zip(grads, var_list) if grad is not None])


def _apply_gradients(optimizer, grads, var_list):
    """`optimizer.apply_gradients(grads, vars)`: each variable one step down its gradient. A variable whose
    gradient is None (no gradient reaches it) is left as it is, as `_minimize` leaves it."""
    optimizer.apply_gradients([(grad, var) for grad, var in _zip(grads, var_list) if grad is not None])


def _schedule(schedule_class, **settings):
    """TensorFlow's learning-rate schedule (a tf.keras.optimizers.schedules class); the optimizer
    evaluates it at its own step count."""
    return schedule_class(**settings)



def _signature_function(function, outputs):
    """The tf.function serving a method. A signature must return tensors, so a method with no outputs
    is wrapped to run it and return an empty dict."""
    if outputs:
        return function
    return tf.function(_ForEffect(function).run, input_signature=function.input_signature, autograph=False)


class _ForEffect(tf.Module):
    """Runs a method that has no outputs, and returns the empty dict a signature needs."""

    def __init__(self, function):
        tf.Module.__init__(self)
        self.function = function

    def run(self, *inputs):
        self.function(*inputs)
        return {}


def _signatures(table):
    """The concrete functions `tf.saved_model.save(..., signatures=...)` takes, by signature key."""
    functions = {}
    for key, (function, outputs) in table.items():
        functions[key] = _signature_function(function, outputs).get_concrete_function()
    return functions


def _default_signature(table):
    """The serving method, for a `tf.saved_model.save` given no signatures (None if nothing is served)."""
    if "serving_default" not in table:
        return None
    return _signature_function(*table["serving_default"])


class _RandomState(tf.Module):
    """The random state of a module that calls random ops: a seed and the number of draws made, both
    variables, so a checkpoint holds them and a resumed run draws exactly what an uninterrupted one
    would. Each random op is a stateless op keyed by (its own seed, or the module's, and the draw's
    number). The module's seed is drawn by an eager op, so it follows tf.random's global seed when
    one is set (tf.random.set_seed, `tfm train --seed`) and is fresh otherwise."""

    def __init__(self):
        tf.Module.__init__(self, name="random")
        self.seed = tf.Variable(tf.random.uniform([], 0, 2**31 - 1, tf.int64), trainable=False, name="seed")
        # Replicas of a distributed step take the same key (the first replica's count is kept).
        self.draws = tf.Variable(tf.constant(0, tf.int64), trainable=False, name="draws",
                                 aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    def key(self, seed):
        """The [2] key of the next draw: `seed` (a static int) if given and >= 0, else the module's."""
        count = self.draws.assign_add(1)
        first = self.seed.read_value() if seed is None or seed < 0 else tf.constant(seed, tf.int64)
        return tf.stack([first, count])


def _random_normal(random, shape, mean, stddev, dtype, seed):
    return tf.random.stateless_normal(shape, random.key(seed), mean, stddev, dtype or tf.float32)


def _random_uniform(random, shape, minval, maxval, dtype, seed):
    return tf.random.stateless_uniform(shape, random.key(seed), minval, maxval, dtype or tf.float32)


def _truncated_normal(random, shape, mean, stddev, dtype, seed):
    return tf.random.stateless_truncated_normal(shape, random.key(seed), mean, stddev, dtype or tf.float32)


def _random_shuffle(random, value, seed):
    """`value` with its first dimension in a random order (the order of random keys); a scalar, which
    has none, as it is (as tf.random.shuffle gives it)."""
    value = tf.convert_to_tensor(value)
    if value.shape.rank == 0:
        return value
    keys = tf.random.stateless_uniform(tf.shape(value)[:1], random.key(seed))
    return tf.gather(value, tf.argsort(keys))


def _categorical_sample(random, logits, num_samples, dtype, seed):
    return tf.random.stateless_categorical(logits, num_samples, random.key(seed), dtype or tf.int64)


def _dropout(random, x, rate, seed):
    return tf.nn.experimental.stateless_dropout(x, rate, random.key(seed))


def _regularizer(spec):
    """The (l1, l2) factors of a regularizer as Keras names it, as text (None: no such term); raises
    ValueError for any other text. The grammar is dsl/regularizers.py's: "", "l1", "l2", "l1_l2"
    (factor 0.01), "l1(F)", "l2(F)", "l1_l2(l1=F, l2=F)"."""
    text = spec.replace(" ", "")
    if text == "":
        return None, None
    name, _, rest = text.partition("(")
    if name not in ("l1", "l2", "l1_l2") or (rest != "" and not rest.endswith(")")):
        raise _ValueError(f"unknown regularizer {spec!r}: write l1(F), l2(F), l1_l2(l1=F, l2=F) or an empty string")
    names = ("l1", "l2") if name == "l1_l2" else (name,)
    if rest == "":
        return ("0.01" if "l1" in names else None), ("0.01" if "l2" in names else None)
    factors = {}
    for position, item in _enumerate(rest[:-1].split(",") if rest != ")" else []):
        key, equals, value = item.partition("=")
        if equals == "":
            key, value = (names[position] if position < _len(names) else ""), item
        if key not in names or key in factors or not _is_factor(value):
            raise _ValueError(f"regularizer {spec!r}: {name} takes {', '.join(names)}, each a factor >= 0")
        factors[key] = value
    return factors.get("l1", "0" if "l1" in names else None), factors.get("l2", "0" if "l2" in names else None)


def _is_factor(text):
    """Whether `text` is a non-negative decimal number (what tf.strings.to_number reads)."""
    if text == "" or text[0] not in "0123456789.":
        return False
    for character in text:
        if character not in "0123456789.eE+-":
            return False
    return True


def _penalty(x, regularizer):
    """Keras' L1L2 penalty of `x`: l1 * sum(abs(x)) + l2 * sum(square(x)), for the text `regularizer`."""
    l1, l2 = _regularizer(regularizer)
    total = tf.zeros([], x.dtype)
    # Read as a double, then cast, as Keras casts its Python float factor to the variable's dtype.
    if l1 is not None:
        total += tf.cast(tf.strings.to_number(l1, tf.float64), x.dtype) * tf.reduce_sum(tf.abs(x))
    if l2 is not None:
        total += tf.cast(tf.strings.to_number(l2, tf.float64), x.dtype) * tf.reduce_sum(tf.square(x))
    return total


def _regularization_sum(own, submodules):
    """A module's regularization_losses(): its variables' penalties (`own`: (variable, regularizer) pairs) and
    its submodules' regularization_losses(), summed (0 when there are none)."""
    terms = [_penalty(variable, regularizer) for variable, regularizer in own if variable is not None]  # None: not built (`if use_bias:`)
    terms += [module.regularization_losses() for module in submodules]
    return tf.add_n(terms) if terms else tf.zeros([], tf.float32)
