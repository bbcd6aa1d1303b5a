"""Baseline for bench/encoder_forward.py: the same forward pass built from plain keras.layers.

MiniLM's shape (6 layers, hidden 384, 12 heads, intermediate 1536, vocab 30522), batch 16 × 128,
random weights. What a Keras 3 encoder costs on this machine without kerasformers:

    KERAS_BACKEND=jax python bench/bare_keras_encoder.py
"""

import time

import keras
import numpy as np
from keras import layers

VOCAB, HIDDEN, LAYERS, HEADS, INTERMEDIATE, SEQ, BATCH = 30522, 384, 6, 12, 1536, 128, 16


def bare_encoder():
    token_ids = keras.Input((None,), dtype="int32")
    x = layers.LayerNormalization(epsilon=1e-12)(layers.Embedding(VOCAB, HIDDEN)(token_ids))
    for _ in range(LAYERS):
        x = layers.LayerNormalization(epsilon=1e-12)(
            x + layers.MultiHeadAttention(HEADS, HIDDEN // HEADS)(x, x)
        )
        h = layers.Dense(HIDDEN)(layers.Dense(INTERMEDIATE, activation="gelu")(x))
        x = layers.LayerNormalization(epsilon=1e-12)(x + h)
    return keras.Model(token_ids, x)


def main(repeats=8):
    model = bare_encoder()
    batch = np.random.default_rng(0).integers(1000, 20000, (BATCH, SEQ)).astype("int32")
    for _ in range(3):
        model.predict_on_batch(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_on_batch(batch)
        times.append(time.perf_counter() - start)
    print(f"bare Keras 3 encoder ({keras.backend.backend()}): median {1000 * np.median(times):.1f} ms")


if __name__ == "__main__":
    main()
