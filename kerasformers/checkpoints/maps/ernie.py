"""HuggingFace ERNIE (``ErnieModel`` / ``ErnieForPreTraining`` / ``ErnieForMaskedLM``) ↔ TF1-style names.

The body is BERT's layout under ``ernie.`` (HF) / ``ernie/`` (TF1), so the BERT map does the work on
renamed keys; the heads keep BERT's ``cls.`` / ``cls/`` names. ERNIE adds one table:
``ernie.embeddings.task_type_embeddings.weight`` ↔ ``ernie/embeddings/task_type_embeddings``.
"""

import numpy as np

from ..errors import CheckpointError
from . import bert as bert_names
from . import find_prefix

_TASK_TABLE = ("ernie/embeddings/task_type_embeddings", "embeddings.task_type_embeddings.weight")


def hf_to_tf1(hf_keys, model):
    keys = set(hf_keys)
    prefix = find_prefix(keys, "embeddings.word_embeddings.weight", ("ernie.", ""))
    if prefix is None:
        sample = ", ".join(sorted(keys)[:8])
        raise CheckpointError(
            f"not an ERNIE checkpoint: no 'ernie.embeddings.word_embeddings.weight'; first names: {sample}"
        )
    # the body under BERT's prefix, the cls. heads as they are (``prefix`` may be empty: a bare ErnieModel)
    as_bert = {
        (k if k.startswith("cls.") else "bert." + k[len(prefix) :]): k
        for k in keys
        if k.startswith((prefix, "cls."))
    }
    table = {
        tf1.replace("bert/", "ernie/", 1): (as_bert[hf], transform)
        for tf1, (hf, transform) in bert_names.hf_to_tf1(as_bert, model).items()
    }
    task_tf1, task_hf = _TASK_TABLE
    if prefix + task_hf in keys:
        table[task_tf1] = (prefix + task_hf, None)
    return table


def tf1_to_hf(tf1_names, model):
    """HF ``ErnieForPreTraining``-style names (``ernie.`` prefix, ``cls.`` heads)."""
    as_bert = {name.replace("ernie/", "bert/", 1): name for name in tf1_names}
    table = {}
    for hf, (bert_tf1, transform) in bert_names.tf1_to_hf(as_bert, model).items():
        table[hf.replace("bert.", "ernie.", 1)] = (as_bert[bert_tf1], transform)
    task_tf1, task_hf = _TASK_TABLE
    if task_tf1 in tf1_names:
        table["ernie." + task_hf] = (task_tf1, None)
    return table


def export_extras(tensors, model):
    """HF ERNIE always has a segment table; a model built without one exports zeros (see BERT)."""
    if "ernie/embeddings/token_type_embeddings" in tensors:
        return {}
    return {"ernie.embeddings.token_type_embeddings.weight": np.zeros((1, model.embedding_size), "float32")}


def hf_config(model, hf_tensors):
    config = bert_names.hf_config(
        model,
        {"bert." + k[len("ernie.") :] if k.startswith("ernie.") else k: v for k, v in hf_tensors.items()},
    )
    config["architectures"] = [config["architectures"][0].replace("Bert", "Ernie")]
    config.update(
        model_type="ernie", use_task_id=model.use_task_id, task_type_vocab_size=model.task_type_vocab_size
    )
    return config
