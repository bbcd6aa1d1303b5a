"""What every tokenizer shares: special tokens, bert4keras's ``encode`` contract
(truncation, segment patterns) and the padded NumPy batch path.

A subclass provides ``_content(text, with_offsets)`` -> ``(ids, offsets)`` for one
text without special tokens (offsets are ``(start, end)`` character spans into the
original text, or ``None``), ``_tokenize(text)`` -> token strings, ``token_to_id``,
``id_to_token``, ``decode`` and ``rematch``.
"""

import itertools
import re

import numpy as np

NO_SPAN = (0, 0)  # offsets of special and padding tokens
SURROGATE = re.compile("[\ud800-\udfff]")


def replace_surrogates(text):
    """Lone surrogates (invalid in UTF-8, so fatal to C++/Rust) become U+FFFD: same length,
    so offsets stay valid."""
    return text if text.isascii() else SURROGATE.sub("\ufffd", text)


def check_text(text, name):
    """Reject what is not a string, naming the argument."""
    if not isinstance(text, str):
        raise ValueError(f"{name} must be a str, got {type(text).__name__}: {text!r:.80}")
    return text


def truncation_counts(lengths, maxlen):
    """How many tokens bert4keras's ``truncate_sequences`` removes from each sequence.

    It pops one token at a time from the longest sequence (the first one on ties)
    until the total fits; this is the closed form of that loop for 1 or 2 sequences.
    """
    if len(lengths) == 1:
        return [max(0, lengths[0] - maxlen)]
    first, second = lengths
    excess = first + second - maxlen
    if excess <= 0:
        return [0, 0]
    gap = min(excess, abs(first - second))
    remove = [gap, 0] if first >= second else [0, gap]
    excess -= gap
    # Now equally long: pops alternate, starting with the first sequence.
    remove[0] += (excess + 1) // 2
    remove[1] += excess // 2
    return remove


def remove_at(seq, index, count):
    """``seq`` after ``count`` times ``seq.pop(index)``, without the quadratic pops."""
    if count == 0:
        return seq
    if index >= 0 and index + count <= len(seq):
        return seq[:index] + seq[index + count :]
    if index < 0 and len(seq) + index - count + 1 >= 0:
        start = len(seq) + index - count + 1
        return seq[:start] + seq[start + count :]
    raise ValueError(f"cannot remove {count} tokens at index {index} from a sequence of {len(seq)}")


class TokenizerBase:
    """bert4keras's tokenizer contract; see the module docstring for the subclass hooks."""

    def __init__(self, token_start="[CLS]", token_end="[SEP]", pre_tokenize=None, token_translate=None):
        self._token_pad = "[PAD]"
        self._token_unk = "[UNK]"
        self._token_mask = "[MASK]"
        self._token_start = token_start
        self._token_end = token_end
        if pre_tokenize is not None and not callable(pre_tokenize):
            raise ValueError(
                f"pre_tokenize must be callable (text -> words), got {type(pre_tokenize).__name__}"
            )
        self._pre_tokenize = pre_tokenize
        self._token_translate = dict(token_translate or {})
        self._token_translate_inv = {v: k for k, v in self._token_translate.items()}

    def token_to_id(self, token):
        raise NotImplementedError(f"{type(self).__name__} must define token_to_id(token)")

    def id_to_token(self, i):
        raise NotImplementedError(f"{type(self).__name__} must define id_to_token(i)")

    def decode(self, ids):
        raise NotImplementedError(f"{type(self).__name__} must define decode(ids)")

    def _set_special_ids(self, lookup):
        """Set ``_token_pad_id`` ... ``_token_end_id`` for the special tokens the vocabulary has."""
        for name in ("pad", "unk", "mask", "start", "end"):
            token = getattr(self, f"_token_{name}")
            index = lookup(token) if token is not None else None
            if index is not None:
                setattr(self, f"_token_{name}_id", index)

    @property
    def vocab_size(self):
        return self._vocab_size

    # ---- token strings -------------------------------------------------------------

    def tokenize(self, text, maxlen=None):
        """Text -> tokens, with ``token_start``/``token_end`` added and ``token_translate`` applied."""
        check_text(text, "text")
        tokens = [self._token_translate.get(token) or token for token in self._tokenize(text)]
        tokens = self._with_specials(tokens)
        if maxlen is not None:
            n_special = self._n_specials()
            self._check_maxlen(maxlen, n_special)
            index = -2 if self._token_end is not None else -1
            tokens = remove_at(tokens, index, truncation_counts([len(tokens)], maxlen)[0])
        return tokens

    def tokens_to_ids(self, tokens):
        return [self.token_to_id(token) for token in tokens]

    def ids_to_tokens(self, ids):
        return [self.id_to_token(int(i)) for i in ids]

    # ---- ids -----------------------------------------------------------------------

    def _with_specials(self, seq, start=None, end=None):
        head = [start if start is not None else self._token_start] if self._token_start is not None else []
        tail = [end if end is not None else self._token_end] if self._token_end is not None else []
        return head + seq + tail

    def _special_ids(self):
        """Ids of token_start / token_end (None when unset), as ``tokens_to_ids`` maps them."""
        return tuple(
            None if token is None else self.token_to_id(token)
            for token in (self._token_start, self._token_end)
        )

    def _n_specials(self):
        return int(self._token_start is not None) + int(self._token_end is not None)

    @staticmethod
    def _check_maxlen(maxlen, n_special):
        if isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)):
            raise ValueError(f"maxlen must be an int, got {type(maxlen).__name__}")
        if maxlen < n_special:
            raise ValueError(f"maxlen={maxlen} is smaller than the {n_special} special tokens it must hold")

    def _content_batch(self, texts, with_offsets):
        """``_content`` of every str in ``texts`` (None for other items); subclasses with a
        native batch call override this."""
        return [self._content(t, with_offsets) if isinstance(t, str) else None for t in texts]

    def _sequence(self, text, name, with_offsets, content=None):
        """One input (text or token list) -> (ids, offsets, n_special) including special tokens.
        ``content`` is ``_content(text)`` when already computed."""
        if isinstance(text, (list, tuple)) and all(isinstance(t, str) for t in text):
            ids = self.tokens_to_ids(text)  # bert4keras: token lists are used as they are
            return ids, [NO_SPAN] * len(ids), 0
        check_text(text, name)
        if self._pre_tokenize is not None or self._token_translate:
            tokens = [self._token_translate.get(t) or t for t in self._tokenize(text)]
            ids = self.tokens_to_ids(tokens)
            offsets = None
            if with_offsets:
                offsets = [(m[0], m[-1] + 1) if m else NO_SPAN for m in self.rematch(text, tokens)]
        else:
            ids, offsets = content if content is not None else self._content(text, with_offsets)
        ids = self._with_specials(ids, *self._special_ids())
        if offsets is not None:
            offsets = self._with_specials(offsets, NO_SPAN, NO_SPAN)
        return ids, offsets, self._n_specials()

    def _encode(
        self, first_text, second_text, maxlen, pattern, truncate_from, with_offsets, contents=(None, None)
    ):
        if pattern not in ("S*E*E", "S*ES*E"):
            raise ValueError(f"pattern must be 'S*E*E' or 'S*ES*E', got {pattern!r}")
        seqs = [self._sequence(first_text, "first_text", with_offsets, contents[0])]
        if second_text is not None:
            seqs.append(self._sequence(second_text, "second_text", with_offsets, contents[1]))
        ids = [s[0] for s in seqs]
        offsets = [s[1] for s in seqs]
        if maxlen is not None:
            if truncate_from == "right":
                index = -2 if self._token_end is not None else -1
            elif truncate_from == "left":
                index = 1 if self._token_start is not None else 0
            elif isinstance(truncate_from, int) and not isinstance(truncate_from, bool):
                index = truncate_from
            else:
                raise ValueError(f"truncate_from must be 'right', 'left' or an int, got {truncate_from!r}")
            # The second [CLS], counted here, is dropped below for 'S*E*E'. (bert4keras adds
            # the 1 even without token_start, returning maxlen + 1 tokens; fixed here.)
            drops_start = second_text is not None and pattern == "S*E*E" and self._token_start is not None
            budget = maxlen + 1 if drops_start else maxlen
            self._check_maxlen(budget, sum(s[2] for s in seqs))
            alive = [i for i, seq in enumerate(ids) if seq]  # bert4keras skips empty sequences
            counts = truncation_counts([len(ids[i]) for i in alive], budget)
            for i, count in zip(alive, counts):
                ids[i] = remove_at(ids[i], index, count)
                offsets[i] = remove_at(offsets[i], index, count) if offsets[i] is not None else None
        if len(ids) == 2 and pattern == "S*E*E" and self._token_start is not None:
            ids[1], offsets[1] = ids[1][1:], offsets[1][1:] if offsets[1] is not None else None
        segments = [0] * len(ids[0]) + ([1] * len(ids[1]) if len(ids) == 2 else [])
        token_ids = ids[0] + (ids[1] if len(ids) == 2 else [])
        spans = None
        if with_offsets:
            spans = offsets[0] + (offsets[1] if len(offsets) == 2 else [])
        return token_ids, segments, spans

    def encode(self, first_text, second_text=None, maxlen=None, pattern="S*E*E", truncate_from="right"):
        """-> ``(token_ids, segment_ids)`` as lists, exactly as bert4keras.

        ``pattern='S*E*E'`` gives ``[CLS] a [SEP] b [SEP]``, ``'S*ES*E'`` keeps the
        second ``[CLS]``. ``maxlen`` truncation removes tokens from the longer text
        first (``truncate_from='right'``, ``'left'`` or a position), never the
        special tokens; a ``maxlen`` that cannot hold them is a ``ValueError``.
        """
        token_ids, segment_ids, _ = self._encode(
            first_text, second_text, maxlen, pattern, truncate_from, False
        )
        return token_ids, segment_ids

    def encode_batch(
        self,
        first_texts,
        second_texts=None,
        maxlen=None,
        pattern="S*E*E",
        truncate_from="right",
        return_offsets=False,
    ):
        """Many texts at once -> padded int32 arrays ``token_ids``, ``segment_ids`` (batch, length).

        Rows are what ``encode`` returns, padded with the ``[PAD]`` id to the longest
        row. With ``return_offsets=True`` a third array (batch, length, 2) holds each
        token's ``(start, end)`` character span in its own text ((0, 0) for special
        and padding tokens).
        """
        if isinstance(first_texts, str) or not hasattr(first_texts, "__len__"):
            raise ValueError(
                f"encode_batch: first_texts must be a list of texts, not {type(first_texts).__name__}"
            )
        if second_texts is not None and (
            isinstance(second_texts, str) or len(second_texts) != len(first_texts)
        ):
            raise ValueError("encode_batch: second_texts must be a list as long as first_texts")
        n = len(first_texts)
        seconds = second_texts if second_texts is not None else [None] * n
        firsts_content = seconds_content = [None] * n
        if self._pre_tokenize is None and not self._token_translate:
            firsts_content = self._content_batch(first_texts, return_offsets)
            if second_texts is not None:
                seconds_content = self._content_batch(second_texts, return_offsets)
        rows = [
            self._encode(a, b, maxlen, pattern, truncate_from, return_offsets, (ca, cb))
            for a, b, ca, cb in zip(first_texts, seconds, firsts_content, seconds_content)
        ]
        return self._pad(rows, return_offsets)

    def _pad(self, rows, return_offsets):
        """Rows of (ids, segments, spans) -> padded arrays, filled in one vectorised step."""
        lengths = np.array([len(r[0]) for r in rows], dtype=np.int64)
        length = int(lengths.max()) if len(rows) else 0
        filled = np.arange(length)[None, :] < lengths[:, None]  # (batch, length), row-major = row order
        token_ids = np.full((len(rows), length), getattr(self, "_token_pad_id", 0), dtype=np.int32)
        token_ids[filled] = list(itertools.chain.from_iterable(r[0] for r in rows))
        segment_ids = np.zeros((len(rows), length), dtype=np.int32)
        segment_ids[filled] = list(itertools.chain.from_iterable(r[1] for r in rows))
        if not return_offsets:
            return token_ids, segment_ids
        offsets = np.zeros((len(rows), length, 2), dtype=np.int32)
        offsets[filled] = np.array(
            list(itertools.chain.from_iterable(r[2] for r in rows)), dtype=np.int32
        ).reshape(-1, 2)
        return token_ids, segment_ids, offsets
