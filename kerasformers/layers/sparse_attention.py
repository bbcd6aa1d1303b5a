"""Sparse self-attention: atrous, local and their union (Su Jianlin, "为节约而生：从标准Attention到稀疏Attention").

Dense attention builds an n×n score matrix. These layers never do: the sequence is padded to a
multiple of a block size and *reshaped* so that each query only meets the keys its pattern allows.

- ``AtrousSelfAttention(rate)``: i attends j iff (i - j) is a multiple of ``rate``.
  Reshape (n,) → (n/rate, rate): position a·rate + c lives in residue class c, and attention runs
  inside each class. Scores: n·n/rate.
- ``LocalSelfAttention(neighbors)``: i attends j iff |i - j| ≤ ``neighbors``.
  Reshape into blocks of B = max(neighbors, 1) positions; block a only meets blocks a-1, a, a+1.
  Scores: n·3B.
- ``SparseSelfAttention(rate)``: the union of both patterns (with neighbors = rate - 1), normalised
  by ONE softmax over the concatenated atrous and local scores (the shared diagonal j = i is kept
  only on the atrous side, so no key is counted twice). Scores: n·(n/rate + 3·rate).

All three take ``x`` of shape (batch, seq, hidden) and an optional padding ``mask`` (batch, seq)
(1/True = real token, also picked up from Keras mask propagation), and a ``causal`` option
(j ≤ i only). Projections follow ``MultiHeadAttention``: ``q_dense``, ``k_dense``, ``v_dense``,
``o_dense``.
"""

import keras
import numpy as np
from keras import ops

from ..numerics import NEG_INF
from .core import fresh_initializer
from .dense import Dense


class _ReshapedSelfAttention(keras.layers.Layer):
    """Shared projections, padding and masking; subclasses choose the block size and the pattern."""

    def __init__(
        self,
        heads,
        head_size,
        out_dim=None,
        key_size=None,
        use_bias=True,
        attention_scale=True,
        attention_dropout=0.0,
        causal=False,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.heads = heads
        self.head_size = head_size
        self.out_dim = out_dim
        self.key_size = key_size or head_size
        self.use_bias = use_bias
        self.attention_scale = attention_scale
        self.attention_dropout = attention_dropout
        self.causal = causal
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        hidden = input_shape[-1]
        out_dim = self.out_dim or hidden
        dense = lambda units, name: Dense(  # noqa: E731
            units,
            use_bias=self.use_bias,
            kernel_initializer=fresh_initializer(self.kernel_initializer),
            name=name,
            dtype=self.dtype_policy,
        )
        self.q_dense = dense(self.heads * self.key_size, "q_dense")
        self.k_dense = dense(self.heads * self.key_size, "k_dense")
        self.v_dense = dense(self.heads * self.head_size, "v_dense")
        self.o_dense = dense(out_dim, "o_dense")
        for layer in (self.q_dense, self.k_dense, self.v_dense):
            layer.build(input_shape)
        self.o_dense.build(tuple(input_shape[:-1]) + (self.heads * self.head_size,))
        self.dropout = keras.layers.Dropout(self.attention_dropout)

    def call(self, x, mask=None, training=None):
        n = ops.shape(x)[1]
        block = self.block_size
        pad = (block - n % block) % block
        n_pad = n + pad

        def heads_view(t, size):  # (b, n, heads·size) → (b, n_pad, heads, size), zero-padded
            t = ops.pad(t, [[0, 0], [0, pad], [0, 0]])
            return ops.reshape(t, (-1, n_pad, self.heads, size))

        q = heads_view(self.q_dense(x), self.key_size)
        k = heads_view(self.k_dense(x), self.key_size)
        v = heads_view(self.v_dense(x), self.head_size)
        if self.attention_scale:
            q = q / ops.cast(np.sqrt(self.key_size), q.dtype)
        valid = ops.ones_like(x[..., 0], dtype="float32") if mask is None else ops.cast(mask, "float32")
        valid = ops.pad(valid, [[0, 0], [0, pad]]) > 0.5  # (b, n_pad), padding positions are invalid

        o = self.attend(q, k, v, valid, n_pad // block, training)  # (b, n_pad, heads, head_size)
        o = ops.reshape(o[:, :n], (-1, n, self.heads * self.head_size))
        return self.o_dense(o)

    def compute_mask(self, x, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.out_dim or input_shape[-1],)

    # --- the two building blocks; both work on queries laid out as (b, m, r, heads, d) ---

    def atrous_scores(self, q, k, valid, m, r):
        """Scores of query a·r+c against keys e·r+c: (b, heads, m, r, m) + their allowed mask."""
        qb = ops.reshape(q, (-1, m, r, self.heads, self.key_size))
        kb = ops.reshape(k, (-1, m, r, self.heads, self.key_size))
        scores = ops.einsum("bachd,bechd->bhace", qb, kb)
        allowed = ops.transpose(ops.reshape(valid, (-1, m, r)), (0, 2, 1))[:, None, None]  # (b,1,1,r,m)
        if self.causal:
            blocks = ops.arange(m)
            allowed = ops.logical_and(allowed, (blocks[None, :] <= blocks[:, None])[:, None, :])
        return scores, allowed

    def atrous_values(self, probs, v, m, r):
        vb = ops.reshape(v, (-1, m, r, self.heads, self.head_size))
        return ops.einsum("bhace,bechd->bachd", probs, vb)

    def local_scores(self, q, k, valid, m, block, neighbors, exclude_self=False):
        """Scores of block a's queries against blocks a-1, a, a+1: (b, heads, m, B, 3B) + mask."""
        qb = ops.reshape(q, (-1, m, block, self.heads, self.key_size))
        kb = self.neighbor_blocks(k, m, block)
        scores = ops.einsum("bathd,bashd->bhats", qb, kb)
        # key slot s of query slot t sits at relative offset s - B - t, the same in every block
        offset = np.arange(3 * block)[None, :] - block - np.arange(block)[:, None]
        pattern = np.abs(offset) <= neighbors
        if exclude_self:
            pattern &= offset != 0
        if self.causal:
            pattern &= offset <= 0
        key_valid = (
            self.neighbor_blocks(ops.cast(valid, "float32")[..., None, None], m, block)[..., 0, 0] > 0.5
        )  # (b, m, 3B)
        allowed = ops.logical_and(key_valid[:, None, :, None, :], ops.convert_to_tensor(pattern))
        return scores, allowed

    def local_values(self, probs, v, m, block):
        return ops.einsum("bhats,bashd->bathd", probs, self.neighbor_blocks(v, m, block))

    @staticmethod
    def neighbor_blocks(t, m, block):
        """(b, m·B, ...) → (b, m, 3B, ...): each block next to its left and right neighbours."""
        tail = tuple(t.shape[2:])
        t = ops.pad(t, [[0, 0], [block, block]] + [[0, 0]] * len(tail))
        t = ops.reshape(t, (-1, m + 2, block) + tail)
        return ops.concatenate([t[:, :-2], t[:, 1:-1], t[:, 2:]], axis=2)

    def normalise(self, scores, allowed, training):
        scores = ops.where(allowed, ops.cast(scores, "float32"), NEG_INF)
        probs = ops.softmax(scores, axis=-1)
        return self.dropout(probs, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            heads=self.heads,
            head_size=self.head_size,
            out_dim=self.out_dim,
            key_size=self.key_size,
            use_bias=self.use_bias,
            attention_scale=self.attention_scale,
            attention_dropout=self.attention_dropout,
            causal=self.causal,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="kerasformers")
class AtrousSelfAttention(_ReshapedSelfAttention):
    """Dilated attention: i attends j iff |i - j| is a multiple of ``rate``."""

    def __init__(self, heads, head_size, rate=2, **kwargs):
        super().__init__(heads, head_size, **kwargs)
        if rate < 1:
            raise ValueError(f"AtrousSelfAttention: rate must be >= 1, got {rate}")
        self.rate = rate

    @property
    def block_size(self):
        return self.rate

    def attend(self, q, k, v, valid, m, training):
        scores, allowed = self.atrous_scores(q, k, valid, m, self.rate)
        probs = ops.cast(self.normalise(scores, allowed, training), v.dtype)
        o = self.atrous_values(probs, v, m, self.rate)  # (b, m, r, h, d)
        return ops.reshape(o, (-1, m * self.rate, self.heads, self.head_size))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


@keras.saving.register_keras_serializable(package="kerasformers")
class LocalSelfAttention(_ReshapedSelfAttention):
    """Windowed attention: i attends j iff |i - j| ≤ ``neighbors``."""

    def __init__(self, heads, head_size, neighbors=2, **kwargs):
        super().__init__(heads, head_size, **kwargs)
        if neighbors < 0:
            raise ValueError(f"LocalSelfAttention: neighbors must be >= 0, got {neighbors}")
        self.neighbors = neighbors

    @property
    def block_size(self):
        return max(self.neighbors, 1)

    def attend(self, q, k, v, valid, m, training):
        block = self.block_size
        scores, allowed = self.local_scores(q, k, valid, m, block, self.neighbors)
        probs = ops.cast(self.normalise(scores, allowed, training), v.dtype)
        o = self.local_values(probs, v, m, block)
        return ops.reshape(o, (-1, m * block, self.heads, self.head_size))

    def get_config(self):
        return {**super().get_config(), "neighbors": self.neighbors}


@keras.saving.register_keras_serializable(package="kerasformers")
class SparseSelfAttention(_ReshapedSelfAttention):
    """Atrous ∪ local (neighbors = rate - 1) under one softmax, as in Sparse Transformers."""

    def __init__(self, heads, head_size, rate=2, **kwargs):
        super().__init__(heads, head_size, **kwargs)
        if rate < 2:
            raise ValueError(
                f"SparseSelfAttention: rate must be >= 2 (rate 1 is dense attention), got {rate}"
            )
        self.rate = rate

    @property
    def block_size(self):
        return self.rate

    def attend(self, q, k, v, valid, m, training):
        r = self.rate
        a_scores, a_allowed = self.atrous_scores(q, k, valid, m, r)  # (b, h, m, r, m)
        l_scores, l_allowed = self.local_scores(
            q, k, valid, m, r, r - 1, exclude_self=True
        )  # (b, h, m, r, 3r)
        a_allowed = ops.broadcast_to(a_allowed, ops.shape(a_scores))
        l_allowed = ops.broadcast_to(l_allowed, ops.shape(l_scores))
        probs = self.normalise(
            ops.concatenate([a_scores, l_scores], axis=-1),
            ops.concatenate([a_allowed, l_allowed], axis=-1),
            training,
        )
        probs = ops.cast(probs, v.dtype)
        o = self.atrous_values(probs[..., :m], v, m, r) + self.local_values(probs[..., m:], v, m, r)
        return ops.reshape(o, (-1, m * r, self.heads, self.head_size))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}
