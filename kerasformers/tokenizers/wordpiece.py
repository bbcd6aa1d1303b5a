"""bert4keras's BERT ``Tokenizer``: same behaviour, token for token, and faster.

Pipeline for one text (all steps are C or Rust code; Python only glues them):

1. normalise: with ``do_lower_case`` lower-case, NFD, drop accents (Mn); always
   drop control characters. A character map back to the original text is kept
   only when these steps change lengths (rare), so offsets are always exact;
2. split into words with one compiled regex (CJK and punctuation alone, spaces
   separate) -- bert4keras's character classes, see ``_chars.py``;
3. a word found whole in the vocabulary is one dict lookup (nearly every Chinese
   word); the rest go through the Rust ``tokenizers`` WordPiece model (greedy
   longest match, ``##`` continuations, ``word_maxlen``), cached per word.

``encode_batch`` joins a batch of single texts into one string so steps 2-3 run once
per batch, then builds the padded arrays with NumPy.
"""

import itertools
import os
import re
import unicodedata

import numpy as np
from tokenizers import models

from kerasformers.tokenizers import _chars
from kerasformers.tokenizers._chars import is_cjk, is_punctuation
from kerasformers.tokenizers.base import SURROGATE, TokenizerBase, check_text
from kerasformers.tokenizers.vocab import load_vocab

_WORD_CACHE_SIZE = 200_000
_SEPARATOR = "\uffff"  # a Unicode noncharacter: marks text boundaries in a joined batch
# Decoding glues these to the next token (no space after them); bert4keras's list.
_CJK_PUNCTUATION = (
    "＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､"
    "\u3000、〃〈〉《》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏﹑﹔·！？｡。"
)
_NO_SPACE_AFTER = set(_CJK_PUNCTUATION + "+-/={(<[")


def lowercase_and_normalize(text):
    """bert4keras's ``do_lower_case`` normalisation: lower-case, NFD, drop Mn marks."""
    text = unicodedata.normalize("NFD", text.lower())
    return _chars.patterns()["nonspacing_mark"].sub("", text)


def _compose(outer, inner):
    """Index maps: ``outer[j]`` indexes the text ``inner`` maps to the original."""
    if inner is None:
        return outer
    if outer is None:
        return inner
    return [inner[j] for j in outer]


def _split_map(pieces):
    """Text built from per-character ``pieces`` -> (text, map to the character index)."""
    return "".join(pieces), [i for i, piece in enumerate(pieces) for _ in piece]


class Tokenizer(TokenizerBase):
    """BERT WordPiece tokenizer with bert4keras's API and exact behaviour.

    ``Tokenizer(dict_path_or_token_dict, do_lower_case=False, word_maxlen=200,
    token_start='[CLS]', token_end='[SEP]', pre_tokenize=None, token_translate=None)``.
    """

    def __init__(self, token_dict, do_lower_case=False, word_maxlen=200, **kwargs):
        super().__init__(**kwargs)
        if isinstance(token_dict, (str, os.PathLike)):
            token_dict = load_vocab(os.fspath(token_dict))
        if not isinstance(token_dict, dict) or not token_dict:
            raise ValueError(
                "Tokenizer: token_dict must be a vocab file path or a non-empty {token: id} dict"
            )
        if self._token_unk not in token_dict:
            raise ValueError(f"Tokenizer: the vocabulary has no {self._token_unk!r} token")
        if not isinstance(word_maxlen, int) or word_maxlen < 1:
            raise ValueError(f"Tokenizer: word_maxlen must be a positive int, got {word_maxlen!r}")
        self._do_lower_case = bool(do_lower_case)
        self._token_dict = token_dict
        self._token_dict_inv = {v: k for k, v in token_dict.items()}
        self._vocab_size = len(token_dict)
        self._word_maxlen = word_maxlen
        self._set_special_ids(token_dict.get)
        self._wordpiece = models.WordPiece(
            token_dict, unk_token=self._token_unk, max_input_chars_per_word=word_maxlen
        )
        self._word_cache = {}
        self._batch_lookup = {**token_dict, _SEPARATOR: -2}
        patterns = _chars.patterns()
        self._word_re = patterns["word"]
        deleted = "deleted_lower" if self._do_lower_case else "deleted"
        self._deleted_re, self._deleted_bmp_re = patterns[deleted], patterns[deleted + "_bmp"]
        self._astral_re = patterns["astral"]

    # ---- vocabulary ----------------------------------------------------------------

    def token_to_id(self, token):
        return self._token_dict.get(token, self._token_unk_id)

    def id_to_token(self, i):
        try:
            return self._token_dict_inv[i]
        except KeyError:
            raise ValueError(f"id {i} is not in the vocabulary (size {self._vocab_size})") from None

    # ---- normalisation -------------------------------------------------------------

    def _normalize(self, text):
        """-> (normalised text, index map into ``text`` or None when it is the identity)."""
        mapping = None
        if self._do_lower_case:
            lowered = text.lower()
            if len(lowered) != len(text):  # e.g. 'İ' -> 'i̇': lower per character to keep the map
                lowered, mapping = _split_map([ch.lower() for ch in text])
            text = lowered
            if not text.isascii() and not unicodedata.is_normalized("NFD", text):
                text, nfd_map = _split_map([unicodedata.normalize("NFD", ch) for ch in text])
                mapping = _compose(nfd_map, mapping)
        if self._deleted_bmp_re.search(text) or (
            self._astral_re.search(text) and self._deleted_re.search(text)
        ):
            deleted = {m.start() for m in self._deleted_re.finditer(text)}
            keep_map = [j for j in range(len(text)) if j not in deleted]
            text = self._deleted_re.sub("", text)
            mapping = _compose(keep_map, mapping)
        return text, mapping

    # ---- words -> pieces -----------------------------------------------------------

    def _word_pieces(self, word):
        """Word -> (ids, tokens, lengths); an unknown word is one [UNK] whose token is the word."""
        cached = self._word_cache.get(word)
        if cached is not None:
            return cached
        unknown = ((self._token_unk_id,), (word,), (len(word),))
        if len(word) > self._word_maxlen or SURROGATE.search(word):
            result = unknown  # Rust cannot take lone surrogates; no vocabulary token holds one
        else:
            pieces = self._wordpiece.tokenize(word)
            if len(pieces) == 1 and pieces[0].value == self._token_unk:
                result = unknown
            else:
                values = tuple(p.value for p in pieces)
                lengths = tuple(len(v) - (2 if i else 0) for i, v in enumerate(values))
                result = (tuple(p.id for p in pieces), values, lengths)
        if len(self._word_cache) >= _WORD_CACHE_SIZE:
            self._word_cache.clear()
        self._word_cache[word] = result
        return result

    def _content(self, text, with_offsets):
        norm, mapping = self._normalize(text)
        vocab = self._token_dict
        if not with_offsets:
            words = self._word_re.findall(norm)
            ids = list(map(vocab.get, words, itertools.repeat(-1)))
            if -1 in ids:
                ids = []
                for word in words:
                    index = vocab.get(word)
                    if index is None:
                        ids.extend(self._word_pieces(word)[0])
                    else:
                        ids.append(index)
            return ids, None
        ids, offsets = [], []
        for match in self._word_re.finditer(norm):
            word, start = match.group(), match.start()
            index = vocab.get(word)
            if index is not None:
                ids.append(index)
                offsets.append((start, match.end()))
                continue
            piece_ids, _, lengths = self._word_pieces(word)
            ids.extend(piece_ids)
            for length in lengths:
                offsets.append((start, start + length))
                start += length
        if mapping is not None:
            offsets = [(mapping[s], mapping[e - 1] + 1) for s, e in offsets]
        return ids, offsets

    def encode_batch(
        self,
        first_texts,
        second_texts=None,
        maxlen=None,
        pattern="S*E*E",
        truncate_from="right",
        return_offsets=False,
    ):
        plain = (
            second_texts is None
            and not return_offsets
            and truncate_from in ("right", "left")
            and pattern in ("S*E*E", "S*ES*E")
            and self._pre_tokenize is None
            and not self._token_translate
            and isinstance(first_texts, (list, tuple))
            and all(isinstance(t, str) for t in first_texts)
        )
        if plain and first_texts:
            if maxlen is not None:
                self._check_maxlen(maxlen, self._n_specials())
            arrays = self._encode_plain_batch(first_texts, maxlen, truncate_from)
            if arrays is not None:
                return arrays
        return super().encode_batch(first_texts, second_texts, maxlen, pattern, truncate_from, return_offsets)

    def _encode_plain_batch(self, texts, maxlen, truncate_from):
        """Single texts -> padded arrays with one regex pass and one dict pass over the
        whole batch joined by ``_SEPARATOR``, then NumPy; same result as ``encode`` per text.
        None if a text itself holds the separator."""
        joined = f" {_SEPARATOR} ".join(self._normalize(text)[0] for text in texts)
        if joined.count(_SEPARATOR) != len(texts) - 1:
            return None
        words = self._word_re.findall(joined)
        ids = np.fromiter(
            map(self._batch_lookup.get, words, itertools.repeat(-1)), dtype=np.int64, count=len(words)
        )
        missing = np.flatnonzero(ids == -1)
        if len(missing):  # words not in the vocabulary: splice in their WordPiece ids
            pieces = [self._word_pieces(words[i])[0] for i in missing]
            counts = np.ones(len(ids), dtype=np.int64)
            counts[missing] = [len(p) for p in pieces]
            starts = np.cumsum(counts) - counts
            spliced = np.empty(int(counts.sum()), dtype=np.int64)
            spliced[starts] = ids
            for start, piece_ids in zip(starts[missing], pieces):
                spliced[start : start + len(piece_ids)] = piece_ids
            ids = spliced
        content = ids[ids != -2]  # all texts' content ids, back to back
        n = np.diff(np.concatenate([[-1], np.flatnonzero(ids == -2), [len(ids)]])) - 1  # per text
        keep = n if maxlen is None else np.minimum(n, maxlen - self._n_specials())
        if (keep < n).any():  # truncate each text's content on the chosen side
            position = np.arange(len(content)) - np.repeat(np.cumsum(n) - n, n)
            limit = np.repeat(keep, n)
            kept = position < limit if truncate_from == "right" else position >= np.repeat(n, n) - limit
            content = content[kept]
        start_id, end_id = self._special_ids()
        head = int(start_id is not None)
        lengths = keep + self._n_specials()
        columns = np.arange(int(lengths.max()))[None, :]
        token_ids = np.full((len(texts), columns.shape[1]), getattr(self, "_token_pad_id", 0), dtype=np.int32)
        if start_id is not None:
            token_ids[:, 0] = start_id
        token_ids[(columns >= head) & (columns < head + keep[:, None])] = content
        if end_id is not None:
            token_ids[np.arange(len(texts)), head + keep] = end_id
        return token_ids, np.zeros_like(token_ids)

    def _tokenize(self, text, pre_tokenize=True):
        if pre_tokenize and self._pre_tokenize is not None:
            if self._do_lower_case:
                text = lowercase_and_normalize(text)
            tokens = []
            for word in self._pre_tokenize(text):
                check_text(word, "a word returned by pre_tokenize")
                if word in self._token_dict:
                    tokens.append(word)
                else:
                    tokens.extend(self._tokenize(word, False))
            return tokens
        norm, _ = self._normalize(text)
        tokens = []
        for word in self._word_re.findall(norm):
            if word in self._token_dict:
                tokens.append(word)
            else:
                tokens.extend(self._word_pieces(word)[1])
        return tokens

    # ---- back to text --------------------------------------------------------------

    @staticmethod
    def stem(token):
        """A token without its ``##`` continuation prefix."""
        return token[2:] if token[:2] == "##" else token

    @staticmethod
    def _is_special(token):
        return bool(token) and token[0] == "[" and token[-1] == "]"

    def decode(self, ids, tokens=None):
        """Ids -> readable text: CJK characters joined, Latin words spaced, ``##`` glued."""
        tokens = tokens or self.ids_to_tokens(ids)
        tokens = [t for t in tokens if not self._is_special(t)]
        parts = []
        for i, token in enumerate(tokens):
            single = len(token) == 1
            previous = parts[-1][-1:] if parts else ""
            if token[:2] == "##":
                parts.append(token[2:])
            elif single and is_cjk(token):
                parts.append(token)
            elif single and is_punctuation(token):
                parts.append(token + " ")
            elif i > 0 and previous and is_cjk(previous):
                parts.append(token)
            else:
                parts.append(" " + token)
        return self._tidy("".join(parts))

    @staticmethod
    def _tidy(text):
        """bert4keras's spacing fixes: one space at most, "it 's" -> "it's", no space after
        opening brackets / CJK punctuation, "3. 5" -> "3.5"."""
        text = re.sub(" +", " ", text)
        text = re.sub(r"' (re|m|s|t|ve|d|ll) ", r"'\1 ", text)
        text = re.sub("([%s]) " % re.escape("".join(sorted(_NO_SPACE_AFTER))), r"\1", text)
        text = re.sub(r"(\d\.) (\d)", r"\1\2", text)
        return text.strip()

    def rematch(self, text, tokens):
        """Tokens -> for each, the list of character indices it covers in ``text``.

        Special tokens (``[CLS]`` ...) and tokens not found in order map to ``[]``.
        Lower-casing, accent stripping and deleted control characters are tracked
        exactly, so the indices always point into the original text.
        """
        check_text(text, "text")
        norm, mapping = self._normalize(text)
        if mapping is None:
            mapping = range(len(norm))
        result, offset = [], 0
        for token in tokens:
            if self._is_special(token):
                result.append([])
                continue
            piece = self.stem(token)
            start = norm.find(piece, offset) if piece else -1
            if start < 0:
                result.append([])
                continue
            end = start + len(piece)
            result.append(list(mapping[start:end]))
            offset = end
        return result
