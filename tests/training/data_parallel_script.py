"""Tiny BERT fine-tuning on 1 device vs keras.distribution.DataParallel over 4 host devices.

Run by test_data_parallel.py in a fresh process with
XLA_FLAGS=--xla_force_host_platform_device_count=4 (must be set before JAX starts).
Prints the max abs weight difference and the loss histories as JSON.
"""

import json
import sys

import jax
import keras
import numpy as np

from kerasformers.models import build_transformer_model


def classifier():
    bert = build_transformer_model(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        hidden_act="gelu",
        max_position_embeddings=16,
        type_vocab_size=2,
        with_pool=True,
    )
    model = keras.Model(bert.inputs, keras.layers.Dense(3, activation="softmax")(bert.output))
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    return model


def main():
    assert len(jax.devices()) == 4, jax.devices()
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 50, size=(32, 10)).astype("int32")
    tokens[::3, 7:] = 0  # some padding
    segments = np.zeros_like(tokens)
    labels = (tokens[:, 0] % 3).astype("int32")
    fit_args = dict(x=[tokens, segments], y=labels, batch_size=8, epochs=2, shuffle=False, verbose=0)

    keras.utils.set_random_seed(0)
    single = classifier()
    initial = single.get_weights()
    single_loss = single.fit(**fit_args).history["loss"]

    distribution = keras.distribution.DataParallel(devices=keras.distribution.list_devices())
    with distribution.scope():
        parallel = classifier()
        parallel.set_weights(initial)
        parallel_loss = parallel.fit(**fit_args).history["loss"]
        sharding = str(parallel.trainable_variables[0].value.sharding)

    diff = max(float(np.abs(a - b).max()) for a, b in zip(single.get_weights(), parallel.get_weights()))
    moved = max(float(np.abs(a - b).max()) for a, b in zip(single.get_weights(), initial))
    print(
        json.dumps(
            {
                "diff": diff,
                "moved": moved,
                "single_loss": single_loss,
                "parallel_loss": parallel_loss,
                "devices": len(jax.devices()),
                "sharding": sharding,
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
