"""HuggingFace ELECTRA (``ElectraForPreTraining``/``ElectraForMaskedLM``/``ElectraModel``) ↔ Google ELECTRA TF1 names.

The body is BERT's layout under ``electra.`` (HF) / ``electra/`` (TF1), so the BERT map does
it on renamed keys. The rest: ``embeddings_project`` (factorised embeddings), the
discriminator head ``discriminator_predictions.{dense,dense_prediction}`` (TF1
``discriminator_predictions/{dense,dense_1}``) and the generator head
``generator_predictions.{dense,LayerNorm}`` + ``generator_lm_head.bias`` (TF1
``generator_predictions/{dense,LayerNorm,output_bias}``).
"""

from ..errors import CheckpointError
from . import bert as bert_names
from . import find_prefix
from .bert import _dense, _layer_norm

_HEADS = {  # TF1 → HF, dense layers
    "discriminator_predictions/dense": "discriminator_predictions.dense",
    "discriminator_predictions/dense_1": "discriminator_predictions.dense_prediction",
    "generator_predictions/dense": "generator_predictions.dense",
}


def hf_to_tf1(hf_keys, model):
    keys = set(hf_keys)
    prefix = find_prefix(keys, "embeddings.word_embeddings.weight", ("electra.", ""))
    if prefix is None:
        sample = ", ".join(sorted(keys)[:8])
        raise CheckpointError(
            f"not an ELECTRA checkpoint: no 'electra.embeddings.word_embeddings.weight'; "
            f"first names: {sample}"
        )
    body = {"bert." + k[len(prefix) :]: k for k in keys if k.startswith(prefix)}
    table = {
        tf1.replace("bert/", "electra/", 1): (body[hf], transform)
        for tf1, (hf, transform) in bert_names.hf_to_tf1(body, model).items()
        if tf1.startswith("bert/")
    }
    _dense(table, "electra/embeddings_project", prefix + "embeddings_project")
    for tf1, hf in _HEADS.items():
        _dense(table, tf1, hf)
    _layer_norm(table, "generator_predictions/LayerNorm", "generator_predictions.LayerNorm", keys)
    table["generator_predictions/output_bias"] = ("generator_lm_head.bias", None)
    return {tf1: entry for tf1, entry in table.items() if entry[0] in keys}


def tf1_to_hf(tf1_names, model):
    """HF ``ElectraForPreTraining``/``ElectraForMaskedLM``-style names (``electra.`` prefix)."""
    every = {"electra." + name for name in bert_names._all_hf_names(model)}
    every |= {
        "electra.embeddings.word_embeddings.weight",
        "electra.embeddings_project.weight",
        "electra.embeddings_project.bias",
        "generator_predictions.LayerNorm.weight",
        "generator_predictions.LayerNorm.bias",
        "generator_lm_head.bias",
    }
    every |= {f"{hf}.{kind}" for hf in _HEADS.values() for kind in ("weight", "bias")}
    forward = hf_to_tf1(every, model)
    return {forward[tf1][0]: (tf1, forward[tf1][1]) for tf1 in tf1_names if tf1 in forward}


def hf_config(model, hf_tensors):
    if any(name.startswith("discriminator_predictions.") for name in hf_tensors):
        architecture = "ElectraForPreTraining"
    elif any(name.startswith("generator_") for name in hf_tensors):
        architecture = "ElectraForMaskedLM"
    else:
        architecture = "ElectraModel"
    return {
        "architectures": [architecture],
        "model_type": "electra",
        "vocab_size": model.vocab_size,
        "embedding_size": model.embedding_size,
        "hidden_size": model.hidden_size,
        "num_hidden_layers": model.num_hidden_layers,
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
