"""Export a built model as a HuggingFace folder (``config.json`` + ``model.safetensors``)."""

import json
import os

import numpy as np

from ..atomic import atomic_write
from .errors import CheckpointError
from .safetensors_io import write_safetensors


def export_huggingface(transformer, directory):
    """Write ``transformer``'s weights under HuggingFace names, loadable by ``transformers``.

    Each file is written to a temporary name and renamed into place, so an interrupted
    export never leaves a half-written file behind.
    """
    if transformer.name_map is None or not hasattr(transformer.name_map, "tf1_to_hf"):
        raise CheckpointError(f"{type(transformer).__name__} has no HuggingFace layout to export to")
    tensors = transformer.named_weights()
    table = transformer.name_map.tf1_to_hf(tensors.keys(), transformer)
    hf_tensors = {}
    for hf_name, (tf1_name, transform) in table.items():
        value = tensors[tf1_name]
        hf_tensors[hf_name] = np.ascontiguousarray(transform(value) if transform is not None else value)
    extras = getattr(
        transformer.name_map, "export_extras", None
    )  # optional: tensors HF needs beyond the table
    if extras is not None:
        hf_tensors.update(extras(tensors, transformer))
    config = transformer.name_map.hf_config(transformer, hf_tensors)
    os.makedirs(directory, exist_ok=True)
    write_safetensors(os.path.join(directory, "model.safetensors"), hf_tensors)
    with atomic_write(os.path.join(directory, "config.json")) as out:
        json.dump(config, out, indent=2, ensure_ascii=False)
    return directory
