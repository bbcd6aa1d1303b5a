"""Reading and writing checkpoints: TF1 bundles, safetensors, PyTorch state dicts.

    with open_checkpoint("chinese_L-12_H-768_A-12/bert_model.ckpt") as reader:
        reader.keys(); reader.shape(name); reader[name]  # np.ndarray, read lazily

Name translation between HuggingFace and TF1 variable names lives in `maps/`.
"""

from kerasformers.checkpoints.errors import CheckpointError
from kerasformers.checkpoints.reader import CheckpointReader, open_checkpoint, resolve_checkpoint_path
from kerasformers.checkpoints.safetensors_io import write_safetensors
from kerasformers.checkpoints.tf1 import write_tf1_checkpoint

__all__ = [
    "CheckpointError",
    "CheckpointReader",
    "open_checkpoint",
    "resolve_checkpoint_path",
    "write_safetensors",
    "write_tf1_checkpoint",
]
