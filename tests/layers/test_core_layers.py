"""Core layers against NumPy reference implementations written from the formulas."""

import keras
import numpy as np
import pytest
from keras import ops

from kerasformers.layers import (
    CausalBias,
    Embedding,
    FeedForward,
    LayerNormalization,
    MaskedGlobalAveragePooling1D,
    MaskedGlobalMaxPooling1D,
    MultiHeadAttention,
    PaddingBias,
    PositionEmbedding,
    UniLMBias,
    sinusoidal_embeddings,
)

rng = np.random.default_rng(0)


def npy(x):
    return ops.convert_to_numpy(x)


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def dense(layer):
    kernel, *bias = [npy(w) for w in layer.weights]
    return lambda x: x @ kernel + (bias[0] if bias else 0)


def reference_attention(mha, q, k, v, bias=None, relative=None, rotary=None, scale=True):
    """Plain NumPy multi-head attention: softmax((QKᵀ [+ Q·Rᵀ]) / sqrt(d) + bias) (V [+ R])."""
    n, d, h = mha.heads, mha.key_size, mha.head_size
    qw = dense(mha.q_dense)(q).reshape(q.shape[0], q.shape[1], n, d)
    kw = dense(mha.k_dense)(k).reshape(k.shape[0], k.shape[1], n, d)
    vw = dense(mha.v_dense)(v).reshape(v.shape[0], v.shape[1], n, h)
    if rotary is not None:
        qw, kw = rotate(qw, rotary), rotate(kw, rotary)
    scores = np.einsum("btnd,bsnd->bnts", qw, kw)
    if relative is not None:
        scores = scores + np.einsum("btnd,tsd->bnts", qw, relative)
    scores = scores / np.sqrt(d) if scale else scores
    if bias is not None:
        scores = scores + bias
    probs = softmax(scores)
    out = np.einsum("bnts,bsnh->btnh", probs, vw)
    if relative is not None:
        out = out + np.einsum("bnts,tsh->btnh", probs, relative)
    return dense(mha.o_dense)(out.reshape(q.shape[0], q.shape[1], n * h))


def rotate(x, positions):
    """RoPE on (B, T, N, D) with positions (T,): pairs (2i, 2i+1) rotated by pos·10000^(-2i/D)."""
    d = x.shape[-1]
    theta = positions[:, None] * 10000.0 ** (-np.arange(d // 2) * 2.0 / d)  # (T, D/2)
    cos, sin = np.cos(theta)[None, :, None], np.sin(theta)[None, :, None]
    out = np.empty_like(x)
    out[..., 0::2] = x[..., 0::2] * cos - x[..., 1::2] * sin
    out[..., 1::2] = x[..., 1::2] * cos + x[..., 0::2] * sin
    return out


def random(*shape):
    return rng.normal(size=shape).astype("float32")


def build_mha(**kwargs):
    mha = MultiHeadAttention(**kwargs)
    mha.build([(None, None, 12)] * 3)
    for w in mha.weights:  # non-zero biases so that a swapped bias would show
        w.assign(rng.normal(scale=0.3, size=w.shape).astype("float32"))
    return mha


@pytest.mark.parametrize("key_size", [None, 6])
def test_attention_matches_reference_with_padding_bias(key_size):
    mha = build_mha(heads=3, head_size=4, key_size=key_size)
    q, kv = random(2, 5, 12), random(2, 7, 12)
    token_ids = np.array([[5, 3, 2, 9, 1, 0, 0], [4, 4, 4, 0, 0, 0, 0]])
    bias = npy(PaddingBias()(token_ids))
    out = npy(mha([q, kv, kv], attention_bias=bias))
    np.testing.assert_allclose(out, reference_attention(mha, q, kv, kv, bias), atol=1e-5)


def test_attention_typical_relative_and_t5_and_rotary():
    mha = build_mha(heads=2, head_size=4)
    x = random(2, 5, 12)
    relative = random(5, 5, 4)
    out = npy(mha([x, x, x], position_bias=relative, p_bias="typical_relative"))
    np.testing.assert_allclose(out, reference_attention(mha, x, x, x, relative=relative), atol=1e-5)

    t5_bias = random(1, 2, 5, 5)
    out = npy(mha([x, x, x], position_bias=t5_bias, p_bias="t5_relative"))
    np.testing.assert_allclose(out, reference_attention(mha, x, x, x, bias=t5_bias), atol=1e-5)

    positions = np.arange(5, dtype="float32")
    table = npy(sinusoidal_embeddings(positions[None], 4))
    out = npy(mha([x, x, x], position_bias=table, p_bias="rotary"))
    np.testing.assert_allclose(out, reference_attention(mha, x, x, x, rotary=positions), atol=1e-5)


def test_attention_kv_cache_matches_full_causal_pass():
    mha = build_mha(heads=2, head_size=4)
    x = random(2, 6, 12)
    causal = npy(CausalBias()(x[..., 0]))
    full = npy(mha([x, x, x], attention_bias=causal))
    cache = np.zeros((2, 2, 2, 6, 4), "float32")  # (B, K/V, heads, slots, size)
    steps = []
    for t in range(6):
        visible = np.where(np.arange(6) <= t, 0.0, -1e9).astype("float32")[None, None, None, :]
        out, cache = mha([x[:, t : t + 1]] * 3, attention_bias=visible, cache=cache, cache_index=t)
        steps.append(npy(out))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)


def test_layer_norm_plain_rms_and_conditional():
    x = random(2, 3, 8)
    ln = LayerNormalization(epsilon=1e-5)
    ln.build(x.shape)
    gamma, beta = random(8), random(8)
    ln.set_weights([gamma, beta])
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    np.testing.assert_allclose(npy(ln(x)), (x - mean) / np.sqrt(var + 1e-5) * gamma + beta, atol=1e-5)

    rms = LayerNormalization(center=False, zero_mean=False, epsilon=1e-6)
    rms.build(x.shape)
    rms.set_weights([gamma])
    expected = x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-6) * gamma
    np.testing.assert_allclose(npy(rms(x)), expected, atol=1e-5)

    cond = random(2, 5)
    cln = LayerNormalization(conditional=True, hidden_units=4, hidden_activation="tanh", epsilon=1e-5)
    cln.build([x.shape, cond.shape])
    np.testing.assert_allclose(
        npy(cln([x, cond])),
        (x - mean) / np.sqrt(var + 1e-5),
        atol=1e-5,
        err_msg="zero-initialised condition must leave plain LN",
    )
    weights = [w for w in cln.get_weights()]
    w_hidden, w_gamma, w_beta = random(5, 4), random(4, 8), random(4, 8)
    cln.set_weights([weights[0], weights[1], w_hidden, w_gamma, w_beta])
    hidden = np.tanh(cond @ w_hidden)[:, None, :]
    expected = (x - mean) / np.sqrt(var + 1e-5) * (1 + hidden @ w_gamma) + hidden @ w_beta
    np.testing.assert_allclose(npy(cln([x, cond])), expected, atol=1e-5)


def test_gated_feed_forward():
    x = random(2, 3, 6)
    ffn = FeedForward(units=5, activation=["gelu_new", "linear"], use_bias=False)
    ffn.build(x.shape)
    w0, w1, wo = [npy(w) for w in ffn.weights]
    h0 = x @ w0
    gelu_tanh = 0.5 * h0 * (1 + np.tanh(np.sqrt(2 / np.pi) * (h0 + 0.044715 * h0**3)))
    np.testing.assert_allclose(npy(ffn(x)), (gelu_tanh * (x @ w1)) @ wo, atol=1e-5)


def test_embedding_tied_output_and_positions():
    emb = Embedding(10, 4)
    ids = np.array([[1, 2, 3]])
    vectors = npy(emb(ids))
    table = npy(emb.embeddings)
    np.testing.assert_allclose(vectors, table[ids])
    h = random(1, 3, 4)
    np.testing.assert_allclose(npy(emb(h, mode="dense")), h @ table.T, atol=1e-5)

    pos = PositionEmbedding(8, 4, custom_position_ids=True, embeddings_initializer="normal")
    position_ids = np.array([[3, 0, 7]])
    out = npy(pos([h, position_ids]))
    np.testing.assert_allclose(out, h + npy(pos.embeddings)[position_ids], atol=1e-6)


def test_masks_unilm_and_causal():
    segment_ids = np.array([[0, 0, 1, 1, 1]])
    allowed = npy(UniLMBias()(segment_ids))[0, 0] == 0
    expected = np.array(
        [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], bool
    )
    np.testing.assert_array_equal(allowed, expected)
    causal = npy(CausalBias()(segment_ids))[0, 0] == 0
    np.testing.assert_array_equal(causal, np.tril(np.ones((5, 5), bool)))


def test_masked_pooling():
    x = random(2, 4, 3)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    np.testing.assert_allclose(
        npy(MaskedGlobalAveragePooling1D()(x, mask=mask))[0], x[0, :2].mean(0), atol=1e-6
    )
    np.testing.assert_allclose(npy(MaskedGlobalMaxPooling1D()(x, mask=mask))[0], x[0, :2].max(0), atol=1e-6)


def test_saved_bert_model_loads_with_keras_saving(tmp_path):
    from kerasformers.models import build_transformer_model

    model = build_transformer_model(
        vocab_size=50,
        hidden_size=12,
        num_hidden_layers=2,
        num_attention_heads=3,
        intermediate_size=7,
        max_position=16,
        with_pool=True,
        with_mlm=True,
        application="unilm",
    )
    token_ids = np.array([[2, 5, 7, 9, 0]])
    segment_ids = np.array([[0, 0, 1, 1, 0]])
    before = [npy(o) for o in model([token_ids, segment_ids])]
    path = tmp_path / "bert.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    after = [npy(o) for o in restored([token_ids, segment_ids])]
    for a, b in zip(after, before):
        np.testing.assert_allclose(a, b, atol=1e-6)
