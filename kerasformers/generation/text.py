"""Text-level decoding controls: tokenizers as (encode, decode), stop strings, streamed text.

Stop strings are checked on decoded text, not on token ids, so a stop string that spans two
tokens (or sits inside one token) is still found. A row stops at the first step whose decoded
text contains a stop string; the returned text is cut just before it.
"""

import numpy as np


def text_codec(tokenizer):
    """A tokenizer → (encode(text) -> ids without [CLS]/[SEP], decode(ids) -> text).

    Accepts a kerasformers / bert4keras tokenizer (its start/end tokens are stripped), any object
    with `encode` and `decode`, or an `(encode, decode)` pair of callables.
    """
    if tokenizer is None:
        return None, None
    if isinstance(tokenizer, (tuple, list)) and len(tokenizer) == 2 and all(map(callable, tokenizer)):
        return tokenizer
    if not (callable(getattr(tokenizer, "encode", None)) and callable(getattr(tokenizer, "decode", None))):
        raise TypeError(
            f"tokenizer must have encode() and decode() or be an (encode, decode) pair, "
            f"got {type(tokenizer).__name__}"
        )
    specials = {getattr(tokenizer, name, None) for name in ("_token_start_id", "_token_end_id")} - {None}

    def encode(text):
        ids = tokenizer.encode(text)
        ids = ids[0] if isinstance(ids, tuple) else ids
        ids = [int(i) for i in ids]
        if ids and ids[0] in specials:
            ids = ids[1:]
        if ids and ids[-1] in specials:
            ids = ids[:-1]
        return ids

    return encode, lambda ids: tokenizer.decode([int(i) for i in ids])


class StopStrings:
    """Finds stop strings in decoded text; `decode` turns generated ids into text."""

    def __init__(self, strings, decode):
        if isinstance(strings, str):
            strings = [strings]
        strings = list(strings)
        if not strings or not all(isinstance(s, str) and s for s in strings):
            raise ValueError(f"stop_strings must be a list of non-empty strings, got {strings!r:.60}")
        if decode is None:
            raise ValueError(
                "stop_strings need tokenizer= (a tokenizer or an (encode, decode) pair) to "
                "turn generated ids into text"
            )
        self.strings, self.decode = strings, decode

    def find(self, text):
        """Index of the earliest stop string in `text`, or None."""
        hits = [i for i in (text.find(s) for s in self.strings) if i >= 0]
        return min(hits) if hits else None

    def cut(self, text):
        """`text` up to (not including) its first stop string."""
        index = self.find(text)
        return text if index is None else text[:index]

    def pending(self, text):
        """Length of the longest tail of `text` that could still grow into a stop string; a stream
        holds it back so a stop string is never emitted."""
        longest = 0
        for stop in self.strings:
            for size in range(min(len(stop) - 1, len(text)), longest, -1):
                if text.endswith(stop[:size]):
                    longest = size
                    break
        return longest

    def ends(self, generated, finished):
        """(B,) rows of `generated` (B, T) ids whose text now holds a stop string; finished rows skip."""
        return np.array(
            [not done and self.find(self.decode(row)) is not None for row, done in zip(generated, finished)],
            dtype=bool,
        )

    def cut_ids(self, generated, pad_id):
        """Pad each row after the token that completes its first stop string (used after beam
        search). Returns (ids, per-row lengths)."""
        generated = np.array(generated)
        lengths = np.full(len(generated), generated.shape[1])
        for index, row in enumerate(generated):
            for length in range(1, len(row) + 1):
                if self.find(self.decode(row[:length])) is not None:
                    row[length:], lengths[index] = pad_id, length
                    break
        return generated, lengths
