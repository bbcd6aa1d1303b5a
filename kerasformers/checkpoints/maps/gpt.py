"""HuggingFace OpenAI-GPT names ↔ bert4keras's TF1 GPT names (`gpt/...`, BERT-like).

Like GPT-2, HF stores `Conv1D` weights (in, out) with a fused `c_attn` split into
query/key/value thirds. GPT is post-LN: `ln_1` follows attention, `ln_2` the
feed-forward. HF's OpenAI-GPT embeds segment ids with the token table (CDial-GPT style:
build with `shared_segment_embeddings=True`), so there is no separate segment table.
"""

from . import find_prefix
from .gpt2 import block_table
from .gpt2 import export_extras as gpt2_extras

_LAYER_NORMS = {"attention/output/LayerNorm": "ln_1", "output/LayerNorm": "ln_2"}


def hf_to_tf1(hf_keys, model):
    keys = set(hf_keys)
    prefix = find_prefix(keys, "tokens_embed.weight", ("", "transformer."))
    if prefix is None:
        from ..errors import CheckpointError

        raise CheckpointError("not an OpenAI-GPT checkpoint: no 'tokens_embed.weight'")
    table = {
        "gpt/embeddings/word_embeddings": (prefix + "tokens_embed.weight", None),
        "gpt/embeddings/position_embeddings": (prefix + "positions_embed.weight", None),
    }
    for i in range(model.num_hidden_layers):
        tf1, hf = f"gpt/transformer/layer_{i}/", f"{prefix}h.{i}."
        table.update(block_table(tf1, hf, _LAYER_NORMS))
    return {tf1: entry for tf1, entry in table.items() if entry[0] in keys}


def tf1_to_hf(tf1_names, model):
    """HF `OpenAIGPTLMHeadModel` names; the fused `c_attn` comes from `export_extras`."""
    names = set(tf1_names)
    forward = hf_to_tf1(_all_hf_names(model), model)
    return {hf: (tf1, None) for tf1, (hf, _) in forward.items() if tf1 in names and "c_attn" not in hf}


def export_extras(tensors, model):
    return gpt2_extras(tensors, model)


def hf_config(model, hf_tensors):
    return {
        "architectures": ["OpenAIGPTLMHeadModel"],
        "model_type": "openai-gpt",
        "vocab_size": model.vocab_size,
        "n_embd": model.hidden_size,
        "n_layer": model.num_hidden_layers,
        "n_head": model.num_attention_heads,
        "n_positions": model.max_position,
        "afn": model.hidden_act,
        "layer_norm_epsilon": model.layer_norm_eps,
        "resid_pdrop": model.dropout_rate,
        "embd_pdrop": model.dropout_rate,
        "attn_pdrop": model.attention_dropout_rate,
    }


def _all_hf_names(model):
    names = {"transformer.tokens_embed.weight", "transformer.positions_embed.weight"}
    for i in range(model.num_hidden_layers):
        for part in ("ln_1", "ln_2", "attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"):
            names |= {f"transformer.h.{i}.{part}.weight", f"transformer.h.{i}.{part}.bias"}
    return names
