"""Resume a model-parallel (2x4 mesh) fine-tune from a TrainingCheckpoint; run by test_sharded_resume.py.

In one process on 8 simulated devices: an uninterrupted run, a run that crashes mid-epoch, and
a fresh model that resumes from the crashed run's checkpoint. Prints JSON: the weight difference
between the resumed and the uninterrupted run, how the restored values reached the devices, and
the restored variables' shardings.
"""

import json
import os
import sys
import tempfile

import jax
import keras
import numpy as np

from kerasformers.data import DataGenerator
from kerasformers.distribution import device_mesh, model_parallel
from kerasformers.models import build_transformer_model
from kerasformers.training import TrainingCheckpoint, fit_resumable

EPOCHS, BATCH, CRASH_AT = 2, 8, 5


class Batches(DataGenerator):
    def __iter__(self, random=False):
        rows = []
        for is_end, row in self.sample(random):
            rows.append(row)
            if len(rows) == self.batch_size or is_end:
                tokens = np.array([r[0] for r in rows], "int32")
                yield [tokens, np.zeros_like(tokens)], np.array([r[1] for r in rows], "int32")
                rows = []


class Crash(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps == CRASH_AT:
            raise RuntimeError("simulated crash")


def classifier():
    bert = build_transformer_model(
        vocab_size=40,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=64,
        max_position=16,
        segment_vocab_size=2,
        with_pool=True,
        dropout_rate=0.1,
    )
    model = keras.Model(bert.inputs, keras.layers.Dense(2, name="head")(bert.output))
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def run(path, data, callbacks=()):
    keras.utils.set_random_seed(3)
    model = classifier()
    fit_resumable(
        model, data, EPOCHS, TrainingCheckpoint(path, every_n_steps=2), callbacks=list(callbacks), verbose=0
    )
    return model


def main():
    assert len(jax.devices()) == 8
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 40, size=(48, 10))
    data = Batches(list(zip(tokens, tokens[:, 0] % 2)), batch_size=BATCH, seed=5)
    real_device_put, sources = jax.device_put, []

    def spy(x, *args, **kwargs):
        sources.append(type(x.sharding).__name__ if hasattr(x, "sharding") else "host")
        return real_device_put(x, *args, **kwargs)

    with tempfile.TemporaryDirectory() as directory, model_parallel("bert", device_mesh(2, 4)).scope():
        uninterrupted = run(os.path.join(directory, "a.npz"), data)
        crashed_path = os.path.join(directory, "b.npz")
        try:
            run(crashed_path, data, [Crash()])
        except RuntimeError:
            pass
        saved_step = int(json.loads(np.load(crashed_path)["meta"].tobytes())["global_step"])
        keras.utils.set_random_seed(3)
        resumed = classifier()
        checkpoint = TrainingCheckpoint(crashed_path, every_n_steps=2)
        resumed.optimizer.build(resumed.trainable_variables)  # creating slots is Keras's business
        jax.device_put = spy
        checkpoint.restore(resumed)
        jax.device_put = real_device_put
        fit_resumable(resumed, data, EPOCHS, checkpoint, verbose=0)
        diff = max(
            float(np.abs(a - b).max()) for a, b in zip(uninterrupted.get_weights(), resumed.get_weights())
        )
        specs = sorted({str(v.value.sharding.spec) for v in resumed.weights})
        slots = sorted({str(v.value.sharding.spec) for v in resumed.optimizer.variables})
    print(
        json.dumps(
            {
                "diff": diff,
                "saved_step": saved_step,
                "restore_sources": sorted(set(sources)),
                "restored": len(sources),
                "specs": specs,
                "slot_specs": slots,
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
