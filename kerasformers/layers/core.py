"""Small building blocks used by the model templates."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasformers")
class BiasAdd(keras.layers.Layer):
    """Adds a learned bias over the last axis (BERT's ``cls/predictions/output_bias``)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, input_shape):
        self.bias = self.add_weight(name="bias", shape=(input_shape[-1],), initializer="zeros")

    def call(self, x):
        return x + ops.cast(self.bias, x.dtype)


@keras.saving.register_keras_serializable(package="kerasformers")
class TakeToken(keras.layers.Layer):
    """(B, T, D) → (B, D): the hidden state at a fixed position (``[CLS]`` for poolers)."""

    def __init__(self, index=0, **kwargs):
        super().__init__(**kwargs)
        self.index = index

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, x):
        return x[:, self.index]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "index": self.index}


@keras.saving.register_keras_serializable(package="kerasformers")
class Scale(keras.layers.Layer):
    """Multiplies by a constant (e.g. the sqrt(d) embedding scale of some families)."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor
        self.supports_masking = True

    def call(self, x):
        return x * ops.cast(self.factor, x.dtype)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="kerasformers")
class Add(keras.layers.Add):
    """``keras.layers.Add`` that keeps the padding mask when only some inputs carry one.

    Keras drops the mask if any input is unmasked; token + segment embeddings are exactly
    that case (segment ids say nothing about padding), and bert4keras kept the token mask.
    """

    def compute_mask(self, inputs, mask=None):
        present = [m for m in (mask or []) if m is not None]
        if not present:
            return None
        combined = present[0]
        for m in present[1:]:
            combined = ops.logical_and(combined, m)
        return combined


def fresh_initializer(initializer):
    """A new instance of ``initializer`` that draws values of its own.

    Keras 3 fixes an unseeded initializer's seed when the instance is created, so one instance
    shared by several weights gives them identical values (at init q = k = v = o, which stalls
    training from scratch); Keras 2, hence bert4keras, drew every weight afresh. Layers that make
    several weights from one ``kernel_initializer`` pass each a fresh copy.
    """
    return keras.initializers.get(initializer).clone()


def quantized_sublayer_policies(layers):
    """{name: serialised dtype policy} of the sublayers that ``Model.quantize`` changed.

    A block that creates its ``Dense`` layers itself puts this in its config so that
    ``keras.saving.load_model`` rebuilds them int8 before their int8 weights are loaded.
    """
    return {
        layer.name: keras.dtype_policies.serialize(layer.dtype_policy)
        for layer in layers
        if layer.quantization_mode is not None
    }


def sublayer_dtype(policies, name):
    """The dtype policy to create sublayer ``name`` with: its recorded one, else the default."""
    config = (policies or {}).get(name)
    return None if config is None else keras.dtype_policies.deserialize(config)


class _Context:
    """Stands for the encoder output in an encoder-decoder's cached decoding pass: cross-attention
    and position layers given it as keys read the precomputed context instead."""

    def __repr__(self):
        return "CONTEXT"


CONTEXT = _Context()
