import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kerasformers.data import sequence_padding, to_array, truncate_sequences


def test_sequence_padding_post_and_pre():
    out = sequence_padding([[1, 2, 3], [4], []])
    np.testing.assert_array_equal(out, [[1, 2, 3], [4, 0, 0], [0, 0, 0]])
    out = sequence_padding([[1, 2, 3], [4]], mode="pre", value=-1)
    np.testing.assert_array_equal(out, [[1, 2, 3], [-1, -1, 4]])


def test_sequence_padding_length_cuts_head_kept():
    out = sequence_padding([[1, 2, 3, 4], [5]], length=2)
    np.testing.assert_array_equal(out, [[1, 2], [5, 0]])


def test_sequence_padding_two_seq_dims():
    a = np.ones((2, 3))
    b = np.full((1, 1), 2.0)
    out = sequence_padding([a, b], seq_dims=2)
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out[1], [[2, 0, 0], [0, 0, 0]])
    out = sequence_padding([a, b], length=(3, 2), seq_dims=2)
    assert out.shape == (2, 3, 2)


def test_sequence_padding_trailing_dims_preserved():
    out = sequence_padding([np.ones((2, 4)), np.ones((3, 4))])
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out[0, 2], 0)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.integers(-5, 5), max_size=6), min_size=1, max_size=5),
    st.sampled_from(["post", "pre"]),
)
def test_sequence_padding_round_trip(seqs, mode):
    out = sequence_padding(seqs, mode=mode, value=99)
    width = max(len(s) for s in seqs)
    assert out.shape == (len(seqs), width)
    for row, s in zip(out, seqs):
        pad = width - len(s)
        body = row[: len(s)] if mode == "post" else row[pad:]
        rest = row[len(s) :] if mode == "post" else row[:pad]
        assert list(body) == s and all(v == 99 for v in rest)


def test_sequence_padding_errors_name_the_problem():
    with pytest.raises(ValueError, match="mode"):
        sequence_padding([[1]], mode="middle")
    with pytest.raises(ValueError, match=r"inputs\[1\].*trailing shape"):
        sequence_padding([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="empty"):
        sequence_padding([])


def _brute_truncate(maxlen, index, seqs):
    seqs = [list(s) for s in seqs if s]
    while sum(map(len, seqs)) > maxlen:
        longest = max(range(len(seqs)), key=lambda i: (len(seqs[i]), -i))
        del seqs[longest][index]
    return seqs


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.lists(st.integers(), max_size=8), min_size=1, max_size=3),
    st.integers(0, 20),
    st.sampled_from([-1, -2, 1]),
)
def test_truncate_sequences_matches_brute_force(seqs, maxlen, index):
    seqs = [s if len(s) > 2 else s + [0, 0, 0] for s in seqs]  # index -2/1 needs >= 2 items
    expected = _brute_truncate(max(maxlen, 2 * len(seqs)), index, seqs)
    got = truncate_sequences(max(maxlen, 2 * len(seqs)), index, *[list(s) for s in seqs])
    assert got == expected


def test_truncate_sequences_keeps_sep_and_balances():
    a = ["[CLS]", "a", "b", "c", "d", "[SEP]"]
    b = ["x", "y", "[SEP]"]
    a, b = truncate_sequences(6, -2, a, b)
    assert a == ["[CLS]", "a", "[SEP]"] and b == ["x", "y", "[SEP]"]
    with pytest.raises(ValueError, match="indices"):
        truncate_sequences(3, [-1], [1, 2], [3, 4])


def test_to_array():
    a = to_array([1, 2])
    assert isinstance(a, np.ndarray) and a.tolist() == [1, 2]
    a, b = to_array([1], [[2.0]])
    assert a.shape == (1,) and b.shape == (1, 1)
