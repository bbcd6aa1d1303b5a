"""Layers that turn token/segment ids into additive attention biases (B|1, 1, T, S).

An allowed pair gets 0, a forbidden pair a large negative number; biases from several
sources are summed, so a pair forbidden by any of them stays forbidden.
"""

import keras
from keras import ops

from ..numerics import NEG_INF


def _bias_from_allowed(allowed):
    return ops.where(allowed, 0.0, NEG_INF)


class _DecodingBias:
    """In a cached decoding pass the decoder supplies the whole bias over the cache slots."""

    def incremental_call(self, inputs, step):
        return step.attention_bias


@keras.saving.register_keras_serializable(package="kerasformers")
class PaddingBias(_DecodingBias, keras.layers.Layer):
    """token_ids (B, S) → (B, 1, 1, S): keys equal to ``pad_id`` are hidden."""

    def __init__(self, pad_id=0, **kwargs):
        super().__init__(**kwargs)
        self.pad_id = pad_id

    def call(self, token_ids):
        allowed = ops.not_equal(token_ids, self.pad_id)
        return _bias_from_allowed(allowed[:, None, None, :])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}


@keras.saving.register_keras_serializable(package="kerasformers")
class CausalBias(_DecodingBias, keras.layers.Layer):
    """ids (B, T) → (1, 1, T, T): position i sees j ≤ i (language models)."""

    def call(self, ids):
        n = ops.shape(ids)[1]
        positions = ops.arange(n)
        allowed = positions[None, :] <= positions[:, None]
        return _bias_from_allowed(allowed[None, None])

    def compute_output_shape(self, input_shape):
        return (1, 1, input_shape[1], input_shape[1])


@keras.saving.register_keras_serializable(package="kerasformers")
class UniLMBias(_DecodingBias, keras.layers.Layer):
    """segment_ids (B, T) → (B, 1, T, T): UniLM seq2seq mask.

    i sees j iff cumsum(segment)[j] ≤ cumsum(segment)[i]: the source (segment 0) is
    fully visible, each target token sees the source and the targets before it.
    """

    def call(self, segment_ids):
        idx = ops.cumsum(ops.cast(segment_ids, "int32"), axis=1)
        allowed = idx[:, None, :] <= idx[:, :, None]
        return _bias_from_allowed(allowed[:, None])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, input_shape[1], input_shape[1])


@keras.saving.register_keras_serializable(package="kerasformers")
class SumBiases(_DecodingBias, keras.layers.Layer):
    """Adds attention biases of broadcastable shapes."""

    def call(self, biases):
        total = biases[0]
        for bias in biases[1:]:
            total = total + bias
        return total

    def compute_output_shape(self, input_shapes):
        dims = []
        for axis in range(4):
            sizes = [s[axis] for s in input_shapes]
            dims.append(
                None
                if None in sizes and all(x in (None, 1) for x in sizes)
                else max((x for x in sizes if x is not None), default=None)
            )
        return tuple(dims)
