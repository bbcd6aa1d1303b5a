"""Gated Attention Unit (Hua et al. 2022, "Transformer Quality in Linear Time"; GAU-α by Su Jianlin).

One GAU replaces an attention block AND a feed-forward block:

    u, v, z = split(act(x W_i), [units, units, key_size])     # (B, T, e), (B, T, e), (B, T, s)
    q, k    = z * γ_q + β_q,  z * γ_k + β_k                    # per-dimension scale-offset
    q, k    = RoPE(q), RoPE(k)                                 # optional rotary positions
    A       = normalise(q kᵀ / √s + bias)                      # (B, T, S), a single head
    out     = (u ⊙ A v) W_o

``normalization``: ``'softmax'``; ``'squared_relu'`` (the paper: relu(a)² / n); ``'softmax_plus'``
(GAU-α: softmax(a · log n / log 512), n = number of real keys, at least 16), where n counts the
non-padding keys given by ``key_mask``.
"""

import keras
import numpy as np
from keras import ops

from ..numerics import NEG_INF
from .activations import get_activation
from .core import fresh_initializer
from .dense import Dense
from .rotary import apply_rotary

_NORMALIZATIONS = ("softmax", "squared_relu", "softmax_plus")


@keras.saving.register_keras_serializable(package="kerasformers")
class GatedAttentionUnit(keras.layers.Layer):
    """Self-attention GAU. Call: ``gau(x, attention_bias=None, position_bias=None, p_bias=None, key_mask=None)``.

    ``attention_bias`` is additive and broadcastable to (B, 1, T, S) (the template's masks);
    ``position_bias``, when given, is the rotary sinusoidal table (B|1, T, key_size) (``p_bias='rotary'``);
    ``key_mask`` (B, S), 1 for real keys, sets n for the length-aware normalisations.
    Weights: q/k gamma (and beta when ``use_bias``), then ``i_dense``, then ``o_dense``.
    """

    def __init__(
        self,
        units,
        key_size,
        activation="swish",
        use_bias=True,
        normalization="squared_relu",
        attention_scale=True,
        attention_dropout=0.0,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.supports_masking = True  # output is aligned with the input sequence
        if normalization not in _NORMALIZATIONS:
            raise ValueError(
                f"GatedAttentionUnit: normalization must be one of {_NORMALIZATIONS}, got {normalization!r}"
            )
        self.units = units
        self.key_size = key_size
        self.activation = activation
        self.use_bias = use_bias
        self.normalization = normalization
        self.attention_scale = attention_scale
        self.attention_dropout = attention_dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    #: Checkpoint order of the weights, by path (see kerasformers.models.weight_order).
    weight_order = ("q_gamma", "q_beta", "k_gamma", "k_beta") + tuple(
        f"{dense}/{kind}" for dense in ("i_dense", "o_dense") for kind in ("kernel", "bias")
    )

    def build(self, input_shape):
        hidden = input_shape[-1]
        self.q_gamma = self.add_weight(name="q_gamma", shape=(self.key_size,), initializer="ones")
        if self.use_bias:
            self.q_beta = self.add_weight(name="q_beta", shape=(self.key_size,), initializer="zeros")
        self.k_gamma = self.add_weight(name="k_gamma", shape=(self.key_size,), initializer="ones")
        if self.use_bias:
            self.k_beta = self.add_weight(name="k_beta", shape=(self.key_size,), initializer="zeros")
        self.i_dense = Dense(
            2 * self.units + self.key_size,
            use_bias=self.use_bias,
            activation=get_activation(self.activation),
            kernel_initializer=fresh_initializer(self.kernel_initializer),
            name="i_dense",
        )
        self.i_dense.build(input_shape)
        self.o_dense = Dense(
            hidden,
            use_bias=self.use_bias,
            kernel_initializer=fresh_initializer(self.kernel_initializer),
            name="o_dense",
        )
        self.o_dense.build(tuple(input_shape[:-1]) + (self.units,))
        self.dropout = keras.layers.Dropout(self.attention_dropout)

    def call(self, x, attention_bias=None, position_bias=None, p_bias=None, key_mask=None, training=None):
        h = self.i_dense(x)
        u, v, z = h[..., : self.units], h[..., self.units : 2 * self.units], h[..., 2 * self.units :]
        q, k = z * self.q_gamma, z * self.k_gamma
        if self.use_bias:
            q, k = q + self.q_beta, k + self.k_beta
        if position_bias is not None:  # the only scheme GAU uses is rotary (p_bias='rotary')
            if p_bias not in (None, "rotary"):
                raise ValueError(f"GatedAttentionUnit supports p_bias='rotary' only, got {p_bias!r}")
            q, k = apply_rotary(position_bias, q), apply_rotary(position_bias, k)
        scores = ops.cast(ops.einsum("btd,bsd->bts", q, k), "float32")  # (B, T, S)
        if self.attention_scale:
            scores = scores / np.sqrt(self.key_size)
        allowed = None
        if attention_bias is not None:
            bias = ops.cast(attention_bias, "float32")
            bias = bias[:, 0] if len(bias.shape) == 4 else bias  # drop the heads axis
            scores = scores + bias
            allowed = bias > NEG_INF / 2
        if key_mask is not None:
            key_allowed = ops.cast(key_mask, "bool")[:, None, :]
            allowed = key_allowed if allowed is None else ops.logical_and(allowed, key_allowed)
        probs = self.normalise(scores, allowed, key_mask)
        probs = self.dropout(ops.cast(probs, v.dtype), training=training)
        return self.o_dense(u * ops.einsum("bts,bsd->btd", probs, v))

    def normalise(self, scores, allowed, key_mask):
        if allowed is not None:
            scores = ops.where(allowed, scores, NEG_INF)
        if self.normalization == "softmax":
            return ops.softmax(scores, axis=-1)
        if key_mask is None:
            n = ops.cast(ops.shape(scores)[-1], "float32")
        else:
            n = ops.sum(ops.cast(key_mask, "float32"), axis=-1)[:, None, None]  # (B, 1, 1)
        if self.normalization == "squared_relu":
            return ops.square(ops.relu(scores)) / n
        n = ops.maximum(n, 16.0)  # very short sequences are not sharpened (GAU-α)
        return ops.softmax(scores * ops.log(n) / np.log(512.0), axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "key_size": self.key_size,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "normalization": self.normalization,
            "attention_scale": self.attention_scale,
            "attention_dropout": self.attention_dropout,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
