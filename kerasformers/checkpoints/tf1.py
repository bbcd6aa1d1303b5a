"""TF1 checkpoints (TensorFlow "tensor bundle" V2), read and written without TensorFlow.

A checkpoint with prefix P is two kinds of file:

    P.index                    an SSTable (LevelDB table) mapping tensor name -> BundleEntryProto;
                               the empty key "" holds the BundleHeaderProto
    P.data-00000-of-0000N      raw little-endian tensor bytes, found by (shard_id, offset, size)

SSTable layout: data blocks | metaindex block | index block | 48-byte footer.
Every block is followed by a 5-byte trailer: compression type (0 = none) and the
masked crc32c of block+type. A block is a run of prefix-compressed entries
(varint shared, varint unshared, varint value_len, key suffix, value), then the
uint32 restart offsets and their uint32 count. The footer holds the metaindex and
index block handles (varint offset, varint size), zero padding to 40 bytes, and the
magic number. TensorFlow verifies every checksum, so the writer must get them right.

The protobuf messages are tiny, so they are decoded by hand (wire format: a varint
key = field_number << 3 | wire_type, then the value).
"""

import os
import struct
import tempfile
import threading

import ml_dtypes
import numpy as np

from kerasformers.checkpoints.errors import CheckpointError
from kerasformers.checkpoints.reader import TF1_STATE_FILE, CheckpointReader

try:  # hardware-accelerated (GB/s); the pure-Python fallback suits only small files.
    import google_crc32c
except ImportError:
    google_crc32c = None

# --------------------------------------------------------------------------- crc32c


def _make_crc_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)  # Castagnoli, reflected
        table.append(crc)
    return table


_CRC_TABLE = _make_crc_table()


def crc32c(data):
    """CRC-32C of bytes or a contiguous uint8 array (pure-Python fallback: ~7 MB/s)."""
    if google_crc32c is not None:
        return google_crc32c.value(data)  # takes ndarrays without copying
    crc = 0xFFFFFFFF
    for byte in memoryview(data).cast("B"):
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def mask_crc(crc):
    """LevelDB/TF store checksums rotated and offset ("masked")."""
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ------------------------------------------------------------------------- protobuf


def _read_varint(buf, pos):
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _proto_fields(buf):
    """Yield (field_number, value) of a serialized message; value is int or bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        elif wire == 2:
            size, pos = _read_varint(buf, pos)
            value, pos = bytes(buf[pos : pos + size]), pos + size
        elif wire == 5:
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated protobuf field")
        yield field, value


def _encode_varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _varint_field(field, value):
    return _encode_varint(field << 3) + _encode_varint(value)


def _bytes_field(field, payload):
    return _encode_varint(field << 3 | 2) + _encode_varint(len(payload)) + payload


# TensorFlow DataType enum (types.proto) -> numpy dtype. DT_STRING (7) is not a fixed-width type.
DT_STRING = 7
TF_DTYPES = {
    1: np.dtype(np.float32),
    2: np.dtype(np.float64),
    3: np.dtype(np.int32),
    4: np.dtype(np.uint8),
    5: np.dtype(np.int16),
    6: np.dtype(np.int8),
    8: np.dtype(np.complex64),
    9: np.dtype(np.int64),
    10: np.dtype(np.bool_),
    14: np.dtype(ml_dtypes.bfloat16),
    17: np.dtype(np.uint16),
    18: np.dtype(np.complex128),
    19: np.dtype(np.float16),
    22: np.dtype(np.uint32),
    23: np.dtype(np.uint64),
}
_TF_DTYPE_CODES = {dtype: code for code, dtype in TF_DTYPES.items()}


class _Entry:
    """A decoded BundleEntryProto: where one tensor lives."""

    __slots__ = ("dtype", "shape", "shard_id", "offset", "size", "crc32c", "slices")

    def __init__(self, value):
        self.dtype, self.shape, self.shard_id = 0, (), 0
        self.offset, self.size, self.crc32c, self.slices = 0, 0, None, []
        for field, v in _proto_fields(value):
            if field == 1:
                self.dtype = v
            elif field == 2:
                self.shape = _decode_shape(v)
            elif field == 3:
                self.shard_id = v
            elif field == 4:
                self.offset = v
            elif field == 5:
                self.size = v
            elif field == 6:
                self.crc32c = v
            elif field == 7:  # tensor split into slices, each stored under its own key
                self.slices.append(_decode_slice(v))


def _decode_shape(buf):
    """TensorShapeProto: repeated Dim dim = 2 (Dim: int64 size = 1)."""
    dims = []
    for field, value in _proto_fields(buf):
        if field == 2:
            size = dict(_proto_fields(value)).get(1, 0)
            dims.append(size - (1 << 64) if size >= 1 << 63 else size)  # int64 two's complement
    return tuple(dims)


def _decode_slice(buf):
    """TensorSliceProto -> [(start, length or None for the whole dim), ...]."""
    extents = []
    for field, value in _proto_fields(buf):
        if field == 1:
            extent = dict(_proto_fields(value))
            extents.append((extent.get(1, 0), extent.get(2)))
    return extents


# Slice keys use TF's OrderedCode (strings/numbers encoded so byte order = value order).
_SIGNED_HEADER = [
    (0, 0),
    (0x80, 0),
    (0xC0, 0),
    (0xE0, 0),
    (0xF0, 0),
    (0xF8, 0),
    (0xFC, 0),
    (0xFE, 0),
    (0xFF, 0),
    (0xFF, 0x80),
    (0xFF, 0xC0),
]


def _ordered_unsigned(value):
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return bytes([len(raw)]) + raw


def _ordered_signed(value):
    x = ~value if value < 0 else value
    if x < 64:
        return bytes([(0x80 ^ value) & 0xFF])
    length = next(n for n in range(2, 11) if x < 1 << (7 * n - 1))
    raw = bytearray((value % (1 << 80)).to_bytes(10, "big")[10 - length :])
    raw[0] ^= _SIGNED_HEADER[length][0]
    raw[1] ^= _SIGNED_HEADER[length][1]
    return bytes(raw)


def slice_key(name, extents):
    """Index key holding one slice of `name` (TF's checkpoint::EncodeTensorNameSlice)."""
    # OrderedCode string: NUL escaped as 00 FF (UTF-8 never holds FF), terminated by 00 01.
    key = _ordered_unsigned(0) + name.encode("utf-8").replace(b"\x00", b"\x00\xff") + b"\x00\x01"
    key += _ordered_unsigned(len(extents))
    for start, length in extents:
        key += _ordered_signed(start) + _ordered_signed(-1 if length is None else length)
    return key


def _encode_entry(code, shape, offset, size, crc):
    shape_proto = b"".join(_bytes_field(2, _varint_field(1, d) if d else b"") for d in shape)
    out = _varint_field(1, code) + _bytes_field(2, shape_proto)
    if offset:
        out += _varint_field(4, offset)
    if size:
        out += _varint_field(5, size)
    return out + _encode_varint(6 << 3 | 5) + struct.pack("<I", crc)


# BundleHeaderProto{num_shards: 1, endianness: LITTLE (default), version: VersionDef{producer: 1}}
_HEADER = _varint_field(1, 1) + _bytes_field(3, _varint_field(1, 1))

# -------------------------------------------------------------------------- SSTable

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48  # two BlockHandles padded to 40 bytes + 8-byte magic
BLOCK_TRAILER_SIZE = 5


def _read_block(data, handle, path):
    """Contents of the block at `handle` = (offset, size), after checking its trailer."""
    offset, size = handle
    end = offset + size + BLOCK_TRAILER_SIZE
    if end > len(data):
        raise CheckpointError(
            f"Truncated TF1 index {path}: block at bytes {offset}..{end} runs past "
            f"the end of the file ({len(data)} bytes)"
        )
    block, compression = data[offset : offset + size], data[offset + size]
    if compression != 0:
        kind = "snappy" if compression == 1 else f"type {compression}"
        raise CheckpointError(
            f"TF1 index {path} uses {kind} block compression; only uncompressed "
            f"indexes (what TensorFlow writes for checkpoints) are supported"
        )
    (stored,) = struct.unpack_from("<I", data, offset + size + 1)
    if mask_crc(crc32c(data[offset : offset + size + 1])) != stored:
        raise CheckpointError(f"Corrupted TF1 index {path}: block checksum mismatch at byte {offset}")
    return block


def _block_entries(block, path):
    """Yield (key, value) pairs of one block, undoing prefix compression."""
    try:
        (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
        limit = len(block) - 4 * (num_restarts + 1)
        if limit < 0:
            raise ValueError("restart array larger than the block")
        pos, key = 0, b""
        while pos < limit:
            shared, pos = _read_varint(block, pos)
            unshared, pos = _read_varint(block, pos)
            value_len, pos = _read_varint(block, pos)
            if shared > len(key) or pos + unshared + value_len > limit:
                raise ValueError("entry runs past the block")
            key = key[:shared] + block[pos : pos + unshared]
            pos += unshared
            yield key, block[pos : pos + value_len]
            pos += value_len
    except (ValueError, struct.error) as e:
        raise CheckpointError(f"Corrupted TF1 index {path}: bad block ({e})") from e


def read_sstable(path):
    """All (key, value) pairs of an SSTable file, in key order."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CheckpointError(f"Cannot read TF1 index {path}: {e}") from e
    if len(data) < FOOTER_SIZE:
        raise CheckpointError(
            f"Truncated TF1 index {path}: {len(data)} bytes, shorter than the {FOOTER_SIZE}-byte footer"
        )
    footer = data[-FOOTER_SIZE:]
    (magic,) = struct.unpack_from("<Q", footer, FOOTER_SIZE - 8)
    if magic != TABLE_MAGIC:
        raise CheckpointError(
            f"{path} is not a TF1 checkpoint index (bad magic number {magic:#018x}; "
            f"file truncated or not a TensorFlow checkpoint)"
        )
    try:
        _meta_offset, pos = _read_varint(footer, 0)
        _meta_size, pos = _read_varint(footer, pos)
        index_offset, pos = _read_varint(footer, pos)
        index_size, pos = _read_varint(footer, pos)
    except ValueError as e:
        raise CheckpointError(f"Corrupted TF1 index {path}: bad footer ({e})") from e
    index = _read_block(data, (index_offset, index_size), path)
    items = []
    for _, handle in _block_entries(index, path):
        try:
            offset, pos = _read_varint(handle, 0)
            size, _ = _read_varint(handle, pos)
        except ValueError as e:
            raise CheckpointError(f"Corrupted TF1 index {path}: bad block handle ({e})") from e
        items.extend(_block_entries(_read_block(data, (offset, size), path), path))
    return items


def _build_block(items, restart_interval):
    out, restarts, previous = bytearray(), [], b""
    for i, (key, value) in enumerate(items):
        if i % restart_interval == 0:
            restarts.append(len(out))
            shared = 0
        else:
            shared = len(os.path.commonprefix([previous, key]))
        out += _encode_varint(shared) + _encode_varint(len(key) - shared) + _encode_varint(len(value))
        out += key[shared:] + value
        previous = key
    restarts = restarts or [0]
    return bytes(out) + struct.pack(f"<{len(restarts)}I", *restarts) + struct.pack("<I", len(restarts))


def build_sstable(items, block_size=4096, restart_interval=16):
    """Serialize sorted (key, value) byte pairs as an uncompressed SSTable."""
    out = bytearray()

    def emit(block):
        handle = _encode_varint(len(out)) + _encode_varint(len(block))
        trailer = b"\x00" + struct.pack("<I", mask_crc(crc32c(block + b"\x00")))
        out.extend(block + trailer)
        return handle

    index_items, pending, pending_bytes = [], [], 0
    for key, value in items:
        pending.append((key, value))
        pending_bytes += len(key) + len(value) + 8
        if pending_bytes >= block_size:
            index_items.append((key, emit(_build_block(pending, restart_interval))))
            pending, pending_bytes = [], 0
    if pending:
        index_items.append((pending[-1][0], emit(_build_block(pending, restart_interval))))
    # The last key of each block is a valid separator: >= its keys, < the next block's.
    metaindex = emit(_build_block([], restart_interval))
    index = emit(_build_block(index_items, 1))
    footer = (metaindex + index).ljust(FOOTER_SIZE - 8, b"\x00") + struct.pack("<Q", TABLE_MAGIC)
    return bytes(out + footer)


# --------------------------------------------------------------------------- reader


def data_file_name(prefix, shard_id, num_shards):
    return f"{prefix}.data-{shard_id:05d}-of-{num_shards:05d}"


class TF1Reader(CheckpointReader):
    """Lazy reader of a TF1 checkpoint prefix; never imports TensorFlow.

    Tensor data is read with one seek+readinto straight into the result array
    and, when `google-crc32c` is installed, checked against its stored checksum.
    Tensors that TF split across shards (stored as slices) are reassembled.
    """

    format = "tf1"

    def __init__(self, prefix):
        super().__init__(prefix)
        self._files = {}  # data path -> open file, opened on first read
        self._lock = threading.Lock()
        self.index_path = self.path + ".index"
        self._slice_entries = {}  # raw slice key -> _Entry
        num_shards = 1
        for key, value in read_sstable(self.index_path):
            try:
                if key == b"":
                    num_shards = self._parse_header(value)
                elif key.startswith(b"\x00"):
                    self._slice_entries[key] = _Entry(value)
                else:
                    self._names[key.decode("utf-8")] = _Entry(value)
            except (ValueError, struct.error) as e:
                raise CheckpointError(
                    f"Corrupted TF1 index {self.index_path}: cannot decode entry {key!r} ({e})"
                ) from e
        self._data_paths = [data_file_name(self.path, i, num_shards) for i in range(num_shards)]
        for data_path in self._data_paths:
            if not os.path.isfile(data_path):
                raise CheckpointError(f"TF1 checkpoint {self.path} is missing its data file {data_path}")

    def _parse_header(self, value):
        header = dict(_proto_fields(value))
        if header.get(2, 0) != 0:
            raise CheckpointError(
                f"TF1 checkpoint {self.index_path} was written big-endian; only little-endian is supported"
            )
        num_shards = header.get(1, 1)
        if not 1 <= num_shards <= 99999:
            raise CheckpointError(f"Corrupted TF1 index {self.index_path}: num_shards={num_shards}")
        return num_shards

    def _shape(self, name):
        return self._names[name].shape

    def _dtype(self, name):
        code = self._names[name].dtype
        return np.dtype(object) if code == DT_STRING else self._numpy_dtype(name, code)

    def _numpy_dtype(self, name, code):
        if code not in TF_DTYPES:
            raise CheckpointError(
                f"Variable {name!r} in {self.index_path} has unsupported TensorFlow dtype enum {code}"
            )
        return TF_DTYPES[code]

    def _read(self, name):
        entry = self._names[name]
        if entry.dtype == DT_STRING:
            raise CheckpointError(
                f"Variable {name!r} in {self.index_path} is a string tensor (DT_STRING); "
                f"only numeric tensors can be read"
            )
        if not entry.slices:
            return self._read_entry(name, entry, entry.shape)
        # out[start:start+length, ...] = slice, for every slice TF stored.
        out = np.empty(entry.shape, self._numpy_dtype(name, entry.dtype))
        covered = 0
        for extents in entry.slices:
            key = slice_key(name, extents)
            if key not in self._slice_entries or len(extents) != out.ndim:
                raise CheckpointError(
                    f"Corrupted TF1 index {self.index_path}: slice {extents} of variable {name!r} is missing"
                )
            region = tuple(slice(start, None if n is None else start + n) for start, n in extents)
            part_shape = out[region].shape
            out[region] = self._read_entry(name, self._slice_entries[key], part_shape)
            covered += int(np.prod(part_shape, dtype=np.int64))
        if covered != out.size:
            raise CheckpointError(
                f"Corrupted TF1 index {self.index_path}: slices of {name!r} cover {covered} of {out.size} values"
            )
        return out

    def _read_entry(self, name, entry, shape):
        """Read one stored tensor (or slice) of `shape` with a single readinto."""
        dtype = self._numpy_dtype(name, entry.dtype)
        if entry.shard_id >= len(self._data_paths):
            raise CheckpointError(
                f"Corrupted TF1 index {self.index_path}: variable {name!r} is in shard "
                f"{entry.shard_id} of {len(self._data_paths)}"
            )
        data_path = self._data_paths[entry.shard_id]
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if entry.size != expected or min(shape, default=0) < 0:
            raise CheckpointError(
                f"Corrupted TF1 index {self.index_path}: variable {name!r} has shape "
                f"{shape} of {dtype} ({expected} bytes) but its entry says {entry.size} bytes"
            )
        array = np.empty(shape, dtype)
        buffer = array.reshape(-1).view(np.uint8)  # a writable byte view of `array`
        with self._lock:
            f = self._file(data_path)
            file_size = os.fstat(f.fileno()).st_size
            if entry.offset + entry.size > file_size:
                raise CheckpointError(
                    f"Truncated TF1 data file {data_path}: variable {name!r} needs bytes "
                    f"{entry.offset}..{entry.offset + entry.size}, file has {file_size}"
                )
            f.seek(entry.offset)
            f.readinto(buffer)
        if google_crc32c is not None and entry.crc32c is not None:
            if mask_crc(crc32c(buffer)) != entry.crc32c:
                raise CheckpointError(
                    f"Corrupted TF1 data file {data_path}: checksum mismatch for variable {name!r}"
                )
        return array

    def _file(self, data_path):
        if data_path not in self._files:
            self._files[data_path] = open(data_path, "rb")
        return self._files[data_path]

    def close(self):
        with self._lock:
            for f in self._files.values():
                f.close()
            self._files.clear()

    def __del__(self):  # readers handed to model code are often never closed explicitly
        self.close()


# --------------------------------------------------------------------------- writer


def _tensor_bytes(name, value):
    """Validate one tensor and return (dtype enum, shape, little-endian byte view)."""
    if not isinstance(name, str) or not name or name.startswith("\x00"):
        raise CheckpointError(f"Invalid variable name {name!r}: must be a non-empty string")
    array = np.asarray(value)
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    code = _TF_DTYPE_CODES.get(array.dtype)
    if code is None:
        raise CheckpointError(
            f"Variable {name!r} has dtype {array.dtype}, which a TF1 checkpoint cannot hold "
            f"(supported: {', '.join(sorted(str(d) for d in _TF_DTYPE_CODES))})"
        )
    # ascontiguousarray would turn a scalar into shape (1,): take the shape first.
    return code, array.shape, np.ascontiguousarray(array).reshape(-1).view(np.uint8)


def _write_temp(path, write):
    """Call write(file) on a new temp file next to `path`; return the temp path."""
    fd, tmp = tempfile.mkstemp(
        dir=os.path.dirname(os.path.abspath(path)), prefix=os.path.basename(path) + ".", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
    except BaseException:
        os.remove(tmp)
        raise
    return tmp


def write_tf1_checkpoint(prefix, tensors):
    """Write {name: array} as a single-shard TF1 checkpoint at `prefix`.

    Creates `prefix.index`, `prefix.data-00000-of-00001` and a `checkpoint` state
    file naming `prefix` in its directory; `tf.train.load_checkpoint(prefix)`
    reads the result. All three are written to temp files first and only then
    renamed into place (data before index), so a failure leaves the old files.
    """
    prefix = os.fspath(prefix)
    directory = os.path.dirname(os.path.abspath(prefix))
    os.makedirs(directory, exist_ok=True)
    if not hasattr(tensors, "items"):
        raise CheckpointError(f"write_tf1_checkpoint({prefix!r}) expects a dict of name -> array")
    tensors = sorted(
        ((name, _tensor_bytes(name, value)) for name, value in tensors.items()),
        key=lambda item: item[0].encode("utf-8"),
    )
    entries = [(b"", _HEADER)]

    def write_data(f):
        offset = 0
        for name, (code, shape, data) in tensors:
            f.write(data)
            crc = mask_crc(crc32c(data))
            entries.append((name.encode("utf-8"), _encode_entry(code, shape, offset, data.size, crc)))
            offset += data.size

    basename = os.path.basename(prefix).replace("\\", "\\\\").replace('"', '\\"')
    state = f'model_checkpoint_path: "{basename}"\nall_model_checkpoint_paths: "{basename}"\n'
    temps = {}  # final path -> temp path, in commit order
    try:
        temps[data_file_name(prefix, 0, 1)] = _write_temp(data_file_name(prefix, 0, 1), write_data)
        temps[prefix + ".index"] = _write_temp(prefix + ".index", lambda f: f.write(build_sstable(entries)))
        state_path = os.path.join(directory, TF1_STATE_FILE)
        temps[state_path] = _write_temp(state_path, lambda f: f.write(state.encode("utf-8")))
        for final, tmp in list(temps.items()):
            os.replace(tmp, final)
            del temps[final]
    finally:
        for tmp in temps.values():
            os.remove(tmp)
