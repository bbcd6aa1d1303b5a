"""HuggingFace NEZHA (transformers 4.x ``NezhaModel``/``NezhaForMaskedLM``, prefix ``nezha.``) ↔ TF1 names.

Huawei's TF1 layout is Google BERT's without ``position_embeddings``, and the HF layout is
BERT's under ``nezha.``; the relative-position buffers HF stores
(``...relative_positions_encoding.positions_encoding``) are a fixed function of the
config and are not loaded. So the BERT map does the work on renamed keys.
"""
from . import bert as bert_names
from ..errors import CheckpointError


def _as_bert(name):
    return "bert." + name[len("nezha."):] if name.startswith("nezha.") else name


def hf_to_tf1(hf_keys, model):
    renamed = {_as_bert(name): name for name in hf_keys}
    try:
        table = bert_names.hf_to_tf1(renamed, model)
    except CheckpointError:
        sample = ", ".join(sorted(hf_keys)[:8])
        raise CheckpointError(f"not a NEZHA checkpoint: no 'nezha.embeddings.word_embeddings.weight' "
                              f"(or a BERT-style equivalent); first names: {sample}") from None
    return {tf1: (renamed[hf], transform) for tf1, (hf, transform) in table.items()}


def tf1_to_hf(tf1_names, model):
    table = bert_names.tf1_to_hf(tf1_names, model)
    return {("nezha." + hf[len("bert."):] if hf.startswith("bert.") else hf): entry
            for hf, entry in table.items()}
