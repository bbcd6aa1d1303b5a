"""Time and peak memory of the sparse attention layers vs dense attention, side by side.

Dense = the same projections with a full n×n score matrix and the equivalent explicit mask (what
you would write without the reshaping trick). Peak memory is XLA's temporary-buffer size of the
compiled forward pass (`compiled.memory_analysis()`), so it is exact and needs no allocation;
time is the median of a few jitted runs. Run on JAX:

    KERAS_BACKEND=jax python bench/sparse_attention.py [--lengths 512 1024 ...] [--rate 8] [--neighbors 64]
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from kerasformers.layers.sparse_attention import (  # noqa: E402
    AtrousSelfAttention,
    LocalSelfAttention,
    SparseSelfAttention,
)


def dense_attention(layer, pattern):
    """A forward function using the layer's own weights but a dense masked score matrix."""
    h, ks, hs = layer.heads, layer.key_size, layer.head_size

    def forward(x):
        n = x.shape[1]
        q = ops.reshape(layer.q_dense(x), (-1, n, h, ks)) / np.sqrt(ks)
        k = ops.reshape(layer.k_dense(x), (-1, n, h, ks))
        v = ops.reshape(layer.v_dense(x), (-1, n, h, hs))
        scores = ops.einsum("bihd,bjhd->bhij", q, k)
        scores = ops.where(pattern(n), scores, -1e9)
        o = ops.einsum("bhij,bjhd->bihd", ops.softmax(scores, axis=-1), v)
        return layer.o_dense(ops.reshape(o, (-1, n, h * hs)))

    return forward


def offsets(n):
    return np.arange(n)[None, :] - np.arange(n)[:, None]


def measure(fn, x, repeats):
    compiled = jax.jit(fn).lower(x).compile()
    peak = compiled.memory_analysis().temp_size_in_bytes
    compiled(x).block_until_ready()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        compiled(x).block_until_ready()
        times.append(time.perf_counter() - start)
    return statistics.median(times), peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192])
    parser.add_argument("--rate", type=int, default=8)
    parser.add_argument("--neighbors", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--head-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if keras.backend.backend() != "jax":
        raise SystemExit("bench/sparse_attention.py measures XLA memory: run with KERAS_BACKEND=jax")

    hidden = args.heads * args.head_size
    r, w = args.rate, args.neighbors
    layers = {
        f"atrous(rate={r})": (
            AtrousSelfAttention(args.heads, args.head_size, rate=r),
            lambda n: offsets(n) % r == 0,
        ),
        f"local(neighbors={w})": (
            LocalSelfAttention(args.heads, args.head_size, neighbors=w),
            lambda n: np.abs(offsets(n)) <= w,
        ),
        f"sparse(rate={r})": (
            SparseSelfAttention(args.heads, args.head_size, rate=r),
            lambda n: (offsets(n) % r == 0) | (np.abs(offsets(n)) < r),
        ),
    }
    print(f"backend=jax devices={jax.devices()} batch=1 heads={args.heads} head_size={args.head_size}")
    print(
        f"{'layer':<22}{'n':>6}{'dense ms':>11}{'sparse ms':>11}{'speedup':>9}"
        f"{'dense MiB':>11}{'sparse MiB':>12}{'mem ratio':>11}"
    )
    rng = np.random.default_rng(0)
    for n in args.lengths:
        x = ops.convert_to_tensor(rng.normal(size=(1, n, hidden)).astype("float32"))
        for name, (layer, pattern) in layers.items():
            layer.build((1, None, hidden))
            dense_t, dense_m = measure(dense_attention(layer, pattern), x, args.repeats)
            sparse_t, sparse_m = measure(layer, x, args.repeats)
            print(
                f"{name:<22}{n:>6}{dense_t * 1e3:>11.1f}{sparse_t * 1e3:>11.1f}"
                f"{dense_t / sparse_t:>8.1f}x{dense_m / 2**20:>11.1f}{sparse_m / 2**20:>12.1f}"
                f"{dense_m / max(sparse_m, 1):>10.1f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
