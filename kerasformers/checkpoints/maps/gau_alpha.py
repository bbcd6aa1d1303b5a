"""GAU-α PyTorch layout (bert4torch's conversion of the released checkpoint) ↔ TF1 names.

``transformers`` has no GAU-α; the PyTorch weights in circulation use bert4torch names:
``embeddings.word_embeddings.weight``, ``embeddings.segment_embeddings.weight``,
``encoderLayer.{i}.gau.{i,o}_dense.weight`` (torch Linear, (out, in)) and
``encoderLayer.{i}.gau.offsetscale.gamma`` (2, key_size) = the q and k gains stacked,
TF1 ``GAU_alpha/encoder/layer_{i}/gau/{q,k}_scaleoffset/gamma``.
"""

import numpy as np

from ..errors import CheckpointError
from . import transpose


def _row(index):
    return lambda array: np.ascontiguousarray(array[index])


def hf_to_tf1(hf_keys, model):
    keys = set(hf_keys)
    if "embeddings.word_embeddings.weight" not in keys or "encoderLayer.0.gau.i_dense.weight" not in keys:
        sample = ", ".join(sorted(keys)[:8])
        raise CheckpointError(
            f"not a GAU-α checkpoint: expected 'embeddings.word_embeddings.weight' and "
            f"'encoderLayer.0.gau.i_dense.weight'; first names: {sample}"
        )
    table = {
        "bert/embeddings/word_embeddings": ("embeddings.word_embeddings.weight", None),
        "bert/embeddings/token_type_embeddings": ("embeddings.segment_embeddings.weight", None),
    }
    for i in range(model.num_hidden_layers):
        tf1, hf = f"GAU_alpha/encoder/layer_{i}/gau/", f"encoderLayer.{i}.gau."
        table[tf1 + "i_dense/kernel"] = (hf + "i_dense.weight", transpose)
        table[tf1 + "o_dense/kernel"] = (hf + "o_dense.weight", transpose)
        table[tf1 + "q_scaleoffset/gamma"] = (hf + "offsetscale.gamma", _row(0))
        table[tf1 + "k_scaleoffset/gamma"] = (hf + "offsetscale.gamma", _row(1))
    return {tf1: entry for tf1, entry in table.items() if entry[0] in keys}


def tf1_to_hf(tf1_names, model):
    """Single-source entries; the stacked gains come from `export_extras`."""
    table = {}
    for tf1 in tf1_names:
        if tf1 == "bert/embeddings/word_embeddings":
            table["embeddings.word_embeddings.weight"] = (tf1, None)
        elif tf1 == "bert/embeddings/token_type_embeddings":
            table["embeddings.segment_embeddings.weight"] = (tf1, None)
        elif tf1.endswith("_dense/kernel"):
            i, dense = tf1.split("/")[2].split("_")[1], tf1.split("/")[4]
            table[f"encoderLayer.{i}.gau.{dense}.weight"] = (tf1, transpose)
    return table


def export_extras(tensors, model):
    """``offsetscale.gamma`` = stack(q gain, k gain) for every layer."""
    extras = {}
    for i in range(model.num_hidden_layers):
        block = f"GAU_alpha/encoder/layer_{i}/gau/"
        extras[f"encoderLayer.{i}.gau.offsetscale.gamma"] = np.stack(
            [tensors[block + "q_scaleoffset/gamma"], tensors[block + "k_scaleoffset/gamma"]]
        )
    return extras


def hf_config(model, hf_tensors):
    """The released GAU-α ``bert_config.json`` keys (bert4torch reads the same file)."""
    return {
        "model_type": "gau_alpha",
        "vocab_size": model.vocab_size,
        "hidden_size": model.hidden_size,
        "num_hidden_layers": model.num_hidden_layers,
        "intermediate_size": model.intermediate_size,
        "attention_key_size": model.attention_key_size,
        "hidden_act": model.hidden_act,
        "type_vocab_size": model.segment_vocab_size,
        "hidden_dropout_prob": model.dropout_rate,
        "attention_probs_dropout_prob": model.attention_dropout_rate,
        "pad_token_id": model.pad_token_id,
    }
