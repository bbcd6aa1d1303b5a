"""One process of a multi-host, data + model parallel fine-tune (the recipe in docs/distributed.md).

usage: multihost_script.py COORDINATOR_ADDRESS NUM_PROCESSES PROCESS_ID WORKDIR
Each process sees 4 local devices (JAX_NUM_CPU_DEVICES=4 on CPU, the GPUs/TPUs of its host
elsewhere); together they form one ("data", "model") mesh across hosts. The process trains a
tiny BERT classifier with a resumable checkpoint, then prints one JSON line.
"""

import json
import os
import sys

import keras

keras.distribution.initialize(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))  # jax.distributed.initialize

import jax
import numpy as np

from kerasformers.data import DataGenerator
from kerasformers.distribution import device_mesh, model_parallel
from kerasformers.models import build_transformer_model
from kerasformers.training import TrainingCheckpoint, fit_resumable


class Batches(DataGenerator):
    def __iter__(self, random=False):
        rows = []
        for is_end, row in self.sample(random):
            rows.append(row)
            if len(rows) == self.batch_size or is_end:
                tokens = np.array([r[0] for r in rows], "int32")
                yield [tokens, np.zeros_like(tokens)], np.array([r[1] for r in rows], "int32")
                rows = []


def main(workdir):
    process, processes = jax.process_index(), jax.process_count()
    mesh = device_mesh(data=2, model=4)  # 8 global devices: 2 replicas of a 4-way sharded model
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 40, size=(64, 10))
    labels = tokens[:, 0] % 2
    # Each process feeds its own half of every global batch (Keras assembles the global array).
    local = list(zip(tokens, labels))[process::processes]
    data = Batches(local, batch_size=8 // processes, seed=5)
    with model_parallel("bert", mesh, auto_shard_dataset=False).scope():
        keras.utils.set_random_seed(3)
        bert = build_transformer_model(
            vocab_size=40,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=4,
            intermediate_size=64,
            max_position=16,
            segment_vocab_size=2,
            with_pool=True,
        )
        model = keras.Model(bert.inputs, keras.layers.Dense(2, name="head")(bert.output))
        model.compile(
            keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
        checkpoint = TrainingCheckpoint(os.path.join(workdir, "train.npz"), every_n_steps=4)
        histories = fit_resumable(
            model, data, epochs=int(os.environ.get("EPOCHS", "2")), checkpoint=checkpoint, verbose=0
        )
        kernel = model.get_layer("Transformer-0-FeedForward").input_denses[0].kernel.value
    print(
        json.dumps(
            {
                "process": process,
                "processes": processes,
                "global_devices": len(jax.devices()),
                "local_devices": len(jax.local_devices()),
                "losses": [h.history["loss"] for h in histories],
                "kernel_spec": str(kernel.sharding.spec),
                "local_kernel_shards": [list(s.data.shape) for s in kernel.addressable_shards],
                "global_step": checkpoint.global_step,
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[4]))
