import keras
import numpy as np
import pytest

from kerasformers.data import DataGenerator, sequence_padding


class PairGenerator(DataGenerator):
    """The bert4keras idiom: collect batch_size samples or stop at is_end."""

    def __iter__(self, random=False):
        xs, ys = [], []
        for is_end, (x, y) in self.sample(random):
            xs.append(x)
            ys.append([y])
            if len(xs) == self.batch_size or is_end:
                yield sequence_padding(xs).astype("float32"), np.array(ys, "float32")
                xs, ys = [], []


DATA = [([i, i + 1, i + 2][: 1 + i % 3], float(i)) for i in range(10)]


def test_len_and_sequential_batches():
    gen = PairGenerator(DATA, batch_size=4)
    assert len(gen) == 3
    batches = list(gen.__iter__(False))
    assert [b[1].ravel().tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].shape == (4, 3)


def test_sample_marks_last_and_random_is_permutation():
    gen = PairGenerator(list(range(7)), batch_size=2)
    flags = list(gen.sample(False))
    assert [f for f, _ in flags] == [False] * 6 + [True]
    np.random.seed(0)
    shuffled = [d for _, d in gen.sample(True)]
    assert sorted(shuffled) == list(range(7)) and shuffled != list(range(7))


def test_iterable_without_len_is_buffer_shuffled():
    gen = PairGenerator(iter(range(50)), batch_size=5, buffer_size=8)
    got = [d for _, d in gen.sample(True)]
    assert sorted(got) == list(range(50)) and got != list(range(50))
    with pytest.raises(TypeError, match="len"):
        len(gen)


def test_forfit_and_fortest_cycle():
    gen = PairGenerator(DATA, batch_size=4)
    stream = gen.forfit(random=False)
    ys = [next(stream)[1].ravel().tolist() for _ in range(4)]
    assert ys[3] == [0, 1, 2, 3]  # wrapped around after 3 batches
    xs = next(gen.fortest())
    assert xs.shape == (4, 3)


def test_indexed_batches_cover_epoch_and_are_seeded():
    gen = PairGenerator(DATA, batch_size=4, seed=3)
    epoch0 = [gen[i][1].ravel() for i in range(len(gen))]
    assert sorted(np.concatenate(epoch0).tolist()) == [float(i) for i in range(10)]
    again = PairGenerator(DATA, batch_size=4, seed=3)
    np.testing.assert_array_equal(again[1][1].ravel(), epoch0[1])
    gen.on_epoch_end()
    epoch1 = np.concatenate([gen[i][1].ravel() for i in range(len(gen))])
    assert epoch1.tolist() != np.concatenate(epoch0).tolist()
    with pytest.raises(IndexError, match="batch 3"):
        gen[3]


def test_indexing_rejects_generators_with_other_batching():
    class OnePerSample(DataGenerator):
        def __iter__(self, random=False):
            for _, d in self.sample(random):
                yield d

    with pytest.raises(ValueError, match="exactly one batch"):
        OnePerSample(list(range(4)), batch_size=2)[0]


@pytest.mark.parametrize("workers,use_mp", [(2, False), (2, True)])
def test_fit_uses_pydataset_workers(workers, use_mp):
    data = [([float(i % 3), 1.0], float(i % 3)) for i in range(24)]
    gen = PairGenerator(data, batch_size=8, seed=0, workers=workers, use_multiprocessing=use_mp)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    history = model.fit(gen, epochs=6, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 6 and losses[-1] < losses[0] * 0.5
    assert gen.epoch >= 6  # a fresh sample order every epoch
