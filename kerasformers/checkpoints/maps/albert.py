"""HuggingFace ALBERT (``AlbertModel``/``AlbertForMaskedLM``, prefix ``albert.``) ↔ Google ALBERT TF1 names.

Google/brightmart ALBERT keeps its single shared block under
``bert/encoder/transformer/group_0/inner_group_0/``; HF stores the same block under
``encoder.albert_layer_groups.0.albert_layers.0.``. Only one group with one inner layer
(every released ALBERT) is supported; more is reported as an error.
"""

from ..errors import CheckpointError
from . import find_prefix
from .bert import _dense, _layer_norm

_SHARED_TF1 = "bert/encoder/transformer/group_0/inner_group_0/"
_SHARED_HF = "encoder.albert_layer_groups.0.albert_layers.0."
_BLOCK = {  # TF1 suffix → HF suffix, inside the shared block
    "attention_1/self/query": "attention.query",
    "attention_1/self/key": "attention.key",
    "attention_1/self/value": "attention.value",
    "attention_1/output/dense": "attention.dense",
    "LayerNorm": "attention.LayerNorm",
    "ffn_1/intermediate/dense": "ffn",
    "ffn_1/intermediate/output/dense": "ffn_output",
    "LayerNorm_1": "full_layer_layer_norm",
}
_OUTSIDE = {  # TF1 → (HF name, whether it sits under the model prefix; heads do not)
    "bert/embeddings/LayerNorm": ("embeddings.LayerNorm", True),
    "bert/encoder/embedding_hidden_mapping_in": ("encoder.embedding_hidden_mapping_in", True),
    "bert/pooler/dense": ("pooler", True),
    "cls/predictions/transform/dense": ("predictions.dense", False),
    "cls/predictions/transform/LayerNorm": ("predictions.LayerNorm", False),
}


def hf_to_tf1(hf_keys, model):
    keys = set(hf_keys)
    prefix = find_prefix(keys, _SHARED_HF + "ffn.weight", ("albert.", ""))
    if prefix is None:
        sample = ", ".join(sorted(keys)[:8])
        raise CheckpointError(
            f"not an ALBERT checkpoint: no 'albert.{_SHARED_HF}ffn.weight'; first names: {sample}"
        )
    extra = sorted(k for k in keys if ".albert_layer_groups." in k and not k.startswith(prefix + _SHARED_HF))
    if extra:
        raise CheckpointError(
            f"ALBERT checkpoints with more than one layer group / inner layer are not "
            f"supported; unexpected variables: {', '.join(extra[:6])}"
        )
    table = {
        f"bert/embeddings/{kind}": (f"{prefix}embeddings.{kind}.weight", None)
        for kind in ("word_embeddings", "position_embeddings", "token_type_embeddings")
    }
    for tf1, (hf, in_body) in _OUTSIDE.items():
        hf = prefix + hf if in_body else hf
        (_layer_norm(table, tf1, hf, keys) if "LayerNorm" in tf1 else _dense(table, tf1, hf))
    for tf1, hf in _BLOCK.items():
        tf1, hf = _SHARED_TF1 + tf1, prefix + _SHARED_HF + hf
        (
            _layer_norm(table, tf1, hf, keys)
            if tf1.endswith("LayerNorm") or tf1.endswith("LayerNorm_1")
            else _dense(table, tf1, hf)
        )
    bias = "predictions.bias" if "predictions.bias" in keys else "predictions.decoder.bias"
    table["cls/predictions/output_bias"] = (bias, None)
    return {tf1: entry for tf1, entry in table.items() if entry[0] in keys}


def tf1_to_hf(tf1_names, model):
    """HF ``AlbertForMaskedLM``-style names (``albert.`` prefix, ``predictions.`` head)."""
    every = {
        f"albert.embeddings.{kind}.weight"
        for kind in ("word_embeddings", "position_embeddings", "token_type_embeddings")
    }
    every |= {"predictions.bias"}
    for hf, in_body in _OUTSIDE.values():
        hf = "albert." + hf if in_body else hf
        every |= {hf + ".weight", hf + ".bias"}
    for hf in _BLOCK.values():
        every |= {f"albert.{_SHARED_HF}{hf}.weight", f"albert.{_SHARED_HF}{hf}.bias"}
    forward = hf_to_tf1(every, model)
    return {forward[tf1][0]: (tf1, forward[tf1][1]) for tf1 in tf1_names if tf1 in forward}


def hf_config(model, hf_tensors):
    head = any(name.startswith("predictions.") for name in hf_tensors)
    return {
        "architectures": ["AlbertForMaskedLM" if head else "AlbertModel"],
        "model_type": "albert",
        "vocab_size": model.vocab_size,
        "embedding_size": model.embedding_size,
        "hidden_size": model.hidden_size,
        "num_hidden_layers": model.num_hidden_layers,
        "num_hidden_groups": 1,
        "inner_group_num": 1,
        "num_attention_heads": model.num_attention_heads,
        "intermediate_size": model.intermediate_size,
        "hidden_act": model.hidden_act,
        "max_position_embeddings": model.max_position,
        "type_vocab_size": model.segment_vocab_size,
        "hidden_dropout_prob": model.dropout_rate,
        "attention_probs_dropout_prob": model.attention_dropout_rate,
        "layer_norm_eps": model.layer_norm_eps,
        "pad_token_id": model.pad_token_id,
        "initializer_range": 0.02,
        "tie_word_embeddings": True,
    }
