"""Sinusoidal tables and the rotary position embedding (RoPE, RoFormer).

Layout convention (the one RoFormer/bert4keras checkpoints were trained with): for a
head of size d, pair i is the two adjacent features (x[2i], x[2i+1]) rotated by the
angle position * 10000^(-2i/d). Written without reshapes so it works on symbolic
tensors whose batch or length is unknown.
"""

import numpy as np
from keras import ops


def sinusoidal_embeddings(position_ids, dim, base=10000.0):
    """(..., seq) positions → (..., seq, dim) laid out [sin θ0, cos θ0, sin θ1, cos θ1, ...]."""
    if dim % 2:
        raise ValueError(f"sinusoidal_embeddings needs an even dim, got {dim}")
    inv_freq = np.power(base, -np.arange(dim // 2, dtype="float64") * 2.0 / dim)
    inv_freq = np.repeat(inv_freq, 2).astype("float32")  # (dim,): θi for both slots of pair i
    angles = ops.expand_dims(ops.cast(position_ids, "float32"), -1) * ops.convert_to_tensor(inv_freq)
    is_sin_slot = np.arange(dim) % 2 == 0
    return ops.where(is_sin_slot, ops.sin(angles), ops.cos(angles))


def apply_rotary(sinusoidal, x):
    """Rotate x (..., seq, dim) by a sinusoidal table broadcastable to it.

    x_rot[2i]   = x[2i] cos θi - x[2i+1] sin θi
    x_rot[2i+1] = x[2i+1] cos θi + x[2i] sin θi
    """
    x = ops.convert_to_tensor(x)
    dim = x.shape[-1]
    sinusoidal = ops.cast(sinusoidal, x.dtype)
    sin = ops.repeat(sinusoidal[..., 0::2], 2, axis=-1)
    cos = ops.repeat(sinusoidal[..., 1::2], 2, axis=-1)
    swap_pairs = np.arange(dim) ^ 1  # [1, 0, 3, 2, ...]
    signs = np.where(np.arange(dim) % 2 == 0, -1.0, 1.0).astype("float32")
    rotated_half = ops.take(x, swap_pairs, axis=-1) * ops.cast(
        ops.convert_to_tensor(signs), x.dtype
    )  # [-x1, x0, -x3, x2, ...]
    return x * cos + rotated_half * sin
