"""Glow-style flow steps and the f-VAE that puts a flow inside a VAE's posterior.

Each step maps (batch, dim) -> (batch, dim) and returns ``(y, log|det dy/dx|)`` per sample; ``inverse``
undoes it. Steps: ``AffineCoupling`` (half the features shift and scale the other half),
``InvertibleLinear`` (Glow's invertible 1x1 convolution: a learned dim x dim matrix mixing features)
and ``ReversePermutation``.
"""

import keras
import numpy as np
from keras import layers, ops

from .vae import VAE, reconstruction_loss

_LOG_2PI = 1.8378770664093453


class AffineCoupling(layers.Layer):
    """y1 = x1, y2 = x2 * exp(s(x1)) + t(x1); log-scale bounded by tanh for stable training."""

    def __init__(self, dim, hidden=64, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.split = dim, dim // 2
        self.hidden_layer = layers.Dense(hidden, activation="tanh")
        self.shift_and_scale = layers.Dense(2 * (dim - self.split), kernel_initializer="zeros")

    def _shift_log_scale(self, x1):
        shift, raw_scale = ops.split(self.shift_and_scale(self.hidden_layer(x1)), 2, axis=-1)
        return shift, ops.tanh(raw_scale)

    def call(self, x):
        x1, x2 = x[:, : self.split], x[:, self.split :]
        shift, log_scale = self._shift_log_scale(x1)
        y = ops.concatenate([x1, x2 * ops.exp(log_scale) + shift], axis=-1)
        return y, ops.sum(log_scale, axis=-1)

    def inverse(self, y):
        y1, y2 = y[:, : self.split], y[:, self.split :]
        shift, log_scale = self._shift_log_scale(y1)
        return ops.concatenate([y1, (y2 - shift) * ops.exp(-log_scale)], axis=-1)


class InvertibleLinear(layers.Layer):
    """y = x W with W initialised to a random rotation; log|det| = log|det W| for every sample."""

    def __init__(self, dim, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.kernel = self.add_weight(
            shape=(dim, dim), initializer=keras.initializers.Orthogonal(seed=seed), name="kernel"
        )

    def call(self, x):
        _, log_abs_det = ops.slogdet(self.kernel)
        return ops.matmul(x, self.kernel), ops.zeros(ops.shape(x)[:1], dtype=x.dtype) + log_abs_det

    def inverse(self, y):
        return ops.matmul(y, ops.inv(self.kernel))


class ReversePermutation(layers.Layer):
    """Reverses the feature order (log|det| = 0): lets the next coupling transform the other half."""

    def call(self, x):
        return ops.flip(x, axis=-1), ops.zeros(ops.shape(x)[:1], dtype=x.dtype)

    def inverse(self, y):
        return ops.flip(y, axis=-1)


class Flow(layers.Layer):
    """``num_steps`` x (InvertibleLinear or ReversePermutation, then AffineCoupling)."""

    def __init__(self, dim, num_steps=4, hidden=64, mixing="linear", seed=None, **kwargs):
        super().__init__(**kwargs)
        if mixing not in ("linear", "permutation"):
            raise ValueError(f"Flow: mixing must be 'linear' or 'permutation', got {mixing!r}")
        self.steps = []
        for index in range(num_steps):
            self.steps.append(
                InvertibleLinear(dim, seed=None if seed is None else seed + index)
                if mixing == "linear"
                else ReversePermutation()
            )
            self.steps.append(AffineCoupling(dim, hidden))

    def call(self, x):
        total = ops.zeros(ops.shape(x)[:1], dtype=x.dtype)
        for step in self.steps:
            x, log_det = step(x)
            total = total + log_det
        return x, total

    def inverse(self, y):
        for step in reversed(self.steps):
            y = step.inverse(y)
        return y


def standard_normal_log_density(z):
    return -0.5 * ops.sum(ops.square(z) + _LOG_2PI, axis=-1)


class FlowVAE(VAE):
    """f-VAE: the posterior sample is pushed through a flow, z = F(mean + exp(log_var / 2) * u).

    log q(z|x) = log N(u; 0, I) - sum(log_var) / 2 - log|det dF|; the KL to the N(0, I) prior is
    estimated with the same single sample: log q(z|x) - log p(z). With F = identity this is the VAE.
    """

    def __init__(self, encoder, decoder, latent_dim, num_steps=4, hidden=64, **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        self.latent_dim = latent_dim
        self.flow = Flow(latent_dim, num_steps=num_steps, hidden=hidden, name="posterior_flow")

    def call(self, x, training=False):
        mean, log_var = self.encode(x)
        noise = self.sample_noise(mean) if training else ops.zeros_like(mean)
        z, log_det = self.flow(mean + ops.exp(0.5 * log_var) * noise)
        log_q = standard_normal_log_density(noise) - 0.5 * ops.sum(log_var, axis=-1) - log_det
        return {
            "reconstruction": self.decoder(z),
            "mean": mean,
            "log_var": log_var,
            "z": z,
            "kl": log_q - standard_normal_log_density(z),
        }

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not training:
            y_pred = self(x, training=True)
        reconstruction = reconstruction_loss(x, y_pred["reconstruction"], self.reconstruction)
        return ops.mean(reconstruction + self.kl_weight * y_pred["kl"])


def brute_force_log_det(flow, x):
    """log|det J| of ``flow`` at each row of ``x`` from the full Jacobian built by autodiff (small dim)."""
    from .gradients import value_and_gradients

    x = np.asarray(x, dtype="float32")
    results = []
    for row in x:
        jacobian = np.stack(
            [value_and_gradients(lambda v, i=i: flow(v[None])[0][0, i], [row])[1][0] for i in range(len(row))]
        )
        results.append(np.linalg.slogdet(jacobian.astype(np.float64))[1])
    return np.array(results)
