import itertools

import numpy as np
import pytest

from kerasformers.data import ViterbiDecoder


def _brute_force(nodes, trans, starts=None, ends=None):
    n_steps, n_labels = nodes.shape
    best, best_path = -np.inf, None
    for path in itertools.product(range(n_labels), repeat=n_steps):
        if starts is not None and path[0] not in starts:
            continue
        if ends is not None and path[-1] not in ends:
            continue
        score = sum(nodes[t, y] for t, y in enumerate(path))
        score += sum(trans[a, b] for a, b in zip(path, path[1:]))
        if score > best:
            best, best_path = score, path
    return list(best_path)


@pytest.mark.parametrize("seed", range(12))
def test_viterbi_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    n_labels, n_steps = int(rng.integers(2, 5)), int(rng.integers(1, 6))
    nodes = rng.normal(size=(n_steps, n_labels))
    trans = rng.normal(size=(n_labels, n_labels)) * 2
    starts = ends = None
    if seed % 2:
        starts = [0, n_labels - 1]
        ends = [1, n_labels - 1]
    decoder = ViterbiDecoder(trans, starts=starts, ends=ends)
    before = nodes.copy()
    assert decoder.decode(nodes).tolist() == _brute_force(nodes, trans, starts, ends)
    np.testing.assert_array_equal(nodes, before)  # input untouched


def test_viterbi_constraints_forbid_labels():
    # Emissions strongly prefer label 1 everywhere, but 1 may not start or end.
    nodes = np.array([[0.0, 5.0], [0.0, 5.0], [0.0, 5.0]])
    decoder = ViterbiDecoder(np.zeros((2, 2)), starts=[0], ends=[0])
    assert decoder.decode(nodes).tolist() == [0, 1, 0]


def test_viterbi_bad_shapes():
    with pytest.raises(ValueError, match="square"):
        ViterbiDecoder(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\(seq_len, 2\)"):
        ViterbiDecoder(np.zeros((2, 2))).decode(np.zeros((4, 3)))
