"""Layer normalisation with bert4keras's conditional variant."""

import keras
from keras import ops

from .activations import get_activation


@keras.saving.register_keras_serializable(package="kerasformers")
class LayerNormalization(keras.layers.Layer):
    """LayerNorm over the last axis, computed in float32.

    ``zero_mean=False`` gives RMSNorm (T5); ``center``/``scale`` switch off the offset/gain
    (RoFormer-v2 has neither). ``conditional=True`` makes gain and offset depend on a
    condition vector: call with ``[x, cond]``; cond (batch, c) or (batch, seq, c) is
    (optionally) projected to ``hidden_units`` and then mapped to per-feature deltas by
    zero-initialised dense layers, so an untrained condition leaves the layer unchanged.
    """

    def __init__(
        self,
        center=True,
        scale=True,
        epsilon=1e-12,
        zero_mean=True,
        unit_variance=True,
        conditional=False,
        hidden_units=None,
        hidden_activation="linear",
        hidden_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.center = center
        self.scale = scale
        self.epsilon = epsilon
        self.zero_mean = zero_mean
        self.unit_variance = unit_variance
        self.conditional = conditional
        self.hidden_units = hidden_units
        self.hidden_activation = hidden_activation
        self.hidden_initializer = keras.initializers.get(hidden_initializer)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return mask[0] if isinstance(mask, (list, tuple)) else mask

    def build(self, input_shape):
        x_shape = input_shape[0] if self.conditional else input_shape
        dim = x_shape[-1]
        if self.scale:
            self.gamma = self.add_weight(name="gamma", shape=(dim,), initializer="ones")
        if self.center:
            self.beta = self.add_weight(name="beta", shape=(dim,), initializer="zeros")
        if self.conditional:
            if self.hidden_units is not None:
                self.hidden_dense = keras.layers.Dense(
                    self.hidden_units,
                    activation=get_activation(self.hidden_activation),
                    use_bias=False,
                    kernel_initializer=self.hidden_initializer,
                    name="hidden_dense",
                )
                self.hidden_dense.build(input_shape[1])
            cond_dim = self.hidden_units or input_shape[1][-1]
            if self.scale:
                self.gamma_dense = keras.layers.Dense(
                    dim, use_bias=False, kernel_initializer="zeros", name="gamma_dense"
                )
                self.gamma_dense.build(tuple(input_shape[1][:-1]) + (cond_dim,))
            if self.center:
                self.beta_dense = keras.layers.Dense(
                    dim, use_bias=False, kernel_initializer="zeros", name="beta_dense"
                )
                self.beta_dense.build(tuple(input_shape[1][:-1]) + (cond_dim,))

    def call(self, inputs):
        if self.conditional:
            x, cond = inputs
            if self.hidden_units is not None:
                cond = self.hidden_dense(cond)
            cond = ops.cast(cond, "float32")
            while len(cond.shape) < len(x.shape):  # (batch, c) → (batch, 1, c)
                cond = ops.expand_dims(cond, 1)
        else:
            x = inputs
        out_dtype = x.dtype
        x = ops.cast(x, "float32")
        if not self.conditional and self.zero_mean and self.unit_variance:
            # Plain LayerNorm: the fused op is one kernel on PyTorch (F.layer_norm) instead of
            # ~8 eager elementwise passes; XLA fuses either form on JAX/TensorFlow.
            gamma = ops.cast(self.gamma, "float32") if self.scale else None
            beta = ops.cast(self.beta, "float32") if self.center else None
            return ops.cast(ops.layer_normalization(x, gamma, beta, epsilon=self.epsilon), out_dtype)
        if self.zero_mean:
            x = x - ops.mean(x, axis=-1, keepdims=True)
        if self.unit_variance:
            x = x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + self.epsilon)
        if self.scale:
            gamma = ops.cast(self.gamma, "float32")
            if self.conditional:
                gamma = gamma + ops.cast(self.gamma_dense(cond), "float32")
            x = x * gamma
        if self.center:
            beta = ops.cast(self.beta, "float32")
            if self.conditional:
                beta = beta + ops.cast(self.beta_dense(cond), "float32")
            x = x + beta
        return ops.cast(x, out_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0] if self.conditional else input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "center": self.center,
            "scale": self.scale,
            "epsilon": self.epsilon,
            "zero_mean": self.zero_mean,
            "unit_variance": self.unit_variance,
            "conditional": self.conditional,
            "hidden_units": self.hidden_units,
            "hidden_activation": self.hidden_activation,
            "hidden_initializer": keras.initializers.serialize(self.hidden_initializer),
        }
