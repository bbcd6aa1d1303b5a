"""Position tables that attention layers read: NEZHA's relative sinusoids, RoFormer's rotary
table, T5's bucketed relative bias. Each also offers ``incremental_call`` for cached decoding.
"""

import math

import keras
from keras import ops

from .core import CONTEXT
from .rotary import sinusoidal_embeddings


@keras.saving.register_keras_serializable(package="kerasformers")
class RelativePositionTable(keras.layers.Layer):
    """x (B, T, ·) → (T, T, dim): sinusoid of row clip(j - i, -K, K) + K for every pair (i, j)."""

    def __init__(self, max_relative_position, dim, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.max_relative_position = max_relative_position
        self.dim = dim

    def compute_mask(self, inputs, mask=None):
        return None  # a position table, not a sequence: nothing to mask

    def call(self, x):
        positions = ops.arange(ops.shape(x)[1])
        k = self.max_relative_position
        relative = ops.clip(positions[None, :] - positions[:, None], -k, k) + k  # (T, T)
        return ops.cast(sinusoidal_embeddings(relative, self.dim), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[1], input_shape[1], self.dim)

    def get_config(self):
        return {**super().get_config(), "max_relative_position": self.max_relative_position, "dim": self.dim}


@keras.saving.register_keras_serializable(package="kerasformers")
class RotaryPositionTable(keras.layers.Layer):
    """x (B, T, ·) → (1, T, dim): the sinusoidal table RoPE rotates q and k with."""

    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.dim = dim

    def compute_mask(self, inputs, mask=None):
        return None  # a position table, not a sequence: nothing to mask

    def call(self, x):
        return self.table(ops.arange(ops.shape(x)[1])[None])

    def incremental_call(self, x, step):
        """Cached decoding: rotate the new tokens by their own positions (B|1, T)."""
        return self.table(step.position_ids)

    def table(self, positions):
        return ops.cast(sinusoidal_embeddings(positions, self.dim), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (1, input_shape[1], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}


def relative_position_buckets(relative_position, bidirectional, num_buckets, max_distance):
    """T5's bucketing of key − query offsets (int tensor) into `num_buckets` ids.

    Small offsets get their own bucket, larger ones share log-spaced buckets up to
    `max_distance`; bidirectional tables use half the buckets for each direction.
    """
    n = -relative_position
    buckets = 0
    if bidirectional:
        num_buckets //= 2
        buckets = ops.cast(n < 0, "int32") * num_buckets
        n = ops.abs(n)
    else:
        n = ops.maximum(n, 0)
    max_exact = num_buckets // 2
    scaled = ops.log(ops.cast(ops.maximum(n, 1), "float32") / max_exact) / math.log(max_distance / max_exact)
    large = max_exact + ops.cast(scaled * (num_buckets - max_exact), "int32")
    large = ops.minimum(large, num_buckets - 1)
    return buckets + ops.where(n < max_exact, n, large)


@keras.saving.register_keras_serializable(package="kerasformers")
class RelativePositionBiasT5(keras.layers.Layer):
    """[queries (B, T, ·), keys (B, S, ·)] → additive attention bias (1, heads, T, S)."""

    def __init__(
        self,
        heads,
        num_buckets=32,
        max_distance=128,
        bidirectional=True,
        embeddings_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.heads = heads
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.bidirectional = bidirectional
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.num_buckets, self.heads), initializer=self.embeddings_initializer
        )

    def bias(self, query_positions, key_positions):
        """(T,), (S,) int positions → (1, heads, T, S)."""
        relative = key_positions[None, :] - query_positions[:, None]  # (T, S)
        buckets = relative_position_buckets(relative, self.bidirectional, self.num_buckets, self.max_distance)
        values = ops.take(self.embeddings, buckets, axis=0)  # (T, S, heads)
        return ops.transpose(values, (2, 0, 1))[None]

    def call(self, inputs):
        queries, keys = inputs
        return self.bias(ops.arange(ops.shape(queries)[1]), ops.arange(ops.shape(keys)[1]))

    def incremental_call(self, inputs, step):
        """Cached decoding: new tokens at the decoder's positions against every cache (or context) slot."""
        keys = step.context_length if inputs[1] is CONTEXT else step.cache_length
        return self.bias(step.position_ids[0], ops.arange(keys))

    def compute_output_shape(self, input_shape):
        return (1, self.heads, input_shape[0][1], input_shape[1][1])

    def get_config(self):
        return {
            **super().get_config(),
            "heads": self.heads,
            "num_buckets": self.num_buckets,
            "max_distance": self.max_distance,
            "bidirectional": self.bidirectional,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }
