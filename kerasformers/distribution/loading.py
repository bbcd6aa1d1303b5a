"""Load a checkpoint straight into sharded variables, one host array at a time.

``variable.assign(numpy_array)`` first turns the array into a tensor on the default device
(a full copy on device 0) and only then reshards it. For a model that does not fit on one
device that copy is the problem, so here every value is placed with
``keras.distribution.distribute_tensor`` (``jax.device_put`` to the variable's sharding):
each device receives only its own slice, straight from host memory.
"""

import contextlib

import keras

from ..models.weight_order import mapped_variables


def place(value, variable):
    """``value`` (host array) laid out like ``variable``; unchanged when it has no layout."""
    layout = getattr(variable, "_layout", None)
    value = value.astype(variable.dtype, copy=False)
    if layout is None:
        return value
    return keras.distribution.distribute_tensor(value, layout)


@contextlib.contextmanager
def sharded_loading(transformer):
    """Within this block ``transformer.load_weights_from_checkpoint`` places values shard by shard.

    The loader's own checks (names, shapes, ``ignore_invalid_weights``) are unchanged: only the
    step that turns a checkpoint value into the value assigned to its variable is wrapped.
    """
    targets = {}
    for layer_name, names in transformer.variable_mapping().items():
        layer = transformer.layers.get(transformer.prefixed(layer_name))
        if layer is not None:
            targets.update(zip(names, mapped_variables(layer)))
    read = transformer.load_variable

    def load_variable(reader, name):
        value = read(reader, name)
        variable = targets.get(name)
        if variable is None or tuple(value.shape) != tuple(variable.shape):
            return value  # the loader reports the problem, naming variable and shapes
        return place(value, variable)

    transformer.load_variable = load_variable
    try:
        yield transformer
    finally:
        del transformer.load_variable  # back to the class's method


def load_weights_sharded(transformer, checkpoint_path):
    """``transformer.load_weights_from_checkpoint`` without a full copy of any variable on one device."""
    with sharded_loading(transformer):
        transformer.load_weights_from_checkpoint(checkpoint_path)
