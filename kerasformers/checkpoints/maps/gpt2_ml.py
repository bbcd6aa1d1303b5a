"""GPT2_ML has only its original TF layout (`newslm/...`); no HuggingFace model exists.

The model's `variable_mapping` already uses the original names, so loading a TF1
checkpoint needs no translation; a HuggingFace-format file is reported clearly.
"""

from ..errors import CheckpointError


def hf_to_tf1(hf_keys, model):
    raise CheckpointError(
        "GPT2_ML checkpoints exist only in their original TF layout (newslm/...); "
        "this file has none of those variables"
    )


def tf1_to_hf(tf1_names, model):
    raise CheckpointError("GPT2_ML has no HuggingFace layout to export to")
