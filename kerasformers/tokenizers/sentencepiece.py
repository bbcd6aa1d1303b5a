"""``SpTokenizer``: bert4keras's SentencePiece wrapper (T5, mT5, ALBERT, ...), plus
offsets, a threaded batch path and a trainer for small demo/test models."""

import io
import os

import sentencepiece as spm

from kerasformers.tokenizers.base import (
    NO_SPAN,
    TokenizerBase,
    check_text,
    replace_surrogates,
)

from ..atomic import atomic_write


def _char_index_of_bytes(text):
    """UTF-8 byte position -> character index (positions inside a character map to it)."""
    index = []
    for i, ch in enumerate(text):
        index.extend([i] * len(ch.encode("utf-8", "surrogatepass")))
    index.append(len(text))
    return index


class SpTokenizer(TokenizerBase):
    """SentencePiece model with bert4keras's API.

    As in bert4keras the specials default to ``[CLS]``/``[SEP]`` (unknown to most
    SentencePiece models, so pass e.g. ``token_start=None, token_end='</s>'`` for T5).
    """

    def __init__(self, sp_model_path, **kwargs):
        super().__init__(**kwargs)
        if not os.path.isfile(os.fspath(sp_model_path)):
            raise ValueError(f"SpTokenizer: sp_model_path {sp_model_path!r} is not a file")
        self.sp_model = spm.SentencePieceProcessor(model_file=os.fspath(sp_model_path))
        self._token_pad = (
            self.sp_model.id_to_piece(self.sp_model.pad_id()) if self.sp_model.pad_id() >= 0 else None
        )
        self._token_unk = self.sp_model.id_to_piece(self.sp_model.unk_id())
        self._vocab_size = self.sp_model.get_piece_size()
        self._set_special_ids(self._known_piece_id)

    def _known_piece_id(self, token):
        index = self.sp_model.piece_to_id(token)
        return index if index != self.sp_model.unk_id() or token == self._token_unk else None

    def token_to_id(self, token):
        return self.sp_model.piece_to_id(token)

    def id_to_token(self, i):
        return self.sp_model.id_to_piece(i) if 0 <= i < self._vocab_size else ""

    def _is_special(self, i):
        """Control, unknown or unused piece (bert4keras helper, kept for user scripts)."""
        return self.sp_model.is_control(i) or self.sp_model.is_unknown(i) or self.sp_model.is_unused(i)

    def _is_decodable(self, i):
        """Whether id ``i`` should appear in decoded text (bert4keras helper)."""
        return i < self._vocab_size and not self._is_special(i)

    def _prepare(self, text):
        if self._pre_tokenize is not None:
            text = " ".join(self._pre_tokenize(text))
        return replace_surrogates(text)

    def _tokenize(self, text):
        return self.sp_model.encode(self._prepare(text), out_type=str)

    def _content(self, text, with_offsets):
        text = replace_surrogates(text)
        if not with_offsets:
            return self.sp_model.encode(text), None
        proto = self.sp_model.encode(text, return_type="proto")
        to_char = _char_index_of_bytes(text) if not text.isascii() else None
        ids, offsets = [], []
        for piece in proto.pieces:
            ids.append(piece.id)
            start, end = piece.begin, piece.end
            if to_char is not None:
                start, end = to_char[start], to_char[end]
            offsets.append((start, end) if end > start else NO_SPAN)
        return ids, offsets

    def decode(self, ids):
        tokens = [self._token_translate_inv.get(t) or t for t in self.ids_to_tokens(ids)]
        return self.sp_model.decode_pieces(tokens)

    def rematch(self, text, tokens):
        """Tokens of ``text`` -> the character indices each covers (``[]`` for specials,
        pieces with no surface such as a lone '▁', and tokens not from this text)."""
        check_text(text, "text")
        clean = replace_surrogates(text)
        proto = self.sp_model.encode(clean, return_type="proto")
        to_char = _char_index_of_bytes(clean)
        pieces = [(p.piece, to_char[p.begin], to_char[p.end]) for p in proto.pieces]
        result, cursor = [], 0
        for token in tokens:
            match = next((k for k in range(cursor, len(pieces)) if pieces[k][0] == token), None)
            if match is None:
                result.append([])
                continue
            _, start, end = pieces[match]
            result.append(list(range(start, end)))
            cursor = match + 1
        return result

    def _content_batch(self, texts, with_offsets):
        if with_offsets or not all(isinstance(t, str) for t in texts):
            return super()._content_batch(texts, with_offsets)
        # One multi-threaded C++ call for the whole batch.
        return [(ids, None) for ids in self.sp_model.encode([replace_surrogates(t) for t in texts])]


def train_sentencepiece(
    texts, model_path, vocab_size, model_type="unigram", character_coverage=0.9995, **options
):
    """Train a SentencePiece model from an iterable of texts and save it (atomically)
    to ``model_path``; extra ``options`` go to ``SentencePieceTrainer``."""
    if isinstance(texts, str):
        raise ValueError("train_sentencepiece: texts must be an iterable of strings, not one string")
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=(check_text(t, "training text") for t in texts),
        model_writer=buffer,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=character_coverage,
        minloglevel=2,
        **options,
    )
    with atomic_write(model_path, "wb") as f:
        f.write(buffer.getvalue())
    return model_path
