"""HuggingFace RoFormer (``RoFormerModel``/``RoFormerForMaskedLM``, prefix ``roformer.``) ↔ TF1 names.

The TF1 layout is Google BERT's without ``position_embeddings`` (rotary positions have no
variables). HF's layout is BERT's under ``roformer.`` plus ``embeddings_project`` (the
factorised-embedding mapping, TF1 ``bert/encoder/embedding_hidden_mapping_in``); its
``encoder.embed_positions`` table is a fixed sinusoid and is not loaded.
"""

from ..errors import CheckpointError
from . import bert as bert_names
from . import find_prefix, transpose


def _as_bert(name):
    return "bert." + name[len("roformer.") :] if name.startswith("roformer.") else name


def hf_to_tf1(hf_keys, model):
    keys = set(hf_keys)
    renamed = {_as_bert(name): name for name in keys}
    try:
        table = bert_names.hf_to_tf1(renamed, model)
    except CheckpointError:
        sample = ", ".join(sorted(keys)[:8])
        raise CheckpointError(
            f"not a RoFormer checkpoint: no 'roformer.embeddings.word_embeddings.weight' "
            f"(or a BERT-style equivalent); first names: {sample}"
        ) from None
    table = {tf1: (renamed[hf], transform) for tf1, (hf, transform) in table.items()}
    prefix = find_prefix(keys, "embeddings_project.weight", ("roformer.", ""))
    if prefix is not None:
        mapping = "bert/encoder/embedding_hidden_mapping_in"
        table[f"{mapping}/kernel"] = (prefix + "embeddings_project.weight", transpose)
        table[f"{mapping}/bias"] = (prefix + "embeddings_project.bias", None)
    return table


def tf1_to_hf(tf1_names, model):
    table = {}
    for hf, entry in bert_names.tf1_to_hf(tf1_names, model).items():
        table["roformer." + hf[len("bert.") :] if hf.startswith("bert.") else hf] = entry
    for kind, suffix, transform in (("kernel", "weight", transpose), ("bias", "bias", None)):
        name = f"bert/encoder/embedding_hidden_mapping_in/{kind}"
        if name in tf1_names:
            table[f"roformer.embeddings_project.{suffix}"] = (name, transform)
    return table


def hf_config(model, hf_tensors):
    head = any(name.startswith("cls.") for name in hf_tensors)
    return {
        "architectures": ["RoFormerForMaskedLM" if head else "RoFormerModel"],
        "model_type": "roformer",
        "vocab_size": model.vocab_size,
        "embedding_size": model.embedding_size,
        "hidden_size": model.hidden_size,
        "num_hidden_layers": model.num_hidden_layers,
        "num_attention_heads": model.num_attention_heads,
        "intermediate_size": model.intermediate_size,
        "hidden_act": model.hidden_act,
        "max_position_embeddings": model.max_position,
        "type_vocab_size": model.segment_vocab_size,
        "rotary_value": False,
        "hidden_dropout_prob": model.dropout_rate,
        "attention_probs_dropout_prob": model.attention_dropout_rate,
        "layer_norm_eps": model.layer_norm_eps,
        "pad_token_id": model.pad_token_id,
        "initializer_range": 0.02,
        "tie_word_embeddings": True,
    }
