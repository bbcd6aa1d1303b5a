"""Multi-head attention with the position schemes used by bert4keras's model zoo.

Shapes: B batch, T query length, S key length, N heads, H head size, K key size.
"""

import functools

import keras
from keras import ops

from .core import fresh_initializer, quantized_sublayer_policies, sublayer_dtype
from .dense import Dense
from .rotary import apply_rotary

#: KV caches are (B, 2, heads, length, size): the axis that counts cache slots.
CACHE_LENGTH_AXIS = 3


def _cache_entry(keys, values):
    """Keys and values (B, S, heads, size) → one heads-first cache block (B, 2, heads, S, size)."""
    return ops.stack([ops.transpose(keys, (0, 2, 1, 3)), ops.transpose(values, (0, 2, 1, 3))], axis=1)


@keras.saving.register_keras_serializable(package="kerasformers")
class MultiHeadAttention(keras.layers.Layer):
    """Attention over ``[q, k, v]`` (B, T|S, dim) with an additive bias (B|1, N|1, T, S).

    Position schemes (``p_bias`` with the matching ``position_bias`` tensor):
      * ``'rotary'`` – RoFormer: rotate q and k by a sinusoidal table (B|1, T, K);
        self-attention only, q and k share positions.
      * ``'typical_relative'`` – NEZHA: relative embeddings (T, S, K) added to keys and values.
      * ``'t5_relative'`` – T5: an additive bias (1, N, T, S) folded into ``attention_bias``.

    KV cache: pass ``cache`` (B, 2, N, S_max, ·) and ``cache_index`` (scalar) to write this
    step's keys/values at ``cache_index`` and attend over the whole cache (the caller's bias
    hides slots not yet written); the call then returns ``(output, new_cache)``. With
    ``cache_index=None`` the cache is used read-only as precomputed keys/values
    (T5 cross-attention). The cache is heads-first so that each decoding step multiplies the
    query with keys and values as they lie in memory (a (B, S, N, ·) cache made XLA copy both
    into that order at every step). Without a cache, the fused ``ops.dot_product_attention``
    kernel is used whenever no score-level feature (relative values, dropout, residual scores)
    is needed, except on JAX, where the explicit heads-first path with ``softmax_last_axis``
    trains faster (XLA's CPU backend gains nothing from the fused form).
    """

    def __init__(
        self,
        heads,
        head_size,
        out_dim=None,
        key_size=None,
        use_bias=True,
        attention_scale=True,
        attention_dropout=0.0,
        kernel_initializer="glorot_uniform",
        quantized_sublayers=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._sublayer_policies = quantized_sublayers or {}
        self.heads = heads
        self.head_size = head_size
        self.out_dim = out_dim
        self.key_size = key_size or head_size
        self.use_bias = use_bias
        self.attention_scale = attention_scale
        self.attention_dropout = attention_dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.q_dense = self._dense(self.key_size * heads, "q_dense", use_bias=use_bias)
        self.k_dense = self._dense(self.key_size * heads, "k_dense", use_bias=use_bias)
        self.v_dense = self._dense(head_size * heads, "v_dense", use_bias=use_bias)
        self.dropout = keras.layers.Dropout(attention_dropout)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        """The output is aligned with the query, so it carries the query's mask."""
        return mask[0] if isinstance(mask, (list, tuple)) else mask

    def build(self, input_shape):
        q_shape, k_shape, v_shape = input_shape[:3]
        self.q_dense.build(q_shape)
        self.k_dense.build(k_shape)
        self.v_dense.build(v_shape)
        self.o_dense = self._dense(
            self.out_dim or q_shape[-1],
            "o_dense",
            use_bias=self.use_bias,
        )
        self.o_dense.build(tuple(q_shape[:-1]) + (self.heads * self.head_size,))

    def _dense(self, units, name, **options):
        """A projection with its own initial draw; int8 already if this layer was saved after
        ``Model.quantize``."""
        return Dense(
            units,
            name=name,
            dtype=sublayer_dtype(self._sublayer_policies, name),
            kernel_initializer=fresh_initializer(self.kernel_initializer),
            **options,
        )

    def _split_heads(self, x, size):
        shape = ops.shape(x)
        return ops.reshape(x, (shape[0], shape[1], self.heads, size))  # (B, L, N, size)

    def call(
        self,
        inputs,
        attention_bias=None,
        position_bias=None,
        p_bias=None,
        cache=None,
        cache_index=None,
        previous_scores=None,
        return_scores=False,
        training=None,
    ):
        q, k, v = inputs[:3]
        qw = self._split_heads(self.q_dense(q), self.key_size)
        if cache is not None and cache_index is None:  # precomputed keys/values, heads-first
            kw, vw = cache[:, 0], cache[:, 1]
        else:
            kw = self._split_heads(self.k_dense(k), self.key_size)
            vw = self._split_heads(self.v_dense(v), self.head_size)
        if p_bias == "rotary":
            qw = apply_rotary(ops.expand_dims(position_bias, 2), qw)
            if cache is None or cache_index is not None:
                kw = apply_rotary(ops.expand_dims(position_bias, 2), kw)
        residual = previous_scores is not None or return_scores
        if p_bias == "t5_relative" and not residual:  # else _attend adds it to the (returned) scores
            attention_bias = position_bias if attention_bias is None else attention_bias + position_bias
            position_bias = None
        new_cache = None
        if cache is not None and cache_index is not None:
            new_cache = ops.slice_update(cache, (0, 0, 0, cache_index, 0), _cache_entry(kw, vw))
            kw, vw = new_cache[:, 0], new_cache[:, 1]
        if attention_bias is not None:
            attention_bias = ops.cast(attention_bias, qw.dtype)

        scale = 1.0 / float(self.key_size) ** 0.5 if self.attention_scale else 1.0
        needs_scores = (
            cache is not None
            or p_bias == "typical_relative"
            or residual
            or (self.attention_dropout and training)
            or self.key_size != self.head_size
            or keras.backend.backend() == "jax"
        )
        scores = None
        if needs_scores:
            out, scores = self._attend(
                qw,
                kw,
                vw,
                attention_bias,
                position_bias,
                p_bias,
                scale,
                previous_scores,
                training,
                kv_heads_first=cache is not None,
            )
        else:
            out = fused_attention(qw, kw, vw, attention_bias, scale)
        out_shape = ops.shape(out)
        out = self.o_dense(ops.reshape(out, (out_shape[0], out_shape[1], self.heads * self.head_size)))
        extras = [x for x in (new_cache, scores if return_scores else None) if x is not None]
        return (out, *extras) if extras else out

    def _attend(
        self,
        qw,
        kw,
        vw,
        attention_bias,
        position_bias,
        p_bias,
        scale,
        previous_scores,
        training,
        kv_heads_first=False,
    ):
        """Explicit softmax attention; returns (B, T, N, H) and this layer's own scaled scores.
        Keys and values are (B, S, N, ·), or (B, N, S, ·) from a cache (``kv_heads_first``).

        The returned scores leave out ``previous_scores`` and the bias, as bert4keras's RealFormer
        option does: each layer adds the previous layer's own scores, they do not accumulate.
        """
        qh = ops.transpose(qw, (0, 2, 1, 3))  # heads-first: XLA multiplies these in place
        kh, vh = (
            (kw, vw) if kv_heads_first else (ops.transpose(kw, (0, 2, 1, 3)), ops.transpose(vw, (0, 2, 1, 3)))
        )
        scores = ops.matmul(qh, ops.swapaxes(kh, -1, -2))  # (B, N, T, S)
        if p_bias == "typical_relative":
            scores = scores + ops.einsum("btnk,tsk->bnts", qw, ops.cast(position_bias, qw.dtype))
        elif p_bias == "t5_relative" and position_bias is not None:
            scores = scores + ops.cast(position_bias, scores.dtype)
        own_scores = scores * scale
        scores = own_scores
        if previous_scores is not None:
            scores = scores + previous_scores
        if attention_bias is not None:
            scores = scores + attention_bias
        probs = ops.cast(softmax_last_axis(ops.cast(scores, "float32")), qw.dtype)
        probs = self.dropout(probs, training=training)
        out = ops.transpose(ops.matmul(probs, vh), (0, 2, 1, 3))
        if p_bias == "typical_relative":
            out = out + ops.einsum("bnts,tsh->btnh", probs, ops.cast(position_bias, qw.dtype))
        return out, own_scores

    #: Checkpoint order of the weights, by path (see kerasformers.models.weight_order).
    weight_order = tuple(
        f"{dense}/{kind}"
        for dense in ("q_dense", "k_dense", "v_dense", "o_dense")
        for kind in ("kernel", "bias")
    )

    def project_keys_values(self, x):
        """x (B, S, ·) → its keys and values (B, 2, heads, S, size): a read-only ``cache`` for
        attending to a fixed context (an encoder-decoder's cross-attention) step after step."""
        return _cache_entry(
            self._split_heads(self.k_dense(x), self.key_size),
            self._split_heads(self.v_dense(x), self.head_size),
        )

    def compute_output_spec(self, inputs, **kwargs):
        q = inputs[0]
        out = keras.KerasTensor(
            tuple(q.shape[:-1]) + (self.out_dim or q.shape[-1],), dtype=self.compute_dtype
        )
        extras = []
        cache = kwargs.get("cache")
        if cache is not None and kwargs.get("cache_index") is not None:
            extras.append(keras.KerasTensor(cache.shape, dtype=cache.dtype))
        if kwargs.get("return_scores"):
            k_len = inputs[1].shape[1]
            extras.append(
                keras.KerasTensor((q.shape[0], self.heads, q.shape[1], k_len), dtype=self.compute_dtype)
            )
        return (out, *extras) if extras else out

    def get_config(self):
        return {
            **super().get_config(),
            "heads": self.heads,
            "head_size": self.head_size,
            "out_dim": self.out_dim,
            "key_size": self.key_size,
            "use_bias": self.use_bias,
            "attention_scale": self.attention_scale,
            "attention_dropout": self.attention_dropout,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "quantized_sublayers": quantized_sublayer_policies(self._flatten_layers(include_self=False)),
        }


def fused_attention(qw, kw, vw, bias, scale):
    """softmax(q·kᵀ·scale + bias)·v on (B, T|S, N, ·) tensors with one fused kernel. On PyTorch it
    calls SDPA on heads-first views directly: Keras's wrapper makes each of q, k and v contiguous
    first, three copies per layer that SDPA does not need."""
    if keras.backend.backend() != "torch":
        return ops.dot_product_attention(qw, kw, vw, bias=bias, scale=scale)
    import torch

    out = torch.nn.functional.scaled_dot_product_attention(
        qw.transpose(1, 2), kw.transpose(1, 2), vw.transpose(1, 2), attn_mask=bias, scale=scale
    )
    return out.transpose(1, 2)


def softmax_last_axis(scores):
    """Softmax over the last axis. On JAX with a hand-written backward pass,
    ``ds = p * (g - sum(g * p))`` from the saved probabilities: autodiff of ``jax.nn.softmax``
    recomputes and reduces more, and took twice as long in an attention backward pass on CPU."""
    if keras.backend.backend() != "jax":
        return ops.softmax(scores, axis=-1)
    return _jax_softmax()(scores)


@functools.cache
def _jax_softmax():
    import jax
    import jax.numpy as jnp

    @jax.custom_vjp
    def softmax(scores):
        return jax.nn.softmax(scores, axis=-1)

    def forward(scores):
        probs = jax.nn.softmax(scores, axis=-1)
        return probs, probs

    def backward(probs, grad):
        return ((grad - jnp.sum(grad * probs, axis=-1, keepdims=True)) * probs,)

    softmax.defvjp(forward, backward)
    return softmax


@keras.saving.register_keras_serializable(package="kerasformers")
class PositionalAttention(MultiHeadAttention):
    """MultiHeadAttention whose position scheme (``p_bias``) is fixed at construction.

    The call then takes tensors only, which is what gradient recomputation needs
    (``jax.checkpoint`` rejects string arguments) when the model is built with ``remat=True``.
    """

    def __init__(self, p_bias, **kwargs):
        super().__init__(**kwargs)
        self.p_bias = p_bias

    def call(
        self,
        inputs,
        attention_bias=None,
        position_bias=None,
        cache=None,
        cache_index=None,
        previous_scores=None,
        return_scores=False,
        training=None,
    ):
        return super().call(
            inputs,
            attention_bias=attention_bias,
            position_bias=position_bias,
            p_bias=self.p_bias,
            cache=cache,
            cache_index=cache_index,
            previous_scores=previous_scores,
            return_scores=return_scores,
            training=training,
        )

    def get_config(self):
        return {**super().get_config(), "p_bias": self.p_bias}
