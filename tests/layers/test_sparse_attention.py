"""Sparse attention layers == dense attention under the equivalent explicit n×n mask (NumPy reference)."""

import keras
import numpy as np
import pytest
from keras import ops

from kerasformers.layers.sparse_attention import AtrousSelfAttention, LocalSelfAttention, SparseSelfAttention


def atrous_pattern(n, rate):
    d = np.arange(n)[None, :] - np.arange(n)[:, None]  # d[i, j] = j - i
    return d % rate == 0


def local_pattern(n, neighbors):
    d = np.arange(n)[None, :] - np.arange(n)[:, None]
    return np.abs(d) <= neighbors


def sparse_pattern(n, rate):
    return atrous_pattern(n, rate) | local_pattern(n, rate - 1)


def dense_reference(layer, x, mask, pattern, causal):
    """Plain multi-head attention over the full n×n matrix, masked by `pattern`, in float64."""
    w = lambda t: ops.convert_to_numpy(t).astype("float64")  # noqa: E731
    proj = lambda d, t: t @ w(d.kernel) + (w(d.bias) if d.use_bias else 0.0)  # noqa: E731
    b, n, _ = x.shape
    h, ks, hs = layer.heads, layer.key_size, layer.head_size
    q = proj(layer.q_dense, x).reshape(b, n, h, ks)
    k = proj(layer.k_dense, x).reshape(b, n, h, ks)
    v = proj(layer.v_dense, x).reshape(b, n, h, hs)
    scores = np.einsum("bihd,bjhd->bhij", q, k) / np.sqrt(ks)
    allowed = pattern[None, None] & (mask[:, None, None, :] > 0)
    if causal:
        allowed = allowed & np.tril(np.ones((n, n), bool))
    scores = np.where(allowed, scores, -np.inf)
    with np.errstate(invalid="ignore"):  # fully masked rows (padded queries) become NaN: don't-care
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
    o = np.einsum("bhij,bjhd->bihd", probs, v).reshape(b, n, h * hs)
    return proj(layer.o_dense, o)


CASES = [  # (layer class, pattern, size argument, seq length, causal, use_bias)
    (AtrousSelfAttention, atrous_pattern, 3, 10, False, True),
    (AtrousSelfAttention, atrous_pattern, 4, 12, True, False),
    (AtrousSelfAttention, atrous_pattern, 5, 3, True, True),
    (LocalSelfAttention, local_pattern, 0, 6, False, True),
    (LocalSelfAttention, local_pattern, 3, 11, False, False),
    (LocalSelfAttention, local_pattern, 4, 16, True, True),
    (SparseSelfAttention, sparse_pattern, 3, 13, True, True),
    (SparseSelfAttention, sparse_pattern, 4, 16, False, False),
    (SparseSelfAttention, sparse_pattern, 5, 23, True, True),
]


@pytest.mark.parametrize("cls,pattern,size,n,causal,use_bias", CASES)
def test_equals_dense_attention_with_explicit_mask(cls, pattern, size, n, causal, use_bias):
    rng = np.random.default_rng(size * 100 + n)
    arg = {"neighbors": size} if cls is LocalSelfAttention else {"rate": size}
    layer = cls(heads=2, head_size=5, key_size=3, out_dim=7, use_bias=use_bias, causal=causal, **arg)
    x = rng.normal(size=(2, n, 6)).astype("float32")
    mask = np.ones((2, n), "float32")
    mask[1, n - max(1, n // 3) :] = 0  # second sample is padded
    layer.build(x.shape)
    for v in layer.weights:  # non-zero biases so they are really checked
        v.assign(rng.normal(size=v.shape, scale=0.5).astype("float32"))
    got = ops.convert_to_numpy(layer(x, mask=mask))
    want = dense_reference(layer, x.astype("float64"), mask, pattern(n, size), causal)
    valid = mask > 0  # padded query rows are don't-care
    np.testing.assert_allclose(got[valid], want[valid], atol=1e-4, rtol=1e-4)


def test_no_mask_means_all_positions_valid():
    rng = np.random.default_rng(0)
    layer = SparseSelfAttention(heads=1, head_size=4, rate=3)
    x = rng.normal(size=(1, 8, 4)).astype("float32")
    got = ops.convert_to_numpy(layer(x))
    want = dense_reference(layer, x.astype("float64"), np.ones((1, 8)), sparse_pattern(8, 3), False)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_functional_model_with_unknown_length_and_keras_mask_and_config_round_trip():
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(20, 8, mask_zero=True)(tokens)  # padding mask travels as a Keras mask
    y = SparseSelfAttention(heads=2, head_size=4, rate=3, name="sparse")(x)
    model = keras.Model(tokens, y)
    ids = np.array([[3, 4, 5, 6, 7, 8, 9, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]])
    out = ops.convert_to_numpy(model(ids))
    # the reference masks keys by the token ids: equality shows the Keras mask reached the layer
    emb = ops.convert_to_numpy(model.layers[1](ids))
    layer = model.get_layer("sparse")
    want = dense_reference(
        layer, emb.astype("float64"), (ids > 0).astype("float32"), sparse_pattern(11, 3), False
    )
    np.testing.assert_allclose(out[0, :7], want[0, :7], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(out[1], want[1], atol=1e-4, rtol=1e-4)

    clone = SparseSelfAttention.from_config(layer.get_config())
    clone.build(emb.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(ops.convert_to_numpy(clone(emb, mask=ids > 0)), out, atol=1e-6)
    assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize(
    "make",
    [
        lambda: AtrousSelfAttention(1, 4, rate=0),
        lambda: LocalSelfAttention(1, 4, neighbors=-1),
        lambda: SparseSelfAttention(1, 4, rate=1),
    ],
)
def test_bad_sizes_are_rejected_with_the_argument_name(make):
    with pytest.raises(ValueError, match="rate|neighbors"):
        make()
