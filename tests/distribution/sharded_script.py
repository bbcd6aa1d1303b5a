"""Model-parallel runs on 8 simulated CPU devices compared with the single-device run.

Run by test_model_parallel.py in a fresh process with JAX_NUM_CPU_DEVICES=8 and
XLA_FLAGS=--xla_force_host_platform_device_count=8 (set before JAX starts). Prints one JSON
line with, per mesh: forward and one-SGD-step differences, how checkpoint values reached the
devices, shard shapes and per-device parameter bytes; plus every family's forward on a 2x4
mesh and greedy cached generation of GPT-2 under sharding.
"""

import json
import os
import sys
import tempfile
import time

import jax
import keras
import numpy as np

from kerasformers.distribution import (
    device_mesh,
    load_weights_sharded,
    model_parallel,
    parameter_bytes_per_device,
)
from kerasformers.generation import generate
from kerasformers.models import build_transformer_model

BERT = {
    "vocab_size": 50,
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 8,
    "intermediate_size": 128,
    "max_position": 32,
    "segment_vocab_size": 2,
    "with_pool": True,
    "with_mlm": True,
}
TINY = {
    "vocab_size": 48,
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "max_position": 32,
}
FAMILIES = {
    "bert": {"segment_vocab_size": 2, "with_pool": True, "with_mlm": True},
    "albert": {"segment_vocab_size": 2, "embedding_size": 16},
    "nezha": {"segment_vocab_size": 2},
    "electra": {"segment_vocab_size": 2, "with_discriminator": True},
    "roformer": {"segment_vocab_size": 2},
    "roformer_v2": {"segment_vocab_size": 2},
    "gau_alpha": {"segment_vocab_size": 2, "attention_key_size": 16},
    "gpt": {"segment_vocab_size": 0},
    "gpt2": {},
    "gpt2_ml": {},
    "t5.1.1": {},
}


def randomise(model, seed):
    """Every weight and bias random (std 0.25), LayerNorm gains near 1."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        value = rng.normal(0, 0.25, size=variable.shape) + (1.0 if "gamma" in variable.path else 0.0)
        variable.assign(value.astype("float32"))


def max_diff(a, b):
    a, b = (x if isinstance(x, (list, tuple)) else [x] for x in (a, b))
    assert len(a) == len(b), (len(a), len(b))
    return max(float(np.abs(np.asarray(x) - np.asarray(y)).max()) for x, y in zip(a, b))


def classifier(bert_model):
    pooled = bert_model.outputs[0]
    head = keras.layers.Dense(3, name="head")(pooled)
    model = keras.Model(bert_model.inputs, [head, bert_model.outputs[1]])
    model.compile(
        keras.optimizers.SGD(0.5),
        loss=[
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "sparse_categorical_crossentropy",
        ],
    )
    return model


class DevicePutLog:
    """Records what `jax.device_put` receives: host arrays, or arrays already on one device."""

    def __init__(self):
        self.sources = []
        self._real = jax.device_put

    def __enter__(self):
        def spy(x, *args, **kwargs):
            self.sources.append(
                type(getattr(x, "sharding", None)).__name__ if hasattr(x, "sharding") else "host"
            )
            return self._real(x, *args, **kwargs)

        jax.device_put = spy
        return self

    def __exit__(self, *exc):
        jax.device_put = self._real


def mesh_runs(directory):
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 50, size=(8, 12)).astype("int32")
    tokens[::3, 9:] = 0
    batch = [tokens, np.zeros_like(tokens)]
    labels = [tokens[:, 0] % 3, tokens]

    reference = build_transformer_model(return_keras_model=False, **BERT)
    randomise(reference.model, seed=1)
    checkpoint = os.path.join(directory, "bert.ckpt")
    reference.save_weights_as_checkpoint(checkpoint)
    forward = reference.model.predict(batch, verbose=0)
    single = classifier(reference.model)
    randomise(single.get_layer("head"), seed=2)
    initial = single.get_weights()
    single.train_on_batch(batch, labels)
    trained = single.get_weights()

    results = {}
    for data, model in ((1, 8), (2, 4), (8, 1)):
        with model_parallel("bert", device_mesh(data, model)).scope():
            bert = build_transformer_model(return_keras_model=False, **BERT)
            with DevicePutLog() as log:
                load_weights_sharded(bert, checkpoint)
            loaded = {
                v.path: [tuple(s.data.shape) for s in v.value.addressable_shards] for v in bert.model.weights
            }
            out = bert.model.predict(batch, verbose=0)
            per_device = parameter_bytes_per_device(bert.model)
            total = sum(int(np.prod(v.shape)) * 4 for v in bert.model.weights)
            parallel = classifier(bert.model)
            parallel.set_weights(initial)
            parallel.train_on_batch(batch, labels)
            step_diff = max_diff(trained, parallel.get_weights())
        results[f"{data}x{model}"] = {
            "forward_diff": max_diff(forward, out),
            "step_diff": step_diff,
            "moved": max_diff(trained, initial),
            "device_put_sources": sorted(set(log.sources)),
            "device_puts": len(log.sources),
            "shards": {
                k: loaded[k]
                for k in (
                    "Embedding-Token/embeddings",
                    "Transformer-0-MultiHeadSelfAttention/q_dense/kernel",
                    "Transformer-0-MultiHeadSelfAttention/o_dense/kernel",
                    "Transformer-1-FeedForward/i0_dense/kernel",
                    "Embedding-Norm/gamma",
                )
            },
            "bytes_per_device": sorted(set(per_device.values())),
            "bytes_total": total,
            "sharding": str(bert.model.weights[5].value.sharding.spec),
        }
    return results


def family_inputs(key, transformer, rng):
    arrays = []
    for model_input in transformer.model.inputs:
        ids = rng.integers(1, TINY["vocab_size"], size=(4, 10)).astype("int32")
        if "Segment" in model_input.name:
            ids = (ids % 2).astype("int32")
        arrays.append(ids)
    return arrays


def family_runs():
    results = {}
    for seed, (key, extra) in enumerate(FAMILIES.items()):
        reference = build_transformer_model(model=key, return_keras_model=False, **TINY, **extra)
        randomise(reference.model, seed)
        inputs = family_inputs(key, reference, np.random.default_rng(seed))
        expected = reference.model.predict(inputs, verbose=0)
        with model_parallel(key, device_mesh(2, 4)).scope():
            sharded = build_transformer_model(model=key, return_keras_model=False, **TINY, **extra)
            sharded.model.set_weights(reference.model.get_weights())
            out = sharded.model.predict(inputs, verbose=0)
            split = sum(1 for v in sharded.model.weights if "model" in str(v.value.sharding.spec))
        results[key] = {
            "diff": max_diff(expected, out),
            "sharded_variables": split,
            "variables": len(sharded.model.weights),
        }
    return results


def generation_run():
    config = dict(TINY, num_hidden_layers=2)
    reference = build_transformer_model(model="gpt2", return_keras_model=False, **config)
    randomise(reference.model, seed=7)
    prompts = [[5, 7, 9, 11], [20, 3], [8, 9, 10], [1, 2]]
    expected = generate(reference, prompts, max_new_tokens=6)
    with model_parallel("gpt2", device_mesh(2, 4)).scope():
        sharded = build_transformer_model(model="gpt2", return_keras_model=False, **config)
        sharded.model.set_weights(reference.model.get_weights())
        tokens = generate(sharded, prompts, max_new_tokens=6)
        spec = str(
            sharded.model.get_layer("Transformer-0-MultiHeadSelfAttention").q_dense.kernel.value.sharding.spec
        )
    return {"expected": np.asarray(expected).tolist(), "sharded": np.asarray(tokens).tolist(), "spec": spec}


def main():
    assert len(jax.devices()) == 8, jax.devices()
    seconds, started = {}, time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        result = {"meshes": mesh_runs(directory)}
    for name, run in (("families", family_runs), ("generation", generation_run)):
        seconds[name], started = time.perf_counter() - started, time.perf_counter()
        result[name] = run()
    seconds["last"] = time.perf_counter() - started
    print(json.dumps({**result, "seconds": seconds}))


if __name__ == "__main__":
    sys.exit(main())
