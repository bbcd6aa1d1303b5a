"""Activation names as they appear in Google, bert4keras and HuggingFace configs."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasformers")
def _gelu_erf(x):
    if keras.backend.backend() == "jax":
        # jax.nn.gelu goes through erfc, which XLA's CPU backend evaluates with exp and a
        # division; erf is one rational polynomial: the same values (to 5e-7), about half the
        # time forward and in the backward pass. Other backends have a fused kernel.
        return 0.5 * x * (1.0 + ops.erf(x * 0.7071067811865476))
    return keras.activations.gelu(x, approximate=False)


@keras.saving.register_keras_serializable(package="kerasformers")
def _gelu_tanh(x):
    return keras.activations.gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package="kerasformers")
def _squared_relu(x):
    return ops.square(ops.relu(x))


_ALIASES = {
    "gelu": _gelu_erf,
    "gelu_erf": _gelu_erf,
    "gelu_new": _gelu_tanh,
    "gelu_tanh": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "gelu_fast": _gelu_tanh,
    "swish": keras.activations.silu,
    "silu": keras.activations.silu,
    "relu2": _squared_relu,
    "squared_relu": _squared_relu,
}


def get_activation(name):
    """Resolve a config activation name (or a callable) to a function."""
    if callable(name):
        return name
    if name is None:
        return keras.activations.linear
    key = str(name).lower()
    if key in _ALIASES:
        return _ALIASES[key]
    try:
        return keras.activations.get(key)
    except ValueError as error:
        raise ValueError(f"Unknown activation {name!r} (known aliases: {sorted(_ALIASES)})") from error
