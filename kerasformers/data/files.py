"""A drop-in ``open`` whose text files can be indexed by line number."""

import builtins
import json
import os
import tempfile


class open:  # shadows the builtin on purpose: bert4keras's name
    """Like the builtin ``open``, plus random access to lines of big files.

    With ``indexable=True`` the byte offset of every line is recorded once, so
    ``f[i]`` reads line ``i`` (with its newline, as iteration yields it) without
    loading the file into memory. ``indexable='path.json'`` caches the offsets
    in that file and reuses them on the next open.
    """

    def __init__(self, name, mode="r", encoding=None, errors="strict", indexable=False):
        self.name = name
        self.mode = mode
        self.encoding = encoding or "utf-8"
        self.errors = errors
        self.binary = "b" in mode
        if indexable and mode not in ("r", "rb"):
            raise ValueError(f"open: indexable=True needs a read mode, got mode={mode!r} for {name}")
        # Read through bytes so that offsets are exact byte positions.
        raw_mode = mode if self.binary else mode + "b"
        self.file = builtins.open(name, raw_mode)  # noqa: SIM115  (kept open; closed by close()/__exit__)
        self.offsets = None
        if indexable:
            cache = indexable if isinstance(indexable, str) else None
            if cache and os.path.exists(cache):
                with builtins.open(cache) as f:
                    self.offsets = json.load(f)
            else:
                self.offsets = self._scan_offsets()
                if cache:
                    _atomic_write_json(cache, self.offsets)

    def _scan_offsets(self):
        offsets, position = [], 0
        self.file.seek(0)
        for line in self.file:
            offsets.append(position)
            position += len(line)
        self.file.seek(0)
        return offsets

    def _decode(self, line):
        return line if self.binary else line.decode(self.encoding, self.errors)

    def __len__(self):
        if self.offsets is None:
            raise TypeError(f"open: len() needs indexable=True (file {self.name})")
        return len(self.offsets)

    def __getitem__(self, index):
        if self.offsets is None:
            raise TypeError(f"open: indexing needs indexable=True (file {self.name})")
        if not -len(self.offsets) <= index < len(self.offsets):
            raise IndexError(f"open: line {index} out of range for {self.name} ({len(self.offsets)} lines)")
        self.file.seek(self.offsets[index])
        return self._decode(self.file.readline())

    def __iter__(self):
        for line in self.file:
            yield self._decode(line)

    def __next__(self):
        line = self.file.readline()
        if not line:
            raise StopIteration
        return self._decode(line)

    next = __next__

    def read(self, size=-1):
        return self._decode(self.file.read(size))

    def readline(self):
        return self._decode(self.file.readline())

    def readlines(self):
        return [self._decode(line) for line in self.file.readlines()]

    def write(self, data):
        if not self.binary:
            data = data.encode(self.encoding, self.errors)
        return self.file.write(data)

    def flush(self):
        self.file.flush()

    def tell(self):
        """Byte offset in the file (what ``seek`` takes)."""
        return self.file.tell()

    def seek(self, offset=0):
        return self.file.seek(offset)

    def create_indexes(self):
        """Record the byte offset of every line, so ``f[i]`` and ``len(f)`` work."""
        self.offsets = self._scan_offsets()

    def close(self):
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _atomic_write_json(path, obj):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
