"""GlobalPointer / EfficientGlobalPointer against a NumPy reference written from the formulas."""

import keras
import numpy as np
import pytest
from keras import ops

from kerasformers.layers.global_pointer import (
    EfficientGlobalPointer,
    GlobalPointer,
    global_pointer_crossentropy,
    global_pointer_f1_score,
)
from kerasformers.losses import multilabel_categorical_crossentropy


def _np(x):
    return ops.convert_to_numpy(x)


def _np_rope(x):
    """x (T, d): rotate pair (x[2i], x[2i+1]) at position p by angle p / 10000^(2i/d)."""
    t, d = x.shape
    out = np.empty_like(x, dtype="float64")
    for p in range(t):
        for i in range(d // 2):
            theta = p / 10000 ** (2 * i / d)
            a, b = x[p, 2 * i], x[p, 2 * i + 1]
            out[p, 2 * i] = a * np.cos(theta) - b * np.sin(theta)
            out[p, 2 * i + 1] = b * np.cos(theta) + a * np.sin(theta)
    return out


def _np_valid(lengths, t):
    """(B, T, T) True where start <= end and both inside the sequence."""
    grid = np.zeros((len(lengths), t, t), bool)
    for b, n in enumerate(lengths):
        grid[b, :n, :n] = np.triu(np.ones((n, n), bool))
    return grid


def _np_global_pointer(x, kernel, bias, heads, d):
    proj = x @ kernel + bias  # (B, T, H*2d)
    out = np.zeros((x.shape[0], heads, x.shape[1], x.shape[1]))
    for b in range(x.shape[0]):
        for h in range(heads):
            q = _np_rope(proj[b, :, 2 * h * d : 2 * h * d + d])
            k = _np_rope(proj[b, :, 2 * h * d + d : 2 * (h + 1) * d])
            out[b, h] = q @ k.T / np.sqrt(d)
    return out


def _np_efficient(x, p_kernel, p_bias, q_kernel, q_bias, heads, d):
    proj = x @ p_kernel + p_bias  # (B, T, 2d), interleaved q/k
    biases = (proj @ q_kernel + q_bias) / 2  # (B, T, 2H)
    out = np.zeros((x.shape[0], heads, x.shape[1], x.shape[1]))
    for b in range(x.shape[0]):
        q, k = _np_rope(proj[b, :, 0::2]), _np_rope(proj[b, :, 1::2])
        base = q @ k.T / np.sqrt(d)
        for h in range(heads):
            # start bias varies with row m, end bias with column n.
            out[b, h] = base + biases[b, :, 2 * h + 1][:, None] + biases[b, :, 2 * h][None, :]
    return out


@pytest.mark.parametrize("efficient", [False, True])
def test_scores_match_numpy_reference(efficient):
    rng = np.random.default_rng(0)
    heads, d, t, lengths = 3, 8, 5, [5, 3]
    x = rng.normal(size=(2, t, 6)).astype("float32")
    mask = np.array([[1] * n + [0] * (t - n) for n in lengths])
    layer = (EfficientGlobalPointer if efficient else GlobalPointer)(heads, d)
    out = _np(layer(ops.convert_to_tensor(x), mask=ops.convert_to_tensor(mask, "bool")))
    assert out.shape == (2, heads, t, t)
    if efficient:
        w = [
            _np(v)
            for v in (layer.p_dense.kernel, layer.p_dense.bias, layer.q_dense.kernel, layer.q_dense.bias)
        ]
        expected = _np_efficient(x, *w, heads, d)
    else:
        expected = _np_global_pointer(x, _np(layer.dense.kernel), _np(layer.dense.bias), heads, d)
    valid = np.broadcast_to(_np_valid(lengths, t)[:, None], out.shape)
    np.testing.assert_allclose(out[valid], expected[valid], rtol=1e-4, atol=1e-4)
    assert (out[~valid] < -1e10).all()


def test_rope_makes_scores_depend_on_offset_only():
    # With identical tokens everywhere, q_m·k_n depends only on n - m.
    layer = GlobalPointer(1, 8, tril_mask=False)
    x = np.tile(np.random.default_rng(3).normal(size=(1, 1, 4)), (1, 6, 1)).astype("float32")
    out = _np(layer(x))[0, 0]
    for offset in range(-5, 6):
        diag = np.diagonal(out, offset)
        np.testing.assert_allclose(diag, diag[0], rtol=1e-4, atol=1e-5)
    no_rope = _np(GlobalPointer(1, 8, RoPE=False, tril_mask=False)(x))[0, 0]
    np.testing.assert_allclose(no_rope, no_rope[0, 0], rtol=1e-4, atol=1e-5)


def test_multilabel_crossentropy_closed_form():
    rng = np.random.default_rng(4)
    s = rng.normal(size=(5, 7)).astype("float32") * 3
    y = (rng.random((5, 7)) < 0.3).astype("float32")
    expected = np.log1p((np.exp(s) * (1 - y)).sum(-1)) + np.log1p((np.exp(-s) * y).sum(-1))
    np.testing.assert_allclose(_np(multilabel_categorical_crossentropy(y, s)), expected, rtol=1e-5)


def test_global_pointer_loss_and_f1():
    y_pred = np.full((1, 2, 3, 3), -5.0, "float32")
    y_true = np.zeros((1, 2, 3, 3), "float32")
    y_true[0, 0, 0, 1] = y_true[0, 1, 2, 2] = 1
    y_pred[0, 0, 0, 1] = 4.0  # one hit; the other gold span is missed
    y_pred[0, 1, 0, 0] = 2.0  # one false positive
    f1 = float(_np(global_pointer_f1_score(y_true, y_pred)))
    assert f1 == pytest.approx(2 * 1 / (2 + 2))
    flat_t, flat_p = y_true.reshape(2, 9), y_pred.reshape(2, 9)
    expected = np.mean(
        np.log1p((np.exp(flat_p) * (1 - flat_t)).sum(-1)) + np.log1p((np.exp(-flat_p) * flat_t).sum(-1))
    )
    assert float(_np(global_pointer_crossentropy(y_true, y_pred))) == pytest.approx(expected, rel=1e-5)


def test_global_pointer_learns_nested_spans():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n, t = 48, 6
    ids = rng.integers(1, 5, size=(n, t))
    # Head 0: span [i, i+1] wherever token 1 is followed by 2; head 1: every single token 3.
    y = np.zeros((n, 2, t, t), "float32")
    for b in range(n):
        for i in range(t):
            if i + 1 < t and ids[b, i] == 1 and ids[b, i + 1] == 2:
                y[b, 0, i, i + 1] = 1
            if ids[b, i] == 3:
                y[b, 1, i, i] = 1
    inputs = keras.Input((t,), dtype="int32")
    h = keras.layers.Embedding(5, 16)(inputs)
    h = keras.layers.Conv1D(16, 3, padding="same", activation="relu")(h)
    out = EfficientGlobalPointer(2, 8)(h)
    model = keras.Model(inputs, out)
    model.compile(
        keras.optimizers.Adam(0.05), loss=global_pointer_crossentropy, metrics=[global_pointer_f1_score]
    )
    hist = model.fit(ids, y, batch_size=16, epochs=12, verbose=0)
    assert hist.history["global_pointer_f1_score"][-1] > 0.9


def test_serialisation_round_trip():
    for cls in (GlobalPointer, EfficientGlobalPointer):
        layer = cls(2, 4, RoPE=False, use_bias=False, tril_mask=False, name="gp")
        clone = cls.from_config(layer.get_config())
        assert (clone.heads, clone.head_size, clone.RoPE, clone.use_bias, clone.tril_mask) == (
            2,
            4,
            False,
            False,
            False,
        )
    with pytest.raises(ValueError, match="even"):
        GlobalPointer(1, 3)


def test_model_with_heads_saves_and_loads(tmp_path):
    inputs = keras.Input((5, 6))
    model = keras.Model(
        inputs, [GlobalPointer(2, 4, name="gp")(inputs), EfficientGlobalPointer(3, 4, name="egp")(inputs)]
    )
    x = np.random.default_rng(0).normal(size=(2, 5, 6)).astype("float32")
    path = str(tmp_path / "heads.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    for a, b in zip(model.predict(x, verbose=0), loaded.predict(x, verbose=0)):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mask_zero", [False, True])
def test_sparse_multilabel_crossentropy_equals_dense(mask_zero):
    from kerasformers.losses import sparse_multilabel_categorical_crossentropy

    rng = np.random.default_rng(5)
    s = rng.normal(size=(4, 9)).astype("float32") * 2
    positives = [[3, 5], [1, 0], [8, 2], [4, 7]] if not mask_zero else [[3, 5], [1, 0], [0, 0], [4, 7]]
    dense = np.zeros((4, 9), "float32")
    for row, ids in enumerate(positives):
        for i in ids:
            if not (mask_zero and i == 0):
                dense[row, i] = 1
    scores = s.copy()
    if mask_zero:
        scores[:, 0] = -1e4  # class 0 is padding: never scored
    expected = _np(multilabel_categorical_crossentropy(dense, scores))
    got = _np(sparse_multilabel_categorical_crossentropy(np.array(positives), s, mask_zero=mask_zero))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
