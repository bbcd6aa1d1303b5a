"""bert4keras's idiom ``model.fit(gen.forfit(), steps_per_epoch=len(gen))`` with batches of
``[token_ids, segment_ids], labels`` trains on every backend. On TensorFlow, Keras's generator
adapter goes through ``tf.data``, which refused the list structure before forfit yielded tuples."""

import keras
import numpy as np

from kerasformers.data import DataGenerator


class PairBatches(DataGenerator):
    def __iter__(self, random=False):
        first, second, labels = [], [], []
        for is_end, (a, b, y) in self.sample(random):
            first.append(a)
            second.append(b)
            labels.append([y])
            if len(first) == self.batch_size or is_end:
                yield [np.array(first), np.array(second)], np.array(labels)
                first, second, labels = [], [], []


def test_fit_on_forfit_with_list_inputs():
    rng = np.random.default_rng(0)
    data = [
        (rng.normal(size=3).astype("float32"), rng.normal(size=2).astype("float32"), 0) for _ in range(40)
    ]
    data = [(a, b, int(a.sum() + b.sum() > 0)) for a, b, _ in data]
    a, b = keras.Input((3,)), keras.Input((2,))
    output = keras.layers.Dense(2, activation="softmax")(keras.layers.Concatenate()([a, b]))
    model = keras.Model([a, b], output)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    generator = PairBatches(data, batch_size=8)
    batch = next(generator.forfit())
    assert isinstance(batch, tuple) and isinstance(batch[0], tuple)  # what tf.data accepts
    history = model.fit(generator.forfit(), steps_per_epoch=len(generator), epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
