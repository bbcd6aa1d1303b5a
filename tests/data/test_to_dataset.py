"""DataGenerator.to_dataset: bert4keras's tf.data bridge (one sample per item, batched by tf.data)."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from kerasformers.snippets import DataGenerator


class OneSample(DataGenerator):
    def __iter__(self, random=False):
        for _is_end, length in self.sample(random):
            yield np.arange(1, length + 1, dtype="int32"), np.int32(length)


def test_padded_batches_with_names():
    generator = OneSample([3, 1, 2, 4], batch_size=2)
    dataset = generator.to_dataset(
        types=("int32", "int32"), shapes=([None], []), names=("ids", "length"), padded_batch=True
    )
    batch = next(iter(dataset))
    assert set(batch) == {"ids", "length"}
    lengths = batch["length"].numpy()
    ids = batch["ids"].numpy()
    assert ids.shape == (2, lengths.max())
    for row, length in zip(ids, lengths):
        np.testing.assert_array_equal(row[:length], np.arange(1, length + 1))
        assert not row[length:].any()


def test_fixed_shapes_batch():
    generator = OneSample([2, 2, 2], batch_size=3)
    ids, lengths = next(iter(generator.to_dataset(types=("int32", "int32"), shapes=([2], []))))
    assert ids.shape == (3, 2) and list(lengths.numpy()) == [2, 2, 2]
