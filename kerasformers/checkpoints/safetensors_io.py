"""safetensors checkpoints, single-file or sharded, via the `safetensors` library.

`safe_open` validates the file and lists names, shapes and dtypes from its JSON header;
`reader[name]` reads just that tensor's bytes (at the offsets the header gives) into a fresh
array. Reading with `readinto` instead of through safetensors' memory map keeps the file's pages
out of this process's resident memory, so a model loaded tensor by tensor holds one copy.
"""

import json
import os
import struct

import ml_dtypes
import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from kerasformers.checkpoints.errors import CheckpointError
from kerasformers.checkpoints.reader import CheckpointReader, read_weight_map

from ..atomic import atomic_path

# safetensors dtype tags -> numpy dtypes.
SAFETENSORS_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "BF16": ml_dtypes.bfloat16,
    "F8_E4M3": ml_dtypes.float8_e4m3fn,
    "F8_E5M2": ml_dtypes.float8_e5m2,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U64": np.uint64,
    "U32": np.uint32,
    "U16": np.uint16,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


class SafetensorsReader(CheckpointReader):
    """Reader of a `.safetensors` file or a sharded `*.safetensors.index.json`.

    Shards are opened on first use, so a sharded model costs nothing until read.
    """

    format = "safetensors"

    def __init__(self, path):
        super().__init__(path)
        self._handles = {}
        self._offsets = {}  # file -> (first data byte, {name: (begin, end)})
        if self.path.endswith(".json"):
            self._names = read_weight_map(self.path)  # name -> shard file
        else:
            self._names = {name: self.path for name in self._open(self.path).keys()}

    def _open(self, file):
        if file not in self._handles:
            try:
                self._handles[file] = safe_open(file, framework="numpy")
            except (SafetensorError, OSError) as e:
                raise CheckpointError(f"Cannot read safetensors file {file}: {e}") from e
        return self._handles[file]

    def _slice(self, name):
        file = self._names[name]
        handle = self._open(file)
        try:
            return handle.get_slice(name)
        except SafetensorError as e:
            raise CheckpointError(
                f"Variable {name!r} is listed in {self.path} but missing from shard {file}"
            ) from e

    def _shape(self, name):
        return self._slice(name).get_shape()

    def _dtype(self, name):
        tag = self._slice(name).get_dtype()
        if tag not in SAFETENSORS_DTYPES:
            raise CheckpointError(f"Variable {name!r} in {self._names[name]} has unsupported dtype {tag}")
        return SAFETENSORS_DTYPES[tag]

    def _data_offsets(self, file):
        """The byte where tensor data starts and each tensor's (begin, end) after it, from the header."""
        if file not in self._offsets:
            self._open(file)  # safetensors has validated the header
            with open(file, "rb") as handle:
                (length,) = struct.unpack("<Q", handle.read(8))
                header = json.loads(handle.read(length))
            spans = {k: tuple(v["data_offsets"]) for k, v in header.items() if k != "__metadata__"}
            self._offsets[file] = (8 + length, spans)
        return self._offsets[file]

    def _read(self, name):
        dtype = np.dtype(self._dtype(name))  # clear error for unsupported dtypes
        shape = self._shape(name)
        file = self._names[name]
        start, spans = self._data_offsets(file)
        begin, end = spans[name]
        array = np.empty(shape, dtype=dtype)
        if end - begin != array.nbytes:
            raise CheckpointError(
                f"Variable {name!r} in {file}: {end - begin} bytes for shape {shape} {dtype}"
            )
        with open(file, "rb") as handle:
            handle.seek(start + begin)
            if handle.readinto(array.reshape(-1).view(np.uint8)) != array.nbytes:
                raise CheckpointError(f"Cannot read variable {name!r} from {file}: the file is truncated")
        return array

    def close(self):
        for handle in self._handles.values():
            handle.__exit__(None, None, None)
        self._handles.clear()
        self._offsets.clear()


def write_safetensors(path, tensors, metadata=None):
    """Save {name: array} to `path` atomically (temp file, then rename).

    `metadata` is an optional {str: str} dict stored in the file header.
    """
    path = os.fspath(path)
    if not hasattr(tensors, "items"):
        raise CheckpointError(f"write_safetensors({path!r}) expects a dict of name -> array")
    if metadata is not None and not (
        isinstance(metadata, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        raise CheckpointError(f"write_safetensors({path!r}): metadata must be a dict of str -> str")
    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str) or not name:
            raise CheckpointError(f"write_safetensors({path!r}): invalid variable name {name!r}")
        array = np.asarray(value)
        if array.dtype.type not in SAFETENSORS_DTYPES.values():
            raise CheckpointError(
                f"write_safetensors({path!r}): variable {name!r} has dtype {array.dtype}, "
                f"which safetensors cannot store"
            )
        arrays[name] = np.ascontiguousarray(array).reshape(array.shape)  # keeps 0-d shape
    with atomic_path(path) as temporary:
        save_file(arrays, temporary, metadata=metadata)
