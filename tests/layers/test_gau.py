"""GatedAttentionUnit vs a NumPy forward pass written from the GAU / GAU-α formulas."""

import numpy as np
import pytest
from keras import ops

from kerasformers.layers.gau import GatedAttentionUnit
from kerasformers.layers.rotary import sinusoidal_embeddings


def np_rotary(x, positions):
    """RoPE on adjacent pairs: (x0, x1) → (x0 cos θ - x1 sin θ, x1 cos θ + x0 sin θ), θ_i = p·10000^(-2i/d)."""
    d = x.shape[-1]
    theta = positions[:, None] * 10000.0 ** (-np.arange(0, d, 2) / d)  # (T, d/2)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * np.cos(theta) - x1 * np.sin(theta)
    out[..., 1::2] = x1 * np.cos(theta) + x0 * np.sin(theta)
    return out


def np_gau(x, w, units, key_size, normalization, key_mask, causal, rotary):
    """Reference GAU in float64. w: dict of NumPy weights."""
    silu = lambda t: t / (1 + np.exp(-t))  # noqa: E731
    h = silu(x @ w["i_kernel"] + w.get("i_bias", 0.0))
    u, v, z = h[..., :units], h[..., units : 2 * units], h[..., 2 * units :]
    q = z * w["q_gamma"] + w.get("q_beta", 0.0)
    k = z * w["k_gamma"] + w.get("k_beta", 0.0)
    n_t = x.shape[1]
    if rotary:
        q, k = np_rotary(q, np.arange(n_t)), np_rotary(k, np.arange(n_t))
    a = np.einsum("btd,bsd->bts", q, k) / np.sqrt(key_size)
    allowed = np.broadcast_to(key_mask[:, None, :] > 0, a.shape)
    if causal:
        allowed = allowed & np.tril(np.ones((n_t, n_t), bool))
    n = key_mask.sum(-1)[:, None, None]
    if normalization == "squared_relu":
        A = np.where(allowed, np.maximum(a, 0) ** 2, 0.0) / n
    else:
        if normalization == "softmax_plus":
            a = a * np.log(np.maximum(n, 16)) / np.log(512)
        a = np.where(allowed, a, -np.inf)
        A = np.exp(a - a.max(-1, keepdims=True))
        A /= A.sum(-1, keepdims=True)
    return (u * np.einsum("bts,bsd->btd", A, v)) @ w["o_kernel"] + w.get("o_bias", 0.0)


@pytest.mark.parametrize(
    "normalization,use_bias,causal,rotary,seq",
    [
        ("softmax_plus", False, False, True, 21),  # GAU-α's configuration, long enough for log(n) > log(16)
        ("softmax_plus", True, True, True, 9),
        ("squared_relu", True, False, False, 7),
        ("squared_relu", False, True, True, 6),
        ("softmax", True, False, True, 5),
    ],
)
def test_matches_numpy_reference(normalization, use_bias, causal, rotary, seq):
    rng = np.random.default_rng(seq)
    units, key_size, hidden = 10, 6, 8
    layer = GatedAttentionUnit(
        units, key_size, activation="swish", use_bias=use_bias, normalization=normalization
    )
    x = rng.normal(size=(2, seq, hidden)).astype("float32")
    layer.build(x.shape)
    for v in layer.weights:
        v.assign(rng.normal(size=v.shape, scale=0.4).astype("float32"))
    w = {
        "i_kernel": layer.i_dense.kernel,
        "o_kernel": layer.o_dense.kernel,
        "q_gamma": layer.q_gamma,
        "k_gamma": layer.k_gamma,
    }
    if use_bias:
        w.update(
            i_bias=layer.i_dense.bias, o_bias=layer.o_dense.bias, q_beta=layer.q_beta, k_beta=layer.k_beta
        )
    w = {k: ops.convert_to_numpy(v).astype("float64") for k, v in w.items()}

    key_mask = np.ones((2, seq), "float32")
    key_mask[1, seq - seq // 3 :] = 0
    bias = np.where(key_mask[:, None, None, :] > 0, 0.0, -1e9).astype("float32")  # (B, 1, 1, S)
    if causal:
        bias = bias + np.where(np.tril(np.ones((seq, seq), bool)), 0.0, -1e9)[None, None].astype("float32")
    table = sinusoidal_embeddings(np.arange(seq)[None], key_size) if rotary else None
    got = layer(
        x, attention_bias=bias, position_bias=table, p_bias="rotary" if rotary else None, key_mask=key_mask
    )
    want = np_gau(x.astype("float64"), w, units, key_size, normalization, key_mask, causal, rotary)
    valid = key_mask > 0
    np.testing.assert_allclose(ops.convert_to_numpy(got)[valid], want[valid], atol=1e-4, rtol=1e-4)


def test_weight_order_and_config_round_trip():
    layer = GatedAttentionUnit(4, 2, use_bias=False, normalization="softmax_plus", name="gau")
    layer.build((None, None, 3))
    # the model's checkpoint map relies on this order
    assert [v.path.split("/", 1)[1] for v in layer.weights] == [
        "q_gamma",
        "k_gamma",
        "i_dense/kernel",
        "o_dense/kernel",
    ]
    assert tuple(layer.i_dense.kernel.shape) == (3, 2 * 4 + 2)
    clone = GatedAttentionUnit.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_unknown_normalization_is_rejected():
    with pytest.raises(ValueError, match="normalization"):
        GatedAttentionUnit(4, 2, normalization="sparsemax")
