"""RoFormer parity with HuggingFace `transformers`; RoFormer-v2 vs an independent NumPy forward pass."""

import json

import keras
import numpy as np
import pytest
import torch

from kerasformers.checkpoints import CheckpointError, open_checkpoint, write_tf1_checkpoint
from kerasformers.models import build_transformer_model

from ..layouts import original_layout
from .helpers import TINY, assert_close, hf_inputs, padded_batch, randomize_parameters, to_numpy, torch_numpy

transformers = pytest.importorskip("transformers")
LENGTHS = [11, 7, 3]


@pytest.fixture(scope="module")
def mlm_dir(tmp_path_factory):
    torch.manual_seed(0)
    config = transformers.RoFormerConfig(**TINY, embedding_size=24, type_vocab_size=3, hidden_act="gelu")
    model = randomize_parameters(transformers.RoFormerForMaskedLM(config).eval())
    path = tmp_path_factory.mktemp("roformer_mlm")
    model.save_pretrained(path)
    return path, model


def sequence_and_mlm(path, token_ids, segment_ids, **kwargs):
    roformer = build_transformer_model(
        checkpoint_path=str(path), model="roformer", with_mlm="linear", return_keras_model=False, **kwargs
    )
    encoder = keras.Model(
        roformer.model.inputs, roformer.model.get_layer("Transformer-1-FeedForward-Norm").output
    )
    return (
        roformer,
        to_numpy(encoder([token_ids, segment_ids])),
        to_numpy(roformer.model([token_ids, segment_ids])),
    )


def test_roformer_for_masked_lm_parity_with_factorised_embeddings(mlm_dir):
    path, hf = mlm_dir
    token_ids, segment_ids = padded_batch(LENGTHS, TINY["vocab_size"], segments=3)
    with torch.no_grad():
        out = hf(**hf_inputs(token_ids, segment_ids), output_hidden_states=True)
    _, sequence, logits = sequence_and_mlm(path, token_ids, segment_ids)
    real = token_ids != 0
    assert_close(sequence, torch_numpy(out.hidden_states[-1]), where=real, what="sequence")
    assert_close(logits, torch_numpy(out.logits), where=real, what="mlm logits")


def test_tf1_names_load_to_the_same_outputs(mlm_dir, tmp_path):
    path, _ = mlm_dir
    token_ids, segment_ids = padded_batch(LENGTHS, TINY["vocab_size"], segments=3, seed=1)
    roformer, sequence, logits = sequence_and_mlm(path, token_ids, segment_ids)
    prefix = str(tmp_path / "bert_model.ckpt")
    roformer.save_weights_as_checkpoint(prefix)
    names = set(open_checkpoint(prefix).keys())
    assert "bert/encoder/layer_1/attention/self/query/kernel" in names
    assert "bert/encoder/embedding_hidden_mapping_in/kernel" in names
    assert not any("position" in name for name in names)
    config = tmp_path / "bert_config.json"
    config.write_text(json.dumps({**TINY, "embedding_size": 24, "type_vocab_size": 3, "hidden_act": "gelu"}))
    _, sequence2, logits2 = sequence_and_mlm(prefix, token_ids, segment_ids, config_path=str(config))
    assert_close(sequence2, sequence, atol=1e-6, what="sequence")
    assert_close(logits2, logits, atol=1e-6, what="logits")


def test_roformer_model_parity(tmp_path):
    torch.manual_seed(1)
    hf = randomize_parameters(
        transformers.RoFormerModel(
            transformers.RoFormerConfig(**TINY, type_vocab_size=2, hidden_act="gelu")
        ).eval(),
        seed=1,
    )
    hf.save_pretrained(tmp_path)
    token_ids, segment_ids = padded_batch([13, 5], TINY["vocab_size"], segments=2, seed=2)
    with torch.no_grad():
        expected = torch_numpy(hf(**hf_inputs(token_ids, segment_ids)).last_hidden_state)
    model = build_transformer_model(checkpoint_path=str(tmp_path), model="roformer")
    assert_close(to_numpy(model([token_ids, segment_ids])), expected, where=token_ids != 0, what="sequence")


def test_checkpoint_of_another_family_names_the_problem(tmp_path):
    torch.manual_seed(2)
    transformers.AlbertModel(transformers.AlbertConfig(**TINY, embedding_size=24)).save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="RoFormer|missing variable"):
        build_transformer_model(checkpoint_path=str(tmp_path), model="roformer", hidden_act="gelu")


# ---------------------------------------------------------------- RoFormer-v2 (not in transformers)
def np_rms(x, eps=1e-12):
    return x / np.sqrt(np.mean(x * x, -1, keepdims=True) + eps)


def np_rope(x, d):
    """x (B, T, N, d): rotate pairs (x[2i], x[2i+1]) by angle t·10000^(-2i/d)."""
    t = np.arange(x.shape[1])[None, :, None, None]
    theta = t * 10000.0 ** (-np.arange(0, d, 2) / d)
    out = np.empty_like(x)
    out[..., 0::2] = x[..., 0::2] * np.cos(theta) - x[..., 1::2] * np.sin(theta)
    out[..., 1::2] = x[..., 1::2] * np.cos(theta) + x[..., 0::2] * np.sin(theta)
    return out


def np_roformer_v2(w, token_ids, segment_ids, cfg, causal=False):
    """RoFormer-v2 from its description: no biases, parameter-free RMS norms, post-norm, tied head."""
    gelu = lambda t: 0.5 * t * (1 + np.vectorize(__import__("math").erf)(t / np.sqrt(2)))
    heads, d = cfg["num_attention_heads"], cfg["hidden_size"] // cfg["num_attention_heads"]
    x = (
        w["bert/embeddings/word_embeddings"][token_ids]
        + w["bert/embeddings/token_type_embeddings"][segment_ids]
    )
    x = np_rms(x)
    b, n, _ = x.shape
    allowed = np.broadcast_to((token_ids != 0)[:, None, None, :], (b, 1, n, n))
    if causal:
        allowed = allowed & np.tril(np.ones((n, n), bool))
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert/encoder/layer_{i}/"
        q, k, v = (
            np_rope((x @ w[p + f"attention/self/{m}/kernel"]).reshape(b, n, heads, d), d)
            if m != "value"
            else (x @ w[p + f"attention/self/{m}/kernel"]).reshape(b, n, heads, d)
            for m in ("query", "key", "value")
        )
        s = np.where(allowed, np.einsum("bihd,bjhd->bhij", q, k) / np.sqrt(d), -np.inf)
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        o = np.einsum("bhij,bjhd->bihd", a, v).reshape(b, n, heads * d)
        x = np_rms(x + o @ w[p + "attention/output/dense/kernel"])
        h = gelu(x @ w[p + "intermediate/dense/kernel"]) @ w[p + "output/dense/kernel"]
        x = np_rms(x + h)
    return x, x @ w["bert/embeddings/word_embeddings"].T


def random_v2_checkpoint(tmp_path, cfg, seed=0):
    rng = np.random.default_rng(seed)
    hidden, inter = cfg["hidden_size"], cfg["intermediate_size"]
    w = {
        "bert/embeddings/word_embeddings": rng.normal(size=(cfg["vocab_size"], hidden)),
        "bert/embeddings/token_type_embeddings": rng.normal(size=(cfg["type_vocab_size"], hidden)),
    }
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert/encoder/layer_{i}/"
        for m in ("self/query", "self/key", "self/value", "output/dense"):
            w[p + f"attention/{m}/kernel"] = rng.normal(size=(hidden, hidden), scale=hidden**-0.5)
        w[p + "intermediate/dense/kernel"] = rng.normal(size=(hidden, inter), scale=hidden**-0.5)
        w[p + "output/dense/kernel"] = rng.normal(size=(inter, hidden), scale=inter**-0.5)
    w = {k: v.astype("float32") for k, v in w.items()}
    write_tf1_checkpoint(str(tmp_path / "bert_model.ckpt"), w)
    (tmp_path / "bert_config.json").write_text(json.dumps(cfg))
    return {k: v.astype("float64") for k, v in w.items()}


V2_CONFIG = {**TINY, "type_vocab_size": 3, "hidden_act": "gelu"}


def test_roformer_v2_matches_numpy_reference(tmp_path):
    w = random_v2_checkpoint(tmp_path, V2_CONFIG)
    token_ids, segment_ids = padded_batch(LENGTHS, TINY["vocab_size"], segments=3, seed=3)
    sequence_want, logits_want = np_roformer_v2(w, token_ids, segment_ids, V2_CONFIG)
    model = build_transformer_model(
        str(tmp_path / "bert_config.json"),
        str(tmp_path / "bert_model.ckpt"),
        model="roformer_v2",
        with_mlm="linear",
        return_keras_model=False,
    )
    real = token_ids != 0
    encoder = keras.Model(model.model.inputs, model.model.get_layer("Transformer-1-FeedForward-Norm").output)
    assert_close(to_numpy(encoder([token_ids, segment_ids])), sequence_want, where=real, what="sequence")
    assert_close(
        to_numpy(model.model([token_ids, segment_ids])), logits_want, where=real, atol=1e-3, what="mlm logits"
    )  # logits are ~√hidden larger than the sequence values
    assert len(model.model.weights) == 2 + 6 * TINY["num_hidden_layers"]  # no biases, no norm weights
    model.save_weights_as_checkpoint(str(tmp_path / "saved.ckpt"))
    layout = original_layout("roformer_v2")
    # exactly the original RoFormer-v2 names
    assert set(open_checkpoint(str(tmp_path / "saved.ckpt")).keys()) == layout


def test_roformer_v2_config_missing_a_key_names_it(tmp_path):
    cfg = dict(V2_CONFIG)
    del cfg["num_attention_heads"]
    (tmp_path / "bert_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="num_attention_heads"):
        build_transformer_model(str(tmp_path / "bert_config.json"), model="roformer_v2")


def test_export_to_huggingface_folder_loads_in_transformers(mlm_dir, tmp_path):
    path, hf = mlm_dir
    token_ids, segment_ids = padded_batch(LENGTHS, TINY["vocab_size"], segments=3, seed=4)
    roformer, _, _ = sequence_and_mlm(path, token_ids, segment_ids)
    roformer.save_weights_as_huggingface(tmp_path / "export")
    reloaded = transformers.RoFormerForMaskedLM.from_pretrained(tmp_path / "export").eval()
    with torch.no_grad():
        expected = hf(**hf_inputs(token_ids, segment_ids)).logits
        actual = reloaded(**hf_inputs(token_ids, segment_ids)).logits
    assert_close(torch_numpy(actual), torch_numpy(expected), atol=1e-6, what="re-exported logits")


def test_roformer_v2_keep_tokens_slices_the_vocabulary(tmp_path):
    w = random_v2_checkpoint(tmp_path, V2_CONFIG, seed=1)
    keep = [0, 100, 3, 57]
    model = build_transformer_model(
        str(tmp_path / "bert_config.json"),
        str(tmp_path / "bert_model.ckpt"),
        model="roformer_v2",
        with_mlm="linear",
        keep_tokens=keep,
    )
    token_ids = np.array([[1, 2, 3, 0]], dtype="int32")  # new ids index into keep
    logits = to_numpy(model([token_ids, np.zeros_like(token_ids)]))
    assert logits.shape == (1, 4, len(keep))
    sequence, full_logits = np_roformer_v2(w, np.array([[100, 3, 57, 0]]), np.zeros((1, 4), int), V2_CONFIG)
    assert_close(logits[:, :3], full_logits[:, :3][..., keep], atol=1e-3, what="kept-token logits")


def test_a_changed_rotary_table_in_a_huggingface_folder_is_refused(tmp_path):
    """HF stores RoFormer's (frozen) sinusoid table; one that is not the sinusoid cannot be read silently."""
    hf = transformers.RoFormerModel(
        transformers.RoFormerConfig(**{**TINY, "num_hidden_layers": 1}, type_vocab_size=2)
    )
    with torch.no_grad():
        hf.encoder.embed_positions.weight.add_(0.1)
    hf.save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="embed_positions"):
        build_transformer_model(checkpoint_path=str(tmp_path), model="roformer")
