"""bert4keras's ``DataGenerator``, which is also a Keras ``PyDataset``.

Subclass it and write ``__iter__(self, random=False)`` that walks
``self.sample(random)`` and yields a batch whenever ``batch_size`` samples are
collected or ``is_end`` is true. Then either

* ``model.fit(gen.forfit(), steps_per_epoch=len(gen), epochs=...)`` (bert4keras
  style, single process), or
* ``model.fit(gen, epochs=...)``: Keras indexes batches with ``gen[i]``, so the
  ``workers`` / ``use_multiprocessing`` arguments parallelise batch building.
"""

import copy

import keras
import numpy as np


class DataGenerator(keras.utils.PyDataset):
    """Batches from ``data`` by a user-written ``__iter__``.

    Args:
        data: a list-like (``len`` + indexing; needed for ``gen[i]``) or any
            iterable (streamed; shuffled through a buffer of ``buffer_size``).
        batch_size: samples per batch.
        buffer_size: shuffle buffer for iterables without ``len``
            (default ``batch_size * 1000``).
        shuffle: whether ``gen[i]`` (the ``PyDataset`` path) sees the samples
            in a new random order each epoch.
        seed: seed of that order; the order of epoch ``e`` depends only on
            ``(seed, e)``, so a resumed run replays the same batches. Defaults
            to a draw from NumPy's global generator.
        **kwargs: ``workers``, ``use_multiprocessing``, ``max_queue_size`` for
            Keras.
    """

    def __init__(self, data, batch_size=32, buffer_size=None, shuffle=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        if batch_size < 1:
            raise ValueError(f"DataGenerator: batch_size must be >= 1, got {batch_size}")
        self.data = data
        self.batch_size = batch_size
        self.buffer_size = buffer_size or batch_size * 1000
        self.shuffle = shuffle
        self.seed = int(np.random.randint(2**31)) if seed is None else seed
        self.epoch = 0
        if hasattr(data, "__len__"):
            self.steps = -(-len(data) // batch_size)  # ceil
        else:
            self.steps = None

    def __len__(self):
        if self.steps is None:
            raise TypeError("DataGenerator: data has no len(), so the number of batches is unknown")
        return self.steps

    # ----------------------------------------------------------- bert4keras API
    def sample(self, random=False):
        """Yield ``(is_end, item)`` over the data, optionally shuffled."""
        if random and self.steps is not None:
            items = (self.data[i] for i in np.random.permutation(len(self.data)))
        elif random:
            items = self._buffer_shuffle(iter(self.data))
        else:
            items = iter(self.data)
        try:
            current = next(items)
        except StopIteration:
            return
        for upcoming in items:
            yield False, current
            current = upcoming
        yield True, current

    def _buffer_shuffle(self, items):
        """Approximate shuffle of a stream with a bounded buffer."""
        buffer = []
        for item in items:
            buffer.append(item)
            if len(buffer) > self.buffer_size:
                yield buffer.pop(np.random.randint(len(buffer)))
        while buffer:
            yield buffer.pop(np.random.randint(len(buffer)))

    def __iter__(self, random=False):
        raise NotImplementedError(
            f"{type(self).__name__} must define __iter__(self, random=False) yielding batches"
        )

    def forfit(self, random=True):
        """Endless stream of batches for ``fit(..., steps_per_epoch=len(gen))``."""
        while True:
            for batch in self.__iter__(random):
                yield _lists_as_tuples(batch)

    def fortest(self, random=False):
        """Endless stream of the inputs part of each batch (for ``predict``)."""
        while True:
            for batch in self.__iter__(random):
                yield batch[0]  # as bert4keras: the inputs themselves (a list stays a list)

    def to_dataset(self, types, shapes, names=None, padded_batch=False):
        """A ``tf.data.Dataset`` batching what ``forfit()`` yields (one sample per item, as in
        bert4keras's pre-training scripts) by ``batch_size``; ``padded_batch=True`` pads to
        ``shapes``. ``names`` (a name, a list of names, or one list per structure element)
        turns items into dicts. Needs TensorFlow; Keras's ``fit`` takes the dataset on any backend.
        """
        try:
            import tensorflow as tf
        except ImportError as error:
            raise ImportError(
                "DataGenerator.to_dataset needs TensorFlow (pip install tensorflow-cpu)"
            ) from error

        if names is None:
            generator = self.forfit
        else:
            if isinstance(names, str):

                def wrap(keys, values):
                    return {keys: values}
            elif isinstance(names[0], str):

                def wrap(keys, values):
                    return dict(zip(keys, values))
            else:

                def wrap(keys, values):
                    return tuple(dict(zip(k, v)) for k, v in zip(keys, values))

            def generator():
                for item in self.forfit():
                    yield wrap(names, item)

            types, shapes = wrap(names, types), wrap(names, shapes)
        if padded_batch:
            dataset = tf.data.Dataset.from_generator(generator, output_types=types)
            return dataset.padded_batch(self.batch_size, shapes)
        dataset = tf.data.Dataset.from_generator(generator, output_types=types, output_shapes=shapes)
        return dataset.batch(self.batch_size)

    # ------------------------------------------------------------ PyDataset API
    def epoch_order(self, epoch):
        """Sample order of ``epoch`` for the indexed path (deterministic)."""
        n = len(self.data)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def __getitem__(self, index):
        """Batch ``index`` of the current epoch, built by ``__iter__``."""
        if self.steps is None:
            raise TypeError("DataGenerator: data without len() cannot be indexed; use forfit() instead")
        if not 0 <= index < self.steps:
            raise IndexError(f"DataGenerator: batch {index} out of range ({self.steps} batches)")
        chosen = self.epoch_order(self.epoch)[index * self.batch_size : (index + 1) * self.batch_size]
        # Run the user's __iter__ on a copy that only holds this batch's samples.
        view = copy.copy(self)
        view.data = [self.data[i] for i in chosen]
        view.steps = 1
        batches = list(view.__iter__(False))
        if len(batches) != 1:
            raise ValueError(
                f"{type(self).__name__}.__iter__ yielded {len(batches)} batches for "
                f"{len(chosen)} samples; indexing (model.fit(gen)) needs exactly one batch "
                "per batch_size samples. Use gen.forfit() with steps_per_epoch instead."
            )
        return batches[0]

    def on_epoch_end(self):
        # Keras also calls this once before the first epoch, so ``epoch`` counts
        # hook calls; code that needs the true epoch index (resumable training)
        # sets ``gen.epoch`` itself from a callback.
        self.epoch += 1


def _lists_as_tuples(structure):
    """bert4keras scripts yield ``[token_ids, segment_ids], labels``. ``tf.data`` (Keras's
    generator adapter on the TensorFlow backend) takes tuples but not lists as structure."""
    if isinstance(structure, (list, tuple)):
        return tuple(_lists_as_tuples(item) for item in structure)
    return structure
