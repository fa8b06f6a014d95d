"""examples/vae.tfm: a VAE whose train step calls the encoder's and decoder's methods (several outputs
unpacked, read by name, returned) trains step for step as a hand-written TensorFlow VAE does, and
exports (SavedModel and TFLite) with its several outputs served by name."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

import tfm
from support import EXAMPLES

SOURCE = EXAMPLES / "vae.tfm"
FEATURES, LATENT, BATCH, STEPS = 16, 2, 8, 5


class HandWrittenVAE(tf.Module):
    """The same model as Keras' VAE example would write it, its weights copied from `model`."""

    def __init__(self, model):
        super().__init__()
        copy = lambda layer: (tf.Variable(layer.kernel.numpy()), tf.Variable(layer.bias.numpy()))  # noqa: E731
        self.hidden = copy(model.encoder.dense)
        self.mean = copy(model.encoder.to_mean)
        self.log_var = copy(model.encoder.to_log_var)
        self.dec_hidden = copy(model.decoder.dense)
        self.dec_out = copy(model.decoder.rebuild)
        self.optimizer = tf.keras.optimizers.Adam(learning_rate=0.001)

    def encode(self, x):
        h = tf.nn.relu(x @ self.hidden[0] + self.hidden[1])
        return h @ self.mean[0] + self.mean[1], h @ self.log_var[0] + self.log_var[1]

    def decode(self, z):
        h = tf.nn.relu(z @ self.dec_hidden[0] + self.dec_hidden[1])
        return tf.math.sigmoid(h @ self.dec_out[0] + self.dec_out[1])

    @tf.function
    def train_step(self, x, eps):
        with tf.GradientTape() as tape:
            z_mean, z_log_var = self.encode(x)
            z = z_mean + tf.exp(0.5 * z_log_var) * eps
            reconstruction = self.decode(z)
            reconstruction_loss = tf.reduce_mean(tf.reduce_sum(tf.square(x - reconstruction), axis=1))
            kl = -0.5 * (1.0 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var))
            kl_loss = tf.reduce_mean(tf.reduce_sum(kl, axis=1))
            loss = reconstruction_loss + kl_loss
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss, reconstruction_loss, kl_loss


def _data(step: int):
    rng = np.random.default_rng(step)
    return (rng.uniform(size=(BATCH, FEATURES)).astype(np.float32),
            rng.normal(size=(BATCH, LATENT)).astype(np.float32))


def test_vae_trains_step_for_step_as_hand_written_tensorflow(tmp_path):
    model = tfm.load(SOURCE).VAE(seed=1)
    reference = HandWrittenVAE(model)
    losses = []
    for step in range(STEPS):
        x, eps = _data(step)
        got = model.train_step(x, eps)
        want = reference.train_step(x, eps)
        for key, value in zip(("loss", "reconstruction_loss", "kl_loss"), want):
            np.testing.assert_allclose(got[key].numpy(), value.numpy(), rtol=1e-5, err_msg=f"{key}, step {step}")
        losses.append(float(got["loss"]))
    assert losses[-1] < losses[0], losses
    trained = {"hidden": model.encoder.dense, "mean": model.encoder.to_mean, "log_var": model.encoder.to_log_var,
               "dec_hidden": model.decoder.dense, "dec_out": model.decoder.rebuild}
    for name, layer in trained.items():
        kernel, bias = getattr(reference, name)
        np.testing.assert_allclose(layer.kernel.numpy(), kernel.numpy(), rtol=1e-5, atol=1e-7, err_msg=name)
        np.testing.assert_allclose(layer.bias.numpy(), bias.numpy(), rtol=1e-5, atol=1e-7, err_msg=name)

    # `encode` returns the encoder's outputs; `reconstruct` decodes the mean read by name
    x, _ = _data(99)
    encoded = model.encode(x)
    z_mean, z_log_var = reference.encode(x)
    np.testing.assert_allclose(encoded["mean"].numpy(), z_mean.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(encoded["log_var"].numpy(), z_log_var.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model.reconstruct(x).numpy(), reference.decode(z_mean).numpy(), rtol=1e-5, atol=1e-7)

    report = tfm.export(SOURCE, "VAE", tmp_path / "saved", instance=model, tflite=tmp_path / "vae.tflite")
    lite = report.tflite_report  # both signatures run in LiteRT and match the SavedModel
    assert lite is not None and not lite.flex_ops and set(lite.max_abs_diff) == {"serving_default", "encode"}
    assert max(lite.max_abs_diff.values()) < 1e-5
    served = {c.method for c in report.signatures}
    assert {"reconstruct", "encode"} <= served and "train_step" not in served
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    outputs = loaded.signatures["encode"](x=tf.constant(x))
    assert set(outputs) == {"mean", "log_var"}
    np.testing.assert_allclose(outputs["mean"].numpy(), z_mean.numpy(), rtol=1e-5, atol=1e-7)
