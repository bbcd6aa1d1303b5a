"""Keras 2's backend functions (bert4keras's ``K``) on Keras 3 ops.

bert4keras scripts call ``K.concatenate([a, b])`` (last axis), ``K.argmax(x)`` (last axis),
``K.cumsum(x)`` (axis 0), ``K.batch_dot(q, k, axes=[2, 2])`` ... with Keras 2's defaults, which
differ from NumPy's and so from ``keras.ops``. Each function here restores the Keras 2 contract;
names without such a difference fall through to ``keras.ops`` / ``keras.backend``. Graph-mode
machinery (``K.function``, ``K.gradients``, sessions) has no Keras 3 equivalent and raises an
error that names the replacement. Checked against Keras 2 itself by tests/compat/test_backend_k.py.
"""

import keras
import numpy as np
from keras import ops
from keras.src.backend.common import global_state
from keras.src.backend.common.symbolic_scope import in_symbolic_scope
from keras.src.utils.jax_utils import is_in_jax_tracing_scope


def _floatx(dtype):
    return dtype or keras.config.floatx()


def concatenate(tensors, axis=-1):
    return ops.concatenate(list(tensors), axis=axis)


def argmax(x, axis=-1):
    return ops.argmax(x, axis=axis)


def argmin(x, axis=-1):
    return ops.argmin(x, axis=axis)


def cumsum(x, axis=0):
    return ops.cumsum(x, axis=axis)


def prod(x, axis=None, keepdims=False):
    """On a static shape (``K.shape(x)[:2]``, Python ints under jit) stay a Python int, so the
    bert4keras idiom ``K.reshape(y, (K.prod(K.shape(y)[:2]), -1))`` still has a concrete shape."""
    if (
        axis is None
        and not keepdims
        and isinstance(x, (tuple, list))
        and all(isinstance(n, (int, np.integer)) for n in x)
    ):
        return int(np.prod(x))
    return ops.prod(x, axis=axis, keepdims=keepdims)


def cumprod(x, axis=0):
    return ops.cumprod(x, axis=axis)


def expand_dims(x, axis=-1):
    return ops.expand_dims(x, axis)


def batch_dot(x, y, axes=None):
    """Per-example dot product over ``axes`` (x's axis, y's axis); axis 0 is the batch.

    Default axes: x's last axis with y's second-to-last (its last if y is 2-D). The result keeps
    x's remaining axes then y's; a 1-D result becomes (batch, 1), as in Keras 2.
    """
    x_ndim, y_ndim = len(x.shape), len(y.shape)
    if x_ndim < 2 or y_ndim < 2:
        raise ValueError(f"K.batch_dot needs tensors of rank >= 2, got shapes {x.shape} and {y.shape}")
    if axes is None:
        axes = (x_ndim - 1, y_ndim - 2 if y_ndim > 2 else y_ndim - 1)
    elif isinstance(axes, int):
        axes = (axes, axes)
    axis_x, axis_y = axes[0] % x_ndim, axes[1] % y_ndim
    if axis_x == 0 or axis_y == 0:
        raise ValueError(f"K.batch_dot cannot contract the batch axis (axes={axes})")
    x_free, y_free = iter("abcdefghij"), iter("klmnopqrst")
    x_sub = "".join("z" if i == 0 else "y" if i == axis_x else next(x_free) for i in range(x_ndim))
    y_sub = "".join("z" if i == 0 else "y" if i == axis_y else next(y_free) for i in range(y_ndim))
    out_sub = "z" + x_sub[1:].replace("y", "") + y_sub[1:].replace("y", "")
    result = ops.einsum(f"{x_sub},{y_sub}->{out_sub}", x, y)
    return ops.expand_dims(result, -1) if len(out_sub) == 1 else result


def dot(x, y):
    """x's last axis against y's second-to-last (y's only axis if 1-D), like ``np.dot``."""
    if len(y.shape) < 2 or len(x.shape) < 2:
        return ops.tensordot(x, y, axes=1)
    return ops.tensordot(x, y, axes=[[len(x.shape) - 1], [len(y.shape) - 2]])


def flatten(x):
    return ops.reshape(x, (-1,))


def batch_flatten(x):
    return ops.reshape(x, (ops.shape(x)[0], -1))


def repeat_elements(x, rep, axis):
    return ops.repeat(x, rep, axis=axis)


def permute_dimensions(x, pattern):
    return ops.transpose(x, pattern)


def temporal_padding(x, padding=(1, 1)):
    return ops.pad(x, [[0, 0], list(padding), [0, 0]])


def gather(reference, indices):
    return ops.take(reference, indices, axis=0)


def arange(start, stop=None, step=1, dtype="int32"):
    return ops.arange(start, stop, step, dtype=dtype)


def switch(condition, then_expression, else_expression):
    """``where`` that accepts callables and a condition of lower rank (broadcast on the right)."""
    then_value = then_expression() if callable(then_expression) else then_expression
    else_value = else_expression() if callable(else_expression) else else_expression
    condition = ops.convert_to_tensor(condition)
    while len(condition.shape) < len(ops.shape(then_value)):
        condition = ops.expand_dims(condition, -1)
    return ops.where(condition, then_value, else_value)


def l2_normalize(x, axis=None):
    """Over every axis by default (Keras 2), not the last one (``keras.ops.normalize``)."""
    squares = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return x * ops.rsqrt(ops.maximum(squares, 1e-12))


def relu(x, alpha=0.0, max_value=None, threshold=0.0):
    x = ops.convert_to_tensor(x)
    out = ops.where(x > threshold, x, alpha * (x - threshold))
    return out if max_value is None else ops.minimum(out, max_value)


def hard_sigmoid(x):
    """Keras 2's slope 0.2 (``keras.ops.hard_sigmoid`` uses 1/6)."""
    return ops.clip(0.2 * x + 0.5, 0.0, 1.0)


def pow(x, a):
    return ops.power(x, a)


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    return ops.categorical_crossentropy(target, output, from_logits=from_logits, axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    return ops.sparse_categorical_crossentropy(
        ops.cast(target, "int32"), output, from_logits=from_logits, axis=axis
    )


def binary_crossentropy(target, output, from_logits=False):
    return ops.binary_crossentropy(target, output, from_logits=from_logits)


def dtype(x):
    return keras.backend.standardize_dtype(x.dtype)


def ndim(x):
    return len(x.shape)


def int_shape(x):
    return tuple(x.shape)


def constant(value, dtype=None, shape=None, name=None):
    if shape is not None:
        return ops.full(shape, value, dtype=_floatx(dtype))
    return ops.convert_to_tensor(np.asarray(value), dtype=_floatx(dtype))


def variable(value, dtype=None, name=None, constraint=None):
    return keras.Variable(value, dtype=_floatx(dtype), name=name, constraint=constraint)


def zeros(shape, dtype=None, name=None):
    return ops.zeros(shape, dtype=_floatx(dtype))


def ones(shape, dtype=None, name=None):
    return ops.ones(shape, dtype=_floatx(dtype))


def eye(size, dtype=None, name=None):
    return ops.eye(size, dtype=_floatx(dtype))


def _calling_layer():
    """The innermost Layer whose ``__call__`` is running (Keras 3 stacks them as name scopes)."""
    for scope in reversed(global_state.get_global_attribute("name_scope_stack") or []):
        if isinstance(scope.caller, keras.layers.Layer):
            return scope.caller
    return None


def _seed(seed):
    """Keras 2 drew unseeded random numbers from a stateful op: new numbers at every training step.

    On JAX, Keras 3 refuses unseeded random ops while tracing ("[JAX RNG] ... only use seeded
    random ops"). Inside a layer's ``call`` the draw then comes from a ``SeedGenerator`` attached
    to that layer on its first, symbolic call (building a functional model), so its state is a
    variable of the model that ``fit`` / ``predict`` thread from step to step.
    """
    if seed is not None or keras.backend.backend() != "jax" or not is_in_jax_tracing_scope():
        return seed
    layer = _calling_layer()
    if layer is None:
        return seed  # Keras's own "[JAX RNG]" error follows
    generator = layer.__dict__.get("_keras2_seed_generator")
    if generator is None:
        if not in_symbolic_scope():
            raise ValueError(
                f"K.random_* without a seed in the call() of layer {layer.name!r}, first called "
                "inside a JAX trace: call the layer on keras.Input tensors first (a functional "
                "model), or pass seed=keras.random.SeedGenerator(...) created in the layer's __init__"
            )
        locked = layer._tracker.locked
        layer._tracker.unlock()  # the layer is built; Keras's own quantize() adds state the same way
        try:
            layer._keras2_seed_generator = generator = keras.random.SeedGenerator(
                name="keras2_seed_generator"
            )
        finally:
            if locked:
                layer._tracker.lock()
    return generator


def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return keras.random.normal(shape, mean=mean, stddev=stddev, dtype=_floatx(dtype), seed=_seed(seed))


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    return keras.random.uniform(shape, minval=minval, maxval=maxval, dtype=_floatx(dtype), seed=_seed(seed))


def random_bernoulli(shape, p=0.0, dtype=None, seed=None):
    """1 with probability ``p``, else 0 (Keras 2: ``uniform <= p``)."""
    dtype = _floatx(dtype)
    return ops.cast(random_uniform(shape, dtype=dtype, seed=seed) <= p, dtype)


random_binomial = random_bernoulli  # Keras 2's older name for the same draw


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return keras.random.truncated_normal(
        shape, mean=mean, stddev=stddev, dtype=_floatx(dtype), seed=_seed(seed)
    )


def dropout(x, level, noise_shape=None, seed=None):
    return keras.random.dropout(x, level, noise_shape=noise_shape, seed=_seed(seed))


def bias_add(x, bias, data_format=None):
    return x + bias


def reverse(x, axes):
    return ops.flip(x, axis=axes)


def map_fn(fn, elems, name=None, dtype=None):
    return ops.map(fn, elems)


def count_params(x):
    return int(np.prod(x.shape))


def update(x, new_x):
    x.assign(new_x)
    return x


def update_add(x, increment):
    x.assign_add(increment)
    return x


def update_sub(x, decrement):
    x.assign_sub(decrement)
    return x


def get_value(x):
    return ops.convert_to_numpy(x)


def set_value(x, value):
    x.assign(np.asarray(value))


def batch_get_value(tensors):
    return [ops.convert_to_numpy(t) for t in tensors]


def batch_set_value(tuples):
    for variable_, value in tuples:
        variable_.assign(np.asarray(value))


def in_train_phase(x, alt, training=None):
    """``x`` when training, else ``alt``. Keras 3 has no global learning phase: without
    ``training``, inside a layer's ``call`` the phase is the one Keras 3 passes down the calls
    (True under ``fit``, False under ``predict`` / ``evaluate``; unset counts as Keras 2's default 0)."""
    if training is None:
        context = global_state.get_global_attribute("current_call_ctx")
        if context is None:
            raise ValueError(
                "K.in_train_phase outside a layer's call() needs training=True/False on Keras 3 "
                "(no global learning phase)"
            )
        training = bool(context.get_value("training"))
    chosen = x if training else alt
    return chosen() if callable(chosen) else chosen


def in_test_phase(x, alt, training=None):
    return in_train_phase(alt, x, training)


KERAS2 = {
    name: value
    for name, value in dict(globals()).items()
    if callable(value) and not name.startswith("_") and getattr(value, "__module__", None) == __name__
}
KERAS2.update(
    eval=get_value,
    floatx=keras.config.floatx,
    epsilon=keras.config.epsilon,
    name_scope=keras.name_scope,
    clear_session=keras.utils.clear_session,
)

# Graph-mode (TF1 session) names: no Keras 3 equivalent. The message says what to use instead.
GRAPH_ONLY = {
    "function": "call the model or a keras.Model built on the tensors you want",
    "gradients": "use kerasformers.training (adversarial_training, gradient_penalty, "
    "virtual_adversarial_training, integrated_gradients) or the backend's own autodiff",
    "placeholder": "use keras.Input",
    "learning_phase": "pass `training` to call()",
    "set_learning_phase": "pass `training` to call()",
    "get_session": "Keras 3 has no session",
    "set_session": "Keras 3 has no session",
    "rnn": "use keras.layers.RNN or ops.scan",
}
