"""NEZHA (not in `transformers` v5) vs an independent NumPy forward pass of the paper's formulas;
the HF 4.x layout (``nezha.`` prefix) loads to the same outputs."""

import json
import math

import numpy as np
import pytest

from kerasformers.checkpoints import CheckpointError, open_checkpoint, write_safetensors, write_tf1_checkpoint
from kerasformers.models import build_transformer_model

from ..layouts import original_layout
from .helpers import TINY, assert_close, padded_batch, to_numpy

CONFIG = {**TINY, "type_vocab_size": 3, "hidden_act": "gelu", "max_relative_position": 4}
BODY = [
    "attention/self/query",
    "attention/self/key",
    "attention/self/value",
    "attention/output/dense",
    "intermediate/dense",
    "output/dense",
]
NORMS = ["attention/output/LayerNorm", "output/LayerNorm"]


def np_layer_norm(x, gamma, beta, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps) * gamma + beta


def np_relative_table(n, k, d):
    """a[i, j] = sinusoid of index clip(j - i, -k, k) + k: [sin(p w_0), cos(p w_0), sin(p w_1), ...]."""
    index = np.clip(np.arange(n)[None, :] - np.arange(n)[:, None], -k, k) + k
    w = 1.0 / 10000 ** (np.arange(0, d, 2) / d)
    table = np.zeros((n, n, d))
    table[..., 0::2] = np.sin(index[..., None] * w)
    table[..., 1::2] = np.cos(index[..., None] * w)
    return table


def np_nezha(w, token_ids, segment_ids, cfg):
    erf = np.vectorize(math.erf)
    gelu = lambda t: 0.5 * t * (1 + erf(t / np.sqrt(2)))
    heads = cfg["num_attention_heads"]
    d = cfg["hidden_size"] // heads
    b, n = token_ids.shape
    x = (
        w["bert/embeddings/word_embeddings"][token_ids]
        + w["bert/embeddings/token_type_embeddings"][segment_ids]
    )
    x = np_layer_norm(x, w["bert/embeddings/LayerNorm/gamma"], w["bert/embeddings/LayerNorm/beta"])
    a = np_relative_table(n, cfg["max_relative_position"], d)  # (T, S, d)
    keys_real = (token_ids != 0)[:, None, None, :]
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert/encoder/layer_{i}/"
        dense = lambda t, m, p=p: t @ w[p + m + "/kernel"] + w[p + m + "/bias"]
        q, k, v = (dense(x, m).reshape(b, n, heads, d) for m in BODY[:3])
        # score_ij = q_i·(k_j + a_ij)/√d ;  out_i = Σ_j p_ij (v_j + a_ij)
        s = (np.einsum("bihd,bjhd->bhij", q, k) + np.einsum("bihd,ijd->bhij", q, a)) / np.sqrt(d)
        s = np.where(keys_real, s, -np.inf)
        pr = np.exp(s - s.max(-1, keepdims=True))
        pr /= pr.sum(-1, keepdims=True)
        o = np.einsum("bhij,bjhd->bihd", pr, v) + np.einsum("bhij,ijd->bihd", pr, a)
        x = np_layer_norm(
            x + dense(o.reshape(b, n, heads * d), BODY[3]),
            w[p + NORMS[0] + "/gamma"],
            w[p + NORMS[0] + "/beta"],
        )
        x = np_layer_norm(
            x + dense(gelu(dense(x, BODY[4])), BODY[5]), w[p + NORMS[1] + "/gamma"], w[p + NORMS[1] + "/beta"]
        )
    return x


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    rng = np.random.default_rng(0)
    h, inter = CONFIG["hidden_size"], CONFIG["intermediate_size"]
    w = {
        "bert/embeddings/word_embeddings": rng.normal(size=(CONFIG["vocab_size"], h), scale=0.5),
        "bert/embeddings/token_type_embeddings": rng.normal(size=(3, h), scale=0.5),
        "bert/embeddings/LayerNorm/gamma": rng.normal(size=(h,), loc=1, scale=0.2),
        "bert/embeddings/LayerNorm/beta": rng.normal(size=(h,), scale=0.2),
    }
    for i in range(CONFIG["num_hidden_layers"]):
        p = f"bert/encoder/layer_{i}/"
        for m, shape in zip(BODY, [(h, h)] * 4 + [(h, inter), (inter, h)]):
            w[p + m + "/kernel"] = rng.normal(size=shape, scale=shape[0] ** -0.5)
            w[p + m + "/bias"] = rng.normal(size=shape[1:], scale=0.1)
        for m in NORMS:
            w[p + m + "/gamma"] = rng.normal(size=(h,), loc=1, scale=0.2)
            w[p + m + "/beta"] = rng.normal(size=(h,), scale=0.2)
    w = {k: v.astype("float32") for k, v in w.items()}
    path = tmp_path_factory.mktemp("nezha")
    write_tf1_checkpoint(str(path / "bert_model.ckpt"), w)
    (path / "bert_config.json").write_text(json.dumps(CONFIG))
    return path, {k: v.astype("float64") for k, v in w.items()}


def sequence(checkpoint_path, config_path, token_ids, segment_ids):
    return to_numpy(
        build_transformer_model(str(config_path), str(checkpoint_path), model="nezha")(
            [token_ids, segment_ids]
        )
    )


def test_nezha_matches_numpy_reference(checkpoint):
    path, w = checkpoint
    token_ids, segment_ids = padded_batch(
        [12, 7, 3], TINY["vocab_size"], segments=3
    )  # 12 > 2·4+1 clipped offsets
    want = np_nezha(w, token_ids, segment_ids, CONFIG)
    got = sequence(path / "bert_model.ckpt", path / "bert_config.json", token_ids, segment_ids)
    assert_close(got, want, where=token_ids != 0, what="sequence")


def test_hf_layout_loads_to_the_same_outputs(checkpoint, tmp_path):
    path, w = checkpoint
    hf = {
        "nezha.embeddings.word_embeddings.weight": w["bert/embeddings/word_embeddings"],
        "nezha.embeddings.token_type_embeddings.weight": w["bert/embeddings/token_type_embeddings"],
        "nezha.embeddings.LayerNorm.weight": w["bert/embeddings/LayerNorm/gamma"],
        "nezha.embeddings.LayerNorm.bias": w["bert/embeddings/LayerNorm/beta"],
    }
    for i in range(CONFIG["num_hidden_layers"]):
        p, q = f"bert/encoder/layer_{i}/", f"nezha.encoder.layer.{i}."
        for m in BODY:
            hf[q + m.replace("/", ".") + ".weight"] = w[p + m + "/kernel"].T
            hf[q + m.replace("/", ".") + ".bias"] = w[p + m + "/bias"]
        for m in NORMS:
            hf[q + m.replace("/", ".") + ".weight"] = w[p + m + "/gamma"]
            hf[q + m.replace("/", ".") + ".bias"] = w[p + m + "/beta"]
        # HF 4.x also stored the fixed relative table as a buffer; it must be ignored
        hf[q + "attention.self.relative_positions_encoding.positions_encoding"] = np.zeros((9, 16))
    write_safetensors(
        str(tmp_path / "model.safetensors"),
        {k: np.ascontiguousarray(v, dtype="float32") for k, v in hf.items()},
    )
    token_ids, segment_ids = padded_batch([10, 6], TINY["vocab_size"], segments=3, seed=1)
    want = sequence(path / "bert_model.ckpt", path / "bert_config.json", token_ids, segment_ids)
    got = sequence(tmp_path / "model.safetensors", path / "bert_config.json", token_ids, segment_ids)
    assert_close(got, want, atol=1e-6, what="HF layout")


def test_saved_names_are_the_huawei_layout(checkpoint, tmp_path):
    path, _ = checkpoint
    nezha = build_transformer_model(
        str(path / "bert_config.json"),
        str(path / "bert_model.ckpt"),
        model="nezha",
        with_mlm="linear",
        return_keras_model=False,
        ignore_invalid_weights=True,
    )
    nezha.save_weights_as_checkpoint(str(tmp_path / "out.ckpt"))
    layout = original_layout("nezha")
    assert set(open_checkpoint(str(tmp_path / "out.ckpt")).keys()) == layout


def test_checkpoint_of_another_family_is_rejected(tmp_path):
    """An ALBERT checkpoint given to NEZHA: the error says so and shows the names found."""
    write_safetensors(
        str(tmp_path / "model.safetensors"),
        {"albert.embeddings.word_embeddings.weight": np.zeros((131, 48), "float32")},
    )
    with pytest.raises(CheckpointError, match="not a NEZHA checkpoint.*albert.embeddings"):
        build_transformer_model(
            checkpoint_path=str(tmp_path / "model.safetensors"),
            model="nezha",
            **{k: v for k, v in CONFIG.items() if k != "type_vocab_size"},
        )


def test_export_to_the_hf_layout_and_back(checkpoint, tmp_path):
    path, _ = checkpoint
    nezha = build_transformer_model(
        str(path / "bert_config.json"), str(path / "bert_model.ckpt"), model="nezha", return_keras_model=False
    )
    nezha.save_weights_as_huggingface(tmp_path / "export")
    names = set(open_checkpoint(str(tmp_path / "export" / "model.safetensors")).keys())
    assert "nezha.encoder.layer.1.attention.self.query.weight" in names
    token_ids, segment_ids = padded_batch([8, 5], TINY["vocab_size"], segments=3, seed=2)
    want = sequence(path / "bert_model.ckpt", path / "bert_config.json", token_ids, segment_ids)
    got = to_numpy(
        build_transformer_model(checkpoint_path=str(tmp_path / "export"), model="nezha")(
            [token_ids, segment_ids]
        )
    )
    assert_close(got, want, atol=1e-6, what="exported and reloaded")
