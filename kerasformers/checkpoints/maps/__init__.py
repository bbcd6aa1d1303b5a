"""Per-family translations between HuggingFace variable names and original TF1 names.

Each family module exposes ``hf_to_tf1(hf_keys, model) -> {tf1_name: (hf_name, transform)}``
(``transform`` maps the HF array to the TF1 layout, or is None) and
``tf1_to_hf(tf1_names, model) -> {hf_name: (tf1_name, transform)}`` for exports.
"""

import numpy as np


def transpose(array):
    return np.ascontiguousarray(np.transpose(array))


def find_prefix(keys, anchor, candidates):
    """The model prefix (e.g. 'bert.', 'roberta.', '') under which ``anchor`` exists."""
    keys = set(keys)
    for prefix in candidates:
        if prefix + anchor in keys:
            return prefix
    return None


class RenamedReader:
    """A checkpoint reader seen through a name table ``{new_name: (source_name, transform)}``."""

    def __init__(self, reader, table):
        self.reader = reader
        self.table = table
        self.path = reader.path
        self.format = reader.format

    def keys(self):
        return list(self.table)

    def __contains__(self, name):
        return name in self.table

    def __getitem__(self, name):
        if name not in self.table:
            from ..errors import CheckpointError

            raise CheckpointError(
                f"variable {name!r} not found in {self.path} (after translating its HuggingFace names)"
            )
        source, transform = self.table[name]
        value = self.reader[source]
        return transform(value) if transform is not None else value

    def shape(self, name):
        return tuple(self[name].shape)

    def close(self):
        self.reader.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
