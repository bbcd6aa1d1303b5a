"""Logits processors: NumPy references and draw-based checks, backend-agnostic."""

import keras
import numpy as np
import pytest
from keras import ops

from kerasformers.generation import sampling


def np_(x):
    return ops.convert_to_numpy(x)


@pytest.fixture
def logits():
    return np.random.default_rng(0).normal(size=(5, 23)).astype("float32") * 3


def allowed(processed):
    return processed > sampling.NEG_INF / 2


@pytest.mark.parametrize("k", [1, 3, 23, 40])
def test_top_k_keeps_exactly_the_k_largest(logits, k):
    out = np_(sampling.top_k_filter(ops.convert_to_tensor(logits), k))
    expected = np.zeros_like(logits, bool)
    top = np.argsort(-logits, axis=1)[:, : min(k, 23)]
    np.put_along_axis(expected, top, True, axis=1)
    np.testing.assert_array_equal(allowed(out), expected)
    np.testing.assert_allclose(out[expected], logits[expected])


@pytest.mark.parametrize("p", [1e-6, 0.3, 0.75, 0.999, 1.0])
def test_top_p_keeps_the_nucleus(logits, p):
    out = np_(sampling.top_p_filter(ops.convert_to_tensor(logits), p))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    for row in range(len(logits)):
        order = np.argsort(-probs[row])
        mass_before = np.cumsum(probs[row][order]) - probs[row][order]
        keep = order[mass_before < p]
        expected = np.zeros(23, bool)
        expected[keep] = True
        np.testing.assert_array_equal(allowed(out[row]), expected)
        assert probs[row][allowed(out[row])].sum() >= min(p, 1) - 1e-5


def test_repetition_penalty_matches_numpy(logits):
    seen = np.zeros_like(logits, bool)
    seen[:, [0, 4, 7]] = True
    out = np_(sampling.apply_repetition_penalty(ops.convert_to_tensor(logits), seen, 1.3))
    expected = np.where(seen, np.where(logits > 0, logits / 1.3, logits * 1.3), logits)
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_mark_seen_ignores_padding():
    seen = np.zeros((2, 6), bool)
    ids = np.array([[0, 0, 3], [1, 5, 5]])
    valid = np.array([[0, 0, 1], [1, 1, 1]])
    out = np_(sampling.mark_seen(ops.convert_to_tensor(seen), ids, valid))
    np.testing.assert_array_equal(out, [[0, 0, 0, 1, 0, 0], [0, 1, 0, 0, 0, 1]])


def test_suppress_only_where_condition_holds(logits):
    out = np_(sampling.suppress(ops.convert_to_tensor(logits), [2, 5], np.array([1, 0, 1, 0, 1], bool)))
    for row in range(5):
        banned = row % 2 == 0
        assert allowed(out[row, [2, 5]]).tolist() == [not banned] * 2
        np.testing.assert_allclose(np.delete(out[row], [2, 5]), np.delete(logits[row], [2, 5]))


def test_temperature_then_filters_never_emit_disallowed_tokens(logits):
    """Over many seeded draws, samples stay in the top-k ∩ nucleus set and are reproducible."""
    x = ops.convert_to_tensor(np.repeat(logits[:1], 500, axis=0))
    processed = sampling.process_logits(x, temperature=0.7, top_k=5, top_p=0.8)
    draws = np_(keras.random.categorical(processed, 1, seed=keras.random.SeedGenerator(4)))[:, 0]
    again = np_(keras.random.categorical(processed, 1, seed=keras.random.SeedGenerator(4)))[:, 0]
    np.testing.assert_array_equal(draws, again)
    scaled = logits[0] / 0.7
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    order = np.argsort(-probs)[:5]
    renorm = probs[order] / probs[order].sum()
    nucleus = order[(np.cumsum(renorm) - renorm) < 0.8]
    assert set(draws.tolist()) <= set(order.tolist())
    # top_p is applied after top_k on the *filtered* distribution
    kept = set(np.flatnonzero(allowed(np_(processed)[0])).tolist())
    assert set(draws.tolist()) <= kept <= set(order.tolist())
    assert kept == set(nucleus.tolist())


def test_bad_sampling_arguments():
    for kwargs, name in [
        ({"top_k": 0}, "top_k"),
        ({"top_k": 2.5}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.2}, "top_p"),
        ({"temperature": 0}, "temperature"),
        ({"repetition_penalty": 0}, "repetition_penalty"),
    ]:
        with pytest.raises(ValueError, match=name):
            sampling.check_sampling_args(**kwargs)
