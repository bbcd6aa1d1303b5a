"""PyTorch `pytorch_model.bin` state dicts (single or sharded), read without running code.

A torch >= 1.6 file is a zip archive: ``<name>/data.pkl`` (the pickled dict, whose tensors point
at storages) and one uncompressed ``<name>/data/<key>`` entry of raw bytes per storage. It is read
here without torch: the pickle is unpickled by a `_StateDictUnpickler` that knows only tensors,
parameters, storages and ordered dicts (anything else is refused, never executed), and each
tensor's bytes are read straight into a fresh numpy array on demand, so reading a checkpoint holds
one tensor at a time and neither maps the file nor imports torch. Older (non-zip) files go through
`torch.load(weights_only=True)`, imported only then.
"""

import collections
import pickle
import re
import struct
import sys
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


# Storage classes named in the pickle -> numpy dtypes of their elements.
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # zip local file header: signature ... name length, extra length


class _Storage:
    def __init__(self, key, dtype):
        self.key, self.dtype = str(key), np.dtype(dtype)


class _StoredTensor:
    """Where one tensor's elements are: storage, element offset, shape, strides (in elements)."""

    def __init__(self, storage, offset, shape, stride, *_):
        self.storage, self.offset = storage, int(offset)
        self.shape, self.stride = tuple(int(d) for d in shape), tuple(int(s) for s in stride)
        self.dtype = storage.dtype


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickles ``data.pkl`` into `_StoredTensor`s; refuses every global but the few a state dict uses."""

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _StoredTensor
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return lambda tensor, *_: tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        raise pickle.UnpicklingError(f"global '{module}.{name}' is not a tensor, storage or container")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        return _Storage(pid[2], pid[1])


class TorchReader(CheckpointReader):
    """Reader of `pytorch_model.bin` or a sharded `pytorch_model.bin.index.json`."""

    format = "torch"

    def __init__(self, path):
        super().__init__(path)
        self._state_dicts = {}
        self._archives = {}  # zip file -> (archive folder name, {entry name: ZipInfo})
        if self.path.endswith(".json"):
            self._names = read_weight_map(self.path)  # name -> shard file
        else:
            self._names = {name: self.path for name in self._load(self.path)}

    def _load(self, file):
        if file not in self._state_dicts:
            state = self._load_zip(file) if zipfile.is_zipfile(file) else self._load_with_torch(file)
            self._state_dicts[file] = self._tensors(file, state, (_StoredTensor, self._tensor_type()))
        return self._state_dicts[file]

    def _tensor_type(self):
        torch = sys.modules.get("torch")
        return torch.Tensor if torch is not None else _StoredTensor

    def _load_zip(self, file):
        try:
            with zipfile.ZipFile(file) as archive:
                entries = {info.filename: info for info in archive.infolist()}
                pickles = [name for name in entries if name.endswith("/data.pkl") and name.count("/") == 1]
                if len(pickles) != 1:
                    raise CheckpointError(
                        f"{file} is a zip archive but not a PyTorch checkpoint (no data.pkl)"
                    )
                byteorder = entries.get(pickles[0][: -len("data.pkl")] + "byteorder")
                if byteorder is not None and archive.read(byteorder).strip() not in (b"", b"little"):
                    raise CheckpointError(f"{file} stores big-endian tensors, which are not supported")
                with archive.open(pickles[0]) as handle:
                    state = _StateDictUnpickler(handle).load()
        except pickle.UnpicklingError as e:
            raise CheckpointError(
                f"Refusing to load {file}: it pickles objects other than tensors, and "
                f"unpickling those could run arbitrary code ({e})"
            ) from e
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, TypeError, AttributeError) as e:
            raise CheckpointError(f"Cannot read PyTorch checkpoint {file}: {e}") from e
        self._archives[file] = (pickles[0][: -len("data.pkl")], entries)
        return state

    def _read_stored(self, file, name, tensor):
        """Read ``tensor``'s elements from its (uncompressed) storage entry into a new array."""
        folder, entries = self._archives[file]
        info = entries.get(f"{folder}data/{tensor.storage.key}")
        if info is None or info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(f"{file}: storage of {name!r} is missing or compressed")
        itemsize = tensor.dtype.itemsize
        count = int(np.prod(tensor.shape))
        contiguous = all(
            stride == int(np.prod(tensor.shape[axis + 1 :]))
            for axis, stride in enumerate(tensor.stride)
            if tensor.shape[axis] > 1
        )
        span = count if contiguous else 1 + sum((d - 1) * s for d, s in zip(tensor.shape, tensor.stride) if d)
        span = span if count else 0
        with open(file, "rb") as handle:
            handle.seek(info.header_offset)
            signature, name_length, extra_length = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
            if signature != b"PK\x03\x04":
                raise CheckpointError(f"{file}: damaged zip entry {info.filename}")
            start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
            if (tensor.offset + span) * itemsize > info.file_size:
                raise CheckpointError(f"{file}: {name!r} reaches past the end of its storage {info.filename}")
            handle.seek(start + tensor.offset * itemsize)
            flat = np.empty(span, dtype=tensor.dtype)
            if handle.readinto(flat.view(np.uint8)) != span * itemsize:
                raise CheckpointError(f"{file}: storage of {name!r} is truncated")
        if contiguous:
            return flat.reshape(tensor.shape)
        strides = tuple(s * itemsize for s in tensor.stride)
        return np.lib.stride_tricks.as_strided(flat, tensor.shape, strides).copy()

    def _load_with_torch(self, file):
        torch = _import_torch(file)
        try:
            state = torch.load(file, map_location="cpu", weights_only=True)
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
        return state

    @staticmethod
    def _tensors(file, state, tensor_types):
        """The {name: tensor} entries of a state dict (unwrapping common training-script wrappers)."""
        if isinstance(state, dict) and not any(isinstance(v, tensor_types) for v in state.values()):
            for wrapper in ("state_dict", "model"):
                if isinstance(state.get(wrapper), dict):
                    state = state[wrapper]
                    break
        if not isinstance(state, dict):
            raise CheckpointError(f"{file} holds a {type(state).__name__}, not a state dict of tensors")
        tensors = {k: v for k, v in state.items() if isinstance(v, tensor_types)}
        if not tensors:
            raise CheckpointError(f"{file} holds no tensors (keys: {list(state)[:10]})")
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
        if isinstance(tensor, _StoredTensor):
            return tensor.dtype
        if tensor.dtype == sys.modules["torch"].bfloat16:
            return ml_dtypes.bfloat16
        return tensor.new_empty(0).numpy().dtype

    def _read(self, name):
        tensor = self._tensor(name)
        if isinstance(tensor, _StoredTensor):
            return self._read_stored(self._names[name], name, tensor)
        tensor = tensor.detach()
        if tensor.dtype == sys.modules["torch"].bfloat16:
            tensor = tensor.float()  # numpy has no bfloat16; the result is float32 anyway
        return np.array(tensor.numpy(), copy=True)

    def close(self):
        self._state_dicts.clear()
        self._archives.clear()
