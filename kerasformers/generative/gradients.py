"""Gradients on whichever backend is active, for checks that compare against another formulation.

Training never needs this (Keras's own ``train_step`` differentiates ``compute_loss``); tests and
experiments use it to look at the gradients a loss actually produces.
"""

import keras
import numpy as np
from keras import ops


def value_and_gradients(fn, tensors):
    """``fn(*tensors)`` -> scalar; returns ``(value, [d value / d tensor, ...])`` as NumPy arrays."""
    backend = keras.backend.backend()
    tensors = [ops.convert_to_tensor(t) for t in tensors]
    if backend == "jax":
        import jax

        value, grads = jax.value_and_grad(lambda ts: fn(*ts))(tensors)
    elif backend == "torch":
        import torch

        leaves = [t.detach().clone().requires_grad_(True) for t in tensors]
        value = fn(*leaves)
        grads = torch.autograd.grad(value, leaves, allow_unused=True)
        grads = [torch.zeros_like(leaf) if g is None else g for leaf, g in zip(leaves, grads)]
    elif backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            for t in tensors:
                tape.watch(t)
            value = fn(*tensors)
        grads = tape.gradient(value, tensors, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    else:
        raise NotImplementedError(f"gradients are not implemented for the {backend!r} backend")
    return float(ops.convert_to_numpy(value)), [np.asarray(ops.convert_to_numpy(g)) for g in grads]


def variable_gradients(fn, variables):
    """``fn()`` reads ``variables`` (e.g. a model's weights); returns ``(value, [d value / d variable])``."""
    variables = list(variables)

    def with_values(*values):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return fn()

    return value_and_gradients(with_values, [v.value for v in variables])
