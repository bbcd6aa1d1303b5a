"""HuggingFace NEZHA (transformers 4.x ``NezhaModel``/``NezhaForMaskedLM``, prefix ``nezha.``) ↔ TF1 names.

Huawei's TF1 layout is Google BERT's without ``position_embeddings``, and the HF layout is
BERT's under ``nezha.``; the relative-position buffers HF stores
(``...relative_positions_encoding.positions_encoding``) are a fixed function of the
config and are not loaded. So the BERT map does the work on renamed keys.
"""

from ..errors import CheckpointError
from . import bert as bert_names


def _as_bert(name):
    return "bert." + name[len("nezha.") :] if name.startswith("nezha.") else name


def hf_to_tf1(hf_keys, model):
    renamed = {_as_bert(name): name for name in hf_keys}
    try:
        table = bert_names.hf_to_tf1(renamed, model)
    except CheckpointError:
        sample = ", ".join(sorted(hf_keys)[:8])
        raise CheckpointError(
            f"not a NEZHA checkpoint: no 'nezha.embeddings.word_embeddings.weight' "
            f"(or a BERT-style equivalent); first names: {sample}"
        ) from None
    return {tf1: (renamed[hf], transform) for tf1, (hf, transform) in table.items()}


def tf1_to_hf(tf1_names, model):
    table = bert_names.tf1_to_hf(tf1_names, model)
    return {
        ("nezha." + hf[len("bert.") :] if hf.startswith("bert.") else hf): entry
        for hf, entry in table.items()
    }


def hf_config(model, hf_tensors):
    """transformers 4.x ``NezhaConfig`` (the model class left transformers in v5)."""
    head = any(name.startswith("cls.") for name in hf_tensors)
    return {
        "architectures": ["NezhaForMaskedLM" if head else "NezhaModel"],
        "model_type": "nezha",
        "vocab_size": model.vocab_size,
        "hidden_size": model.hidden_size,
        "num_hidden_layers": model.num_hidden_layers,
        "num_attention_heads": model.num_attention_heads,
        "intermediate_size": model.intermediate_size,
        "hidden_act": model.hidden_act,
        "max_position_embeddings": model.max_position,
        "max_relative_position": model.max_relative_position,
        "use_relative_position": True,
        "type_vocab_size": model.segment_vocab_size,
        "hidden_dropout_prob": model.dropout_rate,
        "attention_probs_dropout_prob": model.attention_dropout_rate,
        "layer_norm_eps": model.layer_norm_eps,
        "pad_token_id": model.pad_token_id,
        "initializer_range": 0.02,
    }
