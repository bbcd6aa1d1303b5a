"""HuggingFace GPT-2 names ↔ bert4keras's TF1 GPT-2 names (`gpt/...`).

HF GPT-2 uses `Conv1D`, whose weights are already stored (in, out) like TF1 kernels, so
no transpose is needed; but query/key/value live in one fused `c_attn` (hidden, 3·hidden)
that is split into thirds on the way in and concatenated on the way out.
"""

import numpy as np

from . import find_prefix

_LAYER_NORMS = {  # TF1 LayerNorm under gpt/transformer/layer_i/ → HF under h.i.
    "attention/input/LayerNorm": "ln_1",  # before attention (pre-LN)
    "input/LayerNorm": "ln_2",  # before the feed-forward
}
_DENSES = {
    "attention/output/dense": "attn.c_proj",
    "intermediate/dense": "mlp.c_fc",
    "output/dense": "mlp.c_proj",
}


def _third(index):
    def take(array):
        size = array.shape[-1] // 3
        return np.ascontiguousarray(array[..., index * size : (index + 1) * size])

    return take


def block_table(tf1, hf, layer_norms):
    """TF1 → HF names of one GPT / GPT-2 block (``tf1``, ``hf``: the block's name prefixes)."""
    table = {}
    for index, part in enumerate(("query", "key", "value")):
        table[f"{tf1}attention/self/{part}/kernel"] = (hf + "attn.c_attn.weight", _third(index))
        table[f"{tf1}attention/self/{part}/bias"] = (hf + "attn.c_attn.bias", _third(index))
    for tf1_part, hf_part in layer_norms.items():
        table[f"{tf1}{tf1_part}/gamma"] = (f"{hf}{hf_part}.weight", None)
        table[f"{tf1}{tf1_part}/beta"] = (f"{hf}{hf_part}.bias", None)
    for tf1_part, hf_part in _DENSES.items():
        table[f"{tf1}{tf1_part}/kernel"] = (f"{hf}{hf_part}.weight", None)
        table[f"{tf1}{tf1_part}/bias"] = (f"{hf}{hf_part}.bias", None)
    return table


def hf_to_tf1(hf_keys, model):
    keys = set(hf_keys)
    prefix = find_prefix(keys, "wte.weight", ("", "transformer."))
    if prefix is None:
        from ..errors import CheckpointError

        raise CheckpointError("not a GPT-2 checkpoint: no 'wte.weight' or 'transformer.wte.weight'")
    table = {
        "gpt/embeddings/word_embeddings": (prefix + "wte.weight", None),
        "gpt/embeddings/position_embeddings": (prefix + "wpe.weight", None),
        "gpt/output/LayerNorm/gamma": (prefix + "ln_f.weight", None),
        "gpt/output/LayerNorm/beta": (prefix + "ln_f.bias", None),
    }
    for i in range(model.num_hidden_layers):
        tf1, hf = f"gpt/transformer/layer_{i}/", f"{prefix}h.{i}."
        table.update(block_table(tf1, hf, _LAYER_NORMS))
    return {tf1: entry for tf1, entry in table.items() if entry[0] in keys}


def tf1_to_hf(tf1_names, model):
    """HF `GPT2LMHeadModel` names (`transformer.` prefix) for an export, except the fused
    `c_attn` tensors, which `export_extras` concatenates from query/key/value."""
    names = set(tf1_names)
    forward = hf_to_tf1(_all_hf_names(model), model)
    return {hf: (tf1, None) for tf1, (hf, _) in forward.items() if tf1 in names and "c_attn" not in hf}


def export_extras(tensors, model):
    """The fused `c_attn` weight/bias of every layer: [query | key | value] on the last axis."""
    extras = {}
    for i in range(model.num_hidden_layers):
        block = f"gpt/transformer/layer_{i}/attention/self/"
        for kind, hf_kind in (("kernel", "weight"), ("bias", "bias")):
            parts = [tensors[f"{block}{part}/{kind}"] for part in ("query", "key", "value")]
            extras[f"transformer.h.{i}.attn.c_attn.{hf_kind}"] = np.concatenate(parts, axis=-1)
    return extras


def hf_config(model, hf_tensors):
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": model.vocab_size,
        "n_embd": model.hidden_size,
        "n_layer": model.num_hidden_layers,
        "n_head": model.num_attention_heads,
        "n_inner": model.intermediate_size,
        "n_positions": model.max_position,
        "activation_function": model.hidden_act,
        "layer_norm_epsilon": model.layer_norm_eps,
        "resid_pdrop": model.dropout_rate,
        "embd_pdrop": model.dropout_rate,
        "attn_pdrop": model.attention_dropout_rate,
        "tie_word_embeddings": True,
    }


def _all_hf_names(model):
    names = {f"transformer.{n}" for n in ("wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias")}
    for i in range(model.num_hidden_layers):
        for part in ("ln_1", "ln_2", "attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"):
            names |= {f"transformer.h.{i}.{part}.weight", f"transformer.h.{i}.{part}.bias"}
    return names
