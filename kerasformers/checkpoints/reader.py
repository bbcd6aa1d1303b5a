"""One reader interface over every checkpoint format, and how a path is resolved.

A user hands `build_transformer_model(checkpoint_path=...)` whatever they have:
Google's TF1 `bert_model.ckpt` prefix, a directory downloaded from a model hub,
a single `.safetensors` or `pytorch_model.bin`. `resolve_checkpoint_path`
turns that into one concrete file (or TF1 prefix) plus its format, and
`open_checkpoint` returns a lazy `CheckpointReader` for it.
"""

import codecs
import glob
import json
import os
import re
import zipfile

import ml_dtypes
import numpy as np

from kerasformers.checkpoints.errors import CheckpointError, missing_variable

# Weight files of a HuggingFace-style model directory, in order of preference.
HF_WEIGHT_FILES = (
    ("model.safetensors", "safetensors"),
    ("model.safetensors.index.json", "safetensors"),
    ("pytorch_model.bin", "torch"),
    ("pytorch_model.bin.index.json", "torch"),
)
TF1_STATE_FILE = "checkpoint"  # text proto naming the latest TF1 checkpoint prefix
_TF1_DATA_FILE = re.compile(r"^(.*)\.data-\d{5}-of-\d{5}$")
_HALF_DTYPES = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))


class CheckpointReader:
    """Read-only, lazy, mapping-like view of one checkpoint.

    `keys()`, `shape()` and `dtype()` come from the checkpoint's header or index;
    `reader[name]` reads only that tensor's bytes. `dtype()` reports the stored
    dtype, while `reader[name]` returns float16/bfloat16 tensors as float32,
    since every consumer computes in float32 anyway.
    Subclasses fill `self._names` ({name: per-variable info}) and implement
    `_shape`, `_dtype` and `_read`.
    """

    format = None  # 'tf1' | 'safetensors' | 'torch'

    def __init__(self, path):
        self.path = str(path)
        self._names = {}

    def keys(self):
        """All variable names, in checkpoint order."""
        return list(self._names)

    def _shape(self, name):
        raise NotImplementedError

    def _dtype(self, name):
        raise NotImplementedError

    def _read(self, name):
        raise NotImplementedError

    def _check(self, name):
        if name not in self._names:
            raise missing_variable(name, self._names, self.path)

    def shape(self, name):
        """Shape of `name` as a tuple of ints, without reading its data."""
        self._check(name)
        return tuple(int(d) for d in self._shape(name))

    def dtype(self, name):
        """Stored numpy dtype of `name` (e.g. ml_dtypes.bfloat16)."""
        self._check(name)
        return np.dtype(self._dtype(name))

    def __getitem__(self, name):
        self._check(name)
        array = self._read(name)
        if array.dtype in _HALF_DTYPES:
            array = array.astype(np.float32)
        return array

    def __contains__(self, name):
        return name in self._names

    def __iter__(self):
        return iter(list(self._names))

    def __len__(self):
        return len(self._names)

    def close(self):
        """Release open files; the reader must not be used afterwards."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        return f"<{type(self).__name__} format={self.format!r} path={self.path!r} variables={len(self)}>"


def read_weight_map(index_path):
    """Parse a sharded-checkpoint index json into {name: absolute shard path}."""
    try:
        with open(index_path, encoding="utf-8") as f:
            weight_map = json.load(f)["weight_map"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(
            f"Cannot read sharded checkpoint index {index_path}: expected JSON with a "
            f"'weight_map' object ({type(e).__name__}: {e})"
        ) from e
    if not isinstance(weight_map, dict):
        raise CheckpointError(f"'weight_map' in {index_path} must map names to files")
    directory = os.path.dirname(os.path.abspath(index_path))
    resolved = {name: os.path.join(directory, str(filename)) for name, filename in weight_map.items()}
    for shard in sorted(set(resolved.values())):
        if not os.path.isfile(shard):
            raise CheckpointError(f"Shard {shard} listed in {index_path} does not exist")
    return resolved


def _read_tf1_state_file(directory):
    """The prefix named by a TF1 `checkpoint` state file in `directory`.

    TF records an absolute path at save time; checkpoints are routinely moved
    or downloaded, so a stale absolute path falls back to the same file name
    inside `directory`.
    """
    state_path = os.path.join(directory, TF1_STATE_FILE)
    try:
        with open(state_path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise CheckpointError(f"Cannot read TF1 checkpoint state file {state_path}: {e}") from e
    match = re.search(rb'^\s*model_checkpoint_path:\s*"((?:[^"\\]|\\.)*)"', text, re.M)
    if match is None:
        raise CheckpointError(f"{state_path} has no model_checkpoint_path entry")
    # Text-proto strings use C escapes (octal for non-ASCII bytes); undo them.
    named = codecs.escape_decode(match.group(1))[0].decode("utf-8")
    candidates = [os.path.join(directory, named)]  # join keeps absolute paths as-is
    candidates.append(os.path.join(directory, os.path.basename(named)))
    for prefix in candidates:
        if os.path.isfile(prefix + ".index"):
            return prefix
    raise CheckpointError(
        f"{state_path} names checkpoint {named!r}, but {candidates[0]}.index does not exist"
    )


def _sniff_file(path):
    """Guess the format of a weight file with an unfamiliar extension."""
    if zipfile.is_zipfile(path):
        return "torch"  # torch.save's default container is a zip archive
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) == 9 and head[8:9] == b"{":
        return "safetensors"  # u64 header length, then the JSON header
    return None


def resolve_checkpoint_path(path):
    """Map a user-supplied path to `(resolved_path, format)`.

    Accepts a TF1 prefix, its `.index` or `.data-*` file, a directory with a TF1
    `checkpoint` state file, a `.safetensors` file, a sharded `*.index.json`,
    a `pytorch_model.bin`, or a HuggingFace model directory (model.safetensors >
    model.safetensors.index.json > pytorch_model.bin > pytorch_model.bin.index.json).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, TF1_STATE_FILE)):
            return _read_tf1_state_file(path), "tf1"
        for filename, fmt in HF_WEIGHT_FILES:
            candidate = os.path.join(path, filename)
            if os.path.isfile(candidate):
                return candidate, fmt
        indexes = sorted(glob.glob(os.path.join(glob.escape(path), "*.index")))
        if len(indexes) == 1:
            return indexes[0][: -len(".index")], "tf1"
        found = f" It holds several TF1 checkpoints: {indexes}; pass one prefix." if indexes else ""
        raise CheckpointError(
            f"No checkpoint found in directory {path}: looked for a TF1 '{TF1_STATE_FILE}' "
            f"state file, {', '.join(name for name, _ in HF_WEIGHT_FILES)} and a single "
            f"*.index TF1 checkpoint.{found}"
        )
    if os.path.isfile(path + ".index"):
        return path, "tf1"
    if path.endswith(".index") and os.path.isfile(path):
        return path[: -len(".index")], "tf1"
    data_file = _TF1_DATA_FILE.match(path)
    if data_file and os.path.isfile(data_file.group(1) + ".index"):
        return data_file.group(1), "tf1"
    if os.path.isfile(path):
        if path.endswith((".safetensors", ".safetensors.index.json")):
            return path, "safetensors"
        if path.endswith((".bin", ".pt", ".pth", ".bin.index.json")):
            return path, "torch"
        fmt = _sniff_file(path)
        if fmt is not None:
            return path, fmt
        raise CheckpointError(
            f"Unknown checkpoint format for file {path}: expected a TF1 .index/.data file, "
            f".safetensors, a sharded *.index.json or a PyTorch .bin/.pt"
        )
    raise CheckpointError(
        f"Checkpoint not found: {path} (looked for a directory, a file, and the TF1 "
        f"checkpoint index {path}.index)"
    )


def open_checkpoint(path):
    """Open any supported checkpoint (see `resolve_checkpoint_path`) lazily."""
    resolved, fmt = resolve_checkpoint_path(path)
    if fmt == "tf1":
        from kerasformers.checkpoints.tf1 import TF1Reader

        return TF1Reader(resolved)
    if fmt == "safetensors":
        from kerasformers.checkpoints.safetensors_io import SafetensorsReader

        return SafetensorsReader(resolved)
    from kerasformers.checkpoints.torch_bin import TorchReader

    return TorchReader(resolved)
