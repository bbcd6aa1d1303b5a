"""bert4keras's ``backend`` names, written on Keras 3 ops.

``K`` resolves a name in ``keras.ops`` first and then in ``keras.backend`` / ``keras.config``,
so old ``K.mean``, ``K.int_shape``, ``K.epsilon`` calls keep working on every backend.
"""

import os

import keras
import numpy as np
from keras import ops

from .keras2_backend import GRAPH_ONLY, KERAS2
from .layers import activations
from .layers.rotary import apply_rotary
from .layers.rotary import sinusoidal_embeddings as _sinusoidal_embeddings
from .losses import multilabel_categorical_crossentropy, sparse_multilabel_categorical_crossentropy
from .optimizers.schedules import piecewise_linear


class _KerasBackendCompat:
    """``K.name``: Keras 2's function when its contract differs from Keras 3's, else ``keras.ops``,
    ``keras.backend``, ``keras.config`` (in that order)."""

    _sources = (ops, keras.backend, keras.config)

    def __getattr__(self, name):
        if name in _BERT4KERAS_PATCHES:  # bert4keras replaced these on Keras 2's K too
            return globals()[name]
        if name in KERAS2:
            return KERAS2[name]
        if name in GRAPH_ONLY:
            raise AttributeError(
                f"K.{name} is TensorFlow-1 graph machinery with no Keras 3 equivalent: {GRAPH_ONLY[name]}"
            )
        for source in self._sources:
            if hasattr(source, name):
                return getattr(source, name)
        raise AttributeError(f"K.{name} has no Keras 3 equivalent; use keras.ops directly")

    def __dir__(self):
        names = set(KERAS2)
        for source in self._sources:
            names.update(n for n in dir(source) if not n.startswith("_"))
        return sorted(names)


_BERT4KERAS_PATCHES = ("reshape", "flatten", "where", "symbolic")
K = _KerasBackendCompat()
is_tf_keras = False
do_recompute = os.environ.get("RECOMPUTE", "0").lower() in ("1", "true", "yes", "on")
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


def align(tensor, axes, ndim=None):
    """Batched expand_dims: the tensor's i-th axis becomes axis ``axes[i]`` of an ``ndim``-D result."""
    if len(axes) != len(tensor.shape):
        raise ValueError(f"align: {len(axes)} axes given for a tensor of rank {len(tensor.shape)}")
    ndim = ndim or max(axes) + 1
    kept = sorted(a % ndim for a in axes)
    for position in range(ndim):
        if position not in kept:
            tensor = ops.expand_dims(tensor, position)
    return tensor


def sequence_masking(x, mask=None, value=0, axis=None, bias=None, return_mask=False):
    """Set positions where ``mask`` (B, T) is 0 to ``value`` ('inf' / '-inf' allowed).

    ``axis`` is the sequence axis of ``x`` (default 1; a list masks several axes at once).
    ``bias``: a boolean extra mask (ANDed in) or an additive bias applied where not masked.
    ``return_mask=True`` also returns the mask broadcast to ``x``'s rank.
    """
    if value in ("inf", "-inf"):
        value = infinity() if value == "inf" else -infinity()
    if mask is None and bias is None:
        return (x, mask) if return_mask else x
    bias_is_mask = bias is not None and keras.backend.standardize_dtype(bias.dtype) == "bool"
    if mask is None:
        if bias_is_mask:
            mask = bias
            x = ops.where(mask, x, ops.cast(value, x.dtype))
        else:
            x = x + bias
    else:
        ndim = len(x.shape)
        axes = [1] if axis is None else list(axis) if isinstance(axis, (list, tuple)) else [axis]
        mask = ops.cast(mask, "bool")
        full_mask = None
        for ax in axes:
            aligned = align(mask, [0, ax % ndim], ndim)
            full_mask = aligned if full_mask is None else ops.logical_and(full_mask, aligned)
        mask = full_mask
        if bias_is_mask:
            mask = ops.logical_and(mask, bias)
        elif bias is not None:
            x = x + bias
        x = ops.where(mask, x, ops.cast(value, x.dtype))
    return (x, mask) if return_mask else x


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


def sinusoidal_embeddings(pos, dim, base=10000):
    """(..., seq) positions -> (..., seq, dim) laid out [sin θ0, cos θ0, sin θ1, cos θ1, ...]."""
    return _sinusoidal_embeddings(pos, dim, base)


def apply_rotary_position_embeddings(sinusoidal, *tensors):
    """Rotate each tensor (..., T, D) by the sinusoidal table (..., T, D)."""
    rotated = [apply_rotary(sinusoidal, t) for t in tensors]
    return rotated[0] if len(rotated) == 1 else rotated


def symbolic(f):
    """bert4keras decorator for graph-only functions; Keras 3 needs none."""
    return f


def recompute_grad(call):
    """Decorate a layer's ``call`` to recompute its activations in the backward pass (saves
    memory), when the environment variable ``RECOMPUTE=1`` is set, as in bert4keras."""
    if not do_recompute:
        return call

    def inner(self, inputs, **kwargs):
        return keras.remat(lambda x: call(self, x, **kwargs))(inputs)

    return inner


def reshape(tensor, *args):
    """``reshape(x, shape)``, or ``reshape(x, shape1, axis1, shape2, axis2, ...)`` to replace single
    axes by several (one -1 per new shape is inferred)."""
    if len(args) == 1:
        return ops.reshape(tensor, args[0])
    if len(args) % 2:
        raise ValueError("reshape(x, shape1, axis1, shape2, axis2, ...) needs shape/axis pairs")
    shape = [[size] for size in ops.shape(tensor)]
    for new_shape, axis in zip(args[::2], args[1::2]):
        new_shape = list(new_shape)
        if new_shape.count(-1) == 1:
            known = int(np.prod([n for n in new_shape if n != -1]))
            new_shape[new_shape.index(-1)] = shape[axis][0] // known
        shape[axis] = new_shape
    return ops.reshape(tensor, [size for group in shape for size in group])


def flatten(tensor, start=None, end=None):
    """Merge axes ``start`` .. ``end - 1`` into one (all of them by default)."""
    start, end = start or 0, end or len(tensor.shape)
    shape = list(ops.shape(tensor))
    merged = int(np.prod(shape[start:end]))
    return ops.reshape(tensor, shape[:start] + [merged] + shape[end:])


def dtype(x):
    """The dtype name, or None for Python numbers (bert4keras's tolerant ``K.dtype``)."""
    try:
        return keras.backend.standardize_dtype(x.dtype)
    except AttributeError:
        return None


def where(cond, x, y):
    """``ops.where`` with a non-boolean condition cast to bool (broadcasting as usual)."""
    if dtype(cond) != "bool":
        cond = ops.cast(cond, "bool")
    return ops.where(cond, x, y)


def pool1d(x, pool_size, strides=1, padding="valid", data_format=None, pool_mode="max"):
    """Max or average pooling over the time axis of (batch, time, channels)."""
    pool = ops.max_pool if pool_mode == "max" else ops.average_pool
    return pool(x, pool_size, strides, padding, data_format)


def divisible_temporal_padding(x, n):
    """Right-pad the time axis with zeros to a multiple of ``n``."""
    padding = -ops.shape(x)[1] % n
    return ops.pad(x, [[0, 0], [0, padding]] + [[0, 0]] * (len(x.shape) - 2))


def leaky_relu(x, alpha=0.2):
    return ops.leaky_relu(x, negative_slope=alpha)


def attention_normalize(a, mask=None, axis=-1, method="softmax", bias=None):
    """Attention weights from scores: 'softmax', 'squared_relu' (relu(a)^2 / length) or
    'softmax_plus' (softmax of a * log(length) / log(512), length >= 16)."""
    a, mask = sequence_masking(a, mask, -np.inf, axis, bias, True)
    if method == "softmax":
        return ops.softmax(a, axis=axis)
    if mask is None:
        length = ops.cast(ops.shape(a)[-1], a.dtype)
    else:
        length = ops.sum(ops.cast(mask, a.dtype), axis=axis, keepdims=True)
    if method == "squared_relu":
        return ops.square(ops.relu(a)) / length
    if method == "softmax_plus":
        return ops.softmax(a * ops.log(ops.maximum(length, 16.0)) / np.log(512), axis=axis)
    return a


class Sinusoidal(keras.initializers.Initializer):
    """Initialise a (positions, dim) table with sin/cos position vectors."""

    def __call__(self, shape, dtype=None):
        size, dim = shape
        return sinusoidal_embeddings(ops.arange(size, dtype="float32"), dim)


def get_available_gpus():
    """Names of the visible GPUs (empty on CPU-only machines)."""
    try:
        return list(keras.distribution.list_devices("gpu"))
    except (RuntimeError, ValueError):
        return []


__all__ = [
    "K",
    "Sinusoidal",
    "align",
    "apply_rotary_position_embeddings",
    "attention_normalize",
    "batch_gather",
    "divisible_temporal_padding",
    "dtype",
    "flatten",
    "gelu_erf",
    "gelu_tanh",
    "get_available_gpus",
    "infinity",
    "is_tf_keras",
    "keras",
    "leaky_relu",
    "multilabel_categorical_crossentropy",
    "ops",
    "piecewise_linear",
    "pool1d",
    "recompute_grad",
    "reshape",
    "root_mean_square",
    "search_layer",
    "sequence_masking",
    "set_gelu",
    "sinusoidal_embeddings",
    "sparse_multilabel_categorical_crossentropy",
    "swish",
    "symbolic",
    "where",
]
