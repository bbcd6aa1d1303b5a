"""Initialisation from the geometric view: how the second moment of activations moves through layers.

In high dimension, independent random vectors are nearly orthogonal, so an n x n matrix with i.i.d.
N(0, 1/n) entries is nearly orthogonal and ``x W`` keeps ``||x||``: that is LeCun's 1/fan_in variance.
ReLU zeroes half the coordinates, halving the second moment, hence He's 2/fan_in; an exactly
orthogonal matrix keeps the norm exactly. These helpers measure it for any Keras initialiser or model.
"""

import keras
import numpy as np
from keras import ops


def _initializer(initializer, seed):
    initializer = keras.initializers.get(initializer)
    config = initializer.get_config()
    if "seed" in config:
        config["seed"] = seed
        initializer = initializer.__class__.from_config(config)
    return initializer


def orthogonality_error(initializer, dim, seed=0):
    """RMS entry of WᵀW - I for a dim x dim matrix drawn by ``initializer`` (0 = exactly orthogonal)."""
    w = ops.convert_to_numpy(_initializer(initializer, seed)((dim, dim))).astype(np.float64)
    return float(np.sqrt(np.mean((w.T @ w - np.eye(dim)) ** 2)))


def depth_variance_profile(initializer, width=256, depth=20, activation=None, num_samples=1000, seed=0):
    """Mean square of each layer's output for a bias-free Dense stack fed x ~ N(0, I) (mean square 1)."""
    activation = keras.activations.get(activation)
    rng = np.random.default_rng(seed)
    h = ops.convert_to_tensor(rng.standard_normal((num_samples, width)).astype("float32"))
    profile = []
    for layer in range(depth):
        kernel = _initializer(initializer, seed + layer + 1)((width, width))
        h = activation(ops.matmul(h, kernel))
        profile.append(float(ops.convert_to_numpy(ops.mean(ops.square(h)))))
    return profile


def layer_output_variances(model, x):
    """[{layer, mean_square, variance}] for every layer of a built Sequential or functional ``model``."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    probe = keras.Model(model.inputs, [layer.output for layer in layers])
    outputs = probe.predict(x, verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return [
        {"layer": layer.name, "mean_square": float(np.mean(np.square(out))), "variance": float(np.var(out))}
        for layer, out in zip(layers, outputs)
    ]
