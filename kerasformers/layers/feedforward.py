"""Position-wise feed-forward block, plain or gated (T5.1.1's gated-GELU)."""

import keras

from .activations import get_activation
from .core import fresh_initializer, quantized_sublayer_policies, sublayer_dtype
from .dense import Dense


@keras.saving.register_keras_serializable(package="kerasformers")
class FeedForward(keras.layers.Layer):
    """x → o_dense(act0(i0_dense(x)) [* act1(i1_dense(x)) * ...]).

    A list of activations makes one input projection per activation, multiplied
    together (GLU family); a single activation is the classic two-layer FFN.
    """

    def __init__(
        self,
        units,
        activation="relu",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        quantized_sublayers=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._sublayer_policies = quantized_sublayers or {}
        self.units = units
        self.activation = activation if isinstance(activation, (list, tuple)) else [activation]
        self.activation = list(self.activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.input_denses = [
            Dense(
                units,
                use_bias=use_bias,
                kernel_initializer=fresh_initializer(self.kernel_initializer),
                name=f"i{i}_dense",
                dtype=sublayer_dtype(self._sublayer_policies, f"i{i}_dense"),
            )
            for i in range(len(self.activation))
        ]
        self._activations = [get_activation(a) for a in self.activation]
        self.supports_masking = True

    @property
    def weight_order(self):
        """Checkpoint order of the weights, by path (see kerasformers.models.weight_order)."""
        denses = [dense.name for dense in self.input_denses] + ["o_dense"]
        return tuple(f"{dense}/{kind}" for dense in denses for kind in ("kernel", "bias"))

    def build(self, input_shape):
        for dense in self.input_denses:
            dense.build(input_shape)
        self.o_dense = Dense(
            input_shape[-1],
            use_bias=self.use_bias,
            kernel_initializer=fresh_initializer(self.kernel_initializer),
            name="o_dense",
            dtype=sublayer_dtype(self._sublayer_policies, "o_dense"),
        )
        self.o_dense.build(tuple(input_shape[:-1]) + (self.units,))

    def call(self, x):
        hidden = self._activations[0](self.input_denses[0](x))
        for dense, activation in zip(self.input_denses[1:], self._activations[1:]):
            hidden = hidden * activation(dense(x))
        return self.o_dense(hidden)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        activation = self.activation if len(self.activation) > 1 else self.activation[0]
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activation,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "quantized_sublayers": quantized_sublayer_policies(self._flatten_layers(include_self=False)),
        }
