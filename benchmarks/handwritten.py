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
