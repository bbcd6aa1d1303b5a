"""HuggingFace BERT / RoBERTa names ↔ Google BERT TF1 names.

torch ``nn.Linear`` stores weights as (out, in); TF1 kernels are (in, out), hence the
transposes. RoBERTa's position table starts at ``pad_token_id + 1`` (rows below are
never used by right-padded inputs), so its first rows are dropped on the way in.
"""

import numpy as np

from . import find_prefix, transpose

_LAYER_PARTS = {  # TF1 suffix under bert/encoder/layer_i/ → HF suffix under encoder.layer.i.
    "attention/self/query": "attention.self.query",
    "attention/self/key": "attention.self.key",
    "attention/self/value": "attention.self.value",
    "attention/output/dense": "attention.output.dense",
    "attention/output/LayerNorm": "attention.output.LayerNorm",
    "intermediate/dense": "intermediate.dense",
    "output/dense": "output.dense",
    "output/LayerNorm": "output.LayerNorm",
}
_HEAD_PARTS = {  # TF1 head layer → HF head layer, for the BERT and RoBERTa head layouts
    "bert": {
        "cls/predictions/transform/dense": "cls.predictions.transform.dense",
        "cls/predictions/transform/LayerNorm": "cls.predictions.transform.LayerNorm",
    },
    "roberta": {
        "cls/predictions/transform/dense": "lm_head.dense",
        "cls/predictions/transform/LayerNorm": "lm_head.layer_norm",
    },
}


def _dense(table, tf1, hf):
    table[f"{tf1}/kernel"] = (f"{hf}.weight", transpose)
    table[f"{tf1}/bias"] = (f"{hf}.bias", None)


def _layer_norm(table, tf1, hf, keys):
    # transformers ≥ 4 writes weight/bias; older checkpoints wrote gamma/beta.
    gamma, beta = ("gamma", "beta") if f"{hf}.gamma" in keys else ("weight", "bias")
    table[f"{tf1}/gamma"] = (f"{hf}.{gamma}", None)
    table[f"{tf1}/beta"] = (f"{hf}.{beta}", None)


def _offset_rows(offset):
    return lambda array: array[offset:]


def hf_to_tf1(hf_keys, model):
    keys = set(hf_keys)
    prefix = find_prefix(keys, "embeddings.word_embeddings.weight", ("", "bert.", "roberta.", "model."))
    if prefix is None:
        raise_unmatched(hf_keys)
    flavour = "roberta" if prefix == "roberta." or "lm_head.bias" in keys else "bert"
    table = {
        "bert/embeddings/word_embeddings": (prefix + "embeddings.word_embeddings.weight", None),
        "bert/embeddings/token_type_embeddings": (prefix + "embeddings.token_type_embeddings.weight", None),
    }
    positions = prefix + "embeddings.position_embeddings.weight"
    offset = getattr(model, "hf_position_offset", None)
    if offset is None:
        offset = model.pad_token_id + 1 if prefix == "roberta." else 0
    table["bert/embeddings/position_embeddings"] = (positions, _offset_rows(offset) if offset else None)
    _layer_norm(table, "bert/embeddings/LayerNorm", prefix + "embeddings.LayerNorm", keys)
    for i in range(model.num_hidden_layers):
        for tf1_part, hf_part in _LAYER_PARTS.items():
            tf1, hf = f"bert/encoder/layer_{i}/{tf1_part}", f"{prefix}encoder.layer.{i}.{hf_part}"
            (_layer_norm(table, tf1, hf, keys) if "LayerNorm" in tf1_part else _dense(table, tf1, hf))
    _dense(table, "bert/pooler/dense", prefix + "pooler.dense")
    for tf1, hf in _HEAD_PARTS[flavour].items():
        (_layer_norm(table, tf1, hf, keys) if "LayerNorm" in tf1 else _dense(table, tf1, hf))
    bias = "lm_head.bias" if flavour == "roberta" else "cls.predictions.bias"
    if bias not in keys:
        bias = "cls.predictions.decoder.bias"
    table["cls/predictions/output_bias"] = (bias, None)
    table["cls/seq_relationship/output_weights"] = ("cls.seq_relationship.weight", None)  # both (2, hidden)
    table["cls/seq_relationship/output_bias"] = ("cls.seq_relationship.bias", None)
    return {tf1: entry for tf1, entry in table.items() if entry[0] in keys}


def tf1_to_hf(tf1_names, model):
    """HF ``BertForPreTraining``-style names for an export (``bert.`` prefix, ``cls.`` heads)."""
    placeholder = {"embeddings.word_embeddings.weight"}
    forward = hf_to_tf1(_all_hf_names(model) | placeholder, model)
    table = {}
    for tf1 in tf1_names:
        if tf1 in forward:
            hf, transform = forward[tf1]
            if tf1 == "bert/embeddings/position_embeddings":
                transform = None  # exports use BERT's layout: position 0 is row 0
            table["bert." + hf if not hf.startswith("cls.") else hf] = (tf1, transform)
    return table


def _all_hf_names(model):
    """Every HF name a BERT of this shape can have (without prefix), for the export table."""
    names = {
        "embeddings.token_type_embeddings.weight",
        "embeddings.position_embeddings.weight",
        "embeddings.LayerNorm.weight",
        "embeddings.LayerNorm.bias",
        "pooler.dense.weight",
        "pooler.dense.bias",
        "cls.predictions.transform.dense.weight",
        "cls.predictions.transform.dense.bias",
        "cls.predictions.transform.LayerNorm.weight",
        "cls.predictions.transform.LayerNorm.bias",
        "cls.predictions.bias",
        "cls.seq_relationship.weight",
        "cls.seq_relationship.bias",
    }
    for i in range(model.num_hidden_layers):
        for hf_part in _LAYER_PARTS.values():
            names |= {f"encoder.layer.{i}.{hf_part}.weight", f"encoder.layer.{i}.{hf_part}.bias"}
    return names


def raise_unmatched(hf_keys):
    from ..errors import CheckpointError

    sample = ", ".join(sorted(hf_keys)[:8])
    raise CheckpointError(
        f"these variables do not look like a BERT/RoBERTa checkpoint "
        f"(no embeddings.word_embeddings.weight under any known prefix); "
        f"first names: {sample}"
    )


def export_extras(tensors, model):
    """Variables HF requires that a kerasformers BERT may not have."""
    extras = {}
    if "bert/embeddings/token_type_embeddings" not in tensors:
        # segment_vocab_size=0: segment 0's vector was folded into the positions at load.
        extras["bert.embeddings.token_type_embeddings.weight"] = np.zeros(
            (1, model.embedding_size), dtype="float32"
        )
    return extras


def hf_config(model, hf_tensors):
    heads = [name for name in hf_tensors if name.startswith("cls.")]
    architecture = "BertForPreTraining" if heads else "BertModel"
    type_vocab = hf_tensors["bert.embeddings.token_type_embeddings.weight"].shape[0]
    return {
        "architectures": [architecture],
        "model_type": "bert",
        "vocab_size": model.vocab_size,
        "hidden_size": model.hidden_size,
        "num_hidden_layers": model.num_hidden_layers,
        "num_attention_heads": model.num_attention_heads,
        "intermediate_size": model.intermediate_size,
        "hidden_act": model.hidden_act,
        "max_position_embeddings": model.max_position,
        "type_vocab_size": type_vocab,
        "hidden_dropout_prob": model.dropout_rate,
        "attention_probs_dropout_prob": model.attention_dropout_rate,
        "layer_norm_eps": model.layer_norm_eps,
        "pad_token_id": model.pad_token_id,
        "initializer_range": 0.02,
        "tie_word_embeddings": True,
    }
