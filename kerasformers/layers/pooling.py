"""Pooling over the sequence axis that ignores padding."""

import keras
from keras import ops

from ..numerics import NEG_INF


def _float_mask(mask, x):
    return ops.expand_dims(ops.cast(mask, x.dtype), -1)  # (B, T, 1)


@keras.saving.register_keras_serializable(package="kerasformers")
class MaskedGlobalAveragePooling1D(keras.layers.Layer):
    """(B, T, D) with mask (B, T) → (B, D): mean over unmasked steps (sentence embeddings)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, x, mask=None):
        if mask is None:
            return ops.mean(x, axis=1)
        weights = _float_mask(mask, x)
        return ops.sum(x * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1e-9)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="kerasformers")
class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """(B, T, D) with mask (B, T) → (B, D): max over unmasked steps."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, x, mask=None):
        if mask is None:
            return ops.max(x, axis=1)
        return ops.max(ops.where(_float_mask(mask, x) > 0, x, ops.cast(NEG_INF, x.dtype)), axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
