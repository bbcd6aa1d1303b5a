"""GAU-α (not in `transformers`) vs an independent NumPy forward pass from the GAU-α formulas."""

import json

import keras
import numpy as np
import pytest

from kerasformers.checkpoints import CheckpointError, write_safetensors, write_tf1_checkpoint
from kerasformers.models import build_transformer_model

from .helpers import assert_close, padded_batch, to_numpy
from .test_roformer import np_rms

CONFIG = {
    "vocab_size": 131,
    "hidden_size": 48,
    "num_hidden_layers": 2,
    "intermediate_size": 37,
    "attention_key_size": 10,
    "hidden_act": "swish",
    "type_vocab_size": 3,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}


def np_rope(x):
    """x (B, T, d): rotate pairs (x[2i], x[2i+1]) by t·10000^(-2i/d)."""
    d = x.shape[-1]
    theta = np.arange(x.shape[1])[:, None] * 10000.0 ** (-np.arange(0, d, 2) / d)
    out = np.empty_like(x)
    out[..., 0::2] = x[..., 0::2] * np.cos(theta) - x[..., 1::2] * np.sin(theta)
    out[..., 1::2] = x[..., 1::2] * np.cos(theta) + x[..., 0::2] * np.sin(theta)
    return out


def np_gau_alpha(w, token_ids, segment_ids, cfg):
    e, s = cfg["intermediate_size"], cfg["attention_key_size"]
    silu = lambda t: t / (1 + np.exp(-t))
    x = np_rms(
        w["bert/embeddings/word_embeddings"][token_ids]
        + w["bert/embeddings/token_type_embeddings"][segment_ids]
    )
    real = token_ids != 0
    n = np.maximum(real.sum(-1), 16)[:, None, None]  # real keys, at least 16
    for i in range(cfg["num_hidden_layers"]):
        p = f"GAU_alpha/encoder/layer_{i}/gau/"
        h = silu(x @ w[p + "i_dense/kernel"])
        u, v, z = h[..., :e], h[..., e : 2 * e], h[..., 2 * e :]
        q, k = np_rope(z * w[p + "q_scaleoffset/gamma"]), np_rope(z * w[p + "k_scaleoffset/gamma"])
        a = np.einsum("btd,bsd->bts", q, k) / np.sqrt(s) * np.log(n) / np.log(512)
        a = np.where(real[:, None, :], a, -np.inf)
        a = np.exp(a - a.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        x = np_rms(x + (u * np.einsum("bts,bsd->btd", a, v)) @ w[p + "o_dense/kernel"])
    return x, x @ w["bert/embeddings/word_embeddings"].T


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    rng = np.random.default_rng(0)
    h, e, s = CONFIG["hidden_size"], CONFIG["intermediate_size"], CONFIG["attention_key_size"]
    w = {
        "bert/embeddings/word_embeddings": rng.normal(size=(CONFIG["vocab_size"], h)),
        "bert/embeddings/token_type_embeddings": rng.normal(size=(CONFIG["type_vocab_size"], h)),
    }
    for i in range(CONFIG["num_hidden_layers"]):
        p = f"GAU_alpha/encoder/layer_{i}/gau/"
        w[p + "i_dense/kernel"] = rng.normal(size=(h, 2 * e + s), scale=h**-0.5)
        w[p + "o_dense/kernel"] = rng.normal(size=(e, h), scale=e**-0.5)
        w[p + "q_scaleoffset/gamma"] = rng.normal(size=(s,), loc=1.0, scale=0.3)
        w[p + "k_scaleoffset/gamma"] = rng.normal(size=(s,), loc=1.0, scale=0.3)
    w = {k: v.astype("float32") for k, v in w.items()}
    path = tmp_path_factory.mktemp("gau_alpha")
    write_tf1_checkpoint(str(path / "bert_model.ckpt"), w)
    (path / "bert_config.json").write_text(json.dumps(CONFIG))
    return path, {k: v.astype("float64") for k, v in w.items()}


def outputs(config_path, checkpoint_path, token_ids, segment_ids):
    gau = build_transformer_model(
        str(config_path), str(checkpoint_path), model="gau_alpha", with_mlm="linear", return_keras_model=False
    )
    encoder = keras.Model(
        gau.model.inputs, gau.model.get_layer("Transformer-1-GatedAttentionUnit-Norm").output
    )
    return to_numpy(encoder([token_ids, segment_ids])), to_numpy(gau.model([token_ids, segment_ids]))


def test_gau_alpha_matches_numpy_reference(checkpoint):
    path, w = checkpoint
    # lengths on both sides of the 16-token floor in softmax_plus
    token_ids, segment_ids = padded_batch([21, 17, 5], CONFIG["vocab_size"], segments=3)
    sequence_want, logits_want = np_gau_alpha(w, token_ids, segment_ids, CONFIG)
    sequence, logits = outputs(path / "bert_config.json", path / "bert_model.ckpt", token_ids, segment_ids)
    real = token_ids != 0
    assert_close(sequence, sequence_want, where=real, what="sequence")
    assert_close(logits, logits_want, where=real, atol=1e-3, what="mlm logits")  # ~√hidden larger values


def test_bert4torch_layout_loads_to_the_same_outputs(checkpoint, tmp_path):
    path, w = checkpoint
    torch_names = {
        "embeddings.word_embeddings.weight": w["bert/embeddings/word_embeddings"],
        "embeddings.segment_embeddings.weight": w["bert/embeddings/token_type_embeddings"],
    }
    for i in range(CONFIG["num_hidden_layers"]):
        p = f"GAU_alpha/encoder/layer_{i}/gau/"
        torch_names[f"encoderLayer.{i}.gau.i_dense.weight"] = w[p + "i_dense/kernel"].T
        torch_names[f"encoderLayer.{i}.gau.o_dense.weight"] = w[p + "o_dense/kernel"].T
        torch_names[f"encoderLayer.{i}.gau.offsetscale.gamma"] = np.stack(
            [w[p + "q_scaleoffset/gamma"], w[p + "k_scaleoffset/gamma"]]
        )
    write_safetensors(
        str(tmp_path / "model.safetensors"),
        {k: np.ascontiguousarray(v, dtype="float32") for k, v in torch_names.items()},
    )
    token_ids, segment_ids = padded_batch([9, 4], CONFIG["vocab_size"], segments=3, seed=1)
    want = outputs(path / "bert_config.json", path / "bert_model.ckpt", token_ids, segment_ids)
    got = outputs(path / "bert_config.json", tmp_path / "model.safetensors", token_ids, segment_ids)
    for a, b in zip(got, want):
        assert_close(a, b, atol=1e-6, what="bert4torch layout")


def test_config_without_key_size_names_the_key(tmp_path):
    cfg = {k: v for k, v in CONFIG.items() if k != "attention_key_size"}
    (tmp_path / "bert_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="attention_key_size"):
        build_transformer_model(str(tmp_path / "bert_config.json"), model="gau_alpha")


def test_roformer_checkpoint_is_rejected_naming_the_variables(checkpoint, tmp_path):
    path, _ = checkpoint
    write_tf1_checkpoint(
        str(tmp_path / "other.ckpt"), {"bert/embeddings/word_embeddings": np.zeros((131, 48), "float32")}
    )
    with pytest.raises(CheckpointError, match="GAU_alpha/encoder/layer_0/gau/i_dense/kernel"):
        build_transformer_model(
            str(path / "bert_config.json"), str(tmp_path / "other.ckpt"), model="gau_alpha"
        )


def test_export_to_the_bert4torch_layout_and_back(checkpoint, tmp_path):
    path, _ = checkpoint
    gau = build_transformer_model(
        str(path / "bert_config.json"),
        str(path / "bert_model.ckpt"),
        model="gau_alpha",
        with_mlm="linear",
        return_keras_model=False,
    )
    gau.save_weights_as_huggingface(tmp_path / "export")
    token_ids, segment_ids = padded_batch([8, 5], CONFIG["vocab_size"], segments=3, seed=2)
    want = outputs(path / "bert_config.json", path / "bert_model.ckpt", token_ids, segment_ids)
    got = outputs(
        tmp_path / "export" / "config.json", tmp_path / "export" / "model.safetensors", token_ids, segment_ids
    )
    for a, b in zip(got, want):
        assert_close(a, b, atol=1e-6, what="exported and reloaded")
