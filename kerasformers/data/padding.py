"""Turning ragged Python lists into rectangular NumPy batches (and small NumPy helpers)."""

import numpy as np


def sequence_padding(inputs, length=None, value=0, seq_dims=1, mode="post"):
    """Pad (or cut) a list of sequences to one common shape and stack them.

    The first ``seq_dims`` axes of every item are ragged; all further axes must
    already agree. ``length`` (an int, or one int per ragged axis) defaults to
    the longest item; longer items keep their head. ``mode='pre'`` puts the
    padding in front instead of behind.
    """
    if mode not in ("post", "pre"):
        raise ValueError(f"sequence_padding: mode must be 'post' or 'pre', got {mode!r}")
    if len(inputs) == 0:
        raise ValueError("sequence_padding: inputs is empty, nothing to pad")
    arrays = [np.asarray(x) for x in inputs]
    for i, x in enumerate(arrays):
        if x.ndim < seq_dims:
            raise ValueError(
                f"sequence_padding: inputs[{i}] has shape {x.shape}, fewer than seq_dims={seq_dims} axes"
            )
        if x.shape[seq_dims:] != arrays[0].shape[seq_dims:]:
            raise ValueError(
                f"sequence_padding: inputs[{i}] has trailing shape {x.shape[seq_dims:]} "
                f"but inputs[0] has {arrays[0].shape[seq_dims:]}; only the first "
                f"{seq_dims} axes may differ"
            )
    if length is None:
        length = np.max([x.shape[:seq_dims] for x in arrays], axis=0)
    elif np.ndim(length) == 0:
        length = [length] * seq_dims
    if len(length) != seq_dims:
        raise ValueError(f"sequence_padding: length has {len(length)} entries, expected seq_dims={seq_dims}")
    length = [int(n) for n in length]

    outputs = []
    for x in arrays:
        x = x[tuple(slice(0, n) for n in length)]
        pad = [(0, 0)] * x.ndim
        for axis, n in enumerate(length):
            missing = n - x.shape[axis]
            pad[axis] = (0, missing) if mode == "post" else (missing, 0)
        outputs.append(np.pad(x, pad, mode="constant", constant_values=value))
    return np.stack(outputs)


def truncate_sequences(maxlen, indices, *sequences):
    """Shorten lists in place until their total length is at most ``maxlen``.

    Each round removes one element from the currently longest list (the first
    one on ties) at position ``indices`` (one index for all, or one per list;
    ``-2`` keeps a trailing ``[SEP]``). Empty/None sequences are dropped from
    the result, as in bert4keras.
    """
    sequences = [s for s in sequences if s]
    if not isinstance(indices, (list, tuple)):
        indices = [indices] * len(sequences)
    if len(indices) != len(sequences):
        raise ValueError(
            f"truncate_sequences: got {len(indices)} indices for {len(sequences)} non-empty sequences"
        )
    lengths = [len(s) for s in sequences]
    while sum(lengths) > maxlen:
        longest = int(np.argmax(lengths))
        sequences[longest].pop(indices[longest])
        lengths[longest] -= 1
    return sequences


def to_array(*args):
    """``np.array`` on every argument; a single argument comes back unwrapped."""
    arrays = [np.array(a) for a in args]
    return arrays[0] if len(arrays) == 1 else arrays


def softmax(x, axis=-1):
    """Numerically stable softmax of a NumPy array."""
    x = np.asarray(x, dtype="float64")
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
