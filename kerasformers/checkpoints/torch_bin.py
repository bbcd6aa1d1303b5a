"""PyTorch `pytorch_model.bin` state dicts (single or sharded), read without running code.

Only loaded with `torch.load(weights_only=True)`: a pickle that names anything
other than tensors and plain containers is refused instead of executed. torch is
imported only here, and only when such a file is opened.
"""

import pickle
import re
import zipfile

import ml_dtypes
import numpy as np

from kerasformers.checkpoints.errors import CheckpointError
from kerasformers.checkpoints.reader import CheckpointReader, read_weight_map


def _import_torch(path):
    try:
        import torch
    except ImportError as e:
        raise CheckpointError(
            f"{path} is a PyTorch checkpoint and reading it needs torch (pip install torch); "
            f"or convert it to .safetensors on a machine that has torch"
        ) from e
    return torch


class TorchReader(CheckpointReader):
    """Reader of `pytorch_model.bin` or a sharded `pytorch_model.bin.index.json`.

    Each file is loaded with `mmap=True` when it is a zip archive (torch >= 1.6
    format), so tensor storage is paged in only when read.
    """

    format = "torch"

    def __init__(self, path):
        super().__init__(path)
        self._torch = _import_torch(self.path)
        self._state_dicts = {}
        if self.path.endswith(".json"):
            self._names = read_weight_map(self.path)  # name -> shard file
        else:
            self._names = {name: self.path for name in self._load(self.path)}

    def _load(self, file):
        if file in self._state_dicts:
            return self._state_dicts[file]
        torch = self._torch
        try:
            state = torch.load(file, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(file))
        except pickle.UnpicklingError as e:
            # torch's first paragraph is generic; the second names the offending global.
            paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", str(e)) if p.strip()]
            reason = paragraphs[1] if len(paragraphs) > 1 else paragraphs[0]
            raise CheckpointError(
                f"Refusing to load {file}: it pickles objects other than tensors, and "
                f"unpickling those could run arbitrary code ({reason})"
            ) from e
        except (RuntimeError, EOFError, OSError, ValueError) as e:
            raise CheckpointError(f"Cannot read PyTorch checkpoint {file}: {e}") from e
        if isinstance(state, dict) and not any(isinstance(v, torch.Tensor) for v in state.values()):
            for wrapper in ("state_dict", "model"):  # common training-script wrappers
                if isinstance(state.get(wrapper), dict):
                    state = state[wrapper]
                    break
        if not isinstance(state, dict):
            raise CheckpointError(f"{file} holds a {type(state).__name__}, not a state dict of tensors")
        tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
        if not tensors:
            raise CheckpointError(f"{file} holds no tensors (keys: {list(state)[:10]})")
        self._state_dicts[file] = tensors
        return tensors

    def _tensor(self, name):
        file = self._names[name]
        tensors = self._load(file)
        if name not in tensors:
            raise CheckpointError(f"Variable {name!r} is listed in {self.path} but missing from shard {file}")
        return tensors[name]

    def _shape(self, name):
        return tuple(self._tensor(name).shape)

    def _dtype(self, name):
        tensor = self._tensor(name)
        if tensor.dtype == self._torch.bfloat16:
            return ml_dtypes.bfloat16
        return tensor.new_empty(0).numpy().dtype

    def _read(self, name):
        tensor = self._tensor(name).detach()
        if tensor.dtype == self._torch.bfloat16:
            tensor = tensor.float()  # numpy has no bfloat16; the result is float32 anyway
        return np.array(tensor.numpy(), copy=True)  # own the memory, not torch's mmap

    def close(self):
        self._state_dicts.clear()
