"""bert4keras's ``backend`` names, written on Keras 3 ops.

``K`` resolves a name in ``keras.ops`` first and then in ``keras.backend`` / ``keras.config``,
so old ``K.mean``, ``K.int_shape``, ``K.epsilon`` calls keep working on every backend.
"""
import keras
from keras import ops

from .layers import activations
from .layers.rotary import apply_rotary, sinusoidal_embeddings
from .losses import multilabel_categorical_crossentropy, sparse_multilabel_categorical_crossentropy
from .optimizers.schedules import piecewise_linear


class _KerasBackendCompat:
    _sources = (ops, keras.backend, keras.config)
    _extras = {
        "int_shape": lambda x: tuple(x.shape),
        "floatx": keras.config.floatx,
        "epsilon": keras.config.epsilon,
        "batch_dot": lambda x, y, axes=None: ops.einsum("...ij,...jk->...ik", x, y),
        "eval": ops.convert_to_numpy,
        "get_value": ops.convert_to_numpy,
    }

    def __getattr__(self, name):
        if name in self._extras:
            return self._extras[name]
        for source in self._sources:
            if hasattr(source, name):
                return getattr(source, name)
        raise AttributeError(f"K.{name} has no Keras 3 equivalent; use keras.ops directly")


K = _KerasBackendCompat()
is_tf_keras = False
recompute_grad = keras.remat
gelu_erf = activations._gelu_erf
gelu_tanh = activations._gelu_tanh
swish = keras.activations.silu


def set_gelu(version):
    """Choose what the activation name 'gelu' means for models built afterwards ('erf' | 'tanh')."""
    version = version.lower()
    if version not in ("erf", "tanh"):
        raise ValueError(f"set_gelu takes 'erf' or 'tanh', got {version!r}")
    activations._ALIASES["gelu"] = gelu_erf if version == "erf" else gelu_tanh


def infinity():
    return 1e12


def sequence_masking(x, mask, value=0, axis=None):
    """Set positions where ``mask`` (B, T) is 0 to ``value`` ('inf' / '-inf' allowed).

    ``axis`` is the sequence axis of ``x`` (default 1); the mask is broadcast over the rest.
    """
    if mask is None:
        return x
    if value in ("inf", "-inf"):
        value = infinity() if value == "inf" else -infinity()
    axis = 1 if axis is None else axis
    axis = axis if axis >= 0 else len(x.shape) + axis
    mask = ops.cast(mask, "bool")
    for _ in range(axis - 1):
        mask = ops.expand_dims(mask, 1)
    while len(mask.shape) < len(x.shape):
        mask = ops.expand_dims(mask, -1)
    return ops.where(mask, x, ops.cast(value, x.dtype))


def batch_gather(params, indices):
    """Per-example gather along axis 1: params (B, T, ...), indices (B, K) → (B, K, ...)."""
    indices = ops.cast(indices, "int32")
    while len(indices.shape) < len(params.shape):
        indices = ops.expand_dims(indices, -1)
    indices = ops.broadcast_to(indices, tuple(indices.shape[:2]) + tuple(params.shape[2:]))
    return ops.take_along_axis(params, indices, axis=1)


def root_mean_square(x, axis=None, keepdims=False):
    return ops.sqrt(ops.mean(ops.square(x), axis=axis, keepdims=keepdims))


def search_layer(inputs, name, exclude_from=None):
    """Walk back from a symbolic tensor to the layer called ``name`` (None if absent)."""
    seen = set(exclude_from or ())
    stack = [inputs]
    while stack:
        tensor = stack.pop()
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            continue
        layer = history.operation
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if layer.name == name:
            return layer
        node = layer._inbound_nodes[history.node_index]
        stack.extend(node.input_tensors)
    return None


def apply_rotary_position_embeddings(sinusoidal, *tensors):
    """Rotate each tensor (..., T, D) by the sinusoidal table (..., T, D)."""
    rotated = [apply_rotary(sinusoidal, t) for t in tensors]
    return rotated[0] if len(rotated) == 1 else rotated


def symbolic(f):
    """bert4keras decorator for graph-only functions; Keras 3 needs none."""
    return f


__all__ = ["K", "keras", "ops", "is_tf_keras", "recompute_grad", "gelu_erf", "gelu_tanh", "swish",
           "set_gelu", "infinity", "sequence_masking", "batch_gather", "root_mean_square",
           "piecewise_linear", "search_layer", "apply_rotary_position_embeddings",
           "sinusoidal_embeddings", "symbolic", "multilabel_categorical_crossentropy",
           "sparse_multilabel_categorical_crossentropy"]
