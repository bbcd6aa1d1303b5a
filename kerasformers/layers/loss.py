"""The Loss-layer pattern: a loss computed inside the graph, from model tensors.

Useful when the loss needs tensors that are not model outputs (labels fed as
inputs, intermediate features, several heads). Subclass, implement
``compute_loss(inputs, mask)``, put the layer in the graph, then compile with
``loss=None`` and fit on inputs only.
"""

import keras


@keras.saving.register_keras_serializable(package="kerasformers")
class Loss(keras.layers.Layer):
    """Adds ``compute_loss(inputs)`` to the model losses and passes inputs on.

    output_axis: None returns all inputs unchanged; an int returns
    ``inputs[output_axis]``; a list returns those inputs.
    """

    def __init__(self, output_axis=None, **kwargs):
        super().__init__(**kwargs)
        self.output_axis = output_axis

    def call(self, inputs, mask=None):
        self.add_loss(self.compute_loss(inputs, mask))
        return self._select(inputs)

    def compute_loss(self, inputs, mask=None):
        raise NotImplementedError(f"{type(self).__name__} must implement compute_loss(inputs, mask)")

    def _select(self, values):
        if self.output_axis is None or values is None:
            return values
        if isinstance(self.output_axis, (list, tuple)):
            return [values[i] for i in self.output_axis]
        return values[self.output_axis]

    def compute_output_shape(self, input_shape):
        return self._select(input_shape)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        return self._select(mask)

    def get_config(self):
        return {**super().get_config(), "output_axis": self.output_axis}
