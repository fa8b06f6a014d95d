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


_ACTIVATIONS = {
    "linear": tf.convert_to_tensor,  # no op for a tensor (tf.identity added one to every linear layer)
    "relu": tf.nn.relu,
    "relu6": tf.nn.relu6,
    "elu": tf.nn.elu,
    "selu": tf.nn.selu,
    "gelu": tf.nn.gelu,
    "sigmoid": tf.math.sigmoid,
    "tanh": tf.math.tanh,
    "softmax": tf.nn.softmax,
    "softplus": tf.math.softplus,
    "silu": tf.nn.silu,
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


def _categorical_crossentropy(y_true, y_pred, from_logits, axis):
    """Per-example categorical cross-entropy, as tf.keras.losses.categorical_crossentropy computes it."""
    if from_logits:
        return tf.nn.softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred, axis=axis)
    y_pred = y_pred / tf.reduce_sum(y_pred, axis=axis, keepdims=True)
    y_pred = tf.clip_by_value(y_pred, 1e-7, 1.0 - 1e-7)
    return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=axis)


def _sparse_categorical_crossentropy(y_true, y_pred, from_logits):
    """Per-example sparse categorical cross-entropy (integer labels)."""
    y_true = tf.cast(y_true, tf.int64)
    if from_logits:
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred)
    y_pred = tf.clip_by_value(y_pred, 1e-7, 1.0 - 1e-7)
    return -tf.math.log(tf.gather(y_pred, y_true, axis=-1, batch_dims=1))


def _binary_crossentropy(y_true, y_pred, from_logits):
    """Per-example binary cross-entropy, averaged over the last axis."""
    if from_logits:
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred), axis=-1)
    y_pred = tf.clip_by_value(y_pred, 1e-7, 1.0 - 1e-7)
    bce = y_true * tf.math.log(y_pred) + (1.0 - y_true) * tf.math.log(1.0 - y_pred)
    return -tf.reduce_mean(bce, axis=-1)


def _mean_squared_error(y_true, y_pred):
    """Mean of squared differences over all elements (the seed's MeanSquaredError loss)."""
    return tf.reduce_mean(tf.square(y_pred - y_true))


def _top_k_values(input, k):
    """The k largest values along the last axis, largest first (tf.math.top_k's `values`)."""
    return tf.math.top_k(input, k=k).values


def _top_k_indices(input, k):
    """Where the k largest values along the last axis are (tf.math.top_k's `indices`, int32)."""
    return tf.math.top_k(input, k=k).indices


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


def _optimizer(optimizer_class, var_list, name, **settings):
    """TensorFlow's own optimizer (a tf.keras.optimizers class), built for `var_list` now: its step
    count and slots exist when the module is built (never inside a tf.function), and are saved and
    restored with it."""
    optimizer = optimizer_class(name=name, **settings)
    optimizer.build(var_list)
    return optimizer


def _minimize(optimizer, loss, tape, var_list):
    """One step down the gradient of `loss` recorded on `tape`. The optimizer reads its learning rate
    from a variable (so a new rate needs no retrace) and all-reduces gradients under tf.distribute:
    replicas stay in sync and take the step one device would take on the same global batch."""
    grads = tape.gradient(loss, var_list)
    # Under tf.distribute the optimizer sums the replicas' gradients; each replica's loss is a mean
    # over its share of the global batch, so their mean is the gradient of the global batch's loss.
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas > 1:
        grads = [None if grad is None else tf.math.scalar_mul(1.0 / replicas, grad) for grad in grads]
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
    """`value` with its first dimension in a random order (the order of random keys)."""
    keys = tf.random.stateless_uniform(tf.shape(value)[:1], random.key(seed))
    return tf.gather(value, tf.argsort(keys))


def _categorical_sample(random, logits, num_samples, dtype, seed):
    return tf.random.stateless_categorical(logits, num_samples, random.key(seed), dtype or tf.int64)


def _dropout(random, x, rate, seed):
    return tf.nn.experimental.stateless_dropout(x, rate, random.key(seed))
