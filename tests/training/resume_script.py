"""Train a small model with a TrainingCheckpoint; run as a subprocess by test_checkpoint.py.

usage: resume_script.py CHECKPOINT OUTPUT [--slow]
Writes the final weights to OUTPUT (.npz). --slow sleeps after every batch so
the parent can SIGKILL the run mid-epoch.
"""

import sys
import time

import keras
import numpy as np

from kerasformers.data import DataGenerator
from kerasformers.training import TrainingCheckpoint, fit_resumable

STEPS_PER_EPOCH, EPOCHS, BATCH = 8, 3, 4


class Batches(DataGenerator):
    def __iter__(self, random=False):
        xs, ys = [], []
        for is_end, (x, y) in self.sample(random):
            xs.append(x)
            ys.append(y)
            if len(xs) == self.batch_size or is_end:
                yield np.array(xs, "float32"), np.array(ys, "int32")
                xs, ys = [], []


class Sleep(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.25)


def main(checkpoint_path, output_path, slow):
    keras.utils.set_random_seed(1234)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(STEPS_PER_EPOCH * BATCH, 6)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")
    data = Batches(list(zip(x, y)), batch_size=BATCH, seed=7)

    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(0.3),  # its RNG state must be restored too
            keras.layers.Dense(2),
        ]
    )
    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=5, decay_rate=0.7)
    model.compile(
        keras.optimizers.Adam(schedule), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    checkpoint = TrainingCheckpoint(checkpoint_path, every_n_steps=3)
    meta = checkpoint.restore(model) if slow is False else None
    if meta is not None:
        print(
            f"resuming from epoch {meta['epoch']} step {meta['step']} global {meta['global_step']}",
            flush=True,
        )
    callbacks = [Sleep()] if slow else []
    fit_resumable(model, data, EPOCHS, checkpoint, callbacks=callbacks, verbose=0)
    np.savez(output_path, *[keras.ops.convert_to_numpy(v) for v in model.variables])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], "--slow" in sys.argv)
