"""bert4keras layers that scripts build by hand: ``SinusoidalPositionEmbedding``, ``ScaleOffset``,
``Concatenate1D``, the ``BatchSplit`` / ``BatchConcat`` pair (batch split for data parallelism),
plus the ``Layer`` / ``integerize_shape`` names.

Weights keep bert4keras's names (``gamma``, ``beta``) so checkpoints and patterns carry over.
"""

import keras
import numpy as np
from keras import ops

from .rotary import sinusoidal_embeddings

# bert4keras's base class (Keras 2 needed masking switched on per layer; Keras 3 layers pass masks).
Layer = keras.layers.Layer


def integerize_shape(func):
    """bert4keras decorator turning TF1 Dimension objects into ints; Keras 3 shapes are ints."""
    return func


@keras.saving.register_keras_serializable(package="kerasformers")
class SinusoidalPositionEmbedding(keras.layers.Layer):
    """Fixed sin/cos position vectors ([sin θ0, cos θ0, sin θ1, ...]) merged into the input.

    merge_mode: 'add' (x + p), 'mul' (x * (p + 1)), 'zero' (p alone) or anything else to
    concatenate p after x. With ``custom_position_ids`` the input is ``[x, position_ids]``.
    """

    def __init__(self, output_dim, merge_mode="add", custom_position_ids=False, **kwargs):
        super().__init__(**kwargs)
        self.output_dim = output_dim
        self.merge_mode = merge_mode
        self.custom_position_ids = custom_position_ids

    def call(self, inputs):
        if self.custom_position_ids:
            inputs, position_ids = inputs
        else:
            position_ids = ops.expand_dims(ops.arange(ops.shape(inputs)[1]), 0)
        return self._merge(inputs, position_ids)

    def incremental_call(self, inputs, step):
        """Cached decoding: the new tokens sit at the decoder's positions (B|1, T)."""
        return self._merge(inputs[0] if self.custom_position_ids else inputs, step.position_ids)

    def _merge(self, inputs, position_ids):
        position_ids = ops.cast(position_ids, "float32")
        embeddings = ops.cast(sinusoidal_embeddings(position_ids, self.output_dim), inputs.dtype)
        if self.merge_mode == "add":
            return inputs + embeddings
        if self.merge_mode == "mul":
            return inputs * (embeddings + 1.0)
        if self.merge_mode == "zero":
            return embeddings
        if ops.shape(embeddings)[0] == 1:
            embeddings = ops.tile(embeddings, [ops.shape(inputs)[0], 1, 1])
        return ops.concatenate([inputs, embeddings], axis=-1)

    def compute_output_shape(self, input_shape):
        if self.custom_position_ids:
            input_shape = input_shape[0]
        if self.merge_mode in ("add", "mul", "zero"):
            return tuple(input_shape[:2]) + (self.output_dim,)
        last = None if input_shape[2] is None else input_shape[2] + self.output_dim
        return tuple(input_shape[:2]) + (last,)

    def get_config(self):
        return {
            **super().get_config(),
            "output_dim": self.output_dim,
            "merge_mode": self.merge_mode,
            "custom_position_ids": self.custom_position_ids,
        }


@keras.saving.register_keras_serializable(package="kerasformers")
class ScaleOffset(keras.layers.Layer):
    """``x * gamma + beta`` on the last axis.

    ``scale`` / ``offset``: True for a learned vector, a number for a constant, False/None for
    none. ``conditional=True`` takes ``[x, condition]`` and adds Dense projections of the
    condition (zero-initialised, optionally through a ``hidden_units`` Dense first) to gamma
    and beta, as in conditional LayerNorm.
    """

    def __init__(
        self,
        scale=True,
        offset=True,
        conditional=False,
        hidden_units=None,
        hidden_activation="linear",
        hidden_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset
        self.conditional = conditional
        self.hidden_units = hidden_units
        self.hidden_activation = keras.activations.get(hidden_activation)
        self.hidden_initializer = keras.initializers.get(hidden_initializer)

    def build(self, input_shape):
        if self.conditional:
            input_shape, condition_shape = input_shape
        dim = input_shape[-1]
        if self.offset is True:
            self.beta = self.add_weight(name="beta", shape=(dim,), initializer="zeros")
        if self.scale is True:
            self.gamma = self.add_weight(name="gamma", shape=(dim,), initializer="ones")
        if self.conditional:
            if self.hidden_units is not None:
                self.hidden_dense = keras.layers.Dense(
                    self.hidden_units,
                    activation=self.hidden_activation,
                    use_bias=False,
                    kernel_initializer=self.hidden_initializer,
                    name="hidden_dense",
                )
                self.hidden_dense.build(condition_shape)
                condition_shape = tuple(condition_shape[:-1]) + (self.hidden_units,)
            if self.offset is not False and self.offset is not None:
                self.beta_dense = keras.layers.Dense(
                    dim, use_bias=False, kernel_initializer="zeros", name="beta_dense"
                )
                self.beta_dense.build(condition_shape)
            if self.scale is not False and self.scale is not None:
                self.gamma_dense = keras.layers.Dense(
                    dim, use_bias=False, kernel_initializer="zeros", name="gamma_dense"
                )
                self.gamma_dense.build(condition_shape)

    def call(self, inputs):
        if self.conditional:
            inputs, condition = inputs
            if self.hidden_units is not None:
                condition = self.hidden_dense(condition)
            while len(condition.shape) < len(inputs.shape):  # (B, C) -> (B, 1, ..., C)
                condition = ops.expand_dims(condition, 1)
        if self.scale is not False and self.scale is not None:
            gamma = self.gamma if self.scale is True else self.scale
            if self.conditional:
                gamma = gamma + self.gamma_dense(condition)
            inputs = inputs * gamma
        if self.offset is not False and self.offset is not None:
            beta = self.beta if self.offset is True else self.offset
            if self.conditional:
                beta = beta + self.beta_dense(condition)
            inputs = inputs + beta
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape[0] if self.conditional else input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "offset": self.offset,
            "conditional": self.conditional,
            "hidden_units": self.hidden_units,
            "hidden_activation": keras.activations.serialize(self.hidden_activation),
            "hidden_initializer": keras.initializers.serialize(self.hidden_initializer),
        }


@keras.saving.register_keras_serializable(package="kerasformers")
class Concatenate1D(keras.layers.Layer):
    """Join sequences along the time axis (axis 1)."""

    def call(self, inputs):
        return ops.concatenate(list(inputs), axis=1)

    def compute_output_shape(self, input_shape):
        lengths = [shape[1] for shape in input_shape]
        total = None if any(n is None for n in lengths) else sum(lengths)
        return (input_shape[0][0], total) + tuple(input_shape[0][2:])


@keras.saving.register_keras_serializable(package="kerasformers")
class BatchSplit(keras.layers.Layer):
    """Split every input along the batch axis into ``parts`` pieces (an int: equal pieces of
    ``ceil(batch / parts)``, the last one shorter; a list: pieces in those proportions)."""

    def __init__(self, parts, **kwargs):
        super().__init__(**kwargs)
        self.parts = parts

    def _bounds(self, batch_size):
        if np.ndim(self.parts) > 0:
            cumulative = np.cumsum(self.parts).astype("float64")
            return [int(p * batch_size / cumulative[-1]) for p in cumulative]
        stride = -(-batch_size // self.parts)
        return [min(stride * (i + 1), batch_size) for i in range(self.parts)]

    def call(self, inputs):
        if isinstance(inputs, (list, tuple)):
            return [piece for tensor in inputs for piece in self.call(tensor)]
        bounds = self._bounds(ops.shape(inputs)[0])
        return [inputs[start:end] for start, end in zip([0] + bounds[:-1], bounds[:-1] + [None])]

    def compute_output_shape(self, input_shape):
        count = len(self.parts) if np.ndim(self.parts) > 0 else self.parts
        if isinstance(input_shape, list):
            return [tuple(shape) for shape in input_shape for _ in range(count)]
        return [tuple(input_shape)] * count

    def get_config(self):
        return {**super().get_config(), "parts": self.parts}


@keras.saving.register_keras_serializable(package="kerasformers")
class BatchConcat(keras.layers.Layer):
    """Join the pieces of a ``BatchSplit`` back along the batch axis."""

    def call(self, inputs):
        return ops.concatenate(list(inputs), axis=0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])
