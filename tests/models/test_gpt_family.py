"""GPT and GPT2_ML against NumPy reference forwards written from the papers' block
equations, reading the weights under their original TF1 names (so the name mapping is
checked too); GPT also against HuggingFace's OpenAI-GPT."""

import math

import numpy as np
import pytest
import torch

from kerasformers.checkpoints import open_checkpoint
from kerasformers.models import build_transformer_model

from ..layouts import layout_shapes
from .helpers import assert_close, randomize_parameters, to_numpy, torch_numpy

TINY = dict(
    vocab_size=131,
    hidden_size=48,
    num_hidden_layers=2,
    num_attention_heads=3,
    intermediate_size=37,
    hidden_act="gelu",
    max_position_embeddings=40,
)
_erf = np.vectorize(math.erf)


def gelu(x):
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def causal_attention(x, w, prefix, names, heads=3):
    """names: TF1 (query, key, value, output) layer prefixes under `prefix`."""
    q, k, v, o = (prefix + n for n in names)
    b, t, d = x.shape
    split = lambda y: y.reshape(b, t, heads, d // heads).transpose(0, 2, 1, 3)
    qh = split(x @ w[q + "/kernel"] + w[q + "/bias"])
    kh = split(x @ w[k + "/kernel"] + w[k + "/bias"])
    vh = split(x @ w[v + "/kernel"] + w[v + "/bias"])
    scores = qh @ kh.transpose(0, 1, 3, 2) / math.sqrt(d // heads)
    scores = np.where(np.tril(np.ones((t, t), bool)), scores, -1e30)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    out = (probs @ vh).transpose(0, 2, 1, 3).reshape(b, t, d)
    return out @ w[o + "/kernel"] + w[o + "/bias"]


def dense(x, w, name):
    return x @ w[name + "/kernel"] + w[name + "/bias"]


def gpt_reference(ids, w):
    """OpenAI GPT: post-LN blocks, no embedding LayerNorm, tied head."""
    x = w["gpt/embeddings/word_embeddings"][ids] + w["gpt/embeddings/position_embeddings"][: ids.shape[1]]
    for i in range(TINY["num_hidden_layers"]):
        p = f"gpt/transformer/layer_{i}/"
        a = causal_attention(
            x,
            w,
            p,
            ("attention/self/query", "attention/self/key", "attention/self/value", "attention/output/dense"),
        )
        x = layer_norm(
            x + a, w[p + "attention/output/LayerNorm/gamma"], w[p + "attention/output/LayerNorm/beta"]
        )
        f = dense(gelu(dense(x, w, p + "intermediate/dense")), w, p + "output/dense")
        x = layer_norm(x + f, w[p + "output/LayerNorm/gamma"], w[p + "output/LayerNorm/beta"])
    return x @ w["gpt/embeddings/word_embeddings"].T


def gpt2_ml_reference(ids, w):
    """GPT2_ML: embedding LN; h = x + Attn(x); out = LN1(h + FFN(LN0(h)))."""
    x = w["newslm/embeddings/word_embed"][ids] + w["newslm/embeddings/pos_embed"][: ids.shape[1]]
    x = layer_norm(
        x, w["newslm/embeddings/LayerNorm_embed_norm/gamma"], w["newslm/embeddings/LayerNorm_embed_norm/beta"]
    )
    for i in range(TINY["num_hidden_layers"]):
        p = f"newslm/layer{i:02d}/"
        h = x + causal_attention(
            x, w, p, ("query_layer", "key_layer", "value_layer", "context_projection_layer")
        )
        f = layer_norm(h, w[p + "LayerNorm_mlp_ln0/gamma"], w[p + "LayerNorm_mlp_ln0/beta"])
        f = dense(gelu(dense(f, w, p + "intermediate")), w, p + "output")
        x = layer_norm(h + f, w[p + "LayerNorm_mlp_ln1/gamma"], w[p + "LayerNorm_mlp_ln1/beta"])
    return x @ w["newslm/embeddings/word_embed"].T


def randomised(model_key, seed=0, **kwargs):
    """A tiny model whose weights are all N(0, 0.3) (LayerNorm gains around 1)."""
    model = build_transformer_model(
        model=model_key,
        final_activation="linear",
        return_keras_model=False,
        **{"max_position": 40, **TINY, **kwargs},
    )
    rng = np.random.default_rng(seed)
    for variable in model.model.weights:
        value = rng.normal(0, 0.3, size=variable.shape)
        if "gamma" in variable.path:
            value += 1
        variable.assign(value.astype("float32"))
    return model


@pytest.mark.parametrize("key,reference", [("gpt", gpt_reference), ("gpt2_ml", gpt2_ml_reference)])
def test_forward_matches_numpy_reference(key, reference, tmp_path):
    model = randomised(key)
    ids = np.random.default_rng(1).integers(1, 131, size=(2, 9)).astype("int32")
    weights = {k: v.astype("float64") for k, v in model.named_weights().items()}
    assert_close(to_numpy(model.model(ids)), reference(ids, weights), atol=1e-4, what=key)
    # the TF1 checkpoint it writes has exactly the original layout's names and shapes
    prefix = str(tmp_path / "model.ckpt")
    model.save_weights_as_checkpoint(prefix)
    reader = open_checkpoint(prefix)
    expected = {n: s for n, s in layout_shapes(key).items() if "token_type" not in n}
    assert {n: tuple(reader.shape(n)) for n in reader.keys()} == expected


def test_gpt_matches_transformers_openai_gpt(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.OpenAIGPTConfig(
        vocab_size=131,
        n_embd=48,
        n_layer=2,
        n_head=3,
        n_positions=40,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        initializer_range=0.2,
    )
    hf_model = randomize_parameters(transformers.OpenAIGPTLMHeadModel(config).eval())
    hf_model.save_pretrained(tmp_path)
    model = build_transformer_model(checkpoint_path=str(tmp_path), model="gpt", final_activation="linear")
    ids = np.random.default_rng(2).integers(1, 131, size=(2, 10)).astype("int32")
    with torch.no_grad():
        expected = torch_numpy(hf_model(torch.tensor(ids, dtype=torch.long)).logits)
    # Post-LN GPT with std-0.25 weights reaches activations in the tens: float32 rounding then differs
    # between kernels by ~3e-4 of the largest logit (seen on the torch backend), so allow 5e-4.
    assert_close(to_numpy(model(ids)), expected, atol=5e-4, what="openai-gpt logits")


def test_gpt2_ml_rejects_a_huggingface_file(tmp_path):
    from kerasformers.checkpoints import CheckpointError, write_safetensors

    path = str(tmp_path / "model.safetensors")
    write_safetensors(path, {"transformer.wte.weight": np.zeros((131, 48), "float32")})
    with pytest.raises(CheckpointError, match="GPT2_ML"):
        build_transformer_model(checkpoint_path=path, model="gpt2_ml", max_position=40, **TINY)
