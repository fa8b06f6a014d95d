"""The examples written by hand as the seeds write them: tf.Module, variables under the name scope,
@tf.function(input_signature=...) methods, Keras optimizers. The benchmarks compare tfm's compiled
modules with these, one pair per example."""

from __future__ import annotations

import tensorflow as tf


class DemoModule(tf.Module):
    def __init__(self, init_value=0.0, name=None):
        super().__init__(name=name)
        with self.name_scope:
            self.x = tf.Variable(init_value, dtype=tf.float32, trainable=True)

    @tf.function(input_signature=[tf.TensorSpec(shape=[], dtype=tf.float32)])
    def addprint(self, a):
        with self.name_scope:
            self.x.assign_add(a)
            tf.print(self.x)
            return self.x


class SquareIfPositive(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec(shape=[], dtype=tf.float32)])
    def square_if_positive(self, x):
        if x > 0:
            x = x * x
        else:
            x = 0.0
        return x


class MeanSquaredError(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None, None], tf.float32)])
    def call(self, y_true, y_pred):
        return tf.reduce_mean(tf.square(y_pred - y_true))


class LinearRegression(tf.Module):
    def __init__(self, features=3, learning_rate=0.1, seed=0):
        super().__init__()
        with self.name_scope:
            self.w = tf.Variable(tf.random.stateless_normal([features, 1], [seed, 0], stddev=0.1))
            self.b = tf.Variable(tf.zeros([1]))
            self.optimizer = tf.keras.optimizers.Adam(learning_rate=learning_rate)
            self.optimizer.build(self.trainable_variables)
        spec = tf.TensorSpec([None, features], tf.float32)
        self.predict = tf.function(self._predict, input_signature=[spec])
        self.train_step = tf.function(self._train_step, input_signature=[spec, tf.TensorSpec([None, 1], tf.float32)])

    def _predict(self, x):
        return x @ self.w + self.b

    def _train_step(self, x, y):
        with tf.GradientTape() as tape:
            prediction = self._predict(x)
            loss = tf.reduce_mean(tf.square(prediction - y))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return {"loss": loss, "mae": tf.reduce_mean(tf.abs(prediction - y))}


class Dense(tf.Module):
    def __init__(self, in_dim, out_dim, activation=None, name=None):
        super().__init__(name=name)
        with self.name_scope:
            limit = (6.0 / (in_dim + out_dim)) ** 0.5
            self.kernel = tf.Variable(tf.random.uniform([in_dim, out_dim], -limit, limit))
            self.bias = tf.Variable(tf.zeros([out_dim]))
        self.activation = activation

    def __call__(self, x):
        y = x @ self.kernel + self.bias
        return self.activation(y) if self.activation else y


class MyModel(tf.Module):
    def __init__(self, num_classes=10, learning_rate=0.001):
        super().__init__()
        with self.name_scope:
            self.dense_1 = Dense(32, 32, tf.nn.relu, name="dense_1")
            self.dense_2 = Dense(32, num_classes, name="dense_2")
            self.optimizer = tf.keras.optimizers.SGD(learning_rate=learning_rate)
            self.optimizer.build(self.trainable_variables)
        self.call = tf.function(self._call, input_signature=[tf.TensorSpec([None, 32], tf.float32)])
        self.train_step = tf.function(self._train_step, input_signature=[
            tf.TensorSpec([None, 32], tf.float32), tf.TensorSpec([None, num_classes], tf.float32)])

    def _call(self, inputs):
        return self.dense_2(self.dense_1(inputs))

    def _train_step(self, x, y):
        with tf.GradientTape() as tape:
            logits = self._call(x)
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return loss


class AddPrint(tf.Module):
    def __init__(self):
        super().__init__()
        with self.name_scope:
            self.x = tf.Variable(1.0)

    @tf.function(input_signature=[tf.TensorSpec([], tf.float32)])
    def add_print(self, a):
        with self.name_scope:
            self.x.assign_add(a)
            tf.print(self.x)
            return self.x


class MyAdd(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32)])
    def add_numbers(self, a, b):
        for i in tf.range(3):
            tf.print(i)
        return a + b


class Squares(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([], tf.int32)])
    def squares(self, n):
        arr = tf.TensorArray(tf.float32, size=n)
        for i in tf.range(n):
            arr = arr.write(i, tf.cast(i * i, tf.float32))
        return arr.stack()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def cumulative(self, x):
        sums = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[])
        total = tf.constant(0.0)
        for i in tf.range(tf.shape(x)[0]):
            total = total + x[i]
            sums = sums.write(sums.size(), total)
        return sums.stack()


class KMeans(tf.Module):
    def __init__(self, k=3, dims=2, seed=7):
        super().__init__()
        with self.name_scope:
            self.centroids = tf.Variable(tf.random.stateless_normal([k, dims], [seed, 0]), trainable=False)
        self.k = k
        self.step = tf.function(self._step, input_signature=[tf.TensorSpec([None, dims], tf.float32)])

    def _assign(self, points):
        diff = points[:, None, :] - self.centroids[None, :, :]
        return tf.argmin(tf.reduce_sum(diff * diff, axis=-1), axis=1, output_type=tf.int32)

    def _step(self, points):
        with self.name_scope:
            labels = self._assign(points)
            sums = tf.math.unsorted_segment_sum(points, labels, self.k)
            counts = tf.math.unsorted_segment_sum(tf.ones_like(points[:, 0]), labels, self.k)
            moved = sums / tf.maximum(counts, 1.0)[:, None]
            self.centroids.assign(tf.where(counts[:, None] > 0.0, moved, self.centroids))
            nearest = tf.gather(self.centroids, labels)
            return {"assignments": labels, "inertia": tf.reduce_sum(tf.square(points - nearest))}


class SparseCategoricalAccuracy(tf.Module):
    def __init__(self):
        super().__init__()
        with self.name_scope:
            self.total = tf.Variable(0, dtype=tf.int32, trainable=False)
            self.count = tf.Variable(0, dtype=tf.int32, trainable=False)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, None], tf.float32)])
    def update_state(self, y_true, y_pred):
        with self.name_scope:
            pred = tf.argmax(y_pred, axis=-1, output_type=tf.int32)
            self.total.assign_add(tf.shape(y_true)[0])
            self.count.assign_add(tf.reduce_sum(tf.cast(tf.equal(y_true, pred), tf.int32)))


class SimpleRNN(tf.Module):
    def __init__(self, input_dim=4, units=8, seed=1):
        super().__init__()
        with self.name_scope:
            glorot = tf.keras.initializers.GlorotUniform
            self.w_x = tf.Variable(glorot(seed=seed)([input_dim, units]))
            self.w_h = tf.Variable(glorot(seed=seed + 1)([units, units]))
            self.b = tf.Variable(tf.zeros([units]))
        self.units = units
        self.run = tf.function(self._run, input_signature=[tf.TensorSpec([None, None, input_dim], tf.float32)])

    def _step(self, x, h):
        return tf.tanh(x @ self.w_x + h @ self.w_h + self.b)

    def _run(self, xs):
        with self.name_scope:
            h = tf.zeros([tf.shape(xs)[0], self.units])
            states = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[None, self.units])
            for t in tf.range(tf.shape(xs)[1]):
                h = self._step(xs[:, t, :], h)
                states = states.write(states.size(), h)
            return {"states": states.stack(), "last": h}


def _glorot(shape, seed):
    return tf.Variable(tf.keras.initializers.GlorotUniform(seed=seed)(shape))


class CNNClassifier(tf.Module):
    """examples/cnn_classifier.tfm's serving method by hand: conv, pool, conv, pool, batch norm with
    its moving statistics, global average pooling, dense, softmax."""

    def __init__(self, num_classes=10, seed=1):
        super().__init__()
        with self.name_scope:
            self.kernel_1, self.bias_1 = _glorot([3, 3, 1, 16], seed), tf.Variable(tf.zeros([16]))
            self.kernel_2, self.bias_2 = _glorot([3, 3, 16, 32], seed + 1), tf.Variable(tf.zeros([32]))
            self.gamma, self.beta = tf.Variable(tf.ones([32])), tf.Variable(tf.zeros([32]))
            self.moving_mean = tf.Variable(tf.zeros([32]), trainable=False)
            self.moving_variance = tf.Variable(tf.ones([32]), trainable=False)
            self.head_kernel, self.head_bias = _glorot([32, num_classes], seed + 2), tf.Variable(tf.zeros([num_classes]))
        self.predict = tf.function(self._predict, input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32)])

    def _predict(self, images):
        x = tf.nn.relu(tf.nn.conv2d(images, self.kernel_1, 1, "SAME") + self.bias_1)
        x = tf.nn.max_pool2d(x, 2, 2, "VALID")
        x = tf.nn.relu(tf.nn.conv2d(x, self.kernel_2, 1, "SAME") + self.bias_2)
        x = tf.nn.max_pool2d(x, 2, 2, "VALID")
        x = tf.nn.batch_normalization(x, self.moving_mean, self.moving_variance, self.beta, self.gamma, 1e-3)
        scores = tf.nn.softmax(tf.reduce_mean(x, axis=[1, 2]) @ self.head_kernel + self.head_bias)
        return {"probabilities": scores, "label": tf.argmax(scores, axis=-1)}


class LSTMRegressor(tf.Module):
    """examples/lstm_sequence.tfm's serving method by hand: embedding, an LSTM over time in a graph
    loop (one kernel per gate, as tfm's library), dense."""

    def __init__(self, vocab=50, embed_dim=16, units=32, seed=1):
        super().__init__()
        with self.name_scope:
            self.embeddings = tf.Variable(tf.random.uniform([vocab, embed_dim], -0.05, 0.05, seed=seed))
            self.w = [_glorot([embed_dim, units], seed * 16 + k) for k in range(4)]
            self.u = [_glorot([units, units], seed * 16 + 4 + k) for k in range(4)]
            self.b = [tf.Variable(tf.ones([units]) if k == 1 else tf.zeros([units])) for k in range(4)]
            self.head_kernel, self.head_bias = _glorot([units, 1], seed + 2), tf.Variable(tf.zeros([1]))
        self.units = units
        self.predict = tf.function(self._predict, input_signature=[tf.TensorSpec([None, None], tf.int32)])

    def _predict(self, ids):
        x = tf.nn.embedding_lookup(self.embeddings, ids)
        h = tf.zeros([tf.shape(x)[0], self.units])
        c = tf.zeros([tf.shape(x)[0], self.units])
        (w_i, w_f, w_c, w_o), (u_i, u_f, u_c, u_o), (b_i, b_f, b_c, b_o) = self.w, self.u, self.b
        for t in tf.range(tf.shape(x)[1]):
            xt = x[:, t, :]
            i = tf.sigmoid(xt @ w_i + h @ u_i + b_i)
            f = tf.sigmoid(xt @ w_f + h @ u_f + b_f)
            g = tf.tanh(xt @ w_c + h @ u_c + b_c)
            o = tf.sigmoid(xt @ w_o + h @ u_o + b_o)
            c = f * c + i * g
            h = o * tf.tanh(c)
        return h @ self.head_kernel + self.head_bias


class TransformerEncoder(tf.Module):
    """examples/transformer_encoder.tfm's serving method by hand: token and position embeddings,
    masked multi-head self-attention, residual and layer normalisation, a feed-forward block, masked
    mean pooling, dense, softmax (inference: dropout is the identity)."""

    def __init__(self, vocab=100, max_len=16, dim=32, heads=4, ff_dim=64, num_classes=2, seed=1):
        super().__init__()
        key_dim = dim // heads
        with self.name_scope:
            self.tokens = tf.Variable(tf.random.uniform([vocab, dim], -0.05, 0.05, seed=seed))
            self.positions = tf.Variable(tf.random.uniform([max_len, dim], -0.05, 0.05, seed=seed + 1))
            self.query, self.key, self.value = (_glorot([dim, heads, key_dim], seed * 8 + k) for k in range(3))
            self.query_bias, self.key_bias, self.value_bias = (tf.Variable(tf.zeros([heads, key_dim])) for _ in range(3))
            self.output, self.output_bias = _glorot([heads, key_dim, dim], seed * 8 + 3), tf.Variable(tf.zeros([dim]))
            self.norm = [(tf.Variable(tf.ones([dim])), tf.Variable(tf.zeros([dim]))) for _ in range(2)]
            self.ff_1, self.ff_1_bias = _glorot([dim, ff_dim], seed + 3), tf.Variable(tf.zeros([ff_dim]))
            self.ff_2, self.ff_2_bias = _glorot([ff_dim, dim], seed + 4), tf.Variable(tf.zeros([dim]))
            self.head, self.head_bias = _glorot([dim, num_classes], seed + 5), tf.Variable(tf.zeros([num_classes]))
        self.dim, self.key_dim = dim, key_dim
        self.predict = tf.function(self._predict, input_signature=[
            tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.float32)])

    @staticmethod
    def _layer_norm(x, scale_and_offset):
        scale, offset = scale_and_offset
        mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
        return tf.nn.batch_normalization(x, mean, variance, offset, scale, 1e-3)

    def _attend(self, x, pairs):
        q = tf.einsum("ntd,dhk->nthk", x, self.query) + self.query_bias
        k = tf.einsum("ntd,dhk->nthk", x, self.key) + self.key_bias
        v = tf.einsum("ntd,dhk->nthk", x, self.value) + self.value_bias
        scores = tf.einsum("nshk,nthk->nhst", q, k) / tf.sqrt(float(self.key_dim))
        scores += (1.0 - tf.expand_dims(pairs, 1)) * -1e9
        attended = tf.einsum("nhst,nthk->nshk", tf.nn.softmax(scores), v)
        return tf.einsum("nshk,hkd->nsd", attended, self.output) + self.output_bias

    def _predict(self, ids, mask):
        x = tf.nn.embedding_lookup(self.tokens, ids) + self.positions[:tf.shape(ids)[1], :]
        pairs = tf.expand_dims(mask, 1) * tf.expand_dims(mask, 2)
        x = self._layer_norm(x + self._attend(x, pairs), self.norm[0])
        ff = tf.nn.relu(x @ self.ff_1 + self.ff_1_bias) @ self.ff_2 + self.ff_2_bias
        x = self._layer_norm(x + ff, self.norm[1]) * tf.expand_dims(mask, -1)
        pooled = tf.reduce_sum(x, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1, keepdims=True), 1.0)
        return tf.nn.softmax(pooled @ self.head + self.head_bias)


# --- the same, with the check tfm makes where two inputs share a named dim ------------------------
# tfm checks at a method's entry that inputs declared with the same named dim (`x: f32[N, 3]`,
# `y: f32[N, 1]`) agree on its size; these twins add that check as a careful hand-writer would, so
# the benchmark can tell the check's cost from tfm's.


def _agree(a, b, a_axes, b_axes):
    tf.debugging.assert_equal(tf.gather(tf.shape(a), a_axes), tf.gather(tf.shape(b), b_axes),
                              message="the inputs must agree on their shared dimensions")


class MeanSquaredErrorChecked(MeanSquaredError):
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None, None], tf.float32)])
    def call(self, y_true, y_pred):
        _agree(y_true, y_pred, [0, 1], [0, 1])
        return MeanSquaredError.call.python_function(self, y_true, y_pred)


class LinearRegressionChecked(LinearRegression):
    def _train_step(self, x, y):
        _agree(x, y, [0], [0])
        return super()._train_step(x, y)


class MyModelChecked(MyModel):
    def _train_step(self, x, y):
        _agree(x, y, [0], [0])
        return super()._train_step(x, y)


class SparseCategoricalAccuracyChecked(SparseCategoricalAccuracy):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, None], tf.float32)])
    def update_state(self, y_true, y_pred):
        _agree(y_true, y_pred, [0], [0])
        return SparseCategoricalAccuracy.update_state.python_function(self, y_true, y_pred)


class TransformerEncoderChecked(TransformerEncoder):
    def _predict(self, ids, mask):
        _agree(ids, mask, [0, 1], [0, 1])
        return super()._predict(ids, mask)
