"""CRF / MEMM heads against brute-force enumeration and NumPy references (all backends)."""

import itertools

import keras
import numpy as np
import pytest
from keras import ops

from kerasformers.data import ViterbiDecoder
from kerasformers.layers.crf import ConditionalRandomField, MaximumEntropyMarkovModel


def _np(x):
    return ops.convert_to_numpy(x)


def _path_score(nodes, trans, path):
    return sum(nodes[t, y] for t, y in enumerate(path)) + sum(trans[a, b] for a, b in zip(path, path[1:]))


def _brute_nll(nodes, trans, labels):
    """-log p(labels | nodes) by enumerating every label path."""
    k = nodes.shape[1]
    scores = [_path_score(nodes, trans, p) for p in itertools.product(range(k), repeat=len(nodes))]
    log_z = np.log(np.sum(np.exp(np.array(scores) - max(scores)))) + max(scores)
    return log_z - _path_score(nodes, trans, labels)


def _built_crf(num_labels, lr_multiplier=1, seed=0):
    crf = ConditionalRandomField(lr_multiplier=lr_multiplier)
    crf.build((None, None, num_labels))
    rng = np.random.default_rng(seed)
    crf._trans.assign(rng.normal(size=(num_labels, num_labels)).astype("float32") / lr_multiplier)
    return crf


def test_crf_loss_equals_brute_force_with_padding():
    rng = np.random.default_rng(1)
    k, t = 3, 4
    lengths = [4, 3, 1, 2]
    nodes = rng.normal(size=(len(lengths), t, k)).astype("float32")
    labels = rng.integers(0, k, size=(len(lengths), t))
    mask = np.array([[1] * n + [0] * (t - n) for n in lengths])
    crf = _built_crf(k)
    scores = crf(ops.convert_to_tensor(nodes), mask=ops.convert_to_tensor(mask, "bool"))
    # Emissions pass through; padded steps are pushed far down.
    out = _np(scores)
    np.testing.assert_allclose(out[mask == 1], nodes[mask == 1])
    assert (out[mask == 0] < -1e9).all()

    trans = _np(crf.trans)
    expected = [_brute_nll(nodes[b, :n], trans, labels[b, :n]) for b, n in enumerate(lengths)]
    np.testing.assert_allclose(_np(crf.sparse_loss(labels, scores)), expected, rtol=1e-5, atol=1e-5)
    one_hot = np.eye(k)[labels]
    np.testing.assert_allclose(_np(crf.dense_loss(one_hot, scores)), expected, rtol=1e-5, atol=1e-5)
    # (B, T, 1) labels, as Keras may hand them over, give the same loss.
    np.testing.assert_allclose(
        _np(crf.sparse_loss(labels[..., None], scores)), expected, rtol=1e-5, atol=1e-5
    )


def test_crf_accuracy_ignores_padding():
    crf = _built_crf(2)
    scores = np.array([[[1.0, 0.0], [0.0, 1.0], [-1e12, -1e12]]], "float32")
    assert float(_np(crf.sparse_accuracy(np.array([[0, 0, 1]]), scores))) == pytest.approx(0.5)
    assert float(_np(crf.dense_accuracy(np.eye(2)[[[0, 1, 1]]], scores))) == pytest.approx(1.0)


def test_crf_lr_multiplier_scales_stored_variable():
    crf = ConditionalRandomField(lr_multiplier=100)
    crf.build((None, None, 3))
    np.testing.assert_allclose(_np(crf.trans), 100 * _np(crf._trans), rtol=1e-6)
    # Glorot scale for 3x3 is sqrt(6/6) = 1: the effective matrix starts there.
    assert np.abs(_np(crf.trans)).max() <= 1.0 and np.abs(_np(crf._trans)).max() <= 0.01
    nodes = np.random.default_rng(0).normal(size=(1, 3, 3)).astype("float32")
    expected = _brute_nll(nodes[0], _np(crf.trans), [0, 2, 1])
    np.testing.assert_allclose(_np(crf.sparse_loss(np.array([[0, 2, 1]]), nodes)), [expected], rtol=1e-5)


def _tagging_data(n=64, t=6, vocab=8, seed=0):
    """Token ids 1..7; label = 1 if the previous token is 1 (needs transitions or context)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, vocab, size=(n, t))
    lengths = rng.integers(3, t + 1, size=n)
    for i, n_i in enumerate(lengths):
        ids[i, n_i:] = 0
    labels = (ids % 3).astype("int32")
    return ids, labels


def test_crf_trains_in_a_model_with_keras_masking():
    keras.utils.set_random_seed(0)
    ids, labels = _tagging_data()
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(8, 16, mask_zero=True)(inputs)
    x = keras.layers.Dense(3)(x)
    crf = ConditionalRandomField(lr_multiplier=10)
    outputs = crf(x)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(0.1), loss=crf.sparse_loss, metrics=[crf.sparse_accuracy])
    history = model.fit(ids, labels, batch_size=16, epochs=5, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    assert history.history["sparse_accuracy"][-1] > 0.95
    # Viterbi decoding with the learned transitions recovers the labels.
    scores = _np(model.predict(ids[:8], verbose=0))
    decoder = ViterbiDecoder(_np(crf.trans))
    for row, y in zip(scores, labels[:8]):
        n = int((row > -1e6).all(-1).sum())
        assert decoder.decode(row[:n]).tolist() == y[:n].tolist()


def test_crf_serialisation_round_trip():
    crf = ConditionalRandomField(lr_multiplier=5, name="crf")
    clone = ConditionalRandomField.from_config(crf.get_config())
    assert clone.lr_multiplier == 5 and clone.name == "crf"


def _np_memm(nodes, trans, labels, lengths, accuracy=False):
    """Reference: forward + backward MEMM token cross-entropy (or accuracy), averaged."""

    def direction(nodes, trans, labels):
        total, count = 0.0, 0
        for x, y, n in zip(nodes, labels, lengths):
            x, y = x[:n], y[:n]
            for t in range(n):
                logits = x[t] if t == 0 else (x[t] + trans[y[t - 1]]) / 2
                if accuracy:
                    total += float(logits.argmax() == y[t])
                else:
                    logits = logits - logits.max()
                    total += np.log(np.exp(logits).sum()) - logits[y[t]]
                count += 1
        return total / count

    flipped_nodes = [x[:n][::-1] for x, n in zip(nodes, lengths)]
    flipped_labels = [y[:n][::-1] for y, n in zip(labels, lengths)]
    return (direction(nodes, trans, labels) + direction(flipped_nodes, trans.T, flipped_labels)) / 2


@pytest.mark.parametrize("hidden_dim", [None, 2])
def test_memm_loss_matches_numpy(hidden_dim):
    rng = np.random.default_rng(2)
    k, t, lengths = 4, 5, [5, 2, 3]
    nodes = rng.normal(size=(3, t, k)).astype("float32")
    labels = rng.integers(0, k, size=(3, t))
    mask = np.array([[1] * n + [0] * (t - n) for n in lengths])
    memm = MaximumEntropyMarkovModel(hidden_dim=hidden_dim)
    scores = memm(ops.convert_to_tensor(nodes), mask=ops.convert_to_tensor(mask, "bool"))
    trans = _np(memm.trans)
    if hidden_dim:
        np.testing.assert_allclose(trans, _np(memm._l_trans) @ _np(memm._r_trans).T, rtol=1e-5)
    expected = _np_memm(nodes, trans, labels, lengths)
    assert float(_np(memm.sparse_loss(labels, scores))) == pytest.approx(expected, rel=1e-5)
    assert float(_np(memm.dense_loss(np.eye(k)[labels], scores))) == pytest.approx(expected, rel=1e-5)
    expected_acc = _np_memm(nodes, trans, labels, lengths, accuracy=True)
    assert float(_np(memm.sparse_accuracy(labels, scores))) == pytest.approx(expected_acc, abs=1e-6)
    # Labels equal to the emission argmax, transitions zeroed: both directions are perfect.
    if hidden_dim is None:
        memm._trans.assign(np.zeros((k, k), "float32"))
        best = nodes.argmax(-1)
        assert float(_np(memm.sparse_accuracy(best, scores))) == pytest.approx(1.0)


def test_crf_lr_multiplier_speeds_up_sgd_on_transitions():
    # Plain SGD: the variable moves by lr * m * g, so trans = m * variable moves m^2 times as far.
    rng = np.random.default_rng(5)
    nodes = rng.normal(size=(4, 5, 3)).astype("float32")
    labels = rng.integers(0, 3, size=(4, 5))
    trans0 = rng.normal(size=(3, 3)).astype("float32")
    moves = []
    for m in (1, 4):
        inputs = keras.Input((5, 3))
        crf = ConditionalRandomField(lr_multiplier=m)
        model = keras.Model(inputs, crf(inputs))
        crf._trans.assign(trans0 / m)
        model.compile(keras.optimizers.SGD(1e-3), loss=crf.sparse_loss)
        model.fit(nodes, labels, batch_size=4, epochs=1, verbose=0)
        moves.append(_np(crf.trans) - trans0)
    np.testing.assert_allclose(moves[1], 16 * moves[0], rtol=1e-3, atol=1e-6)
    assert np.abs(moves[0]).max() > 1e-5


def test_crf_model_saves_and_loads(tmp_path):
    inputs = keras.Input((None, 3))
    crf = ConditionalRandomField(lr_multiplier=3, name="crf")
    model = keras.Model(inputs, crf(inputs))
    path = str(tmp_path / "crf.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(_np(loaded.get_layer("crf").trans), _np(crf.trans), rtol=1e-6)
    assert loaded.get_layer("crf").lr_multiplier == 3


def test_crf_single_step_sequences():
    crf = _built_crf(3)
    nodes = np.array([[[0.5, -1.0, 2.0]], [[0.0, 0.0, 0.0]]], "float32")  # T = 1: no transitions
    labels = np.array([[2], [1]])
    expected = [_brute_nll(nodes[b], _np(crf.trans), labels[b]) for b in range(2)]
    np.testing.assert_allclose(_np(crf.sparse_loss(labels, nodes)), expected, rtol=1e-5, atol=1e-6)


def test_fit_on_batches_of_different_lengths():
    """bert4keras pads each batch to its own longest text: training with a CRF loss must trace
    with inputs of unknown length (Keras's TensorFlow scan failed on several such inputs)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 5))
    crf = ConditionalRandomField()
    model = keras.Model(inputs, crf(keras.layers.Dense(3)(inputs)))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=crf.sparse_loss)
    rng = np.random.default_rng(0)

    def batches():
        while True:
            for length in (4, 7, 5):
                x = rng.normal(size=(2, length, 5)).astype("float32")
                yield x, (x[..., :3].argmax(-1)).astype("int32")

    history = model.fit(batches(), steps_per_epoch=6, epochs=5, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][-1] < history.history["loss"][0]
